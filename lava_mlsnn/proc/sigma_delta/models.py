"""ProcessModels of :class:`SigmaDeltaNeuron` (absolute imports for Lava's discovery)."""
from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from lava_mlsnn import fixed
from lava_mlsnn.proc._base import AbstractPyTwoStateModelFixed, AbstractPyTwoStateModelFloat
from lava_mlsnn.proc.sigma_delta.process import SigmaDeltaNeuron


@implements(proc=SigmaDeltaNeuron, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySigmaDeltaModelFixed(AbstractPyTwoStateModelFixed):
    """Bit-exact model: :func:`lava_mlsnn.fixed.neuron_step` with an ``SDNN*`` type."""

    vth_mant: int = LavaPyType(int, np.int32, precision=24)
    spike_exp: int = LavaPyType(int, np.int32, precision=5)
    state_exp: int = LavaPyType(int, np.int32, precision=5)

    def step(self, a: np.ndarray, reset: bool) -> np.ndarray:
        p = fixed.NeuronParams(self.proc_params["mode"], int(self.vth_mant), bias=self.bias,
                               bias_exp=int(self.bias_exp), spike_exp=int(self.spike_exp),
                               state_exp=int(self.state_exp))
        return self.stateful_step(a, reset, p)


@implements(proc=SigmaDeltaNeuron, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PySigmaDeltaModelFloat(AbstractPyTwoStateModelFloat):
    """Float model of the same equations (state units, no shifts' truncation)."""

    vth_mant: float = LavaPyType(float, float)
    spike_exp: int = LavaPyType(int, int)
    state_exp: int = LavaPyType(int, int)

    def step(self, a: np.ndarray, reset: bool) -> np.ndarray:
        if reset:
            self.start_sample()
        mode = self.proc_params["mode"]
        scale = 2.0 ** (int(self.spike_exp) + int(self.state_exp))
        if mode != "SDNN_DELTA":
            self.u[:] = self.u + a
        if mode == "SDNN_SIGMA":
            return self.u.copy()
        act = a * scale if mode == "SDNN_DELTA" else \
            np.maximum(self.u + self.bias * 2.0 ** int(self.bias_exp), 0.0)
        d = act - self.v
        s = np.where(np.abs(d) >= float(self.vth_mant) * scale, d, 0.0)
        self.v[:] = self.v + s
        return s / 2.0 ** int(self.state_exp)
