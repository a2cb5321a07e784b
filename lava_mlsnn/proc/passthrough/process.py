"""``Pass``: stateless neuron that sends its input current clipped to a range."""
from __future__ import annotations

from typing import Optional

from lava.magma.core.process.process import LogConfig
from lava.magma.core.process.variable import Var

from lava_mlsnn.proc._base import AbstractGradedNeuron, check_int
from lava_mlsnn.proc._common import StreamFile

SAT_MIN = -(1 << 23)
SAT_MAX = (1 << 23) - 1


class Pass(AbstractGradedNeuron):
    """Sends ``clip(a, lo, hi)`` every step; no state, no latency.

    With the defaults this is the ``PASS`` neuron of DESIGN §5 (``sat24``, e.g. a
    SEW-ResNet ADD join); with ``lo=0, hi=inputLevels`` it is an ``input`` layer.

    Parameters
    ----------
    shape : tuple of int
        Layer shape, torch order.
    lo, hi : int
        Payload range, ``lo <= hi``.
    record
        See :class:`~lava_mlsnn.proc._base.AbstractGradedNeuron`.
    """

    def __init__(self, *, shape, lo: int = SAT_MIN, hi: int = SAT_MAX,
                 record: Optional[StreamFile] = None, name: Optional[str] = None,
                 log_config: Optional[LogConfig] = None) -> None:
        self._runtime = None  # AbstractProcess.__del__ needs it if validation below raises
        lo, hi = check_int("lo", lo), check_int("hi", hi)
        if lo > hi:
            raise ValueError(f"lo ({lo}) must be <= hi ({hi})")
        super().__init__(shape=shape, record=record, name=name, log_config=log_config)
        self.lo = Var(shape=(1,), init=lo)
        self.hi = Var(shape=(1,), init=hi)
