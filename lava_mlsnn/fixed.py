"""Integer arithmetic of the lava-mlsnn fixed-point contract (DESIGN §5).

This module is the one place where the deployed arithmetic is written. The torch
neurons (quantized forward), the batched emulator and the Lava ``fixed_pt``
ProcessModels all call these functions, so the three cannot drift apart.

Every function accepts either numpy arrays or torch tensors of integers and
returns the same kind. Intermediates are int64, or int32 where :func:`state_dtype`
proves every intermediate of a layer below 2**31 (the emulator's fast path; decay
products are always formed in int64); ``>>`` is an arithmetic shift (floor). Synapse sums are evaluated in floating point because torch has no integer
convolution on CPU: float32 when every partial sum is provably below 2**24, else
float64 (exact below 2**53, checked by :func:`check_exact_sum`).

State scale: ``state = real * 4096`` when ``weight = real * 64``; hence the
``<< 6`` (``STATE_SHIFT``) applied to synaptic currents, and to biases unless their
layer declares another ``biasExp`` (a 13-bit mantissa with a per-layer exponent).

On CUDA the float sums run with TF32 off (its 10-bit mantissa would round integer
sums); ``tests/reference.py`` is the independent transcription these functions are
tested against.
"""
from __future__ import annotations

import contextlib
from typing import Iterator, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

# The contract's numbers and the layer records are torch-free (the format layer reads
# and writes them); they are re-exported here with the arithmetic on them.
from .format.params import (BIAS_EXP_DEFAULT, BIAS_EXP_MAX, BIAS_MANT_MAX,  # noqa: F401
                            BIAS_MANT_MIN, CURRENT_BIAS_TYPES, DECAY_BITS, DECAY_ONE,
                            LOIHI_WEIGHT_MAX, LOIHI_WEIGHT_MIN, RESET_RULES, SAT_MAX, SAT_MIN, SDNN_BIAS_EXP, SDNN_TYPES,
                            STATE_SHIFT, NeuronParams, SynapseSpec, default_bias_exp)

Array = Union[np.ndarray, torch.Tensor]

_EXACT_LIMIT = float(1 << 52)


# --------------------------------------------------------------------------- array helpers
def _is_torch(x: Array) -> bool:
    return isinstance(x, torch.Tensor)


def as_int64(x: Array) -> Array:
    """Return ``x`` as an int64 array of the same kind (numpy or torch)."""
    if _is_torch(x):
        return x.to(torch.int64)
    return np.asarray(x).astype(np.int64, copy=False)


def clip(x: Array, lo: int, hi: int) -> Array:
    """Clip to ``[lo, hi]`` for numpy arrays and torch tensors alike."""
    if _is_torch(x):
        return torch.clamp(x, lo, hi)
    return np.clip(x, lo, hi)


def sat24(x: Array) -> Array:
    """Saturate to the signed 24-bit range of Loihi 2 states and payloads."""
    return clip(x, SAT_MIN, SAT_MAX)


def shift(x: Array, exp: int) -> Array:
    """``x << exp`` for ``exp >= 0``, arithmetic ``x >> -exp`` otherwise."""
    exp = int(exp)
    return x << exp if exp >= 0 else x >> (-exp)


def _clip_(x: Array, lo: int, hi: int) -> Array:
    """:func:`clip` in place, for arrays this module has just created (no copy)."""
    if _is_torch(x):
        return x.clamp_(lo, hi)
    return np.clip(x, lo, hi, out=x)


def _is_int64(x: Array) -> bool:
    return x.dtype == (torch.int64 if _is_torch(x) else np.int64)


_HALF24 = 1 << 23
_HALF32 = 1 << 31


def _where(cond: Array, a: Array, b: Array) -> Array:
    return torch.where(cond, a, b) if _is_torch(cond) else np.where(cond, a, b)


def decay(x: Array, d: Union[int, Array]) -> Array:
    """Loihi decay ``sign(x) * ((|x| * (4096 - d)) >> 12)``: rounds toward zero.

    Parameters
    ----------
    x : int array
        State (any shape).
    d : int or int array broadcastable to ``x``
        Decay in 1/4096 per step, ``0 <= d <= 4096``.
    """
    if isinstance(d, (int, np.integer)):  # the IF and "no persistence" cases are common
        if d == 0:
            return x
        if d == DECAY_ONE:
            return x * 0
    if _is_torch(x):
        return _decay_torch(x, d)
    ax = abs(x)
    narrow = not _is_int64(ax)
    mag = (as_int64(ax) * (DECAY_ONE - d)) >> DECAY_BITS  # |x| * 4096 needs 36 bits
    if narrow:  # |mag| <= |x|: back to the state's own type
        mag = mag.to(ax.dtype) if _is_torch(ax) else mag.astype(ax.dtype)
    return _where(x < 0, -mag, mag)


