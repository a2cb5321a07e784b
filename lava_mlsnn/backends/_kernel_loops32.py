"""The float32 loops of the aligned layer-major run (numba, :mod:`.kernels`): the MLSN
loop, :func:`lava_mlsnn.backends.lean.lean_step`'s arithmetic, exact where
:func:`lava_mlsnn.backends.lean.lean_ok` holds, and the CUBA loop, exact where
:func:`lava_mlsnn.backends.lean.cuba32_ok` holds, on 16 float32 lanes instead of the int64
loop's 8 (:mod:`._kernel_loops`, whose clip and block size it shares), and the input
layer's clip into the float32 frames the first synapse sums. At module level for numba's
on-disk cache (see :mod:`._kernel_loops`)."""
import numpy as np
from numba import njit, prange

from ._kernel_loops import BLOCK, _clip, sat_max, sat_min


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
        _mlsn32_once(sr, f, bias, pr, rr, write_rec)  # merged one measured twice as slow)
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


@njit(cache=True, inline="always")
def _cuba32_one(u, v, a, ci, cv, bias, hi, th):
    # fixed.cuba_step of one neuron in float32 where lean.cuba32_ok holds (no wrap of u
    # acts, v saturated to +-hi after exact sums); a is the current << 6. Returns
    # (u, v, spike)
    u = _decay32(u, ci) + a
    v = _clip((_decay32(v, cv) + u) + bias, -hi, hi)
    spike = v > th
    return u, (np.float32(0.0) if spike else v), spike


@njit(cache=True)
def _cuba32(sr, ub, vb, bias, f, pr, rr, write_rec, first, keep):
    # _cuba32_one over a block: f as _mlsn32's (kernels.constants32); first: from the
    # reset state (u = v = 0); keep: the state is read again (not the last step).
    # pr is an array of its own: in place of sr (the same array passed twice, inlined)
    # it ran 14 against 8 ms on the stock CUBA conv net (T = 16, batch 64)
    scale, floor_a, ci, cv = np.float32(f[0]), f[1] != 0, f[2], f[3]
    th, lo, hi = np.float32(f[4]), np.float32(sat_min), np.float32(sat_max)
    one, zero = np.float32(1.0), np.float32(0.0)
    for j in range(sr.shape[0]):
        a = _current32(sr[j], scale, floor_a, lo, hi)  # a << 6
        u, v, spike = _cuba32_one(zero if first else ub[j], zero if first else vb[j], a,
                                  ci, cv, bias[j], hi, th)
        pr[j] = one if spike else zero
        if write_rec:
            rr[j] = 1 if spike else 0
        if keep:
            ub[j] = u
            vb[j] = v


@njit(cache=True)
def _job32(job, blocks, s, f, bias, pay, rec, write_rec, u_st, v_st, cuba):
    # one job of run32 (as _job of run); u_st, v_st [B, N] float32 when T > 1
    steps, n = s.shape[1], s.shape[2]
    b, j0 = job // blocks, (job % blocks) * BLOCK
    j1 = min(n, j0 + BLOCK)
    ub = u_st[b, j0:j1] if steps > 1 else u_st[0]
    vb = v_st[b, j0:j1] if steps > 1 else v_st[0]
    for t in range(steps):
        rr = rec[b, t, j0:j1] if write_rec else rec[0, 0, :0]
        if cuba:
            _cuba32(s[b, t, j0:j1], ub, vb, bias[j0:j1], f, pay[b, t, j0:j1], rr,
                    write_rec, t == 0, t + 1 < steps)
        else:
            _mlsn32(s[b, t, j0:j1], ub, vb, bias[j0:j1], f, pay[b, t, j0:j1], rr,
                    write_rec, t == 0, t + 1 < steps)


@njit(cache=True)
def _states32(s):
    # the float32 states of every job at once (an allocation per job costs as much as
    # a 1024-neuron step); T = 1 reads none
    rows, cols = (s.shape[0], s.shape[2]) if s.shape[1] > 1 else (1, 1)
    return np.zeros((rows, cols), dtype=np.float32), np.zeros((rows, cols), dtype=np.float32)


@njit(parallel=True, cache=True)
def run32(s, f, bias, pay, rec, write_rec, cuba):
    # the aligned run of one MLSN (or, cuba, CUBA) layer from reset: s [B, T, N] float32
    # exact sums, f the constants of _mlsn32, bias [N] float32 (bias << biasExp, exact),
    # pay [B, T, N] float32 (not s), rec [B, T, N] (any int type) when write_rec; jobs
    # as in run
    u_st, v_st = _states32(s)
    blocks = (s.shape[2] + BLOCK - 1) // BLOCK
    for job in prange(s.shape[0] * blocks):
        _job32(job, blocks, s, f, bias, pay, rec, write_rec, u_st, v_st, cuba)


