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
import math
from typing import Callable, Dict, Optional, Set, Tuple

import numpy as np
import torch

from .. import fixed
from ..format.params import memo
from ..format.spec import INPUT, LayerSpec, NetworkSpec
from . import kernels
from .lean import cuba32_ok, lean_ok

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
#: (checked together with the type by :func:`kernel_ok`). ``input_levels`` is not read
#: by the kernel's neuron types; ``spike_exp`` and ``state_exp`` only by sigma-delta ones.
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
    "spike_exp": _scalar(0, 16),
    "state_exp": _scalar(0, 16),
    "current_bias": lambda v: v is None,  # the loops have no current bias: the plain step
    "reset": lambda v: v == "soft",  # nor snnTorch's reset rules (§5)
}


def _fields_ok(p: fixed.NeuronParams) -> bool:
    """Every field of ``p`` in :data:`KERNEL_FIELDS` and within its check, the bias too."""
    return memo(p, "kernel_fields_ok", lambda: _check_fields(p))


def _check_fields(p: fixed.NeuronParams) -> bool:
    for f in dataclasses.fields(p):
        check = KERNEL_FIELDS.get(f.name)
        if check is None or not check(getattr(p, f.name)):
            return False
    return _bias_ok(p)


def kernel_ok(layer: LayerSpec, bound: Optional[float]) -> bool:
    """Whether ``layer`` (fed by payloads of at most ``bound``; None: unknown) may run
    :func:`lava_mlsnn.backends.kernels.run_layer`."""
    p = layer.neuron
    if p is None or layer.recurrent is not None:
        return False
    if layer.type == "input":  # a stock sigma-delta input layer: its current is the data,
        # exact in the float32 sums the loop reads while |x| < 2**24
        return p.type == "SDNN_DELTA" and not layer.branches and bound is not None \
            and bound < 1 << 24 and _fields_ok(p)
    if len(layer.branches) != 1:
        return False
    if not _fields_ok(p) or (p.type == "MLSN" and int(p.v_th_mant) <= 0):
        return False
    syn = layer.branches[0].synapse
    if syn.delay is not None or syn.overflow not in kernels.OVERFLOW \
            or not -24 <= int(syn.weight_exp) <= 24:
        return False
    if bound is None:  # sigma-delta payloads: current_fits at run time, on their max
        return p.type in fixed.SDNN_TYPES
    return current_fits(layer, bound)


def current_fits(layer: LayerSpec, bound: float) -> bool:
    """Whether ``layer``'s unbounded current (overflow ``none``), fed by payloads of at
    most ``bound``, stays far inside int64 (a bounded one always does)."""
    syn = layer.branches[0].synapse
    if syn.overflow != "none":
        return True
    top = syn.weight_abs_max * float(bound) * syn.fan_in() * 2.0 ** max(int(syn.weight_exp), 0)
    return top < _BIG


def applies(spec: NetworkSpec) -> bool:
    """Whether the network can run layer-major: no recurrence, no delay line."""
    return all(layer.recurrent is None and all(b.synapse.delay is None for b in layer.branches)
               for layer in spec.layers)


def kernel_layers(spec: NetworkSpec, bounds: Dict[int, Optional[float]]) -> Set[int]:
    """Indices of the layers that take a kernel."""
    return {i for i, layer in enumerate(spec.layers)
            if kernel_ok(layer, bounds.get(layer.branches[0].source if layer.branches
                                           else layer.source))}


def _frames(z: torch.Tensor) -> torch.Tensor:
    """``[B, T, *shape]`` -> ``[B * T, *shape]`` (a view for the layouts used here)."""
    return z.reshape((z.shape[0] * z.shape[1],) + tuple(z.shape[2:]))


def _memory_order(t: torch.Tensor) -> Tuple[int, ...]:
    """Dimensions 1.. of a ``[F, *shape]`` tensor from the slowest to the fastest in memory."""
    return tuple(sorted(range(1, t.dim()), key=lambda d: (-t.stride(d), d)))


