"""Batched integer emulator of a deployed network (DESIGN §5, aligned time).

Runs whole batches at once with torch integer tensors, calling the same
:mod:`lava_mlsnn.fixed` functions as the Lava ``fixed_pt`` models. It is the fast
way to evaluate an exported file on a full test set; its outputs equal the Lava
run's, integer for integer.
"""
from __future__ import annotations

import math
import os
from dataclasses import replace
from typing import Callable, Dict, Iterable, Optional, Tuple, Union

import numpy as np
import torch

from .. import fixed
from .._limits import check_budget
from ..classify import classify as _classify, classify_spec
from ..format.spec import INPUT, NetworkSpec
from . import kernels, layer_major
from .lean import lean_layers, lean_params, lean_state, lean_step
from .loihi2.report import payload_bounds
from .pipelined_ops import payload_bounds_pipelined


def _feeds_synapse(spec: NetworkSpec) -> bool:
    """Whether the network input reaches a synapse without an ``input`` layer's clip."""
    return any(spec.producer(b.source) == INPUT for layer in spec.layers for b in layer.branches) \
        or any(layer.type == "input" and layer.neuron.type != "INPUT" for layer in spec.layers)


def _records_raw_input(spec: NetworkSpec) -> bool:
    """Whether a layer sends the network input unchanged (a flatten of it), so that its
    record's type depends on ``max |x|``."""
    return any(spec.producer(i) == INPUT for i in range(len(spec.layers)))


def check_input(spec: NetworkSpec, x: Union[np.ndarray, torch.Tensor]) -> torch.Tensor:
    """Validate an input batch ``[B, T, *inputShape]`` and return it as int64.

    The one input rule of every backend (DESIGN §7): values must be integers; an
    ``input`` layer clips them to ``[0, inputLevels]``, so any integer is accepted
    there; where the network input feeds a synapse directly, values must lie in
    the 24-bit payload range ``[-2**23, 2**23 - 1]``.

    Raises
    ------
    ValueError
        Wrong rank or shape, values that are not integers, or payloads out of range.
    """
    return _check_input(spec, x, want_max=False)[0]


def _check_input(spec: NetworkSpec, x: Union[np.ndarray, torch.Tensor], want_max: bool,
                 keep_narrow: bool = False) -> Tuple[torch.Tensor, int]:
    """:func:`check_input`, and ``max |x|`` when ``want_max`` (else 0 where the range
    check does not read it). With ``keep_narrow``, integers narrower than int64
    (:data:`NARROW_INPUT`) stay in their type (the caller converts them where it needs
    int64)."""
    if not isinstance(x, torch.Tensor):
        x = np.asarray(x)
        if any(st < 0 for st in x.strides):  # a reversed view (x[::-1]): torch needs a copy
            x = np.ascontiguousarray(x)
    t = torch.as_tensor(x)
    if t.is_complex():
        raise ValueError("input must hold integers, got complex values")
    if t.is_floating_point():
        if not torch.all(torch.isfinite(t)) or torch.any(t != torch.trunc(t)):
            raise ValueError("input must hold integers (event counts / payloads)")
        if t.numel() and float(t.abs().max()) > float(1 << 53):
            raise ValueError("input values exceed 2**53 (not exact integers in floating point)")
    if spec.input_shape is not None:
        want = tuple(spec.input_shape)
        if t.dim() != 2 + len(want) or tuple(t.shape[2:]) != want:
            raise ValueError(f"input shape {tuple(t.shape)} does not match [B, T, "
                             f"{', '.join(map(str, want))}]")
    elif t.dim() < 3:
        raise ValueError(f"input must be [B, T, *inputShape], got shape {tuple(t.shape)}")
    else:  # a stock file that does not say its input shape: the data's must fit it
        from dataclasses import replace

        from ..format.reader import check_shapes
        problems = check_shapes(replace(spec, input_shape=tuple(int(s) for s in t.shape[2:])))
        if problems:
            raise ValueError(f"input shape {tuple(t.shape)} does not fit the network: "
                             f"{problems[0]}")
    feeds = _feeds_synapse(spec)
    clipped_only = not feeds and not _records_raw_input(spec)
    if not (keep_narrow and t.dtype in NARROW_INPUT):
        t = as_int64_input(t)
    lo = hi = 0
    if want_max and clipped_only:
        # only input layers read the data, and each clips it to [0, inputLevels]: no
        # bound on the raw values is read downstream, so no pass over the largest tensor
        # of the run (their own bound, inputLevels, is returned)
        return t, max([int(layer.neuron.input_levels) for layer in spec.layers
                       if layer.type == "input" and layer.source == INPUT], default=0)
    if t.numel() and (feeds or want_max):
        lo, hi = (int(m) for m in torch.aminmax(t))  # one read-only pass
        if feeds and (lo < fixed.SAT_MIN or hi > fixed.SAT_MAX):
            raise ValueError(f"input payloads [{lo}, {hi}] leave the 24-bit payload range "
                             f"[{fixed.SAT_MIN}, {fixed.SAT_MAX}] (the network input feeds a "
                             "synapse directly, without an input layer's clip)")
    return t, max(-lo, hi, 0)


