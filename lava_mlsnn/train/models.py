"""The network a run configuration describes (used by training and by the exporter)."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from .. import block
from ..models import dvs_convnet
from ..quant import StaticMembraneQuant, weight_quantizer

RESNET_KINDS = {"sparse_resnet": "sparse", "sew_resnet": "sew", "spiking_resnet": "spiking"}


def dvs_resnet_full(kind: str, input_shape: Sequence[int], num_classes: int, levels: int,
                    input_levels: int, widths: Sequence[int], blocks_per_stage: int,
                    timesteps: int, neuron: Dict[str, Any], weight_bits: Optional[int] = None,
                    membrane_bits: int = 0, classes: Optional[List[str]] = None
                    ) -> block.Network:
    """:func:`lava_mlsnn.models.dvs_resnet` with every neuron and quantization option.

    Stem conv (3x3, stride 2), ``len(widths)`` stages of ``blocks_per_stage`` residual
    blocks (stride 2 at the start of every stage but the first), sum-pool 2, readout.

    Parameters
    ----------
    kind : {'sparse', 'sew', 'spiking'}
    input_shape : (C, H, W)
    neuron : dict
        ``threshold``, ``v_init``, ``voltage_decay``, ``surrogate`` of every
        multi-level neuron.
    weight_bits : int, optional
        Q-SNN weights of the residual blocks (stem and readout stay 8-bit).
    membrane_bits : int
        Static membrane quantization of every multi-level neuron (0: off).
    """
    c, h, w = (int(s) for s in input_shape)
    params = dict(neuron, levels=levels)
    if membrane_bits:
        params["membrane"] = StaticMembraneQuant(membrane_bits)
    stem = {**params, "norm": True}
    pool = {**params, "norm": False}
    if kind == "sew":  # ADD joins need unit payloads on the identity path
        stem.update(threshold=1.0, learn_threshold=False)
        pool["threshold"] = 1.0
    wq = (lambda: weight_quantizer(weight_bits)) if weight_bits and weight_bits < 8 else None
    blocks: List[Any] = [block.Input((c, h, w), input_levels),
                         block.Conv(stem, c, widths[0], 3, stride=2, padding=1)]
    h, w = (h + 1) // 2, (w + 1) // 2
    width = widths[0]
    for s, out in enumerate(widths):
        for b in range(blocks_per_stage):
            stride = 2 if (s > 0 and b == 0) else 1
            blocks.append(block.ResidualBlock(kind, params, width, out, stride=stride,
                                              weight_quant=wq))
            if stride == 2:
                h, w = (h + 1) // 2, (w + 1) // 2
            width = out
    if h < 2 or w < 2:
        raise ValueError(f"input {tuple(input_shape)} is too small for {len(widths)} stages "
                         "(the final sum-pool needs at least 2x2)")
    blocks += [block.Pool(pool, 2), block.Flatten(),
               block.Readout(dict(norm=True), width * (h // 2) * (w // 2), num_classes)]
    return block.Network(blocks, classes=classes, timesteps=timesteps)


def build_model(config: Dict[str, Dict[str, Any]], input_shape: Sequence[int],
                num_classes: int, classes: Optional[List[str]] = None) -> block.Network:
    """The untrained network of a resolved configuration.

    Parameters
    ----------
    config : dict
        Resolved run configuration (:func:`lava_mlsnn.train.config.resolve`).
    input_shape : (C, H, W)
        Count-frame shape after downsampling, torch order.
    num_classes : int
    classes : list of str, optional
        Class names, written to the exported file.
    """
    data, model, neuron, quant = (config[k] for k in ("data", "model", "neuron", "quant"))
    common = dict(levels=model["levels"], input_levels=data["input_levels"],
                  timesteps=data["timesteps"], classes=classes)
    if model["arch"] == "convnet":
        return dvs_convnet(input_shape, num_classes, channels=tuple(model["channels"]),
                           hidden=model["hidden"], threshold=neuron["threshold"],
                           v_init=neuron["v_init"], voltage_decay=neuron["voltage_decay"],
                           surrogate=neuron["surrogate"], weight_bits=quant["weight_bits"],
                           membrane_bits=quant["membrane_bits"], **common)
    return dvs_resnet_full(RESNET_KINDS[model["arch"]], input_shape, num_classes,
                           widths=model["channels"], blocks_per_stage=model["blocks_per_stage"],
                           neuron=dict(neuron), weight_bits=quant["weight_bits"],
                           membrane_bits=quant["membrane_bits"], **common)
