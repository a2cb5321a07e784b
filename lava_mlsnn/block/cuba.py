"""lava-dl's binary CUBA-LIF blocks, usable inside a lava-mlsnn :class:`Network`.

These are ``lava.lib.dl.slayer.block.cuba`` blocks with the deployed-integer
interface added (``fold``, the quantized forward, ``export_layers``), so binary
baselines are trained, exported (as stock ``CUBA`` layers) and run exactly like
multi-level ones. They read unit payloads: binary spikes or raw event counts.

In training on the CPU the neuron's time loop runs compiled
(:mod:`lava_mlsnn.neuron.cuba_sequence`, lava-dl's forward bit for bit, its gradients
to rounding) and the Conv block's synapse frame by frame (:mod:`.frames`, the same sums),
wherever those modules' ``applies`` say they compute what lava-dl does; elsewhere the
block runs lava-dl's own forward.
"""
from __future__ import annotations

import numpy as np
import torch

from .. import fixed
from .._quiet import quiet_import
from ..neuron import cuba_sequence
from . import frames
from .base import (Folded, FoldError, QuantizedMixin, SpatialShapeMixin, conv_synapse_spec,
                   lava_dl_signature, per_channel_bias, refuse_delays)

_cuba = quiet_import("lava.lib.dl.slayer").block.cuba
_slayer_base = quiet_import("lava.lib.dl.slayer").block.base


class _CubaMixin(QuantizedMixin):
    def _init_aligned(self) -> None:
        # lava-mlsnn trains in aligned time; the Lava runner absorbs synapse latency.
        self.delay_shift = False

    def fold(self, in_scale: float) -> Folded:
        if abs(in_scale - 1.0) > 1e-9:
            raise ValueError(f"{type(self).__name__} (CUBA) reads unit payloads (spikes or raw "
                             f"counts); its source sends values worth {in_scale:g}")
        w = self.synapse.pre_hook_fx(self.synapse.weight, descale=True).detach()
        w = w.to(torch.float64).round().to(torch.int64).numpy()
        dp = self.neuron.device_params
        if dp.get("gradedSpike"):
            raise FoldError("graded_spike=True (lava-dl's graded CUBA output) has no "
                            "deployed form here; use lava-mlsnn's multi-level blocks")
        if not self.neuron.shared_param:
            raise FoldError("shared_param=False (per-channel decays) has no deployed form "
                            "here")
        bias = self._norm_bias()
        params = fixed.NeuronParams("CUBA", int(dp["vThMant"]), 1, int(dp["iDecay"]),
                                    int(dp["vDecay"]), bias=bias)
        return Folded(self._synapse_spec(w), params, 1.0)

    def _norm_bias(self):
        """The neuron's norm as lava-dl exports it: ``bias = norm.bias`` (``-mean`` on the
        weight grid, in weight units), added to ``v`` every step as netx does.

        lava-dl subtracts the mean from the current after its decay, which is a bias
        on ``v``; a ``WgtScaleBatchNorm`` also divides that current by ``2**weight_exp``,
        which the integer synapse can only reproduce when the exponent is 0.
        """
        norm = getattr(self.neuron, "norm", None)
        if norm is None:
            return None
        if hasattr(norm, "weight_exp"):
            std = norm.std(norm.running_var.detach())
            exp = float(torch.log2(std).reshape(-1)[0])
            if exp != 0.0:
                raise FoldError(f"{type(norm).__name__} scales the decayed current by "
                                f"2**{-exp:g}, which has no exact integer form; use "
                                "MeanOnlyBatchNorm for deployed CUBA blocks")
        bias = norm.bias.detach().to(torch.float64)
        if torch.any(bias != torch.round(bias)):
            raise FoldError("the norm's bias is not on the integer weight grid")
        bias = bias.to(torch.int64).numpy().reshape(-1)
        return per_channel_bias(bias, len(self.neuron.shape)) if len(self.neuron.shape) > 1 \
            else bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.folded is not None and not self.training:
            return self.quantized_forward(x)
        if self.delay_shift is True or self.delay is not None \
                or getattr(getattr(self, "synapse", None), "complex", False) \
                or not cuba_sequence.neuron_applies(self.neuron):
            return super().forward(x)
        # lava-dl's AbstractDense / AbstractConv forward, each part on its faster
        # equivalent where that one applies
        mask = getattr(self, "mask", None)
        if mask is not None:
            self.synapse.weight.data *= mask
        z = self._synapse_forward(x)
        if cuba_sequence.applies(self.neuron, z):
            s = cuba_sequence.run(self.neuron, z)
        else:  # lava-dl's neuron on lava-dl's time-last layout
            s = self.neuron(z.contiguous())
        return (s, torch.mean(s > 0)) if self.count_log is True else s

    def _synapse_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.synapse(x)


@lava_dl_signature(_slayer_base.AbstractDense.__init__, delay_shift=False)
class Dense(_CubaMixin, _cuba.Dense):
    """Binary CUBA-LIF dense block (lava-dl ``cuba.Dense``), aligned time.

    Parameters
    ----------
    neuron_params : dict
        lava-dl's CUBA neuron keys (``slayer.neuron.cuba.Neuron``: ``threshold``,
        ``current_decay``, ``voltage_decay``, ``tau_grad``, ``scale_grad``,
        ``requires_grad``, ``norm``, ``dropout``, ...), as in lava-dl.
    in_neurons, out_neurons : int
    weight_scale, weight_norm, pre_hook_fx, mask, count_log
        As lava-dl's ``slayer.block.cuba.Dense``.
    delay, delay_shift : bool
        ``False`` only (aligned time, DESIGN §4).
    """

    layer_type = "dense"

    def __init__(self, *args, **kwargs):
        refuse_delays(type(self).__name__, _slayer_base.AbstractDense.__init__, args, kwargs)
        super().__init__(*args, **kwargs)
        self._init_aligned()

    def _synapse_spec(self, w: np.ndarray) -> fixed.SynapseSpec:
        return fixed.SynapseSpec("dense", w.reshape(w.shape[0], -1))


@lava_dl_signature(_slayer_base.AbstractConv.__init__, delay_shift=False)
class Conv(SpatialShapeMixin, _CubaMixin, _cuba.Conv):
    """Binary CUBA-LIF conv block (lava-dl ``cuba.Conv``), aligned time.

    Parameters
    ----------
    neuron_params : dict
        lava-dl's CUBA neuron keys, as :class:`Dense`.
    in_features, out_features : int
    kernel_size, stride, padding, dilation, groups
        As ``torch.nn.Conv2d``.
    weight_scale, weight_norm, pre_hook_fx, count_log
        As lava-dl's ``slayer.block.cuba.Conv``.
    delay, delay_shift : bool
        ``False`` only (aligned time, DESIGN §4).
    """

    layer_type = "conv"

    def __init__(self, *args, **kwargs):
        refuse_delays(type(self).__name__, _slayer_base.AbstractConv.__init__, args, kwargs)
        super().__init__(*args, **kwargs)
        self._init_aligned()

    def _synapse_spec(self, w: np.ndarray) -> fixed.SynapseSpec:
        return conv_synapse_spec(self.synapse, w)

    def _synapse_forward(self, x: torch.Tensor) -> torch.Tensor:
        return frames.conv(self.synapse, x)  # frame by frame, time-first: the same sums
