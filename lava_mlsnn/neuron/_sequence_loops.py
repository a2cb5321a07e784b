"""The compiled loops of :mod:`.sequence` (numba), at module level: numba's on-disk cache
keys a function by its code and closure, and a closure holding other compiled functions
never matches across processes (it compiled again, ~15 s, in every training process).
Import it only after :func:`lava_mlsnn.neuron.sequence._compile` has chosen the
fork-safe threading layer."""
import numpy as np
from numba import njit, prange


@njit(cache=True, fastmath=False, inline="always", error_model="numpy")
def step(u, v, x, s, c, direct):
    # One step of one neuron, the reference's float operations in its order (c in x's
    # dtype: every operation stays in that dtype, as torch's do). Returns u, the
    # membrane before the reset, the level, the membrane after it.
    theta, top, a_u, a_v, zero = c[0], c[1], c[2], c[3], c[4]
    u = x if direct else u * a_u + x
    w = v * a_v + u + s
    q = np.floor(w / theta)
    q = zero if q < zero else q  # NaN stays NaN, as in torch.clamp
    q = top if q > top else q
    return u, w, q, w - q * theta

@njit(cache=True, inline="always")
def spread(a, div, mod, i0, out):
    # out[j] = a[((i0 + j) // div) % mod], the operand of neurons i0.. of a chunk, as
    # runs of one value (one run for a single value, one per channel per sample): an
    # integer division per neuron cost more than the neuron's whole step at T = 1
    idx = (i0 // div) % mod
    rem = i0 % div
    j = 0
    while j < out.shape[0]:
        seg = out[j:]  # slices: an index from 0 up lets LLVM vectorise the copies
        if div == 1 and mod > 1:  # one value per neuron: a run of a, up to its end
            run = min(mod - idx, seg.shape[0])
            src = a[idx:idx + run]
            for k in range(run):
                seg[k] = src[k]
            idx = 0
        else:  # one value for a run of neurons (a single value: all of them)
            run = seg.shape[0] if mod == 1 else min(div - rem, seg.shape[0])
            value = a[idx]
            for k in range(run):
                seg[k] = value
            rem = 0
            idx = 0 if idx + 1 == mod else idx + 1
        j += run

@njit(cache=True, inline="always")
def total8(a):
    # float64 sum of a in 8 interleaved partial sums, in a fixed order: one running
    # sum is a chain of dependent additions (its latency, not the SIMD width, set
    # the pace at T = 1); exact for integers, and it repeats bit for bit
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0  # registers, not an array in memory
    n8 = a.shape[0] - a.shape[0] % 8
    for j in range(0, n8, 8):
        s0 += a[j]
        s1 += a[j + 1]
        s2 += a[j + 2]
        s3 += a[j + 3]
        s4 += a[j + 4]
        s5 += a[j + 5]
        s6 += a[j + 6]
        s7 += a[j + 7]
    for j in range(n8, a.shape[0]):
        s0 += a[j]
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))

@njit(cache=True, fastmath={"reassoc"})
def total_exact(a):
    # float64 sum of integer values (levels): exact in any order below 2**53, NaN
    # staying NaN, so the additions may be regrouped across SIMD lanes (reassoc): the
    # same bits as total8's fixed order, without its chain of scalar conversions
    s = 0.0
    for j in range(a.shape[0]):
        s += a[j]
    return s

