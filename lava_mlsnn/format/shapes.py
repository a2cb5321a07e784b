"""Output shapes of DESIGN §5 synapses (PyTorch conv/pool arithmetic)."""
from __future__ import annotations

from typing import Tuple

import numpy as np

from .params import SynapseSpec


def _conv_len(n: int, k: int, s: int, p: int, d: int) -> int:
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def synapse_output_shape(syn: SynapseSpec, in_shape: Tuple[int, ...]) -> Tuple[int, ...]:
    """Shape of the current a synapse produces from a source of ``in_shape``.

    Raises
    ------
    ValueError
        When the synapse cannot read a source of that shape.
    """
    in_shape = tuple(int(s) for s in in_shape)
    if syn.kind == "dense":
        n_in = 1
        for s in in_shape:
            n_in *= s
        if syn.weight.shape[1] != n_in:
            raise ValueError(f"dense weight expects {syn.weight.shape[1]} inputs, source has "
                             f"{n_in} {in_shape}")
        return (int(syn.weight.shape[0]),)
    if syn.kind == "identity":
        return in_shape
    if len(in_shape) != 3:
        raise ValueError(f"{syn.kind} needs a (C, H, W) source, got {in_shape}")
    c, h, w = in_shape
    if syn.kind == "conv":
        if syn.weight.shape[1] * syn.groups != c:
            raise ValueError(f"conv weight expects {syn.weight.shape[1] * syn.groups} input "
                             f"channels, source has {c}")
        kh, kw = syn.weight.shape[2:]
        oh = _conv_len(h, kh, syn.stride[0], syn.padding[0], syn.dilation[0])
        ow = _conv_len(w, kw, syn.stride[1], syn.padding[1], syn.dilation[1])
        out = (int(syn.weight.shape[0]), oh, ow)
    else:  # pool
        oh = _conv_len(h, syn.kernel[0], syn.stride[0], syn.padding[0], 1)
        ow = _conv_len(w, syn.kernel[1], syn.stride[1], syn.padding[1], 1)
        out = (c, oh, ow)
    if min(out) <= 0:
        raise ValueError(f"{syn.kind} turns {in_shape} into an empty output {out}")
    return out


def synapse_count(syn: SynapseSpec, in_shape) -> int:
    """Connections of one synapse from a source of ``in_shape`` (padding excluded)."""
    if syn.kind == "dense":
        return int(syn.weight.size)
    if syn.kind == "identity":
        return int(np.prod(in_shape))
    # Real (non-padding) taps summed over output pixels, counted per axis (the
    # count is separable): integer arithmetic, no allocation of the layer.
    _, h, w = (int(s) for s in in_shape)
    if syn.kind == "conv":
        kernel, dil = tuple(int(k) for k in syn.weight.shape[2:]), syn.dilation
        per_tap = int(syn.weight.shape[0]) * int(syn.weight.shape[1])
    else:
        kernel, dil = syn.kernel, (1, 1)
        per_tap = int(in_shape[0])
    return per_tap * _axis_taps(h, kernel[0], syn.stride[0], syn.padding[0], dil[0]) \
        * _axis_taps(w, kernel[1], syn.stride[1], syn.padding[1], dil[1])


def _axis_taps(n: int, k: int, s: int, p: int, d: int) -> int:
    """Pairs (output position, kernel tap) along one axis that read a real input."""
    n, k, s, p, d = (int(v) for v in (n, k, s, p, d))
    out = (n + 2 * p - d * (k - 1) - 1) // s + 1
    total = 0
    for j in range(k):  # input index o*s - p + j*d must lie in [0, n)
        lo = max(0, -(-(p - j * d) // s))
        hi = min(out - 1, (n - 1 + p - j * d) // s)
        total += max(0, hi - lo + 1)
    return total
