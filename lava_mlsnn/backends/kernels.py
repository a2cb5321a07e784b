"""One layer's neuron over the whole time axis as one compiled loop (numba), same integers.

The emulator's step-major loop runs each neuron step as ~8-15 torch element-wise passes
over the layer's tensor; the synapse sums (conv / matmul) are the part it cannot avoid.
Here a feed-forward layer's synapse sums for all ``T`` steps, ``[B, T, N]`` (``N``: the
layer's neurons in the sums' memory order), are read once and one loop writes the
payload for the next synapse (float32, exact: every payload below is an integer of at
most 24 bits) and the recorded integers, the states kept per neuron block in cache.

Each loop of :mod:`._kernel_loops` transcribes :func:`lava_mlsnn.fixed.current_of_sum`
(``round``, the shift by ``weightExp``, the synapse's ``overflow``: ``sat24``, ``wrap24`` or
none) followed by

* ``_mlsn`` -- :func:`lava_mlsnn.fixed.mlsn_step` (with
  :func:`lava_mlsnn.fixed.decay`, the bias of ``fixed._bias_state``, ``fixed._levels_of``
  and the membrane quantization ``vBits`` / ``vExp``);
* ``_cuba`` -- :func:`lava_mlsnn.fixed.cuba_step` (the 24-bit wrap of the current,
  the voltage clipped to ``±(2**23 - 1)``, reset to 0 on a spike);
* ``_readout`` -- :func:`lava_mlsnn.fixed.readout_step`;
* the PASS branch of ``run`` -- :func:`lava_mlsnn.fixed.pass_payload`;
* ``_sigma_delta`` -- :func:`lava_mlsnn.fixed.sigma_delta_step` (``SDNN``, ``SDNN_DELTA``,
  ``SDNN_SIGMA``; the same ``_sigma_delta_one`` as the pipelined run's timeline loop).
  Its payloads are not saturated: the loop returns their ``max |payload|`` (the next
  synapse's bound, no scan) and writes the record from the integers, not the float32.

All integer arithmetic is int64 (``>>`` arithmetic, as numpy's and torch's), so no
intermediate can differ from fixed.py's. The quotient ``v // th`` of a saturated ``v``
(``|v| <= 2**23``, ``0 < th < 2**23``) is ``floor(v * fl(1 / th))`` in float64 corrected by
one from the integer remainder: exact, without a division. Which layers may take a kernel is
decided by :func:`lava_mlsnn.backends.emulator` from an explicit allow-list of
``NeuronParams`` fields; ``tests/test_emulator_kernels.py`` checks every path against the
plain step.

:func:`run_layer` is written for any caller holding one layer's sums ``[B, T, N]`` and a
state: the aligned run (state from reset) and a pipelined one (state carried in and out).
"""
from __future__ import annotations

import os
from typing import Optional, Tuple

import numpy as np

from .. import fixed
from .._quiet import start_method_kept

#: Neuron types with a kernel, and their codes in the compiled loop.
KINDS = {"MLSN": 0, "CUBA": 1, "READOUT": 2, "PASS": 3, "SDNN": 4, "SDNN_DELTA": 5,
         "SDNN_SIGMA": 6}
#: The kinds of :func:`run_layer` running an MLSN or a CUBA layer on the float32 loop
#: (``_kernel_loops32.run32``: :func:`lava_mlsnn.backends.lean.lean_step`'s arithmetic,
#: and :func:`lava_mlsnn.fixed.cuba_step`'s where :func:`~.lean.cuba32_ok` holds).
MLSN32 = "MLSN32"
CUBA32 = "CUBA32"
#: Synapse overflow rules the kernels implement (fixed.current_of_sum / fixed.bounded).
OVERFLOW = {"sat24": 0, "wrap24": 1, "none": 2}
#: Fewer neuron-steps than this run on the calling thread (see :func:`run_layer`).
PARALLEL_MIN = 1 << 18
_KERNEL = None  # the compiled loops' module; False when numba is missing
# stand-ins for the arguments a call does not use (never written: their flags are off)
_NO_STATE = np.zeros((1, 1), dtype=np.int64)
_NO_RECORD = np.zeros((1, 1, 1), dtype=np.int8)
_NO_HI = np.zeros((1, 1, 1), dtype=np.float64)


