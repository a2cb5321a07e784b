"""``Readout``: leaky integrator that sends its membrane every step (DESIGN §5)."""
from __future__ import annotations

from typing import Optional

from lava.magma.core.process.process import LogConfig
from lava.magma.core.process.variable import Var

from lava_mlsnn.proc._base import AbstractBiasedNeuron, check_int
from lava_mlsnn.proc._common import StreamFile


class Readout(AbstractBiasedNeuron):
    """Read-out neuron: ``v = sat24(decay(v, v_decay) + (a << 6) + (bias << bias_exp))``,
    sends ``v`` (state units) every step; no spike, no reset except per sample.

    Parameters
    ----------
    shape : tuple of int
        Layer shape, torch order.
    v_decay : int
        Voltage decay in 1/4096 per step.
    bias, bias_exp
        See :class:`~lava_mlsnn.proc._base.AbstractBiasedNeuron`.
    reset_interval, reset_offset, record
        See :class:`~lava_mlsnn.proc._base.AbstractGradedNeuron`.
    """

    def __init__(self, *, shape, v_decay: int = 0, bias=0, bias_exp: int = 6,
                 reset_interval: int = 0, reset_offset: int = 0,
                 record: Optional[StreamFile] = None, name: Optional[str] = None, log_config: Optional[LogConfig] = None) -> None:
        super().__init__(shape=shape, bias=bias, bias_exp=bias_exp,
                         reset_interval=reset_interval, reset_offset=reset_offset,
                         record=record, name=name, log_config=log_config)
        self.v = Var(shape=self.shape, init=0)
        self.v_decay = Var(shape=(1,), init=check_int("v_decay", v_decay, 0, 4096))
