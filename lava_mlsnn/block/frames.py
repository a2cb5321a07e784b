"""A lava-dl conv synapse applied frame by frame, time-first (training on the CPU).

lava-dl's ``synapse.Conv`` is a ``Conv3d`` whose kernel spans one step, run over
SLAYER's time-last ``[N, C, H, W, T]``. The same weights as a ``conv2d`` over the
``N * T`` frames ``[N, T, C, H, W]`` compute the same sums (the same products in
the same order: identical bits in ``tests/test_block_frames.py``), and the result,
seen as ``[N, C, H, W, T]``, is laid out time-first: what the multi-level neuron's
compiled loop (:mod:`lava_mlsnn.neuron.sequence`) reads without a copy, and what
it returns, so that a chain of conv blocks passes its activations and gradients
on without a transposing copy between layers.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def applies(synapse: torch.nn.Module, x: torch.Tensor) -> bool:
    """Whether :func:`conv` computes what ``synapse(x)`` does: a lava-dl conv synapse
    (one-step kernel, no time stride, padding or dilation, no bias, zero padding), no
    module hook that calling it would run (weight normalisation recomputes the weight
    in one), a 5-D input on the CPU (elsewhere the layer runs as before)."""
    if x.device.type != "cpu" or x.dim() != 5 or not isinstance(synapse, torch.nn.Conv3d):
        return False
    from torch.nn.modules import module as nn_module
    if synapse._forward_pre_hooks or synapse._forward_hooks \
            or nn_module._global_forward_pre_hooks or nn_module._global_forward_hooks:
        return False
    return (synapse.weight.shape[-1] == 1 and synapse.bias is None
            and synapse.padding_mode == "zeros" and not isinstance(synapse.padding, str)
            and tuple(synapse.stride)[-1] == 1 and tuple(synapse.padding)[-1] == 0
            and tuple(synapse.dilation)[-1] == 1)


def conv(synapse: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``synapse(x)`` for ``x`` ``[N, C, H, W, T]``: the same ``[N, C', H', W', T]``,
    computed as one ``conv2d`` over the frames and returned as a time-first view.
    Falls back to ``synapse(x)`` where :func:`applies` says no."""
    if not applies(synapse, x):
        return synapse(x)
    n, steps = x.shape[0], x.shape[-1]
    frames = x.movedim(-1, 1).reshape(n * steps, *x.shape[1:-1])  # no copy if time-first
    weight = synapse.weight
    hook = getattr(synapse, "_pre_hook_fx", None)
    if hook is not None:  # lava-dl's weight quantizer, applied as its forward does
        weight = hook(weight)
    out = F.conv2d(frames, weight[..., 0], None, tuple(synapse.stride)[:2],
                   tuple(synapse.padding)[:2], tuple(synapse.dilation)[:2], synapse.groups)
    return out.reshape(n, steps, *out.shape[1:]).movedim(1, -1)