def _step_max(z: torch.Tensor) -> np.ndarray:
    """``max |z|`` per step of a payload ``[B, T, *shape]`` (int64 ``[T]``)."""
    z = z.reshape(z.shape[0], z.shape[1], -1)
    hi = torch.amax(z, dim=(0, 2)).to(torch.int64)
    lo = torch.amin(z, dim=(0, 2)).to(torch.int64)
    return torch.maximum(hi, -lo).numpy()


def _sums(syn, src: torch.Tensor, step_bounds: np.ndarray
          ) -> Tuple[torch.Tensor, Optional[torch.Tensor], Tuple[int, ...]]:
    """The exact float sums of every frame of ``src`` ``[B, T, *in_shape]`` (``[B * T,
    *out_shape]``), in the float type each step needs, as the step-major loop picks it
    per step: where only some steps' payloads need float64 (a sigma-delta layer's first
    step sends its whole activation), every frame is summed in float32 (the others'
    exact sums) and those steps' frames again in float64: ``(s, s_hi, hi_steps)``."""
    steps = src.shape[1]
    dts = [fixed.sum_dtype(syn, float(m)) for m in step_bounds]
    hi = tuple(t for t in range(steps) if dts[t] == torch.float64)
    if not hi or len(hi) == steps:
        return fixed.synapse_sum(syn, _frames(src), float(step_bounds.max())), None, ()
    lo_bound = float(max(step_bounds[t] for t in range(steps) if t not in hi))
    s = fixed.synapse_sum(syn, _frames(src), lo_bound)  # float32: exact outside hi
    s_hi = fixed.synapse_sum(syn, _frames(src[:, list(hi)]), float(step_bounds.max()))
    return s, s_hi, hi


