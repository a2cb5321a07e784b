"""Read and validate the lava-mlsnn HDF5 format (DESIGN §6); writing is in ``writer``.

The format is lava-dl's NetX layout extended with residual joins and graded-spike
neurons. Stock lava-dl exports (no root attributes, CUBA neurons) are read as they
are. Reading collects *every* problem before failing, so ``lava-mlsnn validate``
can report them all at once.

:func:`read_network` is the one gate of every command and API: what it accepts,
every backend runs (DESIGN §7 lists the ranges). Values are read through
:mod:`.h5values` (sizes checked before reading, links and non-plain objects
refused, numbers finite, integral and in range before any cast, text UTF-8);
geometry and the counts a file declares are checked against its data
(:func:`_check_geometry`, :func:`_check_declared`, :func:`check_shapes`,
:func:`_check_runnable`).
"""
from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Dict, List, Optional, Tuple

import h5py
import numpy as np

from .. import _io
from .params import DECAY_ONE, SAT_MAX, NeuronParams, SynapseSpec, default_bias_exp
from . import h5values as hv
from .schema import (_REQUIRED_ROOT_ATTRS, _ROOT_ATTRS, _SYNAPSE_KEYS, BRANCH_KEYS,
                     EXACT_SUM_LIMIT, LAYER_KEYS, MAX_BRANCHES, MAX_DIM, MAX_LAYERS,
                     LOIHI_IGNORED, MAX_NEURONS, NETX_DEFAULT_NEURON, NETX_UNBUILT,
                     NETX_UNSUPPORTED_NEURONS, NEURON_KEYS, RANGES, STOCK_IGNORED_LAYER,
                     STOCK_IGNORED_ROOT, STOCK_OVERFLOW)
from .spec import INPUT, LAYER_TYPES, Branch, LayerSpec, NetworkSpec
from .shapes import synapse_output_shape

from .writer import FORMAT_NAME

class FormatError(ValueError):
    """The file is not a valid network; ``problems`` lists every reason."""

    def __init__(self, problems: List[str], path: str = ""):
        self.problems = list(problems)
        self.path = path
        where = f"{path}: " if path else ""
        super().__init__(where + "; ".join(self.problems))


# --------------------------------------------------------------------------- reading helpers
def _range(key: str) -> Tuple[int, int]:
    return RANGES.get(key, (-(1 << 31), (1 << 31) - 1))


def _get(group: h5py.Group, key: str, default: Any = None, problems: Optional[List[str]] = None,
         where: str = "") -> Any:
    """The checked value of dataset ``key`` (text decoded), ``default`` when absent."""
    probs = problems if problems is not None else []
    ds = hv.member(group, key, where, probs, h5py.Dataset)
    if ds is None:
        return default
    v = hv.read_dataset(ds, f"{where}/{key}" if where else key, probs)
    return default if v is None else v


def _text(group: h5py.Group, key: str, problems: List[str], where: str) -> Optional[str]:
    return hv.text(_get(group, key, None, problems, where), f"{where}/{key}", problems)


def _int(group: h5py.Group, key: str, default: Optional[int], problems: List[str], where: str
         ) -> Optional[int]:
    v = _get(group, key, None, problems, where)
    if v is None:
        return default
    lo, hi = _range(key)
    out = hv.int_value(v, f"{where}/{key}", problems, lo, hi)
    return default if out is None else out


def _pair(group: h5py.Group, key: str, default: int, problems: List[str], where: str
          ) -> Tuple[int, int]:
    v = _get(group, key, None, problems, where)
    if v is None:
        return (default, default)
    lo, hi = _range(key)
    t = hv.int_tuple(v, f"{where}/{key}", problems, lo, hi, (1, 2))
    if t is None:
        return (default, default)
    return (t[0], t[0]) if len(t) == 1 else (t[0], t[1])


def _int_array(group: h5py.Group, key: str, problems: List[str], where: str
               ) -> Optional[np.ndarray]:
    v = _get(group, key, None, problems, where)
    if v is None:
        return None
    lo, hi = _range(key)
    return hv.int_array(v, f"{where}/{key}", problems, lo, hi)


