"""Training: the plain loop (``fit``, ``evaluate``, atomic checkpoints) and the configured,
resumable, distributed run behind ``training/train_dvs.py`` (:mod:`.runner`).

Attributes are imported on first use, so that ``lava_mlsnn.train.config`` (the run
configuration) loads without torch or lava-dl and a bad configuration is reported at once.
"""
from __future__ import annotations

import importlib
from typing import Any

from .._aliases import alias_submodules

alias_submodules(__name__, {"deployed": "lava_mlsnn.backends.evaluate",
                             "data": "lava_mlsnn.data.splits"})

__all__ = ["Checkpoint", "evaluate", "fit", "predict"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module(".loop", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
