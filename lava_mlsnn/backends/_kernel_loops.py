"""The compiled loops of the layer-major runs (numba): the aligned run's layer loop
(:mod:`.kernels`) and the pipelined run's timeline loops (:mod:`.pipelined_loops`), on one
set of compiled integer steps (``_decay``, ``_wrap32``, ``_cuba_one``, ...). At module
level: numba's on-disk cache keys a function by its code and closure, and a closure
holding other compiled functions never matches across processes (it would compile again
in every process)."""
import numpy as np
from numba import njit, prange

from .. import fixed

sat_min, sat_max, half = fixed.SAT_MIN, fixed.SAT_MAX, 1 << 23
one, decay_bits = fixed.DECAY_ONE, fixed.DECAY_BITS
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
    m = ((x if x >= 0 else -x) * (one - d)) >> decay_bits
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


@njit(cache=True, inline="always")
def _cuba_one(u, v, a, idec, vdec, bias, th):  # fixed.cuba_step of one neuron
    # LIF's int32 sum, its single 24-bit wrap (u may stay outside 24 bits), v clipped to
    # +-SAT_MAX; a spike is v > th and resets v to 0. Returns (u, v, spike)
    u = _wrap32(_decay(u, idec) + (a << shift6))
    u = u - 2 * half if u > half else (u + 2 * half if u <= -half else u)
    v = _clip(_wrap32(_decay(v, vdec) + u + bias), -sat_max, sat_max)
    spike = v > th
    return u, (0 if spike else v), spike


@njit(cache=True)
def _cuba(ab, ub, vb, bias, c, pr):  # fixed.cuba_step over a block of neurons
    idec, vdec, th = c[2], c[3], c[5]
    for j in range(ab.shape[0]):
        ub[j], vb[j], spike = _cuba_one(ub[j], vb[j], ab[j], idec, vdec, bias[j], th)
        pr[j] = np.float32(1.0) if spike else np.float32(0.0)


@njit(cache=True)
def _readout(ab, vb, bias, c, pr):  # fixed.readout_step: the payload is v
    vdec = c[3]
    for j in range(ab.shape[0]):
        v = _clip((ab[j] << shift6) + _decay(vb[j], vdec) + bias[j], sat_min, sat_max)
        vb[j] = v
        pr[j] = np.float32(v)


@njit(cache=True)
def _job(job, blocks, kind, s, c, bias, u_st, v_st, carry, pay, rec, write_rec):
    # one job of run: sample job // blocks, its block job % blocks of neurons, all steps
    nb, steps, n = s.shape
    e, mode = c[0], c[1]
    dv0 = c[4] if carry else _decay(c[4], c[3])  # MLSN's first step reads decay(vInit)
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


@njit(parallel=True, cache=True)
def run(kind, s, c, bias, u_st, v_st, carry, pay, rec, write_rec):
    # s: [B, T, N] exact float sums; c: int64 constants [e, mode, iDecay, vDecay,
    # vInit, th, levels, vBits, vExp]; bias [N]: bias << biasExp per neuron;
    # u_st, v_st [B, N]: the state read at the start when carry, written at the end;
    # pay [B, T, N] float32; rec [B, T, N] (any int type) when write_rec. Each job is
    # one sample's block of neurons; each row a step of that block, in cache.
    blocks = (s.shape[2] + BLOCK - 1) // BLOCK
    for job in prange(s.shape[0] * blocks):
        _job(job, blocks, kind, s, c, bias, u_st, v_st, carry, pay, rec, write_rec)


@njit(cache=True)
def run_serial(kind, s, c, bias, u_st, v_st, carry, pay, rec, write_rec):
    # run on the calling thread: a parallel launch costs ~0.1 ms even on one thread
    blocks = (s.shape[2] + BLOCK - 1) // BLOCK
    for job in range(s.shape[0] * blocks):
        _job(job, blocks, kind, s, c, bias, u_st, v_st, carry, pay, rec, write_rec)


# ---- the float32 MLSN loop: lean.lean_step's arithmetic (exact where lean.lean_ok holds)
# on 16 float32 lanes instead of 8 int64 ones
@njit(cache=True, inline="always")
def _decay32(x, c):  # lean._decay: trunc(x * (4096 - d) / 4096) in float64 (< 53 bits)
    m = np.floor(np.float64(x if x >= 0 else -x) * c)
    return np.float32(m if x >= 0 else -m)


@njit(cache=True, inline="always")
def _current32(s, scale, floor_a, lo, hi):  # a << 6 of lean.lean_step: exact in float32
    a = s * scale  # a power of two: exact (<< e), then floor for >> e
    return _clip(np.floor(a) if floor_a else a, lo, hi) * np.float32(64.0)  # not saturated


