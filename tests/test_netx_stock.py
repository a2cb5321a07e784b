"""Stock lava-dl exports run as stock netx runs them: every layer, every step.

lava-dl's own blocks (``slayer.block.cuba``) are exported with lava-dl's own
``export_hdf5`` and run in stock ``netx.hdf5.Network`` (Lava fixed_pt); lava-mlsnn's
emulator and Lava backend must give the same integers. Axonal delays
(``delay=True``) included: a delayed file never runs undelayed.
"""
import h5py
import numpy as np
import pytest
import torch

from lava_mlsnn.backends.emulator import emulate
from lava_mlsnn.backends.loihi2.report import deployment_warnings
from lava_mlsnn.format import read_network
from lava_mlsnn.format.reader import FormatError

from layercheck import assert_layers_active
from stock_netx import aligned, export_stock, randomize_delays, run_stock_netx, size_blocks

pytestmark = pytest.mark.lava

import lava.lib.dl.slayer as slayer  # noqa: E402  (a hard dependency: fail, never skip)
from lava_mlsnn.backends.lava_runner import run_lava  # noqa: E402

CUBA = {"threshold": 1.0, "current_decay": 0.25, "voltage_decay": 0.03, "requires_grad": False}
MAX_DELAY = 5


def delayed_dense_file(path: str, seed: int, sizes=(20, 16, 12, 5)) -> None:
    """lava-dl CUBA dense blocks, every hidden one with ``delay=True``, random delays."""
    torch.manual_seed(seed)
    blocks = [slayer.block.cuba.Dense(CUBA, a, b, weight_scale=2, delay=k < len(sizes) - 2)
              for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))]
    size_blocks(blocks, (sizes[0],))
    randomize_delays(blocks, np.random.default_rng(seed), MAX_DELAY)
    export_stock(path, blocks, (sizes[0],))


def compare_with_stock(path: str, x: np.ndarray, silent=(), input_message_bits: int = 0) -> dict:
    """Emulator == Lava backend on the batch ``x`` ``[B, T, *CHW]``; emulator == stock netx
    on ``x[0]``, every block at every step. Layers in ``silent`` may be all zero."""
    spec = read_network(path)
    steps = x.shape[1]
    ref = {i: v.numpy() for i, v in emulate(spec, x).items()}
    assert_layers_active({i: v[0] for i, v in ref.items() if i not in silent},
                         what="stock comparison: ")
    got = run_lava(spec, x)
    for i in ref:
        assert np.array_equal(got[i], ref[i]), f"layer {i}: Lava backend != emulator"
    # netx makes one block per layer except flatten and neuron-less input layers.
    blocks = [i for i, la in enumerate(spec.layers) if la.type != "flatten"
              and not (la.type == "input" and la.neuron.type in ("INPUT", "PASS"))]
    x_whc = x[0].T if x.ndim == 3 else x[0].transpose(3, 2, 1, 0)
    whc = tuple(x_whc.shape[:-1]) if x.ndim == 5 else None
    per_block, _, _ = run_stock_netx(path, x_whc, steps, input_shape=whc, extra=MAX_DELAY,
                                     input_message_bits=input_message_bits)
    assert len(per_block) == len(blocks)
    depths = spec.depths()
    for i, stock in zip(blocks, per_block):
        want = aligned(stock, depths[i], steps)
        bad = np.argwhere(want != ref[i][0])
        assert bad.size == 0, (f"layer {i} differs from stock netx at [step, neuron] "
                               f"{bad[0].tolist()}")
    return ref


@pytest.mark.parametrize("seed", [0, 1])
def test_lava_dl_delayed_dense_export_matches_stock_netx(tmp_path, seed):
    path = str(tmp_path / "delayed.h5")
    delayed_dense_file(path, seed)
    spec = read_network(path)
    delays = [la.branches[0].synapse.delay for la in spec.layers]
    assert delays[0].shape == (16,) and delays[1].shape == (12,) and delays[2] is None
    assert delays[0].max() > 0 and delays[1].max() > 0
    rng = np.random.default_rng(100 + seed)
    # Three samples: delayed currents must not leak from one sample into the next.
    x = (rng.random((3, 14, 20)) < 0.4).astype(np.int64)
    compare_with_stock(path, x)


@pytest.mark.parametrize("form", ["per_input", "per_synapse", "scalar"])
def test_netx_delay_shapes_match_stock_netx(tmp_path, form):
    """netx reads a scalar, a per-input 1-D array and a full (out, in) matrix too."""
    path = str(tmp_path / "delayed.h5")
    delayed_dense_file(path, 3)
    rng = np.random.default_rng(7)
    with h5py.File(path, "r+") as f:
        g = f["layer/0"]
        del g["delay"]
        data = {"per_input": rng.integers(0, MAX_DELAY + 1, 20),
                "per_synapse": rng.integers(0, MAX_DELAY + 1, (16, 20)),
                "scalar": np.float32(3)}[form]
        g.create_dataset("delay", data=np.asarray(data, dtype=np.float32))
    spec = read_network(path)
    d = spec.layers[0].branches[0].synapse.delay
    assert d.shape == ((16,) if form == "scalar" else (16, 20))
    x = (np.random.default_rng(8).random((2, 12, 20)) < 0.4).astype(np.int64)
    compare_with_stock(path, x)


