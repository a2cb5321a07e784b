"""One layer's neuron over the whole time axis as one compiled loop (numba), same integers.

The emulator's step-major loop runs each neuron step as ~8-15 torch element-wise passes
over the layer's tensor; the synapse sums (conv / matmul) are the part it cannot avoid.
Here a feed-forward layer's synapse sums for all ``T`` steps, ``[B, T, N]`` (``N``: the
layer's neurons in the sums' memory order), are read once and one loop writes the
payload for the next synapse (float32, exact: every payload below is an integer of at
most 24 bits) and the recorded integers, the states kept per neuron block in cache.

Each kernel transcribes :func:`lava_mlsnn.fixed.current_of_sum` (``round``, the shift by
``weightExp``, the synapse's ``overflow``: ``sat24``, ``wrap24`` or none) followed by

* :func:`_mlsn` -- :func:`lava_mlsnn.fixed.mlsn_step` (with
  :func:`lava_mlsnn.fixed.decay`, the bias of ``fixed._bias_state``, ``fixed._levels_of``
  and the membrane quantization ``vBits`` / ``vExp``);
* :func:`_cuba` -- :func:`lava_mlsnn.fixed.cuba_step` (the 24-bit wrap of the current,
  the voltage clipped to ``±(2**23 - 1)``, reset to 0 on a spike);
* :func:`_readout` -- :func:`lava_mlsnn.fixed.readout_step`;
* :func:`_pass` -- :func:`lava_mlsnn.fixed.pass_payload`.

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

#: Neuron types with a kernel, and their codes in the compiled loop.
KINDS = {"MLSN": 0, "CUBA": 1, "READOUT": 2, "PASS": 3}
#: Synapse overflow rules the kernels implement (fixed.current_of_sum / fixed.bounded).
OVERFLOW = {"sat24": 0, "wrap24": 1, "none": 2}
#: Neurons per block of the compiled loop: the block's states (2 x 8 KB) stay in L1.
BLOCK = 1024

_KERNEL = None  # the compiled loop; False when numba is missing


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
    njit, prange = numba.njit, numba.prange
    sat_min, sat_max, half = fixed.SAT_MIN, fixed.SAT_MAX, 1 << 23
    one, bits = fixed.DECAY_ONE, fixed.DECAY_BITS
    shift6 = fixed.STATE_SHIFT

    @njit(cache=True, inline="always")
    def _clip(x, lo, hi):
        return lo if x < lo else (hi if x > hi else x)

    @njit(cache=True, inline="always")
    def _decay(x, d):  # fixed.decay: sign(x) * ((|x| * (4096 - d)) >> 12)
        m = ((x if x >= 0 else -x) * (one - d)) >> bits
        return m if x >= 0 else -m

    @njit(cache=True)
    def _currents(sr, e, mode, ab):  # fixed.current_of_sum of a row of exact float sums
        n = sr.shape[0]
        for j in range(n):
            ab[j] = np.int64(np.rint(sr[j]))
        if mode == 0:  # clipped first (saturated below anyway): no int64 overflow
            for j in range(n):
                ab[j] = _clip(ab[j], -(1 << 40), 1 << 40)
        elif mode == 1 and e > 0:  # (a mod 2**24) << e wraps as a << e does
            for j in range(n):
                ab[j] = ab[j] & ((1 << 24) - 1)
        if e > 0:
            for j in range(n):
                ab[j] = ab[j] << e
        elif e < 0:
            for j in range(n):
                ab[j] = ab[j] >> (-e)
        if mode == 0:
            for j in range(n):
                ab[j] = _clip(ab[j], sat_min, sat_max)
        elif mode == 1:  # two's-complement 24-bit wrap (stock Conv)
            for j in range(n):
                ab[j] = ((ab[j] + half) & ((1 << 24) - 1)) - half

    @njit(cache=True)
    def _mlsn(ab, ub, vb, bias, c, pr, first):  # fixed.mlsn_step
        # first: a sample's first step, from u = 0 and vb holding decay(vInit) already
        idec, vdec, th, levels, vbits, vexp = c[2], c[3], c[5], c[6], c[7], c[8]
        inv = 1.0 / np.float64(th)  # a product, not a division (several times slower)
        for j in range(ab.shape[0]):
            if first:  # the decays of the reset state are constants (branch unswitched)
                u = _clip(ab[j] << shift6, sat_min, sat_max)
                v = _clip(vb[j] + u + bias[j], sat_min, sat_max)
            else:
                u = _clip((ab[j] << shift6) + _decay(ub[j], idec), sat_min, sat_max)
                v = _clip(_decay(vb[j], vdec) + u + bias[j], sat_min, sat_max)
            # v // th: |v| <= 2**23, so v * fl(1 / th) errs by far less than 1 and the
            # floor is off by at most one, which the remainder corrects
            q = np.int64(np.floor(np.float64(v) * inv))
            r = v - q * th
            q = q - 1 if r < 0 else (q + 1 if r >= th else q)
            q = 0 if q < 0 else (levels if q > levels else q)  # fixed._levels_of's clip
            ub[j] = u
            vb[j] = v - q * th
            pr[j] = np.float32(q)
        if vbits:
            lo, hi = -(1 << (vbits - 1)), (1 << (vbits - 1)) - 1
            for j in range(ab.shape[0]):
                vb[j] = _clip(vb[j] >> vexp, lo, hi) << vexp

    @njit(cache=True)
    def _cuba(ab, ub, vb, bias, c, pr):  # fixed.cuba_step
        idec, vdec, th = c[2], c[3], c[5]
        for j in range(ab.shape[0]):
            u = _decay(ub[j], idec) + (ab[j] << shift6)
            u = u - 2 * half if u > half else (u + 2 * half if u <= -half else u)
            v = _clip(_decay(vb[j], vdec) + u + bias[j], -sat_max, sat_max)
            spike = v > th
            ub[j] = u
            vb[j] = 0 if spike else v
            pr[j] = np.float32(1.0) if spike else np.float32(0.0)

    @njit(cache=True)
    def _readout(ab, vb, bias, c, pr):  # fixed.readout_step: the payload is v
        vdec = c[3]
        for j in range(ab.shape[0]):
            v = _clip((ab[j] << shift6) + _decay(vb[j], vdec) + bias[j], sat_min, sat_max)
            vb[j] = v
            pr[j] = np.float32(v)

    @njit(parallel=True, cache=True)
    def run(kind, s, c, bias, u_st, v_st, carry, pay, rec, write_rec):
        # s: [B, T, N] exact float sums; c: int64 constants [e, mode, iDecay, vDecay,
        # vInit, th, levels, vBits, vExp]; bias [N]: bias << biasExp per neuron;
        # u_st, v_st [B, N]: the state read at the start when carry, written at the end;
        # pay [B, T, N] float32; rec [B, T, N] (any int type) when write_rec. Each job is
        # one sample's block of neurons; each row a step of that block, in cache.
        nb, steps, n = s.shape
        e, mode = c[0], c[1]
        dv0 = c[4] if carry else _decay(c[4], c[3])  # MLSN's first step reads decay(vInit)
        blocks = (n + BLOCK - 1) // BLOCK
        for job in prange(nb * blocks):
            b, j0 = job // blocks, (job % blocks) * BLOCK
            j1 = min(n, j0 + BLOCK)
            ab = np.empty(j1 - j0, dtype=np.int64)
            ub = np.empty(j1 - j0, dtype=np.int64)
            vb = np.empty(j1 - j0, dtype=np.int64)
            for j in range(j0, j1):
                ub[j - j0] = u_st[b, j] if carry else 0
                vb[j - j0] = v_st[b, j] if carry else (dv0 if kind == 0 else 0)
            bias_b = bias[j0:j1]
            for t in range(steps):
                pr = pay[b, t, j0:j1]
                _currents(s[b, t, j0:j1], e, mode, ab)
                if kind == 0:
                    _mlsn(ab, ub, vb, bias_b, c, pr, t == 0 and not carry)
                elif kind == 1:
                    _cuba(ab, ub, vb, bias_b, c, pr)
                elif kind == 2:
                    _readout(ab, vb, bias_b, c, pr)
                else:  # PASS: fixed.pass_payload
                    for j in range(j1 - j0):
                        pr[j] = np.float32(_clip(ab[j], sat_min, sat_max))
                if write_rec:
                    rr = rec[b, t, j0:j1]
                    for j in range(j1 - j0):
                        rr[j] = np.int64(pr[j])
            if carry:
                for j in range(j0, j1):
                    u_st[b, j] = ub[j - j0]
                    v_st[b, j] = vb[j - j0]

    _KERNEL = run
    return _KERNEL


def constants(p: fixed.NeuronParams, weight_exp: int, overflow: str) -> np.ndarray:
    """The compiled loop's int64 constants of a layer (see ``run`` in :func:`_compile`)."""
    th = int(p.v_th_mant) << fixed.STATE_SHIFT
    return np.array([int(weight_exp), OVERFLOW[overflow], int(p.i_decay), int(p.v_decay),
                     int(p.v_init), th, int(p.levels), int(p.v_bits), int(p.v_exp)],
                    dtype=np.int64)


