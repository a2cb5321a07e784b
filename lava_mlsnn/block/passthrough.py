"""A sum-pool layer that forwards its integer sum (``PASS`` neuron, DESIGN §5).

Frameworks place a pooling node between a spiking layer and the next synapse, with
no neuron of its own (Sinabs' ``SumPool2d``, NIR graphs). In the deployed format
every synapse feeds a neuron, so the sum goes out through a ``PASS`` neuron: the
payload is the integer sum itself, and the next synapse multiplies by it, which is
exactly ``conv(sum_pool(z))``.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from .. import fixed
from ..format.spec import Branch, LayerSpec
from .base import Folded, QuantizedMixin
from .multilevel import SumPool


class PassPool(QuantizedMixin, torch.nn.Module):
    """Sum pooling ``[N, C, H, W, T] -> [N, C, H', W', T]`` with a ``PASS`` neuron."""

    layer_type = "pool"

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.synapse = SumPool(kernel_size, stride, padding)
        self.shape: Optional[tuple] = None
        self.folded: Optional[Folded] = None

    def fold(self, in_scale: float) -> Folded:
        s = self.synapse
        syn = fixed.SynapseSpec("pool", np.array(1, dtype=np.int64), stride=s.stride,
                                padding=s.padding, kernel=s.kernel_size)
        return Folded(syn, fixed.NeuronParams("PASS"), in_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.folded is not None and not self.training:
            return self.quantized_forward(x)
        y = self.synapse(x)
        self.shape = tuple(int(v) for v in y.shape[1:-1])
        return y

    def layer_spec(self, source: int, folded: Optional[Folded] = None) -> LayerSpec:
        f = self.folded if folded is None else folded
        return LayerSpec("pool", self.shape, source, [Branch(source, f.synapse)], f.neuron)
