"""lava-dl's sigma-delta (SDNN) blocks, usable inside a lava-mlsnn :class:`Network`.

These are ``lava.lib.dl.slayer.block.sigma_delta`` blocks (their training forward is
lava-dl's) with the deployed-integer interface added (``fold``, the quantized forward,
``export_layers``), so an SDNN network is trained, exported as stock ``SDNN`` layers
and run exactly as netx runs it (DESIGN §5). Payload units, as netx's
``spike_exp = state_exp = 6``: an input integer is the training input on lava-dl's
1/64 grid (``x * 64``), a sigma-delta payload is worth ``2**-12``, an ``Output``
block's sigma ``2**-18``.
"""
from __future__ import annotations

from typing import List, Optional

import numpy as np
import torch

from .. import fixed
from .._quiet import quiet_import
from ..format.spec import Branch, LayerSpec
from .base import (Folded, FoldError, QuantizedMixin, SpatialShapeMixin, conv_synapse_spec,
                   lava_dl_signature, refuse_delays)
from .multilevel import Flatten, Input as _Input

_slayer = quiet_import("lava.lib.dl.slayer")
_sd = _slayer.block.sigma_delta
_sd_neuron = _slayer.neuron.sigma_delta

INPUT_UNIT = 2.0 ** -6  # an input integer (lava-dl's 8-bit grid)
PAYLOAD_UNIT = 2.0 ** -12  # a sigma-delta payload: real x 2**(6 + spike_exp)
SIGMA_UNIT = 2.0 ** -18  # an Output block's sigma: real x 2**(12 + spike_exp)

__all__ = ["Conv", "Dense", "Flatten", "Input", "Output"]


def _v_th_mant(neuron) -> int:
    return int(neuron.device_params["vThMant"])


class Input(_Input):
    """Network input encoded by a delta neuron (lava-dl ``sigma_delta.Input``; netx
    builds Lava ``Delta``). The deployed input is ``x * 64`` as integers.

    Parameters
    ----------
    shape : tuple of int
        ``(C, H, W)`` or ``(F,)``, torch order.
    neuron_params : dict
        lava-dl sigma-delta neuron parameters (``threshold``, ``activation``, ...).
    """

    def __init__(self, shape, neuron_params: dict):
        super().__init__(shape, levels=fixed.SAT_MAX)
        self.neuron = _sd_neuron.Neuron(**neuron_params)

    def fold(self, in_scale: float = 1.0) -> Folded:
        p = fixed.NeuronParams("SDNN_DELTA", _v_th_mant(self.neuron), i_decay=0)
        return Folded(None, p, PAYLOAD_UNIT)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.folded is not None and not self.training:
            z = x.to(torch.int64)
            state = fixed.initial_state(self.folded.neuron, z.shape[:-1], z)
            outs = []
            for t in range(z.shape[-1]):
                state, out = fixed.neuron_step(state, z[..., t], self.folded.neuron)
                outs.append(out)
            return torch.stack(outs, dim=-1)
        out = self.neuron.delta(self.neuron.quantize_8bit(x))
        if self.neuron.delta.shape is not None:
            self.neuron.shape = self.neuron.delta.shape
        return out

    def export_layers(self, source: int, start: int = 0,
                      folded: Optional[Folded] = None) -> List[LayerSpec]:
        return [LayerSpec("input", self.shape, source, [], (folded or self.fold()).neuron)]


