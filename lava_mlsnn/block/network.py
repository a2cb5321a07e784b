"""A network of blocks that trains in real units and exports a deployable file."""
from __future__ import annotations

import contextlib
from typing import Dict, List, Optional, Sequence

import torch

from ..format.writer import write_network
from ..format.spec import INPUT, LayerSpec, NetworkSpec
from .base import Folded, FoldError, fold_policy
from .build_checks import check_blocks
from .multilevel import Input


class Network(torch.nn.Module):
    """A sequence of blocks, the first an :class:`Input`.

    Tensors use SLAYER's layout ``[N, C, (H, W), T]``. In training mode the wire
    carries real values; inside :meth:`quantized` it carries the deployed integer
    payloads and every block runs the :mod:`lava_mlsnn.fixed` arithmetic, so the
    result equals the exported file run by the emulator or by Lava.

    Parameters
    ----------
    blocks : sequence of blocks
        ``blocks[0]`` must be an :class:`Input`. lava-dl's own blocks are refused
        (their lava-mlsnn counterparts, e.g. :class:`lava_mlsnn.block.cuba.Dense`,
        take the same arguments), and so is a block whose input shape differs from
        what the block before it sends (:mod:`lava_mlsnn.block.build_checks`).
    classes : list of str, optional
        Class names, written to the exported file.
    timesteps : int
        Steps per sample (written to the file).
    """

    def __init__(self, blocks: Sequence[torch.nn.Module], classes: Optional[List[str]] = None,
                 timesteps: int = 1):
        super().__init__()
        if not blocks or not isinstance(blocks[0], Input):
            raise ValueError("a Network starts with an Input block")
        check_blocks(blocks)
        self.blocks = torch.nn.ModuleList(blocks)
        self.classes = list(classes) if classes is not None else None
        self.timesteps = int(timesteps)

    @property
    def input_block(self) -> Input:
        return self.blocks[0]

    @property
    def readout_output(self) -> bool:
        """Whether the last block is a readout (classified by ``v`` at the last step,
        :mod:`lava_mlsnn.classify`); otherwise its payload is summed over time."""
        return getattr(self.blocks[-1], "neuron_kind", None) == "readout"

    @property
    def is_quantized(self) -> bool:
        """Whether the blocks hold folded integers (inside :meth:`quantized`)."""
        return any(getattr(m, "folded", None) is not None for m in self.modules()
                   if hasattr(m, "fold"))

    def forward(self, x: torch.Tensor, record: Optional[List[torch.Tensor]] = None
                ) -> torch.Tensor:
        """Run all blocks; ``record`` (a list) receives every exported layer's output."""
        for block in self.blocks:
            if getattr(block, "records_layers", False):
                x = block(x, record)
            else:
                x = block(x)
                if record is not None:
                    record.append(x)
        return x

    # ------------------------------------------------------------------ deployment
    def _infer_shapes(self) -> None:
        shape = self.input_block.shape
        was_training = self.training
        self.train()
        with torch.no_grad():
            dummy = torch.zeros((2,) + tuple(shape) + (1,), device=self._device())
            # Every buffer (running statistics of any norm, ours or lava-dl's) survives
            # the shape probe: exporting must not change the model.
            saved = {k: v.clone() for k, v in self.named_buffers()}
            # ... and every parameter (a lava-dl weight mask is applied to the weights in
            # place by the forward)
            params = {k: v.detach().clone() for k, v in self.named_parameters()}
            self.forward(dummy)
            for k, v in self.named_parameters():
                v.data.copy_(params[k])
            live = dict(self.named_buffers())
            for k, v in saved.items():
                if live[k].shape == v.shape:
                    live[k].copy_(v)
                else:
                    _set_buffer(self, k, v)
        self.train(was_training)

    def _device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        return torch.device("cpu")

    def quantize(self, allow_clipping: bool = False) -> None:
        """Fold BatchNorm and thresholds into the deployed integers of every block.

        Raises
        ------
        FoldError
            A block's threshold cannot be represented (``c * theta < 1`` clips
            ``vThMant`` to 1) or weights saturate at Loihi's 8-bit range; with
            ``allow_clipping`` these become a ``FoldWarning`` with the counts.
        """
        self.dequantize()
        for block, folded in zip(self.blocks, self._fold_blocks(allow_clipping)):
            block.install(folded)

    def _fold_blocks(self, allow_clipping: bool) -> List[Folded]:
        """Every block's integers, each block reading the scale of the one before.

        Changes nothing: the shape probe restores every buffer, the blocks' ``fold``
        only compute.
        """
        self._infer_shapes()
        scale, out = 1.0, []
        with fold_policy("warn" if allow_clipping else "raise"):
            for i, block in enumerate(self.blocks):
                try:
                    out.append(block.fold(scale))
                except FoldError as err:
                    raise FoldError(f"block {i} ({block_name(block)}): {err}") from None
                scale = out[-1].out_scale
        return out

    def dequantize(self) -> None:
        """Back to the real-valued forward."""
        for block in self.blocks:
            if hasattr(block, "install"):
                block.install(None)

    @contextlib.contextmanager
    def quantized(self, allow_clipping: bool = False):
        """Context in which ``forward`` runs the deployed integers (eval mode).

        Re-entrant: inside an outer ``quantized()`` it keeps the outer folding.
        ``allow_clipping`` as in :meth:`quantize`.
        """
        was_training, was_folded = self.training, self.is_quantized
        self.eval()
        if not was_folded:
            self.quantize(allow_clipping)
        try:
            yield self
        finally:
            if not was_folded:
                self.dequantize()
            self.train(was_training)

    def export_spec(self, metadata: Optional[Dict] = None, allow_clipping: bool = False
                    ) -> NetworkSpec:
        """The deployable network: :func:`fold_network` (the network is not changed)."""
        return fold_network(self, metadata, allow_clipping)

    def export_hdf5(self, path: str, metadata: Optional[Dict] = None,
                    allow_clipping: bool = False) -> NetworkSpec:
        """Write the DESIGN §6 file (atomically) and return its spec."""
        spec = self.export_spec(metadata, allow_clipping)
        write_network(spec, path)
        return spec


