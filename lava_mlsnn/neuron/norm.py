"""Batch normalisation that keeps its scale and shift apart.

The deployed neuron adds the bias to the membrane ``v`` directly (DESIGN §5), not
to the decaying current ``u``. To train what is deployed, the neuron needs the
normalised input split into ``scale * x`` (the synaptic current) and ``shift``
(the bias). At export the same two terms fold into integer weights and bias.
"""
from __future__ import annotations

from typing import Tuple

import torch


class BatchNorm(torch.nn.Module):
    """Per-channel batch norm over ``[N, C, ..., T]`` tensors (time is a sample axis).

    ``forward`` returns ``(scale * x, shift)`` with ``shift`` broadcastable to ``x``
    without its time axis, so that ``scale * x + shift`` is ordinary batch norm.
    ``mean_only=True`` keeps only the shift (for layers whose weights sit on a
    per-layer k-bit grid, which a per-channel scale would break).
    """

    def __init__(self, num_features: int, momentum: float = 0.1, eps: float = 1e-5,
                 mean_only: bool = False):
        super().__init__()
        self.num_features = num_features
        self.mean_only = mean_only
        self.momentum = momentum
        self.eps = eps
        self.weight = torch.nn.Parameter(torch.ones(num_features))
        self.bias = torch.nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def _view(self, p: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return p.reshape((1, -1) + (1,) * (x.dim() - 2))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        if self.training:
            dims = [d for d in range(x.dim()) if d != 1]
            mean = x.mean(dim=dims)
            var = x.var(dim=dims, unbiased=False)
            with torch.no_grad():
                n = x.numel() / x.shape[1]
                self.running_mean.lerp_(mean, self.momentum)
                self.running_var.lerp_(var * n / max(n - 1, 1), self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        scale, shift = self.folded(mean, var)
        shift = self._view(shift, x)[..., 0]
        return x * self._view(scale, x), shift

    def folded(self, mean: torch.Tensor | None = None, var: torch.Tensor | None = None
               ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Per-channel ``(scale, shift)`` of the normalisation (running stats by default)."""
        mean = self.running_mean if mean is None else mean
        var = self.running_var if var is None else var
        if self.mean_only:  # lava-dl's MeanOnlyBatchNorm: shift only, no per-channel scale
            return torch.ones_like(mean), self.bias - mean
        scale = self.weight / torch.sqrt(var + self.eps)
        return scale, self.bias - scale * mean


class NormInputMixin:
    """``split_input`` for neurons that carry an optional ``norm`` and ``drop`` (SLAYER's
    neuron attributes): the normalised current and the bias it implies."""

    def split_input(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor | float]:
        shift: torch.Tensor | float = 0.0
        if self.norm is not None:
            x, shift = self.norm(x)
        if self.drop is not None:
            x = self.drop(x)
        return x, shift


class Bias(torch.nn.Module):
    """A learnable per-channel bias in the neuron's ``norm`` slot: ``(x, bias)``.

    It folds like a mean-only norm (no per-channel scale), so a layer imported from a
    framework whose synapses carry a bias (NIR ``Affine``, ``Conv2d``) keeps it on the
    membrane, where the deployed neuron adds it (DESIGN §5).
    """

    mean_only = True

    def __init__(self, num_features: int, value=None):
        super().__init__()
        init = torch.zeros(num_features) if value is None else \
            torch.as_tensor(value, dtype=torch.float32).reshape(num_features)
        self.bias = torch.nn.Parameter(init.clone())

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return x, self.bias.reshape((1, -1) + (1,) * (x.dim() - 3))

    def folded(self, mean=None, var=None) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(scale, shift)`` = ``(1, bias)``: the bias is the whole fold."""
        return torch.ones_like(self.bias), self.bias
