"""snnTorch's own resets in the integer rule (DESIGN §5, ``NeuronParams.reset``
'snntorch' / 'snntorch_delay' / 'snntorch_zero_delay', neuron key ``resetRule``).

snnTorch reads a step's reset from the membrane it stored and fires at ``>``: with
``reset_mechanism='subtract'`` and ``reset_delay=False`` a spike after a stored membrane
above theta needs 2 theta; with ``reset_delay=True`` (its default) the stored spike's theta
is subtracted a step late; its ``Synaptic`` reset to zero with ``reset_delay=True`` zeroes
the whole step after a spike.
Checked against ``tests/reference.py``'s transcription (numpy and torch steps at the edges,
the emulator on every path it may take, Lava fixed_pt), the HDF5 key and its refusals, the
NIR extension, and snnTorch itself through ``from_nir``/``read_nir``.
"""
from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import reference
from lava_mlsnn import fixed
from lava_mlsnn.backends import emulator
from lava_mlsnn.fixed import NeuronParams, SynapseSpec
from lava_mlsnn.format import FormatError, read_network, write_network
from lava_mlsnn.format.random_net import random_input, random_network
from lava_mlsnn.format.spec import Branch, LayerSpec, NetworkSpec
from lava_mlsnn.netx import emulate
from layercheck import assert_layers_active
from reference_plain import plain_neuron, run_reference

RULES = ("snntorch", "snntorch_delay", "snntorch_zero_delay")
LO, HI = -(2 ** 23), 2 ** 23 - 1


# no subnormals: a library in the suite sets flush-to-zero, and hypothesis refuses them then
_FRAC = st.floats(-3, 3, allow_subnormal=False)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(rule=st.sampled_from(RULES), th=st.sampled_from([1, 7, 300, 2 ** 17 - 1]),
       d=st.tuples(st.integers(0, 4096), st.integers(0, 4096)),
       frac=st.lists(st.tuples(_FRAC, _FRAC, _FRAC),
                     min_size=1, max_size=12),
       bias=st.integers(-40, 40))
def test_steps_equal_the_transcription(rule, th, d, frac, bias):
    """numpy int64 and torch int64/int32 steps against ``reference.mlsn`` one neuron at a
    time, states drawn around 0, theta and 2 theta and at the 24-bit edges."""
    p = NeuronParams("MLSN", th, 1, d[0], d[1], bias=np.array([bias] * len(frac)),
                     reset=rule)
    t = th << 6
    edge = lambda f: int(np.clip(round(f * t), LO, HI)) if abs(f) < 2.9 \
        else (HI if f > 0 else LO)  # noqa: E731
    u = np.array([edge(f[0]) for f in frac], np.int64)
    v = np.array([edge(f[1]) for f in frac], np.int64)
    a = np.array([int(np.clip(round(f[2] * th), -2 ** 17, 2 ** 17)) for f in frac], np.int64)
    n = plain_neuron(p, (len(frac),))
    want = [reference.mlsn(int(u[k]), int(v[k]), int(a[k]), n, k) for k in range(len(frac))]
    want = tuple(np.array([w[j] for w in want]) for j in range(3))
    got = fixed.mlsn_step(u.copy(), v.copy(), a.copy(), p)
    assert all(np.array_equal(g, w) for g, w in zip(got, want)), (got, want)
    for dtype in (torch.int64, torch.int32):
        tg = fixed.mlsn_step(torch.from_numpy(u).to(dtype), torch.from_numpy(v).to(dtype),
                             torch.from_numpy(a).to(dtype), p)
        assert all(np.array_equal(g.numpy(), w) for g, w in zip(tg, want)), dtype


