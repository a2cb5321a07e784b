"""ProcessModels of :class:`MultiLevelNeuron` (absolute imports: Lava's model
discovery executes this file outside its package)."""
from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from lava_mlsnn import fixed
from lava_mlsnn.proc._base import (STATE_SCALE, AbstractPyTwoStateModelFixed,
                                   AbstractPyTwoStateModelFloat, float_decay,
                                   model_current_bias)
from lava_mlsnn.proc.multilevel.process import MultiLevelNeuron


@implements(proc=MultiLevelNeuron, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyMultiLevelNeuronModelFixed(AbstractPyTwoStateModelFixed):
    """Bit-exact model: one :func:`lava_mlsnn.fixed.neuron_step` per time step."""

    vth_mant: int = LavaPyType(int, np.int32, precision=17)
    levels: int = LavaPyType(int, np.int32, precision=24)
    i_decay: int = LavaPyType(int, np.int32, precision=13)
    v_decay: int = LavaPyType(int, np.int32, precision=13)
    v_init: int = LavaPyType(int, np.int32, precision=24)
    v_bits: int = LavaPyType(int, np.int32, precision=5)
    v_exp: int = LavaPyType(int, np.int32, precision=5)
    current_bias: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    reset_rule: int = LavaPyType(int, np.int32, precision=2)

    def step(self, a: np.ndarray, reset: bool) -> np.ndarray:
        # Parameters are re-read every step (a few us) so that Var.set() between
        # runs takes effect, as in Lava's LIF.
        p = fixed.NeuronParams("MLSN", int(self.vth_mant), int(self.levels),
                               i_decay=int(self.i_decay), v_decay=int(self.v_decay),
                               v_init=int(self.v_init), v_bits=int(self.v_bits),
                               v_exp=int(self.v_exp), bias=self.bias,
                               bias_exp=int(self.bias_exp),
                               current_bias=model_current_bias(self.current_bias),
                               reset=fixed.RESET_RULES[int(self.reset_rule)])
        return self.stateful_step(a, reset, p)


@implements(proc=MultiLevelNeuron, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyMultiLevelNeuronModelFloat(AbstractPyTwoStateModelFloat):
    """Float model: the same equations without rounding or saturation."""

    vth_mant: float = LavaPyType(float, float)
    levels: int = LavaPyType(int, int)
    i_decay: float = LavaPyType(float, float)
    v_decay: float = LavaPyType(float, float)
    v_init: float = LavaPyType(float, float)
    v_bits: int = LavaPyType(int, int)
    v_exp: int = LavaPyType(int, int)
    current_bias: np.ndarray = LavaPyType(np.ndarray, float)
    reset_rule: int = LavaPyType(int, int)

    def step(self, a: np.ndarray, reset: bool) -> np.ndarray:
        if reset:
            self.start_sample(float(self.v_init))
        self.u[:] = float_decay(self.u, self.i_decay) + (a + self.current_bias) * STATE_SCALE
        th = float(self.vth_mant) * STATE_SCALE
        r = (self.v > th).astype(float)  # snnTorch's reset, read from the stored v
        w = (float_decay(self.v, self.v_decay) + self.u
             + self.bias * 2.0 ** int(self.bias_exp))
        if int(self.reset_rule) == 3:  # Synaptic, zero, reset_delay=True
            self.v[:] = w * (1 - r)
            return (self.v > th).astype(float)
        if int(self.reset_rule) == 2:  # reset_delay=True
            self.v[:] = w - r * th
            return (self.v > th).astype(float)
        if int(self.reset_rule) == 1:  # reset_delay=False
            z = (w > th * (1 + r)).astype(float)
            self.v[:] = w - z * th
            return z
        self.v[:] = w
        z = np.clip(np.floor(self.v / th), 0, int(self.levels))
        self.v[:] = self.v - z * th
        if self.v_bits:
            q = float(1 << int(self.v_exp))
            half = 1 << (int(self.v_bits) - 1)
            self.v[:] = np.clip(np.floor(self.v / q), -half, half - 1) * q
        return z
