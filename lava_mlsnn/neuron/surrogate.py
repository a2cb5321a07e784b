"""Gradients of the multi-level floor ``z = clip(floor(v / theta), 0, N)``.

Forward passes are exact (integer levels); only the backward passes differ:

* ``LevelSTE`` -- clipped straight-through estimator (LSQ-style): ``dz/dv = 1/theta``
  and ``dz/dtheta = -v/theta**2`` while ``0 <= v <= N*theta``, zero outside. With
  the output ``y = theta * z`` this gives the clipped-ReLU gradient ``dy/dv = 1`` and
  the LSQ threshold gradient ``dy/dtheta = z - v/theta`` (``N`` when saturated).
* ``LevelSigmoid`` -- a staircase of ``N`` sigmoid surrogates, one per level edge
  ``k*theta`` (the multi-level generalisation of ATIF's binary surrogate).
"""
from __future__ import annotations

import torch


def _levels(v: torch.Tensor, theta: torch.Tensor, n: int) -> torch.Tensor:
    return torch.clamp(torch.floor(v / theta), 0, n)


class LevelSTE(torch.autograd.Function):
    """Clipped straight-through floor."""

    @staticmethod
    def forward(ctx, v: torch.Tensor, theta: torch.Tensor, n: int) -> torch.Tensor:
        ctx.save_for_backward(v, theta)
        ctx.n = n
        return _levels(v, theta, n)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        v, theta = ctx.saved_tensors
        inside = ((v >= 0) & (v <= ctx.n * theta)).to(grad.dtype)
        grad_v = grad * inside / theta
        grad_theta = (grad * inside * (-v / theta ** 2)).sum().reshape(theta.shape)
        return grad_v, grad_theta, None


class LevelSigmoid(torch.autograd.Function):
    """Floor with a staircase of sigmoid surrogates of sharpness ``alpha``."""

    @staticmethod
    def forward(ctx, v: torch.Tensor, theta: torch.Tensor, n: int, alpha: float) -> torch.Tensor:
        ctx.save_for_backward(v, theta)
        ctx.n, ctx.alpha = n, alpha
        return _levels(v, theta, n)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        v, theta = ctx.saved_tensors
        edges = torch.arange(1, ctx.n + 1, dtype=v.dtype, device=v.device)
        s = torch.sigmoid(ctx.alpha * (v.unsqueeze(-1) / theta - edges))
        dsig = (ctx.alpha * s * (1 - s)).sum(-1)  # d z / d (v / theta)
        grad_v = grad * dsig / theta
        grad_theta = (grad * dsig * (-v / theta ** 2)).sum().reshape(theta.shape)
        return grad_v, grad_theta, None, None


class LevelExp(torch.autograd.Function):
    """Floor with lava-dl's exponential spike surrogate at each level edge."""

    @staticmethod
    def forward(ctx, v: torch.Tensor, theta: torch.Tensor, n: int, tau_grad: float,
                scale_grad: float) -> torch.Tensor:
        ctx.save_for_backward(v, theta)
        ctx.n, ctx.tau_grad, ctx.scale_grad = n, tau_grad, scale_grad
        return _levels(v, theta, n)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        v, theta = ctx.saved_tensors
        edges = torch.arange(1, ctx.n + 1, dtype=v.dtype, device=v.device)
        tau = ctx.tau_grad * theta
        g = ctx.scale_grad / (2 * tau) * torch.exp(-(v.unsqueeze(-1) - edges * theta).abs()
                                                   / tau)
        grad_v = grad * g.sum(-1)
        # z steps up at v = k * theta: d z / d theta = -k * (the edge's surrogate)
        grad_theta = (grad * -(g * edges).sum(-1)).sum().reshape(theta.shape)
        return grad_v, grad_theta, None, None, None


def multilevel_floor(v: torch.Tensor, theta: torch.Tensor, levels: int,
                     surrogate: str = "ste", alpha: float = 4.0, tau_grad: float = 1.0,
                     scale_grad: float = 1.0) -> torch.Tensor:
    """Integer level ``clip(floor(v / theta), 0, levels)`` with a training gradient.

    Parameters
    ----------
    v : tensor, any shape
        Membrane potential (real units).
    theta : tensor, shape ``()`` or ``(1,)``
        Threshold (real units, > 0).
    levels : int
        N, the largest level.
    surrogate : {'ste', 'sigmoid', 'exp'}
    alpha : float
        Sharpness of the sigmoid staircase.
    tau_grad, scale_grad : float
        Width (in thresholds) and height of the ``'exp'`` surrogate (lava-dl's).
    """
    if surrogate == "ste":
        return LevelSTE.apply(v, theta, levels)
    if surrogate == "sigmoid":
        return LevelSigmoid.apply(v, theta, levels, alpha)
    if surrogate == "exp":
        return LevelExp.apply(v, theta, levels, tau_grad, scale_grad)
    raise ValueError(f"unknown surrogate {surrogate!r} (expected 'ste', 'sigmoid' or 'exp')")


class StraightThrough(torch.autograd.Function):
    """Forward ``f(x)`` computed by the caller; backward passes the gradient unchanged."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return y.detach().clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad, None