def _decay_torch(x: torch.Tensor, d: Union[int, Array]) -> torch.Tensor:
    """:func:`decay` of a torch tensor in fewer passes: the magnitude built once in int64
    and scaled in place, its sign restored by one multiplication (``torch.where`` with a
    negated copy costs three); a reset state (one value viewed everywhere) is decayed once."""
    scalar = isinstance(d, (int, np.integer))
    if scalar and x.dim() and x.numel() and not any(x.stride()):
        return _decay_torch(x[(0,) * x.dim()], d).expand(x.shape)
    mag = x.to(torch.int64) if x.dtype != torch.int64 else x.abs()
    if x.dtype != torch.int64:
        mag.abs_()
    c = DECAY_ONE - d if scalar else torch.as_tensor(DECAY_ONE - np.asarray(d, np.int64),
                                                     device=x.device)
    mag.mul_(c).bitwise_right_shift_(DECAY_BITS)  # |x| * 4096 needs 36 bits
    if x.dtype != torch.int64:  # |mag| <= |x|: back to the state's own type
        mag = mag.to(x.dtype)
    return mag.mul_(x.sign())


# --------------------------------------------------------------------------- synapses
def weight_as(spec: SynapseSpec, dtype: torch.dtype, device: torch.device | None = None
              ) -> torch.Tensor:
    """A synapse's weights as a float tensor of ``dtype`` on ``device`` (default CPU),
    converted once per spec (a per-step conversion would dominate small Lava steps)."""
    cache = spec._w_cache
    key = (dtype, str(device or "cpu"))
    if key not in cache:
        w = torch.as_tensor(np.asarray(spec.weight), dtype=dtype, device=device)
        if w.dim() == 4:  # conv weights channels-last, as the payloads (see raw_current)
            w = w.contiguous(memory_format=torch.channels_last)
        cache[key] = w
    return cache[key]


def sum_dtype(spec: SynapseSpec, max_payload: float) -> torch.dtype:
    """float32 when every partial sum of ``spec`` stays below 2**24 (exact), else float64."""
    bound = spec.weight_abs_max * float(max_payload) * spec.fan_in()
    return torch.float32 if bound < float(1 << 24) else torch.float64


def check_exact_sum(spec: SynapseSpec, max_payload: int) -> None:
    """Raise ``ValueError`` if a float64 synapse sum could lose integer precision."""
    bound = spec.weight_abs_max * float(max_payload) * spec.fan_in()
    if bound >= _EXACT_LIMIT:
        raise ValueError(  # pragma: no mutate
            f"{spec.kind} synapse: |weight| x payload x fan-in = {bound:.3g} "  # pragma: no mutate
            "exceeds 2**52; "  # pragma: no mutate
            "integer sums would not be exact"  # pragma: no mutate
        )


def raw_current(spec: SynapseSpec, z: torch.Tensor) -> torch.Tensor:
    """Un-shifted synapse sum for a batch ``z`` of shape ``[B, *in_shape]`` (float64)."""
    if spec.kind == "dense":
        return z.reshape(z.shape[0], -1) @ weight_as(spec, z.dtype, z.device).T
    if spec.kind == "conv":
        # Channels-last: oneDNN's direct NHWC kernels are ~3x faster on the CPU here
        # (benchmarks/bench_deploy.py); the sums are the same exact integers.
        if z.dim() == 4:
            z = z.contiguous(memory_format=torch.channels_last)
        return F.conv2d(z, weight_as(spec, z.dtype, z.device), stride=spec.stride,
                        padding=spec.padding, dilation=spec.dilation, groups=spec.groups)
    if spec.kind == "pool":
        pooled = F.avg_pool2d(z, spec.kernel, stride=spec.stride, padding=spec.padding,
                              count_include_pad=True, divisor_override=1)
        w = float(np.asarray(spec.weight).reshape(()))
        return pooled if w == 1.0 else pooled.mul_(w)  # a fresh tensor: no second one
    if spec.kind == "identity":
        return float(np.asarray(spec.weight).reshape(())) * z
    raise ValueError(f"unknown synapse kind {spec.kind!r}")  # pragma: no mutate


