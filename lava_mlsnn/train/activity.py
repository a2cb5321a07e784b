"""Activity regularizers: trade accuracy for fewer events and smaller payloads.

Both read the mean level occupancy ``rate_l = mean(z) / N`` that every multi-level
neuron keeps from its last forward pass (differentiable through the surrogate;
``rate_l`` is the firing rate when N = 1). The readout has no such neuron.

* ``'l1'`` -- payload L1: ``lambda * mean_l rate_l`` (z >= 0, so this is the L1 norm of
  the payloads per neuron and step, in units of N, averaged over the layers);
* ``'rate'`` -- firing-rate target: ``lambda * mean_l (rate_l - target)^2``, which
  pulls every layer toward ``target`` from both sides.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch

from ..quant.wsdr import spiking_neurons

KINDS = ("l1", "rate")


@dataclass(frozen=True)
class ActivityRegularizer:
    """Callable regularizer for :func:`lava_mlsnn.train.fit` (module docstring)."""

    kind: str = "l1"
    lam: float = 1e-2
    target: float = 0.05

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"activity regularizer must be one of {KINDS}, got {self.kind!r}")

    def __call__(self, net: torch.nn.Module) -> torch.Tensor:
        rates = [n.rate for n in spiking_neurons(net) if n.rate is not None]
        if not rates:
            return torch.zeros(())
        r = torch.stack(rates)
        term = r if self.kind == "l1" else (r - self.target) ** 2
        return self.lam * term.mean()


def combine(terms: Sequence[Optional[Callable[[torch.nn.Module], torch.Tensor]]]
            ) -> Optional[Callable[[torch.nn.Module], torch.Tensor]]:
    """One regularizer summing the given ones (``None`` entries skipped; ``None`` if none)."""
    live = [t for t in terms if t is not None]
    if not live:
        return None
    if len(live) == 1:
        return live[0]
    return lambda net: sum(t(net) for t in live)
