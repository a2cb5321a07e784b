"""The compiled loops of :mod:`.cuba_sequence` (numba), at module level so that numba's
on-disk cache finds them in every process (as :mod:`._sequence_loops`). Import it only
after :func:`lava_mlsnn.neuron.sequence._compile` has chosen the fork-safe threading
layer."""
import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

_LOG2E = 1.4426950408889634
_LN2 = 0.6931471805599453
#: exp's Taylor coefficients 1 / k!, k = 2 .. 9: on |r| <= ln 2 / 2 the truncation
#: error is below 1e-11 relative, far under float32's rounding (6e-8)
_C2, _C3, _C4, _C5 = 1 / 2, 1 / 6, 1 / 24, 1 / 120
_C6, _C7, _C8, _C9 = 1 / 720, 1 / 5040, 1 / 40320, 1 / 362880


@intrinsic
def _as_float64(typingctx, bits):
    # the float64 whose IEEE bits are the int64 ``bits`` (a register reinterpretation)
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return sig, codegen


@njit(cache=True, inline="always", error_model="numpy")
def exp_nonpositive(x):
    # float32 exp(x) for x <= 0 (NaN stays NaN), computed in float64 and rounded once:
    # within half an ulp of float32 but for rare ties. A call to libm's expf per
    # element kept the backward scalar (numba vectorises no exp without Intel's SVML);
    # this one is plain arithmetic, which LLVM vectorises: 2**n from its bits, the
    # rest a polynomial. Below -110 the float32 result is 0 (exp(-104) already is).
    xd = np.float64(x)
    xd = -110.0 if xd < -110.0 else xd
    n = np.floor(xd * _LOG2E + 0.5)
    r = xd - n * _LN2
    p = ((((((((_C9 * r + _C8) * r + _C7) * r + _C6) * r + _C5) * r + _C4) * r + _C3) * r
          + _C2) * r + 1.0) * r + 1.0
    scale = _as_float64((np.int64(n) + 1023) << 52)
    out = np.float32(p * scale)
    return out if x == x else x


@njit(cache=True, inline="always")
def shift12(p):
    # lava-dl's right_shift_to_zero(p, 12): the magnitude shifted, the sign put back
    return (p >> 12) if p > 0 else -((-p) >> 12)


@njit(cache=True, fastmath=False, inline="always", error_model="numpy")
def step(ci, vi, x, c, k):
    # One step of one neuron as lava-dl's _li_dynamics_fwd computes it twice (current,
    # then voltage) and its Spike compares: integer states scaled by 4096, the float
    # input scaled and truncated (float32 product, .to(int64)), comparisons of an
    # int64 with a Python float done in float32 (torch's promotion), outputs divided
    # by 4096 (a multiplication by its exact reciprocal: the same bits).
    # c = [4096, 1 / 4096, threshold * 4096, threshold] (float32);
    # k = [4096 - iDecay, 4096 - vDecay, reset] (int64). Returns the new states, the
    # current output, the voltage output (before the reset) and whether v >= threshold.
    scale, inv, th_int, th = c[0], c[1], c[2], c[3]
    ci = shift12(ci * k[0]) + np.int64(x * scale)
    cf = np.float32(ci) * inv
    w = shift12(vi * k[1]) + np.int64(cf * scale)
    wf = np.float32(w)
    vi = np.int64(0) if (k[2] != 0) & (wf >= th_int) else w
    vf = wf * inv
    return ci, vi, cf, vf, vf >= th


@njit(cache=True, inline="always")
def load_state(state, step_, i0, buf, c):
    # (state * w_scale).to(int64) of lava-dl's forward, per neuron of a chunk; a zero
    # step reads one value for every neuron
    scale = c[0]
    for j in range(buf.shape[0]):
        buf[j] = np.int64(state[(i0 + j) * step_] * scale)


