"""Non-spiking readout neuron: a leaky integrator whose membrane is the output."""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from lava.lib.dl.slayer.neuron import base

from .. import fixed
from .norm import NormInputMixin
from .multilevel import decay_int


def dynamics(x: torch.Tensor, shift: torch.Tensor | float, voltage_decay: float,
             v: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """``v[t] = (1 - decay) * v[t-1] + x[t] + shift``; returns (v over time, last v)."""
    v = torch.zeros_like(x[..., 0]) if v is None else v
    vs = []
    for t in range(x.shape[-1]):
        v = v * (1 - voltage_decay) + x[..., t] + shift
        vs.append(v)
    return torch.stack(vs, dim=-1), v


class Neuron(NormInputMixin, base.Neuron):
    """Readout (``READOUT``): sends its membrane every step; no spike, no reset.

    Classification reads ``argmax`` of ``v`` at the last step.
    """

    def __init__(self, voltage_decay: float = 0.0, norm=None, dropout=None,
                 persistent_state: bool = False):
        super().__init__(threshold=1.0, w_scale=1 << 6, s_scale=1 << 12, norm=norm,
                         dropout=dropout, persistent_state=persistent_state,
                         requires_grad=False)
        self.voltage_decay = float(voltage_decay)
        self.v: Optional[torch.Tensor] = None
        self.deployed: Optional[fixed.NeuronParams] = None

    levels = 0

    @property
    def device(self):
        return None

    def integer_params(self, bias=None, bias_exp: int = fixed.BIAS_EXP_DEFAULT
                       ) -> fixed.NeuronParams:
        return fixed.NeuronParams("READOUT", 1, 1, fixed.DECAY_ONE,
                                  decay_int(self.voltage_decay), bias=bias, bias_exp=bias_exp)

    @property
    def device_params(self) -> dict:
        p = self.integer_params()
        return {"type": "READOUT", "vThMant": 1, "levels": 1, "iDecay": p.i_decay,
                "vDecay": p.v_decay}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.shape is None:
            self.shape = x.shape[1:-1]
        current, shift = self.split_input(x)
        v0 = self.v if self.persistent_state and self.v is not None \
            and self.v.shape[0] == x.shape[0] else None
        out, v = dynamics(current, shift, self.voltage_decay, v0)
        if self.persistent_state:
            self.v = v.detach()
        return out

    def quantized_step(self, state, a: torch.Tensor):
        return fixed.neuron_step(state, a, self.deployed)
