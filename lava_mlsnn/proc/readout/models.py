"""ProcessModels of :class:`Readout` (absolute imports for Lava's discovery)."""
from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from lava_mlsnn import fixed
from lava_mlsnn.proc._base import (STATE_SCALE, AbstractPyBiasedModelFixed,
                                   AbstractPyBiasedModelFloat, float_decay)
from lava_mlsnn.proc.readout.process import Readout


@implements(proc=Readout, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyReadoutModelFixed(AbstractPyBiasedModelFixed):
    """Bit-exact model: :func:`lava_mlsnn.fixed.neuron_step` with type ``READOUT``."""

    v_decay: int = LavaPyType(int, np.int32, precision=13)

    def step(self, a: np.ndarray, reset: bool) -> np.ndarray:
        p = fixed.NeuronParams("READOUT", v_decay=int(self.v_decay), bias=self.bias,
                               bias_exp=int(self.bias_exp))
        if reset:
            u, v = fixed.initial_state(p, a.shape, a)
        else:
            u, v = 0, self.v.astype(np.int64)  # READOUT has no current state
        (_, v), out = fixed.neuron_step((u, v), a, p)
        self.v[:] = v
        return out


@implements(proc=Readout, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyReadoutModelFloat(AbstractPyBiasedModelFloat):
    """Float model of the same equation (state units, no saturation)."""

    v_decay: float = LavaPyType(float, float)

    def step(self, a: np.ndarray, reset: bool) -> np.ndarray:
        if reset:
            self.v[:] = 0.0
        self.v[:] = (float_decay(self.v, self.v_decay) + a * STATE_SCALE
                     + self.bias * 2.0 ** int(self.bias_exp))
        return self.v.copy()
