"""Whole networks in Lava fixed_pt: run_lava == emulate, integer for integer.

Each build streams several samples (so the per-sample reset is exercised); stock
lava-dl CUBA exports give the same spikes in stock netx, our emulator and our
Lava runner.
"""
import multiprocessing

import numpy as np
import pytest
import torch

from lava_mlsnn.netx import emulate, read_network
from lava_mlsnn.format.random_net import random_input, random_network

pytestmark = pytest.mark.lava

import lava.magma.core.run_configs  # noqa: E402,F401  (a hard dependency: fail, never skip)
from lava_mlsnn.backends.lava_runner import LavaNetwork, run_lava, simulate  # noqa: E402
from layercheck import assert_layers_active  # noqa: E402
from stock_netx import export_stock, run_stock_netx  # noqa: E402
from netfactory import join_network  # noqa: E402



def assert_same(ref, got, spec):
    assert sorted(ref) == sorted(got)
    assert_layers_active(ref)
    for i in ref:
        want = ref[i].numpy() if isinstance(ref[i], torch.Tensor) else ref[i]
        assert got[i].dtype == np.int64
        assert got[i].shape == want.shape, i
        bad = np.argwhere(got[i] != want)
        assert bad.size == 0, (f"layer {i} ({spec.layers[i].type}) differs at "
                               f"[sample, step, ...] {bad[0].tolist()}: lava "
                               f"{got[i][tuple(bad[0])]}, emulator {want[tuple(bad[0])]}")


CASES = [  # (conv, levels, T, seed)
    (True, 1, 1, 0), (True, 3, 3, 1), (True, 15, 1, 2), (True, 15, 3, 3),
    (False, 1, 3, 4), (False, 3, 1, 5), (False, 15, 3, 6), (False, 3, 3, 7),
]


@pytest.mark.parametrize("conv,levels,steps,seed", CASES)
def test_random_network_matches_emulator(conv, levels, steps, seed):
    rng = np.random.default_rng(seed)
    spec = random_network(rng, levels=levels, conv=conv, timesteps=steps)
    x = random_input(rng, spec, batch=4, steps=steps)
    ref = emulate(spec, x)
    got = run_lava(spec, x)
    assert_same(ref, got, spec)
    # The case is meaningful: hidden layers spike, and levels > 1 are used.
    hidden = [i for i, la in enumerate(spec.layers) if la.neuron and la.neuron.type == "MLSN"]
    assert all(got[i].any() for i in hidden[:1])
    if levels > 1:
        assert max(got[i].max() for i in hidden) > 1


def test_random_cuba_network_matches_emulator():
    rng = np.random.default_rng(11)
    spec = random_network(rng, conv=False, neuron="CUBA", timesteps=4)
    x = random_input(rng, spec, batch=3, steps=4)
    ref = emulate(spec, x)
    assert_same(ref, run_lava(spec, x), spec)
    assert ref[1].any()


def test_dag_with_skip_delays_and_joins_matches_emulator():
    rng = np.random.default_rng(5)
    spec = join_network(rng)
    assert spec.depths() == [0, 1, 2, 3, 3, 4, 5]
    x = random_input(rng, spec, batch=3, steps=3)
    ref = emulate(spec, x)
    assert_same(ref, run_lava(spec, x), spec)
    assert ref[3].any() and ref[5].abs().max() > 3  # the joins carry data


def test_network_is_reused_across_batches_and_splits_large_batches():
    rng = np.random.default_rng(21)
    spec = random_network(rng, levels=3, conv=True, timesteps=2)
    xs = [random_input(rng, spec, batch=b, steps=2) for b in (3, 1, 5)]
    with LavaNetwork(spec, batch=3, record=[4, 6]) as net:  # 4 is a flatten layer
        n_procs = len(net.processes)
        outs = [net.run(x, progress=(k == 2)) for k, x in enumerate(xs)]
        assert len(net.processes) == n_procs  # built once
        assert net.timings["steps"] > 0 and net.seconds_per_step > 0
    for x, out in zip(xs, outs):
        ref = emulate(spec, x, record=[4, 6])
        assert_same(ref, out, spec)


