"""The deployed network under lava-dl's netx names: format, emulator and Lava runner.

``Network(net_config=PATH, ...)`` is the hierarchical Lava Process of a whole file,
built with ``lava.lib.dl.netx.hdf5.Network``'s arguments and access paths
(:mod:`.compat`, on :class:`lava_mlsnn.proc.network.Network`).
The modules live in :mod:`lava_mlsnn.format`, :mod:`lava_mlsnn.backends` and
:mod:`lava_mlsnn.proc`; the old paths (``lava_mlsnn.netx.hdf5``, ...) import them.
"""
from typing import Any

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

__all__ = ["Branch", "FormatError", "INPUT", "LavaNetwork", "LayerSpec", "Network", "NetworkSpec",
           "check_input", "classify", "emulate", "read_network", "run_lava", "simulate",
           "write_network"]


def __getattr__(name: str) -> Any:  # PEP 562: Lava is imported only when the Process is used
    if name == "Network":  # netx's constructor arguments and access paths (compat.py)
        from .compat import Network
        return Network
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
