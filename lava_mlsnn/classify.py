"""The one classification rule of lava-mlsnn (DESIGN §5, "Classification").

* a ``READOUT`` output layer: argmax of ``v`` at the last step (likewise a sigma-delta
  ``sigma_output`` layer's sigma);
* a spiking (``MLSN``, ``CUBA``) or ``PASS`` output layer: argmax of the payload summed
  over time;
* ties go to the lowest class index.

Every command and API that turns outputs into classes calls :func:`classify` (numpy
arrays and torch tensors alike); nothing else reads ``[:, -1].argmax``.
"""
from __future__ import annotations

from typing import Union

import numpy as np
import torch

Array = Union[np.ndarray, torch.Tensor]

READOUT = "READOUT"


def class_scores(outputs: Array, readout: bool, time_axis: int = 1) -> Array:
    """Per-class scores ``[B, C]`` of the output layer's record.

    Parameters
    ----------
    outputs : int or float array
        The output layer over time: ``[B, T, C]`` (file / emulator layout,
        ``time_axis=1``) or ``[B, C, T]`` (SLAYER layout, ``time_axis=-1``).
    readout : bool
        True for a ``READOUT`` output layer (read at the last step), False for a
        spiking or ``PASS`` one (summed over time).
    """
    if isinstance(outputs, torch.Tensor):
        last = outputs.select(time_axis, outputs.shape[time_axis] - 1)
        return last if readout else outputs.sum(dim=time_axis)
    outputs = np.asarray(outputs)
    return np.take(outputs, -1, axis=time_axis) if readout else outputs.sum(axis=time_axis)


def argmax_lowest(scores: Array) -> Array:
    """Argmax over the last axis; ties resolve to the lowest index on every device."""
    if isinstance(scores, torch.Tensor):
        top = scores.max(dim=-1, keepdim=True).values
        idx = torch.arange(scores.shape[-1], device=scores.device).expand_as(scores)
        big = torch.full_like(idx, scores.shape[-1])
        return torch.where(scores == top, idx, big).min(dim=-1).values
    scores = np.asarray(scores)
    return np.argmax(scores == scores.max(axis=-1, keepdims=True), axis=-1)


def classify(outputs: Array, readout: bool, time_axis: int = 1) -> Array:
    """Predicted class per sample (int64 ``[B]``, same kind as ``outputs``).

    See :func:`class_scores` for the arguments; the rule is the module's.
    """
    return argmax_lowest(class_scores(outputs, readout, time_axis))


def is_readout(neuron_type: str) -> bool:
    """Whether an output layer of this neuron type is read at the last step (a READOUT's
    ``v``, a sigma-delta ``sigma_output`` layer's running sum)."""
    return neuron_type in (READOUT, "SDNN_SIGMA")


def classify_spec(spec, outputs: Array, time_axis: int = 1) -> Array:
    """:func:`classify` for the output layer of a deployed network (``NetworkSpec``)."""
    last = spec.layers[spec.output_index]
    ntype = last.neuron.type if last.neuron is not None else ""
    return classify(outputs, is_readout(ntype), time_axis)
