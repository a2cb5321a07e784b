"""``StreamSource`` / ``StreamSink``: Lava I/O through a memory-mapped ``.npy`` file.

They behave like ``lava.proc.io.source.RingBuffer`` / ``sink.RingBuffer`` (slot
``(t - 1) % length`` at time step ``t``), but the host reads and writes the
buffer directly through :class:`~lava_mlsnn.proc._common.StreamFile` instead of
``Var.get()``/``Var.set()``, which move one value per message. New data can be
written between runs of a live network.
"""
from __future__ import annotations

from typing import Optional, Tuple

from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess, LogConfig

from lava_mlsnn.proc._common import StreamFile, as_shape, check_stream


class AbstractStreamProcess(AbstractProcess):
    """A Process bound to one :class:`StreamFile` of payloads of one shape.

    Parameters
    ----------
    shape : tuple of int
        Payload shape (torch order); the file holds ``(length, *shape)``.
    stream : StreamFile
        The file (created by the host with :meth:`StreamFile.create`).
    """

    def __init__(self, *, shape, stream: StreamFile, name: Optional[str] = None,
                 log_config: Optional[LogConfig] = None) -> None:
        self._runtime = None  # AbstractProcess.__del__ needs it if validation below raises
        shape = as_shape(shape)
        super().__init__(shape=shape, stream=check_stream(stream), name=name,
                         log_config=log_config)
        self.shape: Tuple[int, ...] = shape


class StreamSource(AbstractStreamProcess):
    """Sends slot ``(t - 1) % stream.length`` of ``stream`` on ``s_out`` at step ``t``.

    Parameters: see :class:`AbstractStreamProcess`.
    """

    def __init__(self, *, shape, stream: StreamFile, name: Optional[str] = None,
                 log_config: Optional[LogConfig] = None) -> None:
        super().__init__(shape=shape, stream=stream, name=name, log_config=log_config)
        self.s_out = OutPort(shape=self.shape)


class StreamSink(AbstractStreamProcess):
    """Writes what ``a_in`` receives at step ``t`` into slot ``(t - 1) % length``.

    Parameters: see :class:`AbstractStreamProcess`.
    """

    def __init__(self, *, shape, stream: StreamFile, name: Optional[str] = None,
                 log_config: Optional[LogConfig] = None) -> None:
        super().__init__(shape=shape, stream=stream, name=name, log_config=log_config)
        self.a_in = InPort(shape=self.shape)
