"""Multi-level spiking neuron (``MLSN``) Process."""
from .process import MultiLevelNeuron

__all__ = ["MultiLevelNeuron"]
