"""Sigma-delta (SDNN) networks of lava-dl's own blocks run as stock netx runs them.

``slayer.block.sigma_delta`` Input/Conv/Dense/Output exported with lava-dl's own
``export_hdf5``; stock ``netx.hdf5.Network`` (``lava.proc.sdn`` fixed_pt) is the
reference for every layer at every step, against lava-mlsnn's emulator and Lava
backend.
"""
import h5py
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lava_mlsnn import fixed
from lava_mlsnn.format import read_network, write_network
from lava_mlsnn.format.reader import FormatError

from stock_netx import export_stock
from test_netx_stock import compare_with_stock

pytestmark = pytest.mark.lava

import lava.lib.dl.slayer as slayer  # noqa: E402

sd = slayer.block.sigma_delta
SDNN = {"threshold": 0.1, "activation": F.relu, "tau_grad": 0.5, "scale_grad": 1,
        "requires_grad": False, "shared_param": True}


def sdnn_conv_file(path: str, seed: int) -> None:
    torch.manual_seed(seed)
    blocks = [sd.Input(SDNN), sd.Conv(SDNN, 2, 4, 3, padding=1, weight_scale=2),
              sd.Conv(SDNN, 4, 4, 3, stride=2, weight_scale=2), sd.Flatten(),
              sd.Dense(SDNN, 4 * 3 * 3, 10, weight_scale=2), sd.Output(SDNN, 10, 3)]
    export_stock(path, blocks, (2, 8, 8))


def graded_input(seed: int, shape, steps: int = 10, batch: int = 2) -> np.ndarray:
    """Slowly varying integer frames (what a sigma-delta input encodes)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 80, (batch, 1) + tuple(shape))
    drift = np.cumsum(rng.integers(-6, 7, (batch, steps) + tuple(shape)), axis=1)
    return np.clip(base + drift, 0, 127)


@pytest.mark.parametrize("seed", [0, 1])
def test_lava_dl_sdnn_conv_net_matches_stock_netx(tmp_path, seed):
    path = str(tmp_path / "sdnn.h5")
    sdnn_conv_file(path, seed)
    spec = read_network(path)
    assert [la.neuron.type if la.neuron else None for la in spec.layers] == \
        ["SDNN_DELTA", "SDNN", "SDNN", None, "SDNN", "SDNN_SIGMA"]
    ref = compare_with_stock(path, graded_input(seed, (2, 8, 8)))
    assert np.abs(ref[1]).max() > 1  # graded, signed payloads
    assert ref[1].min() < 0


def test_sdnn_bias_runs_aligned_and_the_netx_difference_is_reported(tmp_path):
    """With a bias, stock netx's pipeline runs a sigma-delta layer for its depth in steps
    on the bias alone (it cannot reset SDNN neurons); lava-mlsnn runs the aligned network
    (as lava-dl trains it) in both backends and says where stock netx differs."""
    from lava_mlsnn.backends.emulator import emulate
    from lava_mlsnn.backends.lava_runner import run_lava
    from lava_mlsnn.backends.loihi2.report import deployment_notes

    torch.manual_seed(5)
    path = str(tmp_path / "dense.h5")
    export_stock(path, [sd.Input(SDNN), sd.Dense(SDNN, 12, 10, weight_scale=2),
                        sd.Output(SDNN, 10, 4)], (12,))
    with h5py.File(path, "r+") as f:  # a bias, as a folded norm would give
        f["layer/1"].create_dataset("bias", data=np.arange(-5, 5, dtype=np.float32) * 7)
    spec = read_network(path)
    assert spec.layers[1].neuron.bias_exp == fixed.SDNN_BIAS_EXP
    x = graded_input(6, (12,), batch=3)
    ref = emulate(spec, x)
    got = run_lava(spec, x)
    for i in ref:
        assert np.array_equal(got[i], ref[i].numpy()), i
    assert [w for w in deployment_notes(spec) if "sigma-delta layer with a bias" in w]
    again = str(tmp_path / "again.h5")
    write_network(spec, again)
    with h5py.File(again) as f:
        assert "biasExp" not in f["layer/1"] and f["layer/1/neuron/type"][()] == b"SDNN"
    assert np.array_equal(read_network(again).layers[1].neuron.bias, spec.layers[1].neuron.bias)


def test_sdnn_step_against_a_scalar_transcription():
    """fixed.sigma_delta_step == lava.proc.sdn's equations with act/residue, written out."""
    rng = np.random.default_rng(0)
    p = fixed.NeuronParams("SDNN", 3, bias=np.array(-2), bias_exp=12)
    sigma = ref = np.zeros(1, dtype=np.int64)
    act_prev = residue = 0
    lava_sigma = 0
    for a in rng.integers(-3000, 4000, 200):
        sigma, ref, z = fixed.sigma_delta_step(sigma, ref, np.array([a]), p)
        lava_sigma += int(a)
        act = max(lava_sigma + (-2 << 12), 0)
        delta = act - act_prev + residue
        s = delta if abs(delta) >= 3 << 12 else 0
        residue, act_prev = delta - s, act
        assert int(z[0]) == s >> 6


