"""Blocks whose synapse bias enters the neuron's current (NIR ``CubaLIF``, DESIGN §5).

NIR's ``CubaLIF`` (and snnTorch's ``Synaptic``) add the bias of the synapse node in front
of them to the synaptic current, ``I = alpha I + W x + b``, so it builds up by ``1 / (1 -
alpha)``. The blocks here are lava-mlsnn's multi-level ``Dense`` / ``Conv`` and lava-dl's
``cuba.Dense`` / ``cuba.Conv`` with that bias: the float forward adds it to the synapse
output (the neuron's input current), and the fold writes it as the layer's
``current_bias`` on the integer grid of the current (:func:`current_bias_of`).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from .. import fixed
from ..block import Conv, Dense, cuba
from ..block.base import Folded, FoldError, per_channel_bias


def current_bias_of(bias: np.ndarray, c: float, ndim: int, name: str) -> np.ndarray:
    """A current bias in real units as the integers of ``a`` (``c`` per real unit):
    ``round(c * bias)``, so the error is at most half a unit of ``a`` (half the even
    weight grid's step of 2). Refused past the 24-bit current."""
    q = np.round(np.asarray(bias, dtype=np.float64) * float(c))
    if q.size and float(np.abs(q).max()) > fixed.SAT_MAX:
        raise FoldError(f"{name}: a current bias up to {float(np.abs(q).max()):.4g} exceeds "
                        f"the 24-bit current ({fixed.SAT_MAX})")
    return per_channel_bias(q.astype(np.int64), ndim)


class _CurrentBias:
    """The current bias (real units, one per output channel) of a synapse + neuron block."""

    current_bias: torch.Tensor

    def set_current_bias(self, bias: np.ndarray) -> None:
        """``bias`` (out,) in real units of the block's current; a buffer (not trained)."""
        self.register_buffer("current_bias", torch.as_tensor(np.asarray(bias, np.float64),
                                                             dtype=torch.float32))

    def _biased_current(self, z: torch.Tensor) -> torch.Tensor:
        """The synapse output ``[N, C, (H, W,) T]`` plus the bias of its channel."""
        return z + self.current_bias.to(z.dtype).reshape((1, -1) + (1,) * (z.dim() - 2))

    def _current_scale(self, folded: Folded) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def fold(self, in_scale: float) -> Folded:
        f = super().fold(in_scale)
        cb = current_bias_of(self.current_bias.numpy(), self._current_scale(f),
                             len(self.neuron.shape), type(self).__name__)
        return replace(f, neuron=replace(f.neuron, current_bias=cb))


class _MultiLevelCurrentBias(_CurrentBias):
    """The multi-level block's own forward (mask, frame-wise synapse) with the bias added
    to what its synapse sends."""

    def _current_scale(self, folded: Folded) -> float:
        # fold_weights' free-weight scale c makes vThMant / c equal theta exactly
        if getattr(getattr(self.synapse, "pre_hook_fx", None), "bits", 8) < 8:
            raise FoldError(f"{type(self).__name__}: a current bias with k-bit weights is "
                            "not supported")
        return float(folded.neuron.v_th_mant) / float(self.neuron.threshold)

    def _synapse_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._biased_current(super()._synapse_forward(x))


class _CubaCurrentBias(_CurrentBias):
    """lava-dl's own forward (mask, delays, count log) with the bias added to what its
    synapse sends: a forward hook on the synapse, which that forward calls."""

    def set_current_bias(self, bias: np.ndarray) -> None:
        if "current_bias" not in self._buffers:
            self.synapse.register_forward_hook(self._add_current_bias)
        super().set_current_bias(bias)

    def _add_current_bias(self, synapse, inputs, z: torch.Tensor) -> torch.Tensor:
        return self._biased_current(z)

    def _current_scale(self, folded: Folded) -> float:
        return float(self.neuron.w_scale)  # lava-dl: integer weight = real weight x w_scale


class CurrentBiasDense(_MultiLevelCurrentBias, Dense):
    """Multi-level :class:`~lava_mlsnn.block.Dense` with a current bias."""


class CurrentBiasConv(_MultiLevelCurrentBias, Conv):
    """Multi-level :class:`~lava_mlsnn.block.Conv` with a current bias."""


class CurrentBiasCubaDense(_CubaCurrentBias, cuba.Dense):
    """lava-dl ``cuba.Dense`` with a current bias."""


class CurrentBiasCubaConv(_CubaCurrentBias, cuba.Conv):
    """lava-dl ``cuba.Conv`` with a current bias."""
