"""Weight quantizers (Q-SNN, Wei et al. 2024), used as a synapse's ``pre_hook_fx``.

Each quantizer maps real weights to ``q * unit`` with ``q`` on a k-bit integer grid
and one real ``unit`` per layer, so the exported layer can declare ``weightBits``
and ``weightScale`` (DESIGN §5): every integer weight is ``q * weightScale``.

* :class:`BinaryWeight` -- WS-DR's weight half: each output channel is
  standardized (zero mean, unit std: half the weights positive, the maximal-entropy
  binary distribution), then ``sign`` times a per-layer power-of-two scale. The
  backward pass is the Error Decay Estimator, ``k t (1 - tanh^2(t w))``, whose
  sharpness ``t`` grows from 0.1 to 10 over training (:meth:`set_progress`).
  ``unit='raw'`` keeps the standardized signs but takes the power-of-two unit of the raw
  weights: the standardized unit is about 1, 2^5-2^6 times a freshly initialized layer's,
  which a mean-only BatchNorm cannot scale back (benchmarks/study_wsdr.py).
* :class:`UniformWeight` -- k-bit symmetric uniform grid with a per-layer scale
  ``max|w| / (2^(k-1) - 1)`` and a straight-through gradient.
"""
from __future__ import annotations

import math
from typing import Tuple

import torch


def _standardize(w: torch.Tensor) -> torch.Tensor:
    dims = tuple(range(1, w.dim()))
    centred = w - w.mean(dim=dims, keepdim=True)
    return centred / (centred.std(dim=dims, keepdim=True) + 1e-8)


class _EDESign(torch.autograd.Function):
    """``sign`` (with sign(0) = +1) whose gradient is the Error Decay Estimator."""

    @staticmethod
    def forward(ctx, w: torch.Tensor, t: float, k: float) -> torch.Tensor:
        ctx.save_for_backward(w)
        ctx.t, ctx.k = t, k
        return torch.where(w >= 0, torch.ones_like(w), -torch.ones_like(w))

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (w,) = ctx.saved_tensors
        return grad * ctx.k * ctx.t * (1 - torch.tanh(ctx.t * w) ** 2), None, None


