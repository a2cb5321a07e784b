"""The network a run configuration describes (used by training and by the exporter)."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from .. import block
from ..models import dvs_convnet, resnet, residual_net, vgg
from ..quant import StaticMembraneQuant, configure_binary_weights
from .config import ARCH_KINDS, JOIN_KEYS


def dvs_resnet_full(kind: str, input_shape: Sequence[int], num_classes: int, levels: int,
                    input_levels: int, widths: Sequence[int], blocks_per_stage: int,
                    timesteps: int, neuron: Dict[str, Any], weight_bits: Optional[int] = None,
                    membrane_bits: int = 0, classes: Optional[List[str]] = None,
                    **options: Any) -> block.Network:
    """:func:`lava_mlsnn.models.dvs_resnet` with every neuron and quantization option.

    Stem conv (3x3, stride 2), ``len(widths)`` stages of ``blocks_per_stage`` residual
    blocks (stride 2 at the start of every stage but the first), sum-pool 2, readout.

    Parameters
    ----------
    kind : {'sparse', 'sew', 'spiking', 'iand'}
    input_shape : (C, H, W)
    neuron : dict
        ``threshold``, ``v_init``, ``voltage_decay``, ``surrogate`` of every
        multi-level neuron.
    weight_bits : int, optional
        Q-SNN weights of the residual blocks (stem and readout stay 8-bit).
    membrane_bits : int
        Static membrane quantization of every multi-level neuron (0: off).
    **options
        ``barrier``, ``barrier_ste``, ``barrier_levels``, ``barrier_threshold``,
        ``stem_stride`` of
        :func:`lava_mlsnn.models.residual_net`.
    """
    params = dict(neuron)
    if membrane_bits:
        params["membrane"] = StaticMembraneQuant(membrane_bits)
    return residual_net(kind, input_shape, num_classes, widths=widths, blocks=blocks_per_stage,
                        levels=levels, input_levels=input_levels, timesteps=timesteps,
                        neuron=params, weight_bits=weight_bits, classes=classes, **options)


def build_model(config: Dict[str, Dict[str, Any]], input_shape: Sequence[int],
                num_classes: int, classes: Optional[List[str]] = None) -> block.Network:
    """The untrained network of a resolved configuration (see :func:`_architecture`), its
    1-bit layers set per ``quant.standardize`` and ``quant.binary_unit``."""
    net = _architecture(config, input_shape, num_classes, classes)
    quant = config["quant"]
    configure_binary_weights(net, standardize=quant["standardize"], unit=quant["binary_unit"])
    return net


def _architecture(config: Dict[str, Dict[str, Any]], input_shape: Sequence[int],
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
    params = dict(neuron)
    if quant["membrane_bits"]:
        params["membrane"] = StaticMembraneQuant(quant["membrane_bits"])
    if model["arch"].startswith("vgg"):
        return vgg(model["arch"], input_shape, num_classes, width=model["width"],
                   weight_bits=quant["weight_bits"], neuron=params, **common)
    barrier = {k: model[k] for k in JOIN_KEYS}
    if model["arch"] in ("resnet18", "resnet19"):
        return resnet(model["arch"], model["join"], input_shape, num_classes,
                      width=model["width"], stem_stride=model["stem_stride"], neuron=params,
                      weight_bits=quant["weight_bits"], **barrier, **common)
    return dvs_resnet_full(ARCH_KINDS[model["arch"]], input_shape, num_classes,
                           widths=model["channels"], blocks_per_stage=model["blocks_per_stage"],
                           neuron=dict(neuron), weight_bits=quant["weight_bits"],
                           membrane_bits=quant["membrane_bits"], **barrier, **common)
