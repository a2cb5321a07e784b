"""Helpers shared by the lava-mlsnn Processes and ProcessModels (no Lava import).

Two things live here:

* :class:`StreamFile` -- a ring buffer in a ``.npy`` file that a ProcessModel
  (running in its own OS process) memory-maps. It is how the runner feeds input
  and collects outputs: Lava's ``Var.get()``/``Var.set()`` move one value per
  channel message (about 40 us each), so reading a recorded layer of 256 neurons
  over 200 steps through a sink ``Var`` would take seconds, and every extra sink
  Process also adds its share to the per-step synchronisation cost. A shared
  mapping costs neither.
* the reset rule of streamed samples (:func:`reset_due`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np


@dataclass(frozen=True)
class StreamFile:
    """A ``.npy`` ring buffer of shape ``(length, *shape)`` (time-major).

    At Lava time step ``t`` (starting at 1) a model reads or writes slot
    ``(t - 1) % length``.

    Attributes
    ----------
    path : str
        File path (created by the host before the run, see :meth:`create`).
    length : int
        Number of time slots.
    """

    path: str
    length: int

    @staticmethod
    def create(path: str, length: int, shape: Tuple[int, ...], dtype=np.int32) -> np.memmap:
        """Create (zero-filled) and return the host-side mapping of a stream file."""
        return np.lib.format.open_memmap(path, mode="w+", dtype=dtype,
                                         shape=(int(length),) + tuple(int(s) for s in shape))

    def open(self, shape: Tuple[int, ...], writable: bool) -> np.memmap:
        """Map the file inside a ProcessModel; checks that its geometry matches."""
        arr = np.load(self.path, mmap_mode="r+" if writable else "r")
        want = (int(self.length),) + tuple(int(s) for s in shape)
        if arr.shape != want:
            raise ValueError(f"{self.path}: stream shape {arr.shape}, expected {want}")
        return arr

    def slot(self, time_step: int) -> int:
        """Slot used at Lava time step ``time_step`` (1-based)."""
        return (int(time_step) - 1) % int(self.length)


def check_stream(record: Optional[StreamFile]) -> Optional[StreamFile]:
    """Validate an optional ``record`` argument of a Process."""
    if record is None:
        return None
    if not isinstance(record, StreamFile):
        raise TypeError(f"record must be a StreamFile or None, got {type(record).__name__}")
    if record.length < 1:
        raise ValueError("record.length must be >= 1")
    if not os.path.exists(record.path):
        raise FileNotFoundError(f"record file {record.path} does not exist; create it with "
                                "StreamFile.create")
    return record


def reset_due(time_step: int, interval: int, offset: int) -> bool:
    """Whether a neuron resets its state before integrating ``time_step``.

    Same rule as Lava's ``LIFReset``: reset when ``time_step % interval ==
    offset % interval``; ``interval <= 0`` never resets. A layer at pipeline
    depth ``d`` streaming samples of ``T`` steps uses ``interval = T`` and
    ``offset = 1 + d``, because it sees step 0 of sample ``k`` at time
    ``1 + k*T + d``.
    """
    return interval > 0 and time_step % interval == offset % interval


def as_shape(shape) -> Tuple[int, ...]:
    """Normalise an int or a sequence of ints to a shape tuple of positive ints."""
    shp = (int(shape),) if np.isscalar(shape) else tuple(int(s) for s in shape)
    if not shp or any(s <= 0 for s in shp):
        raise ValueError(f"shape must be positive ints, got {shape!r}")
    return shp


def full_bias(bias, shape: Tuple[int, ...]) -> np.ndarray:
    """Broadcast a bias (scalar, per channel ``(C,)``/``(C,1,1)`` or full) to ``shape``."""
    b = np.asarray(0 if bias is None else bias)
    if not np.all(b == np.trunc(b)):
        raise ValueError("bias must hold integers")
    b = b.astype(np.int64)
    if b.ndim == 1 and len(shape) > 1 and b.shape[0] == shape[0]:
        b = b.reshape((shape[0],) + (1,) * (len(shape) - 1))
    try:
        return np.broadcast_to(b, shape).copy()
    except ValueError:
        raise ValueError(f"bias of shape {b.shape} does not broadcast to {shape}") from None
