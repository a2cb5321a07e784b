"""A small convolutional multi-level network for DVS count frames."""
from __future__ import annotations

from typing import List, Optional, Sequence

from .. import block


def dvs_convnet(input_shape: Sequence[int], num_classes: int, levels: int = 4,
                input_levels: int = 7, channels: Sequence[int] = (16, 32), hidden: int = 64,
                timesteps: int = 1, threshold: float = 1.0, v_init: float = 0.5,
                voltage_decay: float = 0.0, surrogate: str = "ste",
                classes: Optional[List[str]] = None) -> block.Network:
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
    """
    c, h, w = (int(s) for s in input_shape)
    neuron = dict(threshold=threshold, levels=levels, v_init=v_init,
                  voltage_decay=voltage_decay, surrogate=surrogate, norm=True)
    c1, c2 = channels
    h1, w1 = (h + 1) // 2, (w + 1) // 2
    h2, w2 = h1 // 2, w1 // 2
    blocks = [
        block.Input((c, h, w), input_levels),
        block.Conv(neuron, c, c1, 3, stride=2, padding=1),
        block.Conv(neuron, c1, c2, 3, padding=1),
        block.Pool({**neuron, "norm": False}, 2),
        block.Flatten(),
        block.Dense(neuron, c2 * h2 * w2, hidden),
        block.Readout(dict(norm=True), hidden, num_classes),
    ]
    return block.Network(blocks, classes=classes, timesteps=timesteps)
