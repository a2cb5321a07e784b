"""The float32 MLSN loop (kernels.MLSN32, _kernel_loops32.run32 and its serial twin:
lean.lean_step's arithmetic compiled) against fixed.current_of_sum + fixed.mlsn_step from
the reset state, at the float32 edges: sums at +-2**24, weight exponents both ways,
decays 0/1/4095/4096, thresholds near 2**24, biases near the int32 bound, membrane
quantization, T = 1 (no state) and T > 1; every case where lean.lean_ok holds."""
import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from lava_mlsnn import fixed
from lava_mlsnn.backends import _kernel_loops32, kernels
from lava_mlsnn.backends.lean import lean_ok

P = fixed.NeuronParams


@pytest.fixture(autouse=True)
def _start_method_unset():
    """A direct parallel launch fixes multiprocessing's start method (numba's lock asks for
    it), and a later Lava run fails on one already chosen: unset it again, as
    kernels.run_layer does."""
    import multiprocessing
    unset = multiprocessing.get_start_method(allow_none=True) is None
    yield
    if unset:
        multiprocessing.set_start_method(None, force=True)
_sums = st.one_of(st.sampled_from([0, 1, -1, 2 ** 24 - 1, -(2 ** 24) + 1, 2 ** 17, -(2 ** 17)]),
                  st.integers(-(2 ** 24) + 1, 2 ** 24 - 1))
_decays = st.sampled_from([0, 1, 7, 2048, 4095, 4096])


def _fixed_steps(s, p, weight_exp):
    """Payloads [B, T, N] of fixed.current_of_sum + fixed.neuron_step from reset."""
    import torch
    b, steps, n = s.shape
    state = fixed.initial_state(p, (b, n), torch.zeros(1, dtype=torch.int64), torch.int64)
    out = np.empty(s.shape, dtype=np.int64)
    for t in range(steps):
        a = fixed.current_of_sum(torch.as_tensor(s[:, t].astype(np.float64)), weight_exp,
                                 False, torch.int64)
        state, z = fixed.neuron_step(state, a, p)
        out[:, t] = z.numpy()
    return out


@settings(max_examples=200, deadline=None)
@given(sums=st.lists(_sums, min_size=12, max_size=12), steps=st.sampled_from([1, 2, 3]),
       weight_exp=st.integers(-8, 8), i_decay=_decays, v_decay=_decays,
       th=st.one_of(st.integers(1, 400), st.integers(1, (1 << 18) - 1)),
       levels=st.integers(1, 127), v_init=st.integers(-fixed.SAT_MAX, fixed.SAT_MAX),
       bias=st.one_of(st.none(), st.integers(-4096, 4095)), bias_exp=st.integers(0, 16),
       v_bits=st.sampled_from([0, 3, 8]), v_exp=st.integers(0, 6),
       serial=st.booleans())
def test_float32_loop_equals_the_integer_step(sums, steps, weight_exp, i_decay, v_decay, th,
                                              levels, v_init, bias, bias_exp, v_bits, v_exp,
                                              serial):
    n = 12 // steps
    p = P("MLSN", v_th_mant=th, levels=levels, i_decay=i_decay, v_decay=v_decay,
          v_init=v_init, bias=None if bias is None else np.full(n, bias), bias_exp=bias_exp,
          v_bits=v_bits, v_exp=v_exp)
    syn = fixed.SynapseSpec("dense", np.ones((n, 1), dtype=np.int64), weight_exp)
    if not lean_ok(p, syn, 1.0):  # the int64 loop's case
        assert (bias is not None and abs(bias) << bias_exp > (1 << 29)) \
            or (th << fixed.STATE_SHIFT) >= (1 << 24)
        return
    s = np.array(sums[:n * steps], dtype=np.float32).reshape(1, steps, n)
    s = np.concatenate([s, -s])  # two samples: each sign at each edge
    pay = np.empty(s.shape, dtype=np.float32)
    rec = np.empty(s.shape, dtype=np.int8)
    consts = kernels.constants32(p, weight_exp)
    bias32 = kernels.bias_term(p, (n,)).astype(np.float32)
    run = _kernel_loops32.run32_serial if serial else _kernel_loops32.run32
    run(s, consts, bias32, pay, rec, True, False)
    want = _fixed_steps(s, p, weight_exp)
    assert np.array_equal(rec.astype(np.int64), want)
    assert np.array_equal(pay, want.astype(np.float32))
    if steps == 1:  # the in-place loop of T = 1: the sums overwritten with the payloads
        once = _kernel_loops32.run_mlsn32_once_serial if serial \
            else _kernel_loops32.run_mlsn32_once
        s1, rec1 = s[:, 0].copy(), np.zeros((2, n), dtype=np.int16)
        once(s1, consts, bias32, rec1, True)
        assert np.array_equal(rec1, want[:, 0]) and np.array_equal(s1, pay[:, 0])