@njit(parallel=True, cache=True, fastmath=False, error_model="numpy")
def forward(x, steps, width, cur0, vol0, state_step, c, k, graded, keep, chunk, y,
            cur_end, vol_end, v_out, c_out):
    # x, y: [S, T, K] time-first (K = width neurons of a sample): each step runs across
    # a chunk's neurons, contiguous in memory (SIMD lanes), time the outer loop.
    # cur0, vol0: lava-dl's state buffers (state_step 0: one value for all).
    # cur_end, vol_end [S * K], when keep: what persistent_state stores, the last
    # current and the last voltage zeroed where the neuron spiked. v_out, c_out: the
    # voltage and current outputs, [S, T, K] as x, for the backward (c_out only where
    # its size is x's: the decays learn).
    one, zero = np.float32(1.0), np.float32(0.0)
    per = (width + chunk - 1) // chunk
    for b in prange((x.shape[0] // (steps * width)) * per):
        s = b // per
        k0 = (b % per) * chunk
        n = min(width, k0 + chunk) - k0
        i0 = s * width + k0
        base = s * steps * width + k0
        cb = np.empty(n, dtype=np.int64)
        vb = np.empty(n, dtype=np.int64)
        load_state(cur0, state_step, i0, cb, c)
        load_state(vol0, state_step, i0, vb, c)
        cl = np.empty(n, dtype=np.float32)  # the current output, when nowhere else kept
        save_c = c_out.shape[0] == x.shape[0]
        for t in range(steps):
            o = base + t * width
            xr, yr, vr = x[o:o + n], y[o:o + n], v_out[o:o + n]
            cr = c_out[o:o + n] if save_c else cl
            # few arrays per loop and no branch in it: LLVM vectorises a loop only when
            # a few comparisons prove its arrays apart (this split halved the forward)
            if save_c or (keep and t == steps - 1):
                for j in range(n):
                    cb[j], vb[j], cf, vf, fired = step(cb[j], vb[j], xr[j], c, k)
                    sp = one if fired else zero
                    yr[j] = sp * (vf if graded else one)  # (v >= th) * v when graded
                    vr[j] = vf
                    cr[j] = cf
            else:
                for j in range(n):
                    cb[j], vb[j], _, vf, fired = step(cb[j], vb[j], xr[j], c, k)
                    sp = one if fired else zero
                    yr[j] = sp * (vf if graded else one)
                    vr[j] = vf
        if keep:
            o = base + (steps - 1) * width
            cr, yr, vr = (c_out[o:o + n] if save_c else cl), y[o:o + n], v_out[o:o + n]
            for j in range(n):
                cur_end[i0 + j] = cr[j]
                vol_end[i0 + j] = vr[j] * (one - (one if yr[j] > zero else zero))


@njit(parallel=True, cache=True, fastmath=False, error_model="numpy")
def backward(v_out, c_out, steps, width, g, graded, gy, gy_step, chunk, gx):
    # lava-dl's backward from the forward's voltage (and, when the decays learn,
    # current) outputs, [S, T, K] as gx, chunk by chunk: the surrogate of Spike
    # on the voltage output, and each leaky integrator's gradient recursion
    # grad_in[t] = decay * grad_in[t + 1] + grad_out[t] (its reset carries no
    # gradient). g = [threshold, tau_rho, scale_rho, the surrogate's factor
    # scale_rho / 2 / tau_rho, 1 - vDecay / 4096, 1 - iDecay / 4096] (float32).
    # Returns the decays' gradients as lava-dl defines them: the sums of
    # grad_in[t + 1] * output[t] (float64 over the chunks, in chunk order).
    th, tau, rho, factor, a_v, a_i = g[0], g[1], g[2], g[3], g[4], g[5]
    zero = np.float32(0.0)
    per = (width + chunk - 1) // chunk
    chunks = (v_out.shape[0] // (steps * width)) * per
    need_decay = c_out.shape[0] == v_out.shape[0]
    parts_v = np.zeros(chunks)
    parts_i = np.zeros(chunks)
    for b in prange(chunks):
        s = b // per
        k0 = (b % per) * chunk
        n = min(width, k0 + chunk) - k0
        base = s * steps * width + k0
        gv = np.zeros(n, dtype=np.float32)  # d loss / d (voltage input) at t + 1
        gc = np.zeros(n, dtype=np.float32)  # d loss / d (current input) at t + 1
        dv = np.zeros(n)
        di = np.zeros(n)
        gyc = np.full(n, gy[0])  # one value expanded (a sum's backward): its row
        gs = np.empty(n, dtype=np.float32)  # d loss / d (voltage output) at t
        for t in range(steps - 1, -1, -1):
            o = base + t * width
            vr, gxr = v_out[o:o + n], gx[o:o + n]
            gyr = gy[o:o + n] if gy_step else gyc
            # one branch-free loop per part, over few arrays, so that each runs across
            # SIMD lanes
            if graded:
                for j in range(n):
                    d = vr[j] - th
                    d = zero if d > zero else d  # clamp(max=0); NaN stays NaN
                    gs[j] = (rho * exp_nonpositive(d / tau)) * gyr[j]
            else:
                for j in range(n):
                    gs[j] = (factor * exp_nonpositive(-np.abs(vr[j] - th) / tau)) * gyr[j]
            if t == steps - 1:  # lava-dl starts each recursion at the last step's gradient
                for j in range(n):
                    gv[j] = gs[j]
                    gc[j] = gs[j]
                    gxr[j] = gs[j]
                continue
            if need_decay:
                cr = c_out[o:o + n]
                for j in range(n):
                    di[j] += np.float64(gc[j] * cr[j])
            for j in range(n):  # apart: few arrays per loop (as the forward's)
                dv[j] += np.float64(gv[j] * vr[j])
            for j in range(n):
                gvj = a_v * gv[j] + gs[j]
                gcj = a_i * gc[j] + gvj
                gv[j] = gvj
                gc[j] = gcj
                gxr[j] = gcj
        sv = 0.0
        si = 0.0
        for j in range(n):
            sv += dv[j]
            si += di[j]
        parts_v[b] = sv
        parts_i[b] = si
    total_v, total_i = 0.0, 0.0
    for b in range(chunks):
        total_v += parts_v[b]
        total_i += parts_i[b]
    return total_v, total_i
