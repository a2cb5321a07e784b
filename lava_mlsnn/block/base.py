"""What every lava-mlsnn block shares: folding to integers and the quantized path.

A block is synapse + neuron (lava-dl's pattern). Training runs in real units: a
multi-level layer passes ``theta * z`` on. Deployment runs in integers: the wire
carries ``z`` and each layer's ``theta`` (and BatchNorm) is folded into the next
synapse. :meth:`fold` computes those integers once, for export *and* for the
quantized forward, so the two cannot disagree.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np
import torch

from .. import fixed
from ..netx.spec import Branch, LayerSpec

MAX_V_TH_MANT = (1 << 17) - 1


@dataclass
class Folded:
    """Integer form of one block: its synapse, neuron, and the real value of one unit
    of its output payload (``out_scale``)."""

    synapse: Optional[fixed.SynapseSpec]
    neuron: Optional[fixed.NeuronParams]
    out_scale: float
    weight_bits: int = 0
    weight_scale: int = 0


def real_weight(synapse: torch.nn.Module) -> torch.Tensor:
    """Weight after the synapse's pre-hook (the quantizer during training)."""
    w = synapse.weight
    hook = getattr(synapse, "pre_hook_fx", None)
    return w if hook is None else hook(w)


def fold_weights(w_real: torch.Tensor, norm, in_scale: float, neuron, readout: bool
                 ) -> Tuple[np.ndarray, Optional[np.ndarray], int, float]:
    """Fold BatchNorm and thresholds into integer weights, bias and ``vThMant``.

    The integer scale ``c`` (integer current per real unit of current) is the
    largest that keeps every weight in Loihi's 8-bit range, rounded so that the
    threshold ``c * theta`` is an integer mantissa.

    Parameters
    ----------
    w_real : tensor ``(out, ...)``
        Real weights (SLAYER layout, trailing singleton axes allowed).
    norm : BatchNorm or None
    in_scale : float
        Real value of one unit of the input payload.
    neuron : the block's neuron (``threshold`` in real units)
    readout : bool
        A READOUT layer has no threshold: its scale only has to fit the weights.

    Returns
    -------
    (weight int64, bias int64 per channel or None, vThMant, c)
    """
    w = w_real.detach().to(torch.float64)
    shift = None
    if norm is not None:
        scale, shift = norm.folded()
        scale, shift = scale.detach().to(torch.float64), shift.detach().to(torch.float64)
        w = w * scale.reshape((-1,) + (1,) * (w.dim() - 1))
    w = w * in_scale
    c = fixed.LOIHI_WEIGHT_MAX / (float(w.abs().max()) or 1.0)
    if readout:
        v_th_mant = 1
    else:
        theta = neuron.threshold
        v_th_mant = int(np.clip(np.floor(c * theta), 1, MAX_V_TH_MANT))
        c = v_th_mant / theta
    w_int = torch.clamp(torch.round(w * c), fixed.LOIHI_WEIGHT_MIN, fixed.LOIHI_WEIGHT_MAX)
    bias = None if shift is None else torch.round(shift * c).to(torch.int64).numpy()
    return w_int.to(torch.int64).numpy(), bias, v_th_mant, c


class QuantizedMixin:
    """Integer forward of a block, shared by every synapse+neuron block.

    ``self.folded`` (set by :meth:`lava_mlsnn.block.Network.quantize`) holds the
    deployed integers; the block then runs :mod:`lava_mlsnn.fixed` step by step.
    """

    folded: Optional[Folded] = None

    def quantized_forward(self, z: torch.Tensor) -> torch.Tensor:
        """Integer payload ``[N, *in_shape, T]`` -> integer payload ``[N, *shape, T]``."""
        f = self.folded
        z = z.to(torch.int64)
        outs = []
        state = None
        for t in range(z.shape[-1]):
            a = fixed.synapse_current(f.synapse, z[..., t])
            if state is None:
                state = fixed.initial_state(f.neuron, a.shape, a)
            state, out = fixed.neuron_step(state, a, f.neuron)
            outs.append(out)
        return torch.stack(outs, dim=-1)

    def layer_spec(self, source: int) -> LayerSpec:
        """The DESIGN §6 layer this block exports, reading layer ``source``."""
        f = self.folded
        return LayerSpec(self.layer_type, tuple(int(s) for s in self.neuron.shape), source,
                         [Branch(source, f.synapse)], f.neuron, f.weight_bits, f.weight_scale)

    def export_layers(self, source: int, start: int = 0) -> List[LayerSpec]:
        return [self.layer_spec(source)]


def per_channel_bias(bias: Optional[np.ndarray], ndim: int) -> Optional[np.ndarray]:
    """Shape a per-channel bias so it broadcasts over a ``(C, H, W)`` layer."""
    if bias is None:
        return None
    return bias.reshape((-1,) + (1,) * (ndim - 1))
