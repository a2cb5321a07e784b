"""Multi-level blocks in lava-dl's block pattern (``slayer/block/cuba.py``).

``neuron_params`` is a dict of :class:`lava_mlsnn.neuron.multilevel.Neuron`
arguments; ``norm=True`` in it adds a BatchNorm that folds into the integers at
export. A lava-dl neuron dict works too: the keys that mean the same thing here
(``tau_grad``, ``scale_grad``, ``requires_grad=False``, ``shared_param=True``, ...)
are accepted and every other key is refused by name (the table in
:mod:`lava_mlsnn.neuron.lava_dl`). Blocks default to ``delay_shift=False``: lava-mlsnn trains in *aligned*
time (DESIGN §4) and the Lava runner absorbs the synapse latency.

Every block runs in two modes: real-valued (training, ``theta * z`` on the wire)
and quantized (after :meth:`Network.quantize`, integer payloads on the wire,
arithmetic from :mod:`lava_mlsnn.fixed`).
"""
from __future__ import annotations

from typing import List, Optional

import numpy as np
import torch
import torch.nn.functional as F
from lava.lib.dl.slayer.block import base as slayer_base
from lava.lib.dl.slayer.synapse import layer as synapse

from .. import fixed
from ..format.spec import LayerSpec
from ..neuron import multilevel, readout
from ..neuron.lava_dl import neuron_kwargs
from .base import (Folded, QuantizedMixin, SpatialShapeMixin, conv_synapse_spec, fold_weights,
                   lava_dl_signature, per_channel_bias, real_weight, refuse_delays)
from . import frames
from .own_export import export_block

_BLOCK_PARAMS = """
    weight_scale : int
        Scale of the initial weights (lava-dl's).
    weight_norm : bool
        Weight normalisation of the synapse during training (folded at export).
    pre_hook_fx : callable, optional
        Weight quantizer applied in the forward (:mod:`lava_mlsnn.quant.weights`).
    delay : bool
        ``False`` only: learnable axonal delays are refused.
    delay_shift : bool
        ``False`` only: lava-mlsnn trains in aligned time (DESIGN §4).
    count_log : bool
        lava-dl's synaptic-event count log."""


def _neuron(params: dict, channels: int, kind: str = "multilevel"):
    kwargs = neuron_kwargs(params, channels, kind)
    return readout.Neuron(**kwargs) if kind == "readout" else multilevel.Neuron(**kwargs)


class AbstractMultiLevel(torch.nn.Module):
    """Mixin that gives a lava-dl abstract block a multi-level (or readout) neuron."""

    neuron_kind = "multilevel"

    def __init__(self, *args, **kwargs):
        base = next(c for c in type(self).__mro__ if c.__module__ == slayer_base.__name__)
        refuse_delays(type(self).__name__, base.__init__, args, kwargs)
        kwargs.setdefault("delay_shift", False)
        super().__init__(*args, **kwargs)
        if getattr(self, "count_log", False):
            raise ValueError(f"{type(self).__name__}: count_log=True is not supported (blocks "
                             "of a block.Network pass one tensor on; lava_mlsnn.metrics "
                             "counts the events)")
        channels = self._out_channels()
        self.neuron = _neuron(self.neuron_params, channels, self.neuron_kind)
        self.delay = None
        del self.neuron_params

    def _out_channels(self) -> int:
        p = self.synapse_params
        return int(p.get("out_neurons", p.get("out_features", 0)))

    def fold(self, in_scale: float) -> Folded:
        """Integer synapse and neuron for an input payload worth ``in_scale`` each."""
        is_readout = self.neuron_kind == "readout"
        w = real_weight(self.synapse, getattr(self, "mask", None))
        fw = fold_weights(w, self.neuron.norm, in_scale, self.neuron, is_readout,
                          getattr(self.synapse, "pre_hook_fx", None))
        bias = per_channel_bias(fw.bias, len(self.neuron.shape))
        if is_readout:
            params = self.neuron.integer_params(bias, fw.bias_exp)
            out_scale = 1.0 / (fw.c * (1 << fixed.STATE_SHIFT))
        else:
            params = self.neuron.integer_params(fw.v_th_mant, bias, fw.bias_exp)
            out_scale = self.neuron.threshold
        return Folded(self._synapse_spec(fw.weight), params, out_scale, fw.weight_bits,
                      fw.weight_scale)

    def _apply_mask(self) -> None:
        """lava-dl's fixed weight ``mask`` (dense blocks), applied to the weights as
        lava-dl's forward does before every use (an optimizer step may have moved them)."""
        mask = getattr(self, "mask", None)
        if mask is not None:
            with torch.no_grad():
                self.synapse.weight.data *= mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.folded is not None and not self.training:
            return self.quantized_forward(x)
        self._apply_mask()
        z = self._synapse_forward(x)
        return self.neuron(z)

    def _synapse_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.synapse(x)

    def export_hdf5(self, handle) -> None:
        """Write this block as the layer group ``handle`` (``layer/<i>``), lava-dl's
        own-Module pattern: the block folds reading the layer written before it into
        ``layer/<i-1>`` (:func:`lava_mlsnn.block.own_export.export_block`).
        :meth:`Network.export_hdf5` writes the whole file in one call."""
        export_block(self, handle)