#: Integer input types the layer-major run reads as they are (its input clip, a stock
#: sigma-delta input layer's loop, a synapse's float sums: an int64 copy of uint8 frames
#: is 8x the bytes those passes read); its plain steps and every other path get int64.
NARROW_INPUT = frozenset({torch.uint8, torch.int8, torch.int16, torch.int32})


def as_int64_input(t: torch.Tensor) -> torch.Tensor:
    """The input as int64, refused first where that copy would not fit in memory."""
    if t.dtype != torch.int64:
        check_budget("input as int64 [B, T, *inputShape]", tuple(t.shape), 8)
    return t.to(torch.int64)


def checked_input(spec: NetworkSpec, x: Union[np.ndarray, torch.Tensor]
                  ) -> Tuple[torch.Tensor, int]:
    """:func:`check_input` and a bound on what the network reads of the input: ``max
    |x|`` of the int64 input, from one pass over it where the range check reads it anyway
    (the input is the largest tensor of a run: a second pass cost ~5 % of a stock T = 16
    run); where only input layers read it (each clips it to ``[0, inputLevels]``, so no
    bound on the raw values is read downstream), their largest ``inputLevels``, with no
    pass."""
    return _check_input(spec, x, want_max=True)


def check_record_budget(spec: NetworkSpec, keep: Iterable[int], batch: int, steps: int) -> None:
    """Refuse, before allocating them, int64 records of layers ``keep`` over ``batch`` x
    ``steps`` above the memory budget (:func:`lava_mlsnn._limits.check_budget`)."""
    keep = list(keep)
    neurons = sum(math.prod(int(d) for d in spec.layers[i].shape) for i in keep)
    check_budget(f"recorded outputs of {len(keep)} layer{'s' if len(keep) != 1 else ''} "
                 "[B, T, neurons]", (batch, steps, neurons), 8,
                 hint="record fewer layers (record=[...]), steps or samples")


#: Single-branch MLSN layers run :func:`lean_step` (float32 from synapse to synapse, the
#: same integers) where its preconditions hold; False: every layer runs the plain step.
LEAN_STEP = True

#: Feed-forward networks run layer-major (:mod:`.layer_major`): each synapse over all steps
#: at once, each covered neuron in one compiled loop (:mod:`.kernels`, the same integers);
#: False: the step-major loop below.
KERNEL_STEP = True
#: Fewer steps keep the step-major loop where a layer takes the lean step. 1: T = 1 runs
#: layer-major too, its MLSN layers on the float32 loop (``kernels.MLSN32``, the lean
#: step's arithmetic), measured faster than the step-major lean step (BENCHMARKS.md,
#: emulator default path).
KERNEL_MIN_STEPS = 1

#: ``LAVA_MLSNN_FUSED=1`` makes ``fused=True`` the default of :func:`emulate`.
FUSED_ENV = "LAVA_MLSNN_FUSED"
_compiled: Dict[str, Callable] = {}


def _fused_step() -> Callable:
    """``fixed.layer_step`` compiled by inductor (one element-wise kernel per layer and
    shape; compiled on first use, seconds per layer)."""
    if "step" not in _compiled:
        # one cache entry per layer (shapes and parameters are specialised): more than
        # dynamo's default 8 for deep networks; past the limit it would run eagerly.
        torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 256)
        torch._inductor.config.compile_threads = 1  # no pool of compile workers left behind
        _compiled["step"] = torch.compile(fixed.layer_step, dynamic=False)
    return _compiled["step"]


