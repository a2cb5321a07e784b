"""Multi-level spiking neuron (Castagnetti et al. 2025) with SLAYER's neuron interface.

Integrate-and-fire (optionally leaky, optionally with a current state) with soft
reset: at each step the neuron emits an integer level ``z in {0..N}`` and subtracts
``z * theta`` from its membrane. Training passes ``theta * z`` on; at export
``theta`` folds into the next layer's weights so the wire carries ``z``
(:mod:`lava_mlsnn.block`). In quantized mode the neuron runs
:func:`lava_mlsnn.fixed.mlsn_step` itself.

The functional core :func:`dynamics` takes and returns the state explicitly
(Norse style); :class:`Neuron` is the thin module around it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import torch
from lava.lib.dl.slayer.neuron import base

from .. import fixed
from . import sequence
from .norm import NormInputMixin
from .surrogate import multilevel_floor


@dataclass(frozen=True)
class MultiLevelConfig:
    """Static parameters of a multi-level layer (decays as fractions per step)."""

    levels: int = 1
    current_decay: float = 1.0  # 1: the current does not persist (IF driven directly)
    voltage_decay: float = 0.0  # 0: no leak (IF)
    v_init: float = 0.5  # initial membrane, in thresholds (0.5: round to nearest)
    surrogate: str = "ste"
    alpha: float = 4.0
    tau_grad: float = 1.0  # 'exp' surrogate (lava-dl's): width in thresholds
    scale_grad: float = 1.0  # 'exp' surrogate: height
    reset: str = "soft"  # fixed.RESET_RULES: soft, or snnTorch's subtract (one level)


def dynamics(x: torch.Tensor, shift: torch.Tensor | float, theta: torch.Tensor,
             cfg: MultiLevelConfig, state: Optional[Tuple[torch.Tensor, torch.Tensor]] = None,
             v_quant=None) -> Tuple[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
    """Run the multi-level neuron over time (real units).

    Parameters
    ----------
    x : tensor ``[N, *shape, T]``
        Synaptic current per step.
    shift : tensor broadcastable to ``[N, *shape]`` or float
        Bias added to the membrane each step.
    theta : tensor ``(1,)``
        Threshold (> 0).
    cfg : MultiLevelConfig
    state : (u, v), optional
        Initial state; default ``u = 0``, ``v = v_init * theta``.
    v_quant : callable, optional
        Membrane quantizer applied after the reset (``(v, theta) -> v``).

    Returns
    -------
    z : tensor ``[N, *shape, T]`` of integer levels (float dtype)
    (u, v) : the final state
    """
    if state is None:
        u = torch.zeros_like(x[..., 0])
        v = torch.zeros_like(x[..., 0]) + cfg.v_init * theta
    else:
        u, v = state
    zs = []
    for t in range(x.shape[-1]):
        u = x[..., t] if cfg.current_decay >= 1.0 else u * (1 - cfg.current_decay) + x[..., t]
        r = (v > theta).to(v.dtype).detach()  # snnTorch's reset, read from the stored v
        v = v * (1 - cfg.voltage_decay) + u + shift
        if cfg.reset == "snntorch_zero_delay":  # the step after a stored spike is zeroed
            v = v * (1 - r)
        if cfg.reset == "snntorch_delay":  # fixed.mlsn_step: the stored spike's reset now
            v = v - r * theta
        z = multilevel_floor(v - r * theta if cfg.reset == "snntorch" else v, theta,
                             cfg.levels, cfg.surrogate, cfg.alpha, cfg.tau_grad,
                             cfg.scale_grad)
        if cfg.reset not in ("snntorch_delay", "snntorch_zero_delay"):
            v = v - z * theta
        if v_quant is not None:
            v = v_quant(v, theta)
        zs.append(z)
    return torch.stack(zs, dim=-1), (u, v)


def decay_int(fraction: float) -> int:
    """A decay fraction per step as Loihi's 12-bit integer (x 4096)."""
    return int(round(min(max(fraction, 0.0), 1.0) * fixed.DECAY_ONE))


