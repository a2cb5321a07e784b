"""The papers' architectures (lava_mlsnn.models.papers) and their configs.

A small-width instance of every net exports, and the emulator reproduces the training-side
quantized forward integer for integer, every compared layer active; Lava's fixed_pt run
of one of them agrees too. The paper configs parse and build.
"""
import glob
import os

import numpy as np
import pytest
import torch

from lava_mlsnn.block import to_emulator_layout
from lava_mlsnn.metrics.activity import record_to_outputs
from lava_mlsnn.models import residual_net, resnet, vgg
from lava_mlsnn.netx import emulate, read_network
from lava_mlsnn.neuron.norm import BatchNorm
from layercheck import assert_layers_active

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def settle(net, x):
    """One training-mode pass with BatchNorm momentum 1: running stats = this batch's."""
    for m in net.modules():
        if isinstance(m, BatchNorm):
            m.momentum = 1.0
    net.train()
    with torch.no_grad():
        net(x)
    return net


def exported_equals_quantized(net, x, path):
    settle(net, x)
    net.export_hdf5(path)
    spec = read_network(path)
    with net.quantized():
        record = []
        net(x, record)
    want = {i: v.to(torch.int64) for i, v in record_to_outputs(record).items()}
    got = emulate(spec, to_emulator_layout(x).long())
    assert sorted(got) == sorted(want) == list(range(len(spec.layers)))
    assert_layers_active(got)
    for i in got:
        assert torch.equal(got[i].to(torch.int64), want[i]), f"layer {i} differs"
    return spec, got


def frames(seed, hw, steps=2):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 4, (3, 2, hw, hw, steps), generator=g).float()


NETS = {
    "vgg11": lambda: vgg("vgg11", (2, 32, 32), 5, levels=3, width=1 / 16, timesteps=2),
    "vgg16_w1": lambda: vgg("vgg16", (2, 32, 32), 5, levels=3, width=1 / 16, timesteps=2,
                            weight_bits=1),
    "vggsnn": lambda: vgg("vggsnn", (2, 32, 32), 5, levels=1, width=1 / 16, timesteps=2),
    **{f"resnet18_{k}": (lambda k=k: resnet("resnet18", k, (2, 32, 32), 5, width=1 / 16,
                                             levels=3, timesteps=2))
       for k in ("sparse", "sew", "iand", "spiking")},
    "resnet19_sparse": lambda: resnet("resnet19", "sparse", (2, 16, 16), 5, width=1 / 32,
                                      levels=3, timesteps=2, stem_stride=1),
    "sparse_stage_clipped_nb1": lambda: residual_net(
        "sparse", (2, 16, 16), 5, widths=(4, 8), blocks=3, levels=3, timesteps=2,
        barrier="stage", barrier_ste="clipped", barrier_levels=1),
    "sparse_barrier_th3": lambda: residual_net(
        "sparse", (2, 16, 16), 5, widths=(4, 8), blocks=2, levels=3, timesteps=2,
        barrier_threshold=3.0),
    "sparse_shortcut_nb2": lambda: residual_net(
        "sparse", (2, 16, 16), 5, widths=(4, 8), blocks=2, levels=3, timesteps=2,
        barrier="shortcut", barrier_levels=2),
}


@pytest.mark.parametrize("name", sorted(NETS))
def test_paper_net_exports_bit_exact(name, tmp_path):
    torch.manual_seed(3)
    net = NETS[name]()
    hw = net.input_block.shape[-1]
    spec, got = exported_equals_quantized(net, frames(1, hw), str(tmp_path / "net.h5"))
    if name.startswith("resnet18"):
        joins = [la for la in spec.layers if la.type == "join"]
        assert len(joins) == 8  # ResNet-18: 8 residual blocks
    joins = [int(got[i].max()) for i, la in enumerate(spec.layers) if la.type == "join"]
    if name.startswith("sparse_stage"):  # SEW joins inside a stage, a 1-level barrier at its end
        assert joins[2] == joins[5] == 1 and max(joins) > 1
    elif name.startswith("sparse_shortcut"):  # ADD of main (<= 3) and shortcut barrier (<= 2)
        assert 3 < max(joins) <= 5
    elif "sparse" in name or "iand" in name:  # every join bounded by the neuron's N = 3
        assert 1 <= max(joins) <= 3


def test_barrier_threshold_starts_every_barrier_and_is_refused_elsewhere():
    from lava_mlsnn.block import ResidualBlock
    net = residual_net("sparse", (2, 16, 16), 5, widths=(4, 8), blocks=2, levels=3,
                       barrier_threshold=3.0)
    blocks = [b for b in net.blocks if isinstance(b, ResidualBlock)]
    assert [float(b.join_neuron.theta) for b in blocks] == [3.0] * 4
    assert all(b.join_neuron.theta.requires_grad for b in blocks)  # it still learns
    # a lone unit spike on one branch (sum 1) no longer passes; two coinciding ones give
    # one level (payload 3 units); sum 5 rounds to two levels
    out = blocks[0]._join_real([torch.tensor([0.0, 1.0, 0.0, 1.0, 3.0]).reshape(1, 5, 1),
                                torch.tensor([0.0, 0.0, 1.0, 1.0, 2.0]).reshape(1, 5, 1)])
    assert out.flatten().tolist() == [0.0, 0.0, 0.0, 3.0, 6.0]
    for kw in (dict(kind="sew"), dict(kind="iand"), dict(kind="sparse", barrier="stage")):
        with pytest.raises(ValueError, match="barrier_threshold is an option of Sparse-ResNet"):
            residual_net(input_shape=(2, 16, 16), num_classes=5, barrier_threshold=2.0, **kw)
    with pytest.raises(ValueError, match="must be > 0"):
        residual_net("sparse", (2, 16, 16), 5, barrier_threshold=0.0)


