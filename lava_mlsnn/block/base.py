"""What every lava-mlsnn block shares: folding to integers and the quantized path.

A block is synapse + neuron (lava-dl's pattern). Training runs in real units: a
multi-level layer passes ``theta * z`` on. Deployment runs in integers: the wire
carries ``z`` and each layer's ``theta`` (and BatchNorm) is folded into the next
synapse. :meth:`fold` computes those integers once, for export *and* for the
quantized forward, so the two cannot disagree.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import math
import warnings
from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple

import numpy as np
import torch

from .. import fixed
from ..format.spec import Branch, LayerSpec

MAX_V_TH_MANT = (1 << 17) - 1


@dataclass(frozen=True)
class Folded:
    """Integer form of one block: its synapse, neuron, and the real value of one unit
    of its output payload (``out_scale``).

    A block's ``fold`` computes it without changing the block; ``install`` puts it in
    place for the quantized forward. A composite block (residual) keeps its inner
    blocks' forms in ``parts`` and its join's branch synapses in ``join``.
    """

    synapse: Optional[fixed.SynapseSpec]
    neuron: Optional[fixed.NeuronParams]
    out_scale: float
    weight_bits: int = 0
    weight_scale: int = 0
    parts: Tuple["Folded", ...] = ()
    join: Tuple[fixed.SynapseSpec, ...] = ()


def real_weight(synapse: torch.nn.Module, mask: Optional[torch.Tensor] = None
                ) -> torch.Tensor:
    """Weight after the synapse's pre-hook (the quantizer during training), a fixed
    weight ``mask`` (lava-dl's, broadcast to the weight) applied first as lava-dl does."""
    w = synapse.weight if mask is None else synapse.weight * mask
    hook = getattr(synapse, "pre_hook_fx", None)
    return w if hook is None else hook(w)


@dataclass
class FoldedWeights:
    """Integers of one synapse + neuron (see :func:`fold_weights`)."""

    weight: np.ndarray
    bias: Optional[np.ndarray]
    v_th_mant: int
    c: float  # integer current per real unit of current
    weight_bits: int = 0
    weight_scale: int = 0
    bias_exp: int = fixed.BIAS_EXP_DEFAULT


def pow2_floor(x: float) -> int:
    return 1 << max(0, int(np.floor(np.log2(max(x, 1.0)))))


# ------------------------------------------------------------------ folding checks
class FoldError(ValueError):
    """A block's trained values have no faithful integer form (see :func:`fold_policy`)."""


class FoldWarning(UserWarning):
    """Folding clipped a threshold or saturated weights (the user allowed it)."""


_POLICY: contextvars.ContextVar = contextvars.ContextVar("lava_mlsnn_fold_policy",
                                                         default="raise")


@contextlib.contextmanager
def fold_policy(policy: str) -> Iterator[None]:
    """``'raise'`` (default): folding that would change what a layer computes raises
    :class:`FoldError`; ``'warn'``: it warns (:class:`FoldWarning`) with the counts."""
    if policy not in ("raise", "warn"):
        raise ValueError(f"fold policy must be 'raise' or 'warn', got {policy!r}")
    token = _POLICY.set(policy)
    try:
        yield
    finally:
        _POLICY.reset(token)


def report_clipping(problems: List[str]) -> None:
    """Raise or warn (per :func:`fold_policy`) about what folding could not keep."""
    if not problems:
        return
    msg = "; ".join(problems)
    if _POLICY.get() == "raise":
        raise FoldError(msg + " (retrain with a larger threshold or weight range, or fold "
                        "with allow_clipping=True to accept it)")
    warnings.warn(msg, FoldWarning, stacklevel=3)


def fit_threshold(c: float, theta: float, pow2: bool, problems: List[str]
                  ) -> Tuple[int, float]:
    """``vThMant`` for a scale ``c`` (integer current per real unit) and threshold
    ``theta``; returns it and the scale that makes ``vThMant / c == theta`` exactly."""
    ct = c * theta
    if ct < 1.0:
        problems.append(f"threshold x scale = {ct:.3g} < 1: vThMant would be clipped to 1")
    v_th_mant = pow2_floor(ct) if pow2 else int(np.clip(np.floor(ct), 1, MAX_V_TH_MANT))
    return v_th_mant, v_th_mant / theta


def even_weights(w: torch.Tensor, c: float, problems: List[str]) -> torch.Tensor:
    """``w * c`` on Loihi's even 8-bit grid; counts the weights that would saturate."""
    w_int = torch.round(w * c / 2) * 2
    bad = int(((w_int < fixed.LOIHI_WEIGHT_MIN) | (w_int > fixed.LOIHI_WEIGHT_MAX)).sum())
    if bad:
        problems.append(f"{bad} of {w_int.numel()} weights saturate at "
                        f"[{fixed.LOIHI_WEIGHT_MIN}, {fixed.LOIHI_WEIGHT_MAX}]")
    return torch.clamp(w_int, fixed.LOIHI_WEIGHT_MIN, fixed.LOIHI_WEIGHT_MAX)


def bias_scale_cap(shift: Optional[torch.Tensor]) -> float:
    """Largest scale ``c`` whose bias ``shift * c`` fits the 13-bit mantissa at the
    largest bias exponent (``biasExp`` 7: mantissa x 2 in weight units)."""
    if shift is None:
        return float("inf")
    top = float(shift.abs().max()) if shift.numel() else 0.0
    limit = fixed.BIAS_MANT_MAX * 2 ** (fixed.BIAS_EXP_MAX - fixed.STATE_SHIFT)
    return limit / top if top > 0 else float("inf")


def bias_mantissa(bias: Optional[torch.Tensor]) -> Tuple[Optional[np.ndarray], int]:
    """A bias in weight units (real) as ``(mantissa, biasExp)``: the smallest exponent
    >= 6 whose rounded mantissa fits Loihi's 13 bits (6 keeps the bias in weight units)."""
    if bias is None:
        return None, fixed.BIAS_EXP_DEFAULT
    bias = bias.to(torch.float64)
    for exp in range(fixed.BIAS_EXP_DEFAULT, fixed.BIAS_EXP_MAX + 1):
        mant = torch.round(bias * 2.0 ** (fixed.STATE_SHIFT - exp))
        if not mant.numel() or float(mant.abs().max()) <= fixed.BIAS_MANT_MAX:
            return mant.to(torch.int64).numpy(), exp
    raise FoldError(f"bias up to {float(bias.abs().max()):.4g} does not fit a 13-bit mantissa "
                    f"with biasExp <= {fixed.BIAS_EXP_MAX}")


def fold_weights(w_real: torch.Tensor, norm, in_scale: float, neuron, readout: bool,
                 quantizer=None) -> FoldedWeights:
    """Fold BatchNorm and thresholds into integer weights, bias and ``vThMant``.

    Free weights: the integer scale ``c`` (integer current per real unit of current)
    is the largest that keeps every weight in Loihi's 8-bit range and the bias within
    its 13-bit mantissa (``biasExp`` <= 7), adjusted so that ``c * theta`` is an integer
    threshold mantissa (a power of two when the membrane is quantized, so that its step
    is ``2^vExp``).

    Weights on a k-bit grid (``quantizer``, k < 8): every integer weight is
    ``q * weightScale``; ``weightScale`` takes the largest value that fits 8 bits
    (or, with a quantized membrane, the one that makes ``c * theta`` a power of
    two). Per-channel BatchNorm scales cannot fold into a per-layer grid: such layers
    need ``norm='mean_only'``. 8-bit quantizers fold like free weights.

    Integer weights are always even: Loihi 2 stores a mixed-sign 8-bit weight as
    ``2 * m`` with ``m`` in [-128, 127] (lava-dl's ``quantize_8bit`` grid), so an odd
    weight would not survive deployment.

    A threshold that cannot be represented (``c * theta < 1``) or weights that would
    saturate are reported through :func:`report_clipping` (an error unless the user
    allowed it).

    Parameters
    ----------
    w_real : tensor ``(out, ...)``
        Weights after the quantizer's forward (SLAYER layout).
    norm : BatchNorm or None
    in_scale : float
        Real value of one unit of the input payload.
    neuron : the block's neuron (``threshold`` in real units, ``v_quant``)
    readout : bool
        A READOUT layer has no threshold: its scale only has to fit the weights.
    quantizer : weight quantizer (:mod:`lava_mlsnn.quant.weights`), optional
    """
    shift = None
    channel_scale = None
    if norm is not None:
        channel_scale, shift = (t.detach().to(torch.float64) for t in norm.folded())
        if getattr(norm, "mean_only", False):
            channel_scale = None
    theta = None if readout else neuron.threshold
    pow2 = not readout and getattr(neuron, "v_quant", None) is not None
    bits = getattr(quantizer, "bits", 0)
    cap = bias_scale_cap(shift)
    problems: List[str] = []
    if bits and bits < 8:
        if channel_scale is not None:
            raise ValueError(f"a layer with {bits}-bit weights needs norm='mean_only': a "
                             "per-channel BatchNorm scale cannot fold into a per-layer grid")
        q, unit = quantizer.integer_grid(w_real)
        qmax = float(q.abs().max()) or 1.0
        ws = 2 * int(fixed.LOIHI_WEIGHT_MAX // (2 * qmax))
        if math.isfinite(cap):  # no bias (no norm, or a zero shift) sets no cap
            ws = max(2, min(ws, 2 * int(cap * unit * in_scale / 2)))
        k = None if readout else theta / (unit * in_scale)  # c * theta = ws * k
        if not readout and (ws * k < 1.0 if pow2 else round(ws * k) < 1):
            problems.append(f"threshold x scale = {ws * k:.3g} < 1: vThMant would be "
                            "clipped to 1")
        if pow2:
            v_th_mant = pow2_floor(ws * k)
            ws = int(np.clip(2 * round(v_th_mant / k / 2), 2, ws))
        elif not readout:
            v_th_mant = int(np.clip(round(ws * k), 1, MAX_V_TH_MANT))
            if round(ws * k) > MAX_V_TH_MANT:
                problems.append(f"threshold mantissa {round(ws * k)} exceeds "
                                f"{MAX_V_TH_MANT}: it would be clipped")
        c = ws / (unit * in_scale)
        w_int = q * ws
        wbits, wscale = bits, ws
    else:
        w = w_real.detach().to(torch.float64)
        if channel_scale is not None:
            w = w * channel_scale.reshape((-1,) + (1,) * (w.dim() - 1))
        w = w * in_scale
        c = min(fixed.LOIHI_WEIGHT_MAX / (float(w.abs().max()) or 1.0), cap)
        if not readout:
            v_th_mant, c = fit_threshold(c, theta, pow2, problems)
        w_int = even_weights(w, c, problems)
        wbits, wscale = (8, 2) if bits == 8 else (0, 0)
    report_clipping(problems)
    bias, bias_exp = bias_mantissa(None if shift is None else shift * c)
    return FoldedWeights(w_int.to(torch.int64).numpy(), bias, 1 if readout else v_th_mant, c,
                         wbits, wscale, bias_exp)


def lava_dl_signature(slayer_init, **defaults):
    """Class decorator: the block's ``__init__`` (written ``*args, **kwargs`` to pass
    them on to lava-dl) shows lava-dl's parameters, with the defaults it changes.

    ``help(block)`` and ``inspect.signature(block)`` then name the real arguments.
    """
    sig = inspect.signature(slayer_init)
    params = [p.replace(default=defaults[p.name]) if p.name in defaults else p
              for p in sig.parameters.values()]

    def decorate(cls):
        init = cls.__dict__["__init__"]

        @functools.wraps(init)
        def __init__(self, *args, **kwargs):
            init(self, *args, **kwargs)

        del __init__.__wrapped__  # the signature is lava-dl's, not (*args, **kwargs)
        __init__.__signature__ = sig.replace(parameters=params)
        cls.__init__ = __init__
        return cls
    return decorate


def refuse_delays(block: str, slayer_init, args: tuple, kwargs: dict) -> None:
    """Refuse lava-dl's ``delay`` / ``delay_shift`` arguments, positional or by name.

    lava-mlsnn blocks train in aligned time (the Lava runner absorbs the synapse
    latency, DESIGN §4) and export no learnable axonal delays, so either argument
    would be accepted and silently ignored; ``slayer_init`` is the lava-dl abstract
    block's ``__init__`` whose signature names them.
    """
    try:
        bound = inspect.signature(slayer_init).bind_partial(None, *args, **kwargs).arguments
    except TypeError:  # lava-dl raises its own error for bad arguments
        return
    if bound.get("delay"):
        raise ValueError(f"{block}: delay=True (learnable axonal delays) is not supported by "
                         "lava-mlsnn blocks: train the net as a lava-dl Module and export it "
                         "with lava-dl's export_hdf5; lava-mlsnn runs that file (dense-layer "
                         "delays included) as stock netx does")
    if bound.get("delay_shift"):
        raise ValueError(f"{block}: delay_shift=True is not supported: lava-mlsnn blocks train "
                         "in aligned time and the Lava runner adds the one-step synapse "
                         "latency itself (DESIGN §4)")


class QuantizedMixin:
    """Integer forward of a block, shared by every synapse+neuron block.

    ``self.folded`` (installed by :meth:`lava_mlsnn.block.Network.quantize`) holds the
    deployed integers; the block then runs :mod:`lava_mlsnn.fixed` step by step.
    """

    folded: Optional[Folded] = None

    def install(self, folded: Optional[Folded]) -> None:
        """Run ``folded`` in the quantized forward (``None``: back to real values)."""
        self.folded = folded
        neuron = getattr(self, "neuron", None)
        if neuron is not None and hasattr(neuron, "deployed"):
            neuron.deployed = None if folded is None else folded.neuron

    def quantized_forward(self, z: torch.Tensor) -> torch.Tensor:
        """Integer payload ``[N, *in_shape, T]`` -> integer payload ``[N, *shape, T]``."""
        f = self.folded
        z = z.to(torch.int64)
        outs = []
        state = None
        for t in range(z.shape[-1]):
            a = fixed.synapse_current(f.synapse, z[..., t])
            if state is None:
                state = fixed.initial_state(f.neuron, a.shape, a)
            state, out = fixed.neuron_step(state, a, f.neuron)
            outs.append(out)
        return torch.stack(outs, dim=-1)

    def layer_spec(self, source: int, folded: Optional[Folded] = None) -> LayerSpec:
        """The DESIGN §6 layer of ``folded`` (default: the installed form), reading
        layer ``source``."""
        f = self.folded if folded is None else folded
        return LayerSpec(self.layer_type, tuple(int(s) for s in self.neuron.shape), source,
                         [Branch(source, f.synapse)], f.neuron, f.weight_bits, f.weight_scale)

    def export_layers(self, source: int, start: int = 0,
                      folded: Optional[Folded] = None) -> List[LayerSpec]:
        return [self.layer_spec(source, folded)]


def conv_synapse_spec(syn: torch.nn.Module, w: np.ndarray) -> fixed.SynapseSpec:
    """DESIGN §5 conv synapse from a SLAYER ``synapse.Conv`` and its integer weights
    ``(out, in/groups, kH, kW, 1)`` (the trailing time axis is dropped)."""
    return fixed.SynapseSpec("conv", w[..., 0], stride=tuple(syn.stride[:2]),
                             padding=tuple(syn.padding[:2]), dilation=tuple(syn.dilation[:2]),
                             groups=int(syn.groups))


class SpatialShapeMixin:
    """Spatial blocks learn their output shape ``(C, H, W)`` from the first forward."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        if self.neuron.shape is None or len(self.neuron.shape) != 3:
            self.neuron.shape = out.shape[1:-1]
        return out


def per_channel_bias(bias: Optional[np.ndarray], ndim: int) -> Optional[np.ndarray]:
    """Shape a per-channel bias so it broadcasts over a ``(C, H, W)`` layer."""
    if bias is None:
        return None
    return bias.reshape((-1,) + (1,) * (ndim - 1))
