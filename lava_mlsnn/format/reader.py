"""Read and validate the lava-mlsnn HDF5 format (DESIGN §6); writing is in ``writer``.

The format is lava-dl's NetX layout extended with residual joins and graded-spike
neurons. Stock lava-dl exports (no root attributes, CUBA neurons) are read as they
are. Reading collects *every* problem before failing, so ``lava-mlsnn validate``
can report them all at once.
"""
from __future__ import annotations

import json
import os
from typing import Any, List, Optional, Tuple

import h5py
import numpy as np

from ..fixed import BIAS_EXP_DEFAULT, DECAY_ONE, NeuronParams, SynapseSpec
from .spec import INPUT, LAYER_TYPES, Branch, LayerSpec, NetworkSpec
from .shapes import synapse_output_shape

from .writer import FORMAT_NAME, FORMAT_VERSION
_NEURON_KEYS = ("vThMant", "levels", "iDecay", "vDecay", "vInit", "vBits", "vExp")


class FormatError(ValueError):
    """The file is not a valid network; ``problems`` lists every reason."""

    def __init__(self, problems: List[str], path: str = ""):
        self.problems = list(problems)
        self.path = path
        where = f"{path}: " if path else ""
        super().__init__(where + "; ".join(self.problems))


# --------------------------------------------------------------------------- reading helpers
def _value(node: h5py.Dataset) -> Any:
    v = node[()]
    if isinstance(v, bytes):
        return v.decode("ascii", "replace")
    if isinstance(v, np.ndarray) and v.dtype.kind in "SO":
        flat = [x.decode("ascii", "replace") if isinstance(x, bytes) else str(x) for x in v.ravel()]
        return flat[0] if len(flat) == 1 else flat
    return v


def _get(group: h5py.Group, key: str, default: Any = None) -> Any:
    if key not in group:
        return default
    node = group[key]
    if not isinstance(node, h5py.Dataset):
        return default
    return _value(node)


def _int(group: h5py.Group, key: str, default: Optional[int], problems: List[str], where: str
         ) -> Optional[int]:
    v = _get(group, key)
    if v is None:
        return default
    arr = np.asarray(v)
    if arr.size != 1 or not np.issubdtype(arr.dtype, np.number) or float(arr) != int(arr):
        problems.append(f"{where}/{key}: expected one integer, got {v!r}")
        return default
    return int(arr.reshape(()))


def _pair(group: h5py.Group, key: str, default: int, problems: List[str], where: str
          ) -> Tuple[int, int]:
    v = _get(group, key)
    if v is None:
        return (default, default)
    arr = np.asarray(v).astype(np.int64).ravel()
    if arr.size == 1:
        return (int(arr[0]), int(arr[0]))
    if arr.size != 2:
        problems.append(f"{where}/{key}: expected 1 or 2 integers, got {arr.tolist()}")
        return (default, default)
    return (int(arr[0]), int(arr[1]))


def _int_array(group: h5py.Group, key: str, problems: List[str], where: str
               ) -> Optional[np.ndarray]:
    v = _get(group, key)
    if v is None:
        return None
    arr = np.asarray(v)
    if not np.issubdtype(arr.dtype, np.number):
        problems.append(f"{where}/{key}: not numeric")
        return None
    if not np.all(np.isfinite(arr)) or np.any(arr != np.trunc(arr)):
        problems.append(f"{where}/{key}: values must be integers")
        return None
    return arr.astype(np.int64)


# --------------------------------------------------------------------------- synapses
def _read_synapse(kind: str, g: h5py.Group, exp: int, problems: List[str], where: str
                  ) -> Optional[SynapseSpec]:
    w = _int_array(g, "weight", problems, where)
    if kind == "identity":
        w = np.array(1, dtype=np.int64) if w is None else w
        if w.size != 1:
            problems.append(f"{where}/weight: identity weight must be a scalar")
            return None
        return SynapseSpec("identity", w.reshape(()), exp)
    if kind == "pool":
        w = np.array(1, dtype=np.int64) if w is None else w
        if w.size > 1 and np.any(w != w.ravel()[0]):
            problems.append(f"{where}/weight: pool weights must all be equal")
            return None
        return SynapseSpec("pool", w.ravel()[:1].reshape(()), exp,
                           stride=_pair(g, "stride", 0, problems, where) if "stride" in g
                           else _pair(g, "kernelSize", 1, problems, where),
                           padding=_pair(g, "padding", 0, problems, where),
                           kernel=_pair(g, "kernelSize", 1, problems, where))
    if w is None:
        problems.append(f"{where}: missing 'weight'")
        return None
    if kind == "dense":
        if w.ndim != 2:
            problems.append(f"{where}/weight: dense weight must be 2-D (out, in), got {w.shape}")
            return None
        return SynapseSpec("dense", w, exp)
    if kind == "conv":
        if w.ndim == 5 and w.shape[-1] == 1:  # lava-dl keeps a trailing time axis
            w = w[..., 0]
        if w.ndim != 4:
            problems.append(f"{where}/weight: conv weight must be 4-D (out, in/groups, kH, kW), "
                            f"got {w.shape}")
            return None
        return SynapseSpec("conv", w, exp,
                           stride=_pair(g, "stride", 1, problems, where),
                           padding=_pair(g, "padding", 0, problems, where),
                           dilation=_pair(g, "dilation", 1, problems, where),
                           groups=_int(g, "groups", 1, problems, where) or 1,
                           kernel=tuple(w.shape[2:]))
    problems.append(f"{where}/type: unknown synapse type {kind!r} (expected dense, conv, pool "
                    "or identity)")
    return None


