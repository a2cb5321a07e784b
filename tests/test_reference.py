"""``lava_mlsnn.fixed`` (numpy and torch paths) and the emulator against the independent
scalar transcription of DESIGN §5 in ``reference.py``, concentrated at the numeric edges:
the 24-bit limits, the float32/float64 switch of synapse sums (2**24), decays 0/1/4095/4096,
a bias with a current decay, membrane-quantization boundaries, T > 1, levels 1..15."""
import os

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import reference
from lava_mlsnn import fixed
from lava_mlsnn.backends.emulator import emulate
from lava_mlsnn.format.spec import Branch, LayerSpec, NetworkSpec
from reference_plain import plain_neuron, plain_synapse, run_reference

EDGE = 2 ** 23
# ``make mutants`` runs these tests once per mutant: fewer examples there.
EXAMPLES = int(os.environ.get("LAVA_MLSNN_EXAMPLES", "150"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
KINDS = {"numpy": np.asarray, "torch": torch.as_tensor,
         # the emulator's fast path: int32 states and currents where fixed.state_dtype allows
         "torch-int32": lambda a: torch.as_tensor(np.asarray(a)).to(torch.int32)}


def near(*points, spread=3):
    """Integers at and around each of ``points``."""
    return st.sampled_from(points).flatmap(
        lambda p: st.integers(p - spread, p + spread))


def state_ints():
    return st.one_of(st.integers(-EDGE, EDGE - 1), near(-EDGE, EDGE - 1, 0, -1))


def currents():  # synapse currents are already saturated to 24 bits
    return st.one_of(st.integers(-EDGE, EDGE - 1), near(-EDGE, EDGE - 1, 0, EDGE >> 6),
                     st.integers(-2000, 2000))


decays = st.one_of(st.sampled_from([0, 1, 2, 4095, 4096]), st.integers(0, 4096))


@st.composite
def neuron_params(draw, ntype=None):
    ntype = ntype or draw(st.sampled_from(["MLSN", "READOUT", "PASS", "CUBA"]))
    n = draw(st.integers(1, 5))
    v_bits = draw(st.one_of(st.just(0), st.integers(1, 24)))
    bias = draw(st.one_of(st.none(), st.lists(st.one_of(st.integers(-4096, 4095),
                                                        near(-(2 ** 17), 2 ** 17)),
                                              min_size=n, max_size=n)))
    return n, fixed.NeuronParams(
        ntype, v_th_mant=draw(st.one_of(st.sampled_from([1, 2, 2 ** 17 - 2, 2 ** 17 - 1]),
                                           st.integers(1, 400))),
        levels=draw(st.integers(1, 15)), i_decay=draw(decays), v_decay=draw(decays),
        v_init=draw(st.one_of(st.just(0), st.integers(-EDGE, EDGE - 1), st.integers(0, 9000))),
        v_bits=v_bits, v_exp=draw(st.integers(0, 14)),
        bias=None if bias is None else np.array(bias, dtype=np.int64),
        bias_exp=draw(st.one_of(st.just(6), st.integers(0, 10))))


def _reference_steps(p, n, a_seq, start):
    nd = plain_neuron(p, (n,))
    states = [start[k] for k in range(n)]
    out = []
    for a in a_seq:
        row = []
        for k in range(n):
            states[k], z = reference.neuron(states[k], a[k], nd, k)
            row.append((states[k], z))
        out.append(row)
    return out


@pytest.mark.parametrize("kind", KINDS)
@SETTINGS
@given(data=st.data(), params=neuron_params())
def test_neuron_steps_match_reference(kind, data, params):
    """Every neuron type, T = 1..6 steps from its initial state, states and payloads."""
    n, p = params
    dtype = torch.int64
    if kind == "torch-int32":
        dtype = fixed.state_dtype(p)
        assume(dtype == torch.int32)
    steps = data.draw(st.integers(1, 6))
    a_seq = data.draw(st.lists(st.lists(currents(), min_size=n, max_size=n),
                               min_size=steps, max_size=steps))
    arr = KINDS[kind]
    u, v = fixed.initial_state(p, (n,), arr(np.zeros(n, np.int64)), dtype)
    expect = _reference_steps(p, n, a_seq, [reference.initial(plain_neuron(p, (n,)))] * n)
    for t, a in enumerate(a_seq):
        (u, v), z = fixed.neuron_step((u, v), arr(np.array(a, dtype=np.int64)), p)
        assert type(z) is type(arr(np.zeros(1)))  # the input's kind comes back
        got = [((int(u[k]), int(v[k])), int(z[k])) for k in range(n)]
        if p.type in ("PASS",):
            got = [(e[0], g[1]) for g, e in zip(got, expect[t])]  # PASS has no state
        if p.type == "READOUT":
            got = [((e[0][0], g[0][1]), g[1]) for g, e in zip(got, expect[t])]
        assert got == expect[t], f"step {t}"


@pytest.mark.parametrize("kind", KINDS)
@SETTINGS
@given(ntype=st.sampled_from(["MLSN", "CUBA", "READOUT"]), u=state_ints(), v=state_ints(),
       a=currents(), data=st.data())
@example(ntype="CUBA", u=EDGE - 64, v=0, a=1, data=None)        # wraps exactly at 2**23
@example(ntype="CUBA", u=-EDGE + 64, v=0, a=-1, data=None)      # ... and at -2**23
@example(ntype="MLSN", u=EDGE - 1, v=EDGE - 1, a=EDGE - 1, data=None)
def test_one_step_from_any_state(kind, ntype, u, v, a, data):
    """One step from arbitrary (u, v): the saturation and wrap edges of each state."""
    if data is None:
        p = fixed.NeuronParams(ntype, v_th_mant=1000, i_decay=0, v_decay=0)
    else:
        _, p = data.draw(neuron_params(ntype))
        p = fixed.NeuronParams(**{**p.__dict__, "bias": None})
    if ntype == "CUBA":  # Lava's LIF keeps u within (-2**23, 2**23]
        u = min(max(u, -EDGE + 1), EDGE)
    if kind == "torch-int32":
        assume(fixed.state_dtype(p) == torch.int32)
    arr = KINDS[kind]
    (gu, gv), gz = fixed.neuron_step((arr(np.array([u])), arr(np.array([v]))),
                                     arr(np.array([a])), p)
    (eu, ev), ez = reference.neuron((u, v), a, plain_neuron(p, (1,)), 0)
    if ntype == "READOUT":
        eu, gu = u, arr(np.array([u]))
    assert (int(gu[0]), int(gv[0]), int(gz[0])) == (eu, ev, ez)


@pytest.mark.parametrize("kind", KINDS)
@SETTINGS
@given(x=st.lists(st.one_of(state_ints(), st.integers(-5000, 5000)), min_size=1, max_size=8),
       d=decays, e=st.integers(-24, 8))
def test_decay_shift_sat_match_reference(kind, x, d, e):
    arr = KINDS[kind]
    xs = arr(np.array(x, dtype=np.int64))
    assert [int(y) for y in fixed.decay(xs, d)] == [reference.decay(y, d) for y in x]
    assert [int(y) for y in fixed.shift(xs, e)] == [reference.shift(y, e) for y in x]
    big = arr(np.array(x, dtype=np.int64) * 3)
    assert [int(y) for y in fixed.sat24(big)] == [reference.sat24(3 * y) for y in x]


# --------------------------------------------------------------------------- synapses
@st.composite
def synapses(draw):
    """A synapse and a payload batch whose sums straddle the float32/float64 switch."""
    kind = draw(st.sampled_from(["dense", "conv", "pool", "identity"]))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    w_max = draw(st.sampled_from([1, 2, 254, 256]))
    e = draw(st.one_of(st.just(0), st.integers(-8, 8)))
    if kind == "dense":
        fan = draw(st.integers(1, 6))
        w = rng.integers(-w_max, min(w_max, 254) + 1, size=(draw(st.integers(1, 4)), fan))
        w[0, 0] = -w_max if w_max == 256 else w_max
        syn = fixed.SynapseSpec("dense", w, e)
        in_shape = (fan,)
    elif kind == "conv":
        cin, groups = draw(st.sampled_from([(1, 1), (2, 1), (2, 2), (4, 2)]))
        k = draw(st.sampled_from([1, 2, 3]))
        w = rng.integers(-w_max, min(w_max, 254) + 1, size=(2 * groups, cin // groups, k, k))
        syn = fixed.SynapseSpec("conv", w, e, stride=(draw(st.integers(1, 2)),) * 2,
                                padding=(draw(st.integers(0, 1)),) * 2,
                                dilation=(draw(st.integers(1, 2)),) * 2, groups=groups)
        in_shape = (cin, 5, 5)
    elif kind == "pool":
        k = draw(st.integers(1, 3))
        syn = fixed.SynapseSpec("pool", np.array(int(rng.integers(-w_max, w_max + 1))), e,
                                stride=(draw(st.integers(1, 2)),) * 2,
                                padding=(draw(st.integers(0, k // 2)),) * 2, kernel=(k, k))
        in_shape = (2, 5, 5)
    else:
        syn = fixed.SynapseSpec("identity", np.array(int(rng.integers(-w_max, w_max + 1))), e)
        in_shape = (3,)
    # the largest payload puts |w| * payload * fan-in near 2**24 (or 2**23 .. 2**26)
    target = 2.0 ** draw(st.sampled_from([23, 23.5, 24, 24.2, 24.5, 24.9, 25, 26]))
    zmax = max(1, int(target / (max(w_max, 1) * syn.fan_in())))
    z = rng.integers(0, zmax + 1, size=(2,) + in_shape)
    z.reshape(-1)[:2] = zmax
    z.reshape(-1)[2:4] = np.maximum(zmax - 1, 0)  # odd and even sums near the edge
    return syn, z, in_shape


@pytest.mark.parametrize("kind", KINDS)
@SETTINGS
@given(case=synapses())
@example(case=(fixed.SynapseSpec("dense", np.array([[254, 253]])), np.array([[66000, 65999]]),
               (2,)))  # odd sum 33461747 > 2**24 with a bound just below 2**25
def test_synapse_currents_match_reference(kind, case):
    syn, z, in_shape = case
    if kind == "torch-int32":  # a known payload bound, int32 out (the emulator's call)
        got = fixed.synapse_current(syn, torch.as_tensor(z), int(np.abs(z).max()) + 1,
                                    torch.int32)
        assert got.dtype == torch.int32
    else:
        got = fixed.synapse_current(syn, KINDS[kind](z))
    assert type(got) is type(KINDS[kind](z))
    sd = plain_synapse(syn)
    for b in range(len(z)):
        shape, vals = reference.synapse(sd, (in_shape, z[b].ravel().tolist()))
        assert np.asarray(got[b]).ravel().tolist() == vals
        assert tuple(np.asarray(got[b]).shape) == tuple(shape)


# --------------------------------------------------------------------------- networks
def _mlsn(draw, ntype=None):
    ntype = ntype or draw(st.sampled_from(["MLSN", "MLSN", "CUBA", "PASS", "READOUT"]))
    return fixed.NeuronParams(
        ntype, v_th_mant=draw(st.one_of(st.integers(1, 40), st.sampled_from([1, 2]))),
        levels=draw(st.integers(1, 15)), i_decay=draw(decays), v_decay=draw(decays),
        v_init=draw(st.sampled_from([0, 640, 2000])), v_bits=draw(st.sampled_from([0, 3, 8])),
        v_exp=draw(st.integers(0, 7)), bias_exp=draw(st.sampled_from([6, 6, 4, 8])))


@st.composite
def networks(draw):
    """Input -> conv -> pool -> join(conv, identity) -> flatten -> dense READOUT."""
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    c0, h = 2, draw(st.integers(4, 7))
    stride = draw(st.integers(1, 2))
    h1 = (h + 2 - 3) // stride + 1
    h2 = h1 // 2 if h1 >= 2 else h1
    pk = 2 if h1 >= 2 else 1

    def w(*shape):
        return rng.integers(-60, 120, size=shape)

    def bias(c):
        return rng.integers(-30, 30, size=(c, 1, 1)) if draw(st.booleans()) else None

    def neuron(c, ntype=None):
        p = _mlsn(draw, ntype)
        return fixed.NeuronParams(**{**p.__dict__, "bias": bias(c)})

    layers = [
        LayerSpec("input", (c0, h, h), -1, neuron=fixed.NeuronParams("INPUT", input_levels=3)),
        LayerSpec("conv", (4, h1, h1), 0,
                  [Branch(0, fixed.SynapseSpec("conv", w(4, 2, 3, 3), draw(st.integers(-2, 1)),
                                               stride=(stride,) * 2, padding=(1, 1)))],
                  neuron(4)),
        LayerSpec("pool", (4, h2, h2), 1,
                  [Branch(1, fixed.SynapseSpec("pool", np.array(int(rng.integers(1, 60))), 0,
                                               stride=(pk, pk), kernel=(pk, pk)))],
                  neuron(4, draw(st.sampled_from(["MLSN", "CUBA"])))),
        LayerSpec("join", (4, h2, h2), 2,
                  [Branch(2, fixed.SynapseSpec("conv", w(4, 4, 3, 3), 0, padding=(1, 1))),
                   Branch(1 if h2 == h1 else 2,
                          fixed.SynapseSpec("identity", np.array(int(rng.integers(1, 100)))))],
                  neuron(4)),
        LayerSpec("flatten", (4 * h2 * h2,), 3),
        LayerSpec("dense", (3,), 4, [Branch(4, fixed.SynapseSpec("dense", w(3, 4 * h2 * h2)))],
                  fixed.NeuronParams("READOUT", v_decay=draw(decays),
                                     bias=rng.integers(-40, 40, size=(3,)),
                                     bias_exp=draw(st.sampled_from([6, 7, 5])))),
    ]
    steps = draw(st.integers(1, 4))
    x = rng.integers(0, 6, size=(2, steps, c0, h, h))
    return NetworkSpec(layers, input_shape=(c0, h, h), input_levels=3, timesteps=steps), x


@settings(max_examples=max(10, EXAMPLES // 4), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(case=networks())
def test_emulator_matches_reference_network(case):
    """Whole networks, every layer at every step; only examples whose layers are all
    active count (a silent layer is no evidence)."""
    spec, x = case
    ref = run_reference(spec, x)
    emu = emulate(spec, x)
    assume(all(np.any(ref[i] != 0) for i in ref))
    for i in ref:
        assert np.array_equal(emu[i].numpy(), ref[i]), f"layer {i} ({spec.layers[i].type})"


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64])
@pytest.mark.parametrize("th", [1, 3, 64, 283 << 6, 4095 << 6, (1 << 23) - 1, (1 << 24) - 1])
def test_level_quotient_is_exact_on_every_saturated_state(dtype, th):
    """The MLSN level count ``clip(v // th, 0, levels)`` (taken in float32 on torch
    tensors) equals integer floor division for every state in [-2**23, 2**23 - 1]; levels
    beyond any quotient, so the clip hides no error."""
    v = torch.arange(-EDGE, EDGE, dtype=dtype)
    got = fixed._levels_of(v, th, 1 << 24)
    assert got.dtype == dtype
    want = torch.div(v.to(torch.int64), th, rounding_mode="floor").clamp_(0, 1 << 24)
    assert torch.equal(got.to(torch.int64), want)
    assert int(got.max()) == (EDGE - 1) // th  # the top of the range is reached


@SETTINGS
@given(v=st.lists(state_ints(), min_size=1, max_size=16), th=st.integers(1, (1 << 24) - 1),
       levels=st.integers(1, 15))
def test_level_quotient_matches_reference_at_any_threshold(v, th, levels):
    got = fixed._levels_of(torch.tensor(v, dtype=torch.int64), th, levels).tolist()
    assert got == [min(max(x // th, 0), levels) for x in v]


def test_emulator_outputs_do_not_depend_on_its_chunks_of_samples(monkeypatch):
    """A batch run in chunks of 7 samples (19 samples, T = 3, a DAG with joins) equals the
    reference sample by sample: chunk boundaries change nothing."""
    from layercheck import assert_layers_active
    from lava_mlsnn.backends import emulator
    from netfactory import join_network
    rng = np.random.default_rng(5)
    spec = join_network(rng)
    x = rng.integers(0, 4, size=(19, 3) + tuple(spec.input_shape))
    monkeypatch.setattr(emulator, "CHUNK_BYTES", 1)
    assert emulator._chunk_size(spec, len(x)) == 7
    emu = emulate(spec, x)
    ref = run_reference(spec, x)
    assert_layers_active(ref)
    for i in ref:
        assert np.array_equal(emu[i].numpy(), ref[i]), f"layer {i} ({spec.layers[i].type})"
