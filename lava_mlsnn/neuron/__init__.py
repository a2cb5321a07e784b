"""Training-side neurons with lava-dl SLAYER's neuron interface."""
from .._quiet import quiet_import

quiet_import("lava.lib.dl.slayer")

from . import multilevel, readout  # noqa: E402
from .norm import BatchNorm  # noqa: E402
from .surrogate import multilevel_floor  # noqa: E402

__all__ = ["BatchNorm", "multilevel", "multilevel_floor", "readout"]
