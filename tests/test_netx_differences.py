"""Where lava-mlsnn once ran a stock netx file differently from stock netx, silently.

Each file is written in lava-dl's stock layout (no lava-mlsnn root attributes) and
run in stock ``netx.hdf5.Network`` (Lava fixed_pt) as the reference; lava-mlsnn's
emulator and Lava backend must give the same integers, every layer active.
"""
import h5py
import numpy as np
import pytest

from lava_mlsnn.format import read_network

from test_netx_stock import compare_with_stock

pytestmark = pytest.mark.lava


def _layer(f, i: int, kind: str, shape, neuron=None, **data) -> h5py.Group:
    g = f.create_group(f"layer/{i}")
    g.create_dataset("type", data=np.array([kind.encode()], dtype="S10"))
    g.create_dataset("shape", data=np.asarray(shape, dtype=np.int64))
    if neuron is not None:
        ng = g.create_group("neuron")
        for k, v in neuron.items():
            ng.create_dataset(k, data=v)
    for k, v in data.items():
        g.create_dataset(k, data=v)
    return g


CUBA = {"type": "CUBA", "iDecay": 1024, "vDecay": 128, "vThMant": 40, "refDelay": 1,
        "gradedSpike": False}


def test_sdnn_sigma_sums_currents_unsaturated_as_lava_sdn(tmp_path):
    """A current beyond 24 bits: stock Lava's Dense does not saturate it and the sigma
    sums it as it is (lava-mlsnn saturated it to 2**23 - 1 before)."""
    path = str(tmp_path / "big.net")
    with h5py.File(path, "w") as f:
        _layer(f, 0, "input", [2], {"type": "SDNN", "activation": "relu", "vThMant": 1})
        _layer(f, 1, "dense", [2], {"type": "SDNN", "activation": "relu", "vThMant": 1},
               weight=np.array([[127.0, 0.0], [0.0, -3.0]], dtype=np.float32))
        _layer(f, 2, "dense", [1], {"type": "SDNN", "activation": "relu", "sigma_output": 1},
               weight=np.array([[1.0, 1.0]], dtype=np.float32))
    spec = read_network(path)
    assert spec.layers[1].branches[0].synapse.overflow == "none"
    x = np.zeros((1, 4, 2), dtype=np.int64)
    x[0, :, 0] = [2000, 2000, 1000, 0]  # payload 2000 << 6, x 127: 16,256,000 > 2**23
    x[0, :, 1] = [5, 5, 6, 6]
    ref = compare_with_stock(path, x)
    # sigma 2000 * 64 * 127 = 16,256,000 > 2**23 sends 16,256,000 >> 6 (saturated: 131071)
    assert ref[1][0, 0, 0] == 16_256_000 >> 6


def test_stock_input_layer_without_neuron_passes_graded_input_on(tmp_path):
    """netx hands the data of a neuron-less input layer to the first synapse as it is
    (graded with input_message_bits > 0); lava-mlsnn clipped it to 0..1 before."""
    path = str(tmp_path / "graded.net")
    rng = np.random.default_rng(3)
    with h5py.File(path, "w") as f:
        _layer(f, 0, "input", [12])
        _layer(f, 1, "dense", [6], CUBA,
               weight=rng.integers(-20, 40, (6, 12)).astype(np.float32))
        _layer(f, 2, "dense", [3], CUBA,
               weight=rng.integers(-10, 60, (3, 6)).astype(np.float32))
    spec = read_network(path)
    assert spec.layers[0].neuron.type == "PASS"
    x = rng.integers(0, 6, (2, 8, 12))
    ref = compare_with_stock(path, x, input_message_bits=8)
    assert ref[0].max() == 5  # passed on unclipped


def test_weight_and_bias_exponents_of_a_stock_file_are_not_applied(tmp_path, capsys):
    """netx never reads weightExp / biasExp; lava-mlsnn applied them to stock files, so
    this net ran silent where stock netx spikes. inspect says they are ignored."""
    from lava_mlsnn.cli import main

    path = str(tmp_path / "exps.net")
    rng = np.random.default_rng(4)
    with h5py.File(path, "w") as f:
        _layer(f, 0, "dense", [8], CUBA, weight=rng.integers(-10, 50, (8, 10)).astype(np.float32),
               weightExp=np.int64(-4), bias=np.full(8, 3.0, dtype=np.float32),
               biasExp=np.int64(0))
        _layer(f, 1, "dense", [4], CUBA, weight=rng.integers(0, 60, (4, 8)).astype(np.float32),
               weightExp=np.int64(-4))
    spec = read_network(path)
    assert spec.layers[0].branches[0].synapse.weight_exp == 0
    assert spec.layers[0].neuron.bias_exp == 6
    x = (rng.random((2, 8, 10)) < 0.5).astype(np.int64)
    compare_with_stock(path, x)
    assert main(["inspect", path]) == 0
    out = capsys.readouterr().out
    assert "ignored    weightExp (netx never reads it; not applied): layers 0, 1" in out
    assert "ignored    biasExp (netx never reads it; not applied): layers 0" in out