def _kernel_layer(layer: LayerSpec, src: torch.Tensor, step_bounds: np.ndarray,
                  record: Optional[torch.Tensor], syn=None
                  ) -> Tuple[torch.Tensor, Optional[np.ndarray]]:
    """A layer over all steps: its sums, then the compiled neuron loop.

    ``step_bounds``: a bound on ``|src|`` per step (``[T]``); ``syn``: the synapse (its
    branch's, or the same with its columns in the order of ``src``, :func:`_columns_as`).
    Returns the payload ``[B,
    T, *shape]`` (float32 in the sums' layout; int64 where a sigma-delta payload reaches
    2**24) and, for a sigma-delta layer, its ``max |payload|`` per step (int64 ``[T]``);
    ``record`` is filled."""
    b, steps = src.shape[:2]
    p, syn = layer.neuron, syn or layer.branches[0].synapse

    def sums():
        s, s_hi, hi = _sums(syn, src, step_bounds)
        order = _memory_order(s)
        sp = s.permute(0, *order)
        if not sp.is_contiguous():
            sp = sp.contiguous()
        if s_hi is not None:  # the same neuron order as sp
            s_hi = s_hi.permute(0, *order).contiguous().reshape(b, len(hi), -1).numpy()
        return s, sp, s_hi, hi, order

    s, sp, s_hi, hi, order = sums()
    n = math.prod(sp.shape[1:])
    # float32 is exact for this chunk's bound (not cached: a scanned bound moves by chunk)
    ok32 = cuba32_ok if p.type == "CUBA" else lean_ok
    use32 = (s.dtype == torch.float32 and s_hi is None
             and ok32(p, syn, float(step_bounds.max(initial=0))))
    def loop():  # the constants and the bias in the sums' order
        bias = kernels.bias_term(p, tuple(layer.shape)).transpose([d - 1 for d in order])
        bias = np.ascontiguousarray(bias).reshape(-1)
        if use32:
            return (kernels.CUBA32 if p.type == "CUBA" else kernels.MLSN32,
                    kernels.constants32(p, int(syn.weight_exp)), bias.astype(np.float32))
        return p.type, kernels.constants(p, int(syn.weight_exp), syn.overflow), bias

    kind, consts, bias = memo(p, ("kernel", tuple(layer.shape), order, use32,
                                  int(syn.weight_exp), syn.overflow), loop)
    # float32 sums hold the payload in place: each neuron-step reads its sum and then
    # writes its payload, so the loop streams one array instead of two (it is bound by
    # memory, not by its arithmetic); no one else holds the sums. The float32 MLSN loop
    # only at T = 1, where it runs a loop of its own on the one array: its T > 1 loop
    # reads and writes element by element, and on arrays that overlap LLVM's runtime
    # alias check sends it to its scalar loop (3x slower; the float32 CUBA loop alike:
    # never in place); the int64 loops read a block's currents into a buffer first
    in_place = sp.dtype == torch.float32 and kind != kernels.CUBA32 \
        and (kind != kernels.MLSN32 or steps == 1)
    pay = sp if in_place else torch.empty(sp.shape, dtype=torch.float32)
    inverse = tuple(np.argsort((0,) + order))
    shape = (b, steps) + tuple(layer.shape)

    def run(record):
        rec3, rp = None, None
        if record is not None:
            rp = record.permute(0, 1, *(d + 1 for d in order))
            rec3 = (rp if rp.is_contiguous() else torch.empty(rp.shape, dtype=record.dtype)
                    ).view(b, steps, n)
        top = kernels.run_layer(kind, sp.reshape(b, steps, n).numpy(), consts,
                                bias, pay.view(b, steps, n).numpy(),
                                None if rec3 is None else rec3.numpy(), s_hi=s_hi,
                                hi_steps=hi)
        if rp is not None and rec3.data_ptr() != rp.data_ptr():
            rp.copy_(rec3.view(rp.shape))
        return top

    top = run(record)
    if top is not None and int(top.max(initial=0)) >= 1 << 24:  # not all in float32
        if record is None or record.dtype != torch.int64:
            record = torch.empty(shape, dtype=torch.int64)
            if in_place:  # the payloads took the sums' place: the sums again
                s, sp, s_hi, hi, order = sums()
            run(record)  # the same integers again, into a record the next sum reads
        return record, top
    return pay.permute(*inverse).reshape(shape), top


def _input_layer32(x: torch.Tensor, levels: int, record: Optional[torch.Tensor]
                   ) -> Tuple[torch.Tensor, bool]:
    """:func:`lava_mlsnn.fixed.input_payload` of integer ``x`` ``[B, T, *shape]`` (int64, or
    a narrower type of :data:`.emulator.NARROW_INPUT`, read as it is) as the float32
    payload the next synapse sums (channels-last frames for ``[C, H, W]``), written with
    ``record`` in one pass (:func:`.kernels.clip_input32`; exact: ``0 <= levels < 2**24``).
    Returns the payload and whether ``record`` was written (not where its layout is not
    the payload's: the caller copies)."""
    if not 0 <= levels < (1 << 24):
        return fixed.input_payload(x, levels), False
    f = _frames(x).contiguous()
    frames = f.shape[0]
    if f.dim() == 4:  # [F, C, H, W] -> channels-last [F, H, W, C]
        c, p = f.shape[1], f.shape[2] * f.shape[3]
        pay = torch.empty((frames,) + tuple(f.shape[2:]) + (c,), dtype=torch.float32)
        out = pay.permute(0, 3, 1, 2).view(x.shape)
        rp = None if record is None else record.permute(0, 1, 3, 4, 2)
    else:  # the torch order
        c, p = 1, math.prod(f.shape[1:])
        pay = torch.empty(f.shape, dtype=torch.float32)
        out = pay.view(x.shape)
        rp = record
    direct = rp is not None and rp.is_contiguous()
    kernels.clip_input32(f.view(frames, c, p).numpy(), levels, pay.view(frames, p, c).numpy(),
                         rp.reshape(frames, p, c).numpy() if direct else None)
    return out, direct