def emulate(spec: NetworkSpec, x: Union[np.ndarray, torch.Tensor],
            record: Optional[Iterable[int]] = None,
            fused: Optional[bool] = None, narrow: bool = False) -> Dict[int, torch.Tensor]:
    """Run the network on a batch, aligned in time.

    Parameters
    ----------
    spec : NetworkSpec
    x : int array ``[B, T, *inputShape]``
        Input payloads (torch order).
    record : iterable of int, optional
        Layers whose outputs to keep; default: every layer.
    fused : bool, optional
        Run each single-branch layer's rounding, saturation and neuron step as one
        ``torch.compile`` kernel (the same :mod:`lava_mlsnn.fixed` functions; the same
        integers). Compiling costs seconds per layer on first use; default: off unless
        the environment sets ``LAVA_MLSNN_FUSED=1``.
    narrow : bool
        Store each recorded layer in the narrowest integer type that holds its bound
        (:func:`record_dtype`: int8 for levels <= 127, int16, int32; int64 where no
        bound is known, as for sigma-delta payloads fed by a stock ``Dense``): the same
        values in 1/8 to 1/2
        of the memory. Default: int64, as every backend returns.

    Returns
    -------
    dict
        ``{layer index: int64 tensor [B, T, *shape]}`` -- payloads for spiking and
        PASS layers, ``v`` for READOUT layers (with ``narrow``, of :func:`record_dtype`).
    """
    keep = set(range(len(spec.layers))) if record is None else set(record)
    dims = tuple(x.shape) if hasattr(x, "shape") else np.shape(x)
    if len(dims) >= 2:  # before any pass over the input: a refusal costs no time
        check_record_budget(spec, keep, int(dims[0]), int(dims[1]))
    x, xmax = _check_input(spec, x, want_max=True, keep_narrow=True)
    if fused is None:
        fused = os.environ.get(FUSED_ENV, "") == "1"
    step = _fused_step() if fused else None
    batch, steps = x.shape[:2]
    for br in (b for layer in spec.layers for b in layer.branches):
        fixed.check_exact_sum(br.synapse, fixed.SAT_MAX)
    for rec in (layer.recurrent for layer in spec.layers if layer.recurrent is not None):
        fixed.check_exact_sum(rec, fixed.SAT_MAX)
    bounds = sum_bounds(spec, xmax)
    delayed = {(i, k) for i, layer in enumerate(spec.layers)
               for k, br in enumerate(layer.branches) if br.synapse.delay is not None}
    # int32 states and currents where fixed.state_dtype proves them exact: half the
    # memory traffic of the element-wise neuron updates, which dominate the run.
    # Plain layers (no recurrence, no delay line) may also take the fused step.
    plain = {i for i, layer in enumerate(spec.layers)
             if layer.neuron is not None and layer.type != "input" and layer.recurrent is None
             and not any((i, k) in delayed for k in range(len(layer.branches)))
             and all(b.synapse.overflow == "sat24" for b in layer.branches)}
    fusable = {i for i in plain if step is not None and len(spec.layers[i].branches) == 1
               and spec.layers[i].neuron.current_bias is None  # the plain step carries it
               and spec.layers[i].neuron.reset == "soft"}  # and snnTorch's resets
    dtypes = {i: fixed.state_dtype(layer.neuron) if i in plain else torch.int64
              for i, layer in enumerate(spec.layers) if layer.neuron is not None}
    lean = lean_layers(spec, {i for i in plain - fusable if dtypes[i] == torch.int32},
                       bounds) if LEAN_STEP else set()
    recorded = {i: _record_buffer((batch, steps) + tuple(spec.layers[i].shape), x.device,
                                  record_dtype(spec, i, xmax, steps) if narrow
                                  else torch.int64)
                for i in keep}
    # below KERNEL_MIN_STEPS a network with lean layers stays step-major
    kern = layer_major.kernel_layers(spec, bounds) if KERNEL_STEP and step is None \
        and (steps >= KERNEL_MIN_STEPS or not lean) and x.device.type == "cpu" \
        and layer_major.applies(spec) and kernels.available() else set()
    if not {i for i, layer in enumerate(spec.layers) if layer.branches} <= kern:
        # a layer without a kernel runs its step-by-step loop on batched currents, which
        # measured slower than the step-major loop (the SDNN PilotNet, BENCHMARKS.md)
        kern = set()
    if kern:  # layer-major: a chunk holds every step of its samples
        chunk = _chunk_size(spec, batch, steps, layer_major=True)
        for b0 in range(0, batch, chunk):
            layer_major.run_chunk(spec, x[b0:b0 + chunk],
                                  {i: r[b0:b0 + chunk] for i, r in recorded.items()},
                                  bounds, kern, dtypes)
        return recorded
    x = as_int64_input(x)  # the step-major loop reads int64
    chunk = _chunk_size(spec, batch)
    for b0 in range(0, batch, chunk):
        _run_chunk(spec, x[b0:b0 + chunk], {i: r[b0:b0 + chunk] for i, r in recorded.items()},
                   bounds, fusable, dtypes, step, lean)
    return recorded


