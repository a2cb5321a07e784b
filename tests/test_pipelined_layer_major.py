"""The layer-major pipelined run (zero steps skipped or not, compiled loops or torch)
gives the step-major run's integers, layer for layer, step for step.

The step-major loop (:func:`lava_mlsnn.backends.pipelined._run_chunk`) is the plain
transcription (every step of every layer through ``fixed.neuron_step`` and
``fixed.synapse_current``, float64 sums where float32 could round); the layer-major one
sums bit slices in float32, skips zero steps and runs compiled time loops. Random chains
with biases, every neuron type stock netx builds and lava-mlsnn's, stock overflow rules,
payloads that need the float64 (split) sums; every compared layer active.
"""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from lava_mlsnn import fixed
from lava_mlsnn.backends import pipelined_loops, pipelined_ops
from lava_mlsnn.backends.pipelined import emulate_pipelined
from lava_mlsnn.format.spec import Branch, LayerSpec, NetworkSpec

from layercheck import assert_layers_active

P = fixed.NeuronParams
HIDDEN = ("SDNN", "CUBA", "MLSN")


def _neuron(rng, kind: str, shape, bias: bool) -> P:
    b = rng.integers(-40, 80, size=shape) if bias else None
    if kind == "SDNN":
        return P("SDNN", v_th_mant=int(rng.integers(0, 8)), bias=b, bias_exp=12)
    if kind == "CUBA":
        return P("CUBA", v_th_mant=int(rng.integers(1, 40)), i_decay=int(rng.integers(0, 4097)),
                 v_decay=int(rng.integers(0, 4097)), bias=b)
    return P("MLSN", v_th_mant=int(rng.integers(1, 30)), levels=int(rng.integers(1, 8)),
             i_decay=int(rng.integers(0, 4097)), v_decay=int(rng.integers(0, 4097)), bias=b)


def _chain(seed: int, kinds, first: str, big: bool) -> NetworkSpec:
    """input (first) -> conv (kinds[0]) -> conv (kinds[1]) -> flatten -> dense (kinds[2])
    -> dense (SDNN_SIGMA or CUBA, as stock files end). ``big``: weights that push
    sigma-delta sums past 2**24 (the split float32 sums)."""
    rng = np.random.default_rng(seed)
    hi = 400 if big else 40
    inp = {"SDNN_DELTA": P("SDNN_DELTA", v_th_mant=int(rng.integers(0, 4)), bias_exp=12),
           "CUBA": P("CUBA", v_th_mant=int(rng.integers(1, 20)), i_decay=4096, v_decay=1024),
           "INPUT": P("INPUT", input_levels=255)}[first]
    c1, c2 = int(rng.integers(2, 5)), int(rng.integers(2, 5))
    conv = lambda cout, cin, ov: fixed.SynapseSpec(  # noqa: E731
        "conv", rng.integers(-hi, hi, size=(cout, cin, 3, 3)), int(rng.integers(0, 2)),
        padding=(1, 1), overflow=ov)
    last = P("SDNN_SIGMA") if kinds[2] == "SDNN" else P("CUBA", v_th_mant=3, v_decay=128)
    layers = [
        LayerSpec("input", (2, 6, 6), -1, neuron=inp),
        LayerSpec("conv", (c1, 6, 6), 0, [Branch(0, conv(c1, 2, "wrap24"))],
                  _neuron(rng, kinds[0], (c1, 1, 1), True)),
        LayerSpec("conv", (c2, 6, 6), 1, [Branch(1, conv(c2, c1, "sat24"))],
                  _neuron(rng, kinds[1], (c2, 1, 1), True)),
        LayerSpec("flatten", (c2 * 36,), 2),
        LayerSpec("dense", (12,), 3, [Branch(3, fixed.SynapseSpec(
            "dense", rng.integers(-hi, hi, size=(12, c2 * 36)), 0, overflow="none"))],
            _neuron(rng, kinds[2], (12,), True)),
        LayerSpec("dense", (3,), 4, [Branch(4, fixed.SynapseSpec(
            "dense", rng.integers(-hi, hi, size=(3, 12)), 0, overflow="none"))],
            last),
    ]
    return NetworkSpec(layers, input_shape=(2, 6, 6), input_levels=255, timesteps=1)