# --------------------------------------------------------------------------- synapses
def _read_synapse(kind: str, g: h5py.Group, exp: int, problems: List[str], where: str,
                  n_out: int = 0, key: str = "weight") -> Optional[SynapseSpec]:
    if kind not in _SYNAPSE_KEYS:
        problems.append(f"{where}/type: unknown synapse type {kind!r} (expected dense, conv, "
                        "pool or identity)")
        return None
    n_before = len(problems)
    w = _int_array(g, key, problems, where)
    if len(problems) > n_before:
        return None
    if kind == "identity":
        w = np.array(1, dtype=np.int64) if w is None else w
        if w.size != 1:
            problems.append(f"{where}/weight: identity weight must be a scalar")
            return None
        return SynapseSpec("identity", w.reshape(()), exp)
    if kind == "pool":
        w = np.array(1, dtype=np.int64) if w is None else w
        if w.size == 0 or (w.size > 1 and np.any(w != w.ravel()[0])):
            problems.append(f"{where}/weight: pool weights must all be equal (one scalar)")
            return None
        kernel = _pair(g, "kernelSize", 1, problems, where)
        if _pair(g, "dilation", 1, problems, where) != (1, 1):
            problems.append(f"{where}/dilation: pool dilation other than 1 is not supported")
        return SynapseSpec("pool", w.ravel()[:1].reshape(()), exp,
                           stride=_pair(g, "stride", 1, problems, where) if "stride" in g
                           else kernel,
                           padding=_pair(g, "padding", 0, problems, where), kernel=kernel)
    if w is None:
        problems.append(f"{where}: missing '{key}'")
        return None
    if kind == "dense":
        if w.ndim == 1 and n_out and w.size % n_out == 0:  # netx: weight.reshape(out, -1)
            w = w.reshape(n_out, -1)
        if w.ndim != 2 or 0 in w.shape:
            problems.append(f"{where}/{key}: dense weight must be 2-D (out, in), got {w.shape}")
            return None
        return SynapseSpec("dense", w, exp)
    if w.ndim == 5 and w.shape[-1] == 1:  # lava-dl keeps a trailing time axis
        w = w[..., 0]
    if w.ndim != 4 or 0 in w.shape:
        problems.append(f"{where}/weight: conv weight must be 4-D (out, in/groups, kH, kW), "
                        f"got {w.shape}")
        return None
    return SynapseSpec("conv", w, exp,
                       stride=_pair(g, "stride", 1, problems, where),
                       padding=_pair(g, "padding", 0, problems, where),
                       dilation=_pair(g, "dilation", 1, problems, where),
                       groups=_int(g, "groups", 1, problems, where),
                       kernel=tuple(int(k) for k in w.shape[2:]))


def _check_geometry(syn: SynapseSpec, problems: List[str], where: str) -> None:
    """What the backends need beyond the ranges (PyTorch's conv/pool rules)."""
    if syn.kind == "conv" and syn.weight.shape[0] % syn.groups:
        problems.append(f"{where}/groups: {syn.groups} groups do not divide the "
                        f"{syn.weight.shape[0]} output channels")
    if syn.kind == "pool":
        for axis, (k, p) in enumerate(zip(syn.kernel, syn.padding)):
            if 2 * p > k:
                problems.append(f"{where}/padding: pool padding {p} exceeds half the kernel "
                                f"size {k} (axis {axis}); the backends cannot run it")


def _check_declared(kind: str, syn: SynapseSpec, g: h5py.Group, problems: List[str],
                    where: str) -> None:
    """Counts the file declares beside the weights must agree with them."""
    declared: Dict[str, Any] = {}
    if kind == "dense":
        declared = {"inFeatures": int(syn.weight.shape[1]),
                    "outFeatures": int(syn.weight.shape[0])}
    elif kind == "conv":
        declared = {"inChannels": int(syn.weight.shape[1]) * syn.groups,
                    "outChannels": int(syn.weight.shape[0])}
        if "kernelSize" in g:
            k = _pair(g, "kernelSize", 1, problems, where)
            if k != tuple(syn.weight.shape[2:]):
                problems.append(f"{where}/kernelSize: {k} contradicts the weight's kernel "
                                f"{tuple(syn.weight.shape[2:])}")
    for key, actual in declared.items():
        if key in g:
            v = _int(g, key, None, problems, where)
            if v is not None and v != actual:
                problems.append(f"{where}/{key}: {v} contradicts the weight shape "
                                f"{tuple(syn.weight.shape)} (which gives {actual})")


