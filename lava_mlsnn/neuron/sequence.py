"""The multi-level neuron's whole time loop as one autograd function (CPU).

:class:`lava_mlsnn.neuron.multilevel.Neuron` written step by step
(:func:`multilevel.dynamics`, then ``theta * z`` and the rate) builds an autograd
graph of ~10 tensor operations per time step forward and ~20 backward, each a pass
over ``[N, *shape]`` and, on a loaded machine, a thread-pool wake-up: at T = 8 the
neuron cost 15-50x the conv synapse that feeds it. Here the forward and
a hand-written backward each run as one compiled loop (numba, ``parallel=True``)
that also produces the wire value ``theta * z`` and the mean level, so a layer
costs a few passes over its current whatever ``T`` is.

Layout: the kernels work time-first, ``[N, T, *shape]`` (each step's neurons of a
sample contiguous, so every step runs across SIMD lanes of independent neurons).
A time-last current is transposed once on the way in (:func:`_time_first`); the
outputs and the input gradient are time-first tensors seen as ``[N, *shape, T]``
(views), so a frame-wise conv before or after needs no copy.

Same answers: the forward performs the reference's float operations in the same
order (``z`` and ``theta * z`` identical bit for bit); the backward is the chain
rule of the same graph (the clipped STE or the sigmoid staircase of
:mod:`.surrogate`, the reset's ``-z * theta``, the decays, the output's
``theta * z`` and the rate's mean), equal to autograd's gradients up to float
rounding (the order of the sums; products by ``1 / theta`` where autograd divides).
The backward replays each chunk's forward (the same ``step``, the same bits) in
cache rather than keeping every step's membrane: the graph holds only the input.
``tests/test_neuron_sequence.py`` checks all of it against the step-by-step loop.

Used when numba imports, the tensors are float32/float64 on the CPU, T >= 2 or
the layer is large (``MIN_NEURONS_ONE_STEP``) and no membrane quantizer is set (:func:`applies`); otherwise the neuron runs the
reference loop :func:`multilevel.dynamics`.
"""
from __future__ import annotations

import contextlib
import os
from typing import Iterator, Optional, Tuple

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from .._quiet import start_method_kept

_KERNELS = None  # (forward, backward) once compiled; False when numba is missing
#: One step over fewer neurons runs the reference loop: its graph of a handful of
#: operations costs less than the kernels' fixed cost per call (about 0.1-0.3 ms on the
#: loaded 2 cores: 128 or 4096 neurons 0.36-0.41 ms against 0.62-0.68 ms forward +
#: backward). Over more neurons, and at T >= 2, the vectorised loop is faster (the
#: training-step benchmark's T = 1 block, 524 k neurons: 3.3 ms against 4.9 ms).
MIN_NEURONS_ONE_STEP = 16384
CHUNK_STEPS = 8192  # neuron-steps of a chunk: its buffers stay in a core's L1/L2 cache


def _compile():
    """Compile (or load from numba's cache) the two loops; ``False`` without numba."""
    global _KERNELS
    if _KERNELS is not None:
        return _KERNELS
    try:
        import numba
    except ImportError:  # the reference loop runs instead
        _KERNELS = False
        return _KERNELS
    if "NUMBA_THREADING_LAYER" not in os.environ:
        # Lava, DataLoader workers and DDP fork this process. numba's default layer on
        # Linux is GNU OpenMP, whose pool does not survive a fork: a forked child that
        # touches it waits forever. 'forksafe' picks TBB where installed, else numba's
        # own workqueue.
        numba.config.THREADING_LAYER = "forksafe"
    from . import _sequence_loops as loops  # compiled on first call, or from the cache
    _KERNELS = (loops.forward, loops.backward)  # step is inlined into both
    return _KERNELS


def _flat(t: torch.Tensor, shape: torch.Size, dtype: torch.dtype
          ) -> Tuple[np.ndarray, int, int]:
    """A per-neuron operand as ``(values, div, mod)``: neuron ``i`` (flat index over
    ``shape``, the neurons ``[N, *shape]``) reads ``values[(i // div) % mod]``; one value,
    one per channel (``(1, C, 1, ...)``) or, expanded, one per neuron."""
    values = t.detach().to(dtype)
    if t.numel() == 1:
        return values.reshape(1).contiguous().numpy(), 1, 1
    dims = (1,) * (len(shape) - t.dim()) + tuple(t.shape)
    if len(dims) > 1 and dims[0] == 1 and dims[1] == shape[1] \
            and all(d == 1 for d in dims[2:]):
        inner = int(np.prod(shape[2:], dtype=np.int64))
        return values.reshape(-1).contiguous().numpy(), inner, int(shape[1])
    return values.expand(shape).contiguous().reshape(-1).numpy(), 1, \
        int(np.prod(shape, dtype=np.int64))


def _operands(shift, u0, v0, shape: torch.Size, dtype: torch.dtype) -> list:
    """The kernels' ``(values, div, mod)`` of ``shift``, ``u0`` and ``v0``, flattened."""
    return [a for o in (shift, u0, v0) for a in _flat(o, shape, dtype)]


