"""Output shapes of DESIGN §5 synapses (PyTorch conv/pool arithmetic)."""
from __future__ import annotations

from typing import Tuple

from ..fixed import SynapseSpec


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
