"""The papers' architectures: VGG-11/16 (and Q-SNN's VGGSNN), ResNet-18/19-style nets.

Every net is built from :mod:`lava_mlsnn.block`, so it trains with multi-level
neurons and exports a deployable, bit-exact file. Adaptations for deployment (the
same in every net): average pooling becomes a sum pool with a multi-level neuron,
the classifier is one readout layer, BatchNorm folds into the convolutions, and the
global average pool of the ResNets is a 2x2 sum pool before the readout.
``width`` scales every channel count (``width=1``: the papers' widths; small values
give test-sized instances of the same topology).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Union

from .. import block
from ..block.residual import check_kind
from ..quant import UniformWeight, weight_quantizer

VGG_CONFIGS: Dict[str, List[Union[int, str]]] = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
              512, 512, 512, "M"],
    # Q-SNN's DVS-CIFAR10 net (VGG_models.py): 64C3-128C3-AP2-256C3-256C3-AP2-(512C3 x2-AP2) x2
    "vggsnn": [64, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
}
RESNET_CONFIGS: Dict[str, Dict[str, Any]] = {
    "resnet18": {"widths": (64, 128, 256, 512), "blocks": (2, 2, 2, 2)},
    "resnet19": {"widths": (128, 256, 512), "blocks": (3, 3, 2)},  # Q-SNN's ResNet_CIFAR
}


def _scaled(c: int, width: float) -> int:
    return max(1, int(round(c * width)))


def _neuron(levels: int, neuron: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    return {"threshold": 1.0, "v_init": 0.5, **(neuron or {}), "levels": int(levels)}


def vgg(config: Union[str, Sequence[Union[int, str]]], input_shape: Sequence[int],
        num_classes: int, levels: int = 4, input_levels: int = 7, timesteps: int = 1,
        width: float = 1.0, weight_bits: Optional[int] = None,
        neuron: Optional[Dict[str, Any]] = None, classes: Optional[List[str]] = None
        ) -> block.Network:
    """VGG-style multi-level net: 3x3 conv layers, ``'M'`` = 2x2 sum pool, one readout.

    Parameters
    ----------
    config : {'vgg11', 'vgg16', 'vggsnn'} or list
        Channel counts and ``'M'`` (pool) markers.
    input_shape : (C, H, W)
    levels : int
        N of every multi-level neuron (1: binary).
    width : float
        Channel multiplier.
    weight_bits : int, optional
        Q-SNN weights (1, 2, 4, 8) for the hidden convs; first conv and readout 8-bit.
    neuron : dict, optional
        ``threshold``, ``v_init``, ``voltage_decay``, ``surrogate`` overrides.
    """
    layers = VGG_CONFIGS[config] if isinstance(config, str) else list(config)
    c, h, w = (int(s) for s in input_shape)
    params = _neuron(levels, neuron)
    inner_norm = "mean_only" if weight_bits is not None and weight_bits < 8 else True
    q8 = (lambda: {"pre_hook_fx": UniformWeight(8)}) if weight_bits else dict
    qk = (lambda: {"pre_hook_fx": weight_quantizer(weight_bits)}) if weight_bits else dict
    blocks: List[Any] = [block.Input((c, h, w), input_levels)]
    first = True
    for item in layers:
        if item == "M":
            if h < 2 or w < 2:
                raise ValueError(f"input {tuple(input_shape)} is too small for {config}")
            blocks.append(block.Pool({**params, "norm": False}, 2))
            h, w = h // 2, w // 2
            continue
        out = _scaled(int(item), width)
        norm = True if first else inner_norm
        blocks.append(block.Conv({**params, "norm": norm}, c, out, 3, padding=1,
                                 **(q8() if first else qk())))
        c, first = out, False
    blocks += [block.Flatten(), block.Readout(dict(norm=True), c * h * w, num_classes, **q8())]
    return block.Network(blocks, classes=classes, timesteps=timesteps)


def check_join_options(kind: str, barrier: str = "block", barrier_ste: str = "identity",
                       barrier_levels: Optional[int] = None,
                       barrier_threshold: Optional[float] = None) -> None:
    """Refuse a join option that a residual ``kind`` would not use (one-line ValueError).

    ``barrier``, ``barrier_ste`` and ``barrier_threshold`` shape the Sparse-ResNet barrier
    only; ``barrier_levels`` is the N_b of the sparse and IAND joins. A SEW or Spiking
    ResNet given one of them would silently build the plain net.
    """
    check_kind(kind)
    if barrier not in ("block", "stage", "shortcut"):
        raise ValueError(f"barrier must be 'block', 'stage' or 'shortcut', got {barrier!r}")
    if kind != "sparse":
        for name, value, default in (("barrier", barrier, "block"),
                                     ("barrier_ste", barrier_ste, "identity"),
                                     ("barrier_threshold", barrier_threshold, None)):
            if value != default:
                raise ValueError(f"{name} is an option of Sparse-ResNet (kind='sparse'), "
                                 f"not of kind={kind!r}")
    if barrier_levels is not None and kind not in ("sparse", "iand"):
        raise ValueError(f"barrier_levels is an option of the sparse and iand joins, not of "
                         f"kind={kind!r}")
    if barrier_threshold is not None:
        if barrier != "block":
            raise ValueError("barrier_threshold is an option of Sparse-ResNet with a barrier "
                             "after every block (barrier='block')")
        if not barrier_threshold > 0:
            raise ValueError(f"barrier_threshold must be > 0, got {barrier_threshold}")


def residual_net(kind: str, input_shape: Sequence[int], num_classes: int,
                 widths: Sequence[int] = (16, 32), blocks: Union[int, Sequence[int]] = 4,
                 levels: int = 4, input_levels: int = 7, timesteps: int = 1,
                 stem_stride: int = 2, neuron: Optional[Dict[str, Any]] = None,
                 barrier: str = "block", barrier_ste: str = "identity",
                 barrier_levels: Optional[int] = None,
                 barrier_threshold: Optional[float] = None, weight_bits: Optional[int] = None,
                 classes: Optional[List[str]] = None) -> block.Network:
    """Stem conv, one stage of residual blocks per width (stride 2 between), readout.

    Parameters
    ----------
    kind : {'sparse', 'sew', 'iand', 'spiking'}
        Join of every block (``'ms'``, MS-ResNet, is refused: not deployable).
    widths : sequence of int
        Channels per stage.
    blocks : int or sequence of int
        Blocks per stage.
    barrier : {'block', 'stage', 'shortcut'}
        Sparse-ResNet only: a barrier after every block's add, only after the last block
        of each stage (the others are SEW ADD joins; barrier and stem then keep unit
        thresholds so the ADD stays exact), or on every block's shortcut before an ADD
        join (SEW blocks with ``shortcut_barrier``).
    barrier_ste : {'identity', 'clipped'}
        Backward pass of the barrier.
    barrier_levels : int, optional
        N_b of the barrier (default ``levels``).
    barrier_threshold : float, optional
        Initial (learned) threshold of the barrier after every block's add (default 1.0, the
        unit of the neurons that feed it). The barrier's level is about ``round(sum /
        threshold)`` (its membrane starts at half a threshold), so above 2 a lone unit spike
        on one branch no longer passes the join. Only with ``kind='sparse'`` and
        ``barrier='block'``.
    weight_bits : int, optional
        Q-SNN weights of the residual blocks (not for ``'spiking'``).
    """
    check_join_options(kind, barrier, barrier_ste, barrier_levels, barrier_threshold)
    per_stage = [int(blocks)] * len(widths) if isinstance(blocks, int) else list(blocks)
    if len(per_stage) != len(widths):
        raise ValueError("blocks needs one count per stage (or one int)")
    c, h, w = (int(s) for s in input_shape)
    params = _neuron(levels, neuron)
    unit = {"threshold": 1.0, "learn_threshold": False}
    mixed = kind == "sparse" and barrier == "stage"
    on_short = kind == "sparse" and barrier == "shortcut"
    adds = kind == "sew" or on_short  # ADD joins: unit payloads into the join
    stem = {**params, "norm": True, **(unit if adds or mixed else {})}
    pool = {**params, "norm": False, **({"threshold": 1.0} if adds else {})}
    join = {} if barrier_levels is None else {"levels": int(barrier_levels)}
    if barrier_threshold is not None:
        join["threshold"] = float(barrier_threshold)
    if mixed:
        join.update(unit)
    wq = (lambda: weight_quantizer(weight_bits)) if weight_bits and weight_bits < 8 else None
    net: List[Any] = [block.Input((c, h, w), input_levels),
                      block.Conv(stem, c, widths[0], 3, stride=stem_stride, padding=1)]
    h, w = (h - 1) // stem_stride + 1, (w - 1) // stem_stride + 1
    width = widths[0]
    for s, (out, n) in enumerate(zip(widths, per_stage)):
        for b in range(n):
            stride = 2 if (s > 0 and b == 0) else 1
            k = "sew" if (mixed and b < n - 1) or on_short else kind
            net.append(block.ResidualBlock(
                k, params, width, out, stride=stride,
                barrier_params=join if k in ("sparse", "iand") else None, weight_quant=wq,
                barrier_ste=barrier_ste,
                shortcut_barrier=(barrier_levels or levels) if on_short else None))
            if stride == 2:
                h, w = (h + 1) // 2, (w + 1) // 2
            width = out
    if h < 2 or w < 2:
        raise ValueError(f"input {tuple(input_shape)} is too small for {len(widths)} stages "
                         "(the final sum-pool needs at least 2x2)")
    net += [block.Pool(pool, 2), block.Flatten(),
            block.Readout(dict(norm=True), width * (h // 2) * (w // 2), num_classes)]
    return block.Network(net, classes=classes, timesteps=timesteps)


def resnet(depth: str, kind: str, input_shape: Sequence[int], num_classes: int,
           width: float = 1.0, **kwargs: Any) -> block.Network:
    """ResNet-18 (64-128-256-512, 2 blocks each) or ResNet-19 (128-256-512; 3, 3, 2 blocks).

    ``depth`` is ``'resnet18'`` or ``'resnet19'``; ``kind`` and ``**kwargs`` as
    :func:`residual_net` (the 3x3 stride-1 stem of the CIFAR variants: ``stem_stride=1``
    for 32x32 inputs, 2 for larger ones).
    """
    cfg = RESNET_CONFIGS[depth]
    widths = [_scaled(c, width) for c in cfg["widths"]]
    return residual_net(kind, input_shape, num_classes, widths=widths, blocks=cfg["blocks"],
                        **kwargs)
