"""netx's own vocabulary as stock lava-dl files hold it: synapses and neurons.

What ``netx.hdf5.Network`` reads -- dense (1-D weights, axonal ``delay``,
``dense_rec``'s ``weight_rec``) and conv synapses, CUBA / ``LOIHI`` neurons, the
Input block, netx's default integrator -- read as netx reads it; what netx reads past
(``LOIHI``'s ``theta``, ``wgtExp``, ``scaleRho``, ``tauRho``; ``weightExp`` /
``biasExp`` in a stock file) is noted in ``ignored`` and not applied. lava-mlsnn's
own neuron types (MLSN, READOUT, PASS) share the neuron reader; sigma-delta neurons
are :mod:`.read_sdnn`'s.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Dict, List, Optional, Tuple

import h5py
import numpy as np

from . import h5values as hv
from .params import DECAY_ONE, RESET_RULES, SAT_MAX, NeuronParams, SynapseSpec
from .read_sdnn import sigma_delta_neuron
from .read_values import _bias, _get, _int, _int_array, _pair, _text
from .schema import (_SYNAPSE_KEYS, CURRENT_BIAS_KEY, LOIHI_IGNORED, NETX_DEFAULT_NEURON,
                     NETX_UNSUPPORTED_NEURONS, NEURON_KEYS, STOCK_IGNORED_LAYER)


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
    skip = ("type", "activation", CURRENT_BIAS_KEY) + (LOIHI_IGNORED if ntype == "LOIHI" else ()) + \
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
        return sigma_delta_neuron(ng, layer_type, vals, problems, nw)
    if ntype in ("MLSN", "CUBA") and vals.get("vThMant") is None and "vThMant" not in ng:
        problems.append(f"{nw}: missing 'vThMant'")
    if ntype == "MLSN" and vals.get("levels") is None and "levels" not in ng:
        problems.append(f"{nw}: missing 'levels'")
    rule = RESET_RULES[vals.pop("resetRule", None) or 0]
    if rule != "soft" and vals.get("levels") not in (None, 1):
        problems.append(f"{nw}/resetRule: snnTorch's reset ({rule}) needs levels = 1, got "
                        f"{vals.get('levels')}")
    if ntype == "CUBA":
        for key in ("refDelay", "gradedSpike"):  # netx ignores both; so does lava-mlsnn
            vals.pop(key, None)
    default_i = DECAY_ONE if ntype == "MLSN" else 0

    def get(key: str, default: int) -> int:
        v = vals.get(key)
        return default if v is None else v
    return NeuronParams(type=ntype, v_th_mant=get("vThMant", 1), levels=get("levels", 1),
                        i_decay=get("iDecay", default_i), v_decay=get("vDecay", 0),
                        v_init=get("vInit", 0), v_bits=get("vBits", 0), v_exp=get("vExp", 0),
                        reset=rule)


def read_current_bias(g: h5py.Group, neuron: NeuronParams, shape: Tuple[int, ...],
                      problems: List[str], where: str, stock: bool) -> NeuronParams:
    """``neuron/currentBias`` (DESIGN §5) into ``neuron.current_bias``. A stock file
    (no lava-mlsnn root attributes) is refused one: netx would run its layer without it."""
    ng = g.get("neuron") if "neuron" in g else None
    if not isinstance(ng, h5py.Group) or CURRENT_BIAS_KEY not in ng:
        return neuron
    nw = f"{where}/neuron"
    if stock:
        problems.append(f"{nw}/{CURRENT_BIAS_KEY}: a lava-mlsnn current bias in a file "
                        "without lava-mlsnn's root attributes (stock netx would run the "
                        "layer without it)")
        return neuron
    b = _bias(ng, shape, problems, nw, key=CURRENT_BIAS_KEY)
    return neuron if b is None else replace(neuron, current_bias=b)


def _stock_ignored(g: h5py.Group, where: str, ignored: Optional[Dict[str, List[str]]]
                   ) -> None:
    """Note the lava-mlsnn datasets of a stock layer, which netx never reads."""
    if ignored is not None:
        for key in STOCK_IGNORED_LAYER:
            if key in g:
                ignored.setdefault(f"{key} (netx never reads it; not applied)", []).append(where)
