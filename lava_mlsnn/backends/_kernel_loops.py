"""The compiled loops of :mod:`.kernels` (numba), at module level: numba's on-disk cache
keys a function by its code and closure, and a closure holding other compiled functions
never matches across processes (it would compile again in every process)."""
import numpy as np
from numba import njit, prange

from .. import fixed

sat_min, sat_max, half = fixed.SAT_MIN, fixed.SAT_MAX, 1 << 23
one, bits = fixed.DECAY_ONE, fixed.DECAY_BITS
shift6 = fixed.STATE_SHIFT
#: Neurons per block of the compiled loop: the block's states (3 x 8 KB) stay in L1.
BLOCK = 1024


@njit(cache=True, inline="always")
def _clip(x, lo, hi):
    return lo if x < lo else (hi if x > hi else x)


@njit(cache=True, inline="always")
def _wrap32(x):  # fixed.wrap32: two's complement 32 bits (LIF's int32 sums)
    return ((x + (1 << 31)) & ((1 << 32) - 1)) - (1 << 31)


@njit(cache=True, inline="always")
def _decay(x, d):  # fixed.decay: sign(x) * ((|x| * (4096 - d)) >> 12)
    m = ((x if x >= 0 else -x) * (one - d)) >> bits
    return m if x >= 0 else -m


@njit(cache=True)
def _currents(sr, e, mode, ab):  # fixed.current_of_sum of a row of exact float sums
    n = sr.shape[0]
    if mode == 0 and e == 0:  # the common case in one pass
        for j in range(n):
            ab[j] = _clip(np.int64(np.rint(sr[j])), sat_min, sat_max)
        return
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
        u = _wrap32(_decay(ub[j], idec) + (ab[j] << shift6))  # LIF's int32 sum
        u = u - 2 * half if u > half else (u + 2 * half if u <= -half else u)
        v = _clip(_wrap32(_decay(vb[j], vdec) + u + bias[j]), -sat_max, sat_max)
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
