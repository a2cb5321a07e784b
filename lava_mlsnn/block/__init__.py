"""SLAYER-style blocks (synapse + neuron + export) and the network container."""
from .. import neuron  # noqa: F401  (imports lava-dl quietly first)
from .base import FoldError, FoldWarning
from .multilevel import Conv, Dense, Flatten, Input, Pool, Readout, SumPool
from .network import Network, fold_network, to_emulator_layout, to_slayer_layout

__all__ = ["Conv", "Dense", "Flatten", "FoldError", "FoldWarning", "Input", "Network", "Pool",
           "Readout", "ResidualBlock", "SumPool", "fold_network", "to_emulator_layout",
           "to_slayer_layout"]
from . import cuba  # noqa: E402  (binary lava-dl baselines)
from . import sigma_delta  # noqa: E402  (lava-dl sigma-delta blocks)
from .residual import ResidualBlock  # noqa: E402