@njit(cache=True, inline="always")
def _level32(v, th, levels):  # fixed._levels_of in float32 (exact: see there)
    return _clip(np.floor(v / th), np.float32(0.0), levels)


@njit(cache=True)
def _mlsn32(sr, ub, vb, bias, f, pr, rr, write_rec, first, keep):  # lean.lean_step
    # f: float64 [2**e, e < 0, iDecay factor, vDecay factor, th, levels, vBits half,
    # 2**vExp, decay(vInit), u decays, v decays]; first: from u = 0, vb = vInit; keep:
    # the state is read again (not the last step)
    scale, floor_a, ci, cv = np.float32(f[0]), f[1] != 0, f[2], f[3]
    th, levels, qhalf, qscale = np.float32(f[4]), np.float32(f[5]), f[6], np.float32(f[7])
    udec, vdec = f[9] != 0, f[10] != 0
    dv0, lo, hi = np.float32(f[8]), np.float32(sat_min), np.float32(sat_max)
    if first and not keep:  # T = 1: no state read or written (a loop of its own: the
        for j in range(sr.shape[0]):  # merged one measured twice as slow)
            u = _clip(_current32(sr[j], scale, floor_a, lo, hi), lo, hi)
            q = _level32(_clip(dv0 + u + bias[j], lo, hi), th, levels)
            pr[j] = q
            if write_rec:
                rr[j] = q
        return
    for j in range(sr.shape[0]):
        a = _current32(sr[j], scale, floor_a, lo, hi)
        if first:  # the decays of the reset state are constants
            u = _clip(a, lo, hi)
            v = dv0 + u
        else:
            u = _clip(a + _decay32(ub[j], ci) if udec else a, lo, hi)
            v = (_decay32(vb[j], cv) if vdec else vb[j]) + u
        v = _clip(v + bias[j], lo, hi)
        q = _level32(v, th, levels)
        pr[j] = q
        if write_rec:
            rr[j] = q
        if keep:
            ub[j] = u
            vb[j] = v - q * th
    if keep and qhalf:  # the membrane quantization vBits / vExp (vExp >= 0: exact)
        qlo, qhi = np.float32(-qhalf), np.float32(qhalf - 1)
        for j in range(sr.shape[0]):
            vb[j] = _clip(np.floor(vb[j] / qscale), qlo, qhi) * qscale


@njit(cache=True)
def _job32(job, blocks, s, f, bias, pay, rec, write_rec, u_st, v_st):
    # one job of run_mlsn32 (as _job of run); u_st, v_st [B, N] float32 when T > 1
    steps, n = s.shape[1], s.shape[2]
    b, j0 = job // blocks, (job % blocks) * BLOCK
    j1 = min(n, j0 + BLOCK)
    ub = u_st[b, j0:j1] if steps > 1 else u_st[0]
    vb = v_st[b, j0:j1] if steps > 1 else v_st[0]
    for t in range(steps):
        _mlsn32(s[b, t, j0:j1], ub, vb, bias[j0:j1], f, pay[b, t, j0:j1],
                rec[b, t, j0:j1] if write_rec else rec[0, 0, :0], write_rec,
                t == 0, t + 1 < steps)


@njit(cache=True)
def _states32(s):
    # the float32 states of every job at once (an allocation per job costs as much as
    # a 1024-neuron step); T = 1 reads none
    rows, cols = (s.shape[0], s.shape[2]) if s.shape[1] > 1 else (1, 1)
    return np.zeros((rows, cols), dtype=np.float32), np.zeros((rows, cols), dtype=np.float32)


@njit(parallel=True, cache=True)
def run_mlsn32(s, f, bias, pay, rec, write_rec):
    # the aligned run of one MLSN layer from reset: s [B, T, N] float32 exact sums,
    # f the constants of _mlsn32, bias [N] float32 (bias << biasExp, exact), pay [B, T, N]
    # float32, rec [B, T, N] (any int type) when write_rec; jobs as in run
    u_st, v_st = _states32(s)
    blocks = (s.shape[2] + BLOCK - 1) // BLOCK
    for job in prange(s.shape[0] * blocks):
        _job32(job, blocks, s, f, bias, pay, rec, write_rec, u_st, v_st)


@njit(cache=True)
def run_mlsn32_serial(s, f, bias, pay, rec, write_rec):
    # run_mlsn32 on the calling thread (as run_serial)
    u_st, v_st = _states32(s)
    blocks = (s.shape[2] + BLOCK - 1) // BLOCK
    for job in range(s.shape[0] * blocks):
        _job32(job, blocks, s, f, bias, pay, rec, write_rec, u_st, v_st)


