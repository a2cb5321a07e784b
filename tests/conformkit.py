"""Random networks built in the peer frameworks (snnTorch, Norse, Sinabs) from a parameter
draw, their own simulation layer by layer, and the comparison with lava-mlsnn's import of
the NIR graph the peer writes (``tests/test_nir_conformance.py``,
``benchmarks/bench_nir_conformance.py``).

A case is a plain dict of the peer's parameters (hypothesis draws them); ``build_<peer>``
returns ``(simulate, graph, import_options)``: ``simulate(x [B, T, ...] float)`` gives the
spikes of every neuron layer, ``[B, T, ...]`` each, in the order the layers come."""
from __future__ import annotations

import math
import warnings
from typing import Callable, Dict, List, Tuple

import numpy as np
import torch
from hypothesis import strategies as st

STEPS = 8
BATCH = 16


def _weights(layer: torch.nn.Module, theta: float, mean_q: float, seed: int,
             bias: bool = False, boost: int = 0, off_grid: bool = False) -> None:
    """Weights on the grid the import folds exactly: ``q * theta / 2**m`` with integers
    ``|q| <= 127``, one of them 127 (the fold's scale is then ``2**(m+1)``: every integer
    weight is ``2 q``), ``2**m`` about 32 x fan-in / 2**boost; a mean of ``mean_q`` makes
    the layer fire. A bias, when the layer has one, lies on the same grid."""
    rng = np.random.default_rng(seed)
    w = layer.weight
    fan_in = int(np.prod(w.shape[1:]))
    unit = theta / 2.0 ** (math.ceil(math.log2(fan_in)) + 5 - boost)
    q = np.clip(np.round(rng.normal(mean_q, 50.0, tuple(w.shape))), -127, 127)
    q.reshape(-1)[0] = 127
    if off_grid:  # what trained weights are: the import's 8-bit rounding comes on top
        q = q + rng.uniform(-0.5, 0.5, q.shape) * (q != 127)
    with torch.no_grad():
        w.copy_(torch.from_numpy(q * unit))
        if layer.bias is not None:
            layer.bias.copy_(torch.from_numpy(
                rng.integers(-8, 24, tuple(layer.bias.shape)) * unit * bias))


def inputs(case: dict, shape: Tuple[int, ...]) -> torch.Tensor:
    """Integer input ``[B, T, *shape]`` in 0..input_levels (graded when > 1)."""
    rng = np.random.default_rng(case["seed"])
    return torch.from_numpy(rng.integers(0, case["input_levels"] + 1,
                                         (BATCH, STEPS) + shape)).float()


def _first(case: dict, bias: bool):
    """The first synapse and the shape it reads: Linear(n_in, hidden) or the drawn Conv2d
    on (2, size, size)."""
    c = case.get("conv")
    if not c:
        return torch.nn.Linear(case["n_in"], case["hidden"], bias=bias), (case["n_in"],)
    return (torch.nn.Conv2d(2, c["channels"], c["kernel"], stride=c["stride"],
                            padding=c["padding"], bias=bias), (2, c["size"], c["size"]))


def _out_shape(mod: torch.nn.Module, shape: Tuple[int, ...]) -> Tuple[int, ...]:
    with torch.no_grad():
        return tuple(mod(torch.zeros((1,) + tuple(shape))).shape[1:])


def _chain(case: dict, neuron: Callable, pool_cls, bias: bool, flatten: bool = True):
    """first synapse -> neuron [-> pool] [-> Flatten] -> Linear(out) -> neuron (or, without
    ``flatten``, a second 3x3 conv); returns the modules, the synapses, the neurons and the
    input shape."""
    first, shape = _first(case, bias)
    h = _out_shape(first, shape)
    mods = [first, neuron(0, h)]
    if case.get("conv"):
        if not flatten:
            second = torch.nn.Conv2d(h[0], case["out"], 3, padding=1, bias=bias)
            mods += [second, neuron(1, _out_shape(second, h))]
            return mods, [first, second], [mods[1], mods[3]], shape
        if case["conv"]["pool"] and pool_cls is not None:
            mods.append(pool_cls(2))
            h = _out_shape(mods[-1], h)
        mods.append(torch.nn.Flatten())
    last = torch.nn.Linear(int(np.prod(h)), case["out"], bias=bias)
    mods += [last, neuron(1, (case["out"],))]
    return mods, [first, last], [mods[1], mods[-1]], shape