def test_sdnn_refusals(tmp_path):
    path = str(tmp_path / "bad.h5")
    torch.manual_seed(0)
    export_stock(path, [sd.Input(SDNN), sd.Dense(SDNN, 6, 5), sd.Output(SDNN, 5, 2)], (6,))
    with h5py.File(path, "r+") as f:
        del f["layer/1/neuron/activation"]
        f["layer/1/neuron"].create_dataset("activation", data="sigmoid")
        f["layer/2"].create_dataset("bias", data=np.ones(2, dtype=np.float32))
    with pytest.raises(FormatError) as err:
        read_network(path)
    assert err.value.problems == [
        "layer/1/neuron/activation: 'sigmoid' is not supported: stock netx runs every "
        "sigma-delta layer with ReLU",
        "layer/2/bias: a sigma_output layer has no bias (netx's Sigma takes none)"]


def test_sigma_delta_blocks_in_a_network_export_and_run_as_stock_netx(tmp_path):
    """lava-mlsnn's wrappers of lava-dl's sigma-delta blocks: the quantized forward, the
    emulator, the Lava backend and stock netx give the same integers on every layer, and
    the float forward is the same network on lava-dl's scale."""
    from lava_mlsnn import block
    from lava_mlsnn.backends.emulator import emulate
    from lava_mlsnn.block import sigma_delta as bsd

    torch.manual_seed(3)
    net = block.Network([bsd.Input((2, 8, 8), SDNN),
                         bsd.Conv(SDNN, 2, 4, 3, padding=1, weight_scale=2),
                         bsd.Flatten(), bsd.Dense(SDNN, 256, 10, weight_scale=2),
                         bsd.Output(SDNN, 10, 3)], timesteps=10)
    x_int = graded_input(3, (2, 8, 8), batch=2)  # deployed input: x * 64
    x = torch.from_numpy(x_int).float().movedim(1, -1) / 64
    path = str(tmp_path / "sd.h5")
    spec = net.export_hdf5(path)
    assert [la.neuron.type if la.neuron else None for la in spec.layers] == \
        ["SDNN_DELTA", "SDNN", None, "SDNN", "SDNN_SIGMA"]
    ref = compare_with_stock(path, x_int)
    record: list = []
    with net.quantized():
        net(torch.from_numpy(x_int).movedim(1, -1), record)
    for i, out in enumerate(record):
        assert np.array_equal(out.movedim(-1, 1).numpy(), ref[i]), f"layer {i}"
    with torch.no_grad():
        y = net.eval()(x)
    deployed = ref[4].astype(np.float64) * bsd.SIGMA_UNIT
    # lava-dl's float delta encoding thresholds real values: the same network, on its scale
    # (the sums agree once the input has been sent), not the same integers.
    assert np.allclose(y[..., -1].numpy(), deployed[:, -1], atol=0.1 * np.abs(deployed).max())
    with pytest.raises(ValueError, match="delay=True"):
        bsd.Dense(SDNN, 4, 3, delay=True)


def test_nir_export_refuses_what_it_cannot_carry(tmp_path):
    from lava_mlsnn.nir.exporter import to_nir

    path = str(tmp_path / "sd.h5")
    sdnn_conv_file(path, 0)
    with pytest.raises(ValueError, match="layer 0 has a sigma-delta"):
        to_nir(read_network(path))
