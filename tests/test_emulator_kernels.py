"""The layer-major run with compiled neuron loops (backends/layer_major.py, kernels.py)
against the plain step path (KERNEL_STEP, LEAN_STEP and fused off) and the independent
scalar reference: random networks of every kind the kernels cover, T = 1, 2 and 16, one
sample and chunked batches, int64 and narrow records; the kernels alone at the
saturation edges against fixed.py's step functions; the allow-list of NeuronParams."""
import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import lava_mlsnn.backends.emulator as emulator
from layercheck import assert_layers_active
from lava_mlsnn import fixed
from lava_mlsnn.backends import kernels, layer_major
from lava_mlsnn.format.spec import Branch, LayerSpec, NetworkSpec
from reference_plain import run_reference
from test_emulator_fused import _network

P = fixed.NeuronParams
SAT = fixed.SAT_MAX
DECAYS = (0, 1, 7, 2048, 4095, 4096)


def _random_net(rng: np.random.Generator) -> NetworkSpec:
    """input -> conv (MLSN) -> pool (CUBA or MLSN) -> flatten -> dense (CUBA, bias or
    not) -> dense (MLSN, quantized membrane) -> dense READOUT, parameters drawn."""
    def mlsn(shape_bias, **kw):
        return P("MLSN", v_th_mant=int(rng.integers(1, 400)), levels=int(rng.integers(1, 16)),
                 i_decay=int(rng.choice(DECAYS)), v_decay=int(rng.choice(DECAYS)),
                 v_init=int(rng.integers(-500, 500)),
                 bias=None if rng.random() < 0.3 else rng.integers(-300, 300, size=shape_bias),
                 bias_exp=int(rng.integers(0, 9)), **kw)

    def cuba(shape_bias):
        return P("CUBA", v_th_mant=int(rng.integers(1, 200)), i_decay=int(rng.choice(DECAYS)),
                 v_decay=int(rng.choice(DECAYS)),
                 bias=None if rng.random() < 0.5 else rng.integers(-40, 40, size=shape_bias))

    pool_neuron = cuba((4, 1, 1)) if rng.random() < 0.5 else mlsn((4, 1, 1))
    layers = [
        LayerSpec("input", (2, 8, 8), -1, neuron=P("INPUT", input_levels=15)),
        LayerSpec("conv", (4, 8, 8), 0, [Branch(0, fixed.SynapseSpec(
            "conv", rng.integers(-40, 90, size=(4, 2, 3, 3)), int(rng.integers(-2, 6)),
            padding=(1, 1)))], mlsn((4, 1, 1))),
        LayerSpec("pool", (4, 4, 4), 1, [Branch(1, fixed.SynapseSpec(
            "pool", np.array(int(rng.integers(20, 60))), 0, stride=(2, 2), kernel=(2, 2)))],
            pool_neuron),
        LayerSpec("flatten", (64,), 2),
        LayerSpec("dense", (20,), 3, [Branch(3, fixed.SynapseSpec(
            "dense", rng.integers(-60, 120, size=(20, 64)), int(rng.integers(0, 4))))],
            cuba(20)),
        LayerSpec("dense", (20,), 4, [Branch(4, fixed.SynapseSpec(
            "dense", rng.integers(-60, 120, size=(20, 20)), int(rng.integers(2, 7))))],
            mlsn(20, v_bits=int(rng.choice([0, 3, 8])), v_exp=int(rng.integers(0, 7)))),
        LayerSpec("dense", (5,), 5, [Branch(5, fixed.SynapseSpec(
            "dense", rng.integers(-60, 60, size=(5, 20)), int(rng.integers(0, 6))))],
            P("READOUT", v_decay=int(rng.choice(DECAYS)), bias=rng.integers(-40, 40, size=5))),
    ]
    return NetworkSpec(layers, input_shape=(2, 8, 8), input_levels=15, timesteps=4)


def _plain(monkeypatch, spec, x, narrow=False):
    monkeypatch.setattr(emulator, "KERNEL_STEP", False)
    monkeypatch.setattr(emulator, "LEAN_STEP", False)
    out = emulator.emulate(spec, x, fused=False, narrow=narrow)
    monkeypatch.setattr(emulator, "KERNEL_STEP", True)
    monkeypatch.setattr(emulator, "LEAN_STEP", True)
    return out