class Neuron(NormInputMixin, base.Neuron):
    """Multi-level IF/LIF neuron with a learnable per-layer threshold.

    Parameters
    ----------
    threshold : float
        Initial threshold theta (real units).
    levels : int
        N >= 1; N = 1 is a binary neuron.
    current_decay, voltage_decay : float
        Decay fractions per step in [0, 1] (quantized to 1/4096 at export).
    v_init : float
        Membrane at the start of a sample, in thresholds (0 or 0.5).
    surrogate : {'ste', 'sigmoid', 'exp'}
        Training gradient of the level floor (:mod:`lava_mlsnn.neuron.surrogate`);
        ``'exp'`` is lava-dl SLAYER's spike surrogate at every level edge.
    alpha : float
        Sharpness of the sigmoid staircase surrogate.
    tau_grad, scale_grad : float
        Width (in thresholds) and height of the ``'exp'`` surrogate, as lava-dl's
        ``tau_grad`` and ``scale_grad`` (only with ``surrogate='exp'``).
    learn_threshold : bool
    norm : callable, optional
        Factory of a :class:`lava_mlsnn.neuron.norm.BatchNorm` (applied to the input).
    dropout : torch.nn.Module, optional
    persistent_state : bool
        Keep (u, v) across forward calls (streaming).
    shared_param : bool
        ``True`` only: one threshold and one pair of decays per layer.
    membrane : torch.nn.Module, optional
        Membrane quantizer (:mod:`lava_mlsnn.quant.membrane`), applied after reset.
    reset : {'soft', 'snntorch', 'snntorch_delay', 'snntorch_zero_delay'}
        Soft reset, or snnTorch's ``reset_mechanism='subtract'`` with ``reset_delay``
        False / True, or its ``Synaptic`` with ``'zero'`` and ``reset_delay=True`` (one
        level; DESIGN §5): the reset is read from the stored membrane.
    """

    def __init__(self, threshold: float = 1.0, levels: int = 1, current_decay: float = 1.0,
                 voltage_decay: float = 0.0, v_init: float = 0.5, surrogate: str = "ste",
                 alpha: float = 4.0, learn_threshold: bool = True, norm=None, dropout=None,
                 persistent_state: bool = False, shared_param: bool = True,
                 membrane: Optional[torch.nn.Module] = None, tau_grad: float = 1.0,
                 scale_grad: float = 1.0, reset: str = "soft"):
        super().__init__(threshold=threshold, w_scale=1 << 6, s_scale=1 << 12, norm=norm,
                         dropout=dropout, persistent_state=persistent_state,
                         shared_param=shared_param, requires_grad=False)
        if levels < 1:
            raise ValueError(f"levels must be >= 1, got {levels}")
        if threshold <= 0:
            raise ValueError(f"threshold must be > 0, got {threshold}")
        if not shared_param:
            raise ValueError("shared_param=False (per-channel parameters) is not supported")
        if surrogate != "exp" and (tau_grad, scale_grad) != (1.0, 1.0):
            raise ValueError(f"tau_grad and scale_grad shape surrogate='exp', not "
                             f"{surrogate!r}")
        if tau_grad <= 0:
            raise ValueError(f"tau_grad must be > 0, got {tau_grad}")
        if reset not in fixed.RESET_RULES or (reset != "soft" and levels != 1):
            raise ValueError(f"reset {reset!r}: expected one of {', '.join(fixed.RESET_RULES)}"
                             " (snnTorch's rules with levels = 1)")
        self.cfg = MultiLevelConfig(int(levels), float(current_decay), float(voltage_decay),
                                    float(v_init), surrogate, float(alpha), float(tau_grad),
                                    float(scale_grad), reset)
        self.theta = torch.nn.Parameter(torch.tensor([float(threshold)]),
                                        requires_grad=learn_threshold)
        self.v_quant = membrane
        self.rate: Optional[torch.Tensor] = None  # mean level occupancy z/N of the last forward
        self.state: Optional[Tuple[torch.Tensor, torch.Tensor]] = None
        self.deployed: Optional[fixed.NeuronParams] = None

    @property
    def levels(self) -> int:
        return self.cfg.levels

    @property
    def threshold(self) -> float:
        return float(self.theta.detach().abs())

    @property
    def device(self):
        return self.theta.device

    def clamp(self) -> None:
        """Keep the threshold positive."""
        with torch.no_grad():
            self.theta.clamp_(min=1e-3)

    def integer_params(self, v_th_mant: int, bias=None,
                       bias_exp: int = fixed.BIAS_EXP_DEFAULT) -> fixed.NeuronParams:
        """Deployed parameters for a given integer threshold mantissa."""
        th_state = int(v_th_mant) << fixed.STATE_SHIFT
        v_bits = v_exp = 0
        if self.v_quant is not None:
            if not getattr(self.v_quant, "deployable", False):
                raise ValueError(f"{type(self.v_quant).__name__} is not deployable; use "
                                 "StaticMembraneQuant for networks that are exported")
            v_bits, v_exp = self.v_quant.bits, self.v_quant.v_exp(v_th_mant)
        return fixed.NeuronParams(
            "MLSN", int(v_th_mant), self.cfg.levels,
            i_decay=decay_int(self.cfg.current_decay), v_decay=decay_int(self.cfg.voltage_decay),
            v_init=int(round(self.cfg.v_init * th_state)), v_bits=v_bits, v_exp=v_exp, bias=bias,
            bias_exp=bias_exp, reset=self.cfg.reset)

    @property
    def device_params(self) -> dict:
        """NetX ``neuron/<key>`` datasets (needs a folded network: see ``Network.quantize``)."""
        if self.deployed is None:
            raise RuntimeError("device_params need the folded threshold: call "
                               "Network.quantize() or Network.export_hdf5()")
        p = self.deployed
        return {"type": "MLSN", "vThMant": p.v_th_mant, "levels": p.levels, "iDecay": p.i_decay,
                "vDecay": p.v_decay, "vInit": p.v_init, "vBits": p.v_bits, "vExp": p.v_exp,
                **({"resetRule": fixed.RESET_RULES.index(p.reset)} if p.reset != "soft" else {})}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Real-valued forward: ``theta * z`` for a current ``x`` of shape ``[N, *shape, T]``."""
        if self.shape is None:
            self.shape = x.shape[1:-1]
        current, shift = self.split_input(x)
        state = self.state if self.persistent_state and self.state is not None \
            and self.state[0].shape[0] == x.shape[0] else None
        theta = self.theta.abs()
        if sequence.applies(current, shift, theta, self.cfg, state, self.v_quant):
            y, z_mean, state = sequence.run(current, shift, theta, self.cfg, state,
                                            keep_state=self.persistent_state)
        else:  # the reference loop (GPU, membrane quantizer)
            z, state = dynamics(current, shift, theta, self.cfg, state, self.v_quant)
            y, z_mean = z * theta, z.mean()
        self.rate = z_mean / self.cfg.levels
        if self.persistent_state:
            self.state = (state[0].detach(), state[1].detach())
        return y

    def quantized_step(self, state, a: torch.Tensor):
        """One deployed integer step (:func:`lava_mlsnn.fixed.neuron_step`)."""
        return fixed.neuron_step(state, a, self.deployed)