def test_delayed_file_never_runs_undelayed(tmp_path):
    """Regression: delays were once dropped without a word; the same weights without
    their delays give different spikes."""
    path, plain = str(tmp_path / "delayed.h5"), str(tmp_path / "plain.h5")
    delayed_dense_file(path, 0)
    with h5py.File(path) as f, h5py.File(plain, "w") as g:
        f.copy("layer", g)
    with h5py.File(plain, "r+") as g:
        for i in ("0", "1"):
            del g[f"layer/{i}/delay"]
    x = (np.random.default_rng(0).random((2, 14, 20)) < 0.4).astype(np.int64)
    with_delay = emulate(read_network(path), x)
    without = emulate(read_network(plain), x)
    assert_layers_active({i: v for i, v in with_delay.items()})
    for i in (0, 1, 2):
        assert not torch.equal(with_delay[i], without[i]), f"layer {i} ran undelayed"


def test_conv_delays_are_refused(tmp_path):
    """Stock netx ignores conv delays (it would run the network undelayed): refused."""
    path = str(tmp_path / "conv.h5")
    torch.manual_seed(0)
    blocks = [slayer.block.cuba.Conv(CUBA, 2, 4, 3, padding=1, delay=True),
              slayer.block.cuba.Flatten(), slayer.block.cuba.Dense(CUBA, 4 * 6 * 6, 3)]
    export_stock(path, blocks, (2, 6, 6))
    with pytest.raises(FormatError) as err:
        read_network(path)
    assert err.value.problems[0].startswith("layer/0/delay: axonal delays on conv layers are "
                                            "not supported")


def test_delays_beyond_loihi2_are_deployment_warnings(tmp_path):
    path = str(tmp_path / "delayed.h5")
    delayed_dense_file(path, 0)
    assert not [w for w in deployment_warnings(read_network(path)) if "delay" in w]
    with h5py.File(path, "r+") as f:
        d = f["layer/1/delay"][()]
        d[0] = 70
        del f["layer/1/delay"]
        f["layer/1"].create_dataset("delay", data=d)
    warns = [w for w in deployment_warnings(read_network(path)) if "delay" in w]
    assert warns == ["layer 1 (dense): axonal delay up to 70 steps exceeds Loihi 2's 62 "
                     "(stock netx would clamp it to 62; lava-mlsnn runs it as written)"]
    with h5py.File(path, "r+") as f:
        f["layer/1/delay"][0] = -1
    with pytest.raises(FormatError, match=r"layer/1/delay: must lie in \[0, 1024\]"):
        read_network(path)


def test_lava_mlsnn_blocks_refuse_delay_arguments():
    from lava_mlsnn import block

    ml = {"threshold": 1.0, "levels": 3}
    for make in (lambda **kw: block.Dense(ml, 4, 3, **kw),
                 lambda **kw: block.Conv(ml, 2, 3, 3, **kw),
                 lambda **kw: block.cuba.Dense(CUBA, 4, 3, **kw),
                 lambda **kw: block.cuba.Conv(CUBA, 2, 3, 3, **kw)):
        with pytest.raises(ValueError, match="delay=True .* not supported"):
            make(delay=True)
        with pytest.raises(ValueError, match="delay_shift=True is not supported"):
            make(delay_shift=True)
        make()  # the defaults stay accepted
    with pytest.raises(ValueError, match="delay=True"):
        block.Dense(ml, 4, 3, 1, False, None, True)  # positional delay
    with pytest.raises(ValueError, match="delay_shift=True"):
        block.Pool(ml, 2, delay_shift=True)


def test_delays_survive_a_write_and_read(tmp_path):
    from lava_mlsnn.format import write_network

    path, again = str(tmp_path / "delayed.h5"), str(tmp_path / "again.h5")
    delayed_dense_file(path, 1)
    spec = read_network(path)
    write_network(spec, again)
    back = read_network(again)
    for a, b in zip(spec.layers, back.layers):
        da, db = a.branches[0].synapse.delay, b.branches[0].synapse.delay
        assert (da is None and db is None) or np.array_equal(da, db)


@pytest.mark.parametrize("seed", [0, 1])
def test_lava_dl_conv_flatten_delayed_dense_matches_stock_netx(tmp_path, seed):
    torch.manual_seed(seed)
    path = str(tmp_path / "conv.h5")
    blocks = [slayer.block.cuba.Conv(CUBA, 2, 4, 3, padding=1, weight_scale=3),
              slayer.block.cuba.Conv(CUBA, 4, 4, 3, padding=1, stride=2, weight_scale=3),
              slayer.block.cuba.Flatten(),
              slayer.block.cuba.Dense(CUBA, 64, 10, weight_scale=4, delay=True),
              slayer.block.cuba.Dense(CUBA, 10, 4, weight_scale=4)]
    size_blocks(blocks, (2, 8, 8))
    randomize_delays(blocks, np.random.default_rng(seed), MAX_DELAY)
    export_stock(path, blocks, (2, 8, 8))
    assert read_network(path).layers[3].branches[0].synapse.max_delay > 0
    x = (np.random.default_rng(seed).random((2, 12, 2, 8, 8)) < 0.3).astype(np.int64)
    compare_with_stock(path, x)


def test_nir_export_refuses_delays(tmp_path):
    from lava_mlsnn.nir.exporter import to_nir

    path = str(tmp_path / "delayed.h5")
    delayed_dense_file(path, 0)
    with pytest.raises(ValueError, match="layer 0 has axonal delays"):
        to_nir(read_network(path))
