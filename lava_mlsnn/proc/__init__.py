"""Lava Processes of lava-mlsnn, one folder each (``process.py`` + ``models.py``).

=====================  ===============================================  ==========
Process                what it is                                       folder
=====================  ===============================================  ==========
``MultiLevelNeuron``   graded-spike neuron (``MLSN``)                   multilevel
``Readout``            non-spiking read-out (``READOUT``)               readout
``Pass``               stateless clip (``PASS``, ``input`` layers)      passthrough
``CubaLif``            lava-dl / netx binary CUBA-LIF (``CUBA``)        cuba
``SigmaDeltaNeuron``   lava-dl / netx sigma-delta (``SDNN``)            sigma_delta
``Synapse``            dense/conv/pool/identity, 1 + extra_delay steps  synapse
``StreamSource/Sink``  memory-mapped file I/O for the host              stream
``Network``            a whole network file, hierarchical (netx-style)  network
=====================  ===============================================  ==========

Every neuron and synapse Process has a ``fixed_pt`` model (bit-exact, calls
:mod:`lava_mlsnn.fixed`) and a ``floating_pt`` model; ``Network`` has a ``fixed_pt``
SubProcessModel. Importing this package does not import Lava (slow);
the names above are loaded on first access.
"""
from __future__ import annotations

import importlib
from typing import Any

from ._common import StreamFile

_LAZY = {
    "MultiLevelNeuron": "multilevel",
    "Readout": "readout",
    "Pass": "passthrough",
    "CubaLif": "cuba",
    "SigmaDeltaNeuron": "sigma_delta",
    "Synapse": "synapse",
    "StreamSource": "stream",
    "StreamSink": "stream",
    "Network": "network",
}

__all__ = sorted(_LAZY) + ["StreamFile"]


def __getattr__(name: str) -> Any:  # PEP 562: import Lava only when a Process is used
    if name in _LAZY:
        from .._quiet import import_lava_runtime
        import_lava_runtime()
        module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
