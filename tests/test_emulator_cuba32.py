"""The float32 CUBA loop (kernels.CUBA32, _kernel_loops32.run32 with cuba: fixed.cuba_step
in float32 where lean.cuba32_ok holds) against fixed.current_of_sum + fixed.cuba_step from
the reset state, at its edges: currents at the largest bound cuba32_ok accepts (|u| just
below 2**23), weight exponents both ways, decays 1 / 7 / 4095 / 4096, thresholds near
2**24, biases near 2**24, v at its saturation; the bound just past it refused; and the
emulator's layer-major run on CUBA networks against the plain step, both loops taken."""
import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import lava_mlsnn.backends.emulator as emulator
from layercheck import assert_layers_active
from lava_mlsnn import fixed
from lava_mlsnn.backends import _kernel_loops32, kernels
from lava_mlsnn.backends.lean import cuba32_ok
from lava_mlsnn.format.spec import Branch, LayerSpec, NetworkSpec
from test_emulator_kernels32 import _fixed_steps

P = fixed.NeuronParams


@pytest.fixture(autouse=True)
def _start_method_unset():
    """As in test_emulator_kernels32: a direct parallel launch fixes the start method."""
    import multiprocessing
    unset = multiprocessing.get_start_method(allow_none=True) is None
    yield
    if unset:
        multiprocessing.set_start_method(None, force=True)


def _largest_bound(p: P, weight_exp: int) -> int:
    """The largest payload bound cuba32_ok accepts for a fan-in-1, weight-1 synapse."""
    lo, hi = 0, 1 << 30
    syn = fixed.SynapseSpec("dense", np.ones((1, 1), dtype=np.int64), weight_exp)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if cuba32_ok(p, syn, float(mid)) else (lo, mid - 1)
    return lo


@settings(max_examples=200, deadline=None)
@given(i_decay=st.sampled_from([1, 7, 1024, 4095, 4096]),
       v_decay=st.sampled_from([0, 1, 7, 2048, 4095, 4096]),
       th=st.one_of(st.integers(0, 400), st.integers((1 << 18) - 64, (1 << 18) - 1)),
       bias=st.one_of(st.none(), st.integers(-4096, 4095)), bias_exp=st.integers(0, 12),
       weight_exp=st.integers(-6, 6), steps=st.sampled_from([1, 2, 5]),
       edge=st.booleans(), seed=st.integers(0, 2 ** 31), serial=st.booleans())
def test_float32_cuba_loop_equals_cuba_step(i_decay, v_decay, th, bias, bias_exp, weight_exp,
                                            steps, edge, seed, serial):
    n = 16
    p = P("CUBA", v_th_mant=th, i_decay=i_decay, v_decay=v_decay,
          bias=None if bias is None else np.full(n, bias), bias_exp=bias_exp)
    big = None if bias is None else abs(bias) << bias_exp
    bound = _largest_bound(p, weight_exp)
    syn = fixed.SynapseSpec("dense", np.ones((n, 1), dtype=np.int64), weight_exp)
    if bound == 0:  # only where the bias or the threshold leave float32 (or a tiny bound)
        assert (big is not None and big >= 1 << 24) or not cuba32_ok(p, syn, 0.0) \
            or not cuba32_ok(p, syn, 1.0)
        return
    assert not cuba32_ok(p, syn, float(bound + 1))  # the bound is the edge
    rng = np.random.default_rng(seed)
    s = rng.integers(-bound, bound + 1, size=(2, steps, n)).astype(np.float32)
    if edge:  # currents at the bound, of one sign for a while: u near its own bound
        s[0] = bound
        s[1] = -bound
        s[:, :, ::3] = rng.integers(-bound, bound + 1, size=s[:, :, ::3].shape)
    pay = np.empty(s.shape, np.float32)
    rec = np.empty(s.shape, np.int8)
    run = _kernel_loops32.run32_serial if serial else _kernel_loops32.run32
    run(s, kernels.constants32(p, weight_exp), kernels.bias_term(p, (n,)).astype(np.float32),
        pay, rec, True, True)
    want = _fixed_steps(s, p, weight_exp)
    assert np.array_equal(rec.astype(np.int64), want)
    assert np.array_equal(pay, want.astype(np.float32))