def _input_kernel_layer(layer: LayerSpec, x: torch.Tensor, record: Optional[torch.Tensor]
                        ) -> Tuple[torch.Tensor, np.ndarray]:
    """A stock sigma-delta input layer (``SDNN_DELTA``, no synapse: its current is the data
    ``x`` ``[B, T, *shape]``, ``|x| < 2**24``: exact as float32) in the compiled loop.
    Returns its payload ``[B, T, *shape]`` (float32; int64 where it reaches 2**24) and
    ``max |payload|`` per step (int64 ``[T]``); ``record`` is filled."""
    b, steps = x.shape[:2]
    n = math.prod(int(d) for d in layer.shape)
    # an image channels-last: the layout of its record and of the next conv's input
    perm = (0, 1, 3, 4, 2) if len(layer.shape) == 3 else tuple(range(x.dim()))
    inverse = tuple(int(d) for d in np.argsort(perm))
    def loop():  # the current is the sum itself: weightExp 0, unbounded
        bias = kernels.bias_term(layer.neuron, tuple(layer.shape))
        return kernels.constants(layer.neuron, 0, "none"), np.ascontiguousarray(
            np.transpose(bias, [d - 2 for d in perm[2:]])).reshape(-1)

    consts, bias = memo(layer.neuron, ("input kernel", tuple(layer.shape)), loop)

    def current() -> torch.Tensor:  # the data as float32 (a copy: x is int64)
        return x.permute(*perm).to(torch.float32, memory_format=torch.contiguous_format)

    s = current()
    pay = s  # in place, as _kernel_layer's payloads

    def run(rec: Optional[torch.Tensor]) -> np.ndarray:
        return kernels.run_layer(layer.neuron.type, s.view(b, steps, n).numpy(), consts, bias,
                                 pay.view(b, steps, n).numpy(),
                                 None if rec is None else rec.view(b, steps, n).numpy())

    rp = None if record is None else record.permute(*perm)
    direct = rp is not None and rp.is_contiguous()
    top = run(rp if direct else None)
    if int(top.max(initial=0)) >= 1 << 24:  # a float32 payload would round them
        big = torch.empty(s.shape, dtype=torch.int64)
        s = current()  # the payloads took its place
        run(big)
        out = big.permute(*inverse)
    else:
        out = pay.permute(*inverse)
    if record is not None and not direct:  # (a direct record holds the integers already)
        record.copy_(out)
    return out, top


def _flatten_view(src: torch.Tensor) -> Optional[torch.Tensor]:
    """A flatten of float32 channels-last payloads ``src`` ``[B, T, C, H, W]`` without the
    transposing copy: the view ``[B, T, H * W * C]`` in their memory order (None where
    ``src`` is not so)."""
    if src.dtype != torch.float32 or src.dim() != 5 or src.shape[2] == 1:
        return None
    hwc = src.permute(0, 1, 3, 4, 2)
    return hwc.reshape(src.shape[:2] + (-1,)) if hwc.is_contiguous() else None


def _reads_columns(spec: NetworkSpec, index: int) -> bool:
    """Whether every reader of layer ``index`` is a dense synapse without delays, which
    can take its columns in another order (its weights' columns reordered alike)."""
    readers = [br for layer in spec.layers for br in layer.branches if br.source == index]
    return bool(readers) and all(br.synapse.kind == "dense" and br.synapse.delay is None
                                 for br in readers) and \
        not any(layer.source == index for layer in spec.layers if not layer.branches)