def _check(monkeypatch, spec, x, what):
    bounds = emulator.sum_bounds(spec, int(np.abs(x).max()))
    kern = layer_major.kernel_layers(spec, bounds)
    want_kern = {i for i, la in enumerate(spec.layers) if la.branches}
    assert kern == want_kern, what  # every neuron layer takes a kernel
    plain = _plain(monkeypatch, spec, x)
    assert_layers_active(plain, what=what)
    calls = []
    real = kernels.run_layer
    monkeypatch.setattr(kernels, "run_layer", lambda *a, **k: calls.append(a) or real(*a, **k))
    got = emulator.emulate(spec, x, fused=False)
    monkeypatch.setattr(kernels, "run_layer", real)
    assert len(calls) >= len(want_kern), what  # the layer-major run was taken
    got_narrow = emulator.emulate(spec, x, fused=False, narrow=True)
    for i in plain:
        assert got[i].dtype == torch.int64
        assert torch.equal(got[i], plain[i]), f"{what}, layer {i}"
        assert got_narrow[i].dtype == emulator.record_dtype(spec, i, int(np.abs(x).max()))
        assert torch.equal(got_narrow[i].to(torch.int64), plain[i]), f"{what}, layer {i} narrow"
    return plain


@pytest.mark.parametrize("steps", [1, 2, 16])
def test_random_networks_equal_the_plain_step(monkeypatch, steps):
    monkeypatch.setattr(emulator, "KERNEL_MIN_STEPS", 1)  # T = 1 layer-major too
    for seed in range(3):
        rng = np.random.default_rng(100 * steps + seed)
        spec = _random_net(rng)
        x = rng.integers(0, 16, size=(3, steps, 2, 8, 8))
        x[0] = 15  # all-max payloads: the saturating sums
        _check(monkeypatch, spec, x, f"seed {seed}, T {steps}")


def test_edge_network_equals_plain_and_reference(monkeypatch):
    """The edge network of test_emulator_fused (saturating currents, int32 bias edges,
    iDecay / vDecay 1 and 4095, quantized membranes) at T = 1 (no lean layer: CUBA and
    READOUT take the kernels), 4 and 16, against the scalar reference too."""
    for seed, steps in ((0, 4), (1, 16)):
        rng = np.random.default_rng(seed)
        spec = _network(rng)
        x = rng.integers(0, 16, size=(2, steps, 2, 8, 8))
        x[0] = 15
        plain = _check(monkeypatch, spec, x, f"seed {seed}")
        ref = run_reference(spec, x)
        for i in ref:
            assert np.array_equal(plain[i].numpy(), ref[i]), f"seed {seed}, layer {i}"


def test_one_sample_and_chunks(monkeypatch):
    """Batch 1, and a batch split into chunks of one sample (every sample from reset)."""
    rng = np.random.default_rng(7)
    spec = _random_net(rng)
    x = rng.integers(0, 16, size=(5, 16, 2, 8, 8))
    x[0] = 15
    whole = emulator.emulate(spec, x)
    monkeypatch.setattr(emulator, "CHUNK_BYTES", 1)  # one sample per chunk
    chunked = emulator.emulate(spec, x)
    one = emulator.emulate(spec, x[2:3])
    some = emulator.emulate(spec, x, record=[2, 6], narrow=True)  # the others not written
    plain = _plain(monkeypatch, spec, x)
    assert_layers_active(plain)
    for i in plain:
        assert torch.equal(whole[i], plain[i]) and torch.equal(chunked[i], plain[i]), i
        assert torch.equal(one[i], plain[i][2:3]), i
    assert sorted(some) == [2, 6]
    assert all(torch.equal(some[i].to(torch.int64), plain[i]) for i in some)


def test_t1_lean_network_runs_the_float32_loop(monkeypatch):
    """At T = 1 (KERNEL_MIN_STEPS = 1) a network with lean MLSN layers runs layer-major,
    those layers on the float32 loop (kernels.MLSN32); KERNEL_MIN_STEPS = 2 keeps the
    step-major lean path. Both equal the plain step."""
    spec = _network(np.random.default_rng(2))  # its MLSN layers take the lean step
    kinds = []
    real = kernels.run_layer
    monkeypatch.setattr(kernels, "run_layer",
                        lambda kind, *a, **k: kinds.append(kind) or real(kind, *a, **k))
    x = np.random.default_rng(2).integers(0, 16, size=(2, 1, 2, 8, 8))
    x[0] = 15
    plain = _plain(monkeypatch, spec, x)
    assert_layers_active(plain)
    got = emulator.emulate(spec, x)
    assert kernels.MLSN32 in kinds
    monkeypatch.setattr(emulator, "KERNEL_MIN_STEPS", 2)
    kinds.clear()
    step_major = emulator.emulate(spec, x)
    assert not kinds
    for i in plain:
        assert torch.equal(got[i], plain[i]) and torch.equal(step_major[i], plain[i]), i


