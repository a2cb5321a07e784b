"""Compiled loops of the layer-major pipelined run (:mod:`.pipelined`), plain numba ``njit``.

Each is a transcription of :mod:`lava_mlsnn.fixed` over whole timelines: CUBA and
sigma-delta neurons through every step of a layer (:func:`run_compiled`), the scan of a
timeline for its non-zero steps (:func:`scan_frames`), and a synapse's bit-slice gather
and current (:func:`sum_frames`). ``tests/test_pipelined_layer_major.py`` holds them to
the step-major run; without numba the torch steps run instead.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch

from .. import fixed
from ..format.params import NeuronParams, SynapseSpec
from .kernels import OVERFLOW, constants32  # the overflow codes of the compiled loops
from .pipelined_ops import _piece_bits, split_pieces

#: A layer-major neuron runs as one compiled loop over (sample, step, neuron) for these
#: types; the others (and every type without numba) step through :func:`fixed.neuron_step`.
COMPILED = ("CUBA", "SDNN", "SDNN_DELTA", "SDNN_SIGMA")
SKIP, ZERO = -2, -1  #: per-step modes besides a frame index: skipped (sends 0), zero input
_LOOPS = None  # {neuron type: compiled loop} once compiled; False when numba is missing


def _compile():
    """Compile (or load from numba's cache) the time loops; ``False`` without numba.

    The loops live in :mod:`._kernel_loops` beside the aligned run's, on the same compiled
    integer steps; plain ``njit`` (no ``parallel``): no threading layer, so safe in forked
    processes."""
    global _LOOPS
    if _LOOPS is not None:
        return _LOOPS
    try:
        from . import _kernel_loops as kl  # compiled on first call, or loaded from the cache
        from . import _kernel_loops32 as kl32
    except ImportError:  # no numba: the torch step loop runs instead
        _LOOPS = False
        return _LOOPS
    _LOOPS = {"CUBA": kl.timeline_cuba, "CUBA32": kl32.timeline_cuba32,
              "SDNN": kl.timeline_sigma_delta,
              "scan": kl.timeline_scan, "gather": kl.timeline_gather,
              "combine": kl.timeline_combine}
    return _LOOPS


def compiled_loop(p: NeuronParams):
    """The compiled time loop for neuron ``p`` (None: step through torch instead)."""
    if p.type not in COMPILED:
        return None
    if p.type != "CUBA" and (int(p.spike_exp) + int(p.state_exp) < 0 or int(p.state_exp) < 0):
        return None  # a negative shift: the torch step defines it
    loops = _compile()
    return loops[p.type if p.type == "CUBA" else "SDNN"] if loops else None


def _per_neuron(value, shape: Tuple[int, ...], channels_last: bool) -> np.ndarray:
    """A per-layer, per-channel or per-neuron int parameter as a flat int64 array in the
    layout of the layer's records (channels-last for ``(C, H, W)``)."""
    full = np.broadcast_to(np.asarray(value, dtype=np.int64), shape)
    if channels_last:
        full = np.moveaxis(full, 0, -1)
    return np.array(full, dtype=np.int64, order="C").reshape(-1)  # writable: one signature


def logical(a: np.ndarray, shape: Tuple[int, ...]) -> torch.Tensor:
    """An int64 ``[B, k, N]`` array in the records' order as a ``[B, k, *shape]`` tensor
    (a view: channels-last for ``(C, H, W)``)."""
    t = torch.from_numpy(a)
    if len(shape) == 3:
        c, h, w = shape
        return t.reshape(a.shape[0], a.shape[1], h, w, c).permute(0, 1, 4, 2, 3)
    return t.reshape((a.shape[0], a.shape[1]) + tuple(shape))


def run_compiled(p: NeuronParams, cur: Optional[torch.Tensor], mode: np.ndarray,
                 rec: torch.Tensor, exact32: bool = False) -> Tuple[np.ndarray, float]:
    """Run neuron ``p`` through the whole timeline into ``rec`` ``[B, steps, *shape]``,
    which holds zeros (the pipelined run's CPU records).

    ``cur`` ``[B, k, *shape]`` holds the currents of the steps that have one; ``mode[t]``
    is the frame of step ``t`` in ``cur``, :data:`ZERO` (a zero input) or :data:`SKIP`
    (a fixed point: the record, 0, is left unwritten). Conv-shaped
    tensors are channels-last (the records' layout); every step is
    :func:`fixed.neuron_step`'s, from the reset state. ``exact32``: a CUBA layer meeting
    :func:`lava_mlsnn.backends.lean.cuba32_ok` for its currents' bound, run in float32
    (``_kernel_loops32.timeline_cuba32``). Returns what :func:`scan_frames` would find in
    ``rec``: which steps hold a payload, and ``max |payload|``."""
    loop = compiled_loop(p)
    shape = tuple(rec.shape[2:])
    cl = len(shape) == 3
    flat = (lambda t: t.permute(0, 1, 3, 4, 2)) if cl else (lambda t: t)
    out = flat(rec)
    assert out.is_contiguous()
    out = out.reshape(rec.shape[0], rec.shape[1], -1).numpy()
    if cur is None:
        a = np.zeros((rec.shape[0], 1, out.shape[2]), dtype=np.int64)
    else:
        a = flat(cur).to(torch.int64).contiguous().reshape(cur.shape[0], cur.shape[1], -1).numpy()
    bias = 0 if p.bias is None else fixed.shift(np.asarray(p.bias, dtype=np.int64), p.bias_exp)
    bias = _per_neuron(bias, shape, cl)
    mode = np.ascontiguousarray(mode, dtype=np.int64)
    if p.type == "CUBA" and exact32:  # scalar decays (cuba32_ok), float32-exact operands
        nz, m = _compile()["CUBA32"](a, mode, out, constants32(p, 0), bias.astype(np.float32))
        return nz, float(m)
    if p.type == "CUBA":
        nz, m = loop(a, mode, out, _per_neuron(p.i_decay, shape, cl),
                     _per_neuron(p.v_decay, shape, cl), bias, int(p.v_th_mant) << fixed.STATE_SHIFT)
        return nz, float(m)
    scale = int(p.spike_exp) + int(p.state_exp)
    kind = {"SDNN": 0, "SDNN_DELTA": 1, "SDNN_SIGMA": 2}[p.type]
    nz, m = loop(a, mode, out, bias, int(p.v_th_mant) << scale, scale, int(p.state_exp), kind)
    return nz, float(m)


def flat_view(t: torch.Tensor) -> Optional[np.ndarray]:
    """A timeline ``[B, n, *shape]`` as an integer numpy view ``[B, n, N]`` in the records'
    element order (channels-last for ``(C, H, W)``); None where that is not a view, not
    on the CPU, or numba is missing (the compiled loops read these views)."""
    if t.device.type != "cpu" or t.dtype.is_floating_point or not _compile():
        return None
    v = t.permute(0, 1, 3, 4, 2) if t.dim() == 5 else t
    if not v.is_contiguous():
        return None
    return v.reshape(t.shape[0], t.shape[1], -1).numpy()


def scan_frames(src: np.ndarray, first: int, last: int) -> Tuple[np.ndarray, float]:
    """Frames ``first .. last-1`` of ``src`` ``[B, n, N]`` (:func:`flat_view`): which hold
    a payload (bool ``[last - first]``) and ``max |payload|`` over all, in one pass."""
    nz, m = _compile()["scan"](src, first, last)
    return nz, float(m)


def sum_frames(spec: SynapseSpec, src: np.ndarray, idx: list, in_shape: Tuple[int, ...],
               max_payload: float) -> Optional[np.ndarray]:
    """The currents (:func:`fixed.current_of_sum` of the exact synapse sums) of frames
    ``idx`` of ``src`` ``[B, n, N]`` (:func:`flat_view`), as int64 ``[B, len(idx), N']``
    in the records' order; None where :func:`split_pieces` gives no float32 split.

    The bit slices of :func:`split_sum` are written as float32 straight from the source
    (one pass, no int64 temporaries), summed in one synapse call, and added back, shifted
    and bounded in one more pass."""
    n_p = split_pieces(spec, max_payload)
    if n_p == 0 or spec.kind not in ("conv", "dense") or spec.overflow not in OVERFLOW:
        return None
    loops = _compile()
    bits = _piece_bits(spec) if n_p > 1 else 0
    b, k = src.shape[0], len(idx)
    frames = np.empty((n_p, b, k, src.shape[2]), dtype=np.float32)
    loops["gather"](src, np.asarray(idx, dtype=np.int64), frames, bits)
    z = torch.from_numpy(frames)
    if len(in_shape) == 3:
        c, h, w = in_shape
        z = z.reshape(n_p * b * k, h, w, c).permute(0, 3, 1, 2)  # channels-last
    else:
        z = z.reshape((n_p * b * k,) + tuple(in_shape))
    s = fixed.synapse_sum(spec, z, float(1 << bits) if n_p > 1 else max_payload)
    s = s.permute(0, 2, 3, 1) if s.dim() == 4 else s
    assert s.dtype == torch.float32 and s.is_contiguous()
    s = s.reshape(n_p, b, k, -1).numpy()
    out = np.empty(s.shape[1:], dtype=np.int64)
    loops["combine"](s, bits, int(spec.weight_exp), OVERFLOW[spec.overflow], out)
    return out