def sum_bounds(spec: NetworkSpec, input_bound: int) -> Dict[int, Optional[float]]:
    """A bound on ``|payload|`` of every layer (``-1``: the input, ``max |x|`` =
    ``input_bound``) that chooses each synapse sum's exact float type once, with no
    per-step scan; None where nothing bounds it (sigma-delta payloads are not saturated:
    those are scanned each step). +1: a saturated negative payload reaches -2**23."""
    bounds: Dict[int, Optional[float]] = {
        i: b + 1 for i, b in payload_bounds(spec, input_bound=input_bound).items()}
    for i, layer in enumerate(spec.layers):
        src = spec.producer(i)
        if src == INPUT:
            continue
        p = spec.layers[src].neuron
        if p.type in fixed.SDNN_TYPES:
            bounds[i] = None
        elif spec.layers[src].type == "input" and not spec.layers[src].branches:
            # a stock input layer without a neuron (PASS) sends sat24 of the data itself
            bounds[i] = min(int(input_bound), fixed.SAT_MAX) + 1
    return bounds


#: Samples per pass of the element-wise updates: the largest layer's int64 tensor of a
#: chunk stays near this many bytes (cache-sized, and small enough that the allocator
#: reuses its memory instead of mapping fresh pages for every temporary, which costs
#: more than the arithmetic on the CPU).
CHUNK_BYTES = 8 << 20


def _record_buffer(shape: Tuple[int, ...], device: torch.device,
                   dtype: torch.dtype = torch.int64, zeroed: bool = False) -> torch.Tensor:
    """A ``[B, T, *shape]`` buffer for a layer's outputs; a ``[B, T, C, H, W]`` one is
    stored channels-last, the layout of the payloads after a conv (a copy that transposes
    costs ~3x a straight one on the CPU); the values and indexing are the same.

    On the CPU the memory is numpy's: numpy asks the kernel for transparent huge pages
    for arrays of 4 MB and more (``madvise``), and a record is written once into fresh
    pages, whose first touch is most of its cost (53 MB: 7 against 18 ms in torch's
    4 KB pages on the 2-core machine of BENCHMARKS.md). ``zeroed`` (CPU): zeros from the
    allocator instead (numpy's calloc): the pages of steps never written are never
    touched, the cheaper choice where a run skips steps."""
    stored = shape if len(shape) != 5 else tuple(shape[i] for i in (0, 1, 3, 4, 2))
    if device.type == "cpu":
        alloc = np.zeros if zeroed else np.empty
        buf = torch.from_numpy(alloc(stored, dtype=numpy_dtype(dtype)))
    else:
        buf = torch.empty(stored, dtype=dtype, device=device)
    return buf if len(shape) != 5 else buf.permute(0, 1, 4, 2, 3)


def numpy_dtype(dtype: torch.dtype) -> np.dtype:
    """numpy's type for a torch integer type (the records' memory is numpy's)."""
    return torch.empty(0, dtype=dtype).numpy().dtype


#: Neuron types whose payload is bounded by the layer's own parameters (bound, given the
#: neuron): MLSN levels ``{0..levels}``, a CUBA spike ``{0, 1}``, an input layer's clip
#: ``[0, inputLevels]``, a READOUT's and a PASS layer's saturated 24 bits.
_PAYLOAD_BOUND = {"MLSN": lambda p: int(p.levels), "CUBA": lambda p: 1,
                  "INPUT": lambda p: int(p.input_levels), "READOUT": lambda p: fixed.SAT_MAX + 1,
                  "PASS": lambda p: fixed.SAT_MAX + 1}
