"""An independent reference for the integer contract: DESIGN §5 transcribed literally.

Everything here is plain Python integers and loops, one neuron and one sample at a time.
It imports nothing from ``lava_mlsnn`` (nor numpy or torch), so a test that compares
``lava_mlsnn.fixed`` or the emulator with it compares two separate writings of the
contract, not one function with itself. It is meant to be read next to DESIGN §5 and
Lava's ``lava/proc/lif/models.py`` (``AbstractPyLifModelFixed`` / ``PyLifModelBitAcc``),
not to be fast.

Tensors are ``(shape, values)`` pairs: ``values`` a flat list in C-major (torch) order.
"""
from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

Tensor = Tuple[Tuple[int, ...], List[int]]

SAT_MIN = -(2 ** 23)
SAT_MAX = 2 ** 23 - 1


# --------------------------------------------------------------------------- scalar rules
def sat24(x: int) -> int:
    """``clip(x, -2**23, 2**23 - 1)``."""
    if x < SAT_MIN:
        return SAT_MIN
    if x > SAT_MAX:
        return SAT_MAX
    return x


def shift(x: int, e: int) -> int:
    """``x << e`` for ``e >= 0``; floor division by ``2**-e`` otherwise (arithmetic shift)."""
    if e >= 0:
        return x * 2 ** e
    return x // 2 ** (-e)  # Python's // floors, as an arithmetic right shift does


def decay(x: int, d: int) -> int:
    """``sign(x) * ((|x| * (4096 - d)) >> 12)``: rounds toward zero."""
    mag = (abs(x) * (4096 - d)) // 4096
    return -mag if x < 0 else mag


def clip(x: int, lo: int, hi: int) -> int:
    return lo if x < lo else hi if x > hi else x


