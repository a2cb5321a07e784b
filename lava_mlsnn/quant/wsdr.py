"""WS-DR's spike half: a soft pull of each layer's activity toward maximal entropy.

``loss = lambda * mean_l (rate_l - 0.5)^2`` over the spiking layers, the first and
last excluded (Q-SNN's ``fr[1:-1]``), with ``lambda = 5e-3``. A binary spike's
entropy peaks at a rate of 0.5; for a multi-level neuron ``rate`` is the mean level
occupancy ``z / N`` (equal to the spike rate when N = 1). The weight half of WS-DR
is the per-channel standardization inside :class:`~lava_mlsnn.quant.BinaryWeight`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List

import torch

from ..neuron import multilevel


def spiking_neurons(net: torch.nn.Module) -> List[multilevel.Neuron]:
    """Multi-level neurons of ``net`` in forward (module) order."""
    return [m for m in net.modules() if isinstance(m, multilevel.Neuron)]


@dataclass(frozen=True)
class SpikeEntropy:
    """Callable regularizer for :func:`lava_mlsnn.train.fit` (``regularizer=SpikeEntropy()``)."""

    lam: float = 5e-3
    target: float = 0.5

    def __call__(self, net: torch.nn.Module) -> torch.Tensor:
        rates = [n.rate for n in spiking_neurons(net)[1:-1] if n.rate is not None]
        if not rates:
            return torch.zeros(())
        return self.lam * torch.stack([(r - self.target) ** 2 for r in rates]).mean()
