"""Membrane-potential quantizers.

:class:`StaticMembraneQuant` is the deployable one (DESIGN §5 ``vBits``/``vExp``):
the stored membrane, after the reset, is floored to a step of ``theta / 2^j`` and
clipped to ``vBits`` signed bits, i.e. a range of ``+-2^range_log2`` thresholds.
At export the step becomes ``2^vExp`` state units exactly (the threshold mantissa
is chosen as a power of two), so training and deployment quantize alike.

:class:`TanhMembraneQuant` is the Q-SNN paper's form (tanh squashing, a per-batch
scale): kept for comparison only. No chip can run it, and export refuses it.
"""
from __future__ import annotations

import torch

from .weights import straight_through


class StaticMembraneQuant(torch.nn.Module):
    """Static uniform membrane quantizer (deployable).

    Parameters
    ----------
    bits : int
        ``vBits`` (2..24).
    range_log2 : int
        The representable membrane spans ``[-2^range_log2, 2^range_log2)`` thresholds.
    """

    deployable = True

    def __init__(self, bits: int, range_log2: int = 2):
        super().__init__()
        if not 2 <= bits <= 24:
            raise ValueError(f"membrane bits must be in 2..24, got {bits}")
        if not 0 <= range_log2 < bits:
            raise ValueError(f"range_log2 must be in 0..bits-1, got {range_log2}")
        self.bits = int(bits)
        self.range_log2 = int(range_log2)

    @property
    def step_log2(self) -> int:
        """``j``: the step is ``theta / 2^j``."""
        return self.bits - 1 - self.range_log2

    def forward(self, v: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        step = theta / (1 << self.step_log2)
        half = 1 << (self.bits - 1)
        return torch.clamp(straight_through(torch.floor, v / step), -half, half - 1) * step

    def v_exp(self, v_th_mant: int) -> int:
        """``vExp`` for a power-of-two threshold mantissa."""
        m = int(v_th_mant).bit_length() - 1
        if (1 << m) != v_th_mant:
            raise ValueError(f"vThMant {v_th_mant} is not a power of two")
        exp = m + 6 - self.step_log2
        if exp < 0:
            raise ValueError(f"vThMant {v_th_mant} too small for a {self.bits}-bit membrane "
                             f"step of theta/2^{self.step_log2}")
        return exp


class TanhMembraneQuant(torch.nn.Module):
    """Q-SNN's membrane quantizer: ``alpha * round(tanh(v)/alpha * q) / q``, alpha per batch.

    For comparison only -- **not deployable** (tanh and a batch-dependent scale have no
    fixed-point form on Loihi 2).
    """

    deployable = False

    def __init__(self, bits: int = 8):
        super().__init__()
        self.bits = int(bits)

    def forward(self, v: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        s = torch.tanh(v)
        alpha = s.detach().abs().max().clamp_min(1e-8)
        q = (1 << (self.bits - 1)) - 1
        levels = torch.clamp(s / alpha, -1, 1) * q
        return (torch.round(levels) - levels).detach().add(levels) * alpha / q