def _read_recurrent(g: h5py.Group, shape: Tuple[int, ...], exp: int, problems: List[str],
                    where: str) -> Optional[SynapseSpec]:
    """``weight_rec`` of a ``dense_rec`` layer: ``(n, n)`` for its ``n`` neurons."""
    if "weight_rec" not in g:
        problems.append(f"{where}: missing 'weight_rec' (a dense_rec layer's recurrent weights)")
        return None
    syn = _read_synapse("dense", g, exp, problems, where, n_out=shape[0], key="weight_rec")
    if syn is not None and syn.weight.shape != (shape[0], shape[0]):
        problems.append(f"{where}/weight_rec: shape {syn.weight.shape}, expected "
                        f"{(shape[0], shape[0])} for {shape[0]} neurons")
        return None
    return syn


def _read_delay(g: h5py.Group, syn: SynapseSpec, problems: List[str], where: str
                ) -> SynapseSpec:
    """A dense layer's axonal ``delay`` as stock netx reads it (``create_dense``).

    A scalar applies to every synapse; a 1-D array is per output neuron when it has
    one value per output (checked first, as netx does), else per input neuron; a 2-D
    array is per synapse ``(out, in)``. Per-synapse delays that are equal along each
    row are kept per neuron (the same arithmetic, one synapse sum).
    """
    if "delay" not in g:
        return syn
    if syn.kind != "dense":
        problems.append(f"{where}/delay: axonal delays on {syn.kind} layers are not supported "
                        "(stock netx ignores them, so the network would run undelayed); "
                        "export the layer without delay=True")
        return syn
    d = _int_array(g, "delay", problems, where)
    if d is None:
        return syn
    n_out, n_in = syn.weight.shape
    if d.ndim == 0:
        d = np.full(n_out, int(d), dtype=np.int64)
    elif d.ndim == 1 and d.size == n_out:
        pass
    elif d.ndim == 1 and d.size == n_in:
        d = np.repeat(d.reshape(1, -1), n_out, axis=0)
    elif d.shape != (n_out, n_in):
        problems.append(f"{where}/delay: shape {d.shape} fits neither the {n_out} output "
                        f"neurons, the {n_in} inputs, nor the weight shape {(n_out, n_in)}")
        return syn
    if d.ndim == 2 and np.all(d == d[:, :1]):
        d = d[:, 0].copy()
    return replace(syn, delay=d.astype(np.int64))