def _set_weights(case: dict, syn: list, boost: int = 0) -> None:
    """``boost``: neurons whose steady state is their input (no 1/(1-beta) gain) need
    larger weights; the second layer reads sparser spikes than the input (4x)."""
    for k, s in enumerate(syn):
        _weights(s, case["th"][k], case["mean_q"], case["seed"] + k, case["bias"],
                 boost + 2 * k, case.get("off_grid", False))


# --- snnTorch ---------------------------------------------------------------------------

def build_snntorch(case: dict):
    """Leaky | Synaptic (beta, alpha per layer), threshold per layer, reset 'zero' |
    'subtract' with ``reset_delay`` drawn (True is snnTorch's default; imported with
    :func:`snntorch_reset`), bias (Leaky with 'subtract': on v; Synaptic with either
    reset: into the current, a current bias), dense; snnTorch 1.0's conv export fails in
    nir's type inference (its bug), so conv is Norse's and Sinabs' part of the grid."""
    import snntorch as snn
    from snntorch.export_nir import export_to_nir
    kind, reset = case["neuron"], case["reset"]

    def neuron(k, n):
        kw = dict(threshold=torch.full(n, case["th"][k]), init_hidden=True,
                  reset_mechanism=reset, reset_delay=_delay(case))
        if kind == "Synaptic":
            return snn.Synaptic(alpha=torch.full(n, case["alpha"][k]),
                                beta=torch.full(n, case["beta"][k]), **kw)
        return snn.Leaky(beta=torch.full(n, case["beta"][k]), learn_beta=False, **kw)
    mods, syn, neu, shape = _chain(case, neuron, torch.nn.AvgPool2d, case["bias"])
    net = torch.nn.Sequential(*mods)
    _set_weights(case, syn)

    def simulate(x: torch.Tensor) -> List[torch.Tensor]:
        from snntorch import utils
        utils.reset(net)
        rec: Dict[int, list] = {k: [] for k in range(len(neu))}
        with torch.no_grad():
            for t in range(x.shape[1]):
                z = x[:, t]
                for m in mods:
                    z = m(z)
                    if m in neu:
                        rec[neu.index(m)].append(z)
        return [torch.stack(rec[k], 1) for k in range(len(neu))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = export_to_nir(net, torch.zeros(shape))
    return simulate, graph, dict(reset=snntorch_reset(case), levels=1, dt=1e-4), shape


def _delay(case: dict) -> bool:
    return case.get("delay", False)


def snntorch_reset(case: dict) -> str:
    """The import's ``reset`` for an snnTorch draw: its own rule (DESIGN §5)."""
    if case["reset"] == "zero":
        return "snntorch_zero_delay" if _delay(case) else "zero"
    return "snntorch_delay" if _delay(case) else "snntorch"


# --- Norse ------------------------------------------------------------------------------

def build_norse(case: dict):
    """LIFBoxCell (per-layer step d = dt tau_mem_inv, v_th) | IAFCell (v_th) | LIFCell
    (d and ds = dt tau_syn_inv: a current that jumps by its input, imported with
    current='jump'; a bias enters that current), hard reset to 0, the cells' dt drawn
    (Norse's default 1e-3, 5e-4, 1e-4; to_nir's own dt left at its default 1e-3, so the
    import's dt is dt * 1e-3, DESIGN §10);
    dense, or conv -> conv (Norse 1.1 writes None for a Flatten: refused)."""
    import norse.torch as nt
    dt = case.get("dt", 1e-3)

    def neuron(k, n):  # scalar parameters: Norse's exporter mixes their shapes otherwise
        th = torch.tensor(case["th"][k])
        if case["neuron"] == "IAFCell":
            return nt.IAFCell(nt.IAFParameters(v_th=th), dt=dt)
        if case["neuron"] == "LIFCell":  # current-based: CubaLIF, read with current='jump'
            return nt.LIFCell(nt.LIFParameters(tau_mem_inv=torch.tensor(case["d"][k] / dt),
                                               tau_syn_inv=torch.tensor(case["ds"][k] / dt),
                                               v_th=th), dt=dt)
        return nt.LIFBoxCell(nt.LIFBoxParameters(
            tau_mem_inv=torch.tensor(case["d"][k] / dt), v_th=th), dt=dt)
    # Norse's exporter needs a bias tensor on every synapse (a zero one here)
    mods, syn, cells, shape = _chain(case, neuron, None, True, flatten=False)
    net = nt.SequentialState(*mods)
    _set_weights(case, syn, 2 if case["neuron"] == "LIFBoxCell" else 0)

    def simulate(x: torch.Tensor) -> List[torch.Tensor]:
        rec: Dict[int, list] = {k: [] for k in range(len(cells))}
        state = [None] * len(mods)
        with torch.no_grad():
            for t in range(x.shape[1]):
                z = x[:, t]
                for i, m in enumerate(mods):
                    if m in cells:
                        z, state[i] = m(z, state[i])
                        rec[cells.index(m)].append(z)
                    else:
                        z = m(z)
        return [torch.stack(rec[k], 1) for k in range(len(cells))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = nt.to_nir(net, torch.zeros((1,) + shape))
    return simulate, graph, dict(reset="zero", levels=1, dt=dt * 1e-3, current="jump"), shape


# --- Sinabs -----------------------------------------------------------------------------

def build_sinabs(case: dict):
    """IAF | LIF (tau_mem in steps, one per net) with per-layer spike_threshold,
    SingleSpike or MaxSpike(levels), MembraneSubtract, bias; dense or conv [SumPool2d]
    Flatten Linear. LIF is imported at dt = tau (1 - exp(-1/tau)), Sinabs' exact step."""
    import sinabs
    import sinabs.layers as sl
    from sinabs.activation import MaxSpike, SingleSpike
    levels, tau = case["levels"], case["tau"]
    spike = SingleSpike if levels == 1 else MaxSpike(levels)

    def neuron(k, n):
        th = torch.tensor(case["th"][k])
        if case["neuron"] == "LIF":
            return sl.LIFSqueeze(tau_mem=torch.tensor(tau), num_timesteps=STEPS,
                                 spike_threshold=th, spike_fn=spike)
        return sl.IAFSqueeze(num_timesteps=STEPS, spike_threshold=th, spike_fn=spike)
    mods, syn, cells, shape = _chain(case, neuron, sl.SumPool2d, case["bias"])
    net = torch.nn.Sequential(*mods)
    _set_weights(case, syn, 2 if case["neuron"] == "LIF" else 0)

    def simulate(x: torch.Tensor) -> List[torch.Tensor]:
        for c in cells:
            c.reset_states()
        rec, z = [], x.reshape((-1,) + tuple(x.shape[2:]))
        with torch.no_grad():
            for m in mods:
                z = m(z)
                if m in cells:
                    rec.append(z.reshape((x.shape[0], x.shape[1]) + tuple(z.shape[1:])))
        return rec
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = sinabs.to_nir(net, torch.zeros((STEPS,) + shape))
    dt = tau * (1 - math.exp(-1 / tau)) if case["neuron"] == "LIF" else 1e-4
    return simulate, graph, dict(reset="subtract", levels=levels, dt=dt), shape


def compare(peer: str, case: dict) -> List[dict]:
    """Build, simulate in the peer, import its NIR graph, emulate; per compared layer the
    spike agreement (fraction of equal entries) and both spike totals."""
    from lava_mlsnn.netx import emulate
    from lava_mlsnn.nir import read_nir
    simulate, graph, options, shape = BUILDERS[peer](case)
    x = inputs(case, tuple(shape))
    theirs = simulate(x)
    spec = read_nir(graph, input_levels=case["input_levels"], timesteps=STEPS,
                    allow_clipping=True, **options)
    emu = emulate(spec, x.long())
    mine = [i for i, layer in enumerate(spec.layers)
            if layer.neuron is not None and layer.neuron.type in ("MLSN", "CUBA")]
    assert len(mine) == len(theirs), (len(mine), len(theirs))
    out = []
    for i, ref in zip(mine, theirs):
        ours = emu[i].double().reshape(ref.shape)
        out.append({"layer": i, "agree": float((ours == ref.double()).double().mean()),
                    "ours": int(ours.sum()), "theirs": int(ref.sum())})
    return out


# --- the parameter grid (hypothesis strategies) ------------------------------------------

thresholds = st.lists(st.sampled_from([0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0]),
                      min_size=2, max_size=2)
convs = st.fixed_dictionaries({
    "channels": st.integers(2, 4), "size": st.integers(5, 8), "kernel": st.integers(1, 3),
    "stride": st.integers(1, 2), "padding": st.integers(0, 1), "pool": st.booleans()})


def _common(conv: bool):
    return dict(seed=st.integers(0, 10**6), input_levels=st.sampled_from([1, 2, 3]),
                n_in=st.integers(4, 24), hidden=st.integers(3, 16), out=st.integers(2, 6),
                conv=convs if conv else st.none(), th=thresholds,
                mean_q=st.floats(10, 50, allow_subnormal=False))


snntorch_cases = st.fixed_dictionaries(dict(
    _common(False), neuron=st.sampled_from(["Leaky", "Synaptic"]),
    reset=st.sampled_from(["zero", "subtract"]), bias=st.booleans(), delay=st.booleans(),
    beta=st.lists(st.integers(2, 32).map(lambda k: 1 - k / 64), min_size=2, max_size=2),
    alpha=st.lists(st.integers(4, 48).map(lambda k: 1 - k / 64), min_size=2, max_size=2)))
norse_cases = st.booleans().flatmap(lambda conv: st.fixed_dictionaries(dict(
    _common(conv), neuron=st.sampled_from(["LIFBoxCell", "IAFCell", "LIFCell"]),
    bias=st.booleans(),  # a LIFCell's enters its current; the others' (on v) are refused
    d=st.lists(st.sampled_from([1 / 16, 1 / 8, 3 / 16, 1 / 4, 1 / 2]), min_size=2,
               max_size=2),
    ds=st.lists(st.sampled_from([1 / 8, 1 / 4, 1 / 2, 3 / 4]), min_size=2, max_size=2),
    dt=st.sampled_from([1e-3, 5e-4, 1e-4]))))  # the cells' step: imported at dt**2
sinabs_cases = st.booleans().flatmap(lambda conv: st.fixed_dictionaries(dict(
    _common(conv), neuron=st.sampled_from(["IAF", "LIF"]), bias=st.booleans(),
    # tau with exp(-1/tau) = 1 - k/64: Sinabs' decay on the 1/4096 grid (off it, the decay
    # is converted with an error <= 1/8192 a step and spike times drift: BENCHMARKS)
    levels=st.integers(1, 3), tau=st.integers(4, 40).map(lambda k: -1 / math.log(1 - k / 64)))))


# Per-layer agreement (fraction of equal spike entries) the import states, by neuron kind
# (measured minima: BENCHMARKS.md "NIR conformance"): integrate-and-fire exact, leaky
# neurons within Loihi's decay rounded toward zero (one state unit a step).
EXACT, LEAKY = 1.0, 0.95


def bound(peer: str, case: dict) -> float:
    """The agreement with the peer's own simulation this draw must reach per layer."""
    if case["neuron"] in ("IAF", "IAFCell"):
        return EXACT
    return LEAKY


def refusal(peer: str, case: dict):
    """What the import must refuse for this draw (a fragment of its line), or None."""
    if peer == "snntorch" and case["bias"] and case["neuron"] == "Leaky" and \
            case["reset"] == "zero":
        return "hard-reset neuron"  # a bias on v (a Synaptic's enters its current)
    if peer == "norse" and case["bias"] and case["neuron"] != "LIFCell":
        return "hard-reset neuron"
    return None


BUILDERS: Dict[str, Callable] = {"snntorch": build_snntorch, "norse": build_norse,
                                 "sinabs": build_sinabs}
CASES = {"snntorch": snntorch_cases, "norse": norse_cases, "sinabs": sinabs_cases}
