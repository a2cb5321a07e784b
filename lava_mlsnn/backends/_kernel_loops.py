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


@njit(cache=True, inline="always")
def _sigma_delta_one(a, sigma, ref, bias, th, scale, state_exp, kind):
    # fixed.sigma_delta_step of one neuron; kind 0: SDNN (sigma += a, act = relu(sigma +
    # bias)), 1: SDNN_DELTA (act = a << scale), 2: SDNN_SIGMA (sends sigma += a); then the
    # delta against ref, zeroed below th, ref += d, payload d >> state_exp. No saturation,
    # as in Lava's models. Returns (sigma, ref, payload)
    if kind == 2:
        sigma += a
        return sigma, ref, sigma
    if kind == 1:
        act = a << scale
    else:
        sigma += a
        act = sigma + bias
        act = act if act > 0 else 0
    d = act - ref
    if (d if d >= 0 else -d) < th:
        d = 0
    return sigma, ref + d, d >> state_exp


@njit(cache=True)
def _sigma_delta(ab, ub, vb, bias, c, pr, rr, write_rec, kind):
    # fixed.sigma_delta_step over a block (ub: sigma, vb: ref); the payload's integers
    # go to the record directly (unbounded: a float32 payload may not hold them).
    # Returns max |payload| of the block, the next synapse's bound
    th, scale, state_exp = c[5], c[9], c[10]
    m = np.int64(0)
    for j in range(ab.shape[0]):
        ub[j], vb[j], z = _sigma_delta_one(ab[j], ub[j], vb[j], bias[j], th, scale,
                                           state_exp, kind)
        pr[j] = np.float32(z)
        if write_rec:
            rr[j] = z
        x = z if z >= 0 else -z
        m = x if x > m else m
    return m


@njit(cache=True)
def _readout(ab, vb, bias, c, pr):  # fixed.readout_step: the payload is v
    vdec = c[3]
    for j in range(ab.shape[0]):
        v = _clip((ab[j] << shift6) + _decay(vb[j], vdec) + bias[j], sat_min, sat_max)
        vb[j] = v
        pr[j] = np.float32(v)


@njit(cache=True)
def _job(job, blocks, kind, s, s_hi, hi_of, c, bias, u_st, v_st, carry, pay, rec, write_rec,
         top):
    # one job of run: sample job // blocks, its block job % blocks of neurons, all steps;
    # a sigma-delta layer writes its max |payload| per step into top[job]
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
        if hi_of[t] >= 0:
            _currents(s_hi[b, hi_of[t], j0:j1], e, mode, ab)
        else:
            _currents(s[b, t, j0:j1], e, mode, ab)
        if kind == 0:
            _mlsn(ab, ub, vb, bias_b, c, pr, t == 0 and not carry)
        elif kind == 1:
            _cuba(ab, ub, vb, bias_b, c, pr)
        elif kind == 2:
            _readout(ab, vb, bias_b, c, pr)
        elif kind == 3:  # PASS: fixed.pass_payload
            for j in range(j1 - j0):
                pr[j] = np.float32(_clip(ab[j], sat_min, sat_max))
        else:  # sigma-delta: writes its record itself
            rr = rec[b, t, j0:j1] if write_rec else rec[0, 0, 0:0]
            top[job, t] = _sigma_delta(ab, ub, vb, bias_b, c, pr, rr, write_rec, kind - 4)
            continue
        if write_rec:
            rr = rec[b, t, j0:j1]
            for j in range(j1 - j0):
                rr[j] = np.int64(pr[j])
    if carry:
        for j in range(j0, j1):
            u_st[b, j] = ub[j - j0]
            v_st[b, j] = vb[j - j0]


@njit(cache=True)
def _per_step(top):  # the max over jobs of each step's max |payload|
    per_step = np.zeros(top.shape[1], dtype=np.int64)
    for job in range(top.shape[0]):
        for t in range(top.shape[1]):
            per_step[t] = max(per_step[t], top[job, t])
    return per_step


@njit(parallel=True, cache=True)
def run(kind, s, s_hi, hi_of, c, bias, u_st, v_st, carry, pay, rec, write_rec):
    # s: [B, T, N] exact float sums; step t reads s_hi[:, hi_of[t]] instead where
    # hi_of[t] >= 0 (float64 sums of the steps whose payloads float32 cannot sum
    # exactly); c: int64 constants [e, mode, iDecay, vDecay, vInit, th, levels, vBits,
    # vExp, scale, stateExp]; bias [N]: bias << biasExp per neuron;
    # u_st, v_st [B, N]: the state read at the start when carry, written at the end;
    # pay [B, T, N] float32; rec [B, T, N] (any int type) when write_rec. Each job is
    # one sample's block of neurons; each row a step of that block, in cache. kind 4-6:
    # sigma-delta (SDNN, SDNN_DELTA, SDNN_SIGMA), whose max |payload| per step is
    # returned ([T]; zeros for the other kinds: bounded by their parameters)
    blocks = (s.shape[2] + BLOCK - 1) // BLOCK
    top = np.zeros((s.shape[0] * blocks, s.shape[1]), dtype=np.int64)
    for job in prange(s.shape[0] * blocks):
        _job(job, blocks, kind, s, s_hi, hi_of, c, bias, u_st, v_st, carry, pay, rec,
             write_rec, top)
    return _per_step(top)


@njit(cache=True)
def run_serial(kind, s, s_hi, hi_of, c, bias, u_st, v_st, carry, pay, rec, write_rec):
    # run on the calling thread: a parallel launch costs ~0.1 ms even on one thread
    blocks = (s.shape[2] + BLOCK - 1) // BLOCK
    top = np.zeros((s.shape[0] * blocks, s.shape[1]), dtype=np.int64)
    for job in range(s.shape[0] * blocks):
        _job(job, blocks, kind, s, s_hi, hi_of, c, bias, u_st, v_st, carry, pay, rec,
             write_rec, top)
    return _per_step(top)


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
    # _sigma_delta_one (fixed.sigma_delta_step) through a pipelined timeline; kind as
    # there; returns which steps sent a payload and max |payload|, as cuba
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
            for k in range(n):
                a = row[k] if j >= 0 else 0
                sigma[k], ref[k], z = _sigma_delta_one(a, sigma[k], ref[k], bias[k], th,
                                                       scale, state_exp, kind)
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
