"""``CubaLif``: lava-dl / netx binary CUBA-LIF (``CUBA`` in DESIGN §5)."""
from __future__ import annotations

from typing import Optional

from lava.magma.core.process.process import LogConfig
from lava.magma.core.process.variable import Var

from lava_mlsnn.proc._base import AbstractBiasedNeuron, check_int, current_bias_var
from lava_mlsnn.proc._common import StreamFile


class CubaLif(AbstractBiasedNeuron):
    """Binary CUBA-LIF exactly as netx runs lava-dl's CUBA (Lava ``LIF`` fixed_pt
    with netx's parameter mapping), so stock exports give the same spikes.

    Per step (``fixed.cuba_step``)::

        u = wrap24(decay(u, i_decay) + ((a + current_bias) << 6))
        v = clip(decay(v, v_decay) + u + (bias << bias_exp), -(2**23-1), 2**23-1)
        s = v > vth_mant << 6;  v[s] = 0

    Parameters
    ----------
    shape : tuple of int
        Layer shape, torch order.
    vth_mant : int
        Threshold mantissa (> 0).
    i_decay, v_decay : int
        The file's ``iDecay`` / ``vDecay`` (1/4096 per step). netx gives Lava's
        ``LIF`` ``du = iDecay - 1`` because ``LIF`` adds 1; here ``i_decay`` is the
        effective decay.
    current_bias : int or int array
        Added to the current ``a`` every step, before the wrap (lava-mlsnn's
        ``currentBias``; stock Lava ``LIF`` has none).
    bias, bias_exp
        See :class:`~lava_mlsnn.proc._base.AbstractBiasedNeuron`.
    reset_interval, reset_offset, record
        See :class:`~lava_mlsnn.proc._base.AbstractGradedNeuron`.
    """

    def __init__(self, *, shape, vth_mant: int, i_decay: int = 0, v_decay: int = 0, bias=0,
                 bias_exp: int = 6, current_bias=0, reset_interval: int = 0, reset_offset: int = 0,
                 record: Optional[StreamFile] = None, name: Optional[str] = None,
                 log_config: Optional[LogConfig] = None) -> None:
        super().__init__(shape=shape, bias=bias, bias_exp=bias_exp,
                         reset_interval=reset_interval, reset_offset=reset_offset,
                         record=record, name=name, log_config=log_config)
        self.u = Var(shape=self.shape, init=0)
        self.v = Var(shape=self.shape, init=0)
        self.vth_mant = Var(shape=(1,), init=check_int("vth_mant", vth_mant, 1))
        self.i_decay = Var(shape=(1,), init=check_int("i_decay", i_decay, 0, 4096))
        self.v_decay = Var(shape=(1,), init=check_int("v_decay", v_decay, 0, 4096))
        self.current_bias = current_bias_var(self.shape, current_bias)