@contextlib.contextmanager
def _exact_float_sums(device: torch.device) -> Iterator[None]:
    """Keep float sums exact on CUDA: TF32 (a 10-bit mantissa) off for matmul and cuDNN.

    On the CPU nothing changes; the flags are restored afterwards.
    """
    if device.type != "cuda":
        yield
        return
    flags = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = flags


def synapse_current(spec: SynapseSpec, z: Array, max_payload: float | None = None,
                    dtype: torch.dtype = torch.int64) -> Array:
    """Integer current ``a`` of one synapse for a batch of payloads.

    Parameters
    ----------
    spec : SynapseSpec
    z : int array, shape ``[B, *in_shape]``
        Source payloads (``in_shape`` is ``(C, H, W)`` for conv/pool; any shape
        for dense, which flattens in C-major order).
    max_payload : float, optional
        A bound on ``|z|`` known in advance (a layer's levels); default: scan ``z``.
        It selects the exact float type of the sum, so it must hold.
    dtype : torch.dtype
        ``torch.int64`` or ``torch.int32`` (the saturated current always fits; the
        shift is done in int32 only when ``bound << weightExp`` stays below 2**31).

    Returns
    -------
    int array of ``dtype``, shape ``[B, *out_shape]``, of the same kind as ``z``:
    ``sat24(sum << weight_exp)``.
    """
    zt = torch.as_tensor(z)
    if max_payload is None:
        max_payload = payload_max(zt)
    s = torch.round_(synapse_sum(spec, zt, max_payload))  # a fresh tensor: rounded in place
    a = current_of_sum(s, int(spec.weight_exp), narrow_sum(spec, max_payload, dtype), dtype,
                       spec.overflow)
    return a if _is_torch(z) else a.numpy()


def payload_max(z: torch.Tensor) -> float:
    """``max |z|`` (0 for an empty tensor) in one read-only pass (``aminmax``)."""
    if not z.numel():
        return 0.0
    if z.dtype == torch.bool:
        return float(z.any())
    lo, hi = torch.aminmax(z)
    return max(float(hi), -float(lo))


def synapse_sum(spec: SynapseSpec, z: torch.Tensor, max_payload: float) -> torch.Tensor:
    """The exact float sum of :func:`synapse_current`, not yet rounded nor shifted."""
    layout = torch.channels_last if spec.kind == "conv" and z.dim() == 4 else \
        torch.preserve_format  # one pass: the float copy is laid out for the conv
    z = z.to(sum_dtype(spec, max_payload), memory_format=layout)
    with _exact_float_sums(z.device):
        return raw_current(spec, z)


def narrow_sum(spec: SynapseSpec, max_payload: float, dtype: torch.dtype) -> bool:
    """Whether ``sum << weightExp`` of an int32 layer provably stays below 2**31."""
    bound = spec.weight_abs_max * float(max_payload) * spec.fan_in() * \
        2.0 ** max(int(spec.weight_exp), 0)
    return dtype == torch.int32 and bound < float(1 << 31)


def bounded(a: Array, overflow: str) -> Array:
    """A synapse current bounded as its :attr:`SynapseSpec.overflow` says: ``sat24``,
    a 24-bit two's-complement wrap (stock Lava ``Conv``), or unbounded (stock ``Dense``)."""
    if overflow == "sat24":
        return sat24(a)
    if overflow == "wrap24":
        if _is_torch(a) and not a.dtype.is_floating_point:  # two's complement: & is the
            return (a + (1 << 23)).bitwise_and_((1 << 24) - 1).sub_(1 << 23)  # floor mod
        return (a + (1 << 23)) % (1 << 24) - (1 << 23)  # floor modulo, as numpy's
    return a