def available() -> bool:
    """Whether numba imports (the kernels compile or load from numba's cache)."""
    return _compile() is not False


def _compile():
    """Compile (or load from numba's on-disk cache: once per machine) the layer loop."""
    global _KERNEL
    if _KERNEL is not None:
        return _KERNEL
    try:
        import numba
    except ImportError:  # the emulator runs the plain step instead
        _KERNEL = False
        return _KERNEL
    if "NUMBA_THREADING_LAYER" not in os.environ:
        # As lava_mlsnn.neuron.sequence: Lava and DataLoader workers fork this process and
        # GNU OpenMP's pool does not survive a fork; 'forksafe' is TBB or numba's workqueue.
        numba.config.THREADING_LAYER = "forksafe"
    from . import _kernel_loops, _kernel_loops32  # noqa: F401 (compiled on first call, or
    # loaded from numba's cache)
    _KERNEL = _kernel_loops
    return _KERNEL


def constants(p: fixed.NeuronParams, weight_exp: int, overflow: str) -> np.ndarray:
    """The compiled loop's int64 constants of a layer (see ``_kernel_loops.run``); the
    threshold in state units: ``vThMant << 6``, or ``<< (spikeExp + stateExp)`` for a
    sigma-delta neuron (``fixed.sigma_delta_step``)."""
    scale = int(p.spike_exp) + int(p.state_exp)
    th = int(p.v_th_mant) << (scale if p.type in fixed.SDNN_TYPES else fixed.STATE_SHIFT)
    return np.array([int(weight_exp), OVERFLOW[overflow], int(p.i_decay), int(p.v_decay),
                     int(p.v_init), th, int(p.levels), int(p.v_bits), int(p.v_exp), scale,
                     int(p.state_exp)], dtype=np.int64)


def constants32(p: fixed.NeuronParams, weight_exp: int) -> np.ndarray:
    """The float32 loops' constants (see ``_kernel_loops32._mlsn32``), float64; for a
    layer meeting :func:`lava_mlsnn.backends.lean.lean_ok` (MLSN) or
    :func:`~lava_mlsnn.backends.lean.cuba32_ok` (CUBA: its vInit, levels and membrane
    quantization fields unused)."""
    e, th = int(weight_exp), int(p.v_th_mant) << fixed.STATE_SHIFT
    i_decay, v_decay = int(p.i_decay), int(p.v_decay)
    half = (1 << (int(p.v_bits) - 1)) if p.v_bits else 0
    dv0 = int(fixed.decay(np.int64(int(p.v_init)), v_decay))
    return np.array([2.0 ** e, e < 0, (fixed.DECAY_ONE - i_decay) / fixed.DECAY_ONE,
                     (fixed.DECAY_ONE - v_decay) / fixed.DECAY_ONE, th, int(p.levels), half,
                     2.0 ** int(p.v_exp), dv0, i_decay != fixed.DECAY_ONE, v_decay != 0],
                    dtype=np.float64)


def bias_term(p: fixed.NeuronParams, shape: Tuple[int, ...]) -> np.ndarray:
    """``bias << biasExp`` (``fixed._bias_state``) broadcast to the layer ``shape``, int64
    (zeros without a bias)."""
    if p.bias is None:
        return np.zeros(shape, dtype=np.int64)
    b = fixed.shift(np.asarray(p.bias, dtype=np.int64), p.bias_exp)
    return np.ascontiguousarray(np.broadcast_to(b, shape))


def clip_input32(x: np.ndarray, levels: int, payload: np.ndarray,
                 record: Optional[np.ndarray] = None) -> None:
    """:func:`lava_mlsnn.fixed.input_payload` of integer frames ``x`` ``[F, C, P]`` (int64
    or narrower: each type compiles once)
    (C-contiguous) into the float32 ``payload`` ``[F, P, C]`` (exact: ``0 <= levels <
    2**24``) and the same integers into ``record`` ``[F, P, C]`` (an int type holding
    ``levels``) when given, in one pass."""
    if _compile() is False:
        raise RuntimeError("the layer kernels need numba")
    if not 0 <= levels < (1 << 24):
        raise ValueError(f"inputLevels {levels} is not exact in float32")
    from . import _kernel_loops32 as loops32
    loops32.clip_frames32(x, np.int64(levels), payload,
                          record if record is not None else _NO_RECORD, record is not None)