def test_the_rules_differ_where_snntorch_says():
    """Stored v above theta (here 2.5 theta): reset_delay=False needs 2 theta next, the
    delayed rule subtracts theta now and keeps v; the soft reset fires at v >= theta."""
    t = 10 << 6
    u, v, a = np.zeros(1, np.int64), np.array([int(2.5 * t)]), np.array([0])
    soft = fixed.mlsn_step(u, v.copy(), a, NeuronParams("MLSN", 10, 1))
    fast = fixed.mlsn_step(u, v.copy(), a, NeuronParams("MLSN", 10, 1, reset="snntorch"))
    late = fixed.mlsn_step(u, v.copy(), a, NeuronParams("MLSN", 10, 1,
                                                        reset="snntorch_delay"))
    assert (int(soft[2][0]), int(soft[1][0])) == (1, int(1.5 * t))
    assert (int(fast[2][0]), int(fast[1][0])) == (1, int(1.5 * t))  # 2.5 > 2 theta
    assert (int(late[2][0]), int(late[1][0])) == (1, int(1.5 * t))
    v = np.array([int(1.5 * t)])
    assert int(fixed.mlsn_step(u, v.copy(), a, NeuronParams("MLSN", 10, 1))[2][0]) == 1
    assert int(fixed.mlsn_step(u, v.copy(), a, NeuronParams(
        "MLSN", 10, 1, reset="snntorch"))[2][0]) == 0  # 1.5 theta < 2 theta
    assert int(fixed.mlsn_step(u, v.copy(), a, NeuronParams(
        "MLSN", 10, 1, reset="snntorch_delay"))[2][0]) == 0  # 0.5 theta after the reset
    zero = fixed.mlsn_step(u, np.array([int(1.5 * t)]), np.array([20]), NeuronParams(
        "MLSN", 10, 1, reset="snntorch_zero_delay"))  # stored above theta: a zeroed step
    assert (int(zero[2][0]), int(zero[1][0])) == (0, 0)
    v = np.array([t])  # exactly theta: snnTorch's > does not fire
    assert int(fixed.mlsn_step(u, v, a, NeuronParams("MLSN", 10, 1, reset="snntorch"))[2][0]) == 0


def test_more_levels_or_other_neurons_are_refused():
    with pytest.raises(ValueError, match="only one-level MLSN neurons take it"):
        fixed.neuron_step((np.zeros(1), np.zeros(1)), np.zeros(1, np.int64),
                          NeuronParams("MLSN", 10, 3, reset="snntorch"))
    with pytest.raises(ValueError, match="only one-level MLSN neurons take it"):
        fixed.neuron_step((np.zeros(1), np.zeros(1)), np.zeros(1, np.int64),
                          NeuronParams("CUBA", 10, 1, reset="snntorch"))


def _with_rule(spec: NetworkSpec, rule: str) -> NetworkSpec:
    layers = [replace(layer, neuron=replace(layer.neuron, reset=rule))
              if layer.neuron is not None and layer.neuron.type == "MLSN" else layer
              for layer in spec.layers]
    return replace(spec, layers=layers)


def _nets():
    for seed, conv in ((0, True), (1, False), (2, True)):
        spec = random_network(seed, levels=1, conv=conv, timesteps=5)
        yield seed, spec, np.asarray(random_input(seed, spec, 3, 5))


@pytest.mark.parametrize("rule", RULES)
def test_emulator_equals_the_reference_on_every_path(rule, monkeypatch):
    """Random conv / pool / dense networks with the rule on every MLSN layer: the default
    emulator (it must leave the lean, fused and compiled paths), fused=True and the
    pipelined run equal the reference; the soft reset gives other spikes."""
    from lava_mlsnn.backends.pipelined import emulate_pipelined
    calls = {"lean": 0}
    real_lean = emulator.lean_step

    def counted(*args, **kwargs):
        calls["lean"] += 1
        return real_lean(*args, **kwargs)
    monkeypatch.setattr(emulator, "lean_step", counted)
    fused_rules = []

    def fused_factory():  # the fused step, uncompiled, noting the rules it is handed
        def step(s, state, p, *args):
            fused_rules.append(p.reset)
            return fixed.layer_step(s, state, p, *args)
        return step
    monkeypatch.setattr(emulator, "_fused_step", fused_factory)
    differs = []
    for seed, soft, x in _nets():
        spec = _with_rule(soft, rule)
        assert emulator.lean_layers(spec, set(range(len(spec.layers))),
                                    emulator.sum_bounds(spec, 1)) == set()
        want = run_reference(spec, x)
        assert_layers_active(want, [i for i, lay in enumerate(spec.layers)
                                    if lay.neuron is not None and lay.neuron.type == "MLSN"])
        got = emulate(spec, torch.from_numpy(x))
        fused = emulate(spec, torch.from_numpy(x), fused=True)
        for i in want:
            assert np.array_equal(got[i].numpy(), want[i]), (seed, i)
            assert np.array_equal(fused[i].numpy(), want[i]), (seed, i)
        other = emulate(soft, torch.from_numpy(x))
        differs.append(any(not torch.equal(got[i], other[i]) for i in got))
        pipe = emulate_pipelined(spec, x)
        pipe_ref = emulate_pipelined(spec, x, layer_major=False)
        assert all(torch.equal(torch.as_tensor(pipe[i]), torch.as_tensor(pipe_ref[i]))
                   for i in pipe)
    assert calls["lean"] == 0  # no lean step ran on these layers
    assert fused_rules and set(fused_rules) == {"soft"}  # the fused step: other layers only
    assert any(differs)  # the rule is not ignored


