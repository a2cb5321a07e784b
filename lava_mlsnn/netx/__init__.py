"""The deployed network: HDF5 format, batched emulator and Lava builder."""
from .emulator import check_input, classify, emulate
from .hdf5 import FormatError, read_network, write_network
from .spec import INPUT, Branch, LayerSpec, NetworkSpec

__all__ = ["Branch", "FormatError", "INPUT", "LayerSpec", "NetworkSpec", "check_input",
           "classify", "emulate", "read_network", "write_network"]
