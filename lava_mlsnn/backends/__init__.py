"""Ways to run a deployed network: the batched emulator, Lava's simulator and Loihi 2.

Evaluating a file on a data set (accuracy, activity) is :mod:`.evaluate`. Importing
this package imports neither torch nor Lava; the names below load on first access.
"""
from __future__ import annotations

import importlib
from typing import Any

_LAZY = {"check_input": "emulator", "classify": "emulator", "emulate": "emulator"}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