# ---- the pipelined run's timeline loops (:mod:`.pipelined_loops`): plain njit, no
# thread pool (safe in forked processes)
@njit(cache=True)
def timeline_cuba(cur, mode, rec, du, dv, bias, th):
    # _cuba_one (fixed.cuba_step) through a pipelined timeline [B, steps, N], per-neuron
    # decays; mode[t]: the frame of step t in cur, -1 a zero input, -2 skipped.
    # Returns which steps sent a payload and max |payload| (the next layer's scan)
    n_b, n_t, n = rec.shape
    nz = np.zeros(n_t, np.bool_)
    for b in range(n_b):
        u = np.zeros(n, np.int64)
        v = np.zeros(n, np.int64)
        for t in range(n_t):
            j = mode[t]
            if j == -2:  # the record holds zeros already
                continue
            for k in range(n):
                a = cur[b, j, k] if j >= 0 else 0
                u[k], v[k], spike = _cuba_one(u[k], v[k], a, du[k], dv[k], bias[k], th)
                rec[b, t, k] = 1 if spike else 0
                if spike:
                    nz[t] = True
    return nz, np.int64(1) if nz.any() else np.int64(0)

@njit(cache=True)
def timeline_sigma_delta(cur, mode, rec, bias, th, scale, state_exp, kind):
    # fixed.sigma_delta_step; kind 0: SDNN (sigma += a, act = relu(sigma + bias)),
    # 1: SDNN_DELTA (act = a << scale), 2: SDNN_SIGMA (sends sigma += a); returns
    # which steps sent a payload and max |payload|, as cuba
    n_b, n_t, n = rec.shape
    nz = np.zeros(n_t, np.bool_)
    m = np.int64(0)
    for b in range(n_b):
        sigma = np.zeros(n, np.int64)
        ref = np.zeros(n, np.int64)
        for t in range(n_t):
            j = mode[t]
            if j == -2:  # the record holds zeros already
                continue
            row = cur[b, max(j, 0)]
            out = rec[b, t]
            if kind == 2:
                for k in range(n):
                    if j >= 0:
                        sigma[k] += row[k]
                    out[k] = sigma[k]
                    x = sigma[k] if sigma[k] >= 0 else -sigma[k]
                    m = x if x > m else m
                    if x:
                        nz[t] = True
                continue
            for k in range(n):
                a = row[k] if j >= 0 else 0
                if kind == 1:
                    act = a << scale
                else:
                    sigma[k] += a
                    act = sigma[k] + bias[k]
                    act = act if act > 0 else 0
                d = act - ref[k]
                if (d if d >= 0 else -d) < th:
                    d = 0
                ref[k] += d
                z = d >> state_exp
                out[k] = z
                x = z if z >= 0 else -z
                m = x if x > m else m
                if x:
                    nz[t] = True
    return nz, m

@njit(cache=True)
def timeline_scan(src, first, last):
    # which frames first .. last-1 of src [B, n, N] hold a payload, and max |payload|
    nz = np.zeros(last - first, np.bool_)
    m = 0
    for b in range(src.shape[0]):
        for t in range(first, last):
            row = src[b, t]
            hi = 0
            for k in range(row.shape[0]):
                x = np.int64(row[k])  # a narrow record: widened before negating
                x = x if x >= 0 else -x
                hi = x if x > hi else hi
            if hi:
                nz[t - first] = True
                m = hi if hi > m else m
    return nz, m

@njit(cache=True)
def timeline_gather(src, idx, out, bits):
    # frames idx of src [B, n, N] as float32 bit slices out [P, B, len(idx), N]:
    # (z >> bits j) & (2**bits - 1) below the top slice, z >> bits (P-1) on top
    n_p = out.shape[0]
    mask = (1 << bits) - 1
    for b in range(src.shape[0]):
        for i in range(idx.shape[0]):
            row = src[b, idx[i]]
            for k in range(row.shape[0]):
                z = np.int64(row[k])
                for j in range(n_p - 1):
                    out[j, b, i, k] = (z >> (bits * j)) & mask
                out[n_p - 1, b, i, k] = z >> (bits * (n_p - 1))

@njit(cache=True)
def timeline_combine(s, bits, weight_exp, overflow, out):
    # fixed.current_of_sum of the sum of the slices' exact float32 sums s [P, ...]:
    # round, << weight_exp (>> when negative), then sat24 (0), wrap24 (1) or none (2)
    n_p, n_b, n_i, n = s.shape
    for b in range(n_b):
        for i in range(n_i):
            for k in range(n):
                a = np.int64(np.rint(s[n_p - 1, b, i, k]))
                for j in range(n_p - 2, -1, -1):
                    a = (a << bits) + np.int64(np.rint(s[j, b, i, k]))
                a = a << weight_exp if weight_exp >= 0 else a >> (-weight_exp)
                if overflow == 0:
                    a = _clip(a, sat_min, sat_max)
                elif overflow == 1:
                    a = ((a + half) & (2 * half - 1)) - half
                out[b, i, k] = a
