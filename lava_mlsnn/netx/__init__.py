"""The deployed network: HDF5 format, batched emulator and Lava builder."""
from .emulator import check_input, classify, emulate
from .hdf5 import FormatError, read_network, write_network
from .lava_runner import LavaNetwork, run_lava, simulate
from .spec import INPUT, Branch, LayerSpec, NetworkSpec

__all__ = ["Branch", "FormatError", "INPUT", "LavaNetwork", "LayerSpec", "NetworkSpec",
           "check_input", "classify", "emulate", "read_network", "run_lava", "simulate",
           "write_network"]