_NUMPY = {torch.float32: np.float32, torch.float64: np.float64}
_UNUSED: dict = {}  # per dtype: one zero, for the kernels' arguments they do not use


def _unused(dtype: torch.dtype) -> np.ndarray:
    """A one-element zero array of ``dtype`` that the kernels only read (a gradient
    that is ``None``, a final state that is not kept, an output that is not wanted)."""
    a = _UNUSED.get(dtype)
    if a is None:
        a = _UNUSED[dtype] = np.zeros(1, dtype=_NUMPY[dtype])
    return a


def _grad(g: Optional[torch.Tensor], dtype: torch.dtype, time_first: bool = False
          ) -> Tuple[np.ndarray, int]:
    """An incoming gradient as a flat array and its step (``None``: zero, step 0);
    ``time_first``: a sequence's ``[N, *shape, T]`` read in the kernels' layout
    (:func:`_time_first`)."""
    if g is None:
        return _unused(dtype), 0
    if g.numel() > 1 and not any(g.stride()):  # one value expanded (a sum's backward):
        return g.detach().to(dtype).reshape(-1)[:1].contiguous().numpy(), 0  # no copy
    g = g.detach().to(dtype)
    return (_time_first(g) if time_first else g.contiguous()).reshape(-1).numpy(), 1


def _time_first(x: torch.Tensor) -> torch.Tensor:
    """``[N, *shape, T]`` as a contiguous ``[N, T, *shape]``: each step's neurons of a
    sample contiguous (the kernels' SIMD lanes). No copy when ``x`` is already laid out
    so (a view of a time-first tensor, as this module returns and a frame-wise conv
    produces); otherwise one transposing copy, cheaper than transposing inside the
    kernels."""
    return x.movedim(-1, 1).contiguous()


def _reduce(g: torch.Tensor, like: torch.Tensor, needed: bool) -> Optional[torch.Tensor]:
    """A per-neuron gradient summed to the shape of the operand it belongs to."""
    if not needed:
        return None
    if like.numel() == 1:
        return g.sum().reshape(like.shape).to(like.dtype)
    return g.sum_to_size(like.shape).to(like.dtype)


@contextlib.contextmanager
def _parallel() -> Iterator[None]:
    """torch's thread count, and chunks handed out on demand: with the default static
    split a thread the OS has descheduled (a loaded machine) holds up the whole loop; on
    2 loaded cores that cost 4-8x. The multiprocessing start method stays unset if it
    was (numba's thread pool fixes it; Lava, imported later, sets its own)."""
    import numba
    with start_method_kept():
        numba.set_num_threads(max(1, min(torch.get_num_threads(),
                                         numba.config.NUMBA_NUM_THREADS)))
        old = numba.set_parallel_chunksize(4)
        try:
            yield
        finally:
            numba.set_parallel_chunksize(old)