class _StraightThrough(torch.autograd.Function):
    """``fn(x)`` forward (a rounding), identity backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, fn) -> torch.Tensor:
        return fn(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad, None


def straight_through(fn, x: torch.Tensor) -> torch.Tensor:
    """Apply a rounding ``fn`` (``torch.round``, ``torch.floor``) with a gradient of 1."""
    return _StraightThrough.apply(x, fn)


def _check_binary_options(scale: str, unit: str) -> None:
    if scale not in ("layer", "channel"):
        raise ValueError(f"BinaryWeight scale must be 'layer' or 'channel', got {scale!r}")
    if unit not in ("standardized", "raw"):
        raise ValueError(f"BinaryWeight unit must be 'standardized' or 'raw', got {unit!r}")
    if unit == "raw" and scale != "layer":
        raise ValueError("BinaryWeight unit='raw' is one unit per layer (scale='layer')")


class BinaryWeight(torch.nn.Module):
    """1-bit weights: ``sign(standardize_per_channel(w)) * 2^round(log2(mean|w_hat|))``.

    ``w_hat`` is the standardized weight (``unit='standardized'``, Q-SNN) or the raw one
    (``unit='raw'``).

    Parameters
    ----------
    t_start, t_end : float
        EDE sharpness at the start and end of training (Q-SNN: 0.1 -> 10).
    standardize : bool
        WS-DR's weight regulation (per-channel zero mean, unit std) before ``sign``;
        ``False`` binarizes the raw weights (the ablation without WS-DR).
    scale : {'layer', 'channel'}
        ``'layer'``: one power-of-two unit per layer. ``'channel'``: Q-SNN's code exactly,
        ``s_o = 2^round(log2(mean|w_hat_o|))`` per output channel; a 1-bit file holds one
        unit per layer, so export refuses unless every channel's ``s_o`` is the same
        (after standardization ``mean|w_hat_o|`` is about 0.8, so ``s_o = 1`` nearly always).
    unit : {'standardized', 'raw'}
        Whose ``mean|.|`` gives the per-layer unit: the standardized weights (Q-SNN) or the
        raw ones (signs still from the standardized weights). Only with ``scale='layer'``.
    """

    bits = 1

    def __init__(self, t_start: float = 0.1, t_end: float = 10.0, standardize: bool = True,
                 scale: str = "layer", unit: str = "standardized"):
        super().__init__()
        _check_binary_options(scale, unit)
        self.unit = unit
        self.t_start, self.t_end = float(t_start), float(t_end)
        self.standardize = bool(standardize)
        self.scale = scale
        self.progress = 0.0

    def set_progress(self, fraction: float) -> None:
        """Training progress in [0, 1]: ``t = t_start (t_end/t_start)^fraction``."""
        self.progress = min(max(float(fraction), 0.0), 1.0)

    @property
    def t(self) -> float:
        return self.t_start * (self.t_end / self.t_start) ** self.progress

    @property
    def k(self) -> float:
        return max(1.0 / self.t, 1.0)

    def _unit(self, w_hat: torch.Tensor) -> float:
        if self.scale == "channel":
            units = self._channel_units(w_hat)
            if not bool((units == units.flatten()[0]).all()):
                raise ValueError(f"per-channel 1-bit scales differ ({sorted(set(units.flatten().tolist()))}); "
                                 "a 1-bit layer is deployed with one unit (use scale='layer')")
            return float(units.flatten()[0])
        return float(2.0 ** round(math.log2(float(w_hat.abs().mean().clamp_min(1e-8)))))

    @staticmethod
    def _channel_units(w_hat: torch.Tensor) -> torch.Tensor:
        dims = tuple(range(1, w_hat.dim()))
        mean = w_hat.abs().mean(dim=dims, keepdim=True).clamp_min(1e-8)
        return torch.pow(2.0, torch.round(torch.log2(mean)))

    def _prepare(self, w: torch.Tensor) -> torch.Tensor:
        return _standardize(w) if self.standardize else w

    def _layer_unit(self, w: torch.Tensor, w_hat: torch.Tensor) -> float:
        return self._unit(w.detach() if self.unit == "raw" else w_hat.detach())

    def forward(self, w: torch.Tensor, descale: bool = False) -> torch.Tensor:
        w_hat = self._prepare(w)
        sign = _EDESign.apply(w_hat, self.t, self.k)
        if self.scale == "channel":  # as Q-SNN's code, per channel (integer_grid checks)
            return sign * self._channel_units(w_hat.detach())
        return sign * self._layer_unit(w, w_hat)

    @torch.no_grad()
    def integer_grid(self, w: torch.Tensor) -> Tuple[torch.Tensor, float]:
        """``(q, unit)`` with ``q`` in {-1, +1} and ``forward(w) == q * unit``."""
        w_hat = self._prepare(w.detach())
        return torch.where(w_hat >= 0, 1.0, -1.0).to(torch.float64), self._layer_unit(w, w_hat)


class UniformWeight(torch.nn.Module):
    """k-bit symmetric uniform weights, per-layer scale, straight-through gradient.

    Parameters
    ----------
    bits : int
        2..8; the grid is ``|q| <= 2^(bits-1) - 1``.
    """

    def __init__(self, bits: int = 8):
        super().__init__()
        if not 2 <= bits <= 8:
            raise ValueError(f"UniformWeight bits must be in 2..8, got {bits}")
        self.bits = int(bits)
        self.qmax = 2 ** (self.bits - 1) - 1

    def set_progress(self, fraction: float) -> None:
        """Uniform grids have no schedule (kept for a common interface)."""

    def _unit(self, w: torch.Tensor) -> float:
        return float(w.detach().abs().max().clamp_min(1e-8)) / self.qmax

    def forward(self, w: torch.Tensor, descale: bool = False) -> torch.Tensor:
        unit = self._unit(w)
        return torch.clamp(straight_through(torch.round, w / unit), -self.qmax, self.qmax) * unit

    @torch.no_grad()
    def integer_grid(self, w: torch.Tensor) -> Tuple[torch.Tensor, float]:
        unit = self._unit(w)
        return torch.clamp(torch.round(w.detach() / unit), -self.qmax, self.qmax) \
            .to(torch.float64), unit


def configure_binary_weights(net: torch.nn.Module, standardize: bool = True,
                             unit: str = "standardized") -> int:
    """Set WS-DR's weight half (``standardize``) and the ``unit`` of every
    :class:`BinaryWeight` in ``net``; returns how many were set (0: no 1-bit layer)."""
    _check_binary_options("layer", unit)
    quantizers = [m for m in net.modules() if isinstance(m, BinaryWeight)]
    for q in quantizers:
        _check_binary_options(q.scale, unit)
    for q in quantizers:  # all checked first: a refusal leaves the net as it was
        q.standardize, q.unit = bool(standardize), unit
    return len(quantizers)


def weight_quantizer(bits: int, standardize: bool = True) -> torch.nn.Module:
    """``BinaryWeight`` for 1 bit, ``UniformWeight(bits)`` for 2..8."""
    return BinaryWeight(standardize=standardize) if bits == 1 else UniformWeight(bits)