@njit(parallel=True, cache=True, fastmath=False, error_model="numpy")
def forward(x, steps, width, shift, s_div, s_mod, u0, u_div, u_mod, v0, v_div, v_mod, c,
            direct, keep, chunk, y, u_end, v_end):
    # x, y: [S, T, K] time-first (K = width neurons of a sample, contiguous): each
    # step runs across a chunk's neurons, contiguous in memory (SIMD lanes over
    # independent chains), time the outer loop; the chunk's state stays in
    # cache-sized buffers (u_end, v_end [S * K] get the final state only when
    # ``keep``). Neuron i = s * K + k (flat over [N, *shape]); its operand a is
    # a[(i // div) % mod] (one value, per channel, per neuron). error_model="numpy":
    # a division has no Python-style zero check (a branch in the loop); by zero it
    # gives inf / NaN as torch's does. Returns the sum of z (exact in float64).
    theta, zero = c[0], c[4]
    flush = max(1, int(16777216.0 // max(c[1], 1.0)))  # steps whose z sum stays below 2**24
    per = (width + chunk - 1) // chunk  # chunks per sample
    total = 0.0
    for b in prange((x.shape[0] // (steps * width)) * per):
        s = b // per
        k0 = (b % per) * chunk
        n = min(width, k0 + chunk) - k0
        i0 = s * width + k0  # the chunk's first neuron
        base = s * steps * width + k0
        buf = np.empty(4 * n, dtype=x.dtype)  # the chunk's buffers, one allocation
        ub = buf[:n]
        vb = buf[n:2 * n]
        sb = buf[2 * n:3 * n]
        # each neuron's sum of z in x's dtype: integers, exact up to 2**24 (float32),
        # so added into the float64 total before they could reach it; with no
        # float64 in the step loop it runs at float32's SIMD width
        qs = buf[3 * n:]
        qs[:] = zero
        spread(u0, u_div, u_mod, i0, ub)
        spread(v0, v_div, v_mod, i0, vb)
        spread(shift, s_div, s_mod, i0, sb)
        acc = 0.0
        for t in range(steps):
            o = base + t * width
            # rows as slices: an index known to lie in [0, n) lets LLVM vectorise
            # (an offset index o + j, possibly negative, kept the loop scalar)
            xr, yr = x[o:o + n], y[o:o + n]
            for j in range(n):
                ub[j], _, q, vb[j] = step(ub[j], vb[j], xr[j], sb[j], c, direct)
                yr[j] = q * theta
                qs[j] += q
            if (t + 1) % flush == 0 or t == steps - 1:
                acc += total_exact(qs)
                qs[:] = zero
        if keep:
            for j in range(n):
                u_end[i0 + j] = ub[j]
                v_end[i0 + j] = vb[j]
        total += acc
    return total

@njit(parallel=True, cache=True, fastmath=False, error_model="numpy")
def backward(x, steps, width, shift, s_div, s_mod, u0, u_div, u_mod, v0, v_div, v_mod, gy,
             gy_step, g_mean, gu_end, gu_step, gv_end, gv_step, c, direct, sigmoid, levels,
             need, chunk, gx, gshift, gu0, gv0):
    # x, gy, gx: [S, T, K] time-first, as the forward. Each chunk first replays its
    # forward (same function, same bits) into [t, neuron] buffers that stay in
    # cache: nothing but the input is kept between the two passes.
    # c = [theta, levels, 1 - current_decay, 1 - voltage_decay, 0, 1, N * theta, alpha];
    # g_mean: the rate's gradient per z. gv: the gradient reaching v after step t's
    # reset (at the end: v0's); gc: the one reaching u_t from later steps.
    # need = (shift, u0, v0 per neuron, theta, v0's sum): which of gshift, gu0, gv0
    # [S * K] to write, and which of the two sums to take (a sum not wanted is 0).
    # Returns the threshold's gradient and the sum of v0's (float64 over chunks).
    theta, a_u, a_v, zero, one, top_v, alpha = c[0], c[2], c[3], c[4], c[5], c[6], c[7]
    inv = one / theta  # gradients need no exact quotient: a product is cheaper
    inv2 = inv * inv
    per = (width + chunk - 1) // chunk
    chunks = (x.shape[0] // (steps * width)) * per
    # Per-chunk sums added in chunk order afterwards: a prange reduction would add
    # them in the order threads finish, and training would not repeat bit for bit.
    parts = np.zeros(chunks)
    parts_v0 = np.zeros(chunks)
    for b in prange(chunks):
        s = b // per
        k0 = (b % per) * chunk
        n = min(width, k0 + chunk) - k0
        i0 = s * width + k0
        base = s * steps * width + k0
        # the chunk's buffers, one allocation (per chunk, nine cost as much as the
        # arithmetic of a one-step chunk)
        buf = np.empty((2 * steps + 8) * n, dtype=x.dtype)
        wb = buf[:steps * n]  # [t, neuron]: v before the reset
        z = buf[steps * n:2 * steps * n]
        rows = 2 * steps * n
        ub = buf[rows:rows + n]
        gv = buf[rows + n:rows + 2 * n]
        gc = buf[rows + 2 * n:rows + 3 * n]
        d = buf[rows + 3 * n:rows + 4 * n]
        sb = buf[rows + 4 * n:rows + 5 * n]
        th = buf[rows + 5 * n:rows + 6 * n]  # each neuron's part of the threshold's gradient
        gs = buf[rows + 6 * n:rows + 7 * n]
        gyc = buf[rows + 7 * n:rows + 8 * n]  # one value expanded: its row
        gyc[:] = gy[0]
        spread(u0, u_div, u_mod, i0, ub)  # the replay's state
        spread(v0, v_div, v_mod, i0, gv)
        spread(shift, s_div, s_mod, i0, sb)
        for t in range(steps):
            o, ob = base + t * width, t * n
            xr, wr, zr = x[o:o + n], wb[ob:ob + n], z[ob:ob + n]
            for j in range(n):
                ub[j], wr[j], zr[j], gv[j] = step(ub[j], gv[j], xr[j], sb[j], c, direct)
        # the final state's gradients: per neuron, or none (step 0: zero)
        spread(gv_end, 1, gv_end.shape[0], i0 * gv_step, gv)
        spread(gu_end, 1, gu_end.shape[0], i0 * gu_step, gc)
        gs[:] = zero
        th[:] = zero
        for t in range(steps - 1, -1, -1):
            o, ob = base + t * width, t * n
            wr, zr, gxr = wb[ob:ob + n], z[ob:ob + n], gx[o:o + n]
            gyr = gy[o:o + n] if gy_step else gyc
            last = t == steps - 1
            # a driven current (direct) carries nothing back into u before its last
            # step, and at it one value (u_T's gradient, when one value or none);
            # with the clipped STE and no shift gradient, the slope is taken in the
            # loop: fewer arrays, and LLVM vectorises it
            fused = direct and not sigmoid and not need[0] and (not last or gu_step == 0)
            # u_T's gradient at the last step; -0 elsewhere: x + (-0) is x, -0 included
            carry = gu_end[0] if last else -zero
            if sigmoid:  # the surrogate's slope apart: the main loop has no branch
                for j in range(n):
                    r = wr[j] * inv
                    dj = zero
                    edge = zero
                    for _ in range(levels):  # edges k * theta, k = 1..N, in x's dtype
                        edge += one
                        sg = one / (one + np.exp(-(alpha * (r - edge))))
                        dj += alpha * sg * (one - sg)
                    d[j] = dj
            elif not fused:
                for j in range(n):
                    w = wr[j]
                    d[j] = one if (w >= zero) & (w <= top_v) else zero
            if fused:
                for j in range(n):
                    w = wr[j]
                    q = zr[j]
                    gyk = gyr[j]
                    gvj = gv[j]
                    dj = one if (w >= zero) & (w <= top_v) else zero
                    g = gyk * theta + g_mean + (-gvj) * theta
                    gd = g * dj
                    th[j] += gd * (-w * inv2) + (gyk - gvj) * q
                    gvp = gvj + gd * inv
                    gxr[j] = gvp + carry
                    gv[j] = gvp * a_v
                if last:
                    gc[:] = zero  # a driven current: nothing carried back to u0
            elif direct and not last:  # no carry into u: gc neither read nor written
                for j in range(n):
                    w = wr[j]
                    q = zr[j]
                    gyk = gyr[j]
                    gvj = gv[j]
                    g = gyk * theta + g_mean + (-gvj) * theta
                    gd = g * d[j]
                    th[j] += gd * (-w * inv2) + (gyk - gvj) * q
                    gvp = gvj + gd * inv
                    gs[j] += gvp
                    gxr[j] = gvp
                    gv[j] = gvp * a_v
            else:
                for j in range(n):
                    w = wr[j]
                    q = zr[j]
                    gyk = gyr[j]
                    gvj = gv[j]
                    # z_t feeds the output theta * z_t, the mean and the reset -z_t * theta
                    g = gyk * theta + g_mean + (-gvj) * theta
                    gd = g * d[j]
                    th[j] += gd * (-w * inv2) + (gyk - gvj) * q
                    gvp = gvj + gd * inv  # d loss / d v_t before the reset
                    gs[j] += gvp
                    # at the last step u_T's gradient added (a driven current's only carry)
                    gxk = gvp + gc[j]
                    gxr[j] = gxk
                    gc[j] = zero if direct else gxk * a_u
                    gv[j] = gvp * a_v
        if need[0]:
            gshift[i0:i0 + n] = gs
        if need[1]:
            gu0[i0:i0 + n] = gc
        if need[2]:
            gv0[i0:i0 + n] = gv
        # the sums are the costliest part of a one-step chunk (a scalar conversion to
        # float64 per neuron): taken only when wanted
        if need[3]:
            parts[b] = total8(th)
        if need[4]:
            parts_v0[b] = total8(gv)
    total, total_v0 = 0.0, 0.0
    for b in range(parts.shape[0]):
        total += parts[b]
        total_v0 += parts_v0[b]
    return total, total_v0