@lava_dl_signature(slayer_base.AbstractDense.__init__, delay_shift=False)
class Dense(AbstractMultiLevel, QuantizedMixin, slayer_base.AbstractDense):
    __doc__ = """Fully connected multi-level layer: ``in_neurons -> out_neurons``.

    Parameters
    ----------
    neuron_params : dict
        Neuron keys (:class:`~lava_mlsnn.neuron.multilevel.Neuron`, or a lava-dl
        dict: :mod:`lava_mlsnn.neuron.lava_dl`).
    in_neurons, out_neurons : int
        Input and output features.""" + _BLOCK_PARAMS + """
    mask : tensor, optional
        lava-dl's fixed weight mask.
    """

    layer_type = "dense"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.synapse = synapse.Dense(**self.synapse_params)
        self.neuron.shape = torch.Size([self.synapse.out_channels])
        del self.synapse_params

    def _out_channels(self) -> int:
        return int(self.synapse_params["out_neurons"])

    def _synapse_spec(self, w: np.ndarray) -> fixed.SynapseSpec:
        return fixed.SynapseSpec("dense", w.reshape(w.shape[0], -1))


class Readout(Dense):
    """Dense layer with a non-spiking readout neuron (``READOUT``): the classifier.

    Parameters
    ----------
    neuron_params : dict
        ``voltage_decay``, ``norm``, ``dropout``, ``persistent_state``; keys that only
        shape a spike are accepted and have no effect (:mod:`lava_mlsnn.neuron.lava_dl`).
    in_neurons, out_neurons, ...
        As :class:`Dense`.
    """

    neuron_kind = "readout"


@lava_dl_signature(slayer_base.AbstractConv.__init__, delay_shift=False)
class Conv(SpatialShapeMixin, AbstractMultiLevel, QuantizedMixin, slayer_base.AbstractConv):
    __doc__ = """2-D convolution multi-level layer (``in_features -> out_features`` channels).

    Parameters
    ----------
    neuron_params : dict
        Neuron keys (:class:`~lava_mlsnn.neuron.multilevel.Neuron`, or a lava-dl
        dict: :mod:`lava_mlsnn.neuron.lava_dl`).
    in_features, out_features : int
        Input and output channels.
    kernel_size, stride, padding, dilation : int or pair of int
        As ``torch.nn.Conv2d`` (height, width).
    groups : int
        Grouped convolution.""" + _BLOCK_PARAMS + """
    """

    layer_type = "conv"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.synapse = synapse.Conv(**self.synapse_params)
        del self.synapse_params

    def _synapse_spec(self, w: np.ndarray) -> fixed.SynapseSpec:
        return conv_synapse_spec(self.synapse, w)

    def _synapse_forward(self, x: torch.Tensor) -> torch.Tensor:
        return frames.conv(self.synapse, x)  # frame by frame, time-first: the same sums


class SumPool(torch.nn.Module):
    """Sum pooling over ``[N, C, H, W, T]`` with a fixed real weight per summed value."""

    def __init__(self, kernel_size, stride=None, padding=0, weight: float = 1.0):
        super().__init__()
        pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)  # noqa: E731
        self.kernel_size = pair(kernel_size)
        self.stride = pair(stride if stride is not None else kernel_size)
        self.padding = pair(padding)
        self.register_buffer("weight", torch.tensor([float(weight)]))
        self.pre_hook_fx = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.avg_pool3d(x, self.kernel_size + (1,), self.stride + (1,), self.padding + (0,),
                         count_include_pad=True, divisor_override=1)
        return y * self.weight


