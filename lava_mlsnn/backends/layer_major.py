"""The aligned run layer by layer: each synapse over all ``B x T`` frames at once, then its
neuron over the time axis in one compiled loop (:mod:`.kernels`).

In the aligned run (DESIGN §4) every sample starts from its reset state and a
feed-forward layer (no recurrence, no axonal delay line) at step ``t`` reads only its
source's payload of the same step, so the network can be run layer-major: layer ``l``'s
synapse sums for every step are one conv / matmul over ``B * T`` frames, and the neuron
runs along ``t`` from those sums. The integers are the step-major loop's: the sums are
the same exact floats (:func:`lava_mlsnn.fixed.synapse_sum`), the neuron arithmetic is
:mod:`.kernels`' transcription of :mod:`lava_mlsnn.fixed`, and a layer the kernels do
not cover runs :func:`lava_mlsnn.fixed.neuron_step` step by step on its batched currents.

A layer takes a kernel only when every field of its :class:`~lava_mlsnn.fixed.NeuronParams`
is in :data:`KERNEL_FIELDS` and passes its check there: a field this module does not know
(added later) sends the layer to the plain step.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Dict, Optional, Set, Tuple

import numpy as np
import torch

from .. import fixed
from ..format.spec import INPUT, LayerSpec, NetworkSpec
from . import kernels
from .lean import lean_ok

_BIG = 1 << 40  # |integer| bound keeping every product of the kernels inside int64


def _scalar(lo: int, hi: int) -> Callable[[object], bool]:
    return lambda v: np.ndim(v) == 0 and float(v) == int(v) and lo <= int(v) <= hi


def _bias_ok(p: fixed.NeuronParams) -> bool:
    if p.bias is None:
        return True
    b = np.asarray(p.bias)
    if b.dtype.kind not in "iu" or not -62 <= int(p.bias_exp) <= 16:
        return False
    return int(np.abs(b.astype(np.int64)).max(initial=0)) < (_BIG >> 16)


#: Every NeuronParams field the kernels implement, with the values they implement
#: (checked together with the type by :func:`kernel_ok`). ``input_levels``,
#: ``spike_exp`` and ``state_exp`` are not read by the kernel's neuron types.
KERNEL_FIELDS: Dict[str, Callable[[object], bool]] = {
    "type": lambda v: v in kernels.KINDS,
    "v_th_mant": _scalar(0, (1 << 17) - 1),
    "levels": _scalar(0, 1 << 23),
    "i_decay": _scalar(0, fixed.DECAY_ONE),
    "v_decay": _scalar(0, fixed.DECAY_ONE),
    "v_init": _scalar(-_BIG, _BIG),
    "v_bits": _scalar(0, 40),
    "v_exp": _scalar(0, 16),
    "bias": lambda v: True,  # checked with bias_exp by _bias_ok
    "bias_exp": _scalar(-62, 16),
    "input_levels": lambda v: True,
    "spike_exp": lambda v: True,
    "state_exp": lambda v: True,
    "current_bias": lambda v: v is None,  # the loops have no current bias: the plain step
    "reset": lambda v: v == "soft",  # nor snnTorch's reset rules (§5)
}


def kernel_ok(layer: LayerSpec, bound: Optional[float]) -> bool:
    """Whether ``layer`` (fed by payloads of at most ``bound``; None: unknown) may run
    :func:`lava_mlsnn.backends.kernels.run_layer`."""
    p = layer.neuron
    if p is None or layer.type == "input" or layer.recurrent is not None \
            or len(layer.branches) != 1:
        return False
    for f in dataclasses.fields(p):
        check = KERNEL_FIELDS.get(f.name)
        if check is None or not check(getattr(p, f.name)):
            return False
    if not _bias_ok(p) or (p.type == "MLSN" and int(p.v_th_mant) <= 0):
        return False
    syn = layer.branches[0].synapse
    if syn.delay is not None or syn.overflow not in kernels.OVERFLOW \
            or not -24 <= int(syn.weight_exp) <= 24:
        return False
    if syn.overflow == "none":  # the unbounded current must stay far inside int64
        if bound is None:
            return False
        top = syn.weight_abs_max * float(bound) * syn.fan_in() * 2.0 ** max(int(syn.weight_exp), 0)
        if top >= _BIG:
            return False
    return True


def applies(spec: NetworkSpec) -> bool:
    """Whether the network can run layer-major: no recurrence, no delay line."""
    return all(layer.recurrent is None and all(b.synapse.delay is None for b in layer.branches)
               for layer in spec.layers)


def kernel_layers(spec: NetworkSpec, bounds: Dict[int, Optional[float]]) -> Set[int]:
    """Indices of the layers that take a kernel."""
    return {i for i, layer in enumerate(spec.layers)
            if kernel_ok(layer, bounds[layer.branches[0].source] if layer.branches else None)}


def _frames(z: torch.Tensor) -> torch.Tensor:
    """``[B, T, *shape]`` -> ``[B * T, *shape]`` (a view for the layouts used here)."""
    return z.reshape((z.shape[0] * z.shape[1],) + tuple(z.shape[2:]))


def _memory_order(t: torch.Tensor) -> Tuple[int, ...]:
    """Dimensions 1.. of a ``[F, *shape]`` tensor from the slowest to the fastest in memory."""
    return tuple(sorted(range(1, t.dim()), key=lambda d: (-t.stride(d), d)))


def _kernel_layer(i: int, layer: LayerSpec, src: torch.Tensor, bound: Optional[float],
                  record: Optional[torch.Tensor], cache: Dict) -> torch.Tensor:
    """Layer ``i`` over all steps: its sums, then the compiled neuron loop. Returns the
    float32 payload ``[B, T, *shape]`` (the sums' layout); ``record`` is filled."""
    b, steps = src.shape[:2]
    br = layer.branches[0]
    if bound is None:  # sigma-delta payloads: scanned, as fixed.synapse_current does
        bound = fixed.payload_max(src)
    s = fixed.synapse_sum(br.synapse, _frames(src), bound)
    order = _memory_order(s)
    sp = s.permute(0, *order)
    if not sp.is_contiguous():
        sp = sp.contiguous()
    n = int(np.prod(sp.shape[1:]))
    key = (i, order, s.dtype)
    if key not in cache:  # per layer and layout: the constants and the bias in that order
        p, syn = layer.neuron, br.synapse
        bias = kernels.bias_term(p, tuple(layer.shape)).transpose([d - 1 for d in order])
        bias = np.ascontiguousarray(bias).reshape(-1)
        if s.dtype == torch.float32 and lean_ok(p, syn, bound):  # float32 is exact
            cache[key] = (kernels.MLSN32, kernels.constants32(p, int(syn.weight_exp)),
                          bias.astype(np.float32))
        else:
            cache[key] = (p.type, kernels.constants(p, int(syn.weight_exp), syn.overflow),
                          bias)
    kind, consts, bias = cache[key]
    pay = torch.empty(sp.shape, dtype=torch.float32)
    rec3 = None
    if record is not None:
        rp = record.permute(0, 1, *(d + 1 for d in order))
        direct = rp.is_contiguous()
        rec3 = (rp if direct else torch.empty(rp.shape, dtype=record.dtype)).view(b, steps, n)
    kernels.run_layer(kind, sp.reshape(b, steps, n).numpy(), consts, bias,
                      pay.view(b, steps, n).numpy(), None if rec3 is None else rec3.numpy())
    if record is not None and not direct:
        rp.copy_(rec3.view(rp.shape))
    inverse = tuple(np.argsort((0,) + order))
    return pay.permute(*inverse).reshape((b, steps) + tuple(layer.shape))


def _input_payload32(x: torch.Tensor, levels: int) -> torch.Tensor:
    """:func:`lava_mlsnn.fixed.input_payload` of int64 ``x`` ``[B, T, *shape]`` as the float32
    payload the next synapse sums (channels-last frames for ``[C, H, W]``): converted first,
    then clipped, in two passes instead of an int64 clip and a conversion. Exact: rounding
    to float32 is monotone and ``0``, ``levels < 2**24`` are floats, so every value outside
    ``[0, levels]`` still clips to its bound and every one inside is an exact float."""
    if not 0 <= levels < (1 << 24):
        return fixed.input_payload(x, levels)
    f = _frames(x)
    layout = torch.channels_last if f.dim() == 4 else torch.contiguous_format
    return f.to(torch.float32, memory_format=layout).clamp_(0, levels).view(x.shape)


def _plain_layer(layer: LayerSpec, outs: Dict[int, torch.Tensor],
                 bounds: Dict[int, Optional[float]], dtype: torch.dtype) -> torch.Tensor:
    """A layer without a kernel: its currents over all frames, the neuron step by step."""
    b, steps = outs[INPUT].shape[:2]
    shape = (b, steps) + tuple(layer.shape)
    if layer.type == "input":  # a stock Input block: the input is its a_in
        a = outs[layer.source]
    else:
        a = None
        for br in layer.branches:
            cur = fixed.synapse_current(br.synapse, _frames(outs[br.source]),
                                        bounds[br.source], dtype)
            a = cur if a is None else a + cur  # |sum| < 256 * 2**24: no overflow
        a = a.reshape(shape)
    state = fixed.initial_state(layer.neuron, (b,) + tuple(layer.shape), a, dtype)
    out = None
    for t in range(steps):
        state, z = fixed.neuron_step(state, a[:, t], layer.neuron)
        if out is None:
            out = torch.empty(shape, dtype=z.dtype)
        out[:, t] = z
    return out


def run_chunk(spec: NetworkSpec, x: torch.Tensor, recorded: Dict[int, torch.Tensor],
              bounds: Dict[int, Optional[float]], kern: Set[int],
              dtypes: Dict[int, torch.dtype], cache: Dict) -> None:
    """The aligned run of one chunk ``x`` ``[B, T, *inputShape]`` (int64), layer-major,
    written into the chunk's slices of ``recorded``."""
    last_use = {}
    for i, layer in enumerate(spec.layers):
        for src in ([layer.source] if not layer.branches else [br.source for br in layer.branches]):
            last_use[src] = i
    outs: Dict[int, torch.Tensor] = {INPUT: x}
    for i, layer in enumerate(spec.layers):
        rec = recorded.get(i)
        if layer.type == "flatten":
            src = outs[layer.source]
            out = src.reshape(src.shape[:2] + (-1,))
        elif layer.type == "input" and layer.neuron.type == "INPUT":
            out = _input_payload32(outs[layer.source], int(layer.neuron.input_levels))
        elif i in kern:
            br = layer.branches[0]
            out = _kernel_layer(i, layer, outs[br.source], bounds[br.source], rec, cache)
            rec = None  # written by the kernel
        else:
            out = _plain_layer(layer, outs, bounds, dtypes[i])
        if rec is not None:
            rec.copy_(out)
        outs[i] = out
        for j in [j for j in outs if j != INPUT and last_use.get(j, -2) <= i and j != i]:
            del outs[j]  # no later layer reads it
