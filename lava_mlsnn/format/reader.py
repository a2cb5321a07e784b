"""Read and validate the lava-mlsnn HDF5 format (DESIGN §6); writing is in ``writer``.

This module reads lava-mlsnn's own vocabulary (root attributes, joins and their
branches) and the whole network; netx's CUBA vocabulary (synapses, neurons, what
netx ignores) is :mod:`.read_cuba`'s, the sigma-delta one :mod:`.read_sdnn`'s, the
checked values :mod:`.read_values`'.

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
from .params import SAT_MAX, SynapseSpec, default_bias_exp
from . import h5values as hv
from .read_cuba import (_check_declared, _check_geometry, _read_delay, _read_neuron,
                        _read_recurrent, _read_synapse, _stock_ignored, read_current_bias)
from .read_sdnn import stock_bounds
from .read_values import _bias, _get, _int, _shape, _text
from .schema import (_REQUIRED_ROOT_ATTRS, _ROOT_ATTRS, BRANCH_KEYS, EXACT_SUM_LIMIT,
                     LAYER_KEYS, MAX_BRANCHES, MAX_LAYERS, NETX_UNBUILT, RANGES,
                     STOCK_IGNORED_ROOT)
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


# --------------------------------------------------------------------------- layers
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
    if ignored is not None:  # stock Lava bounds sigma-delta currents its own way
        layer = stock_bounds(layer)
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
        layer.neuron = read_current_bias(g, layer.neuron, shape, problems, where,
                                         ignored is not None)
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
