"""Import lava-dl without the banners it prints on import.

``lava.lib.dl.slayer`` imports its object-detection data sets, which print a
warning about the Prophesee toolbox to stdout, and torch's C++ extension module
prints a CUDA notice on machines without CUDA. Neither concerns lava-mlsnn users.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import sys
from types import ModuleType
from typing import Iterator


def quiet_import(name: str) -> ModuleType:
    """Import ``name`` with stdout/stderr silenced the first time."""
    if name in sys.modules:
        return sys.modules[name]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return importlib.import_module(name)


def import_lava_runtime() -> ModuleType:
    """Import Lava's runtime, whatever fixed the multiprocessing start method first.

    Lava calls ``multiprocessing.set_start_method('fork')`` at import and fails with
    "context has already been set" when anything (tqdm's lock, a DataLoader) has
    already chosen one. Clearing the choice first lets Lava make its own.
    """
    name = "lava.magma.runtime.message_infrastructure.multiprocessing"
    if name not in sys.modules:
        import multiprocessing
        if multiprocessing.get_start_method(allow_none=True) is not None:
            multiprocessing.set_start_method(None, force=True)
    return quiet_import(name)


@contextlib.contextmanager
def start_method_kept() -> Iterator[None]:
    """Leave the multiprocessing start method unset if it was unset before.

    numba's first parallel launch fixes the start method (its lock asks for one); Lava,
    imported later, sets its own at import and fails on one already chosen.
    """
    import multiprocessing
    unset = multiprocessing.get_start_method(allow_none=True) is None
    try:
        yield
    finally:
        if unset and multiprocessing.get_start_method(allow_none=True) is not None:
            multiprocessing.set_start_method(None, force=True)

