"""The deployed-network format: spec dataclasses, shapes, the HDF5 reader/validator and writer."""
from .reader import FormatError, read_network
from .spec import INPUT, Branch, LayerSpec, NetworkSpec
from .writer import write_layer, write_network

__all__ = ["Branch", "FormatError", "INPUT", "LayerSpec", "NetworkSpec", "read_network",
           "write_layer", "write_network"]