_NARROW = ((torch.int8, 127), (torch.int16, (1 << 15) - 1), (torch.int32, (1 << 31) - 1))


def record_dtype(spec: NetworkSpec, index: int, input_bound: int,
                 steps: Optional[int] = None) -> torch.dtype:
    """The narrowest integer type holding every payload layer ``index`` can send.

    A flatten sends its source's payload; the network input is bounded by
    ``input_bound`` (``max |x|`` of the batch). Sigma-delta payloads (unsaturated) are
    bounded by a run of ``steps`` steps (:func:`.pipelined_ops.payload_bounds_pipelined`;
    int64 without ``steps`` or where that finds no bound), as are layers without a
    neuron bound.
    """
    src = spec.producer(index)
    if src == INPUT:
        bound = int(input_bound)
    else:
        p = spec.layers[src].neuron
        rule = _PAYLOAD_BOUND.get(p.type) if p is not None else None
        if rule is not None:
            bound = rule(p)
        elif steps is not None and p is not None and p.type in fixed.SDNN_TYPES:
            # a run of ``steps`` steps bounds the sums a sigma-delta payload comes from
            bound = payload_bounds_pipelined(spec, int(input_bound), int(steps))[src]
            if bound is None:
                return torch.int64
        else:
            return torch.int64
    return next((dt for dt, top in _NARROW if bound <= top), torch.int64)


