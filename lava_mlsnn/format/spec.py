"""In-memory description of a deployable network (the DESIGN §6 file, parsed).

A :class:`NetworkSpec` is what the HDF5 reader returns, what the writer takes, and
what the emulator and the Lava builder consume. Everything in it is integer and
already folded (BatchNorm, thresholds): it *is* the deployed network.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

from .params import NeuronParams, SynapseSpec

INPUT = -1  # ``source`` index meaning "the network input"
LAYER_TYPES = ("input", "dense", "conv", "pool", "flatten", "join")
NEURON_TYPES = ("MLSN", "READOUT", "PASS", "CUBA")


@dataclass(frozen=True)
class Branch:
    """One synapse feeding a layer: ``source`` layer index (``-1``: network input)."""

    source: int
    synapse: SynapseSpec


@dataclass
class LayerSpec:
    """One ``/layer/<i>`` group.

    Attributes
    ----------
    type : str
        One of :data:`LAYER_TYPES`.
    shape : tuple of int
        Output shape in torch order, ``(C, H, W)`` or ``(F,)``.
    source : int
        Layer read by ``input``/``flatten`` (and by the single branch of
        dense/conv/pool layers).
    branches : list of Branch
        Synapses summed into this layer's neuron (empty for input/flatten).
    neuron : NeuronParams or None
        ``None`` for flatten; type ``'INPUT'`` for an input layer.
    weight_bits, weight_scale : int
        Declared weight grid (``0``: not declared).
    recurrent : SynapseSpec or None
        A stock ``dense_rec`` layer's ``weight_rec``: the layer's own payload of the
        previous step feeds back through it (zero at a sample's first step).
    input_transform : (int, int) or None
        A stock ``Input`` block's ``weight`` and ``bias`` (the data loader's affine
        transform, which netx does not apply; DESIGN §6.1). Informational only.
    """

    type: str
    shape: Tuple[int, ...]
    source: int = INPUT
    branches: List[Branch] = field(default_factory=list)
    neuron: Optional[NeuronParams] = None
    weight_bits: int = 0
    weight_scale: int = 0
    recurrent: Optional[SynapseSpec] = None
    input_transform: Optional[Tuple[int, int]] = None

    @property
    def sources(self) -> List[int]:
        """Every layer index this layer reads."""
        if self.branches:
            return [b.source for b in self.branches]
        return [self.source]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@dataclass
class NetworkSpec:
    """A whole deployable network.

    Attributes
    ----------
    layers : list of LayerSpec
        In file order; every source index is smaller than the layer's own.
    input_shape : tuple of int or None
        ``inputShape``; ``None`` for a stock file whose first layer does not say it
        (taken from the data then).
    input_levels : int
        ``inputLevels``: largest input payload an ``input`` layer passes on.
    timesteps : int
        Steps per sample the network was trained with (``0``: unknown).
    classes : list of str or None
    metadata : dict
        Free-form training metadata.
    stock : bool
        True when the file had no lava-mlsnn root attributes (a lava-dl export).
    ignored : tuple of str
        What a stock file holds that stock netx does not read either, so neither does
        lava-mlsnn (one line each, shown by ``inspect``).
    """

    layers: List[LayerSpec]
    input_shape: Optional[Tuple[int, ...]] = None
    input_levels: int = 1
    timesteps: int = 0
    classes: Optional[List[str]] = None
    metadata: Dict = field(default_factory=dict)
    stock: bool = False
    ignored: Tuple[str, ...] = ()

    @property
    def output_index(self) -> int:
        return len(self.layers) - 1

    def depths(self) -> List[int]:
        """Pipeline depth of each layer in Lava: synapses on the longest path.

        An ``input`` layer (and the network input) is at depth 0; every synapse adds
        one step; a flatten layer has the depth of its source.
        """
        out: List[int] = []
        for layer in self.layers:
            if layer.type in ("input", "flatten"):
                src = layer.source
                out.append(0 if src == INPUT else out[src])
            else:
                out.append(1 + max(0 if b.source == INPUT else out[b.source]
                                   for b in layer.branches))
        return out

    def consumers(self) -> Dict[int, List[int]]:
        """Map of layer index (``-1``: input) to the layers that read it."""
        cons: Dict[int, List[int]] = {}
        for i, layer in enumerate(self.layers):
            for s in layer.sources:
                cons.setdefault(s, []).append(i)
        return cons

    def producer(self, index: int, aliases: Tuple[str, ...] = ("flatten",)) -> int:
        """The layer (``-1``: the network input) whose payload layer ``index`` passes on.

        Layers of a type in ``aliases`` send their source's payload unchanged (a flatten
        only reshapes it); the chain is followed to the first layer that is not one.
        """
        while index != INPUT and self.layers[index].type in aliases:
            index = self.layers[index].source
        return index

    def source_shape(self, index: int) -> Tuple[int, ...]:
        """Output shape of layer ``index`` (``-1``: the network input)."""
        if index == INPUT:
            if self.input_shape is None:
                raise ValueError("the network input shape is unknown")
            return tuple(self.input_shape)
        return tuple(self.layers[index].shape)
