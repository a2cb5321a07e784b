"""Every field of every NIR node type (nir 1.0.8) is honoured or refused by the import,
never dropped: each field is changed on its own in a small graph, and the import either
refuses it in one line or gives a different network. A field nir adds later fails the
walk until it is listed here (and in DESIGN §10's table)."""
import dataclasses

import numpy as np
import pytest

nir = pytest.importorskip("nir")

from lava_mlsnn.nir import NIRImportError, read_nir  # noqa: E402

DT = 1e-3
F32 = np.float32
ONE = lambda *s: np.ones(s, F32)  # noqa: E731


def _dense(neuron, bias=True, linear=False, threshold_node=False):
    """Input(4) -> Affine / Linear -> neuron -> Output(3)."""
    rng = np.random.default_rng(0)
    w = rng.normal(0, 1, (3, 4)).astype(F32)
    syn = nir.Linear(weight=w) if linear else \
        nir.Affine(weight=w, bias=(np.array([0.1, -0.2, 0.3], F32) if bias else 0 * ONE(3)))
    nodes = {"in": nir.Input(input_type={"input": np.array([4])}), "syn": syn,
             "n": neuron, "out": nir.Output(output_type={"output": np.array([3])})}
    return nodes


def _conv(pool="SumPool2d", conv_kw=None, pool_kw=None, flat_kw=None):
    """Input(2,6,6) -> Conv2d -> IF -> pool -> IF -> Flatten -> Affine -> LI -> Output,
    the layers after the conv sized to what it computes (a geometry change reaches the
    conv layer, not a shape check downstream)."""
    import torch
    rng = np.random.default_rng(1)
    kw = dict(input_shape=(6, 6), weight=rng.normal(0, 1, (2, 2, 3, 3)).astype(F32),
              stride=1, padding=1, dilation=1, groups=1, bias=np.array([0.1, 0.2], F32))
    kw.update(conv_kw or {})
    pk = dict(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0]))
    pk.update(pool_kw or {})
    w = torch.zeros((2, 2 // int(kw["groups"]), 3, 3))
    c = torch.nn.functional.conv2d(torch.zeros(1, 2, 6, 6), w, stride=kw["stride"],
                                   padding=kw["padding"], dilation=kw["dilation"],
                                   groups=int(kw["groups"])).shape[1:]
    p = torch.nn.functional.avg_pool2d(torch.zeros((1,) + tuple(c)), tuple(pk["kernel_size"]),
                                       tuple(pk["stride"]), tuple(pk["padding"])).shape[1:]
    fk = dict(input_type={"input": np.array(p)}, start_dim=0, end_dim=-1)
    fk.update(flat_kw or {})
    n = int(np.prod(p))
    return {"in": nir.Input(input_type={"input": np.array([2, 6, 6])}),
            "c": nir.Conv2d(**kw), "if1": nir.IF(r=ONE(*c), v_threshold=ONE(*c)),
            "p": getattr(nir, pool)(**pk), "if2": nir.IF(r=ONE(*p), v_threshold=ONE(*p)),
            "f": nir.Flatten(**fk),
            "a": nir.Affine(weight=np.random.default_rng(2).normal(0, 1, (3, n)).astype(F32),
                            bias=np.zeros(3, F32)),
            "li": nir.LI(tau=ONE(3) * 4 * DT, r=ONE(3), v_leak=np.zeros(3, F32)),
            "out": nir.Output(output_type={"output": np.array([3])})}


def _lif(**kw):
    base = dict(tau=ONE(3) * 5 * DT, r=ONE(3), v_leak=np.zeros(3, F32), v_threshold=ONE(3),
                v_reset=np.zeros(3, F32))
    base.update(kw)
    return nir.LIF(**base)


def _cubalif(**kw):
    base = dict(tau_syn=ONE(3) * 2 * DT, tau_mem=ONE(3) * 5 * DT, r=ONE(3),
                v_leak=np.zeros(3, F32), v_threshold=ONE(3), v_reset=np.zeros(3, F32),
                w_in=ONE(3))
    base.update(kw)
    return nir.CubaLIF(**base)


def _if(**kw):
    base = dict(r=ONE(3), v_threshold=ONE(3), v_reset=np.zeros(3, F32))
    base.update(kw)
    return nir.IF(**base)


def _li(**kw):
    base = dict(tau=ONE(3) * 4 * DT, r=ONE(3), v_leak=np.zeros(3, F32))
    base.update(kw)
    return nir.LI(**base)


def _chain(nodes):
    order = list(nodes)
    return nir.NIRGraph(nodes=nodes, edges=list(zip(order, order[1:])), type_check=False)


def _with(nodes, name, node):
    nodes = dict(nodes)
    nodes[name] = node
    return nodes


def _insert(nodes, after, name, node):
    out = {}
    for k, v in nodes.items():
        out[k] = v
        if k == after:
            out[name] = node
    return out


def _scale(s):
    return _insert(_dense(_lif()), "syn", "s", nir.Scale(scale=np.asarray(s, F32)))


def _delay(d):
    return _insert(_dense(_lif()), "syn", "d", nir.Delay(delay=np.asarray(d, F32)))


W = np.random.default_rng(0).normal(0, 1, (3, 4)).astype(F32)
# node type -> field -> (graph with the field as in the base, graph with it changed)
CASES = {
    "Input": {"input_type": (_dense(_lif()), _with(_dense(_lif()), "in", nir.Input(
        input_type={"input": np.array([5])})))},
    "Output": {"output_type": (_dense(_lif()), _with(_dense(_lif()), "out", nir.Output(
        output_type={"output": np.array([4])})))},
    "Affine": {"weight": (_dense(_lif()), _with(_dense(_lif()), "syn", nir.Affine(
        weight=-W, bias=np.array([0.1, -0.2, 0.3], F32)))),
               "bias": (_dense(_lif()), _with(_dense(_lif()), "syn", nir.Affine(
                   weight=W, bias=np.array([0.5, -0.2, 0.3], F32))))},
    "Linear": {"weight": (_dense(_lif(), linear=True), _with(_dense(_lif()), "syn",
                                                             nir.Linear(weight=-W)))},
    "Conv2d": {"input_shape": (_conv(), _conv(conv_kw={"input_shape": (5, 5)})),
               "weight": (_conv(), _conv(conv_kw={"weight": -_conv()["c"].weight})),
               "stride": (_conv(), _conv(conv_kw={"stride": 2})),
               "padding": (_conv(), _conv(conv_kw={"padding": 0})),
               "dilation": (_conv(), _conv(conv_kw={"dilation": 2})),
               "groups": (_conv(), _conv(conv_kw={"groups": 2})),  # weight (2, 2, ...)
               "bias": (_conv(), _conv(conv_kw={"bias": np.array([0.5, -0.2], F32)}))},
    "SumPool2d": {"kernel_size": (_conv(), _conv(pool_kw={"kernel_size": np.array([3, 3])})),
                  "stride": (_conv(), _conv(pool_kw={"stride": np.array([1, 1])})),
                  "padding": (_conv(), _conv(pool_kw={"padding": np.array([1, 1])}))},
    "AvgPool2d": {"kernel_size": (_conv("AvgPool2d"), _conv("AvgPool2d", pool_kw={
        "kernel_size": np.array([3, 3])})),
                  "stride": (_conv("AvgPool2d"), _conv("AvgPool2d", pool_kw={
                      "stride": np.array([1, 1])})),
                  "padding": (_conv("AvgPool2d"), _conv("AvgPool2d", pool_kw={
                      "padding": np.array([1, 1])}))},
    "Flatten": {"start_dim": (_conv(), _conv(flat_kw={"start_dim": 1})),
                "end_dim": (_conv(), _conv(flat_kw={"end_dim": 1})),
                "input_type": (_conv(), _conv(flat_kw={"input_type": {
                    "input": np.array([2, 4, 4])}}))},
    "Scale": {"scale": (_scale(ONE(3)), _scale(np.array([1.0, 2.0, 0.5])))},
    "Delay": {"delay": (_delay(np.zeros(3)), _delay(np.ones(3)))},
    "IF": {"r": (_dense(_if()), _dense(_if(r=ONE(3) * 2))),
           "v_threshold": (_dense(_if()), _dense(_if(v_threshold=ONE(3) * 2))),
           "v_reset": (_dense(_if()), _dense(_if(v_reset=ONE(3) * 0.2)))},
    "LIF": {"tau": (_dense(_lif()), _dense(_lif(tau=ONE(3) * 9 * DT))),
            "r": (_dense(_lif()), _dense(_lif(r=ONE(3) * 2))),
            "v_leak": (_dense(_lif()), _dense(_lif(v_leak=ONE(3) * 0.5))),
            "v_threshold": (_dense(_lif()), _dense(_lif(v_threshold=ONE(3) * 2))),
            "v_reset": (_dense(_lif()), _dense(_lif(v_reset=ONE(3) * 0.2)))},
    "CubaLIF": {k: (_dense(_cubalif(), bias=False), _dense(_cubalif(**{k: v}), bias=False))
                for k, v in [("tau_syn", ONE(3) * 3 * DT), ("tau_mem", ONE(3) * 9 * DT),
                             ("r", ONE(3) * 2), ("v_leak", ONE(3) * 0.5),
                             ("v_threshold", ONE(3) * 2), ("v_reset", ONE(3) * 0.2),
                             ("w_in", ONE(3) * 2)]},
    "LI": {"tau": (_dense(_li()), _dense(_li(tau=ONE(3) * 9 * DT))),
           "r": (_dense(_li()), _dense(_li(r=ONE(3) * 2))),
           "v_leak": (_dense(_li()), _dense(_li(v_leak=ONE(3) * 0.5)))},
    "I": {"r": (_dense(nir.I(r=ONE(3))), _dense(nir.I(r=ONE(3) * 0.5)))},
    "Threshold": {"threshold": (_dense(nir.Threshold(threshold=ONE(3))),
                                _dense(nir.Threshold(threshold=ONE(3) * 2)))},
}
# Not parameters: `metadata` is non-normative in NIR (lava-mlsnn reads only its own
# 'lava_mlsnn' keys, checked against the nodes); a non-graph node's `input_type` /
# `output_type` are the types nir infers from its parameters.
NOT_PARAMETERS = {"metadata", "input_type", "output_type"}
REFUSED = {"CubaLI", "Conv1d", "NIRGraph"}  # whole node types: tests/test_nir.py


def _signature(spec) -> str:
    with np.printoptions(threshold=10**6):
        return repr([(layer.type, layer.shape, [(b.source, b.synapse) for b in layer.branches],
                      layer.neuron) for layer in spec.layers])


# A readout's scale is free: the fold rescales it to its integer grid (argmax and sign
# unchanged), so its gain r shows in the trainable network, not in the deployed integers.
SCALE_FREE = {("LI", "r"), ("I", "r")}


def _differs(a, b) -> bool:
    if type(a) is not type(b):
        return True
    for f in dataclasses.fields(a):
        if f.name == "metadata":
            continue
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, dict) or isinstance(y, dict):
            x, y = ({k: np.asarray(v).tolist() for k, v in (d or {}).items()} for d in (x, y))
            if x != y:
                return True
        elif not np.array_equal(np.asarray(x, dtype=object if isinstance(x, str) else None),
                                np.asarray(y, dtype=object if isinstance(y, str) else None)):
            return True
    return False


def _import(nodes):
    return read_nir(_chain(nodes), dt=DT, reset="subtract", levels=2, timesteps=4,
                    allow_clipping=True)


def test_every_field_of_every_node_type_is_listed():
    listed = set(CASES) | REFUSED
    types = {n for n in nir.ir.__all__ if isinstance(getattr(nir, n, None), type)
             and dataclasses.is_dataclass(getattr(nir, n))} - {"NIRNode"}
    assert types <= listed | {"NIRGraph"}, types - listed
    for kind, fields in CASES.items():
        names = {f.name for f in dataclasses.fields(getattr(nir, kind))}
        own = names - NOT_PARAMETERS if kind not in ("Input", "Output", "Flatten") else \
            names - {"metadata", "input_type" if kind == "Output" else "output_type"}
        assert own == set(fields), (kind, own ^ set(fields))


@pytest.mark.parametrize("kind, field", [(k, f) for k, fs in CASES.items() for f in fs])
def test_field_is_honoured_or_refused(kind, field):
    base, changed = CASES[kind][field]
    if (kind, field) in SCALE_FREE:
        from lava_mlsnn.nir import from_nir
        a, b = (from_nir(_chain(g), dt=DT, reset="subtract").blocks[-1].synapse.weight
                for g in (base, changed))
        assert not bool((a == b).all()), f"{kind}.{field} changed, the import did not"
        return
    ref = _signature(_import(base))
    node = [n for n in changed if n not in base or _differs(changed[n], base[n])]
    assert node, "the case changes nothing"
    try:
        spec = _import(changed)
    except NIRImportError as e:
        assert "\n" not in str(e) and str(e)
        if kind != "Input":  # the refusal is about the changed node, not a later one
            assert any(str(e).startswith(f"{n}") or f" {n} " in str(e) or f"{n}:" in str(e)
                       for n in node), (node, str(e))
        return
    assert _signature(spec) != ref, f"{kind}.{field} changed, the import did not"