def _compare(spec: NetworkSpec, x: np.ndarray) -> dict:
    want = emulate_pipelined(spec, x, layer_major=False)
    for skip, narrow in ((True, False), (False, False), (True, True)):
        got = emulate_pipelined(spec, x, layer_major=True, skip_zeros=skip, narrow=narrow)
        for i in want:
            bad = torch.nonzero(got[i].to(torch.int64) != want[i])
            assert bad.numel() == 0, f"skip={skip}: layer {i} differs at {bad[0].tolist()}"
    return want


@settings(max_examples=12, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2 ** 16), kinds=st.tuples(*[st.sampled_from(HIDDEN)] * 3),
       first=st.sampled_from(["SDNN_DELTA", "CUBA", "INPUT"]), big=st.booleans())
def test_layer_major_equals_step_major_on_random_chains(seed, kinds, first, big):
    spec = _chain(seed, kinds, first, big)
    rng = np.random.default_rng(seed + 1)
    x = rng.integers(0, 256, size=(3, 3, 2, 6, 6))
    x[1, 1] = 0  # a zero input step in the middle of one sample
    want = _compare(spec, x)
    # a layer silent everywhere compares nothing: the draws keep the chains active
    active = [i for i in want if i != 3 and torch.count_nonzero(want[i])]
    assert len(active) >= 3, f"only layers {active} active"


@pytest.mark.parametrize("kinds,first", [(("SDNN",) * 3, "SDNN_DELTA"),
                                         (("CUBA",) * 3, "CUBA"),
                                         (("MLSN", "SDNN", "CUBA"), "INPUT")])
def test_layer_major_every_layer_active(kinds, first):
    """Fixed draws where every layer carries data, the split float32 sums among them."""
    spec = _chain(7, kinds, first, big=kinds[0] == "SDNN")
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, size=(4, 3, 2, 6, 6))
    want = _compare(spec, x)
    assert_layers_active({i: v.numpy() for i, v in want.items()})
    if kinds[0] == "SDNN":
        syn = spec.layers[2].branches[0].synapse
        assert pipelined_ops.split_pieces(syn, float(want[1].abs().max())) > 1
    narrow = emulate_pipelined(spec, x, narrow=True)
    want_dtype = {"SDNN": torch.int32, "CUBA": torch.int8, "MLSN": torch.int8}
    for i, kind in ((1, kinds[0]), (2, kinds[1])):  # sigma-delta: 24-bit currents, 6 steps
        assert narrow[i].dtype == want_dtype[kind], i


def test_torch_loops_where_numba_is_missing(monkeypatch):
    spec = _chain(7, ("SDNN", "CUBA", "SDNN"), "SDNN_DELTA", big=True)
    x = np.random.default_rng(5).integers(0, 256, size=(2, 3, 2, 6, 6))
    want = emulate_pipelined(spec, x, layer_major=False)
    monkeypatch.setattr(pipelined_loops, "_LOOPS", False)
    got = emulate_pipelined(spec, x, layer_major=True)
    assert_layers_active({i: v.numpy() for i, v in got.items()}, [0, 1, 2, 4, 5])
    for i in want:
        assert torch.equal(got[i], want[i]), f"layer {i}"


def test_layer_major_refuses_recurrence():
    spec = _chain(1, ("SDNN",) * 3, "SDNN_DELTA", big=False)
    rec = spec.layers[4]
    spec.layers[4] = LayerSpec(rec.type, rec.shape, rec.source, rec.branches, rec.neuron,
                               recurrent=fixed.SynapseSpec("dense", np.eye(12, dtype=np.int64), 0))
    x = np.ones((1, 2, 2, 6, 6), dtype=np.int64)
    with pytest.raises(ValueError, match="layer-major pipelined run: layer 4 is recurrent"):
        emulate_pipelined(spec, x, layer_major=True)
    assert emulate_pipelined(spec, x)[5].shape == (1, 2 + 4, 3)  # the step-major default


