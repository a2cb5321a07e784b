"""lava-dl's CUBA-LIF neuron over the whole time loop as one autograd function (CPU).

lava-dl's ``slayer.neuron.cuba.Neuron`` trains on the CPU through two Python loops
over time (``leaky_integrator._li_dynamics_fwd``: the current, then the voltage)
of ~10 int64 tensor operations per step each, and its backward is two more loops:
a Conv block's training step took 12-26x torch's conv forward + backward over the same
frames (``benchmarks/bench_training_step.py``, T = 1-16). Here the forward
and a hand-written backward each run as one compiled loop (numba, ``parallel=True``,
time-first ``[N, T, *shape]``, chunked: the layout, threading and chunking of
:mod:`.sequence`).

Same answers (``tests/test_cuba_sequence.py`` against stock lava-dl blocks):

* forward, bit for bit: the states are lava-dl's int64 integers scaled by
  ``s_scale`` (4096), the input scaled in float32 and truncated, the decays
  ``quantize``'d and applied as ``right_shift_to_zero(state * (4096 - decay), 12)``,
  the voltage reset where ``v >= (threshold + eps) * s_scale`` compared in float32 (as
  torch promotes an int64 tensor against a Python float), the spike where the float
  voltage ``>= threshold + eps``; graded spikes carry that voltage;
  ``persistent_state`` reads and stores lava-dl's state buffers as it does;
* backward, to float rounding: ``Spike``'s surrogate (``scale_rho / 2 / tau_rho *
  exp(-|v - th| / tau_rho)``, or the graded one) and each leaky integrator's
  recursion ``g[t] = (1 - decay / 4096) g[t + 1] + g_out[t]`` (lava-dl's reset
  carries no gradient), with its decay gradient ``sum(g[t + 1] * out[t])`` when the
  decays learn. Only ``exp`` (a vectorisable float64 one rounded to float32 here,
  torch's float32 one there: at most an ulp apart) and the order of the decay sums
  (float64 here) differ.

The graph keeps the voltage output (and the current's when the decays learn), as
lava-dl's does.
:func:`applies` says where this runs; elsewhere (a norm between current and voltage,
per-channel decays, CUDA, ...) the block calls the neuron, lava-dl's own path.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from .._quiet import quiet_import
from . import sequence

_slayer = quiet_import("lava.lib.dl.slayer")
_cuba = _slayer.neuron.cuba
_quantize = _slayer.utils.quantize
_KERNELS = None  # (forward, backward) once compiled; False when numba is missing


def _compile():
    """Compile (or load from numba's cache) the two loops; ``False`` without numba."""
    global _KERNELS
    if _KERNELS is None:
        if not sequence._compile():  # also picks the fork-safe threading layer
            _KERNELS = False
        else:
            from . import _cuba_loops as loops
            _KERNELS = (loops.forward, loops.backward)
    return _KERNELS


def _constants(neuron, scale: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The kernels' constants, each rounded as lava-dl's forward and backward round it.

    Returns ``c`` (forward floats), ``k`` (forward integers) and ``g`` (backward floats):
    see :func:`lava_mlsnn.neuron._cuba_loops.step` and ``backward``."""
    th = neuron.threshold + neuron.threshold_eps  # Python floats, as lava-dl adds them
    th_int = th * scale  # leaky_integrator: threshold *= w_scale
    c = np.array([scale, 1.0 / scale, th_int, th], dtype=np.float32)
    with torch.no_grad():
        d_i = _quantize(neuron.current_decay).reshape(1)
        d_v = _quantize(neuron.voltage_decay).reshape(1)
        k = np.array([(1 << 12) - int(d_i.to(torch.int64)), (1 << 12) - int(d_v.to(torch.int64)),
                      int(th_int > 0)], dtype=np.int64)
        thr = torch.tensor(th, dtype=torch.float32)
        tau = torch.tensor(neuron.tau_rho * _cuba.TAU_RHO_MULT, dtype=torch.float32)
        rho = torch.tensor(neuron.scale_rho * _cuba.SCALE_RHO_MULT, dtype=torch.float32)
        factor = rho / 2 / tau
        a_v, a_i = (1 - d / (1 << 12) for d in (d_v, d_i))  # _li_dynamics_bwd's decay
        g = torch.stack([thr, tau, rho, factor, a_v[0], a_i[0]]).numpy()
    return c, k, g


class CubaSequence(torch.autograd.Function):
    """The spikes ``[N, *shape, T]`` of lava-dl's CUBA neuron for a current ``x`` (and, when
    ``keep``, the states ``persistent_state`` stores: the last current and voltage)."""

    @staticmethod
    def forward(ctx, x, current_decay, voltage_decay, cur0, vol0, consts, graded, keep):
        fwd, _ = _compile()
        ctx.set_materialize_grads(False)
        n_shape, steps = x.shape[:-1], x.shape[-1]
        xs = sequence._time_first(x.detach()).reshape(-1)
        c, k, _ = consts
        y = torch.empty(n_shape[0], steps, *n_shape[1:], dtype=x.dtype)
        ends = [torch.empty(n_shape if keep else (1,), dtype=x.dtype) for _ in "cv"]
        state_step = int(cur0.numel() > 1)
        width = int(np.prod(n_shape[1:], dtype=np.int64))
        v_out = torch.empty_like(xs)
        learn = ctx.needs_input_grad[1] or ctx.needs_input_grad[2]
        c_out = torch.empty_like(xs) if learn else xs.new_empty(1)
        with sequence._parallel():
            fwd(xs.numpy(), steps, width, cur0.reshape(-1).numpy(), vol0.reshape(-1).numpy(),
                state_step, c, k, bool(graded), bool(keep), sequence._chunk(steps),
                y.reshape(-1).numpy(), *(e.reshape(-1).numpy() for e in ends), v_out.numpy(),
                c_out.numpy())
        ctx.save_for_backward(v_out, c_out)  # as lava-dl's graph keeps them
        ctx.consts, ctx.graded, ctx.n_shape, ctx.steps = consts, graded, n_shape, steps
        ctx.width = width
        ctx.decay_shapes = (current_decay.shape, voltage_decay.shape)
        y = y.movedim(1, -1)  # time-first, seen as [N, *shape, T]: a view
        return (y, *ends) if keep else y

    @staticmethod
    @once_differentiable
    def backward(ctx, gy, *_):
        _, bwd = _compile()
        v_out, c_out = ctx.saved_tensors
        need = ctx.needs_input_grad
        gy_a, gy_step = sequence._grad(gy, v_out.dtype, time_first=True)  # None: zeros
        _, _, g = ctx.consts
        gx = torch.empty_like(v_out)
        with sequence._parallel():
            g_v, g_i = bwd(v_out.numpy(), c_out.numpy(), ctx.steps, ctx.width, g,
                           bool(ctx.graded), gy_a, gy_step, sequence._chunk(ctx.steps),
                           gx.numpy())
        gx = gx.reshape(ctx.n_shape[0], ctx.steps, *ctx.n_shape[1:]).movedim(1, -1)
        g_cur = torch.full(ctx.decay_shapes[0], g_i, dtype=torch.float32) if need[1] else None
        g_vol = torch.full(ctx.decay_shapes[1], g_v, dtype=torch.float32) if need[2] else None
        return (gx if need[0] else None, g_cur, g_vol, None, None, None, None, None)


def _is_power_of_two(v: int) -> bool:
    return v > 0 and (v & (v - 1)) == 0


def neuron_applies(neuron: torch.nn.Module) -> bool:
    """Whether :func:`run` can stand for ``neuron``'s forward, whatever its input: a stock
    ``slayer.neuron.cuba.Neuron`` (no subclass overriding its steps) with shared decays
    (``shared_param=True``), no norm, ``debug`` off, a power-of-two state scale and
    float32 CPU parameters and states; learnable decays or not, graded spikes or not,
    ``persistent_state`` or not, dropout or not."""
    if not isinstance(neuron, _cuba.Neuron):
        return False
    cls = type(neuron)
    if any(getattr(cls, m) is not getattr(_cuba.Neuron, m)
           for m in ("forward", "dynamics", "spike", "clamp")):
        return False
    if neuron.norm is not None or not neuron.shared_param or neuron.debug \
            or getattr(neuron, "complex", False) or neuron.threshold is None:
        return False
    if not _is_power_of_two(neuron.s_scale) or neuron.p_scale != 1 << 12:
        return False
    decays = (neuron.current_decay, neuron.voltage_decay)
    if any(d.numel() != 1 or d.dtype != torch.float32 or d.device.type != "cpu"
           for d in decays):
        return False
    if neuron.current_state.dtype != torch.float32 or neuron.voltage_state.dtype != torch.float32:
        return False
    return bool(_compile())


def applies(neuron: torch.nn.Module, x: torch.Tensor) -> bool:
    """Whether :func:`run` computes what ``neuron(x)`` does for a current ``x``
    ``[N, *shape, T]``: :func:`neuron_applies`, and ``x`` a float32 CPU tensor with a batch
    axis and the neuron's shape (once it has one). No otherwise (lava-dl's path runs, or
    raises as it would)."""
    if x.device.type != "cpu" or x.dtype != torch.float32 or x.dim() < 3 or x.numel() == 0:
        return False
    if neuron.shape is not None and tuple(x.shape[1:-1]) != tuple(neuron.shape):
        return False
    return neuron_applies(neuron)


def _states(neuron, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """lava-dl's bookkeeping at the start of ``dynamics``: the neuron's shape on the first
    call, the state buffers sized to the batch, the decays clamped when they learn.
    Returns the states it would start from."""
    if neuron.shape is None:
        neuron.shape = x.shape[1:-1]
        neuron.num_neurons = np.prod(neuron.shape)
    dtype, device = neuron.current_state.dtype, neuron.current_state.device
    if neuron.current_state.shape[0] != x.shape[0]:
        neuron.current_state = torch.zeros(x.shape[:-1]).to(dtype).to(device)
        neuron.voltage_state = torch.zeros(x.shape[:-1]).to(dtype).to(device)
    if neuron.current_state.shape[1:] != neuron.shape:
        ones = torch.ones(x.shape[:-1]).to(dtype).to(device)
        neuron.current_state = neuron.current_state * ones
        neuron.voltage_state = neuron.voltage_state * ones
    if neuron.requires_grad is True:
        neuron.clamp()
    return (neuron.current_state.detach().contiguous(),
            neuron.voltage_state.detach().contiguous())


def run(neuron: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``neuron(x)`` of a lava-dl CUBA neuron for a current ``x`` ``[N, *shape, T]`` (check
    :func:`applies` first): the spikes ``[N, *shape, T]`` (a view of a time-first
    tensor), after the neuron's dropout; the neuron's state buffers updated as lava-dl
    updates them.
    """
    cur0, vol0 = _states(neuron, x)
    consts = _constants(neuron, neuron.s_scale)
    keep = neuron.persistent_state is True
    out = CubaSequence.apply(x, neuron.current_decay, neuron.voltage_decay, cur0, vol0, consts,
                             bool(neuron.graded_spike), keep)
    if keep:
        spike, cur_end, vol_end = out
        neuron.current_state = cur_end.detach().clone()
        neuron.voltage_state = vol_end.detach().clone()
    else:
        spike = out
    if neuron.drop is not None:
        spike = neuron.drop(spike)
    return spike