def test_allow_list_sends_unknown_fields_to_the_plain_step():
    layer = _random_net(np.random.default_rng(0)).layers[4]
    assert layer_major.kernel_ok(layer, 16)
    extra = dataclasses.make_dataclass("WithAFieldAddedLater", [("added_later", object, None)],
                                       bases=(P,), frozen=P.__dataclass_params__.frozen)
    p = extra(**{f.name: getattr(layer.neuron, f.name) for f in dataclasses.fields(P)})
    assert not layer_major.kernel_ok(dataclasses.replace(layer, neuron=p), 16)
    # the loops have no current bias (DESIGN §5): such a layer runs the plain step
    biased = dataclasses.replace(layer.neuron, current_bias=np.full(20, 5))
    assert not layer_major.kernel_ok(dataclasses.replace(layer, neuron=biased), 16)
    for change in ({"i_decay": np.full(20, 3)}, {"v_exp": -1}, {"type": "INPUT"},
                   {"v_th_mant": 1 << 17}, {"spike_exp": 17}, {"state_exp": -1}):
        bad = dataclasses.replace(layer, neuron=dataclasses.replace(layer.neuron, **change))
        assert not layer_major.kernel_ok(bad, 16), change


_edge = st.sampled_from([0, 1, -1, SAT, -SAT - 1, SAT - 1, 4095, -4096])
_states = st.one_of(_edge, st.integers(-SAT - 1, SAT))
_sums = st.one_of(st.sampled_from([0, 1, -1, 2 ** 24 - 1, -(2 ** 24) + 1, 2 ** 23, -(2 ** 23)]),
                  st.integers(-(2 ** 24) + 1, 2 ** 24 - 1))


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from(["MLSN", "CUBA", "READOUT", "PASS"]),
       sums=st.lists(st.lists(_sums, min_size=6, max_size=6), min_size=3, max_size=3),
       us=st.lists(_states, min_size=6, max_size=6), vs=st.lists(_states, min_size=6, max_size=6),
       weight_exp=st.integers(-8, 8), overflow=st.sampled_from(["sat24", "wrap24", "none"]),
       i_decay=st.sampled_from(DECAYS), v_decay=st.sampled_from(DECAYS),
       th=st.integers(1, (1 << 17) - 1), levels=st.integers(1, 127),
       bias=st.one_of(st.none(), st.integers(-4096, 4095)), bias_exp=st.integers(0, 16),
       v_bits=st.sampled_from([0, 3, 8]), v_exp=st.integers(0, 6))
def test_kernels_equal_fixed_steps_at_the_edges(kind, sums, us, vs, weight_exp, overflow,
                                                i_decay, v_decay, th, levels, bias, bias_exp,
                                                v_bits, v_exp):
    """Three steps of one layer from a carried state (the interface a pipelined run uses)
    against fixed.current_of_sum + fixed.neuron_step, sums and states at +-2**23/2**24."""
    if kind == "MLSN" and overflow != "sat24":
        overflow = "sat24"  # lava-mlsnn layers saturate; wrap24 is stock CUBA's
    p = P(kind, v_th_mant=th, levels=levels, i_decay=i_decay, v_decay=v_decay,
          bias=None if bias is None else np.full(6, bias), bias_exp=bias_exp,
          v_bits=v_bits if kind == "MLSN" else 0, v_exp=v_exp)
    s = np.array(sums, dtype=np.float64)[None]  # [B=1, T=3, N=6]
    u0, v0 = np.array([us], dtype=np.int64), np.array([vs], dtype=np.int64)
    if kind == "MLSN":  # a state the neuron can hold: |v| saturated, u saturated
        u0 = np.clip(u0, -SAT - 1, SAT)
    state = (u0.copy(), v0.copy())
    pay = np.empty(s.shape, dtype=np.float32)
    rec = np.empty(s.shape, dtype=np.int64)
    kernels.run_layer(kind, s, kernels.constants(p, weight_exp, overflow),
                      kernels.bias_term(p, (6,)), pay, rec, state)
    su, sv = torch.as_tensor(u0[0]), torch.as_tensor(v0[0])
    for t in range(3):
        a = fixed.current_of_sum(torch.as_tensor(s[0, t]), weight_exp, False, torch.int64,
                                 overflow)
        (su, sv), z = fixed.neuron_step((su, sv), a, p)
        assert np.array_equal(rec[0, t], z.numpy()), t
        assert np.array_equal(pay[0, t], z.numpy().astype(np.float32)), t
    if kind in ("MLSN", "CUBA"):
        assert np.array_equal(state[0][0], su.numpy())
    if kind != "PASS":
        assert np.array_equal(state[1][0], sv.numpy())