# --------------------------------------------------------------------------- neurons
def _read_neuron(g: h5py.Group, layer_type: str, input_levels: int, problems: List[str],
                 where: str, ignored: Optional[Dict[str, List[str]]] = None
                 ) -> Optional[NeuronParams]:
    """``ignored`` (a stock file's): collects what netx reads past, by what, per layer."""
    if layer_type == "flatten":
        return None
    if layer_type == "input" and "neuron" not in g:
        if ignored is not None:  # stock netx hands the data to the next synapse unchanged
            return NeuronParams(type="PASS")
        return NeuronParams(type="INPUT", input_levels=input_levels)
    ng = hv.member(g, "neuron", where, problems, h5py.Group)
    if ng is None:
        if "neuron" not in g and layer_type == "dense":  # netx's default integrator
            d = NETX_DEFAULT_NEURON
            return NeuronParams(type="CUBA", v_th_mant=d["vThMant"], i_decay=d["iDecay"],
                                v_decay=d["vDecay"])
        if "neuron" not in g:
            problems.append(f"{where}: missing 'neuron' group")
        return None
    nw = f"{where}/neuron"
    ntype = _text(ng, "type", problems, nw)
    if ntype in NETX_UNSUPPORTED_NEURONS or (ntype or "").startswith("RF"):
        what = NETX_UNSUPPORTED_NEURONS.get(ntype, f"resonate-and-fire ({ntype}) neurons")
        problems.append(f"{nw}/type: {what} are not supported by lava-mlsnn")
        return None
    allowed = ("MLSN", "READOUT", "PASS", "CUBA", "SDNN") if layer_type != "input" \
        else ("CUBA", "SDNN")
    if ntype not in NEURON_KEYS or (ntype != "LOIHI" and ntype not in allowed):
        if ntype is not None or "type" not in ng:
            problems.append(f"{nw}/type: unknown neuron type {ntype!r} in a {layer_type} layer "
                            f"(expected {', '.join(allowed + ('LOIHI',))})")
        return None
    hv.check_members(ng, NEURON_KEYS[ntype], nw, problems)
    skip = ("type", "activation") + (LOIHI_IGNORED if ntype == "LOIHI" else ()) + \
        (("vThMant",) if ntype == "SDNN" else ())
    if ntype == "LOIHI" and ignored is not None:
        for k in LOIHI_IGNORED:
            if k in ng:
                ignored.setdefault(f"neuron/{k} (netx reads past it)", []).append(where)
    vals = {k: _int(ng, k, None, problems, nw) for k in NEURON_KEYS[ntype] if k not in skip}
    if ntype == "SDNN":  # netx's sigma-delta threshold may be 0: every change is sent
        v = _get(ng, "vThMant", None, problems, nw)
        vals["vThMant"] = None if v is None else \
            hv.int_value(v, f"{nw}/vThMant", problems, 0, SAT_MAX)
    ntype = "CUBA" if ntype == "LOIHI" else ntype  # netx treats both alike
    if ntype == "SDNN":
        return _sigma_delta(ng, layer_type, vals, problems, nw)
    if ntype in ("MLSN", "CUBA") and vals.get("vThMant") is None and "vThMant" not in ng:
        problems.append(f"{nw}: missing 'vThMant'")
    if ntype == "MLSN" and vals.get("levels") is None and "levels" not in ng:
        problems.append(f"{nw}: missing 'levels'")
    if ntype == "CUBA":
        for key in ("refDelay", "gradedSpike"):  # netx ignores both; so does lava-mlsnn
            vals.pop(key, None)
    default_i = DECAY_ONE if ntype == "MLSN" else 0

    def get(key: str, default: int) -> int:
        v = vals.get(key)
        return default if v is None else v
    return NeuronParams(type=ntype, v_th_mant=get("vThMant", 1), levels=get("levels", 1),
                        i_decay=get("iDecay", default_i), v_decay=get("vDecay", 0),
                        v_init=get("vInit", 0), v_bits=get("vBits", 0), v_exp=get("vExp", 0))


def _sigma_delta(ng: h5py.Group, layer_type: str, vals: Dict[str, Any], problems: List[str],
                 nw: str) -> Optional[NeuronParams]:
    """A lava-dl sigma-delta neuron as netx builds it: ``Delta`` in an input layer,
    ``Sigma`` where ``sigma_output`` is set, else ``SigmaDelta`` (ReLU)."""
    act = _text(ng, "activation", problems, nw) if "activation" in ng else "relu"
    if act is not None and act != "relu":
        problems.append(f"{nw}/activation: {act!r} is not supported: stock netx runs every "
                        "sigma-delta layer with ReLU")
    if vals.get("vThMant") is None and "vThMant" not in ng and not vals.get("sigma_output"):
        problems.append(f"{nw}: missing 'vThMant'")
    kind = "SDNN_DELTA" if layer_type == "input" else \
        "SDNN_SIGMA" if vals.get("sigma_output") else "SDNN"
    vth = vals.get("vThMant")
    return NeuronParams(type=kind, v_th_mant=1 if vth is None else vth, i_decay=0,
                        bias_exp=default_bias_exp(kind))


def _bias(g: h5py.Group, shape: Tuple[int, ...], problems: List[str], where: str
          ) -> Optional[np.ndarray]:
    b = _int_array(g, "bias", problems, where)
    if b is None:
        return None
    if b.size == 1 and len(shape) >= 1 and shape[0] != 1:
        return b.reshape(())
    if b.shape == tuple(shape):
        return b
    if b.ndim == 1 and b.size == shape[0]:
        return b.reshape((shape[0],) + (1,) * (len(shape) - 1))
    problems.append(f"{where}/bias: shape {b.shape} fits neither channels ({shape[0]},) nor the "
                    f"layer shape {tuple(shape)}")
    return None