def run_layer(kind: str, s: np.ndarray, consts: np.ndarray, bias: np.ndarray,
              payload: np.ndarray, record: Optional[np.ndarray] = None,
              state: Optional[Tuple[np.ndarray, np.ndarray]] = None,
              s_hi: Optional[np.ndarray] = None, hi_steps: Tuple[int, ...] = ()
              ) -> Optional[np.ndarray]:
    """One layer's neuron over all steps of a batch, in place; returns ``max |payload|``
    per step (int64 ``[T]``, over the batch) for a sigma-delta layer (None for the
    others: their parameters bound it).

    Parameters
    ----------
    kind : str
        A key of :data:`KINDS`, or :data:`MLSN32` / :data:`CUBA32` (float32 sums, no
        ``state``).
    s : float32 or float64 array ``[B, T, N]``, C-contiguous
        The exact synapse sums (:func:`lava_mlsnn.fixed.synapse_sum`), not yet rounded.
    consts : int64 array
        :func:`constants` (:func:`constants32` for :data:`MLSN32` and :data:`CUBA32`).
    bias : int64 array ``[N]``
        :func:`bias_term` in the neuron order of ``s`` (as float32 for the float32 loops).
    payload : float32 array ``[B, T, N]``
        Written: the payload (MLSN level, CUBA spike, READOUT ``v``, PASS current, the
        sigma-delta payload: exact only while ``max |payload| < 2**24``). It may be ``s``
        itself where ``s`` is float32 (each neuron-step reads its sum before it writes its
        payload); for :data:`MLSN32` only at ``T = 1``, which then runs its own loop, and
        never for :data:`CUBA32`.
    record : int array ``[B, T, N]``, optional
        Written with the same integers in its own type (which must hold them).
    state : (u, v) int64 arrays ``[B, N]``, optional
        (``(sigma, ref)`` for a sigma-delta neuron)
        Read as the state before step 0 and overwritten with the state after the last
        step; default: every sample starts from the reset state (``u = 0``, ``v = vInit``
        for MLSN, else 0) and the final state is dropped.
    s_hi : float64 array ``[B, len(hi_steps), N]``, optional
        The sums of steps ``hi_steps`` (ascending), read instead of theirs in ``s``: the
        steps whose payloads a float32 sum cannot hold exactly, when ``s`` is float32.
    hi_steps : tuple of int
    """
    loops = _compile()
    if loops is False:
        raise RuntimeError("the layer kernels need numba")
    import numba
    import torch
    threads = max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
    # one thread or little work: no parallel launch (~0.1 ms each, as much as the loop
    # over a few samples of a layer)
    serial = threads == 1 or s.size < PARALLEL_MIN
    u, v = state if state is not None else (_NO_STATE, _NO_STATE)
    rec = record if record is not None else _NO_RECORD
    if kind in (MLSN32, CUBA32) and (state is not None or s.dtype != np.float32 or hi_steps):
        raise ValueError("the float32 loops run float32 sums from the reset state")
    if kind in (MLSN32, CUBA32):
        from . import _kernel_loops32 as loops32  # compiled or loaded with the int64 loop
        if np.may_share_memory(s, payload):
            if kind == CUBA32 or s.shape[1] != 1 or payload.ctypes.data != s.ctypes.data:
                raise ValueError("the float32 loops write in place only for MLSN at T = 1")
            run, args = (loops32.run_mlsn32_once_serial if serial else loops32.run_mlsn32_once,
                         (s[:, 0], consts, bias, rec[:, 0], record is not None))
        else:
            run, args = (loops32.run32_serial if serial else loops32.run32,
                         (s, consts, bias, payload, rec, record is not None, kind == CUBA32))
    else:
        hi_of = np.full(s.shape[1], -1, dtype=np.int64)
        hi_of[list(hi_steps)] = np.arange(len(hi_steps))
        run, args = (loops.run_serial if serial else loops.run, (
            KINDS[kind], s, _NO_HI if s_hi is None else s_hi, hi_of, consts, bias, u, v,
            state is not None, payload, rec, record is not None))
    if serial:  # no thread pool
        top = run(*args)
    else:
        with start_method_kept():  # numba's thread pool fixes it; Lava, imported later,
            numba.set_num_threads(threads)  # sets its own
            top = run(*args)
    return top if kind in fixed.SDNN_TYPES else None