def test_simulate_backends_agree_and_bad_input_fails_before_building():
    rng = np.random.default_rng(8)
    spec = random_network(rng, levels=3, conv=False, timesteps=2)
    x = random_input(rng, spec, batch=2, steps=2)
    emu = simulate(spec, x, backend="emulator", record=[3])
    lav = simulate(spec, x, backend="lava", record=[3])
    assert list(lav) == [3] and np.array_equal(emu[3], lav[3])
    with pytest.raises(ValueError, match="shape"):
        run_lava(spec, x[:, :, :-1])
    with pytest.raises(ValueError, match="integers"):
        run_lava(spec, x + 0.5)
    with pytest.raises(ValueError, match="backend"):
        simulate(spec, x, backend="loihi")


CUBA_PARAMS = {"threshold": 1.0, "current_decay": 0.25, "voltage_decay": 0.03,
               "requires_grad": False}


def test_stock_lava_dl_cuba_dense_export_gives_netx_spikes(tmp_path):
    import lava.lib.dl.slayer as slayer

    path = str(tmp_path / "stock.h5")
    torch.manual_seed(0)
    sizes = [20, 16, 12, 5]
    export_stock(path, [slayer.block.cuba.Dense(CUBA_PARAMS, a, b, weight_scale=2)
                         for a, b in zip(sizes[:-1], sizes[1:])], (20,))
    spec = read_network(path)
    assert spec.stock and spec.input_shape == (20,)
    assert [la.neuron.type for la in spec.layers] == ["CUBA"] * 3
    steps = 16
    x = (np.random.default_rng(0).random((1, steps, 20)) < 0.4).astype(np.int64)
    ref = {i: v.numpy() for i, v in emulate(spec, x).items()}
    assert_same(ref, run_lava(spec, x), spec)

    per_layer, out, depth = run_stock_netx(path, x[0].T, steps)
    for i, g in enumerate(per_layer):  # block i (depth i + 1) sends step s at time s + i + 2
        assert np.array_equal(g[:, i + 1:i + 1 + steps].T, ref[i][0]), f"layer {i}"
        assert ref[i].sum() > 0
    assert np.array_equal(out[:, depth:depth + steps].T, ref[depth - 1][0])


def _stock_conv_file(path):
    import lava.lib.dl.slayer as slayer

    torch.manual_seed(2)
    blocks = [slayer.block.cuba.Conv(CUBA_PARAMS, 2, 4, 3, padding=1, weight_scale=3),
              slayer.block.cuba.Conv(CUBA_PARAMS, 4, 4, 3, padding=1, stride=2, weight_scale=3),
              slayer.block.cuba.Flatten(),
              slayer.block.cuba.Dense(CUBA_PARAMS, 64, 6, weight_scale=4)]
    export_stock(path, blocks, (2, 8, 8))


def test_read_network_accepts_stock_flatten_shape(tmp_path):
    path = str(tmp_path / "conv.h5")
    _stock_conv_file(path)
    assert read_network(path).layers[2].shape == (64,)


def test_stock_lava_dl_cuba_conv_export_gives_netx_spikes(tmp_path):
    path = str(tmp_path / "conv.h5")
    _stock_conv_file(path)  # as lava-dl writes it: the flatten shape is (F, 1, 1)
    spec = read_network(path)
    assert spec.input_shape is None  # stock conv files do not say it: taken from the data
    steps = 10
    x = (np.random.default_rng(1).random((1, steps, 2, 8, 8)) < 0.3).astype(np.int64)
    ref = {i: v.numpy() for i, v in emulate(spec, x).items()}
    assert_same(ref, run_lava(spec, x), spec)

    # netx works in (W, H, C): transpose the input and the conv outputs.
    per_layer, _, _ = run_stock_netx(path, x[0].transpose(3, 2, 1, 0), steps,
                                      input_shape=(8, 8, 2))
    for k, (i, g) in enumerate(zip([0, 1, 3], per_layer)):
        g = np.moveaxis(g, -1, 0)[k + 1:k + 1 + steps]
        if g.ndim == 4:
            g = g.transpose(0, 3, 2, 1)
        assert np.array_equal(g, ref[i][0]), f"layer {i}"
        assert ref[i].sum() > 0


def test_no_lava_processes_left_behind():
    import psutil

    assert multiprocessing.active_children() == []
    # Python's own shared-memory resource tracker lives until the interpreter exits.
    kids = [k for k in psutil.Process().children(recursive=True)
            if "resource_tracker" not in " ".join(k.cmdline())]
    assert kids == [], [k.cmdline() for k in kids]