class _SigmaDeltaMixin(QuantizedMixin):
    """Fold and quantized forward of a lava-dl sigma-delta synapse + neuron block."""

    neuron_type = "SDNN"
    out_unit = PAYLOAD_UNIT

    def fold(self, in_scale: float) -> Folded:
        if abs(in_scale - PAYLOAD_UNIT) > 1e-15:
            raise FoldError(f"{type(self).__name__} (sigma-delta) reads sigma-delta payloads "
                            f"(worth 2**-12); its source sends values worth {in_scale:g}")
        if getattr(self.neuron, "norm", None) is not None:
            raise FoldError("a norm on a sigma-delta neuron has no deployed form here "
                            "(stock netx cannot reset SDNN layers that carry a bias)")
        w = self.synapse.pre_hook_fx(self.synapse.weight, descale=True).detach()
        w = w.to(torch.float64).round().to(torch.int64).numpy()
        vth = _v_th_mant(self.neuron) if self.neuron_type == "SDNN" else 1
        params = fixed.NeuronParams(self.neuron_type, vth, i_decay=0,
                                    bias_exp=fixed.SDNN_BIAS_EXP)
        return Folded(self._synapse_spec(w), params, self.out_unit)

    def _synapse_spec(self, w: np.ndarray) -> fixed.SynapseSpec:
        return fixed.SynapseSpec("dense", w.reshape(w.shape[0], -1))

    def layer_spec(self, source: int, folded: Optional[Folded] = None) -> LayerSpec:
        f = self.folded if folded is None else folded
        shape = (int(f.synapse.weight.shape[0]),) if f.synapse.kind == "dense" else \
            tuple(int(v) for v in self.neuron.shape)
        return LayerSpec(self.layer_type, shape, source, [Branch(source, f.synapse)], f.neuron)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.folded is not None and not self.training:
            return self.quantized_forward(x)
        return super().forward(x)


@lava_dl_signature(_slayer.block.base.AbstractDense.__init__)
class Dense(_SigmaDeltaMixin, _sd.Dense):
    """Sigma-delta dense block (lava-dl ``sigma_delta.Dense``; netx ``SigmaDelta``).

    Parameters
    ----------
    neuron_params : dict
        lava-dl's sigma-delta neuron keys (``threshold``, ``activation``, ...).
    in_neurons, out_neurons : int
    weight_scale, weight_norm, pre_hook_fx, mask, count_log
        As lava-dl's ``slayer.block.sigma_delta.Dense``.
    delay, delay_shift : bool
        ``delay=True`` and ``delay_shift=True`` given explicitly are refused.
    """

    layer_type = "dense"

    def __init__(self, *args, **kwargs):
        refuse_delays(type(self).__name__, _slayer.block.base.AbstractDense.__init__, args,
                      kwargs)
        super().__init__(*args, **kwargs)


@lava_dl_signature(_slayer.block.base.AbstractConv.__init__)
class Conv(SpatialShapeMixin, _SigmaDeltaMixin, _sd.Conv):
    """Sigma-delta conv block (lava-dl ``sigma_delta.Conv``; netx ``SigmaDelta``).

    Parameters
    ----------
    neuron_params : dict
        lava-dl's sigma-delta neuron keys, as :class:`Dense`.
    in_features, out_features : int
    kernel_size, stride, padding, dilation, groups
        As ``torch.nn.Conv2d``.
    weight_scale, weight_norm, pre_hook_fx, count_log
        As lava-dl's ``slayer.block.sigma_delta.Conv``.
    delay, delay_shift : bool
        ``delay=True`` and ``delay_shift=True`` given explicitly are refused.
    """

    layer_type = "conv"

    def __init__(self, *args, **kwargs):
        refuse_delays(type(self).__name__, _slayer.block.base.AbstractConv.__init__, args,
                      kwargs)
        super().__init__(*args, **kwargs)

    def _synapse_spec(self, w: np.ndarray) -> fixed.SynapseSpec:
        return conv_synapse_spec(self.synapse, w)


class Output(_SigmaDeltaMixin, _sd.Output):
    """Dense block read by its running sum (lava-dl ``sigma_delta.Output``; netx ``Sigma``):
    classified at the last step, like a readout."""

    layer_type = "dense"
    neuron_type = "SDNN_SIGMA"
    neuron_kind = "readout"
    out_unit = SIGMA_UNIT