# --------------------------------------------------------------------------- layers
def _shape(value: Any, where: str, problems: List[str]) -> Optional[Tuple[int, ...]]:
    """A (C, H, W) or (F,) shape within the limits, its size computed exactly."""
    if value is None:
        return None
    t = hv.int_tuple(value, where, problems, 1, MAX_NEURONS, (1, 3))
    if t is None:
        return None
    if len(t) == 3 and max(t) > MAX_DIM:
        problems.append(f"{where}: an axis of {max(t)} exceeds the limit of {MAX_DIM}")
        return None
    n = 1
    for v in t:
        n *= v
    if n > MAX_NEURONS:
        problems.append(f"{where}: {'x'.join(map(str, t))} = {n:,} neurons exceed the limit of "
                        f"{MAX_NEURONS:,} per layer")
        return None
    return t


def _read_branches(g: h5py.Group, i: int, exp: int, layer: LayerSpec, problems: List[str],
                   where: str) -> None:
    bg = hv.member(g, "branch", where, problems, h5py.Group)
    if bg is None or len(bg) == 0:
        if "branch" not in g or bg is not None:
            problems.append(f"{where}: a join needs at least one 'branch/<k>' group")
        return
    n = len(bg)
    if n > MAX_BRANCHES:
        problems.append(f"{where}/branch: {n} branches exceed the limit of {MAX_BRANCHES}")
        return
    hv.check_members(bg, [str(k) for k in range(n)], f"{where}/branch", problems)
    for k in range(n):
        bw = f"{where}/branch/{k}"
        b = hv.member(bg, str(k), f"{where}/branch", problems, h5py.Group)
        if b is None:
            if str(k) not in bg:
                problems.append(f"{bw}: missing (branches must be numbered 0..n-1)")
            continue
        src = _int(b, "source", None, problems, bw)
        if src is None or not INPUT <= src < i:
            problems.append(f"{bw}/source: must name an earlier layer (or -1)")
            continue
        kind = _text(b, "type", problems, bw)
        if kind is None:
            problems.append(f"{bw}: missing 'type'")
            continue
        if kind in BRANCH_KEYS:
            hv.check_members(b, BRANCH_KEYS[kind], bw, problems)
        bexp = _int(b, "weightExp", exp, problems, bw)
        syn = _read_synapse(kind, b, bexp, problems, bw)
        if syn is not None:
            _check_geometry(syn, problems, bw)
            _check_declared(kind, syn, b, problems, bw)
            layer.branches.append(Branch(src, syn))


def _stock_ignored(g: h5py.Group, where: str, ignored: Optional[Dict[str, List[str]]]
                   ) -> None:
    """Note the lava-mlsnn datasets of a stock layer, which netx never reads."""
    if ignored is not None:
        for key in STOCK_IGNORED_LAYER:
            if key in g:
                ignored.setdefault(f"{key} (netx never reads it; not applied)", []).append(where)


