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


class AbstractPyStreamSourceModel(PyLoihiProcessModel):
    """Maps the file lazily (inside the model's OS process) and sends one slot."""

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        self._stream = proc_params["stream"]
        self._buf = None

    def run_spk(self) -> None:
        if self._buf is None:
            self._buf = self._stream.open(self.proc_params["shape"], writable=False)
        self.s_out.send(np.asarray(self._buf[self._stream.slot(self.time_step)]))


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


class AbstractPyStreamSinkModel(PyLoihiProcessModel):
    """Maps the file lazily and writes one slot per step."""

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        self._stream = proc_params["stream"]
        self._buf = None

    def run_spk(self) -> None:
        data = self.a_in.recv()
        if self._buf is None:
            self._buf = self._stream.open(self.proc_params["shape"], writable=True)
        self._buf[self._stream.slot(self.time_step)] = data


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