def _read_neuron(g: h5py.Group, layer_type: str, input_levels: int, problems: List[str],
                 where: str) -> Optional[NeuronParams]:
    if layer_type == "flatten":
        return None
    if layer_type == "input":
        if "neuron" in g and _get(g["neuron"], "type") not in (None, "INPUT"):
            problems.append(f"{where}/neuron: input layers with neuron dynamics (stock lava-dl "
                            "Input blocks) are not supported; export the network without them")
        return NeuronParams(type="INPUT", input_levels=input_levels)
    if "neuron" not in g or not isinstance(g["neuron"], h5py.Group):
        problems.append(f"{where}: missing 'neuron' group")
        return None
    ng = g["neuron"]
    nw = f"{where}/neuron"
    ntype = _get(ng, "type")
    if ntype not in ("MLSN", "READOUT", "PASS", "CUBA"):
        problems.append(f"{nw}/type: unknown neuron type {ntype!r} (expected MLSN, READOUT, "
                        "PASS or CUBA)")
        return None
    vals = {k: _int(ng, k, None, problems, nw) for k in _NEURON_KEYS}
    if ntype in ("MLSN", "CUBA"):
        if vals["vThMant"] is None:
            problems.append(f"{nw}: missing 'vThMant'")
        elif vals["vThMant"] <= 0:
            problems.append(f"{nw}/vThMant: must be > 0, got {vals['vThMant']}")
    if ntype == "MLSN":
        if vals["levels"] is None:
            problems.append(f"{nw}: missing 'levels'")
        elif vals["levels"] < 1:
            problems.append(f"{nw}/levels: must be >= 1, got {vals['levels']}")
    for key in ("iDecay", "vDecay"):
        if vals[key] is not None and not 0 <= vals[key] <= DECAY_ONE:
            problems.append(f"{nw}/{key}: must lie in [0, 4096], got {vals[key]}")
    if vals["vBits"] is not None and not 0 <= vals["vBits"] <= 24:
        problems.append(f"{nw}/vBits: must lie in [0, 24], got {vals['vBits']}")
    if vals["vExp"] is not None and vals["vExp"] < 0:
        problems.append(f"{nw}/vExp: must be >= 0, got {vals['vExp']}")
    default_i = DECAY_ONE if ntype == "MLSN" else 0
    return NeuronParams(
        type=ntype,
        v_th_mant=vals["vThMant"] or 1,
        levels=vals["levels"] or 1,
        i_decay=default_i if vals["iDecay"] is None else vals["iDecay"],
        v_decay=vals["vDecay"] or 0,
        v_init=vals["vInit"] or 0,
        v_bits=vals["vBits"] or 0,
        v_exp=vals["vExp"] or 0,
    )


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


def _bias_exp(g: h5py.Group, problems: List[str], where: str) -> int:
    """``biasExp``: the bias enters the state as ``bias << biasExp`` (absent: 6)."""
    e = _int(g, "biasExp", BIAS_EXP_DEFAULT, problems, where)
    if e is None or not 0 <= e <= 23:
        problems.append(f"{where}/biasExp: must lie in [0, 23], got {e}")
        return BIAS_EXP_DEFAULT
    return e