def _read_layer(g: h5py.Group, i: int, spec_input_levels: int, problems: List[str],
                ignored: Optional[Dict[str, List[str]]] = None) -> Optional[LayerSpec]:
    """One ``layer/<i>`` group; ``ignored`` is given for a stock file (see
    :func:`_read_neuron`): its ``weightExp`` / ``biasExp`` are not applied, as in netx."""
    where = f"layer/{i}"
    ltype = _text(g, "type", problems, where)
    if ltype in NETX_UNBUILT:
        problems.append(f"{where}/type: {NETX_UNBUILT[ltype]} are not supported (stock netx "
                        "cannot build them either)")
        return None
    if ltype not in LAYER_TYPES and ltype != "dense_rec":
        if ltype is not None or "type" not in g:
            problems.append(f"{where}/type: unknown layer type {ltype!r} (expected one of "
                            f"{', '.join(LAYER_TYPES + ('dense_rec',))})")
        return None
    hv.check_members(g, LAYER_KEYS[ltype], where, problems)
    recurrent = ltype == "dense_rec"
    ltype = "dense" if recurrent else ltype
    shape = _shape(_get(g, "shape", None, problems, where), f"{where}/shape", problems)
    if shape is None:
        if "shape" not in g:
            problems.append(f"{where}/shape: missing (expected (C,H,W) or (F,))")
        return None
    if ltype in ("flatten", "dense") and len(shape) == 3:
        # netx reads a dense layer as prod(shape) neurons and ignores a flatten's shape;
        # lava-dl's Flatten block exports (F, 1, 1). The size is checked against the data.
        shape = (shape[0] * shape[1] * shape[2],)
    source = _int(g, "source", i - 1, problems, where)
    if not INPUT <= source < i:
        problems.append(f"{where}/source: {source} is not an earlier layer (or -1)")
    _stock_ignored(g, where, ignored)
    exp = 0 if ignored is not None else _int(g, "weightExp", 0, problems, where)
    layer = LayerSpec(type=ltype, shape=shape, source=source,
                      weight_bits=_int(g, "weightBits", 0, problems, where),
                      weight_scale=_int(g, "weightScale", 0, problems, where))
    if ltype in ("dense", "conv", "pool"):
        syn = _read_synapse(ltype, g, exp, problems, where, n_out=shape[0])
        if syn is not None:
            _check_geometry(syn, problems, where)
            _check_declared(ltype, syn, g, problems, where)
            if recurrent and "delay" in g:
                problems.append(f"{where}/delay: axonal delays on recurrent (dense_rec) layers "
                                "are not supported (stock netx builds their delayed synapses "
                                "without the weight exponent)")
            else:
                syn = _read_delay(g, syn, problems, where)
            layer.branches = [Branch(layer.source, syn)]
        elif "delay" in g and ltype != "dense":
            _read_delay(g, SynapseSpec(ltype, np.zeros(())), problems, where)
        if recurrent:
            layer.recurrent = _read_recurrent(g, shape, exp, problems, where)
    elif ltype == "input" and ("weight" in g or "bias" in g):
        # netx's defaults: weight 64 (one, in weight units), bias 0.
        layer.input_transform = (_int(g, "weight", 64, problems, where),
                                 _int(g, "bias", 0, problems, where))
    elif ltype == "join":
        _read_branches(g, i, exp, layer, problems, where)
    layer.neuron = _read_neuron(g, ltype, spec_input_levels, problems, where, ignored)
    if ignored is not None and layer.neuron is not None and \
            layer.neuron.type in ("SDNN", "SDNN_SIGMA"):
        # stock Lava bounds these currents its own way (a sigma sums them unsaturated)
        layer.branches = [Branch(b.source, replace(b.synapse, overflow=STOCK_OVERFLOW[
            b.synapse.kind])) for b in layer.branches]
    if layer.neuron is not None and ltype != "input":  # an Input block's bias: see above
        bias = _bias(g, shape, problems, where)
        # biasExp is checked even without a bias: a file never holds an unread bad value.
        bias_exp = default_bias_exp(layer.neuron.type) if ignored is not None else \
            _int(g, "biasExp", default_bias_exp(layer.neuron.type), problems, where)
        if bias is not None and layer.neuron.type == "SDNN_SIGMA":
            problems.append(f"{where}/bias: a sigma_output layer has no bias (netx's Sigma "
                            "takes none)")
        if bias is not None:
            layer.neuron = replace(layer.neuron, bias=bias, bias_exp=bias_exp)
    return layer


# --------------------------------------------------------------------------- whole network
def check_shapes(spec: NetworkSpec) -> List[str]:
    """Every shape problem of ``spec`` (sources, synapse outputs, flatten sizes)."""
    problems: List[str] = []
    _check_shapes(spec, problems)
    return problems


