"""Non-spiking read-out neuron (``READOUT``) Process."""
from .process import Readout

__all__ = ["Readout"]