def test_cuba32_ok_refuses_what_float32_cannot_hold():
    p = P("CUBA", v_th_mant=10, i_decay=1024, v_decay=100)
    syn = fixed.SynapseSpec("dense", np.full((4, 8), 3, dtype=np.int64), 0)
    assert cuba32_ok(p, syn, 1.0)
    assert not cuba32_ok(p, syn, None)  # an unknown bound
    assert not cuba32_ok(dataclasses.replace(p, i_decay=0), syn, 1.0)  # no current decay
    assert not cuba32_ok(dataclasses.replace(p, i_decay=np.full(4, 1024)), syn, 1.0)
    assert not cuba32_ok(dataclasses.replace(p, v_th_mant=1 << 18), syn, 1.0)  # th 2**24
    assert not cuba32_ok(dataclasses.replace(p, bias=np.full(4, 1 << 12), bias_exp=12),
                         syn, 1.0)  # bias 2**24
    assert not cuba32_ok(dataclasses.replace(p, current_bias=np.zeros(4, np.int64)), syn, 1.0)
    assert not cuba32_ok(dataclasses.replace(p, type="MLSN", levels=3), syn, 1.0)
    # 3 * 8 * 64 * 4 = 6144 per unit of payload: |u| < 2**23 up to a bound of 1365
    assert cuba32_ok(p, syn, 1365.0) and not cuba32_ok(p, syn, 1366.0)


def _cuba_net(rng, scale: int) -> NetworkSpec:
    """input -> conv (CUBA) -> pool (CUBA) -> flatten -> dense (CUBA, bias) -> dense CUBA;
    ``scale``: the weights' size (small: every layer meets cuba32_ok)."""
    def cuba(shape_bias, bias=True):
        return P("CUBA", v_th_mant=int(rng.integers(1, 30)), i_decay=int(rng.choice([512, 4096])),
                 v_decay=int(rng.choice([0, 128, 4095])),
                 bias=rng.integers(-20, 20, size=shape_bias) if bias else None)
    w = lambda *shape: rng.integers(-scale, 2 * scale, size=shape)  # noqa: E731
    layers = [
        LayerSpec("input", (2, 8, 8), -1, neuron=P("INPUT", input_levels=3)),
        LayerSpec("conv", (4, 8, 8), 0, [Branch(0, fixed.SynapseSpec(
            "conv", w(4, 2, 3, 3), 0, padding=(1, 1)))], cuba((4, 1, 1))),
        LayerSpec("pool", (4, 4, 4), 1, [Branch(1, fixed.SynapseSpec(
            "pool", np.array(int(rng.integers(20, 60))), 0, stride=(2, 2), kernel=(2, 2)))],
            cuba((4, 1, 1), bias=False)),
        LayerSpec("flatten", (64,), 2),
        LayerSpec("dense", (20,), 3, [Branch(3, fixed.SynapseSpec("dense", w(20, 64), 0))],
                  cuba(20)),
        LayerSpec("dense", (5,), 4, [Branch(4, fixed.SynapseSpec("dense", w(5, 20), 1))],
                  cuba(5)),
    ]
    return NetworkSpec(layers, input_shape=(2, 8, 8), input_levels=3, timesteps=4)


@pytest.mark.parametrize("steps", [1, 4, 16])
def test_layer_major_cuba_networks_equal_the_plain_step(monkeypatch, steps):
    """Small weights: every CUBA layer on the float32 loop; large ones: the int64 loop
    where cuba32_ok fails (the pool's small weight keeps the float32 one); both the
    plain step's integers."""
    monkeypatch.setattr(emulator, "KERNEL_MIN_STEPS", 1)
    kinds = []
    real = kernels.run_layer
    monkeypatch.setattr(kernels, "run_layer",
                        lambda kind, *a, **k: kinds.append(kind) or real(kind, *a, **k))
    for scale in (6, 3000):
        rng = np.random.default_rng(50 + steps + scale)
        spec = _cuba_net(rng, scale)
        x = rng.integers(0, 4, size=(3, steps, 2, 8, 8))
        x[0] = 3
        monkeypatch.setattr(emulator, "KERNEL_STEP", False)
        plain = emulator.emulate(spec, x)
        monkeypatch.setattr(emulator, "KERNEL_STEP", True)
        assert_layers_active(plain, what=f"scale {scale}")
        kinds.clear()
        got = emulator.emulate(spec, x, narrow=True)
        assert (set(kinds) == {kernels.CUBA32}) if scale == 6 else ("CUBA" in kinds), kinds
        for i in plain:
            assert torch.equal(got[i].to(torch.int64), plain[i]), (scale, steps, i)