@settings(max_examples=40, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2 ** 16), exp=st.integers(-2, 3),
       top=st.sampled_from([1, 255, (1 << 15) - 1, (1 << 23) - 1]),
       kind=st.sampled_from(["conv", "dense"]), ov=st.sampled_from(["sat24", "wrap24", "none"]))
def test_split_sums_equal_float64_sums(seed, exp, top, kind, ov):
    """Bit-slice float32 sums (torch and compiled) against the float64 sum of
    ``fixed.synapse_current``, payloads up to the 24-bit edges."""
    rng = np.random.default_rng(seed)
    w = rng.choice([-255, -1, 0, 1, 254], size=(5, 3, 3, 3) if kind == "conv" else (5, 27))
    syn = fixed.SynapseSpec(kind, w, exp, padding=(1, 1), overflow=ov)
    z = rng.choice([-top - 1, -top, -1, 0, 1, top], size=(4, 3, 3, 3))
    z = torch.as_tensor(z if kind == "conv" else z.reshape(4, 27), dtype=torch.int64)
    m = float(top + 1)
    want = fixed.synapse_current(syn, z, m)
    assert torch.count_nonzero(want)
    s = pipelined_ops.split_sum(syn, z.contiguous(memory_format=torch.channels_last)
                                if kind == "conv" else z, m)
    assert torch.equal(fixed.current_of_sum(s, exp, False, torch.int64, ov), want)
    flat = (z.permute(0, 2, 3, 1) if kind == "conv" else z).reshape(1, 4, -1).contiguous()
    got = pipelined_loops.sum_frames(syn, flat.numpy(), [0, 1, 2, 3], tuple(z.shape[1:]), m)
    if got is not None:  # None: no float32 split (float64 in both)
        got = pipelined_loops.logical(got, tuple(want.shape[1:]))[0]
        assert torch.equal(got, want)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2 ** 16),
       kind=st.sampled_from(["SDNN", "SDNN_DELTA", "SDNN_SIGMA", "CUBA", "MLSN", "READOUT",
                             "PASS"]),
       bias=st.booleans(), steps=st.integers(0, 4))
def test_settled_zero_steps_are_fixed_points(seed, kind, bias, steps):
    """Where the settled flag holds, ``fixed.neuron_step`` on a zero input keeps the state
    and sends 0 (after random steps, some with zero input)."""
    rng = np.random.default_rng(seed)
    shape = (64,)
    p = _neuron(rng, kind, shape, bias) if kind in HIDDEN else P(
        kind, v_th_mant=int(rng.integers(0, 8)), v_decay=int(rng.integers(0, 4097)),
        bias=rng.integers(-40, 80, size=shape) if bias and kind == "READOUT" else None)
    state = fixed.initial_state(p, shape, np.zeros(1)) if p.type != "PASS" else (None, None)
    settled = pipelined_ops.settled_initially(p)
    for _ in range(steps):
        zero = bool(rng.integers(0, 2))
        a = np.zeros(shape, np.int64) if zero else rng.integers(-3000, 3000, size=shape)
        state, _ = fixed.neuron_step(state, a, p)
        settled = pipelined_ops.settled_after(p, settled, zero)
    if not settled:
        return
    new, z = fixed.neuron_step(state, np.zeros(shape, np.int64), p)
    assert not np.any(z), f"{kind}: a settled zero step sent {z}"
    for old, now in zip(state, new):
        assert old is None and now is None or np.array_equal(old, now)