def fold_network(net: Network, metadata: Optional[Dict] = None, allow_clipping: bool = False
                 ) -> NetworkSpec:
    """Fold a block network into its deployable :class:`NetworkSpec`, changing nothing.

    Inside :meth:`Network.quantized` the installed integers are exported; otherwise
    they are computed (:meth:`Network.quantize`'s folding) and not installed: the
    blocks, their parameters and buffers, and the train/eval mode are as before.
    Layer order is the blocks' order; ``metadata['blocks']`` names each block's layers.

    Raises
    ------
    FoldError
        As :meth:`Network.quantize` (unless ``allow_clipping``).
    """
    was_training = net.training
    net.eval()  # folding reads the eval-mode values (running statistics, quantizers)
    try:
        if net.is_quantized:
            folded = [getattr(b, "folded", None) for b in net.blocks]
        else:
            folded = net._fold_blocks(allow_clipping)
    finally:
        net.train(was_training)
    layers: List[LayerSpec] = []
    blocks = []
    source = INPUT
    for block, f in zip(net.blocks, folded):
        new = block.export_layers(source, len(layers), f)
        blocks.append({"name": block_name(block),
                       "layers": list(range(len(layers), len(layers) + len(new)))})
        layers.extend(new)
        source = len(layers) - 1
    return NetworkSpec(layers=layers, input_shape=tuple(net.input_block.shape),
                       input_levels=net.input_block.levels, timesteps=net.timesteps,
                       classes=net.classes, metadata={"blocks": blocks, **dict(metadata or {})})


def _set_buffer(root: torch.nn.Module, name: str, value: torch.Tensor) -> None:
    """Put back a buffer whose shape a forward changed (lava-dl norms grow theirs)."""
    owner, _, leaf = name.rpartition(".")
    setattr(root.get_submodule(owner) if owner else root, leaf, value)


def block_name(block: torch.nn.Module) -> str:
    """Short description of a block for reports (``ResidualBlock(sparse)``, ``Conv``...)."""
    kind = getattr(block, "kind", None)
    return f"{type(block).__name__}({kind})" if kind else type(block).__name__


def to_emulator_layout(x: torch.Tensor) -> torch.Tensor:
    """SLAYER ``[N, *shape, T]`` -> emulator/file ``[N, T, *shape]``."""
    return x.movedim(-1, 1)


def to_slayer_layout(x: torch.Tensor) -> torch.Tensor:
    """Emulator/file ``[N, T, *shape]`` -> SLAYER ``[N, *shape, T]``."""
    return x.movedim(1, -1)
