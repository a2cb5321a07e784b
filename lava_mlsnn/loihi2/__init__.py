"""Loihi 2 hardware path; the code lives in :mod:`lava_mlsnn.backends.loihi2`.

``lava_mlsnn.loihi2`` stays the public name of the plug-in interface
(``lava_mlsnn.loihi2.register_model``, the ``lava_mlsnn.loihi2`` entry-point group).
Importing it imports neither Lava, lava-loihi nor torch.
"""
from __future__ import annotations

from typing import Any

from .._aliases import alias_submodules
from ..backends import loihi2 as _impl
from ..backends.loihi2 import (CHIP_PROCESSES, ENTRY_POINT_GROUP,  # noqa: F401
                               LAVA_LOIHI_MODULES, PLUGIN_ENV, REGISTRY, UNAVAILABLE, Loihi2IO,
                               Loihi2Unavailable, ModelRegistry, __all__, hw_run_config,
                               lava_loihi_available, lava_loihi_io, load_plugins,
                               missing_message, register_model, require_lava_loihi,
                               required_processes)

alias_submodules(__name__, {
    "detect": "lava_mlsnn.backends.loihi2.detect",
    "registry": "lava_mlsnn.backends.loihi2.registry",
    "runner": "lava_mlsnn.backends.loihi2.runner",
})


def __getattr__(name: str) -> Any:  # the runner's names load lazily, as in the implementation
    return getattr(_impl, name)