def test_start_method_left_unset():
    """numba's first parallel launch asks multiprocessing for its start method, which
    fixes it; Lava, imported afterwards, sets its own and fails on one already chosen."""
    import multiprocessing
    before = multiprocessing.get_start_method(allow_none=True)
    rng = np.random.default_rng(5)
    spec = _random_net(rng)
    emulator.emulate(spec, rng.integers(0, 16, size=(1, 2, 2, 8, 8)))
    assert multiprocessing.get_start_method(allow_none=True) == before


def test_layer_major_with_plain_layers(monkeypatch):
    """layer_major.run_chunk with some layers left to the plain step (their step-by-step
    loop on batched currents) gives the plain path's integers; emulate itself then stays
    step-major (not every synapse layer takes a kernel)."""
    rng = np.random.default_rng(11)
    spec = _random_net(rng)
    x = torch.as_tensor(rng.integers(0, 16, size=(2, 4, 2, 8, 8)))
    x[0] = 15
    plain = _plain(monkeypatch, spec, x)
    assert_layers_active(plain)
    bounds = emulator.sum_bounds(spec, 15)
    dtypes = {i: torch.int64 for i, la in enumerate(spec.layers) if la.neuron is not None}
    for kern in ({1, 5}, {2, 4, 6}, set()):
        rec = {i: torch.empty(plain[i].shape, dtype=torch.int64) for i in plain}
        layer_major.run_chunk(spec, x, rec, bounds, kern, dtypes)
        for i in plain:
            assert torch.equal(rec[i], plain[i]), (kern, i)


def test_flatten_view_feeds_dense_kernels_reordered_columns(monkeypatch):
    """A flatten of float32 channels-last payloads read only by dense synapses is sent as
    a view in the payloads' memory order, the dense weights' columns reordered alike
    (layer_major._columns_as): the same integers as the plain step at T = 1 and 4, the
    flatten's record (in the torch order) from its source's record or, when its source is
    not recorded, from the payloads; a plain reader gets the torch order back."""
    monkeypatch.setattr(emulator, "KERNEL_MIN_STEPS", 1)
    reordered = []
    real = layer_major._columns_as
    monkeypatch.setattr(layer_major, "_columns_as",
                        lambda syn, chw: reordered.append(chw) or real(syn, chw))
    for seed, steps in ((0, 1), (1, 4)):
        rng = np.random.default_rng(300 + seed)
        spec = _random_net(rng)
        x = rng.integers(0, 16, size=(3, steps, 2, 8, 8))
        x[0] = 15
        plain = _plain(monkeypatch, spec, x)
        assert_layers_active(plain)
        reordered.clear()
        got = emulator.emulate(spec, x, narrow=True)
        assert reordered == [(4, 4, 4)] * len(reordered) and reordered  # the view
        for i in plain:
            assert torch.equal(got[i].to(torch.int64), plain[i]), (seed, i)
        only = emulator.emulate(spec, x, record=[3, 6])  # the flatten without its source
        assert torch.equal(only[3], plain[3]) and torch.equal(only[6], plain[6]), seed
    bounds = emulator.sum_bounds(spec, 15)
    dtypes = {i: torch.int64 for i, la in enumerate(spec.layers) if la.neuron is not None}
    reordered.clear()
    rec = {i: torch.empty(plain[i].shape, dtype=torch.int64) for i in plain}
    layer_major.run_chunk(spec, torch.as_tensor(x), rec, bounds, {1, 2, 5, 6}, dtypes)
    assert not reordered  # the flatten's reader (layer 4) is plain: the torch order
    for i in plain:
        assert torch.equal(rec[i], plain[i]), i