def _check_shapes(spec: NetworkSpec, problems: List[str], unread=frozenset()) -> None:
    """Shape problems of every layer that, like its sources, could be read."""
    for i, layer in enumerate(spec.layers):
        where = f"layer/{i}"
        if i in unread or any(s in unread for s in layer.sources):
            continue
        try:
            if layer.type == "input":
                if spec.input_shape is not None and layer.source == INPUT \
                        and tuple(spec.input_shape) != layer.shape:
                    problems.append(f"{where}/shape: {layer.shape} differs from the file's "
                                    f"inputShape {tuple(spec.input_shape)}")
                elif layer.source != INPUT and spec.source_shape(layer.source) != layer.shape:
                    problems.append(f"{where}/shape: {layer.shape} differs from its source's "
                                    f"{spec.source_shape(layer.source)}")
                continue
            if layer.type == "flatten":
                if layer.source == INPUT and spec.input_shape is None:
                    continue
                src = spec.source_shape(layer.source)
                if layer.shape != (int(np.prod(src)),):
                    problems.append(f"{where}/shape: flatten of {src} is ({int(np.prod(src))},), "
                                    f"file says {layer.shape}")
                continue
            for k, br in enumerate(layer.branches):
                if br.source == INPUT and spec.input_shape is None:
                    continue
                out = synapse_output_shape(br.synapse, spec.source_shape(br.source))
                if out != layer.shape:
                    problems.append(f"{where}" + (f"/branch/{k}" if layer.type == "join" else "")
                                    + f": synapse maps {spec.source_shape(br.source)} to {out}, "
                                    f"but the layer shape is {layer.shape}")
        except ValueError as err:
            problems.append(f"{where}: {err}")


def _check_runnable(spec: NetworkSpec, problems: List[str]) -> None:
    """Conditions under which a backend would refuse a file the format allows."""
    for i, layer in enumerate(spec.layers):
        for k, br in enumerate(layer.branches):
            syn = br.synapse
            w_max = int(np.abs(np.asarray(syn.weight)).max(initial=0))
            if w_max * SAT_MAX * syn.fan_in() >= EXACT_SUM_LIMIT:
                where = f"layer/{i}" + (f"/branch/{k}" if layer.type == "join" else "")
                problems.append(f"{where}/weight: |weight| {w_max} x payload 2**23 x fan-in "
                                f"{syn.fan_in()} reaches 2**52: integer sums would not be exact")


def _read_root(f: h5py.File, problems: List[str]) -> Dict[str, Any]:
    """Root attributes (the lava-mlsnn ones are required when ``format`` says so)."""
    fmt = hv.text(hv.read_attr(f, "format", "format", problems), "format", problems) \
        if "format" in f.attrs else None
    stock = "format" not in f.attrs
    if not stock and fmt is not None and fmt != FORMAT_NAME:
        problems.append(f"format attribute is {fmt!r}, expected {FORMAT_NAME!r}")
    out: Dict[str, Any] = {"stock": stock, "input_levels": 1, "timesteps": 0,
                           "input_shape": None, "classes": None, "metadata": {}}
    if stock:  # lava-dl's own layout: no root attributes are part of it
        return out
    for key in f.attrs:
        if key not in _ROOT_ATTRS:
            problems.append(f"{key}: unknown root attribute (not part of the format)")
    for key in _REQUIRED_ROOT_ATTRS:
        if key not in f.attrs:
            problems.append(f"{key}: required root attribute of a {FORMAT_NAME} file is missing")
    vals = {k: hv.read_attr(f, k, k, problems) for k in _ROOT_ATTRS[1:] if k in f.attrs}
    for key, field in (("formatVersion", None), ("timesteps", "timesteps"),
                       ("inputLevels", "input_levels")):
        if key in vals:
            lo, hi = RANGES[key]
            v = hv.int_value(vals[key], key, problems, lo, hi) if vals[key] is not None else None
            if field and v is not None:
                out[field] = v
    if vals.get("inputShape") is not None:
        out["input_shape"] = _shape(vals["inputShape"], "inputShape", problems)
    if "classes" in vals and vals["classes"] is not None:
        c = vals["classes"]
        if isinstance(c, str):
            c = [c]
        if not isinstance(c, list) or not all(isinstance(x, str) for x in c):
            problems.append("classes: expected a list of text names")
        else:
            out["classes"] = c
    meta = vals.get("metadata")
    if meta is not None:
        meta = hv.text(meta, "metadata", problems)
        try:
            out["metadata"] = json.loads(meta) if meta is not None else {}
        except ValueError:
            out["metadata"] = {"raw": meta}
        if not isinstance(out["metadata"], dict):
            out["metadata"] = {"raw": meta}
    return out