@njit(cache=True)
def run32_serial(s, f, bias, pay, rec, write_rec, cuba):
    # run32 on the calling thread (as run_serial)
    u_st, v_st = _states32(s)
    blocks = (s.shape[2] + BLOCK - 1) // BLOCK
    for job in range(s.shape[0] * blocks):
        _job32(job, blocks, s, f, bias, pay, rec, write_rec, u_st, v_st, cuba)


@njit(cache=True, inline="always")
def _mlsn32_once(sr, f, bias, pr, rr, write_rec):
    # _mlsn32 at T = 1 (a single step from reset: no state) on one sample's float32
    # exact sums sr [N] into its payloads pr [N], which may be sr itself: passed as the
    # same array, LLVM vectorises the loop without a runtime alias check (two arrays that
    # overlap send it to its scalar loop)
    scale, floor_a = np.float32(f[0]), f[1] != 0
    th, levels = np.float32(f[4]), np.float32(f[5])
    dv0, lo, hi = np.float32(f[8]), np.float32(sat_min), np.float32(sat_max)
    for j in range(sr.shape[0]):
        u = _clip(_current32(sr[j], scale, floor_a, lo, hi), lo, hi)
        q = _level32(_clip(dv0 + u + bias[j], lo, hi), th, levels)
        pr[j] = q
        if write_rec:
            rr[j] = q


@njit(parallel=True, cache=True)
def run_mlsn32_once(s, f, bias, rec, write_rec):
    # run_mlsn32 at T = 1 in place: s [B, N] float32 sums -> payloads, rec [B, N] (a
    # [1, 1] stand-in without write_rec); a loop per sample instead of a job per block
    for b in prange(s.shape[0]):
        row = s[b]
        _mlsn32_once(row, f, bias, row, rec[min(np.int64(b), rec.shape[0] - 1)], write_rec)


@njit(cache=True)
def run_mlsn32_once_serial(s, f, bias, rec, write_rec):
    # run_mlsn32_once on the calling thread (as run_serial)
    for b in range(s.shape[0]):
        row = s[b]
        _mlsn32_once(row, f, bias, row, rec[min(np.int64(b), rec.shape[0] - 1)], write_rec)


@njit(cache=True)
def clip_frames32(x, levels, out, rec, write_rec):
    # fixed.input_payload (clip to [0, levels]) of integer frames x [F, C, P] into float32
    # out [F, P, C] (channels-last for C > 1; exact: levels < 2**24) and, when write_rec,
    # the same integers into rec [F, P, C] (any int type holding levels): one pass over
    # the data (int64, or its narrower stored type) instead of a conversion, a clip and
    # a copy into the record
    for f in range(x.shape[0]):
        for c in range(x.shape[1]):
            for j in range(x.shape[2]):
                v = min(max(x[f, c, j], 0), levels)
                out[f, j, c] = np.float32(v)
                if write_rec:
                    rec[f, j, c] = v


@njit(cache=True)
def timeline_cuba32(cur, mode, rec, f, bias):
    # _kernel_loops.timeline_cuba (the pipelined run's CUBA timeline) in float32 where
    # lean.cuba32_ok holds: cur [B, k, N] int64 currents (|a| < 2**23: exact), mode as
    # there, f as _cuba32's (its decay factors and threshold), bias [N] float32
    n_b, n_t, n = rec.shape
    nz = np.zeros(n_t, np.bool_)
    ci, cv, th = f[2], f[3], np.float32(f[4])
    hi, zero, scale = np.float32(sat_max), np.float32(0.0), np.float32(64.0)
    for b in range(n_b):
        u = np.zeros(n, np.float32)
        v = np.zeros(n, np.float32)
        for t in range(n_t):
            j = mode[t]
            if j == -2:  # the record holds zeros already
                continue
            row, out = cur[b, max(j, 0)], rec[b, t]
            spikes = 0
            for k in range(n):
                a = np.float32(row[k]) * scale if j >= 0 else zero
                u[k], v[k], spike = _cuba32_one(u[k], v[k], a, ci, cv, bias[k], hi, th)
                out[k] = 1 if spike else 0
                spikes += 1 if spike else 0
            if spikes:
                nz[t] = True
    return nz, np.int64(1) if nz.any() else np.int64(0)