@pytest.mark.lava
def test_lava_dl_cuba_conv_on_the_float32_loop_equals_stock_netx(tmp_path, monkeypatch):
    """lava-dl's own CUBA blocks (conv, conv, flatten, dense, dense: the stock benchmark
    net's shape, smaller), exported by lava-dl: the emulator's layer-major run, every
    layer on the float32 CUBA loop, against stock netx in Lava, every block at every
    step."""
    import lava.lib.dl.slayer as slayer
    from stock_netx import aligned, export_stock, run_stock_netx

    c = slayer.block.cuba
    cfg = {"threshold": 1.0, "current_decay": 0.25, "voltage_decay": 0.03,
           "requires_grad": False}
    torch.manual_seed(0)
    blocks = [c.Conv(cfg, 2, 8, 3, stride=2, padding=1, weight_scale=3),
              c.Conv(cfg, 8, 8, 3, stride=2, padding=1, weight_scale=3), c.Flatten(),
              c.Dense(cfg, 8 * 4 * 4, 16, weight_scale=4), c.Dense(cfg, 16, 5, weight_scale=4)]
    path = str(tmp_path / "cuba.h5")
    export_stock(path, blocks, (2, 16, 16))
    from lava_mlsnn.netx import read_network
    spec = read_network(path)
    kinds = []
    real = kernels.run_layer
    monkeypatch.setattr(kernels, "run_layer",
                        lambda kind, *a, **k: kinds.append(kind) or real(kind, *a, **k))
    steps = 12
    x = (np.random.default_rng(3).random((2, steps, 2, 16, 16)) < 0.2).astype(np.uint8)
    got = emulator.emulate(spec, x, narrow=True)
    assert kinds and set(kinds) == {kernels.CUBA32}
    per_block, _, _ = run_stock_netx(path, x[0].astype(np.int64).transpose(3, 2, 1, 0),
                                     steps, input_shape=(16, 16, 2))
    depths = spec.depths()
    blocks = [i for i, la in enumerate(spec.layers) if la.type != "flatten"]
    assert len(per_block) == len(blocks)
    for i, g in zip(blocks, per_block):
        want = aligned(g, depths[i], steps)
        assert want.any(), f"layer {i} silent"
        assert np.array_equal(got[i][0].numpy(), want), f"layer {i}"


@pytest.mark.parametrize("sign", [1, -1])
def test_float32_cuba_loop_saturates_v_both_ways(sign):
    """v pushed past its saturation ``±(2**23 - 1)`` (symmetric, as LIF's) by the largest
    current and a bias near 2**23, with and without a leak; no spike on the negative
    side, a spike every step on the positive one (the threshold below 2**23)."""
    n, steps = 4, 6
    for v_decay in (0, 4096, 7):
        p = P("CUBA", v_th_mant=(1 << 17) - 1, i_decay=4096, v_decay=v_decay,
              bias=np.full(n, sign * 2047), bias_exp=12)
        syn = fixed.SynapseSpec("dense", np.ones((n, 1), dtype=np.int64), 0)
        bound = _largest_bound(p, 0)
        assert bound > 100000 and cuba32_ok(p, syn, float(bound))
        s = np.full((1, steps, n), sign * bound, dtype=np.float32)
        pay, rec = np.empty(s.shape, np.float32), np.empty(s.shape, np.int8)
        _kernel_loops32.run32_serial(s, kernels.constants32(p, 0),
                                     kernels.bias_term(p, (n,)).astype(np.float32), pay, rec,
                                     True, True)
        want = _fixed_steps(s, p, 0)
        assert np.array_equal(rec.astype(np.int64), want), v_decay
        # the state the int64 step reaches: v at the saturation (or reset by a spike)
        state = fixed.initial_state(p, (1, n), torch.zeros(1, dtype=torch.int64), torch.int64)
        a = fixed.current_of_sum(torch.as_tensor(s[:, 0].astype(np.float64)), 0, False,
                                 torch.int64)
        (_, v), _ = fixed.neuron_step(state, a, p)[0], None
        assert int(v.min() if sign < 0 else v.max()) in (-fixed.SAT_MAX, 0), (sign, v)
        assert want.all() if sign > 0 else not want.any()