# --------------------------------------------------------------------------- reading
def _read_layer(g: h5py.Group, i: int, spec_input_levels: int, problems: List[str]
                ) -> Optional[LayerSpec]:
    where = f"layer/{i}"
    ltype = _get(g, "type")
    if ltype not in LAYER_TYPES:
        problems.append(f"{where}/type: unknown layer type {ltype!r} (expected one of "
                        f"{', '.join(LAYER_TYPES)})")
        return None
    shape_arr = _int_array(g, "shape", problems, where)
    if shape_arr is None or shape_arr.ndim != 1 or shape_arr.size not in (1, 3) \
            or np.any(shape_arr <= 0):
        problems.append(f"{where}/shape: expected (C,H,W) or (F,) of positive ints")
        return None
    shape = tuple(int(s) for s in shape_arr)
    if ltype == "flatten" and len(shape) == 3 and shape[1:] == (1, 1):
        shape = shape[:1]  # lava-dl's Flatten block exports (F, 1, 1)
    source = _int(g, "source", i - 1, problems, where)
    if source is not None and not INPUT <= source < i:
        problems.append(f"{where}/source: {source} is not an earlier layer (or -1)")
    exp = _int(g, "weightExp", 0, problems, where) or 0
    layer = LayerSpec(type=ltype, shape=shape, source=source if source is not None else i - 1,
                      weight_bits=_int(g, "weightBits", 0, problems, where) or 0,
                      weight_scale=_int(g, "weightScale", 0, problems, where) or 0)
    if ltype in ("dense", "conv", "pool"):
        syn = _read_synapse(ltype, g, exp, problems, where)
        if syn is not None:
            layer.branches = [Branch(layer.source, syn)]
    elif ltype == "join":
        bg = g.get("branch")
        if not isinstance(bg, h5py.Group) or len(bg) == 0:
            problems.append(f"{where}: a join needs at least one 'branch/<k>' group")
        else:
            for k in range(len(bg)):
                bw = f"{where}/branch/{k}"
                if str(k) not in bg:
                    problems.append(f"{bw}: missing (branches must be numbered 0..n-1)")
                    continue
                b = bg[str(k)]
                src = _int(b, "source", None, problems, bw)
                if src is None or not INPUT <= src < i:
                    problems.append(f"{bw}/source: must name an earlier layer (or -1)")
                    continue
                bexp = _int(b, "weightExp", exp, problems, bw) or 0
                syn = _read_synapse(str(_get(b, "type")), b, bexp, problems, bw)
                if syn is not None:
                    layer.branches.append(Branch(src, syn))
    layer.neuron = _read_neuron(g, ltype, spec_input_levels, problems, where)
    if layer.neuron is not None and layer.neuron.type not in ("INPUT",):
        bias = _bias(g, shape, problems, where)
        if bias is not None:
            layer.neuron = _replace(layer.neuron, bias=bias,
                                    bias_exp=_bias_exp(g, problems, where))
    return layer


def _replace(p: NeuronParams, **kw) -> NeuronParams:
    from dataclasses import replace
    return replace(p, **kw)


def _check_shapes(spec: NetworkSpec, problems: List[str]) -> None:
    for i, layer in enumerate(spec.layers):
        where = f"layer/{i}"
        try:
            if layer.type == "input":
                if spec.input_shape is not None and tuple(spec.input_shape) != layer.shape:
                    problems.append(f"{where}/shape: {layer.shape} differs from the file's "
                                    f"inputShape {tuple(spec.input_shape)}")
                continue
            if layer.type == "flatten":
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


def read_network(path: str) -> NetworkSpec:
    """Read and validate a network file.

    Parameters
    ----------
    path : str
        HDF5 file in the lava-mlsnn or stock lava-dl NetX layout.

    Returns
    -------
    NetworkSpec

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    FormatError
        The file is not HDF5, is truncated, or breaks the format; ``problems``
        lists every reason found.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise FormatError([f"not a readable HDF5 file (corrupt or truncated?): {err}"], path)
    problems: List[str] = []
    try:
        with f:
            attrs = dict(f.attrs)
            fmt = attrs.get("format")
            fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
            stock = fmt is None
            if not stock and fmt != FORMAT_NAME:
                problems.append(f"format attribute is {fmt!r}, expected {FORMAT_NAME!r}")
            if not stock and int(attrs.get("formatVersion", 0)) > FORMAT_VERSION:
                problems.append(f"formatVersion {attrs.get('formatVersion')} is newer than "
                                f"this reader ({FORMAT_VERSION})")
            input_levels = int(attrs.get("inputLevels", 1))
            if "layer" not in f or not isinstance(f["layer"], h5py.Group) or len(f["layer"]) == 0:
                raise FormatError(problems + ["no 'layer' group: not a NetX network file"], path)
            lg = f["layer"]
            n_groups = len(lg)
            layers: List[LayerSpec] = []
            for i in range(len(lg)):
                if str(i) not in lg:
                    problems.append(f"layer/{i}: missing (layers must be numbered 0..n-1)")
                    continue
                layer = _read_layer(lg[str(i)], i, input_levels, problems)
                if layer is not None:
                    layers.append(layer)
            input_shape = attrs.get("inputShape")
            if input_shape is not None:
                input_shape = tuple(int(s) for s in np.asarray(input_shape).ravel())
            elif layers and layers[0].type == "input":
                input_shape = layers[0].shape
            elif layers and layers[0].branches and layers[0].branches[0].synapse.kind == "dense":
                input_shape = (int(layers[0].branches[0].synapse.weight.shape[1]),)
            classes = attrs.get("classes")
            if classes is not None:
                classes = [c.decode() if isinstance(c, bytes) else str(c)
                           for c in np.asarray(classes).ravel()]
            meta = attrs.get("metadata")
            try:
                metadata = json.loads(meta) if meta is not None else {}
            except (TypeError, ValueError):
                metadata = {"raw": str(meta)}
            spec = NetworkSpec(layers=layers, input_shape=input_shape, input_levels=input_levels,
                               timesteps=int(attrs.get("timesteps", 0)), classes=classes,
                               metadata=metadata, stock=stock)
    except FormatError:
        raise
    except (OSError, KeyError, RuntimeError) as err:
        raise FormatError(problems + [f"unreadable content (corrupt or truncated?): {err}"], path)
    if not problems and len(spec.layers) == n_groups:
        _check_shapes(spec, problems)
    if problems:
        raise FormatError(problems, path)
    return spec


from .writer import write_layer, write_network  # noqa: E402,F401  (the format's other half)