def bias_term(p: fixed.NeuronParams, shape: Tuple[int, ...]) -> np.ndarray:
    """``bias << biasExp`` (``fixed._bias_state``) broadcast to the layer ``shape``, int64
    (zeros without a bias)."""
    if p.bias is None:
        return np.zeros(shape, dtype=np.int64)
    b = np.asarray(p.bias, dtype=np.int64)
    e = int(p.bias_exp)
    b = b << e if e >= 0 else b >> -e
    return np.ascontiguousarray(np.broadcast_to(b, shape))


def run_layer(kind: str, s: np.ndarray, consts: np.ndarray, bias: np.ndarray,
              payload: np.ndarray, record: Optional[np.ndarray] = None,
              state: Optional[Tuple[np.ndarray, np.ndarray]] = None) -> None:
    """One layer's neuron over all steps of a batch, in place.

    Parameters
    ----------
    kind : str
        A key of :data:`KINDS`.
    s : float32 or float64 array ``[B, T, N]``, C-contiguous
        The exact synapse sums (:func:`lava_mlsnn.fixed.synapse_sum`), not yet rounded.
    consts : int64 array
        :func:`constants`.
    bias : int64 array ``[N]``
        :func:`bias_term` in the neuron order of ``s``.
    payload : float32 array ``[B, T, N]``
        Written: the payload (MLSN level, CUBA spike, READOUT ``v``, PASS current).
    record : int array ``[B, T, N]``, optional
        Written with the same integers in its own type (which must hold them).
    state : (u, v) int64 arrays ``[B, N]``, optional
        Read as the state before step 0 and overwritten with the state after the last
        step; default: every sample starts from the reset state (``u = 0``, ``v = vInit``
        for MLSN, else 0) and the final state is dropped.
    """
    import multiprocessing
    unset = multiprocessing.get_start_method(allow_none=True) is None
    run = _compile()
    if run is False:
        raise RuntimeError("the layer kernels need numba")
    import numba
    import torch
    numba.set_num_threads(max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)))
    empty = np.zeros((1, 1), dtype=np.int64)
    u, v = state if state is not None else (empty, empty)
    rec = record if record is not None else np.zeros((1, 1, 1), dtype=np.int8)
    run(KINDS[kind], s, consts, bias, u, v, state is not None, payload, rec,
        record is not None)
    if unset and multiprocessing.get_start_method(allow_none=True) is not None:
        # numba's first parallel launch fixes the start method (its lock asks for it);
        # Lava, imported later, sets its own and fails on one already chosen
        multiprocessing.set_start_method(None, force=True)