def _columns_as(syn, chw: Tuple[int, int, int]):
    """``syn`` (dense) reading a ``(C, H, W)`` source's columns in its channels-last
    order, :func:`_flatten_view`'s (the same products, its weights' columns reordered)."""
    def make():
        cols = np.arange(math.prod(chw)).reshape(chw).transpose(1, 2, 0).reshape(-1)
        return dataclasses.replace(syn, weight=np.ascontiguousarray(
            np.asarray(syn.weight)[:, cols]))
    return memo(syn, ("channels-last columns", tuple(chw)), make)


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
              dtypes: Dict[int, torch.dtype]) -> None:
    """The aligned run of one chunk ``x`` ``[B, T, *inputShape]`` (int64, or a narrower
    integer type: the input clip, a sigma-delta input layer's loop and a synapse's float
    sums read it as it is, a plain layer or a flatten as int64), layer-major, written
    into the chunk's slices of ``recorded``."""
    last_use = {}
    for i, layer in enumerate(spec.layers):
        for src in ([layer.source] if not layer.branches else [br.source for br in layer.branches]):
            last_use[src] = i
    outs: Dict[int, torch.Tensor] = {INPUT: x}
    bounds = dict(bounds)  # and each sigma-delta kernel layer's max |payload| of the chunk
    per_step: Dict[int, np.ndarray] = {}  # the same per step
    # flattens sent as views in their source's channels-last order: {flatten: source}
    views: Dict[int, torch.Tensor] = {}
    for i, layer in enumerate(spec.layers):
        rec = recorded.get(i)
        br = layer.branches[0] if layer.branches else None
        if i in kern and br is not None:
            step_bounds = per_step.get(br.source)
            if step_bounds is None:  # sigma-delta payloads of a plain layer: scanned
                step_bounds = np.full(x.shape[1], bounds[br.source]) \
                    if bounds[br.source] is not None else _step_max(outs[br.source])
        if layer.type == "flatten":
            if layer.source == INPUT:  # (a narrow input: its record and readers as int64)
                outs[INPUT] = fixed.as_int64(outs[INPUT])
            src = outs[layer.source]
            view = _flatten_view(src) if _reads_columns(spec, i) else None
            if view is None:
                out = src.reshape(src.shape[:2] + (-1,))  # a transposing copy
            else:  # the record from the source's (the same integers, contiguous)
                out, views[i] = view, src
                if rec is not None:
                    rec.copy_(recorded.get(layer.source, src).reshape(rec.shape))
                    rec = None
            if layer.source in per_step:
                bounds[i], per_step[i] = bounds[layer.source], per_step[layer.source]
        elif layer.type == "input" and layer.neuron.type == "INPUT":
            out, direct = _input_layer32(outs[layer.source], int(layer.neuron.input_levels),
                                         rec)
            rec = None if direct else rec  # (a direct record holds the integers already)
        elif i in kern and br is None:  # SDNN_DELTA input layer
            out, top = _input_kernel_layer(layer, outs[layer.source], rec)
            bounds[i], per_step[i] = int(top.max(initial=0)), top
            rec = None  # written by the kernel
        elif i in kern and current_fits(layer, float(step_bounds.max(initial=0))):
            syn = br.synapse if br.source not in views else \
                _columns_as(br.synapse, tuple(views[br.source].shape[2:]))
            out, top = _kernel_layer(layer, outs[br.source], step_bounds, rec, syn)
            if top is not None:  # what payload_max would find: no scan
                bounds[i], per_step[i] = int(top.max(initial=0)), top
            rec = None  # written by the kernel
        else:
            if INPUT in ([layer.source] if not layer.branches else
                         [b.source for b in layer.branches]):
                outs[INPUT] = fixed.as_int64(outs[INPUT])  # a narrow input: int64 steps
            for b in layer.branches:  # the plain layer reads the torch order
                if b.source in views:
                    src = views.pop(b.source)
                    outs[b.source] = src.reshape(src.shape[:2] + (-1,))
            out = _plain_layer(layer, outs, bounds, dtypes[i])
        if rec is not None:
            rec.copy_(out)
        outs[i] = out
        for j in [j for j in outs if j != INPUT and last_use.get(j, -2) <= i and j != i]:
            del outs[j]  # no later layer reads it
