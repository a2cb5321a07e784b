"""ProcessModels of :class:`Synapse` (absolute imports for Lava's discovery)."""
from __future__ import annotations

import numpy as np
import torch
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from lava_mlsnn import fixed
from lava_mlsnn.proc.synapse.process import Synapse


class AbstractPySynapseModel(PyLoihiProcessModel):
    """Delay line and spec plumbing shared by the fixed and float models."""

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        self._spec = None
        self._view = (1,) + tuple(proc_params["view_shape"])
        self._lead = 1 + int(proc_params["extra_delay"])  # steps until an undelayed part
        self._period = int(proc_params["reset_interval"])
        self._phase0 = int(proc_params["reset_offset"])
        self._lag = int(bool(proc_params["recurrent"]))  # aligned steps before arrival

    def _build_spec(self) -> fixed.SynapseSpec:
        # Runs once, in the model's own OS process. One torch thread per model:
        # Lava already runs one OS process per Process, and torch's default pool
        # (one thread per core in each of them) would only oversubscribe the CPU.
        torch.set_num_threads(1)
        pp = self.proc_params
        w = np.asarray(self.weight)
        if pp["kind"] in ("pool", "identity"):
            w = w.reshape(())
        # float64 weights (exact for these integers) let torch use them without
        # a per-step int64 -> float64 copy; the sum is the same.
        return fixed.SynapseSpec(pp["kind"], w.astype(np.float64), int(pp["weight_exp"]),
                                 stride=pp["stride"], padding=pp["padding"],
                                 dilation=pp["dilation"], groups=pp["groups"],
                                 kernel=pp["kernel"], delay=pp["delay"],
                                 overflow=pp.get("overflow", "sat24"))

    def current(self, spec: fixed.SynapseSpec, z: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def outgoing(self, a: np.ndarray) -> np.ndarray:
        return a

    def run_spk(self) -> None:
        t = self.time_step
        slots = self.a_buff.shape[0]
        # Send what was computed 1 + extra_delay (+ axonal delay) steps ago (Lava
        # Dense's buffer), then empty that slot.
        self.a_out.send(self.outgoing(self.a_buff[t % slots]))
        self.a_buff[t % slots] = 0
        z = self.s_in.recv()
        if self._spec is None:
            self._spec = self._build_spec()
        if not z.any():  # linear, bias-free: silence costs nothing (sparse activity)
            return
        # The sample step this input belongs to: a part delayed past the sample's end
        # is dropped (the next sample starts from empty delay lines).
        left = (self._period - (t - self._phase0) % self._period - self._lag) if self._period \
            else slots
        for k, part in fixed.delayed_parts(self._spec, z.reshape(self._view), self.current):
            if k < left:
                self.a_buff[(t + self._lead + k) % slots] += part[0]


@implements(proc=Synapse, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySynapseModelFixed(AbstractPySynapseModel):
    """Bit-exact model: :func:`lava_mlsnn.fixed.synapse_current` (int64, sat24)."""

    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    weight: np.ndarray = LavaPyType(np.ndarray, np.int64)
    a_buff: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)

    def current(self, spec: fixed.SynapseSpec, z: np.ndarray) -> np.ndarray:
        return fixed.synapse_current(spec, z)

    def outgoing(self, a: np.ndarray) -> np.ndarray:
        # Several delayed parts may meet in one slot: the dendrite saturates at 24 bits
        # (a stock synapse bounds its current as stock Lava does, see fixed.bounded).
        return fixed.bounded(a, self._spec.overflow if self._spec is not None else "sat24")


@implements(proc=Synapse, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PySynapseModelFloat(AbstractPySynapseModel):
    """Float model: the same sum times ``2**weight_exp``, no rounding or saturation."""

    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    weight: np.ndarray = LavaPyType(np.ndarray, float)
    a_buff: np.ndarray = LavaPyType(np.ndarray, float)

    def current(self, spec: fixed.SynapseSpec, z: np.ndarray) -> np.ndarray:
        zt = torch.as_tensor(z, dtype=torch.float64)
        # fixed's float64 sum before rounding: the float path of the same equation.
        a = fixed.raw_current(spec, zt) * (2.0 ** int(spec.weight_exp))
        return a.numpy()
