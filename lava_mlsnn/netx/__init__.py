"""The deployed network under lava-dl's netx names: format, emulator and Lava runner.

The modules live in :mod:`lava_mlsnn.format` and :mod:`lava_mlsnn.backends`; the
old paths (``lava_mlsnn.netx.hdf5``, ``lava_mlsnn.netx.emulator``, ...) import them.
"""
from .._aliases import alias_submodules
from ..backends.emulator import check_input, classify, emulate
from ..backends.lava_runner import LavaNetwork, run_lava, simulate
from ..format.reader import FormatError, read_network, write_network
from ..format.spec import INPUT, Branch, LayerSpec, NetworkSpec

alias_submodules(__name__, {
    "spec": "lava_mlsnn.format.spec",
    "shapes": "lava_mlsnn.format.shapes",
    "hdf5": "lava_mlsnn.format.reader",
    "writer": "lava_mlsnn.format.writer",
    "random_net": "lava_mlsnn.format.random_net",
    "emulator": "lava_mlsnn.backends.emulator",
    "lava_runner": "lava_mlsnn.backends.lava_runner",
    "report": "lava_mlsnn.backends.loihi2.report",
})

__all__ = ["Branch", "FormatError", "INPUT", "LavaNetwork", "LayerSpec", "NetworkSpec",
           "check_input", "classify", "emulate", "read_network", "run_lava", "simulate",
           "write_network"]