# --------------------------------------------------------------------------- tensors
def size(shape: Sequence[int]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def at(shape: Sequence[int], *index: int) -> int:
    """Flat C-major offset of ``index`` in ``shape``."""
    off = 0
    for s, i in zip(shape, index):
        off = off * s + i
    return off


# --------------------------------------------------------------------------- synapses
def dense(weight: List[List[int]], z: List[int]) -> List[int]:
    """``a = W @ z``; ``weight`` is ``out`` rows of ``in`` ints, ``z`` the flat payload."""
    return [sum(w * x for w, x in zip(row, z)) for row in weight]


def conv2d(z: Tensor, weight: Tensor, stride=(1, 1), padding=(0, 0), dilation=(1, 1),
           groups: int = 1) -> Tensor:
    """PyTorch's ``conv2d`` (cross-correlation) on one ``[C, H, W]`` sample, zero padding."""
    (cin, h, w), zv = z
    (cout, cpg, kh, kw), wv = weight
    oh = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    opg = cout // groups
    out = []
    for o in range(cout):
        g = o // opg
        for y in range(oh):
            for x in range(ow):
                acc = 0
                for c in range(cpg):
                    ci = g * cpg + c
                    for i in range(kh):
                        yy = y * stride[0] - padding[0] + i * dilation[0]
                        if not 0 <= yy < h:
                            continue
                        for j in range(kw):
                            xx = x * stride[1] - padding[1] + j * dilation[1]
                            if 0 <= xx < w:
                                acc += wv[at((cout, cpg, kh, kw), o, c, i, j)] * \
                                    zv[at((cin, h, w), ci, yy, xx)]
                out.append(acc)
    return (cout, oh, ow), out


def sum_pool(z: Tensor, kernel, stride, padding=(0, 0)) -> Tensor:
    """Sum over each window (zero padding counts as zeros)."""
    (c, h, w), zv = z
    oh = (h + 2 * padding[0] - kernel[0]) // stride[0] + 1
    ow = (w + 2 * padding[1] - kernel[1]) // stride[1] + 1
    out = []
    for ch in range(c):
        for y in range(oh):
            for x in range(ow):
                acc = 0
                for i in range(kernel[0]):
                    for j in range(kernel[1]):
                        yy, xx = y * stride[0] - padding[0] + i, x * stride[1] - padding[1] + j
                        if 0 <= yy < h and 0 <= xx < w:
                            acc += zv[at((c, h, w), ch, yy, xx)]
                out.append(acc)
    return (c, oh, ow), out


def synapse(syn: Dict, z: Tensor) -> Tensor:
    """Integer current of one synapse (a dict, see :func:`run_network`):
    the kind's sum, then ``sat24(sum << weightExp)`` (``>> -weightExp`` if negative)."""
    kind = syn["kind"]
    if kind == "dense":
        shape, vals = (len(syn["weight"]),), dense(syn["weight"], z[1])
    elif kind == "conv":
        shape, vals = conv2d(z, syn["weight"], syn.get("stride", (1, 1)),
                             syn.get("padding", (0, 0)), syn.get("dilation", (1, 1)),
                             syn.get("groups", 1))
    elif kind == "pool":
        shape, pooled = sum_pool(z, syn["kernel"], syn["stride"], syn.get("padding", (0, 0)))
        vals = [syn["weight"] * p for p in pooled]
    elif kind == "identity":
        shape, vals = z[0], [syn["weight"] * x for x in z[1]]
    else:
        raise ValueError(f"unknown synapse kind {kind!r}")
    e = syn.get("weightExp", 0)
    return shape, [sat24(shift(a, e)) for a in vals]


# --------------------------------------------------------------------------- neurons
def bias_state(n: Dict, k: int) -> int:
    """Bias of neuron ``k`` in state units: ``bias << biasExp`` (``biasExp`` absent: 6)."""
    bias = n.get("bias")
    return 0 if bias is None else shift(bias[k], n.get("biasExp", 6))


def mlsn(u: int, v: int, a: int, n: Dict, k: int = 0) -> Tuple[int, int, int]:
    """One step of one ``MLSN`` neuron (DESIGN §5), returns ``(u, v, z)``.

    ``resetRule`` 1 / 2 (snnTorch's subtract, ``reset_delay`` False / True), 3 (its
    ``Synaptic`` reset to zero with ``reset_delay=True``): the reset is read from the
    stored ``v``; a spike is ``>`` the threshold."""
    u = sat24(decay(u, n.get("iDecay", 4096)) + a * 64)
    th = n["vThMant"] * 64
    stored_above = v > th
    w = decay(v, n.get("vDecay", 0)) + u + bias_state(n, k)
    rule = n.get("resetRule", 0)
    if rule == 1:  # needs 2 th after a stored membrane above th; subtracts th once
        v = sat24(w)
        z = 1 if v > (2 * th if stored_above else th) else 0
        v = v - z * th
    elif rule == 2:  # the stored spike's th is subtracted now; v keeps its value
        v = sat24(w - (th if stored_above else 0))
        z = 1 if v > th else 0
    elif rule == 3:  # Synaptic, zero, reset_delay=True: the step after is zeroed
        v = 0 if stored_above else sat24(w)
        z = 1 if v > th else 0
    else:
        v = sat24(w)
        z = 0 if v < th else min(n["levels"], v // th)
        v = v - z * th
    bits = n.get("vBits", 0)
    if bits:
        e = n.get("vExp", 0)
        v = clip(shift(v, -e), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1) * 2 ** e
    return u, v, z


def readout(v: int, a: int, n: Dict, k: int = 0) -> int:
    """One step of one ``READOUT`` neuron; it sends ``v``."""
    return sat24(decay(v, n.get("vDecay", 0)) + a * 64 + bias_state(n, k))


def cuba(u: int, v: int, a: int, n: Dict, k: int = 0) -> Tuple[int, int, int]:
    """One step of lava-dl's CUBA-LIF as Lava's ``LIF`` fixed_pt runs a netx file.

    netx gives ``LIF`` ``du = iDecay - 1`` and LIF adds ``ds_offset = 1``: the current
    decays by ``iDecay``; ``dv = vDecay`` (``dm_offset = 0``); ``vth = vThMant`` scaled
    ``<< 6``; ``bias_mant = bias``, ``bias_exp = 6``. The current wraps once into 24 bits
    (``> 2**23`` down, ``<= -2**23`` up, both tests on the unwrapped value); the voltage
    clips to ``±(2**23 - 1)``; a spike is ``v > vth << 6`` and sets ``v = 0``.
    """
    cur = decay(u, n.get("iDecay", 0)) + a * 64
    cur = (cur + 2 ** 31) % 2 ** 32 - 2 ** 31  # LIF's numpy int32 sum wraps
    u = cur
    if cur > 2 ** 23:
        u = cur - 2 ** 24
    if u <= -(2 ** 23):
        u = cur + 2 ** 24
    v = decay(v, n.get("vDecay", 0)) + u + bias_state(n, k)
    v = clip((v + 2 ** 31) % 2 ** 32 - 2 ** 31, -(2 ** 23 - 1), 2 ** 23 - 1)
    spike = 1 if v > n["vThMant"] * 64 else 0
    return u, (0 if spike else v), spike


def initial(n: Dict) -> Tuple[int, int]:
    """``(u, v)`` at the start of a sample: ``u = 0``, ``v = vInit`` for MLSN, else 0."""
    return 0, (n.get("vInit", 0) if n["type"] == "MLSN" else 0)


def neuron(state: Tuple[int, int], a: int, n: Dict, k: int) -> Tuple[Tuple[int, int], int]:
    """Dispatch one neuron of any type: ``((u, v), payload)``."""
    u, v = state
    t = n["type"]
    if t == "MLSN":
        u, v, z = mlsn(u, v, a, n, k)
        return (u, v), z
    if t == "READOUT":
        v = readout(v, a, n, k)
        return (u, v), v
    if t == "PASS":
        return (u, v), sat24(a)
    if t == "CUBA":
        u, v, z = cuba(u, v, a, n, k)
        return (u, v), z
    raise ValueError(f"unknown neuron type {t!r}")


# --------------------------------------------------------------------------- networks
def run_network(net: Dict, x: List[List[int]]) -> Dict[int, List[List[int]]]:
    """Run one sample through a network, aligned in time (DESIGN §4).

    Parameters
    ----------
    net : dict
        ``input_shape`` (tuple), ``input_levels`` (int) and ``layers``: a list of dicts
        with ``type`` (input, dense, conv, pool, flatten, join), ``shape``, ``source``
        (``-1``: the network input), ``branches`` (list of ``{"source": int, "syn": {...}}``
        with the synapse keys of :func:`synapse`) and ``neuron`` (a dict with ``type``
        and DESIGN's keys ``vThMant``, ``levels``, ``iDecay``, ``vDecay``, ``vInit``,
        ``vBits``, ``vExp``, ``bias`` (one int per neuron, flat) and ``biasExp``).
    x : list over T of flat input payloads

    Returns
    -------
    dict
        ``{layer index: [T][flat payload]}``: payloads for spiking and PASS layers,
        ``v`` for READOUT layers.
    """
    layers = net["layers"]
    states = {i: [initial(layer["neuron"])] * size(layer["shape"])
              for i, layer in enumerate(layers) if layer["type"] not in ("input", "flatten")}
    rec: Dict[int, List[List[int]]] = {i: [] for i in range(len(layers))}
    for xt in x:
        outs: Dict[int, Tensor] = {-1: (tuple(net["input_shape"]), list(xt))}
        for i, layer in enumerate(layers):
            if layer["type"] == "input":
                src = outs[layer["source"]]
                out = (src[0], [clip(v, 0, net["input_levels"]) for v in src[1]])
            elif layer["type"] == "flatten":
                src = outs[layer["source"]]
                out = ((size(src[0]),), list(src[1]))
            else:
                a = [0] * size(layer["shape"])
                for br in layer["branches"]:
                    _, cur = synapse(br["syn"], outs[br["source"]])
                    a = [p + q for p, q in zip(a, cur)]
                vals = []
                for k, ak in enumerate(a):
                    states[i][k], payload = neuron(states[i][k], ak, layer["neuron"], k)
                    vals.append(payload)
                out = (tuple(layer["shape"]), vals)
            outs[i] = out
            rec[i].append(list(out[1]))
    return rec