def test_layer_major_writes_every_step_into_unzeroed_records():
    """Off the CPU the records are not zero pages: the torch steps write every step,
    skipped ones included (run here into records that hold garbage)."""
    from lava_mlsnn.backends import pipelined
    from lava_mlsnn.backends.emulator import _record_buffer, sum_bounds

    spec = _chain(7, ("SDNN", "CUBA", "SDNN"), "SDNN_DELTA", big=True)
    x = torch.as_tensor(np.random.default_rng(6).integers(0, 256, size=(2, 3, 2, 6, 6)))
    want = emulate_pipelined(spec, x, layer_major=False)
    total = want[0].shape[1]
    out = {i: _record_buffer((2, total) + tuple(la.shape), x.device).fill_(77)
           for i, la in enumerate(spec.layers)}
    pipelined._run_layers(spec, x, out, total, sum_bounds(spec, int(x.max())), True,
                          zeroed=frozenset())
    assert any(not torch.count_nonzero(want[i][:, t]) for i in want for t in range(total))
    for i in want:
        assert torch.equal(out[i], want[i]), f"layer {i}"


@pytest.mark.parametrize("steps", [0, 1, 2, 12])
def test_layer_major_runs_of_any_length(steps):
    """Fewer steps than the input (truncated), none, or more than the pipeline needs."""
    spec = _chain(7, ("SDNN", "CUBA", "SDNN"), "SDNN_DELTA", big=True)
    x = np.random.default_rng(0).integers(0, 256, size=(2, 3, 2, 6, 6))
    want = emulate_pipelined(spec, x, steps=steps, layer_major=False)
    for kw in ({}, {"narrow": True}, {"skip_zeros": False}):
        got = emulate_pipelined(spec, x, steps=steps, **kw)
        for i in want:
            assert got[i].shape == want[i].shape == (2, steps) + tuple(spec.layers[i].shape)
            assert torch.equal(got[i].to(torch.int64), want[i]), (kw, i)


def test_step_major_run_keeps_a_leaky_readout_state():
    """A READOUT layer with vDecay > 0 decays its v, so the step-major pipelined run must
    carry its state (it handed the step no state and failed); both runs agree."""
    from lava_mlsnn.format.random_net import random_input, random_network
    spec = random_network(0, levels=1, conv=True, timesteps=5)
    out = [i for i, lay in enumerate(spec.layers)
           if lay.neuron is not None and lay.neuron.type == "READOUT"]
    assert out and all(spec.layers[i].neuron.v_decay > 0 for i in out)
    x = np.asarray(random_input(0, spec, 3, 5))
    step, layer = emulate_pipelined(spec, x, layer_major=False), emulate_pipelined(spec, x)
    assert_layers_active(step, out)
    assert all(torch.equal(torch.as_tensor(step[i]), torch.as_tensor(layer[i])) for i in step)


def test_layers_that_write_every_step_get_unzeroed_records(monkeypatch):
    """A biased CUBA or MLSN layer (never settled) and a flatten of one get records that
    are not zero pages (numpy's huge pages), and every step of them is written: run here
    into records that hold garbage, the integers of the step-major loop; the others keep
    zero pages."""
    from lava_mlsnn.backends import pipelined

    spec = _chain(8, ("CUBA", "MLSN", "CUBA"), "CUBA", big=False)
    every = {i for i in range(len(spec.layers)) if pipelined._writes_every_step(spec, i)}
    assert every == {1, 2, 3, 4}  # the unbiased input and last CUBA may skip
    real = pipelined._record_buffer
    garbage = []
    def spy(*a, zeroed=False):  # the records not zeroed by the allocator: garbage
        if zeroed:
            return real(*a, zeroed=True)
        garbage.append(a)
        return real(*a).fill_(77)
    monkeypatch.setattr(pipelined, "_record_buffer", spy)
    x = np.random.default_rng(8).integers(0, 256, size=(3, 2, 2, 6, 6))
    want = emulate_pipelined(spec, x, layer_major=False)
    garbage.clear()
    for narrow in (False, True):
        got = emulate_pipelined(spec, x, narrow=narrow)
        for i in want:
            assert torch.equal(got[i].to(torch.int64), want[i]), (narrow, i)
    assert len(garbage) == 2 * (len(every) + 1)  # (and the input, laid out as records)
    assert all(torch.count_nonzero(want[i]) for i in every)