@pytest.mark.lava
def test_lava_fixed_pt_equals_the_emulator():
    from lava_mlsnn.backends.lava_runner import run_lava
    for rule in RULES:
        seed, spec, x = next(iter(_nets()))
        spec = _with_rule(spec, rule)
        ref, got = emulate(spec, torch.from_numpy(x[:2])), run_lava(spec, x[:2])
        assert_layers_active(ref, [1])
        assert all(np.array_equal(got[i], ref[i].numpy()) for i in ref), rule


def test_hdf5_key_round_trip_and_refusals(tmp_path):
    import h5py
    for rule in RULES:
        _, spec, _ = next(iter(_nets()))
        spec = _with_rule(spec, rule)
        path = tmp_path / f"{rule}.h5"
        write_network(spec, path)
        back = read_network(path)
        assert [lay.neuron.reset for lay in back.layers if lay.neuron is not None and
                lay.neuron.type == "MLSN"] == [rule] * sum(
            1 for lay in spec.layers if lay.neuron is not None and lay.neuron.type == "MLSN")
        with h5py.File(path, "r") as f:
            i = next(k for k in range(len(spec.layers)) if spec.layers[k].neuron is not None
                     and spec.layers[k].neuron.type == "MLSN")
            assert int(f[f"layer/{i}/neuron/resetRule"][()]) == RULES.index(rule) + 1
    soft = tmp_path / "soft.h5"
    write_network(next(iter(_nets()))[1], soft)
    with h5py.File(soft, "r") as f:  # a soft-reset file carries no key (as before)
        assert not any("resetRule" in f[f"layer/{k}"].get("neuron", {}) for k in f["layer"])
    for value, levels, match in ((4, 1, r"resetRule: must lie in \[0, 3\], got 4"),
                                 (1, 2, "needs levels = 1")):
        bad = tmp_path / f"bad{value}{levels}.h5"
        write_network(next(iter(_nets()))[1], bad)
        with h5py.File(bad, "a") as f:
            ng = f[f"layer/{i}/neuron"]
            ng.create_dataset("resetRule", data=value)
            del ng["levels"]
            ng.create_dataset("levels", data=levels)
        with pytest.raises(FormatError, match=match):
            read_network(bad)


def test_nir_extension_carries_the_rule():
    pytest.importorskip("nir")
    from lava_mlsnn.nir import read_nir, to_nir
    _, spec, _ = next(iter(_nets()))
    spec = _with_rule(spec, "snntorch_delay")
    back = read_nir(to_nir(spec))
    assert [lay.neuron.reset for lay in back.layers if lay.neuron is not None] == \
        [lay.neuron.reset for lay in spec.layers if lay.neuron is not None]


