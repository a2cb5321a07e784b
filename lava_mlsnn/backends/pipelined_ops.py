"""Exact shortcuts of the layer-major pipelined run (:mod:`.pipelined`).

Two facts about :mod:`lava_mlsnn.fixed`'s arithmetic, each tested against the plain
step-by-step run (``tests/test_pipelined_layer_major.py``):

* :func:`settled_initially` / :func:`settled_after`: when a neuron's input is zero
  everywhere, some states are fixed points that send zero, so the step can be skipped
  (its record is zero).
* :func:`split_sum`: a synapse sum that would need float64 (a partial sum may pass
  2**24) is the exact sum of a few float32 sums over bit slices of the payload; float32
  convolutions run about 10x faster than float64 ones on the CPU.
* :func:`payload_bounds_pipelined`: every layer's payload bound over a run, for narrow
  records.

The compiled time loops that use them are :mod:`.pipelined_loops`.
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np
import torch

from .. import fixed
from ..format.params import NeuronParams, SynapseSpec
from ..format.spec import NetworkSpec

#: Most float32 pieces a sum is split into; beyond that one float64 sum is cheaper.
MAX_PIECES = 4


def settled_initially(p: NeuronParams) -> bool:
    """Whether, at the reset state, a step with zero input everywhere leaves the state
    unchanged and sends 0 (the layer's *settled* flag, updated by :func:`settled_after`).

    The facts, element by element (:func:`lava_mlsnn.fixed.neuron_step`):

    * ``PASS``, ``INPUT``: stateless; ``sat24(0) = clip(0) = 0``.
    * ``SDNN``: after any step, ``sigma`` is unchanged by a zero input, so ``act`` is the
      previous step's; either the previous step sent (``ref = act``, ``delta = 0``) or
      ``|act - ref|`` stayed below the threshold and still does. Before the first step
      this holds only without a bias (``act = relu(0) = 0 = ref``).
    * ``SDNN_DELTA``: ``act = 0``; after a zero-input step ``ref`` is 0 (sent) or below
      the threshold (kept), so the next zero-input step sends nothing; so is the reset
      state (``ref = 0``).
    * ``SDNN_SIGMA``: sends ``sigma``, unchanged by a zero input: 0 while no input came.
    * ``CUBA``, ``MLSN``, ``READOUT`` without a bias (and ``vInit = 0``, a positive
      threshold): the reset state (all zero) stays zero and sends zero.
    """
    t = p.type
    if t in ("PASS", "INPUT", "SDNN_DELTA", "SDNN_SIGMA"):
        return True
    if p.bias is not None:
        return False
    if t == "SDNN":
        return True
    if t == "CUBA":
        return int(p.v_th_mant) >= 0  # a spike is v > vth << 6: none at v = 0
    if t == "MLSN":
        return int(p.v_init) == 0 and int(p.v_th_mant) > 0
    return t == "READOUT"


def settled_after(p: NeuronParams, settled: bool, zero_input: bool) -> bool:
    """The settled flag after a step that ran (``zero_input``: its input was zero
    everywhere); a skipped step keeps it."""
    t = p.type
    if t in ("PASS", "INPUT", "SDNN"):
        return True
    if t == "SDNN_DELTA":
        return zero_input
    # SIGMA, CUBA, MLSN, READOUT: a zero input keeps a zero state zero (the flag holds)
    return settled and zero_input


def _piece_bits(spec: SynapseSpec) -> int:
    """The most bits ``k`` for which payloads in ``[-2**k, 2**k]`` give float32-exact sums
    of ``spec`` (:func:`fixed.sum_dtype`); 0 if not even 1 bit does."""
    for k in range(23, 0, -1):
        if fixed.sum_dtype(spec, float(1 << k)) == torch.float32:
            return k
    return 0


def split_pieces(spec: SynapseSpec, max_payload: float) -> int:
    """How many float32 sums :func:`split_sum` uses for payloads ``|z| <= max_payload``:
    1 where one float32 sum is exact, 0 where the split does not apply (pool/identity, or
    more than :data:`MAX_PIECES` pieces): the caller sums in float64."""
    if fixed.sum_dtype(spec, max_payload) == torch.float32:
        return 1
    k = _piece_bits(spec)
    if spec.kind not in ("conv", "dense") or k < 1:
        return 0
    n, top = 1, float(max_payload)
    while top > float(1 << k):  # the top piece z >> (k (n-1)) has |.| <= ceil(M / 2**..)
        n, top = n + 1, -(-top // float(1 << k))
    return n if n <= MAX_PIECES else 0


def split_sum(spec: SynapseSpec, z: torch.Tensor, max_payload: float,
              layout: Optional[torch.memory_format] = None) -> torch.Tensor:
    """The exact integer synapse sum of payloads ``z`` ``[N, *in_shape]`` (int64), not yet
    shifted: :func:`fixed.synapse_sum` rounded, with float32 arithmetic only.

    ``z = sum_j piece_j << (k j)``: the low pieces ``(z >> k j) & (2**k - 1)`` lie in
    ``[0, 2**k)``, the top one ``z >> k (n-1)`` (arithmetic shift) in ``[-2**k, 2**k]``,
    so each piece's float32 sum is exact (``k`` from :func:`fixed.sum_dtype`); all pieces
    run as one call (``n N`` frames) and are added back in int64. Returns int64
    ``[N, *out_shape]``; with one piece (or none, :func:`split_pieces` 0) it is
    :func:`fixed.synapse_sum` itself, rounded.
    """
    n = split_pieces(spec, max_payload)
    if n <= 1:
        return torch.round_(fixed.synapse_sum(spec, z, max_payload)).to(torch.int64)
    k = _piece_bits(spec)
    mask = (1 << k) - 1
    frames = z.shape[0]
    layout = layout or (torch.channels_last if z.dim() == 4 else torch.contiguous_format)
    pieces = torch.empty((n * frames,) + tuple(z.shape[1:]), dtype=torch.float32,
                         device=z.device, memory_format=layout)
    for j in range(n):
        part = z >> (k * j) if j else z
        if j < n - 1:
            part = part & mask
        pieces[j * frames:(j + 1) * frames].copy_(part)
    s = torch.round_(fixed.synapse_sum(spec, pieces, float(1 << k)))
    out = s[(n - 1) * frames:].to(torch.int64)
    for j in range(n - 2, -1, -1):
        out.bitwise_left_shift_(k).add_(s[j * frames:(j + 1) * frames].to(torch.int64))
    return out


def payload_bounds_pipelined(spec: NetworkSpec, input_bound: int, steps: int
                             ) -> Dict[int, Optional[int]]:
    """``{layer: max |payload|}`` over a pipelined run of ``steps`` steps (None: no bound),
    for narrow records (``-1``: the network input, ``max |x|`` = ``input_bound``).

    Sigma-delta payloads are not saturated, but a run is finite: a current is at most
    ``A = 2**23`` (a 24-bit synapse) or ``|w| x fan-in x bound << weightExp`` (stock
    ``Dense``), so ``|sigma| <= steps A``; ``act`` (``relu(sigma + bias)``, or ``a << scale``
    for ``SDNN_DELTA``) and ``ref`` (0 or an earlier ``act``) lie in the same interval, so
    ``|delta|`` is at most its width and the payload ``delta >> stateExp`` at most
    ``(width >> stateExp) + 1``. Other neurons: their levels, spikes or 24 bits."""
    bound = {-1: int(input_bound)}
    for i, layer in enumerate(spec.layers):
        p = layer.neuron
        t = p.type if p is not None else None
        if layer.type == "flatten":
            bound[i] = bound[layer.source]
            continue
        if t in ("MLSN", "CUBA", "INPUT"):
            bound[i] = {"MLSN": int(p.levels), "CUBA": 1, "INPUT": int(p.input_levels)}[t]
            continue
        if t in ("READOUT", "PASS") or t not in fixed.SDNN_TYPES:
            bound[i] = fixed.SAT_MAX + 1 if t in ("READOUT", "PASS") else None
            continue
        amax = 0  # |current| per step
        for br in layer.branches or [None]:
            src = bound[layer.source if br is None else br.source]
            if br is not None and br.synapse.overflow in ("sat24", "wrap24"):
                amax += 1 << 23
            elif src is None:
                amax = None
                break
            elif br is None:
                amax += src
            else:
                syn = br.synapse
                amax += int(syn.weight_abs_max) * syn.fan_in() * src << max(int(syn.weight_exp), 0)
        if amax is None:
            bound[i] = None
            continue
        if t == "SDNN_SIGMA":
            bound[i] = steps * amax
            continue
        if int(p.state_exp) < 0:  # payload delta << -stateExp: not bounded here
            bound[i] = None
            continue
        if t == "SDNN_DELTA":
            width = 2 * (amax << max(int(p.spike_exp) + int(p.state_exp), 0))
        else:
            b = 0 if p.bias is None else int(np.abs(fixed.shift(
                np.asarray(p.bias, dtype=np.int64), p.bias_exp)).max(initial=0))
            width = steps * amax + b
        bound[i] = (width >> max(int(p.state_exp), 0)) + 1
    return bound