def test_float32_cuba_loop_keeps_the_negative_saturation_exact():
    """v saturated at -(2**23 - 1), not -2**23: one unit that a later step reads back
    (a spike at v = th + 1 that -2**23 would miss by one)."""
    p = P("CUBA", v_th_mant=10, i_decay=4096, v_decay=0, bias=-np.ones(1, np.int64),
          bias_exp=6)  # bias -64: -131071 * 64 - 64 = -2**23, saturated
    syn = fixed.SynapseSpec("dense", np.ones((1, 1), dtype=np.int64), 0)
    assert cuba32_ok(p, syn, 131071.0) and not cuba32_ok(p, syn, 131072.0)
    th = 10 << fixed.STATE_SHIFT
    s = np.array([[[-131071.0], [131071.0], [(th + 192) / 64]]], dtype=np.float32)
    pay, rec = np.empty(s.shape, np.float32), np.empty(s.shape, np.int8)
    _kernel_loops32.run32_serial(s, kernels.constants32(p, 0),
                                 kernels.bias_term(p, (1,)).astype(np.float32), pay, rec,
                                 True, True)
    want = _fixed_steps(s, p, 0)
    assert want[0, :, 0].tolist() == [0, 0, 1]
    assert np.array_equal(rec.astype(np.int64), want)


def test_pipelined_cuba_timeline_in_float32_equals_the_int64_one(monkeypatch):
    """The pipelined run's CUBA timeline (stock netx's timing) on the float32 loop where
    cuba32_ok holds: lava-dl's PilotNet LIF file (its input layer, whose current is the
    data, and its later layers) and a random CUBA chain give the int64 timeline's and the
    step-major loop's integers."""
    import os

    from lava_mlsnn.backends import pipelined, pipelined_loops
    from lava_mlsnn.backends.pipelined import emulate_pipelined
    from lava_mlsnn.format import read_network
    from test_lava_dl_nets import NETS, _sample
    from test_pipelined_layer_major import _chain

    flags = []
    real = pipelined_loops.run_compiled
    monkeypatch.setattr(pipelined, "run_compiled",
                        lambda p, cur, mode, rec, exact32=False:
                        flags.append((p.type, exact32)) or real(p, cur, mode, rec, exact32))
    specs = [_chain(9, ("CUBA", "CUBA", "CUBA"), "CUBA", big=False)]
    path = os.path.join(NETS, "test_netx_gts_pilotnet_lif_network.net")
    if os.path.exists(path):
        spec = read_network(path)
        specs.append(dataclasses.replace(spec, layers=spec.layers[:4]))
    for spec in specs:
        x = _sample(spec, 2) if spec.input_shape == (3, 66, 200) else \
            np.random.default_rng(9).integers(0, 256, size=(2, 3, 2, 6, 6))
        flags.clear()
        got = emulate_pipelined(spec, x, narrow=True)
        assert ("CUBA", True) in flags, flags
        want = emulate_pipelined(spec, x, layer_major=False)
        monkeypatch.setattr(pipelined, "cuba32_ok", lambda *a: False)
        flags.clear()
        wide = emulate_pipelined(spec, x)
        assert ("CUBA", True) not in flags
        monkeypatch.setattr(pipelined, "cuba32_ok", cuba32_ok)
        for i in want:
            assert torch.equal(got[i].to(torch.int64), want[i]), i
            assert torch.equal(wide[i], want[i]), i
        assert_layers_active({i: want[i] for i in want if spec.layers[i].neuron is not None})