@pytest.mark.parametrize("delay", [False, True])
@pytest.mark.parametrize("theta", [0.5, 1.0, 2.0])
def test_snntorch_leaky_subtract_is_imported_as_snntorch_runs_it(delay, theta):
    """A two-layer snnTorch ``Leaky`` net (``reset_mechanism='subtract'``, threshold
    theta, ``reset_delay`` as drawn, beta = 7/8): the import with snnTorch's rule gives
    snnTorch's spikes on both layers within Loihi's decay rounding (>= 0.99 of the
    entries), above the plain soft reset; the training block's
    float forward agrees too."""
    snn = pytest.importorskip("snntorch")
    pytest.importorskip("nir")
    from snntorch import utils
    from snntorch.export_nir import export_to_nir
    from lava_mlsnn.nir import from_nir, read_nir
    rng = np.random.default_rng(5)
    fc1, fc2 = torch.nn.Linear(10, 12, bias=False), torch.nn.Linear(12, 4, bias=False)
    with torch.no_grad():  # weights on the fold's exact grid, q * theta / 32
        fc1.weight.copy_(torch.from_numpy(np.r_[[127], rng.integers(-40, 90, 119)]
                                          .reshape(12, 10) * theta / 32))
        fc2.weight.copy_(torch.from_numpy(np.r_[[127], rng.integers(-40, 120, 47)]
                                          .reshape(4, 12) * theta / 16))
    kw = dict(init_hidden=True, reset_mechanism="subtract", reset_delay=delay)
    lif1, lif2 = (snn.Leaky(beta=torch.full((n,), 0.875), threshold=torch.full((n,), theta), **kw)
                  for n in (12, 4))  # per-neuron tensors: nir's type inference needs them
    net = torch.nn.Sequential(fc1, lif1, fc2, lif2)
    x = torch.from_numpy(rng.integers(0, 2, (8, 16, 10))).float()
    utils.reset(net)
    want = [[], []]
    with torch.no_grad():
        for t in range(x.shape[1]):
            h = lif1(fc1(x[:, t]))
            want[0].append(h)
            want[1].append(lif2(fc2(h)))
    want = [torch.stack(w, 1) for w in want]
    graph = export_to_nir(net, torch.zeros(10))
    rule = "snntorch_delay" if delay else "snntorch"
    spec = read_nir(graph, reset=rule, timesteps=16, allow_clipping=True)
    got = emulate(spec, x.long())
    soft = emulate(read_nir(graph, reset="subtract", timesteps=16, allow_clipping=True),
                   x.long())
    layers = [i for i, lay in enumerate(spec.layers) if lay.neuron is not None
              and lay.neuron.type == "MLSN"]
    assert len(layers) == 2 and all(want[k].sum() > 0 for k in range(2))
    agree = [float((got[i].double() == want[k].double()).double().mean())
             for k, i in enumerate(layers)]
    plain = [float((soft[i].double() == want[k].double()).double().mean())
             for k, i in enumerate(layers)]
    assert min(agree) >= 0.99, (agree, plain, rule)
    assert min(plain) < min(agree), (agree, plain)  # the plain soft reset is not snnTorch's
    block_net = from_nir(graph, reset=rule, timesteps=16)
    with torch.no_grad():
        y = block_net(x.permute(0, 2, 1))  # [N, C, T]
    assert (y.permute(0, 2, 1) == want[1]).double().mean() >= 0.99


def test_snntorch_synaptic_zero_with_reset_delay_is_imported_as_snntorch_runs_it():
    """snnTorch's ``Synaptic`` with ``reset_mechanism='zero'`` and its default
    ``reset_delay=True`` (with a synapse bias: a current bias): ``reset='snntorch_zero_delay'``
    agrees within the leaky bound on both layers, ``reset='zero'`` does not."""
    pytest.importorskip("snntorch")
    pytest.importorskip("nir")
    import conformkit as ck
    from lava_mlsnn.nir import read_nir
    case = dict(seed=11, input_levels=1, n_in=12, hidden=10, out=4, conv=None,
                th=[1.0, 0.75], mean_q=40.0, neuron="Synaptic", reset="zero", delay=True,
                bias=True, beta=[0.875, 0.75], alpha=[0.75, 0.5])
    layers = ck.compare("snntorch", case)
    assert all(d["theirs"] > 0 and d["ours"] > 0 for d in layers), layers
    assert min(d["agree"] for d in layers) >= ck.LEAKY, layers
    simulate, graph, options, shape = ck.build_snntorch(case)
    assert options["reset"] == "snntorch_zero_delay"
    x = ck.inputs(case, tuple(shape))
    theirs = simulate(x)
    plain = emulate(read_nir(graph, reset="zero", timesteps=ck.STEPS, allow_clipping=True),
                    x.long())
    mine = [i for i, lay in enumerate(read_nir(graph, reset="zero", timesteps=ck.STEPS,
                                               allow_clipping=True).layers)
            if lay.neuron is not None and lay.neuron.type == "CUBA"]
    worse = [float((plain[i].double().reshape(t.shape) == t.double()).double().mean())
             for i, t in zip(mine, theirs)]
    assert min(worse) < min(d["agree"] for d in layers), (worse, layers)