def current_of_sum(s: torch.Tensor, weight_exp: int, narrow: bool, dtype: torch.dtype,
                   overflow: str = "sat24") -> torch.Tensor:
    """``sat24(s << weight_exp)`` of a rounded float sum ``s``, as ``dtype``
    (``narrow``: the shift is done in int32, see :func:`narrow_sum`); a stock synapse's
    ``overflow`` other than ``sat24`` gives an int64 current bounded by :func:`bounded`."""
    if overflow != "sat24":
        a = s.to(torch.int64)
        return bounded(a if weight_exp == 0 else shift(a, weight_exp), overflow)
    a = s.to(torch.int32 if narrow else torch.int64)
    a = _clip_(a if weight_exp == 0 else shift(a, weight_exp), SAT_MIN, SAT_MAX)
    if dtype == torch.int32 and not narrow:
        a = a.to(torch.int32)  # saturated: 24 bits
    return a


# --------------------------------------------------------------------------- axonal delays
def delay_groups(spec: SynapseSpec) -> list:
    """``[(k, part)]`` per distinct delay ``k`` (cached on the spec): ``part`` is a 0/1
    mask over the flattened outputs (per-neuron delays) or the undelayed synapse
    holding only the weights of delay ``k`` (per-synapse delays)."""
    if spec._delay_groups is None:
        d = np.asarray(spec.delay, dtype=np.int64)
        groups = []
        for k in np.unique(d):
            if d.ndim == 1:
                groups.append((int(k), (d == k).astype(np.int64)))
            else:
                w = np.where(d == k, np.asarray(spec.weight), 0)
                groups.append((int(k), SynapseSpec(spec.kind, w, spec.weight_exp)))
        object.__setattr__(spec, "_delay_groups", groups)
    return spec._delay_groups


def delayed_parts(spec: SynapseSpec, z: Array, current=None) -> list:
    """One step's current split by axonal delay: ``[(k, current [B, *out])]``.

    Without delays this is ``[(0, synapse_current(spec, z))]``. Per-neuron delays
    split one current by output neuron; per-synapse delays sum each delay's weights
    separately and shift each sum by ``weight_exp`` (Lava ``DelayDense``).
    ``current`` replaces :func:`synapse_current` (a float model's sum).
    """
    current = synapse_current if current is None else current
    if spec.delay is None:
        return [(0, current(spec, z))]
    groups = delay_groups(spec)
    if np.asarray(spec.delay).ndim == 2:
        return [(k, current(part, z)) for k, part in groups]
    a = current(spec, z)
    flat = a.reshape(a.shape[0], -1)
    out = []
    for k, mask in groups:
        m = torch.as_tensor(mask, device=a.device) if _is_torch(a) else mask
        out.append((k, (flat * m).reshape(a.shape)))
    return out


def delay_line_step(line: Array, t: int, parts: list) -> Tuple[Array, Array]:
    """Advance a delay line ``[L, B, *out]`` (``L = 1 + max delay``) by step ``t``.

    Each part with delay ``k`` is added to the slot read at step ``t + k``; the slot
    of step ``t`` is read (saturated to 24 bits: per-synapse delays sum several
    parts) and emptied. Returns ``(line, current of step t)``.
    """
    n = line.shape[0]
    for k, part in parts:
        line[(t + k) % n] += part
    slot = t % n
    a = sat24(line[slot] + 0)
    line[slot] = 0
    return line, a


# --------------------------------------------------------------------------- neurons
#: Largest ``|bias << biasExp|`` for which int32 states are exact (see :func:`state_dtype`).
_INT32_BIAS_MAX = 1 << 29


def state_dtype(p: NeuronParams) -> torch.dtype:
    """``torch.int32`` where every §5 intermediate of this neuron stays below 2**31.

    Currents and states are saturated to 24 bits, ``a << 6`` < 2**29, a decayed state
    <= its state (the product is formed in int64 by :func:`decay`), so the largest sum,
    ``decay(v) + u + bias`` or ``decay(v) + (a << 6) + bias``, is below
    ``2**23 + 2**29 + |bias << biasExp|``: int32 is exact when the bias term is at most
    2**29; otherwise ``torch.int64``. Sigma-delta neurons (an unsaturated ``sigma``) always
    get ``torch.int64``.
    """
    if p.type not in ("MLSN", "READOUT", "PASS", "CUBA", "INPUT"):
        return torch.int64
    if p.current_bias is not None and \
            int(np.abs(np.asarray(p.current_bias, dtype=np.int64)).max(initial=0)) > SAT_MAX + 1:
        return torch.int64  # |(a + current_bias) << 6| < 2**30 only within 24 bits
    if p.bias is None:
        return torch.int32
    big = int(np.abs(np.asarray(p.bias, dtype=np.int64)).max(initial=0)) << int(p.bias_exp)
    return torch.int32 if big <= _INT32_BIAS_MAX else torch.int64