def read_network(path: str) -> NetworkSpec:
    """Read and validate a network file.

    Parameters
    ----------
    path : str
        HDF5 file in the lava-mlsnn or stock lava-dl NetX layout.

    Returns
    -------
    NetworkSpec
        A network every backend can run (DESIGN §7).

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    FormatError
        The file is not a regular HDF5 file, is truncated, or breaks the format;
        ``problems`` lists every reason found, each naming its path in the file.
    """
    try:
        _io.check_input_file(path)
    except _io.UnsafePathError as err:
        raise FormatError([str(err).split(": ", 1)[-1]], path) from None
    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError) as err:
        raise FormatError([f"not a readable HDF5 file (corrupt or truncated?): "
                           f"{' '.join(str(err).split())}"], path) from None
    problems: List[str] = []
    try:
        with f:
            root = _read_root(f, problems)
            lg = hv.member(f, "layer", "", problems, h5py.Group)
            if lg is None or len(lg) == 0:
                raise FormatError(problems + ["no 'layer' group: not a NetX network file"], path)
            hv.check_members(f, ("layer",) + (STOCK_IGNORED_ROOT if root["stock"] else ()), "",
                             problems)
            ignored: Optional[Dict[str, List[str]]] = {} if root["stock"] else None
            for key in STOCK_IGNORED_ROOT if root["stock"] else ():
                if key in f:
                    ignored[f"{key} (netx never reads it)"] = ["/"]
            n_groups = len(lg)
            if n_groups > MAX_LAYERS:
                raise FormatError(problems + [f"layer: {n_groups} layers exceed the limit of "
                                              f"{MAX_LAYERS}"], path)
            hv.check_members(lg, [str(i) for i in range(n_groups)], "layer", problems)
            slots: List[Optional[LayerSpec]] = []  # None: a layer that could not be read
            for i in range(n_groups):
                g = hv.member(lg, str(i), "layer", problems, h5py.Group)
                if g is None:
                    if str(i) not in lg:
                        problems.append(f"layer/{i}: missing (layers must be numbered 0..n-1)")
                    slots.append(None)
                    continue
                slots.append(_read_layer(g, i, root["input_levels"], problems, ignored))
    except FormatError:
        raise
    except (OSError, KeyError, RuntimeError, ValueError, TypeError) as err:
        raise FormatError(problems + [f"unreadable content (corrupt or truncated?): "
                                      f"{' '.join(str(err).split())}"], path) from None
    input_shape = root["input_shape"]
    first = slots[0] if slots else None
    if input_shape is None and first is not None:
        if first.type == "input":
            input_shape = first.shape
        elif first.branches and first.branches[0].synapse.kind == "dense":
            input_shape = (int(first.branches[0].synapse.weight.shape[1]),)
    # Layers that could not be read are stand-ins here, so that the geometry of all the
    # others is still checked: validate reports every problem of a file in one pass.
    unread = {i for i, la in enumerate(slots) if la is None}
    layers = [la if la is not None else LayerSpec("flatten", (1,)) for la in slots]
    spec = NetworkSpec(layers=layers, input_shape=input_shape,
                       input_levels=root["input_levels"], timesteps=root["timesteps"],
                       classes=root["classes"], metadata=root["metadata"], stock=root["stock"],
                       ignored=_ignored_lines(ignored or {}))
    _check_shapes(spec, problems, unread)
    _check_runnable(spec, problems)
    if spec.output_index not in unread:
        _check_classes(spec, problems)
    if problems:
        raise FormatError(problems, path)
    return spec


def _ignored_lines(ignored: Dict[str, List[str]]) -> Tuple[str, ...]:
    """One line per ignored key: what, and in which layers."""
    out = []
    for what, wheres in ignored.items():
        layers = [w.split("/", 1)[1] for w in wheres if w.startswith("layer/")]
        out.append(f"{what}: " + (f"layers {', '.join(layers)}" if layers else "the file root"))
    return tuple(out)


def _check_classes(spec: NetworkSpec, problems: List[str]) -> None:
    last = spec.layers[-1]
    if spec.classes is not None and len(last.shape) == 1 and len(spec.classes) != last.shape[0]:
        problems.append(f"classes: {len(spec.classes)} names for an output layer of "
                        f"{last.shape[0]} neurons")


from .writer import write_layer, write_network  # noqa: E402,F401  (the format's other half)
