"""ProcessModels of :class:`CubaLif` (absolute imports for Lava's discovery)."""
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
from lava_mlsnn.proc.cuba.process import CubaLif


@implements(proc=CubaLif, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyCubaLifModelFixed(AbstractPyTwoStateModelFixed):
    """Bit-exact model: :func:`lava_mlsnn.fixed.neuron_step` with type ``CUBA``."""

    vth_mant: int = LavaPyType(int, np.int32, precision=17)
    i_decay: int = LavaPyType(int, np.int32, precision=13)
    v_decay: int = LavaPyType(int, np.int32, precision=13)
    current_bias: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)

    def step(self, a: np.ndarray, reset: bool) -> np.ndarray:
        p = fixed.NeuronParams("CUBA", int(self.vth_mant), 1, i_decay=int(self.i_decay),
                               v_decay=int(self.v_decay), bias=self.bias,
                               bias_exp=int(self.bias_exp),
                               current_bias=model_current_bias(self.current_bias))
        return self.stateful_step(a, reset, p)


@implements(proc=CubaLif, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyCubaLifModelFloat(AbstractPyTwoStateModelFloat):
    """Float model of the same equations (state units, no wrap or clip)."""

    vth_mant: float = LavaPyType(float, float)
    i_decay: float = LavaPyType(float, float)
    v_decay: float = LavaPyType(float, float)
    current_bias: np.ndarray = LavaPyType(np.ndarray, float)

    def step(self, a: np.ndarray, reset: bool) -> np.ndarray:
        if reset:
            self.start_sample()
        self.u[:] = float_decay(self.u, self.i_decay) + (a + self.current_bias) * STATE_SCALE
        self.v[:] = (float_decay(self.v, self.v_decay) + self.u
                     + self.bias * 2.0 ** int(self.bias_exp))
        s = self.v > float(self.vth_mant) * STATE_SCALE
        self.v[s] = 0.0
        return s.astype(np.float64)
