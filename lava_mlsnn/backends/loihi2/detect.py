"""Is Intel's lava-loihi installed? One cheap, import-free answer.

The open-source ``lava-nc`` already ships ``Loihi2HwCfg`` and the ``embedded_io``
adapters' names appear in tutorials, so neither tells whether the chip can be
used. What only lava-loihi (distributed to INRC members) provides is the
NeuroCore side of Lava: the ``nc`` ProcessModel base classes and the ``nc``
sub-compiler. ``lava-nc`` 0.10 imports both inside ``try``/``except ImportError``
(``lava/magma/compiler/compiler.py``, ``lava/magma/core/run_configs.py``) and
falls back to empty stand-ins, which is exactly the gap probed here.
"""
from __future__ import annotations

import importlib.util
from typing import Tuple

#: Modules present only with lava-loihi (absent from the open-source lava-nc 0.10).
LAVA_LOIHI_MODULES: Tuple[str, ...] = (
    "lava.magma.core.model.nc",
    "lava.magma.compiler.subcompilers.nc",
)

#: The one line the ``loihi2`` backend prints when lava-loihi is missing.
UNAVAILABLE = (
    "the loihi2 backend needs Intel's lava-loihi and a Loihi 2 system, both available only to "
    "members of the Intel Neuromorphic Research Community (INRC); lava-loihi is not installed "
    "in this environment. Use --backend lava for the bit-exact CPU simulation of the same "
    "file (details: lava_mlsnn/loihi2)"
)


class Loihi2Unavailable(RuntimeError):
    """The Loihi 2 backend cannot run here; ``str(err)`` is one line saying why."""


def _has_module(name: str) -> bool:
    # find_spec imports the parent packages; a broken or half-installed parent
    # must count as "absent", never as an error of the caller's command.
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError, AttributeError):
        return False


def lava_loihi_available() -> bool:
    """Whether lava-loihi's NeuroCore compiler and model classes are importable."""
    return all(_has_module(name) for name in LAVA_LOIHI_MODULES)


def require_lava_loihi() -> None:
    """Raise :class:`Loihi2Unavailable` (with :data:`UNAVAILABLE`) unless lava-loihi is here."""
    if not lava_loihi_available():
        raise Loihi2Unavailable(UNAVAILABLE)
