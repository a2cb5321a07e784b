"""Hierarchical ``Network`` Process: a whole deployed network, netx-style."""
from .process import Network, neuron_process

__all__ = ["Network", "neuron_process"]
