"""Loihi 2 hardware path: ``lava-mlsnn simulate NET.h5 --input X.npy --backend loihi2``.

Everything that needs Intel's lava-loihi (INRC members only) is isolated here:

* :mod:`.detect` -- whether lava-loihi is importable (:func:`lava_loihi_available`)
  and the one-line :data:`UNAVAILABLE` message the command prints otherwise;
* :mod:`.registry` -- the plug-in interface: a :class:`ModelRegistry` mapping
  lava-mlsnn's Processes (``MultiLevelNeuron``, ``Readout``, ``Pass``, ``CubaLif``,
  ``Synapse``) to lava-loihi ``NcProcessModel`` classes, filled by
  :func:`register_model`, by modules named in ``$LAVA_MLSNN_LOIHI2_MODELS`` or by
  the ``lava_mlsnn.loihi2`` entry points; :func:`hw_run_config` turns it into a
  ``Loihi2HwCfg`` with ``exception_proc_model_map``;
* :mod:`.runner` -- :class:`Loihi2Network` / :func:`run_loihi2`: the streamed,
  time-aligned run through host<->chip adapters, same outputs as
  :func:`lava_mlsnn.netx.emulate`; ``dry_run=True`` runs that graph on the CPU.
* :mod:`.report` -- deployment warnings (each with its rule's source) and notes, neuron
  support; :mod:`.mapping` -- cores per layer, calibrated on the compiler's published
  allocations; :mod:`.estimate` -- cores, chips, frames/s and energy per inference from that
  mapping (``lava-mlsnn inspect``, ``inspect --json``). All pure arithmetic, no lava-loihi.

Importing this package imports neither Lava nor lava-loihi.
"""
from __future__ import annotations

from typing import Any

from .detect import (LAVA_LOIHI_MODULES, UNAVAILABLE, Loihi2Unavailable, lava_loihi_available,
                     require_lava_loihi)
from .registry import (CHIP_PROCESSES, ENTRY_POINT_GROUP, PLUGIN_ENV, REGISTRY, Loihi2IO,
                       ModelRegistry, hw_run_config, lava_loihi_io, load_plugins,
                       missing_message, register_model, required_processes)

__all__ = ["CHIP_PROCESSES", "ENTRY_POINT_GROUP", "LAVA_LOIHI_MODULES", "Loihi2IO",
           "Loihi2Network", "Loihi2Unavailable", "ModelRegistry", "PLUGIN_ENV", "REGISTRY",
           "UNAVAILABLE", "cpu_standin_registry", "hw_run_config", "lava_loihi_available",
           "lava_loihi_io", "load_plugins", "missing_message", "register_model",
           "require_lava_loihi", "required_processes", "run_loihi2"]

_RUNNER = ("Loihi2Network", "cpu_standin_registry", "run_loihi2")


def __getattr__(name: str) -> Any:  # PEP 562: the runner pulls in torch-side helpers lazily
    if name in _RUNNER:
        from . import runner
        return getattr(runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