def _bias_state(p: NeuronParams, like: Array) -> Array | int:
    if p.bias is None:
        return 0
    b = as_int64(torch.as_tensor(p.bias) if _is_torch(like) else np.asarray(p.bias))
    if _is_torch(like):
        b = b.to(like.device)
    b = shift(b, p.bias_exp)
    if not _is_int64(like):  # int32 state: state_dtype bounded the bias term
        b = b.to(like.dtype) if _is_torch(b) else b.astype(like.dtype)
    return b


def _current_bias_state(p: NeuronParams, like: Array) -> Array:
    """``current_bias << 6`` (state units) in the kind, dtype and device of ``like``.

    With ``|a|, |current_bias| <= 2**23`` the term ``(a + current_bias) << 6`` stays below
    ``2**30``, so an int32 current (:func:`state_dtype`) holds it exactly."""
    if _is_torch(like):
        b = torch.as_tensor(np.asarray(p.current_bias, dtype=np.int64), device=like.device)
        return (b << STATE_SHIFT).to(like.dtype)
    return (np.asarray(p.current_bias, dtype=np.int64) << STATE_SHIFT).astype(like.dtype)


def _levels_of(v: Array, th: int, levels: int) -> Array:
    """``clip(v // th, 0, levels)`` of a saturated state ``v`` (``|v| <= 2**23``).

    On torch tensors the quotient is taken in float32, which is exact here: ``v`` and
    ``th < 2**24`` are exact floats, and for ``2**e <= v / th`` the correctly rounded
    quotient errs by at most ``2**(e - 24)``, less than the ``1 / th`` that separates a
    non-integer ``v / th`` from the next integer (``th * 2**e <= v < 2**24``); clipped to
    ``[0, levels]``, truncation is the floor. (Integer division is several times slower
    than these passes on the CPU.)
    """
    if _is_torch(v) and 0 < th < (1 << 24) and not v.dtype.is_floating_point:
        return v.to(torch.float32).div_(th).clamp_(0, levels).to(v.dtype)
    return _clip_(v // th, 0, levels)


def _sub_times_(v: Array, z: Array, th: int) -> Array:
    """``v - z * th`` in place (one pass on torch tensors)."""
    if _is_torch(v):
        return v.sub_(z, alpha=th)
    v -= z * th
    return v


def _as_int(b: Array, like: Array) -> Array:
    return b.to(like.dtype) if _is_torch(b) else b.astype(like.dtype)


def _snntorch_reset(v_old: Array, w: Array, th: int, rule: str) -> Tuple[Array, Array]:
    """snnTorch's ``reset_mechanism='subtract'`` on the integers (one level, DESIGN §5).

    snnTorch reads a step's reset from the membrane it stored, ``r = v_old > th``, and
    fires at ``>`` (not ``>=``). ``'snntorch'`` (``reset_delay=False``): a spike needs
    ``w > th (1 + r)`` and subtracts ``th`` once, so after a membrane above ``2 th`` the
    next step needs ``2 th``. ``'snntorch_delay'`` (``reset_delay=True``): the reset of
    the stored spike is subtracted now, ``w -= r th``, a spike is ``w > th`` and the
    membrane keeps its value. ``'snntorch_zero_delay'`` (``Synaptic``, ``'zero'``,
    ``reset_delay=True``): after a stored membrane above ``th`` the whole step is zeroed
    (``v = 0``, no spike), otherwise ``v = w`` and a spike is ``v > th``.
    ``w = decay(v) + u + bias`` (unsaturated); returns the new saturated ``v`` and the
    spikes ``z`` in ``{0, 1}``."""
    r = _as_int(v_old > th, w)
    if rule == "snntorch_zero_delay":
        w = _clip_(w * (1 - r), SAT_MIN, SAT_MAX)
        return w, _as_int(w > th, w)
    if rule == "snntorch_delay":
        w = _clip_(w - r * th, SAT_MIN, SAT_MAX)
        return w, _as_int(w > th, w)
    if rule != "snntorch":
        raise ValueError(f"unknown reset rule {rule!r}")  # pragma: no mutate
    w = _clip_(w, SAT_MIN, SAT_MAX)
    z = _as_int(w > th + r * th, w)
    return _sub_times_(w, z, th), z


def mlsn_step(u: Array, v: Array, a: Array, p: NeuronParams) -> Tuple[Array, Array, Array]:
    """One step of the multi-level spiking neuron (``MLSN``).

    Parameters
    ----------
    u, v : int64 arrays, layer shape (optionally with a leading batch axis)
        Current and membrane state (state units, real x 4096).
    a : int64 array, same shape
        Synaptic current of this step (weight units).
    p : NeuronParams

    Returns
    -------
    (u, v, z) : new states and the payload ``z`` in ``{0..levels}``.
    """
    # Each new array is built once and then updated in place (the emulator's cost is
    # these element-wise passes); u = sat24(decay(u) + (a << 6)).
    u_new = a << STATE_SHIFT
    if p.current_bias is not None:  # u = sat24(decay(u) + ((a + current_bias) << 6))
        u_new = u_new + _current_bias_state(p, u_new)  # broadcasts a per-channel bias
    if p.i_decay != DECAY_ONE:  # iDecay = 4096: the old current is gone
        u_new += decay(u, p.i_decay)
    u = _clip_(u_new, SAT_MIN, SAT_MAX)
    v_old = v
    v = decay(v, p.v_decay) + u  # v = sat24(decay(v) + u + bias)
    if p.bias is not None:
        v += _bias_state(p, a)
    th = int(p.v_th_mant) << STATE_SHIFT
    if p.reset != "soft":
        v, z = _snntorch_reset(v_old, v, th, p.reset)
    else:
        v = _clip_(v, SAT_MIN, SAT_MAX)
        z = _levels_of(v, th, int(p.levels))
        v = _sub_times_(v, z, th)
    if p.v_bits:
        half = 1 << (int(p.v_bits) - 1)
        v = clip(v >> int(p.v_exp), -half, half - 1) << int(p.v_exp)
    return u, v, z


def readout_step(v: Array, a: Array, p: NeuronParams) -> Array:
    """One step of the non-spiking ``READOUT`` neuron; the payload is ``v`` itself."""
    out = a << STATE_SHIFT  # sat24(decay(v) + (a << 6) + bias), built in place
    if p.v_decay != DECAY_ONE:
        out += decay(v, p.v_decay)
    if p.bias is not None:
        out += _bias_state(p, a)
    return _clip_(out, SAT_MIN, SAT_MAX)


def pass_payload(a: Array) -> Array:
    """``PASS``: the layer sends its saturated current (SEW-ADD joins)."""
    return sat24(a)


def input_payload(x: Array, input_levels: int) -> Array:
    """An ``input`` layer sends the network input clipped to ``[0, inputLevels]``."""
    return clip(as_int64(x), 0, int(input_levels))


def cuba_step(u: Array, v: Array, a: Array, p: NeuronParams) -> Tuple[Array, Array, Array]:
    """One step of lava-dl's binary CUBA-LIF as Lava's ``LIF`` fixed_pt runs it.

    netx maps ``du = iDecay - 1`` (compensating LIF's ``+1`` current-decay offset),
    ``dv = vDecay``, ``vth = vThMant`` and ``bias_mant = bias`` with ``bias_exp = 6``.
    The current wraps into 24 bits (as ``LIF`` does); the voltage saturates to
    ``±(2**23 - 1)``; a spike is ``v > vth << 6`` and resets ``v`` to 0.
    """
    if _is_torch(a):
        return _cuba_step_torch(u, v, a, p)
    u = decay(u, p.i_decay) + (a << STATE_SHIFT)
    if p.current_bias is not None:  # before the wrap: it enters with the current (§5)
        u = u + _current_bias_state(p, u)
    # LIF's int32 sum, then its 24-bit wrap, edges included: once, above 2**23 down, at or
    # below -2**23 up (u may stay outside 24 bits: LIF wraps once).
    u = wrap32(u)
    u = _where(u > _HALF24, u - 2 * _HALF24, _where(u <= -_HALF24, u + 2 * _HALF24, u))
    v = clip(wrap32(decay(v, p.v_decay) + u + _bias_state(p, a)), -SAT_MAX, SAT_MAX)
    spike = v > (int(p.v_th_mant) << STATE_SHIFT)
    z = spike.to(v.dtype) if _is_torch(spike) else spike.astype(v.dtype)
    v = v * (1 - z)
    return u, v, z


def wrap32(x: Array) -> Array:
    """``x`` in two's complement 32 bits (Lava LIF's int32 sums), as int64 or int32."""
    if not _is_torch(x):
        return ((x + _HALF32) & ((1 << 32) - 1)) - _HALF32
    if x.dtype == torch.int32 or not x.numel():  # int32 sums wrap by themselves
        return x
    lo, hi = torch.aminmax(x)
    if int(hi) < _HALF32 and int(lo) >= -_HALF32:  # the common case: one read-only scan
        return x
    return ((x + _HALF32) & ((1 << 32) - 1)) - _HALF32


def _cuba_step_torch(u: torch.Tensor, v: torch.Tensor, a: torch.Tensor, p: NeuronParams
                     ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`cuba_step` on torch tensors, the same integers in fewer passes: each new
    tensor is built once and updated in place (``u`` and ``v`` are never written: they
    may be broadcast views), the wrap runs only where a value leaves ``(-2**23, 2**23]``
    (one read-only scan instead of six passes), and the reset is a masked fill."""
    wide = torch.promote_types(torch.promote_types(a.dtype, u.dtype), v.dtype)
    u_new = (a if a.dtype == wide else a.to(wide)) << STATE_SHIFT  # the sums' dtype
    if p.current_bias is not None:
        u_new = u_new + _current_bias_state(p, u_new)
    if p.i_decay != DECAY_ONE:
        u_new += decay(u, p.i_decay)
    lo, hi = torch.aminmax(u_new) if u_new.numel() else (u_new.new_zeros(()),) * 2
    if u_new.dtype != torch.int32 and (int(hi) >= _HALF32 or int(lo) < -_HALF32):
        u_new = wrap32(u_new)  # LIF's int32 sum (an int32 tensor wraps by itself)
        lo, hi = torch.aminmax(u_new)
    if int(hi) > _HALF24 or int(lo) <= -_HALF24:  # the wrap of cuba_step, as written there
        u_new = torch.where(u_new > _HALF24, u_new - 2 * _HALF24,
                            torch.where(u_new <= -_HALF24, u_new + 2 * _HALF24, u_new))
    v_new = u_new + _bias_state(p, a)
    if p.v_decay != DECAY_ONE:
        v_new += decay(v, p.v_decay)
    if max(int(hi), -int(lo)) >= _HALF32 - 2 * _HALF24 - 1 - _INT32_BIAS_MAX \
            or state_dtype(p) == torch.int64:  # |u| near 2**31 or a bias past 2**29:
        v_new = wrap32(v_new)  # v's int32 sum may wrap, as LIF's does (one scan)
    v_new.clamp_(-SAT_MAX, SAT_MAX)
    spike = v_new > (int(p.v_th_mant) << STATE_SHIFT)
    return u_new, v_new.masked_fill_(spike, 0), spike.to(v_new.dtype)


# Sigma-delta neurons (netx ``SDNN``): a hidden layer (Lava ``SigmaDelta``), an input
# layer (``Delta``) and a ``sigma_output`` layer (``Sigma``).
def sigma_delta_step(sigma: Array, ref: Array, a: Array, p: NeuronParams
                     ) -> Tuple[Array, Array, Array]:
    """One step of a sigma-delta neuron exactly as ``lava.proc.sdn``'s fixed models run it.

    ``SDNN``: ``sigma += a``; ``act = relu(sigma + (bias << biasExp))``;
    ``SDNN_DELTA`` (input): ``act = a << (spike_exp + state_exp)``; then delta encoding
    against ``ref`` (what the receivers have summed so far: Lava's ``act - residue``):
    ``d = act - ref``, ``s = d if |d| >= vThMant << (spike_exp + state_exp) else 0``,
    ``ref += s``, payload ``s >> state_exp``. ``SDNN_SIGMA`` sends ``sigma += a`` itself.
    No saturation, as in Lava's models.
    """
    if p.type == "SDNN_SIGMA":
        sigma = sigma + a
        return sigma, ref, sigma
    if _is_torch(a):
        return _sigma_delta_step_torch(sigma, ref, a, p)
    scale = int(p.spike_exp) + int(p.state_exp)
    if p.type == "SDNN_DELTA":
        act = a << scale
    else:
        sigma = sigma + a
        act = sigma + _bias_state(p, a)
        act = _where(act < 0, act * 0, act)
    delta = act - ref
    s = _where(abs(delta) >= (int(p.v_th_mant) << scale), delta, delta * 0)
    return sigma, ref + s, s >> int(p.state_exp)


def _sigma_delta_step_torch(sigma: torch.Tensor, ref: torch.Tensor, a: torch.Tensor,
                            p: NeuronParams) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`sigma_delta_step` (``SDNN``, ``SDNN_DELTA``) on torch tensors: the ReLU a
    clamp and the threshold a masked fill, both in place on tensors built here
    (``torch.where`` with a zero operand costs two more passes and two allocations)."""
    scale = int(p.spike_exp) + int(p.state_exp)
    if p.type == "SDNN_DELTA":
        delta = a << scale
    else:
        sigma = sigma + a
        delta = sigma + _bias_state(p, a) if p.bias is not None else sigma.clone()
        delta.clamp_(min=0)  # act = relu(sigma + bias)
    delta -= ref
    delta.masked_fill_(delta.abs() < (int(p.v_th_mant) << scale), 0)  # s
    exp = int(p.state_exp)
    return sigma, ref + delta, delta >> exp if exp else delta


STATEFUL = ("MLSN", "CUBA") + SDNN_TYPES


def neuron_step(state: Tuple[Array, Array], a: Array, p: NeuronParams
                ) -> Tuple[Tuple[Array, Array], Array]:
    """Dispatch one step of any neuron type.

    Parameters
    ----------
    state : (u, v) int64 arrays (``u`` unused by READOUT; both unused by PASS/INPUT)
    a : int64 current (for ``INPUT``, the network input payload)
    p : NeuronParams

    Returns
    -------
    ((u, v), payload)
    """
    u, v = state
    t = p.type
    if p.current_bias is not None and t not in CURRENT_BIAS_TYPES:
        raise ValueError(f"a current bias (currentBias) on a {t} neuron is not supported "
                         f"(only {', '.join(CURRENT_BIAS_TYPES)} neurons carry one)")
    if p.reset != "soft" and (t != "MLSN" or int(p.levels) != 1):
        raise ValueError(f"reset rule {p.reset!r} on a {t} neuron with {p.levels} levels is "
                         "not supported (only one-level MLSN neurons take it)")
    if t == "MLSN":
        u, v, z = mlsn_step(u, v, a, p)
        return (u, v), z
    if t == "READOUT":
        v = readout_step(v, a, p)
        return (u, v), v
    if t == "PASS":
        return (u, v), pass_payload(a)
    if t == "CUBA":
        u, v, z = cuba_step(u, v, a, p)
        return (u, v), z
    if t in SDNN_TYPES:  # the state is (sigma, ref)
        u, v, z = sigma_delta_step(u, v, a, p)
        return (u, v), z
    if t == "INPUT":
        return (u, v), input_payload(a, p.input_levels)
    raise ValueError(f"unknown neuron type {t!r}")  # pragma: no mutate


def layer_step(s: torch.Tensor, state: Tuple[Array, Array], p: NeuronParams, weight_exp: int,
               narrow: bool, dtype: torch.dtype) -> Tuple[Tuple[Array, Array], Array]:
    """One layer's step from its float synapse sum ``s`` (:func:`synapse_sum`): rounding,
    :func:`current_of_sum` and :func:`neuron_step` -- the form the emulator may hand to
    ``torch.compile`` as one fused element-wise kernel (same functions, same integers)."""
    return neuron_step(state, current_of_sum(torch.round(s), weight_exp, narrow, dtype), p)


def initial_state(p: NeuronParams, shape: Sequence[int], like: Array,
                  dtype: torch.dtype = torch.int64) -> Tuple[Array, Array]:
    """Zero current and ``v = vInit`` (state at the start of every sample), int64 or the
    ``dtype`` of :func:`state_dtype` (torch only).

    The torch states are broadcast views (no memory, no fill): the step functions never
    write into the states they are given, they return new ones.
    """
    if _is_torch(like):
        v0 = int(p.v_init) if p.type == "MLSN" else 0
        zero = torch.zeros((), dtype=dtype, device=like.device)
        return zero.expand(tuple(shape)), (zero + v0).expand(tuple(shape))
    else:
        u = np.zeros(tuple(shape), dtype=np.int64)
    v = u + (int(p.v_init) if p.type == "MLSN" else 0)
    return u, v
