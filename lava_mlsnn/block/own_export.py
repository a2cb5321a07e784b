"""lava-dl's own-Module export pattern, for lava-mlsnn blocks.

A lava-dl user exports a network written as their own ``torch.nn.Module`` block by
block::

    h = h5py.File(filename, 'w')
    layer = h.create_group('layer')
    for i, b in enumerate(self.blocks):
        b.export_hdf5(layer.create_group(f'{i}'))

A multi-level block's integers depend on the blocks upstream (their thresholds fold
into its synapse, DESIGN §5), so each block folds *lazily* when it is written: it
reads the payload unit that the block written into ``layer/<i-1>`` of the same file
left behind. The first block must be a :class:`~lava_mlsnn.block.Input`: it writes
the root attributes (input shape and levels), so the file is a lava-mlsnn file and
runs as :meth:`Network.export_hdf5 <lava_mlsnn.block.Network.export_hdf5>` would
write it. Blocks must be written in order into ``layer/0, layer/1, ...``; anything
else is refused in one line. A block already folded (inside
:meth:`Network.quantized`) writes its installed integers. Nothing of the blocks is
changed (parameters, buffers, train/eval mode).
"""
from __future__ import annotations

from typing import Dict, Tuple

import h5py
import torch

from ..format.writer import write_layer, write_root_attrs
from .base import Folded, fold_policy

# (file name, file id, parent group) -> (index of the last layer written, its out_scale)
_CHAIN: Dict[Tuple[str, int, str], Tuple[int, float]] = {}


class BlockExportError(ValueError):
    """A block cannot be written where, or in the order, it was asked to be."""


def _refresh_weight_norm(block: torch.nn.Module) -> None:
    """Recompute a weight-normalised synapse's weight (torch updates it only in the
    forward, so after an optimizer step it is one step old)."""
    syn = getattr(block, "synapse", None)
    if syn is None:
        return
    for hook in list(getattr(syn, "_forward_pre_hooks", {}).values()):
        if type(hook).__name__ == "WeightNorm":
            hook(syn, None)


def _fold_now(block: torch.nn.Module, in_scale: float, index: int) -> Folded:
    neuron = getattr(block, "neuron", None)
    if neuron is not None and getattr(neuron, "shape", None) is None:
        raise BlockExportError(f"layer/{index} ({type(block).__name__}): its output shape is "
                               "known after one forward pass; run the network once first")
    was_training = block.training
    block.eval()  # folding reads the eval-mode values (running statistics, quantizers)
    try:
        with torch.no_grad(), fold_policy("raise"):
            _refresh_weight_norm(block)
            return block.fold(in_scale)
    finally:
        block.train(was_training)


def export_block(block: torch.nn.Module, handle: h5py.Group) -> None:
    """Write ``block`` as the layer group ``handle`` (``<file>/layer/<i>``).

    Parameters
    ----------
    block : a lava-mlsnn block (``Input``, ``Dense``, ``Conv``, ``Pool``, ``Readout``,
        ``Flatten``)
    handle : h5py.Group
        An empty group named ``layer/<i>``; ``layer/<i-1>`` of the same open file must
        have been written by the block before it.

    Raises
    ------
    BlockExportError
        ``handle`` is not ``layer/<i>``, the blocks are written out of order, the
        first is not an ``Input``, or the block exports several layers.
    FoldError
        The block's trained values have no faithful integer form.
    """
    if not isinstance(handle, h5py.Group):
        raise BlockExportError(f"{type(block).__name__}.export_hdf5 takes an h5py group "
                               f"(layer.create_group('<i>')), not {type(handle).__name__}")
    parent, _, name = handle.name.rpartition("/")
    if parent != "/layer" or not name.isdigit():
        raise BlockExportError(f"{type(block).__name__}.export_hdf5 writes into "
                               f"/layer/<i> groups, not {handle.name}")
    i = int(name)
    f = handle.file
    key = (f.filename, f.id.id, parent)
    if i == 0:
        if getattr(block, "layer_type", None) != "input":
            raise BlockExportError(f"layer/0 is {type(block).__name__}: the first block "
                                   "written must be a block.Input (it records the input "
                                   "shape and levels)")
        if "format" not in f.attrs:  # timesteps 0: unknown here, a sample's length is its own
            write_root_attrs(f, 0, tuple(block.shape), block.levels)
        in_scale = 1.0
    else:
        last = _CHAIN.get(key)
        if last is None or last[0] != i - 1 or str(i - 1) not in f[parent]:
            raise BlockExportError(f"layer/{i} ({type(block).__name__}): layer/{i - 1} of "
                                   "this file was not written by the block before it; write "
                                   "the blocks in order into layer/0, layer/1, ...")
        in_scale = last[1]
    folded = block.folded if block.folded is not None else _fold_now(block, in_scale, i)
    layers = block.export_layers(i - 1 if i else -1, i, folded)
    if len(layers) != 1:
        raise BlockExportError(f"layer/{i} ({type(block).__name__}) exports {len(layers)} "
                               "layers: use Network.export_hdf5")
    write_layer(handle, layers[0], i)
    _CHAIN[key] = (i, folded.out_scale)
