"""What :class:`lava_mlsnn.block.Network` checks when it is built.

Two mistakes a lava-dl user makes would otherwise surface late, inside torch or at
export: a lava-dl block (``slayer.block.cuba.Dense``...) placed in the network, which
has no folded integer form here, and a block whose input size does not match what
the block before it sends. Both are refused with one line naming the block; the
shape rule needs only the blocks' parameters (no forward pass).
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np
import torch

Shape = Tuple[int, ...]

#: lava-dl blocks with a lava-mlsnn counterpart of the same arguments.
_COUNTERPART = {"cuba": ("Dense", "Conv"),
                "sigma_delta": ("Dense", "Conv", "Input", "Output", "Flatten")}


class BuildError(ValueError):
    """A block cannot take part in a :class:`~lava_mlsnn.block.Network`."""


def check_blocks(blocks: Sequence[torch.nn.Module]) -> None:
    """Refuse lava-dl blocks and blocks without the deployed-integer interface, then
    check every block's input shape against its source's output.

    Parameters
    ----------
    blocks : sequence of modules
        The network's blocks, ``blocks[0]`` an :class:`~lava_mlsnn.block.Input`.

    Raises
    ------
    BuildError
        One line naming the block (index and type) and what is wrong.
    """
    for i, block in enumerate(blocks):
        refuse_foreign(i, block)
    shape: Optional[Shape] = tuple(blocks[0].shape)
    for i, block in enumerate(blocks[1:], start=1):
        if shape is None:
            return  # a block whose output shape is not known statically: stop here
        shape = output_shape(i, block, shape)


def refuse_foreign(i: int, block: torch.nn.Module) -> None:
    """A lava-dl block, or a module without ``fold``/``export_layers``, is refused."""
    cls = type(block)
    module = cls.__module__ or ""
    if module.startswith("lava.lib.dl."):
        kind = module.rsplit(".", 1)[-1]
        where = f"{module.replace('lava.lib.dl.', '')}.{cls.__name__}"
        if cls.__name__ in _COUNTERPART.get(kind, ()):
            hint = (f"use lava_mlsnn.block.{kind}.{cls.__name__} (the same block and "
                    "arguments, with the integer export)")
        else:
            hint = "lava-mlsnn has no counterpart; export the net with lava-dl instead"
        raise BuildError(f"block {i} is lava-dl's {where}, which block.Network cannot fold "
                         f"or export: {hint}")
    if not all(hasattr(block, a) for a in ("fold", "install", "export_layers")):
        raise BuildError(f"block {i} ({cls.__name__}) is not a lava-mlsnn block (it has no "
                         "fold/install/export_layers): it cannot be exported")


def _spatial(size: Sequence[int], kernel: Sequence[int], stride: Sequence[int],
             padding: Sequence[int], dilation: Sequence[int]) -> Shape:
    return tuple((n + 2 * p - d * (k - 1) - 1) // s + 1
                 for n, k, s, p, d in zip(size, kernel, stride, padding, dilation))


def output_shape(i: int, block: torch.nn.Module, shape: Shape) -> Optional[Shape]:
    """The output shape of ``blocks[i]`` reading ``shape`` (``None``: not known).

    Raises
    ------
    BuildError
        The block reads another size than ``shape``.
    """
    name = type(block).__name__
    kind = getattr(block, "layer_type", None)
    syn = getattr(block, "synapse", None)
    if kind == "flatten":
        return (int(np.prod(shape)),)
    if syn is None and hasattr(block, "conv1"):
        # a residual block: its first conv reads the input and sets the output shape
        # (the second conv and the shortcut keep it)
        return output_shape(i, block.conv1, shape)
    if syn is None:
        return None
    if kind == "dense":
        n_in = int(syn.in_channels)
        if len(shape) != 1:
            raise BuildError(f"block {i} ({name}) reads {n_in} features but block {i - 1} "
                             f"sends shape {shape}: add block.Flatten() before it")
        if shape[0] != n_in:
            raise BuildError(f"block {i} ({name}) reads {n_in} features but block {i - 1} "
                             f"sends shape {shape}")
        return (int(syn.out_channels),)
    if kind in ("conv", "pool"):
        if len(shape) != 3:
            raise BuildError(f"block {i} ({name}) reads (C, H, W) but block {i - 1} sends "
                             f"shape {shape}")
        if kind == "conv":
            c_in, c_out = int(syn.in_channels), int(syn.out_channels)
            if shape[0] != c_in:
                raise BuildError(f"block {i} ({name}) reads {c_in} channels but block {i - 1} "
                                 f"sends shape {shape}")
            hw = _spatial(shape[1:], syn.kernel_size[:2], syn.stride[:2], syn.padding[:2],
                          syn.dilation[:2])
        else:
            c_out = shape[0]
            hw = _spatial(shape[1:], syn.kernel_size[:2], syn.stride[:2], syn.padding[:2],
                          (1, 1))
        if min(hw) < 1:
            raise BuildError(f"block {i} ({name}) leaves no output from shape {shape} "
                             f"(kernel {tuple(syn.kernel_size[:2])})")
        return (c_out,) + hw
    return None
