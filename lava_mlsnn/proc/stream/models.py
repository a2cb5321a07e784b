"""ProcessModels of :class:`StreamSource` and :class:`StreamSink`."""
from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from lava_mlsnn.proc.stream.process import StreamSink, StreamSource


class AbstractPyStreamModel(PyLoihiProcessModel):
    """Holds the Process's :class:`StreamFile` and maps it lazily, inside the
    model's own OS process (a mapping cannot cross the process boundary)."""

    _writable: bool = False

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        self._stream = proc_params["stream"]
        self._buf = None

    def _slot(self):
        """The mapped buffer and this time step's slot index in it."""
        if self._buf is None:
            self._buf = self._stream.open(self.proc_params["shape"], writable=self._writable)
        return self._buf, self._stream.slot(self.time_step)


class AbstractPyStreamSourceModel(AbstractPyStreamModel):
    """Sends one slot per step."""

    def run_spk(self) -> None:
        buf, i = self._slot()
        self.s_out.send(np.asarray(buf[i]))


@implements(proc=StreamSource, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyStreamSourceModelFixed(AbstractPyStreamSourceModel):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)


@implements(proc=StreamSource, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyStreamSourceModelFloat(AbstractPyStreamSourceModel):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)


class AbstractPyStreamSinkModel(AbstractPyStreamModel):
    """Writes one slot per step."""

    _writable = True

    def run_spk(self) -> None:
        data = self.a_in.recv()
        buf, i = self._slot()
        buf[i] = data


@implements(proc=StreamSink, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyStreamSinkModelFixed(AbstractPyStreamSinkModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)


@implements(proc=StreamSink, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyStreamSinkModelFloat(AbstractPyStreamSinkModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