def _chunk(steps: int) -> int:
    """Neurons per chunk: about ``CHUNK_STEPS`` neuron-steps, at least 64 neurons (a chunk
    lies within one sample: the last of a sample's chunks may be shorter)."""
    return max(64, CHUNK_STEPS // steps)


def _consts(cfg, theta: float, dtype: torch.dtype) -> np.ndarray:
    """The kernels' constants in ``dtype`` (``N * theta`` rounded as autograd's ``n * theta``:
    one product in ``dtype``, as numpy's scalar product of two values of that dtype)."""
    t = _NUMPY[dtype]
    top_v = t(cfg.levels) * t(theta)
    return np.array([theta, cfg.levels, 1 - cfg.current_decay, 1 - cfg.voltage_decay, 0.0,
                     1.0, top_v, cfg.alpha], dtype=t)


class MultiLevelSequence(torch.autograd.Function):
    """``(theta * z, mean(z))`` of the multi-level neuron over all steps, and the final
    state ``(u_T, v_T)`` when ``keep``."""

    @staticmethod
    def forward(ctx, x, shift, theta, u0, v0, cfg, keep):
        fwd, _ = _compile()
        ctx.set_materialize_grads(False)
        n_shape, steps, dtype = x.shape[:-1], x.shape[-1], x.dtype
        xt = _time_first(x.detach())  # [N, T, *shape]
        xs = xt.reshape(-1)
        operands = _operands(shift, u0, v0, n_shape, dtype)
        c = _consts(cfg, float(theta), dtype)
        y = torch.empty_like(xt)
        if keep:
            u_end, v_end = torch.empty(n_shape, dtype=dtype), torch.empty(n_shape, dtype=dtype)
            ends = (u_end.reshape(-1).numpy(), v_end.reshape(-1).numpy())
        else:  # the kernel writes no final state
            ends = (_unused(dtype), _unused(dtype))
        width = xs.numel() // (n_shape[0] * steps)
        with _parallel():
            z_sum = fwd(xs.numpy(), steps, width, *operands, c, cfg.current_decay >= 1.0,
                        bool(keep), _chunk(steps), y.reshape(-1).numpy(), *ends)
        ctx.save_for_backward(xs, shift, theta, u0, v0)
        # the backward reads the same operands: kept rather than flattened again (the
        # saved tensors still guard them against an in-place change)
        ctx.cfg, ctx.n_shape, ctx.steps, ctx.operands, ctx.c = cfg, n_shape, steps, operands, c
        mean = torch.tensor(z_sum / xs.numel(), dtype=dtype)
        # the time-first result seen as [N, *shape, T]: a view, no copy
        return (y.movedim(1, -1), mean) + ((u_end, v_end) if keep else ())

    @staticmethod
    @once_differentiable
    def backward(ctx, gy, g_mean, gu_end=None, gv_end=None):
        _, bwd = _compile()
        xs, shift, theta, u0, v0 = ctx.saved_tensors
        cfg, steps, n_shape, c, dtype = ctx.cfg, ctx.steps, ctx.n_shape, ctx.c, xs.dtype
        gy_a, gy_step = _grad(gy, dtype, time_first=True)
        (gu, gu_step), (gv, gv_step) = (_grad(g, dtype) for g in (gu_end, gv_end))
        gm = 0.0 if g_mean is None else float(g_mean) / xs.numel()
        gx = torch.empty_like(xs)
        need = ctx.needs_input_grad
        per_neuron_v0 = need[4] and v0.numel() > 1  # a single v0 takes the kernel's sum
        wanted = (need[1], need[3], per_neuron_v0)
        sums = (need[2], need[4] and not per_neuron_v0)  # theta's, a single v0's
        outs = [torch.empty(n_shape, dtype=dtype) if w else None for w in wanted]
        width = xs.numel() // (n_shape[0] * steps)
        with _parallel():
            g_theta, g_v0_sum = bwd(xs.numpy(), steps, width, *ctx.operands, gy_a, gy_step,
                                    c.dtype.type(gm), gu, gu_step, gv, gv_step, c,
                                    cfg.current_decay >= 1.0, cfg.surrogate == "sigmoid",
                                    cfg.levels, wanted + sums, _chunk(steps), gx.numpy(),
                                    *(_unused(dtype) if g is None else g.reshape(-1).numpy()
                                      for g in outs))
        g_shift, g_u0, g_v0 = outs
        if need[4] and not per_neuron_v0:
            g_v0 = torch.full((1,), g_v0_sum, dtype=dtype)
        gx = gx.reshape(n_shape[0], steps, *n_shape[1:]).movedim(1, -1)
        return (gx if need[0] else None,
                _reduce(g_shift, shift, need[1]),
                torch.full(theta.shape, g_theta, dtype=theta.dtype) if need[2] else None,
                _reduce(g_u0, u0, need[3]), _reduce(g_v0, v0, need[4]), None, None)


def applies(x: torch.Tensor, shift, theta: torch.Tensor, cfg, state, v_quant) -> bool:
    """Whether :func:`run` computes what the reference loop does for these operands."""
    if v_quant is not None or x.device.type != "cpu" or x.dtype not in (torch.float32,
                                                                        torch.float64):
        return False
    if cfg.surrogate not in ("ste", "sigmoid") or cfg.reset != "soft" or theta.numel() != 1 \
            or x.dim() < 2 \
            or x.numel() == 0:
        return False
    if x.shape[-1] == 1 and x.numel() < MIN_NEURONS_ONE_STEP:
        return False
    operands = [theta] + ([shift] if torch.is_tensor(shift) else []) + list(state or ())
    if any(not torch.is_tensor(a) or a.device != x.device or a.dtype != x.dtype
           for a in operands):
        return False
    neuron_shape = x.shape[:-1]
    try:  # every operand must broadcast to one value per neuron, as in the loop
        for a in operands[1:]:
            if torch.broadcast_shapes(a.shape, neuron_shape) != neuron_shape:
                return False
    except RuntimeError:
        return False
    return bool(_compile())


def run(x: torch.Tensor, shift, theta: torch.Tensor, cfg,
        state: Optional[Tuple[torch.Tensor, torch.Tensor]] = None, keep_state: bool = True
        ) -> Tuple[torch.Tensor, torch.Tensor, Optional[Tuple[torch.Tensor, torch.Tensor]]]:
    """The multi-level neuron over a current ``x`` ``[N, *shape, T]`` (check
    :func:`applies` first).

    Parameters are those of :func:`multilevel.dynamics`; ``keep_state=False`` skips the
    final state (``None`` is returned for it; two fewer ``[N, *shape]`` buffers).
    Returns ``theta * z`` (``[N, *shape, T]``, the wire value in training), the mean
    level ``z.mean()`` (a 0-d tensor) and the final state ``(u, v)``.
    """
    if state is None:
        u0 = x.new_zeros(1)
        v0 = (x.new_zeros(1) + cfg.v_init * theta).reshape(1)
    else:
        u0, v0 = state
    if not torch.is_tensor(shift):
        shift = x.new_full((1,), float(shift))
    out = MultiLevelSequence.apply(x, shift, theta, u0, v0, cfg, keep_state)
    return out[0], out[1], (tuple(out[2:]) if keep_state else None)
