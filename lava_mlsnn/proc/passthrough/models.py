"""ProcessModels of :class:`Pass` (absolute imports for Lava's discovery)."""
from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from lava_mlsnn import fixed
from lava_mlsnn.proc._base import AbstractPyNeuronModelFixed, AbstractPyNeuronModelFloat
from lava_mlsnn.proc.passthrough.process import Pass


@implements(proc=Pass, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyPassModelFixed(AbstractPyNeuronModelFixed):
    """Bit-exact model: :func:`lava_mlsnn.fixed.clip` of the int64 fan-in sum."""

    lo: int = LavaPyType(int, np.int32, precision=24)
    hi: int = LavaPyType(int, np.int32, precision=24)

    def step(self, a: np.ndarray, reset: bool) -> np.ndarray:
        return fixed.clip(a, int(self.lo), int(self.hi))


@implements(proc=Pass, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyPassModelFloat(AbstractPyNeuronModelFloat):
    """Float model of the same clip."""

    lo: float = LavaPyType(float, float)
    hi: float = LavaPyType(float, float)

    def step(self, a: np.ndarray, reset: bool) -> np.ndarray:
        return np.clip(a, float(self.lo), float(self.hi))
