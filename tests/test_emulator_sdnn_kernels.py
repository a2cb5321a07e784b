"""Sigma-delta layers in the layer-major run (kernels' ``_sigma_delta``) against the plain
step-major path: random stock-style SDNN networks (a delta input layer, convs with
24-bit wrapped currents, unbounded dense currents, a sigma output), T = 1, 3 and 16,
int64 and narrow records; the steps whose payloads need float64 sums beside float32
ones; payloads past 2**24 (the int64 record read by the next synapse); the kernels
alone against fixed.sigma_delta_step from a carried state at the edges."""
import dataclasses

import numpy as np
import pytest
import torch

import lava_mlsnn.backends.emulator as emulator
from layercheck import assert_layers_active
from lava_mlsnn import fixed
from lava_mlsnn.backends import kernels, layer_major
from lava_mlsnn.format.spec import Branch, LayerSpec, NetworkSpec

P = fixed.NeuronParams


def _sdnn(rng, shape_bias, kind="SDNN"):
    return P(kind, v_th_mant=int(rng.integers(1, 40)), spike_exp=int(rng.integers(0, 7)),
             state_exp=int(rng.integers(0, 7)),
             bias=None if rng.random() < 0.4 else rng.integers(-30, 30, size=shape_bias),
             bias_exp=int(rng.integers(0, 13)))


def _net(rng, dense_w=40, sigma_w=30, dense_e=0) -> NetworkSpec:
    """delta input -> conv (SDNN, wrap24) -> conv (SDNN, wrap24) -> flatten -> dense
    (SDNN, unbounded) -> dense (SDNN_SIGMA, unbounded) -> dense (SDNN, unbounded)."""
    def syn(kind, w, **kw):
        return fixed.SynapseSpec(kind, w, int(kw.pop("e", 0)), **kw)
    layers = [
        LayerSpec("input", (2, 8, 8), -1, neuron=_sdnn(rng, None, "SDNN_DELTA")),
        LayerSpec("conv", (4, 8, 8), 0, [Branch(0, syn(
            "conv", rng.integers(-60, 90, size=(4, 2, 3, 3)), padding=(1, 1),
            overflow="wrap24"))], _sdnn(rng, (4, 1, 1))),
        LayerSpec("conv", (6, 4, 4), 1, [Branch(1, syn(
            "conv", rng.integers(-60, 90, size=(6, 4, 3, 3)), padding=(1, 1), stride=(2, 2),
            overflow="wrap24"))], _sdnn(rng, (6, 1, 1))),
        LayerSpec("flatten", (96,), 2),
        LayerSpec("dense", (20,), 3, [Branch(3, syn(
            "dense", rng.integers(-dense_w, dense_w + 1, size=(20, 96)), overflow="none",
            e=dense_e))],
            _sdnn(rng, 20)),
        LayerSpec("dense", (12,), 4, [Branch(4, syn(
            "dense", rng.integers(-sigma_w, sigma_w + 1, size=(12, 20)), overflow="none"))],
            P("SDNN_SIGMA")),
        LayerSpec("dense", (5,), 5, [Branch(5, syn(
            "dense", rng.integers(-3, 4, size=(5, 12)), overflow="none"))], _sdnn(rng, 5)),
    ]
    return NetworkSpec(layers, input_shape=(2, 8, 8), timesteps=4)


def _plain(monkeypatch, spec, x, narrow=False):
    monkeypatch.setattr(emulator, "KERNEL_STEP", False)
    out = emulator.emulate(spec, x, narrow=narrow)
    monkeypatch.setattr(emulator, "KERNEL_STEP", True)
    return out


def _spy(monkeypatch):
    calls = []
    real = kernels.run_layer
    monkeypatch.setattr(kernels, "run_layer",
                        lambda *a, **k: calls.append((a[0], k.get("hi_steps", ()),
                                                      a[1].dtype, a[1].shape[2]))
                        or real(*a, **k))
    return calls


def _check(monkeypatch, spec, x, what):
    steps = x.shape[1]
    kern = layer_major.kernel_layers(spec, emulator.sum_bounds(spec, int(np.abs(x).max())))
    delta_input = int(np.abs(x).max()) < 1 << 24  # the input layer's float32 current
    assert kern == {i for i, la in enumerate(spec.layers) if la.branches} | \
        ({0} if delta_input else set()), what
    plain = _plain(monkeypatch, spec, x)
    assert_layers_active(plain, what=what)
    calls = _spy(monkeypatch)
    got = emulator.emulate(spec, x)
    got_narrow = emulator.emulate(spec, x, narrow=True)
    assert {c[0] for c in calls} >= {"SDNN", "SDNN_SIGMA"}, what  # the kernels ran
    assert ("SDNN_DELTA" in {c[0] for c in calls}) == delta_input, what
    for i in plain:
        assert torch.equal(got[i], plain[i]), f"{what}, layer {i}"
        want = emulator.record_dtype(spec, i, int(np.abs(x).max()), steps)
        assert got_narrow[i].dtype == want, f"{what}, layer {i}"
        assert torch.equal(got_narrow[i].to(torch.int64), plain[i]), f"{what}, layer {i}"
    return calls


