"""The torch fast paths of :mod:`lava_mlsnn.fixed` (CUBA in place with the wrap skipped
when nothing leaves 24 bits, sigma-delta with a clamp and a masked fill, the 24-bit wrap
as a bit mask, the one-pass payload scan) against the numpy paths of the same functions
(the form Lava's ``fixed_pt`` models run) and, for CUBA, the scalar reference: the same
integers at the 24-bit edges, states never written (broadcast views), dtypes kept."""
import numpy as np
import torch
from hypothesis import given, settings, strategies as st

import reference as R
from lava_mlsnn import fixed

P = fixed.NeuronParams
H = 1 << 23
_edges = st.sampled_from([0, 1, -1, H, H - 1, -H, -H + 1, H + 1, -H - 1, 4095, -4096])
_states = st.one_of(_edges, st.integers(-H, H - 1))
_currents = st.one_of(_edges, st.sampled_from([2 ** 17, -(2 ** 17), 2 ** 17 + 1]),
                      st.integers(-H, H - 1))
_decays = st.sampled_from([0, 1, 7, 2048, 4095, 4096])
N = 6


def _t(values, dtype=torch.int64):
    return torch.tensor(values, dtype=dtype)


@settings(max_examples=200, deadline=None)
@given(us=st.lists(_states, min_size=N, max_size=N), vs=st.lists(_states, min_size=N, max_size=N),
       a=st.lists(_currents, min_size=N, max_size=N), i_decay=_decays, v_decay=_decays,
       th=st.integers(0, (1 << 17) - 1), bias=st.one_of(st.none(), st.integers(-4096, 4095)),
       narrow=st.booleans())
def test_cuba_torch_equals_numpy_and_reference(us, vs, a, i_decay, v_decay, th, bias, narrow):
    p = P("CUBA", v_th_mant=th, i_decay=i_decay, v_decay=v_decay,
          bias=None if bias is None else np.full(N, bias))
    vs = [max(-H + 1, min(H - 1, v)) for v in vs]  # LIF's v is within +-(2**23 - 1)
    want = fixed.cuba_step(np.array(us), np.array(vs), np.array(a), p)
    dtype = torch.int32 if narrow else torch.int64
    u_t, v_t, a_t = _t(us, dtype), _t(vs, dtype), _t(a, dtype)
    before = (u_t.clone(), v_t.clone())
    got = fixed.cuba_step(u_t, v_t, a_t, p)
    assert torch.equal(u_t, before[0]) and torch.equal(v_t, before[1])  # inputs untouched
    for g, w in zip(got, want):
        assert g.dtype == dtype
        assert np.array_equal(g.numpy(), w)
    n = {"type": "CUBA", "vThMant": th, "iDecay": i_decay, "vDecay": v_decay,
         "bias": None if bias is None else [bias] * N}
    for k in range(N):
        ru, rv, rz = R.cuba(us[k], vs[k], a[k], n, k)
        if abs(ru) < H:  # the reference's second wrap test reads the first's result
            assert (int(got[0][k]), int(got[1][k]), int(got[2][k])) == (ru, rv, rz)


def test_cuba_torch_from_broadcast_reset_states_and_mixed_dtypes():
    p = P("CUBA", v_th_mant=3, i_decay=1, v_decay=4095, bias=np.arange(4) - 2)
    u0, v0 = fixed.initial_state(p, (2, 4), torch.zeros(1), torch.int64)
    a = torch.tensor([[2 ** 17 + 5, -(2 ** 17) - 3, 4, 0], [1, 2, 3, 2 ** 20]], dtype=torch.int32)
    got = fixed.cuba_step(u0, v0, a, p)
    want = fixed.cuba_step(np.zeros((2, 4), np.int64), np.zeros((2, 4), np.int64), a.numpy(), p)
    assert got[0].dtype == torch.int64  # the wider of the state and the current, as before
    for g, w in zip(got, want):
        assert np.array_equal(g.numpy(), w)
    assert int(got[0][0, 0]) == ((2 ** 17 + 5) << 6) - 2 ** 24 and got[2].sum() > 0  # wrapped


_sd_values = st.one_of(st.sampled_from([0, 1, -1, 2 ** 30, -(2 ** 30), 2 ** 40]),
                       st.integers(-(2 ** 32), 2 ** 32))