@pytest.mark.parametrize("kind,option", [
    ("sew", dict(barrier="stage")), ("spiking", dict(barrier="shortcut")),
    ("iand", dict(barrier_ste="clipped")), ("sew", dict(barrier_levels=2)),
    ("spiking", dict(barrier_levels=1))])
def test_join_options_a_kind_does_not_use_are_refused(kind, option):
    """A SEW or Spiking ResNet given a barrier option would build the plain net silently."""
    name = next(iter(option))
    with pytest.raises(ValueError, match=f"^{name} is an option of"):
        residual_net(kind, (2, 16, 16), 5, **option)
    from lava_mlsnn.train.config import ConfigError, resolve
    value = option[name]
    with pytest.raises(ConfigError, match=f"config: model.{name} is an option of .*"
                                          f"model.arch={kind}_resnet"):
        resolve(overrides=[f"model.arch={kind}_resnet", f"model.{name}={value}"])
    # the IAND join keeps its N_b; the convnet and VGG nets take no join option at all
    assert residual_net("iand", (2, 16, 16), 5, barrier_levels=2) is not None
    for arch in ("convnet", "vgg11"):
        with pytest.raises(ConfigError, match=f"model.{name} applies to the residual nets only"):
            resolve(overrides=[f"model.arch={arch}", f"model.{name}={value}"])


def test_config_barrier_threshold_reaches_the_barrier():
    from lava_mlsnn.block import ResidualBlock
    from lava_mlsnn.train.config import ConfigError, resolve
    from lava_mlsnn.train.models import build_model
    cfg = resolve(overrides=["model.arch=sparse_resnet", "model.barrier_threshold=3",
                             "model.channels=[4, 8]", "model.blocks_per_stage=1"])
    net = build_model(cfg, (2, 16, 16), 5)
    assert [float(b.join_neuron.theta) for b in net.blocks
            if isinstance(b, ResidualBlock)] == [3.0, 3.0]
    with pytest.raises(ConfigError, match=r"model.barrier_threshold must be a number in "
                                          r"\(0.0, 1000000.0\] or null, got -1"):
        resolve(overrides=["model.arch=sparse_resnet", "model.barrier_threshold=-1"])
    with pytest.raises(ConfigError, match="barrier='block'"):
        resolve(overrides=["model.arch=resnet18", "model.join=sparse", "model.barrier=stage",
                           "model.barrier_threshold=2"])


def test_iand_is_not_and_for_binary_spikes():
    """With binary spikes and unit thresholds the IAND join is (NOT main) AND shortcut."""
    from lava_mlsnn.block import ResidualBlock
    blk = ResidualBlock("iand", dict(levels=1, threshold=1.0, v_init=0.5), 2, 2)
    main = torch.tensor([0.0, 1.0, 0.0, 1.0]).reshape(1, 4, 1)
    short = torch.tensor([0.0, 0.0, 1.0, 1.0]).reshape(1, 4, 1)
    out = blk._join_real([main, short]).flatten().tolist()
    assert out == [0.0, 0.0, 1.0, 0.0]


def test_ms_resnet_is_refused_in_one_line():
    with pytest.raises(ValueError, match="MS-ResNet is not deployable"):
        resnet("resnet18", "ms", (2, 32, 32), 5)
    from lava_mlsnn.train.config import ConfigError, resolve
    with pytest.raises(ConfigError, match="MS-ResNet"):
        resolve(overrides=["model.arch=resnet18", "model.join=ms"])


@pytest.mark.lava
def test_paper_net_in_lava_matches_emulator(tmp_path):
    from lava_mlsnn.backends.lava_runner import run_lava
    torch.manual_seed(5)
    net = residual_net("iand", (2, 8, 8), 3, widths=(4,), blocks=2, levels=3, timesteps=2)
    x = frames(2, 8)
    spec, got = exported_equals_quantized(net, x, str(tmp_path / "net.h5"))
    lava = run_lava(spec, to_emulator_layout(x).long().numpy())
    for i in got:
        np.testing.assert_array_equal(lava[i], got[i].numpy())


PAPER_CONFIGS = sorted(glob.glob(os.path.join(ROOT, "training", "configs", "papers", "*.yaml")))


@pytest.mark.parametrize("path", PAPER_CONFIGS, ids=os.path.basename)
def test_paper_configs_parse_build_and_state_the_figure(path):
    from lava_mlsnn.train.config import resolve
    from lava_mlsnn.train.models import build_model
    text = open(path).read()
    assert "Expect" in text  # every config says what the paper reports
    cfg = resolve([path], ["data.root=/nonexistent"])
    w, h = cfg["data"]["size"]
    net = build_model(cfg, (2, h, w), 10)
    assert net.timesteps == cfg["data"]["timesteps"]
    assert sum(p.numel() for p in net.parameters()) > 1e5