def _chunk_size(spec: NetworkSpec, batch: int, steps: int = 1,
                layer_major: bool = False) -> int:
    """Samples per chunk; equal chunks (the last one at most one sample shorter), so a
    fused run compiles at most two shapes. ``steps``: a layer-major run (``layer_major``)
    holds all steps of a chunk's samples at once."""
    widest = max((math.prod(int(d) for d in layer.shape) for layer in spec.layers), default=1)
    # the layer-major run holds float32 sums that take the payloads in place, not int64
    # states: twice the samples (fewer, larger synapse calls; measured 7-10 % faster on
    # the stock T = 16 nets than int64-sized chunks, and no faster at 3x; on the demo
    # network, T = 1, 180 samples 5-15 % faster than 120, 1,436 slower: arrays past
    # glibc's 32 MB mmap threshold are mapped afresh on every call)
    per_value = 4 if layer_major else 8
    # at T = 1 a layer-major chunk of 16 MB per layer: 359 demo samples in one chunk
    # instead of two of 180 ran 8-10 % faster (fewer calls), 479 of 1,436 3 % faster;
    # 718 (23 MB per layer) slower: near glibc's 32 MB threshold, see above
    budget = CHUNK_BYTES * (2 if layer_major and steps == 1 else 1)
    target = max(8 if steps == 1 else 1, budget // (per_value * max(widest, 1) * steps))
    chunks = max(1, -(-batch // target))
    return max(1, -(-batch // chunks))


def _run_chunk(spec: NetworkSpec, x: torch.Tensor, recorded: Dict[int, torch.Tensor],
               bounds: Dict[int, Optional[float]], fusable: set,
               dtypes: Dict[int, torch.dtype], step: Optional[Callable],
               lean: set = frozenset()) -> None:
    """The time loop of :func:`emulate` over one chunk ``x`` of samples, written into the
    chunk's slices of ``recorded`` (every sample starts from the reset state, so chunks
    are independent)."""
    batch, steps = x.shape[:2]
    lines = _delay_lines(spec, batch, x)
    last: Dict[int, torch.Tensor] = {}  # previous payload of each recurrent layer
    states = {i: lean_state(spec.layers[i].neuron, (batch,) + tuple(spec.layers[i].shape), x)
              if i in lean else fixed.initial_state(spec.layers[i].neuron,
                                                    (batch,) + tuple(spec.layers[i].shape),
                                                    x, dtype)
              for i, dtype in dtypes.items()}
    biases = {i: lean_params(spec.layers[i].neuron, x) for i in lean}
    fused_p: Dict[int, fixed.NeuronParams] = {}  # with the bias laid out as the states
    for t in range(steps):
        outs = {INPUT: x[:, t]}
        for i, layer in enumerate(spec.layers):
            if layer.type == "flatten":
                out = outs[layer.source].reshape(batch, -1)
            elif layer.type == "input" and layer.neuron.type == "INPUT":
                out = fixed.input_payload(outs[layer.source], layer.neuron.input_levels)
            elif layer.type == "input":  # a stock Input block: the input is its a_in
                states[i], out = fixed.neuron_step(states[i], outs[layer.source],
                                                   layer.neuron)
            elif i in lean:  # float32 payloads: the next synapse sums them as they are
                br = layer.branches[0]
                s = fixed.synapse_sum(br.synapse, outs[br.source], bounds[br.source])
                u, v, out = lean_step(s, *states[i], layer.neuron, biases[i],
                                      int(br.synapse.weight_exp), keep_state=t + 1 < steps)
                states[i] = (u, v)
            elif i in fusable:
                s, bound = _fused_sum(layer, outs, bounds)
                if t == 0:
                    fused_p[i], states[i] = _fused_start(layer.neuron, states[i], s,
                                                         dtypes[i], steps)
                syn = layer.branches[0].synapse
                states[i], out = step(s, states[i], fused_p[i], int(syn.weight_exp),
                                      fixed.narrow_sum(syn, bound, dtypes[i]), dtypes[i])
            else:
                a = None
                for k, br in enumerate(layer.branches):
                    if (i, k) in lines:
                        parts = fixed.delayed_parts(br.synapse, outs[br.source])
                        lines[i, k], cur = fixed.delay_line_step(lines[i, k], t, parts)
                    else:
                        cur = fixed.synapse_current(br.synapse, outs[br.source],
                                                    bounds[br.source], dtypes[i])
                    a = cur if a is None else a + cur  # |sum| < 256 * 2**24: no overflow
                if layer.recurrent is not None and t:  # the layer's own previous payload
                    a = a + fixed.synapse_current(layer.recurrent, last[i])
                states[i], out = fixed.neuron_step(states[i], a, layer.neuron)
            outs[i] = out
            if layer.recurrent is not None:
                last[i] = out
            if i in recorded:
                recorded[i][:, t] = out  # int64, as every backend returns


def _fused_sum(layer, outs, bounds) -> Tuple[torch.Tensor, float]:
    br = layer.branches[0]
    src = outs[br.source]
    bound = bounds[br.source]
    if bound is None:  # sigma-delta payloads: scanned, as fixed.synapse_current does
        bound = fixed.payload_max(src)
    return fixed.synapse_sum(br.synapse, src, bound), bound


def _fused_start(p: fixed.NeuronParams, state, s: torch.Tensor, dtype: torch.dtype,
                 steps: int):
    """The layer's parameters and initial states for the compiled step, materialised in
    the layout of its synapse sum ``s`` (channels-last after a conv): every tensor of the
    kernel then has the same shape and strides. Inductor (torch 2.3) fails to compile
    some mixes of broadcast and full-size operands, and one variant serves every step
    (``steps > 1``; a single step keeps the broadcast states)."""
    if p.bias is not None:
        bias = torch.as_tensor(np.asarray(p.bias, dtype=np.int64))
        p = replace(p, bias=torch.empty_like(s, dtype=torch.int64).copy_(bias.expand(s.shape)))
    if steps > 1:  # T = 1: the broadcast views are read once, a copy would cost a pass
        state = tuple(torch.empty_like(s, dtype=dtype).fill_(int(st[(0,) * st.dim()]))
                      for st in state)  # the initial states are views of one scalar
    return p, state


def _delay_lines(spec: NetworkSpec, batch: int, like: torch.Tensor
                 ) -> Dict[Tuple[int, int], torch.Tensor]:
    """An empty delay line ``[1 + max delay, B, *shape]`` per delayed branch ``(layer, k)``."""
    return {(i, k): torch.zeros((1 + br.synapse.max_delay, batch) + tuple(layer.shape),
                                dtype=torch.int64, device=like.device)
            for i, layer in enumerate(spec.layers) for k, br in enumerate(layer.branches)
            if br.synapse.delay is not None}


def classify(outputs: torch.Tensor, spec: Optional[NetworkSpec] = None) -> torch.Tensor:
    """Class per sample from the last layer's outputs ``[B, T, C]``
    (:mod:`lava_mlsnn.classify`: READOUT read at the last step, spiking and PASS
    outputs summed over time, ties to the lowest index).

    ``spec`` tells the output layer's neuron type; without it the outputs are taken to
    be a READOUT layer's.
    """
    if spec is None:
        return _classify(outputs, readout=True)
    return classify_spec(spec, outputs)
