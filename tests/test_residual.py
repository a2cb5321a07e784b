"""Residual joins: bit-exactness, and the spike-avalanche mechanism."""
import numpy as np
import pytest
import torch

from lava_mlsnn import block
from lava_mlsnn.block import to_emulator_layout
from lava_mlsnn.netx import emulate, read_network
from netfactory import nudge


def resnet(kind: str, levels: int, timesteps: int, seed: int = 0, train_steps: int = 2):
    torch.manual_seed(seed)
    p = dict(threshold=0.8, levels=levels)
    stem = {**p, "norm": True}
    if kind == "sew":
        stem.update(threshold=1.0, learn_threshold=False)
    net = block.Network([block.Input((2, 10, 10), 3), block.Conv(stem, 2, 6, 3, padding=1),
                         block.ResidualBlock(kind, p, 6, 6),
                         block.ResidualBlock(kind, p, 6, 8, stride=2),
                         block.ResidualBlock(kind, p, 8, 8),
                         block.Flatten(), block.Readout({}, 8 * 25, 4)], timesteps=timesteps)
    x = torch.randint(0, 5, (5, 2, 10, 10, timesteps)).float()
    return nudge(net, x, train_steps), x


@pytest.mark.parametrize("kind", ["sparse", "sew", "spiking"])
@pytest.mark.parametrize("timesteps", [1, 3])
def test_residual_quantized_equals_emulator(tmp_path, kind, timesteps):
    net, x = resnet(kind, 3, timesteps, seed=timesteps)
    with net.quantized(allow_clipping=True):
        record = []
        net(x, record)
    path = str(tmp_path / "res.h5")
    net.export_hdf5(path, allow_clipping=True)
    spec = read_network(path)
    assert sum(layer.type == "join" for layer in spec.layers) == 3
    out = emulate(spec, to_emulator_layout(x).long())
    assert len(record) == len(spec.layers)
    for i, r in enumerate(record):
        assert torch.equal(to_emulator_layout(r), out[i]), f"layer {i} differs"


def test_sew_add_payloads_exceed_levels_sparse_never_do():
    levels = 2
    sew, x = resnet("sew", levels, 1, seed=4, train_steps=0)
    sparse, _ = resnet("sparse", levels, 1, seed=4, train_steps=0)
    x = x + 2  # strong input: every neuron active
    joins_sew = [i for i, layer in enumerate(sew.export_spec().layers) if layer.type == "join"]
    out_sew = emulate(sew.export_spec(), to_emulator_layout(x).long())
    out_sparse = emulate(sparse.export_spec(), to_emulator_layout(x).long())
    sew_max = [int(out_sew[i].max()) for i in joins_sew]
    assert max(sew_max) > levels  # the ADD join carries sums beyond N
    for i, layer in enumerate(sparse.export_spec().layers):
        if layer.type == "join":
            assert int(out_sparse[i].max()) <= levels


def test_constructed_avalanche():
    """Identity SEW blocks on a saturated input: join payloads grow block by block."""
    from lava_mlsnn.fixed import NeuronParams, SynapseSpec
    from lava_mlsnn.format.spec import Branch, LayerSpec, NetworkSpec
    n = 2
    layers = [LayerSpec("input", (4,), -1, [], NeuronParams("INPUT", input_levels=n))]
    ml = NeuronParams("MLSN", v_th_mant=1, levels=n)
    for _ in range(3):  # main: dense identity-like layer at full drive; join: ADD
        src = len(layers) - 1
        layers.append(LayerSpec("dense", (4,), src,
                                [Branch(src, SynapseSpec("dense", np.eye(4, dtype=np.int64) * 5))],
                                ml))
        layers.append(LayerSpec("join", (4,), src,
                                [Branch(src + 1, SynapseSpec("identity", np.array(1))),
                                 Branch(src, SynapseSpec("identity", np.array(1)))],
                                NeuronParams("PASS")))
    spec = NetworkSpec(layers, (4,), n, 1)
    out = emulate(spec, np.full((1, 1, 4), n))
    joins = [int(out[i].max()) for i, layer in enumerate(layers) if layer.type == "join"]
    assert joins == [2 * n, 3 * n, 4 * n]


def test_metrics_hand_computed():
    """Events, payload sums and synaptic operations on a network small enough to count."""
    from lava_mlsnn.fixed import NeuronParams, SynapseSpec
    from lava_mlsnn.metrics.activity import layer_activity, totals
    from lava_mlsnn.format.spec import Branch, LayerSpec, NetworkSpec
    w1 = np.array([[1, 0, 2], [0, 0, 3]], dtype=np.int64)  # input 0 -> 1 synapse, 1 -> 0, 2 -> 2
    w2 = np.array([[1, 1]], dtype=np.int64)
    ml = NeuronParams("MLSN", v_th_mant=1, levels=3)
    layers = [LayerSpec("input", (3,), -1, [], NeuronParams("INPUT", input_levels=3)),
              LayerSpec("dense", (2,), 0, [Branch(0, SynapseSpec("dense", w1))], ml),
              LayerSpec("dense", (1,), 1, [Branch(1, SynapseSpec("dense", w2))],
                        NeuronParams("READOUT"))]
    spec = NetworkSpec(layers, (3,), 3, 2)
    x = np.array([[[2, 1, 0], [0, 0, 3]]])  # B=1, T=2
    out = emulate(spec, x)
    act = {a.index: a for a in layer_activity(spec, out)}
    # input: events 2+1 (t0) + 1 (t1) = 3 nonzero; payload 2+1+3 = 6
    assert act[0].events == 3 and act[0].payload == 6
    # fan-out of input elements: [1, 0, 2] -> synops = 1 (x0@t0) + 0 (x1) + 2 (x2@t1) = 3
    assert act[0].synops == 3 and act[0].synops_unary == 2 * 1 + 0 + 3 * 2
    # dense layer: currents t0: [2, 0] -> z = [2, 0]; t1: [6, 9] -> z = [3, 3] (clipped)
    assert out[1][0].tolist() == [[2, 0], [3, 3]]
    assert act[1].events == 3 and act[1].payload == 8 and act[1].synops == 3
    assert totals(list(act.values()))["payload"] == 8
