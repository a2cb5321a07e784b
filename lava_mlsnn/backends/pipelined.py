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

from typing import Dict, Optional, Union

import numpy as np
import torch

from .. import fixed
from ..format.spec import INPUT, NetworkSpec
from .emulator import _chunk_size, _record_buffer, check_input, sum_bounds


def emulate_pipelined(spec: NetworkSpec, x: Union[np.ndarray, torch.Tensor],
                      steps: Optional[int] = None) -> Dict[int, torch.Tensor]:
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

    Returns
    -------
    dict
        ``{layer: int64 tensor [B, steps, *shape]}``: what each layer sends at each
        Lava step -- a layer at depth ``d`` sends sample step ``s`` at step ``s + d``.

    Raises
    ------
    ValueError
        A join layer (stock netx has none: the pipelined timing is its chains').
    """
    joins = [i for i, layer in enumerate(spec.layers) if layer.type == "join"]
    if joins:
        raise ValueError(f"pipelined timing is stock netx's, which builds chains only: "
                         f"layer {joins[0]} is a join (use the aligned run)")
    x = check_input(spec, x)
    batch, t_in = x.shape[:2]
    total = t_in + max(spec.depths(), default=0) if steps is None else int(steps)
    # every step of every layer is written; conv layers' records channels-last, as the payloads
    out = {i: _record_buffer((batch, total) + tuple(layer.shape), x.device)
           for i, layer in enumerate(spec.layers)}
    bounds = sum_bounds(spec, int(fixed.payload_max(x)))  # no per-step scan where known
    chunk = _chunk_size(spec, batch)  # samples are independent: cache-sized passes
    for b0 in range(0, batch, chunk):
        _run_chunk(spec, x[b0:b0 + chunk], {i: o[b0:b0 + chunk] for i, o in out.items()},
                   total, bounds)
    return out


def _run_chunk(spec: NetworkSpec, x: torch.Tensor, out: Dict[int, torch.Tensor], total: int,
               bounds: Dict[int, Optional[float]]) -> None:
    """The pipelined time loop over one chunk ``x`` of samples, written into ``out``."""
    batch, t_in = x.shape[:2]
    states = {i: fixed.initial_state(layer.neuron, (batch,) + tuple(layer.shape), x)
              for i, layer in enumerate(spec.layers)
              if layer.neuron is not None and layer.neuron.type in fixed.STATEFUL}
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