@settings(max_examples=200, deadline=None)
@given(sigma=st.lists(_sd_values, min_size=N, max_size=N),
       ref=st.lists(_sd_values, min_size=N, max_size=N),
       a=st.lists(_sd_values, min_size=N, max_size=N),
       kind=st.sampled_from(["SDNN", "SDNN_DELTA", "SDNN_SIGMA"]),
       th=st.sampled_from([0, 1, 3, 255, 4096]), spike_exp=st.integers(0, 6),
       state_exp=st.integers(0, 6), bias=st.one_of(st.none(), st.integers(-5000, 5000)))
def test_sigma_delta_torch_equals_numpy(sigma, ref, a, kind, th, spike_exp, state_exp, bias):
    p = P(kind, v_th_mant=th, spike_exp=spike_exp, state_exp=state_exp,
          bias=None if bias is None or kind != "SDNN" else np.full(N, bias),
          bias_exp=fixed.SDNN_BIAS_EXP)
    want = fixed.sigma_delta_step(np.array(sigma), np.array(ref), np.array(a), p)
    st_t, ref_t = _t(sigma), _t(ref)
    got = fixed.sigma_delta_step(st_t, ref_t, _t(a), p)
    assert torch.equal(st_t, _t(sigma)) and torch.equal(ref_t, _t(ref))
    for g, w in zip(got, want):
        assert g.dtype == torch.int64 and np.array_equal(g.numpy(), w)


def test_sigma_delta_torch_from_broadcast_reset_states():
    p = P("SDNN", v_th_mant=2, spike_exp=1, state_exp=2, bias=np.array([-40, 0, 40]),
          bias_exp=fixed.SDNN_BIAS_EXP)
    s0, r0 = fixed.initial_state(p, (2, 3), torch.zeros(1))
    a = torch.tensor([[100, -7, 3], [0, 50, -60]])
    got = fixed.sigma_delta_step(s0, r0, a, p)
    want = fixed.sigma_delta_step(np.zeros((2, 3), np.int64), np.zeros((2, 3), np.int64),
                                  a.numpy(), p)
    for g, w in zip(got, want):
        assert np.array_equal(g.numpy(), w)
    assert got[2].abs().sum() > 0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.sampled_from([H, H - 1, -H, -H - 1, 2 ** 24, -(2 ** 24), 0]),
                          st.integers(-(2 ** 40), 2 ** 40)), min_size=1, max_size=8))
def test_wrap24_mask_equals_floor_modulo(values):
    want = fixed.bounded(np.array(values), "wrap24")
    got = fixed.bounded(_t(values), "wrap24")
    assert np.array_equal(got.numpy(), want)
    assert int(got.max()) < H and int(got.min()) >= -H


def test_payload_max_is_the_largest_magnitude():
    assert fixed.payload_max(torch.tensor([3, -7, 5])) == 7.0
    assert fixed.payload_max(torch.tensor([3.0, 9.0])) == 9.0
    assert fixed.payload_max(torch.zeros(0, dtype=torch.int64)) == 0.0
    assert fixed.payload_max(torch.tensor([True, False])) == 1.0
    assert fixed.payload_max(torch.tensor([-(2 ** 40)])) == float(2 ** 40)


@settings(max_examples=150, deadline=None)
@given(xs=st.lists(st.one_of(_edges, st.integers(-(2 ** 30), 2 ** 30)), min_size=N, max_size=N),
       d=_decays, narrow=st.booleans(), per_neuron=st.booleans())
def test_decay_torch_equals_numpy_and_reference(xs, d, narrow, per_neuron):
    dd = np.array([0, 1, 7, 2048, 4095, 4096]) if per_neuron else d
    x = _t(xs, torch.int32 if narrow else torch.int64)
    got = fixed.decay(x, dd)
    assert got.dtype == x.dtype
    assert np.array_equal(got.numpy(), fixed.decay(np.array(xs), dd))
    for k in range(N):
        assert int(got[k]) == R.decay(xs[k], int(dd[k]) if per_neuron else d)


def test_decay_torch_of_a_reset_state_is_one_value_viewed_everywhere():
    v0 = (torch.zeros((), dtype=torch.int32) - 5001).expand(3, 4)
    got = fixed.decay(v0, 7)
    assert got.shape == (3, 4) and not any(got.stride())
    assert (got == R.decay(-5001, 7)).all()
