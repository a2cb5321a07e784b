"""Stock netx's own timing: the pipelined run, step for step as ``netx.hdf5.Network`` runs.

In Lava every synapse adds one step, so layer ``l`` at step ``t`` integrates what its
source sent at step ``t - 1``; every layer runs from the first step on. Without a
reset (netx cannot reset sigma-delta neurons, and a CUBA file runs without one unless
``reset_interval`` is given) a layer with a bias integrates that bias while the
pipeline fills, before the first input step reaches it. The aligned run of
:func:`~lava_mlsnn.backends.emulator.emulate` (DESIGN §4, the default) starts each
layer from its reset state when the sample reaches it; :func:`emulate_pipelined`
gives stock netx's integers instead, on the same :mod:`lava_mlsnn.fixed` functions.

Lava gives the same timeline with :class:`lava_mlsnn.proc.Network` built with
``reset_interval=0`` (no reset) and read without re-alignment.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import torch

from .. import fixed
from ..format.spec import INPUT, NetworkSpec
from .emulator import (_NARROW, _chunk_size, _record_buffer, check_input, checked_input,
                       sum_bounds)
from .lean import cuba32_ok
from .pipelined_loops import (SKIP, ZERO, compiled_loop, flat_view, logical, run_compiled,
                              scan_frames, sum_frames)
from .pipelined_ops import (payload_bounds_pipelined, settled_after, settled_initially,
                            split_pieces, split_sum)


#: Neurons whose step reads a state: the stateful ones and a READOUT's v.
_HAS_STATE = fixed.STATEFUL + ("READOUT",)


def emulate_pipelined(spec: NetworkSpec, x: Union[np.ndarray, torch.Tensor],
                      steps: Optional[int] = None, *, layer_major: Optional[bool] = None,
                      skip_zeros: bool = True, narrow: bool = False
                      ) -> Dict[int, torch.Tensor]:
    """Run a chain network pipelined, one step per synapse, nothing reset.

    Parameters
    ----------
    spec : NetworkSpec
        A chain (no joins), as stock netx builds.
    x : int array ``[B, T, *inputShape]``
        Input payloads of Lava steps ``0 .. T-1`` (torch order).
    steps : int, optional
        Lava steps to run (default ``T + depth`` of the output layer: the last input
        step reaches the output); the input is zero after step ``T - 1``.
    layer_major : bool, optional
        Run one layer over the whole timeline before the next (:func:`_run_layers`: one
        synapse call over all the steps that carry payloads) instead of every layer step
        by step (:func:`_run_chunk`, the plain transcription). Default: layer-major
        wherever it applies, a chain without recurrence or axonal delays; asking for it
        elsewhere raises ``ValueError``. Both give the same integers.
    skip_zeros : bool
        Layer-major only: skip the synapse of a step whose source sent zero everywhere,
        and the neuron where such a step provably leaves its state unchanged and sends
        zero (:func:`.pipelined_ops.settled_initially`). The same integers either way.
    narrow : bool
        Record each layer in the narrowest integer type that holds every payload it can
        send in this run (:func:`.pipelined_ops.payload_bounds_pipelined`; int8 for CUBA
        spikes, int32 for the sigma-delta layers of a short run): the same values in less
        memory, and less time where writing the records dominates.

    Returns
    -------
    dict
        ``{layer: int64 tensor [B, steps, *shape]}`` (``narrow``: the narrowest type that
        holds the layer's bound): what each layer sends at each
        Lava step -- a layer at depth ``d`` sends sample step ``s`` at step ``s + d``.

    Raises
    ------
    ValueError
        A join layer (stock netx has none: the pipelined timing is its chains'), or
        ``layer_major=True`` on a network with recurrence or axonal delays.
    """
    joins = [i for i, layer in enumerate(spec.layers) if layer.type == "join"]
    if joins:
        raise ValueError(f"pipelined timing is stock netx's, which builds chains only: "
                         f"layer {joins[0]} is a join (use the aligned run)")
    x, xmax = checked_input(spec, x)
    batch, t_in = x.shape[:2]
    total = t_in + max(spec.depths(), default=0) if steps is None else int(steps)
    bounds = sum_bounds(spec, xmax)  # no per-step scan where known
    blocker = _layer_major_blocker(spec)
    if layer_major and blocker is not None:
        raise ValueError(f"layer-major pipelined run: {blocker} (use layer_major=False)")
    if layer_major is None:
        layer_major = blocker is None
    # conv layers' records channels-last, as the payloads; step-major writes every step,
    # layer-major on the CPU gets zero pages (calloc) and leaves the skipped steps unwritten
    dtypes = _record_dtypes(spec, xmax, total) if narrow else {}
    # (zero pages only where a step may be skipped: a layer that writes every step gets
    # numpy's huge pages, whose first touch costs about half as much)
    zeroed = {i for i in range(len(spec.layers)) if not _writes_every_step(spec, i)} \
        if layer_major and x.device.type == "cpu" else set()
    out = {i: _record_buffer((batch, total) + tuple(layer.shape), x.device,
                             dtypes.get(i, torch.int64), zeroed=i in zeroed)
           for i, layer in enumerate(spec.layers)}
    # samples are independent: cache-sized passes (layer-major: a layer's whole timeline)
    chunk = _layer_major_chunk(spec, batch, total) if layer_major else _chunk_size(spec, batch)
    for b0 in range(0, batch, chunk):
        part = {i: o[b0:b0 + chunk] for i, o in out.items()}
        if layer_major:
            if total:  # no steps: nothing to run (the records are empty)
                _run_layers(spec, x[b0:b0 + chunk], part, total, bounds, skip_zeros, zeroed)
        else:
            _run_chunk(spec, x[b0:b0 + chunk], part, total, bounds)
    return out


def _run_chunk(spec: NetworkSpec, x: torch.Tensor, out: Dict[int, torch.Tensor], total: int,
               bounds: Dict[int, Optional[float]]) -> None:
    """The pipelined time loop over one chunk ``x`` of samples, written into ``out``."""
    batch, t_in = x.shape[:2]
    states = {i: fixed.initial_state(layer.neuron, (batch,) + tuple(layer.shape), x)
              for i, layer in enumerate(spec.layers)
              if layer.neuron is not None and layer.neuron.type in _HAS_STATE}
    lines = {(i, k): torch.zeros((1 + br.synapse.max_delay, batch) + tuple(layer.shape),
                                 dtype=torch.int64)
             for i, layer in enumerate(spec.layers) for k, br in enumerate(layer.branches)
             if br.synapse.delay is not None}
    zero_in = torch.zeros_like(x[:, 0])
    prev: Dict[int, torch.Tensor] = {}  # what every layer sent at the previous step
    for t in range(total):
        now = {INPUT: x[:, t] if t < t_in else zero_in}
        for i, layer in enumerate(spec.layers):
            if layer.type == "flatten":
                z = now[layer.source].reshape(batch, -1)
            elif layer.type == "input":  # no synapse: the data is its a_in at once
                state = states.get(i, (None, None))
                state, z = fixed.neuron_step(state, now[layer.source], layer.neuron)
                if i in states:
                    states[i] = state
            else:
                a = None
                for k, br in enumerate(layer.branches):
                    src = prev.get(br.source)
                    if src is None:  # the first step: every synapse buffer is empty
                        src = torch.zeros((batch,) + tuple(spec.source_shape(br.source)),
                                          dtype=torch.int64)
                    if (i, k) in lines:
                        parts = fixed.delayed_parts(br.synapse, src)
                        lines[i, k], cur = fixed.delay_line_step(lines[i, k], t, parts)
                    else:
                        cur = fixed.synapse_current(br.synapse, src, bounds[br.source])
                    a = cur if a is None else a + cur
                if layer.recurrent is not None and t:
                    a = a + fixed.synapse_current(layer.recurrent, prev[i])
                states[i], z = fixed.neuron_step(states[i], a, layer.neuron)
            now[i] = z
            out[i][:, t] = z
        prev = now


#: An input layer's "synapse" for :func:`~.lean.cuba32_ok`: its current is the data.
_DATA = fixed.SynapseSpec("identity", np.array(1), 0)


def _writes_every_step(spec: NetworkSpec, index: int) -> bool:
    """Whether the layer-major run writes layer ``index``'s record at every step: a CUBA,
    MLSN or READOUT neuron that is not settled at the reset state (a bias) never settles
    (:func:`.pipelined_ops.settled_after`), so none of its steps is skipped; a flatten of
    such a layer's timeline copies all of it."""
    layer = spec.layers[index]
    if layer.type == "flatten":
        return layer.source != INPUT and _writes_every_step(spec, layer.source)
    p = layer.neuron
    return p is not None and p.type in ("CUBA", "MLSN", "READOUT") \
        and not settled_initially(p)


def _record_dtypes(spec: NetworkSpec, xmax: int, total: int) -> Dict[int, torch.dtype]:
    """The narrowest record type of every layer over a run of ``total`` steps of an input
    of at most ``xmax``."""
    bounds = payload_bounds_pipelined(spec, xmax, total)
    return {i: torch.int64 if b is None else
            next((dt for dt, top in _NARROW if b <= top), torch.int64)
            for i, b in bounds.items() if i != INPUT}


#: Bytes of the widest layer's int64 timeline in one layer-major chunk: the currents and
#: float slices of the steps that have an input (a part of the timeline) stay below
#: glibc's largest mmap threshold (32 MiB), so their memory is reused from one chunk to
#: the next instead of mapped and faulted in afresh each time. 32 MiB against 16: the
#: PilotNet files 7-14 % faster per sample (5 samples a chunk instead of 2: fewer calls).
TIMELINE_BYTES = 32 << 20


def _layer_major_chunk(spec: NetworkSpec, batch: int, total: int) -> int:
    """Samples per layer-major chunk (at least 1): the widest layer's timeline of a
    chunk near :data:`TIMELINE_BYTES`."""
    widest = max((int(np.prod(layer.shape)) for layer in spec.layers), default=1)
    return max(1, min(batch, TIMELINE_BYTES // (8 * max(widest, 1) * max(total, 1))))


def _layer_major_blocker(spec: NetworkSpec) -> Optional[str]:
    """Why a network cannot run layer-major (None: it can): a layer's step that reads
    its own previous payload (recurrence) or a delay line needs the step-major loop."""
    for i, layer in enumerate(spec.layers):
        if layer.recurrent is not None:
            return f"layer {i} is recurrent"
        if any(br.synapse.delay is not None for br in layer.branches):
            return f"layer {i} has axonal delays"
    return None


def _frames(src: torch.Tensor, idx: List[int], dtype: torch.dtype) -> torch.Tensor:
    """Steps ``idx`` of a timeline ``src`` ``[B, n, *shape]`` as ``[B * len(idx), *shape]``
    frames of ``dtype`` (a conv timeline channels-last, as the synapse reads it)."""
    b, shape = src.shape[0], tuple(src.shape[2:])
    k = len(idx)
    if len(shape) == 3:
        c, h, w = shape
        buf = torch.empty((b, k, h, w, c), dtype=dtype, device=src.device).permute(0, 1, 4, 2, 3)
    else:
        buf = torch.empty((b, k) + shape, dtype=dtype, device=src.device)
    if idx == list(range(idx[0], idx[0] + k)):
        buf.copy_(src[:, idx[0]:idx[0] + k])
    else:
        buf.copy_(src[:, torch.as_tensor(idx, device=src.device)])
    return buf.reshape((b * k,) + shape)


def _active(frames: torch.Tensor) -> Tuple[torch.Tensor, float]:
    """Which steps of a timeline ``[B, n, ...]`` carry a payload (bool ``[n]``), and
    ``max |payload|`` over them, in two read-only passes."""
    dims = (0,) + tuple(range(2, frames.dim()))
    hi, lo = frames.amax(dim=dims), frames.amin(dim=dims)
    m = max(float(hi.max()), -float(lo.min())) if hi.numel() else 0.0
    return (hi != 0) | (lo != 0), m


def _feed(spec: NetworkSpec, layer, br, src: torch.Tensor, n: int, total: int,
          bound: Optional[float], skip: bool, seen: Optional[Tuple[np.ndarray, float]] = None
          ) -> Tuple[Dict[int, int], Optional[torch.Tensor]]:
    """One input of a layer over the timeline: ``({step: frame}, currents [B, k, *shape])``.

    ``src`` holds what the source sent at steps ``0 .. n-1`` (zero after); a synapse
    (``br``) delivers it one step later, an input layer (``br`` None) at once. Only the
    steps whose source frame carries a payload are summed (``skip``), in one call.
    ``seen``: what the source's compiled loop found in ``src`` (its non-zero steps and
    ``max |payload|``), which spares a scan."""
    lag = 0 if br is None else 1
    first, last = lag, min(total, n + lag)  # steps t whose source frame t - lag exists
    if last <= first:
        return {}, None
    flat = flat_view(src)  # the compiled scans and sums read it (None: torch)
    m = bound
    if skip or bound is None:
        if seen is not None:  # max over all of src: a bound of the window's
            nz, m = seen[0][first - lag:last - lag], seen[1]
        elif flat is not None:
            nz, m = scan_frames(flat, first - lag, last - lag)
        else:
            nz, m = _active(src[:, first - lag:last - lag])
            nz = nz.cpu().numpy()
    offsets = np.flatnonzero(nz) if skip else np.arange(last - first)
    steps = [first + int(j) for j in offsets]
    if not steps:
        return {}, None
    where = {t: j for j, t in enumerate(steps)}
    idx = [t - lag for t in steps]
    batch, in_shape = src.shape[0], tuple(src.shape[2:])
    if br is None:  # an input layer: the data is its a_in (laid out as its records)
        if flat is not None:
            return where, logical(flat[:, idx].astype(np.int64), in_shape)
        return where, _frames(src, idx, torch.int64).reshape((batch, len(steps)) + in_shape)
    syn = br.synapse
    bound = m if bound is None else bound
    if flat is not None:
        a = sum_frames(syn, flat, idx, in_shape, bound)
        if a is not None:
            return where, logical(a, tuple(layer.shape))
    pieces = split_pieces(syn, bound)
    z = _frames(src, idx, torch.float32 if pieces == 1 else torch.int64)
    s = split_sum(syn, z, bound)  # exact integer sums
    a = fixed.current_of_sum(s, int(syn.weight_exp), False, torch.int64, syn.overflow)
    return where, a.reshape((batch, len(steps)) + tuple(a.shape[1:]))


def _modes(p: fixed.NeuronParams, fed: List[bool], skip: bool) -> List[int]:
    """Per step: :data:`.pipelined_ops.SKIP` where a zero input meets a settled state
    (``skip``), :data:`.pipelined_ops.ZERO` where the neuron runs on a zero input, else 0
    (it runs on its current); ``fed[t]``: step ``t`` has a current."""
    settled, modes = settled_initially(p), []
    for has in fed:
        if not has and skip and settled:
            modes.append(SKIP)
            continue
        modes.append(0 if has else ZERO)
        settled = settled_after(p, settled, not has)
    return modes


def _run_layers(spec: NetworkSpec, x: torch.Tensor, out: Dict[int, torch.Tensor], total: int,
                bounds: Dict[int, Optional[float]], skip: bool, zeroed: frozenset = frozenset()
                ) -> None:
    """The pipelined run of one chunk ``x``, one layer at a time over the whole timeline.

    Without recurrence a layer's input at step ``t`` is what its source sent at ``t - 1``
    (at ``t`` for an input layer), all known once the source has run: the synapse sums
    every step in one call, then the neuron steps through time (a compiled loop where
    :func:`.pipelined_ops.compiled_loop` has one); the integers are those of
    :func:`_run_chunk`, step for step. ``zeroed``: the layers whose records hold zeros
    already (a skipped step is not written)."""
    batch, t_in = x.shape[:2]
    t_in = min(t_in, total)
    if x.dim() == 5:  # laid out as the records, which the compiled loops read
        x = _record_buffer(tuple(x.shape), x.device).copy_(x)

    def timeline(j: int) -> Tuple[torch.Tensor, int]:
        return (x, t_in) if j == INPUT else (out[j], total)

    seen: Dict[int, Tuple[np.ndarray, float]] = {}  # found by the compiled loops
    for i, layer in enumerate(spec.layers):
        rec = out[i]
        if layer.type == "flatten":
            src, n = timeline(layer.source)
            if layer.source in seen:
                seen[i] = seen[layer.source]
            rec[:, :n] = src[:, :n].reshape(batch, n, -1)
            if i not in zeroed:
                rec[:, n:] = 0
            continue
        p = layer.neuron
        feeds = [_feed(spec, layer, br, *timeline(layer.source if br is None else br.source),
                       total, None if br is None else bounds[br.source], skip,
                       seen.get(layer.source if br is None else br.source))
                 for br in (layer.branches or [None])]
        modes = _modes(p, [any(t in where for where, _ in feeds) for t in range(total)], skip)
        if (i in zeroed or SKIP not in modes) and x.device.type == "cpu" \
                and len(feeds) == 1 and compiled_loop(p) is not None:
            where, cur = feeds[0]  # (a skipped step left as the zero pages hold it)
            br = layer.branches[0] if layer.branches else None
            exact32 = p.type == "CUBA" and cuba32_ok(  # an input layer's current: the data
                p, _DATA if br is None else br.synapse,
                bounds.get(layer.source if br is None else br.source))
            seen[i] = run_compiled(p, cur, np.asarray([where.get(t, m)
                                                       for t, m in enumerate(modes)]), rec,
                                   exact32)
            continue
        shape = (batch,) + tuple(layer.shape)
        state = fixed.initial_state(p, shape, x) if p.type in _HAS_STATE else (None, None)
        zero = torch.zeros((), dtype=torch.int64, device=x.device).expand(shape)
        for t, mode in enumerate(modes):
            if mode == SKIP:  # a fixed point that sends 0
                if i not in zeroed:
                    rec[:, t] = 0
                continue
            a = zero
            for where, cur in feeds:
                j = where.get(t)
                if j is not None:
                    a = cur[:, j] if a is zero else a + cur[:, j]
            state, z = fixed.neuron_step(state, a, p)
            rec[:, t] = z


def run_lava_pipelined(spec: NetworkSpec, x: Union[np.ndarray, torch.Tensor],
                       steps: Optional[int] = None) -> Dict[int, np.ndarray]:
    """:func:`emulate_pipelined` in Lava ``fixed_pt``: one sample at a time through
    :class:`lava_mlsnn.proc.Network` built with ``reset_interval=0`` (nothing reset, as
    stock netx), every layer read by a sink at every Lava step.

    Returns ``{layer: int64 numpy array [B, steps, *shape]}`` (flatten layers and
    layers that pass the network input on are left out).
    """
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    from ..proc import Network

    xt = check_input(spec, x)
    batch, t_in = xt.shape[:2]
    total = t_in + max(spec.depths(), default=0) if steps is None else int(steps)
    keep = [i for i, layer in enumerate(spec.layers)
            if layer.type != "flatten" and spec.producer(i, ("flatten",)) == i]
    got: Dict[int, list] = {i: [] for i in keep}
    for b in range(batch):
        data = np.zeros(tuple(xt.shape[2:]) + (total,), dtype=np.int32)
        data[..., :t_in] = np.moveaxis(xt[b].numpy(), 0, -1)[..., :total]
        net = Network(spec, reset_interval=0, input_shape=tuple(xt.shape[2:]))
        src = Source(data=data)
        src.s_out.connect(net.inp)
        sinks = {}
        for i in keep:
            port = net.layer_out(i)
            sinks[i] = Sink(shape=port.shape, buffer=total)
            port.connect(sinks[i].a_in)
        try:
            src.run(condition=RunSteps(num_steps=total),
                    run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
            for i in keep:
                got[i].append(np.moveaxis(sinks[i].data.get(), -1, 0).astype(np.int64))
        finally:
            src.stop()
    return {i: np.stack(v) for i, v in got.items()}