@pytest.mark.parametrize("steps", [1, 3, 16])
def test_sdnn_networks_equal_the_plain_step(monkeypatch, steps):
    monkeypatch.setattr(emulator, "KERNEL_MIN_STEPS", 1)
    for seed in range(3):
        rng = np.random.default_rng(10 * steps + seed)
        spec = _net(rng)
        base = rng.integers(0, 200, size=(3, 1, 2, 8, 8))
        x = np.clip(base + np.cumsum(rng.integers(-6, 7, size=(3, steps, 2, 8, 8)), 1), 0, 255)
        _check(monkeypatch, spec, x, f"seed {seed}, T {steps}")


def test_first_step_in_float64_the_others_in_float32(monkeypatch):
    """A large first frame, small changes after: the first step's sums need float64, the
    others fit float32 (as the step-major loop picks per step); both kinds of sums ran."""
    rng = np.random.default_rng(3)
    spec = _net(rng, dense_w=120)
    x = np.full((2, 8, 2, 8, 8), 4000)
    x[:, 1:] += rng.integers(0, 3, size=(2, 7, 2, 8, 8))
    calls = _check(monkeypatch, spec, x, "float64 first step")
    assert any(hi == (0,) for _, hi, dt, _n in calls if dt == np.float32)


def test_payloads_past_float32(monkeypatch):
    """Dense payloads beyond 2**24: the next synapse reads the int64 record, not the
    float32 payload (which cannot hold them)."""
    rng = np.random.default_rng(4)
    spec = _net(rng, dense_w=120, sigma_w=1)
    x = np.full((2, 6, 2, 8, 8), 500)
    x[:, ::2] = 0
    plain = _plain(monkeypatch, spec, x)
    assert int(plain[4].abs().max()) >= 1 << 24  # the case under test
    _check(monkeypatch, spec, x, "past float32")


def test_payloads_past_float32_from_float32_sums(monkeypatch):
    """Exact float32 sums shifted by a large weightExp: the currents, and so the dense
    layer's payloads, pass 2**24 while its sums fit float32. Its float32 payloads take the
    sums' place in memory; the layer is not recorded, so the int64 payloads the next
    synapse reads are run again, from sums computed again."""
    rng = np.random.default_rng(1)
    spec = _net(rng, dense_w=3, sigma_w=1, dense_e=2)
    x = np.full((2, 6, 2, 8, 8), 20)
    x[:, ::2] = 0
    plain = _plain(monkeypatch, spec, x)
    assert int(plain[4].abs().max()) >= 1 << 24  # the case under test
    assert_layers_active(plain, what="past float32, float32 sums")
    calls = _spy(monkeypatch)
    got = emulator.emulate(spec, x, record=[5, 6])
    for i in (5, 6):
        assert torch.equal(got[i], plain[i]), f"layer {i}"
    # the dense layer (20 neurons) ran twice on float32 sums: payloads, then int64 ones
    dense = [c for c in calls if c[0] == "SDNN" and c[3] == 20]
    assert len(dense) == 2 and all(c[2] == np.float32 for c in dense)


def test_input_layer_payloads_past_float32(monkeypatch):
    """A stock sigma-delta input layer whose payloads (``x << spikeExp``) pass 2**24
    while ``|x|`` does not: its float32 payloads took the data's place in memory, so the
    int64 payloads the next synapse reads are run again from the data converted again."""
    def syn(w):
        return fixed.SynapseSpec("dense", w, 0, overflow="none")
    rng = np.random.default_rng(2)
    layers = [LayerSpec("input", (2, 4, 4), -1, neuron=P("SDNN_DELTA", v_th_mant=1,
                                                          spike_exp=6, state_exp=0)),
              LayerSpec("flatten", (32,), 0),
              LayerSpec("dense", (6,), 1, [Branch(1, syn(rng.integers(-2, 3, size=(6, 32))))],
                        P("SDNN", v_th_mant=3, spike_exp=0, state_exp=0))]
    spec = NetworkSpec(layers, input_shape=(2, 4, 4), timesteps=5)
    x = rng.integers(0, 1 << 20, size=(3, 5, 2, 4, 4))
    plain = _plain(monkeypatch, spec, x)
    assert int(plain[0].abs().max()) >= 1 << 24  # the case under test
    assert_layers_active(plain, what="input past float32")
    calls = _spy(monkeypatch)
    got = emulator.emulate(spec, x, record=[2])
    assert torch.equal(got[2], plain[2])
    assert [c[0] for c in calls].count("SDNN_DELTA") == 2  # float32, then int64 payloads