class Pool(SpatialShapeMixin, AbstractMultiLevel, QuantizedMixin, slayer_base.AbstractPool):
    """Sum pooling followed by a multi-level neuron (no learnable weight).

    Parameters
    ----------
    neuron_params : dict
        Neuron keys, as :class:`Dense`.
    kernel_size : int or pair of int
    stride : int or pair of int, optional
        Default: ``kernel_size``.
    padding : int or pair of int
    dilation, weight_scale, weight_norm, pre_hook_fx
        lava-dl's ``AbstractPool`` arguments at their defaults only: a sum pool has no
        dilation and no learnable weight, so any other value is refused.
    delay, delay_shift : bool
        ``False`` only (aligned time, DESIGN §4).
    count_log : bool
        lava-dl's synaptic-event count log.
    """

    layer_type = "pool"

    def __init__(self, neuron_params: Optional[dict], kernel_size, stride=None, padding=0,
                 dilation=1, weight_scale=1, weight_norm: bool = False, pre_hook_fx=None,
                 delay: bool = False, delay_shift: bool = False, count_log: bool = False):
        dilation = dilation if isinstance(dilation, int) else tuple(dilation)
        given = {"dilation": dilation not in (1, (1, 1)), "weight_scale": weight_scale != 1,
                 "weight_norm": bool(weight_norm), "pre_hook_fx": pre_hook_fx is not None}
        for name in (k for k, changed in given.items() if changed):
            raise ValueError(f"Pool: {name} is not supported (a sum pool has no dilation and "
                             "no learnable weight)")
        super().__init__(neuron_params, kernel_size, stride, padding, delay=delay,
                         delay_shift=delay_shift, count_log=count_log)
        self.synapse = SumPool(kernel_size, stride, padding)
        del self.synapse_params

    def _out_channels(self) -> int:
        return 0  # pool layers carry no BatchNorm

    def _synapse_spec(self, w: np.ndarray) -> fixed.SynapseSpec:
        s = self.synapse
        return fixed.SynapseSpec("pool", np.asarray(w).reshape(-1)[:1].reshape(()),
                                 stride=s.stride, padding=s.padding, kernel=s.kernel_size)


class Input(torch.nn.Module):
    """Network input: passes the event-count payload on, clipped to ``[0, levels]``.

    Parameters
    ----------
    shape : tuple of int
        ``(C, H, W)`` or ``(F,)``, torch order.
    levels : int
        ``inputLevels``: the largest count a pixel sends in one step.
    """

    layer_type = "input"

    def __init__(self, shape, levels: int = 1):
        super().__init__()
        self.shape = tuple(int(s) for s in shape)
        self.levels = int(levels)
        self.folded: Optional[Folded] = None

    def fold(self, in_scale: float = 1.0) -> Folded:
        return Folded(None, fixed.NeuronParams("INPUT", input_levels=self.levels), 1.0)

    def install(self, folded: Optional[Folded]) -> None:
        self.folded = folded

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.folded is not None and not self.training:
            return fixed.input_payload(x, self.levels)
        return torch.clamp(x, 0, self.levels)

    def export_layers(self, source: int, start: int = 0,
                      folded: Optional[Folded] = None) -> List[LayerSpec]:
        return [LayerSpec("input", self.shape, source, [], (folded or self.fold()).neuron)]

    def export_hdf5(self, handle) -> None:
        """Write the ``input`` layer group ``layer/0`` and the file's root attributes
        (lava-dl's own-Module pattern, :mod:`lava_mlsnn.block.own_export`)."""
        export_block(self, handle)


class Flatten(slayer_base.AbstractFlatten):
    """``[N, C, H, W, T] -> [N, C*H*W, T]`` in C-major (torch) order."""

    layer_type = "flatten"
    folded = None

    def fold(self, in_scale: float) -> Folded:
        return Folded(None, None, in_scale)

    def install(self, folded: Optional[Folded]) -> None:
        self.folded = folded

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.shape = [int(np.prod(x.shape[1:-1]))]
        return x.reshape(x.shape[0], -1, x.shape[-1])

    def export_layers(self, source: int, start: int = 0,
                      folded: Optional[Folded] = None) -> List[LayerSpec]:
        if getattr(self, "shape", None) is None:
            raise ValueError("Flatten: its shape is known after one forward pass; run the "
                             "network once first")
        return [LayerSpec("flatten", (int(self.shape[0]),), source)]

    def export_hdf5(self, handle) -> None:
        """Write the ``flatten`` layer group (lava-dl's own-Module pattern,
        :mod:`lava_mlsnn.block.own_export`)."""
        export_block(self, handle)