def test_run_layer_takes_the_float32_loop_and_refuses_what_it_lacks(monkeypatch):
    """kernels.run_layer(MLSN32) runs run32 (serial on one thread or little work);
    a carried state or float64 sums are refused."""
    p = P("MLSN", v_th_mant=50, levels=7, i_decay=4096, v_decay=0, bias=np.full(4, 3))
    s = np.array([[[3200.0, 6400.0, -100.0, 1e6]]], dtype=np.float32)
    calls = []
    for name in ("run32", "run32_serial"):
        real = getattr(_kernel_loops32, name)
        monkeypatch.setattr(_kernel_loops32, name,
                            lambda *a, _r=real, _n=name: calls.append(_n) or _r(*a))
    pay, rec = np.empty(s.shape, np.float32), np.empty(s.shape, np.int64)
    kernels.run_layer(kernels.MLSN32, s, kernels.constants32(p, 0),
                      kernels.bias_term(p, (4,)).astype(np.float32), pay, rec)
    assert calls == ["run32_serial"]  # 4 neuron-steps: below PARALLEL_MIN
    assert np.array_equal(rec, _fixed_steps(s, p, 0)) and rec.any()
    with pytest.raises(ValueError, match="float32 sums from the reset state"):
        kernels.run_layer(kernels.MLSN32, s.astype(np.float64), kernels.constants32(p, 0),
                          kernels.bias_term(p, (4,)).astype(np.float32), pay, rec)
    # the payload in place of the sums: T = 1 takes the loop of its own, T > 1 is refused
    for name in ("run_mlsn32_once", "run_mlsn32_once_serial"):
        real = getattr(_kernel_loops32, name)
        monkeypatch.setattr(_kernel_loops32, name,
                            lambda *a, _r=real, _n=name: calls.append(_n) or _r(*a))
    calls.clear()
    inplace, rec1 = s.copy(), np.empty(s.shape, np.int8)
    kernels.run_layer(kernels.MLSN32, inplace, kernels.constants32(p, 0),
                      kernels.bias_term(p, (4,)).astype(np.float32), inplace, rec1)
    assert calls == ["run_mlsn32_once_serial"]
    assert np.array_equal(rec1, rec) and np.array_equal(inplace, rec.astype(np.float32))
    two = np.concatenate([s, s], axis=1)
    with pytest.raises(ValueError, match="in place only for MLSN at T = 1"):
        kernels.run_layer(kernels.MLSN32, two, kernels.constants32(p, 0),
                          kernels.bias_term(p, (4,)).astype(np.float32), two)


def test_float32_input_clip_equals_the_plain_step(monkeypatch):
    """layer_major's float32 input clip (converted, then clipped) against the plain path's
    int64 clip, inputs below 0, above inputLevels and far past 2**24 included."""
    import torch

    import lava_mlsnn.backends.emulator as emulator
    from lava_mlsnn.backends import layer_major
    from test_emulator_kernels import _plain, _random_net
    spec = _random_net(np.random.default_rng(3))
    rng = np.random.default_rng(3)
    x = rng.integers(-40, 40, size=(3, 2, 2, 8, 8))
    x[1, 0, 0, :2] = (1 << 40) + 1  # rounds in float32: still above inputLevels
    x[2, 1, 1, 3] = -(1 << 35) - 3
    calls = []
    real = layer_major._input_layer32
    monkeypatch.setattr(layer_major, "_input_layer32",
                        lambda *a: calls.append(real(*a)[1]) or real(*a))
    got = emulator.emulate(spec, x)
    narrow = emulator.emulate(spec, x, narrow=True)
    assert calls == [True, True]  # the float32 clip, the record written with it
    assert narrow[0].dtype == torch.int8
    plain = _plain(monkeypatch, spec, x)
    assert 0 < int(plain[0].max()) == spec.layers[0].neuron.input_levels
    for i in plain:
        assert torch.equal(got[i], plain[i]), i
        assert torch.equal(narrow[i].to(torch.int64), plain[i]), i
    # a record the kernel cannot write in its layout (a slice of a larger buffer) is
    # copied from the payload; a dense input keeps the torch order
    layer = spec.layers[0]
    xt = torch.as_tensor(x)
    buf = torch.empty((3, 2, 2, 8, 9), dtype=torch.int32)[..., :8]
    out, direct = layer_major._input_layer32(xt, int(layer.neuron.input_levels), buf)
    assert not direct and torch.equal(out.to(torch.int64), plain[0])
    flat = xt.reshape(3, 2, -1)
    rec = torch.empty(flat.shape, dtype=torch.int16)
    out, direct = layer_major._input_layer32(flat, int(layer.neuron.input_levels), rec)
    assert direct and torch.equal(rec.to(torch.int64), plain[0].reshape(3, 2, -1))
    assert torch.equal(out.to(torch.int64), rec.to(torch.int64))


def test_input_scan_skipped_only_where_no_raw_bound_is_read():
    """checked_input returns inputLevels without a pass where only clipping input layers
    read the data, and max |x| where a synapse or a flatten reads it raw."""
    import torch

    from lava_mlsnn.backends import emulator
    from test_emulator_kernels import _random_net
    spec = _random_net(np.random.default_rng(3))
    assert spec.layers[0].type == "input" and spec.layers[0].neuron.type == "INPUT"
    x = np.full((2, 1) + tuple(spec.input_shape), 90, dtype=np.int64)
    seen = []
    real = torch.aminmax
    try:
        torch.aminmax = lambda t: seen.append(1) or real(t)
        _, bound = emulator.checked_input(spec, x)
        assert bound == int(spec.layers[0].neuron.input_levels) and not seen
        direct = dataclasses.replace(spec, layers=spec.layers[1:])  # a synapse reads it
        direct.layers[0] = dataclasses.replace(direct.layers[0], branches=[
            dataclasses.replace(direct.layers[0].branches[0], source=-1)])
        _, bound = emulator.checked_input(direct, x)
        assert bound == 90 and seen
    finally:
        torch.aminmax = real
