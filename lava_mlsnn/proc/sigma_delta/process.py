"""``SigmaDeltaNeuron``: lava-dl / netx sigma-delta neurons (``SDNN`` in DESIGN §5)."""
from __future__ import annotations

from typing import Optional

from lava.magma.core.process.process import LogConfig
from lava.magma.core.process.variable import Var

from lava_mlsnn.fixed import SDNN_BIAS_EXP, SDNN_TYPES
from lava_mlsnn.proc._base import AbstractBiasedNeuron, check_int
from lava_mlsnn.proc._common import StreamFile


class SigmaDeltaNeuron(AbstractBiasedNeuron):
    """Sigma-delta neuron exactly as netx runs lava-dl's ``SDNN`` layers with
    ``lava.proc.sdn`` (fixed_pt), graded payloads.

    Per step (``fixed.sigma_delta_step``; ``scale = spike_exp + state_exp``)::

        sigma += a                                        # SDNN, SDNN_SIGMA
        act = relu(sigma + (bias << bias_exp))            # SDNN
        act = a << scale                                  # SDNN_DELTA (input layer)
        d = act - ref;  s = d if |d| >= vth_mant << scale else 0;  ref += s
        send s >> state_exp                               # SDNN_SIGMA sends sigma

    Parameters
    ----------
    shape : tuple of int
        Layer shape, torch order.
    mode : str
        ``'SDNN'`` (Lava ``SigmaDelta``), ``'SDNN_DELTA'`` (``Delta``) or
        ``'SDNN_SIGMA'`` (``Sigma``).
    vth_mant : int
        Threshold mantissa (``vThMant``); the threshold is ``vth_mant << scale``.
    bias : int or int array
        Bias mantissa, added as ``bias << bias_exp`` (netx: ``bias_exp = scale``).
    spike_exp, state_exp : int
        netx's exponents (both 6).
    reset_interval, reset_offset, record
        See :class:`~lava_mlsnn.proc._base.AbstractGradedNeuron`.
    """

    def __init__(self, *, shape, mode: str = "SDNN", vth_mant: int = 1, bias=0,
                 bias_exp: int = SDNN_BIAS_EXP, spike_exp: int = 6, state_exp: int = 6,
                 reset_interval: int = 0, reset_offset: int = 0,
                 record: Optional[StreamFile] = None, name: Optional[str] = None,
                 log_config: Optional[LogConfig] = None) -> None:
        if mode not in SDNN_TYPES:
            raise ValueError(f"mode must be one of {SDNN_TYPES}, got {mode!r}")
        super().__init__(shape=shape, bias=bias, bias_exp=bias_exp,
                         reset_interval=reset_interval, reset_offset=reset_offset,
                         record=record, mode=mode, name=name, log_config=log_config)
        self.u = Var(shape=self.shape, init=0)  # sigma
        self.v = Var(shape=self.shape, init=0)  # ref: the sum of the deltas sent
        self.vth_mant = Var(shape=(1,), init=check_int("vth_mant", vth_mant, 0))
        self.spike_exp = Var(shape=(1,), init=check_int("spike_exp", spike_exp, 0, 16))
        self.state_exp = Var(shape=(1,), init=check_int("state_exp", state_exp, 0, 16))