@pytest.mark.parametrize("kind", ["SDNN", "SDNN_DELTA", "SDNN_SIGMA"])
def test_kernel_equals_sigma_delta_step(kind):
    """Four steps of one layer from a carried (sigma, ref) at +-2**40 and at the
    threshold's edges against fixed.neuron_step; the returned max |payload| per step
    is that of the payloads."""
    rng = np.random.default_rng(3)
    n = 40
    for trial in range(20):
        scale_exp = (int(rng.integers(0, 9)), int(rng.integers(0, 9)))
        th = int(rng.integers(1, 1 << 10))
        p = P(kind, v_th_mant=th, spike_exp=scale_exp[0], state_exp=scale_exp[1],
              bias=None if trial % 3 == 0 else rng.integers(-5000, 5000, size=n),
              bias_exp=int(rng.integers(0, 9)))
        th_state = th << sum(scale_exp)
        edges = np.array([0, 1, -1, th_state, th_state - 1, -th_state, 1 << 40, -(1 << 40)])
        s = rng.integers(-(1 << 20), 1 << 20, size=(1, 4, n)).astype(np.float64)
        s[0, :, :len(edges) // 2] = rng.integers(-3, 4, size=(4, len(edges) // 2))
        sigma0 = rng.choice(edges, size=(1, n)).astype(np.int64)
        ref0 = (sigma0 + rng.choice(edges, size=(1, n))).astype(np.int64)
        state = (sigma0.copy(), ref0.copy())
        pay = np.empty(s.shape, dtype=np.float32)
        rec = np.empty(s.shape, dtype=np.int64)
        top = kernels.run_layer(kind, s, kernels.constants(p, 0, "none"),
                                kernels.bias_term(p, (n,)), pay, rec, state)
        su, sv = torch.as_tensor(sigma0[0]), torch.as_tensor(ref0[0])
        for t in range(4):
            a = fixed.current_of_sum(torch.as_tensor(s[0, t]), 0, False, torch.int64, "none")
            (su, sv), z = fixed.neuron_step((su, sv), a, p)
            assert np.array_equal(rec[0, t], z.numpy()), (trial, t)
            assert np.array_equal(pay[0, t], z.numpy().astype(np.float32)), (trial, t)
            assert top[t] == int(z.abs().max()), (trial, t)
        assert np.array_equal(state[0][0], su.numpy()) and np.array_equal(state[1][0], sv.numpy())



def test_narrow_input_reaches_the_kernels_as_it_is(monkeypatch):
    """uint8 / int16 / int32 frames into a stock sigma-delta input layer (its loop reads
    them as float32 currents) and into a conv without an input layer (its float sums):
    the int64 input's integers, in the layer-major run that kept the narrow type, and in
    plain layers (layer_major.run_chunk with kernels only for some layers), which read
    the input as int64."""
    monkeypatch.setattr(emulator, "KERNEL_MIN_STEPS", 1)
    seen = []
    real_input, real_kernel = layer_major._input_kernel_layer, layer_major._kernel_layer
    monkeypatch.setattr(layer_major, "_input_kernel_layer",
                        lambda layer, x, *a: seen.append(x.dtype) or real_input(layer, x, *a))
    monkeypatch.setattr(layer_major, "_kernel_layer",
                        lambda layer, src, *a: seen.append(src.dtype)
                        or real_kernel(layer, src, *a))
    rng = np.random.default_rng(40)
    spec = _net(rng)
    direct = NetworkSpec([dataclasses.replace(
        la, source=la.source - 1 if la.source >= 0 else -1,
        branches=[Branch(b.source - 1 if b.source > 0 else -1, b.synapse) for b in la.branches])
        for la in spec.layers[1:]], input_shape=(2, 8, 8), timesteps=4)
    assert emulator._feeds_synapse(direct)
    for net in (spec, direct):
        x = np.clip(rng.integers(0, 200, size=(3, 1, 2, 8, 8))
                    + np.cumsum(rng.integers(-6, 7, size=(3, 4, 2, 8, 8)), 1), 0, 255)
        want = _plain(monkeypatch, net, x)
        assert_layers_active(want)
        for dtype in (np.uint8, np.int16, np.int32):
            seen.clear()
            got = emulator.emulate(net, x.astype(dtype), narrow=True)
            assert torch.from_numpy(np.zeros(1, dtype)).dtype in seen, dtype  # as it is
            for i in want:
                assert torch.equal(got[i].to(torch.int64), want[i]), (dtype, i)
            bounds = emulator.sum_bounds(net, int(x.max()))
            dtypes = {i: torch.int64 for i, la in enumerate(net.layers) if la.neuron is not None}
            for kern in ({2, 4}, set()):  # the input's readers plain
                rec = {i: torch.empty(want[i].shape, dtype=torch.int64) for i in want}
                layer_major.run_chunk(net, torch.from_numpy(x.astype(dtype)), rec, bounds,
                                      kern, dtypes)
                for i in want:
                    assert torch.equal(rec[i], want[i]), (dtype, kern, i)
