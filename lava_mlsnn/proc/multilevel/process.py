"""``MultiLevelNeuron``: the graded-spike neuron of DESIGN §5 (``MLSN``)."""
from __future__ import annotations

from typing import Optional

from lava.magma.core.process.process import LogConfig
from lava.magma.core.process.variable import Var

from lava_mlsnn.proc._base import AbstractBiasedNeuron, check_int, current_bias_var
from lava_mlsnn.proc._common import StreamFile


class MultiLevelNeuron(AbstractBiasedNeuron):
    """Multi-level spiking neuron: sends an integer level ``z`` in ``{0..levels}``.

    Per step (state units = weight units << 6)::

        u = sat24(decay(u, i_decay) + ((a + current_bias) << 6))
        v = sat24(decay(v, v_decay) + u + (bias << bias_exp))
        z = clip(v // (vth_mant << 6), 0, levels);  v -= z * (vth_mant << 6)
        if v_bits: v = clip(v >> v_exp, -2**(v_bits-1), 2**(v_bits-1)-1) << v_exp

    with ``reset_rule`` 1 or 2 (one level) the reset is snnTorch's subtract instead
    (:func:`lava_mlsnn.fixed.mlsn_step`).

    Parameters
    ----------
    shape : tuple of int
        Layer shape, torch order.
    vth_mant : int
        Threshold mantissa (> 0); the threshold is ``vth_mant << 6``.
    levels : int
        Largest payload ``N`` (>= 1; ``1`` is a binary spike).
    i_decay, v_decay : int
        Current / voltage decay in 1/4096 per step (``i_decay = 4096``: no
        current state, the neuron integrates ``a`` directly).
    v_init : int
        ``v`` at the start of every sample (state units).
    v_bits, v_exp : int
        Membrane quantization (``v_bits = 0``: off).
    current_bias : int or int array
        Added to the current ``a`` every step (scalar, per channel or full shape; units
        of ``a``, 24-bit): NIR's ``CubaLIF`` synapse bias.
    reset_rule : int
        Index in :data:`lava_mlsnn.fixed.RESET_RULES` (0: soft reset; 1, 2: snnTorch's
        subtract with ``reset_delay`` False / True; 3: its ``Synaptic`` reset to zero with
        ``reset_delay=True``; one level only).
    bias, bias_exp
        See :class:`~lava_mlsnn.proc._base.AbstractBiasedNeuron`.
    reset_interval, reset_offset, record
        See :class:`~lava_mlsnn.proc._base.AbstractGradedNeuron`.
    """

    def __init__(self, *, shape, vth_mant: int, levels: int = 1, i_decay: int = 4096,
                 v_decay: int = 0, v_init: int = 0, bias=0, bias_exp: int = 6, v_bits: int = 0,
                 v_exp: int = 0, current_bias=0, reset_rule: int = 0,
                 reset_interval: int = 0, reset_offset: int = 0,
                 record: Optional[StreamFile] = None, name: Optional[str] = None,
                 log_config: Optional[LogConfig] = None) -> None:
        super().__init__(shape=shape, bias=bias, bias_exp=bias_exp,
                         reset_interval=reset_interval, reset_offset=reset_offset,
                         record=record, name=name, log_config=log_config)
        shape = self.shape
        self.u = Var(shape=shape, init=0)
        self.v = Var(shape=shape, init=check_int("v_init", v_init))
        self.vth_mant = Var(shape=(1,), init=check_int("vth_mant", vth_mant, 1))
        self.levels = Var(shape=(1,), init=check_int("levels", levels, 1))
        self.i_decay = Var(shape=(1,), init=check_int("i_decay", i_decay, 0, 4096))
        self.v_decay = Var(shape=(1,), init=check_int("v_decay", v_decay, 0, 4096))
        self.v_init = Var(shape=(1,), init=check_int("v_init", v_init))
        self.v_bits = Var(shape=(1,), init=check_int("v_bits", v_bits, 0, 24))
        self.v_exp = Var(shape=(1,), init=check_int("v_exp", v_exp, 0))
        self.current_bias = current_bias_var(shape, current_bias)
        self.reset_rule = Var(shape=(1,), init=check_int("reset_rule", reset_rule, 0, 3))
        if reset_rule and levels != 1:
            raise ValueError(f"reset_rule {reset_rule} needs levels = 1, got {levels}")
