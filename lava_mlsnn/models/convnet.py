"""Ready-made networks for DVS count frames."""
from __future__ import annotations

from typing import List, Optional, Sequence

from .. import block
from ..quant import StaticMembraneQuant, UniformWeight, weight_quantizer


def _neuron(levels: int, threshold: float, v_init: float, voltage_decay: float,
            surrogate: str, membrane_bits: int, norm) -> dict:
    params = dict(threshold=threshold, levels=levels, v_init=v_init,
                  voltage_decay=voltage_decay, surrogate=surrogate, norm=norm)
    if membrane_bits:
        params["membrane"] = StaticMembraneQuant(membrane_bits)
    return params


def dvs_convnet(input_shape: Sequence[int], num_classes: int, levels: int = 4,
                input_levels: int = 7, channels: Sequence[int] = (16, 32), hidden: int = 64,
                timesteps: int = 1, threshold: float = 1.0, v_init: float = 0.5,
                voltage_decay: float = 0.0, surrogate: str = "ste",
                weight_bits: Optional[int] = None, membrane_bits: int = 0,
                standardize: bool = True, classes: Optional[List[str]] = None
                ) -> block.Network:
    """Conv(3x3, stride 2) -> Conv(3x3) -> SumPool(2) -> Dense -> Readout.

    Parameters
    ----------
    input_shape : (C, H, W)
        Count frames, torch order (C = 2 polarities for DVS).
    num_classes : int
    levels : int
        N of every multi-level layer (1: binary spikes).
    input_levels : int
        Largest event count a pixel passes on per step (``inputLevels``).
    channels : (c1, c2)
    hidden : int
        Width of the dense layer.
    timesteps, threshold, v_init, voltage_decay, surrogate
        Neuron options (see :class:`lava_mlsnn.neuron.multilevel.Neuron`).
    weight_bits : int, optional
        Q-SNN weights for the hidden layers (1, 2, 4 or 8); the first and last layers
        keep 8 bits. ``None``: free 8-bit export of real weights.
    membrane_bits : int
        Static membrane quantization of every multi-level neuron (0: off).
    standardize : bool
        WS-DR's per-channel weight standardization for binary weights.
    """
    c, h, w = (int(s) for s in input_shape)
    hidden_norm = "mean_only" if weight_bits is not None and weight_bits < 8 else True
    edge = _neuron(levels, threshold, v_init, voltage_decay, surrogate, membrane_bits, True)
    inner = _neuron(levels, threshold, v_init, voltage_decay, surrogate, membrane_bits,
                    hidden_norm)
    q8 = (lambda: {"pre_hook_fx": UniformWeight(8)}) if weight_bits else dict
    qk = (lambda: {"pre_hook_fx": weight_quantizer(weight_bits, standardize)}) \
        if weight_bits else dict
    c1, c2 = channels
    h1, w1 = (h + 1) // 2, (w + 1) // 2
    h2, w2 = h1 // 2, w1 // 2
    blocks = [
        block.Input((c, h, w), input_levels),
        block.Conv(edge, c, c1, 3, stride=2, padding=1, **q8()),
        block.Conv(inner, c1, c2, 3, padding=1, **qk()),
        block.Pool({**inner, "norm": False}, 2),
        block.Flatten(),
        block.Dense(inner, c2 * h2 * w2, hidden, **qk()),
        block.Readout(dict(norm=True), hidden, num_classes, **q8()),
    ]
    return block.Network(blocks, classes=classes, timesteps=timesteps)


def dvs_resnet(kind: str, input_shape: Sequence[int], num_classes: int, levels: int = 4,
               input_levels: int = 7, widths: Sequence[int] = (16, 32),
               blocks_per_stage: int = 3, timesteps: int = 1, threshold: float = 1.0,
               v_init: float = 0.5, classes: Optional[List[str]] = None) -> block.Network:
    """Stem conv, ``len(widths)`` stages of residual blocks (stride 2 between), readout.

    ``kind`` is ``'sparse'`` (Sparse-ResNet), ``'sew'`` (SEW-ResNet ADD) or
    ``'spiking'`` (Spiking ResNet); all use the same neuron, N and T.
    """
    c, h, w = (int(s) for s in input_shape)
    neuron = dict(threshold=threshold, levels=levels, v_init=v_init)
    stem = {**neuron, "norm": True}
    if kind == "sew":  # ADD joins need unit payloads on the identity path
        stem.update(threshold=1.0, learn_threshold=False)
    blocks = [block.Input((c, h, w), input_levels),
              block.Conv(stem, c, widths[0], 3, stride=2, padding=1)]
    h, w = (h + 1) // 2, (w + 1) // 2
    width = widths[0]
    for s, out in enumerate(widths):
        for b in range(blocks_per_stage):
            stride = 2 if (s > 0 and b == 0) else 1
            blocks.append(block.ResidualBlock(kind, neuron, width, out, stride=stride))
            if stride == 2:
                h, w = (h + 1) // 2, (w + 1) // 2
            width = out
    blocks += [block.Pool({**neuron, "norm": False}, 2) if kind != "sew" else
               block.Pool({**neuron, "norm": False, "threshold": 1.0}, 2),
               block.Flatten(), block.Readout(dict(norm=True), width * (h // 2) * (w // 2),
                                              num_classes)]
    return block.Network(blocks, classes=classes, timesteps=timesteps)
