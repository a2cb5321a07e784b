"""Old module paths kept importable after a module moved (``lava_mlsnn.netx.spec`` ->
``lava_mlsnn.format.spec``).

An alias is the moved module itself, not a copy: ``import lava_mlsnn.netx.emulator``
returns the object ``lava_mlsnn.backends.emulator``, so attributes patched through
either name are seen through both. The target is imported on first use only.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType
from typing import Dict, Optional, Sequence


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves ``old.name`` to the already-importable module ``new.name``."""

    def __init__(self) -> None:
        self.targets: Dict[str, str] = {}

    def find_spec(self, fullname: str, path: Optional[Sequence[str]] = None,
                  target: Optional[ModuleType] = None):
        if fullname in self.targets:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec) -> ModuleType:
        module = importlib.import_module(self.targets[spec.name])
        self._own_spec = module.__spec__  # the import machinery overwrites it with ours
        return module

    def exec_module(self, module: ModuleType) -> None:  # the target is already executed
        module.__spec__ = self._own_spec


_FINDER = _AliasFinder()
sys.meta_path.append(_FINDER)


def alias_submodules(package: str, moved: Dict[str, str]) -> None:
    """Make ``package.<old>`` import the module ``moved[old]`` (a full dotted name)."""
    for old, new in moved.items():
        _FINDER.targets[f"{package}.{old}"] = new
