"""Training-side neurons with lava-dl SLAYER's neuron interface."""
from . import multilevel, readout
from .norm import BatchNorm
from .surrogate import multilevel_floor

__all__ = ["BatchNorm", "multilevel", "multilevel_floor", "readout"]
