"""A NIR graph checked as a graph before anything is built from it (DESIGN §10, §7).

Every edge's ends exist, no node feeds itself, every numeric parameter is finite, every
time constant is physical at the step (``tau >= dt > 0``), the input shape is a
non-empty tuple of positive integers and the network's sizes are bounded. What fails
raises :class:`~lava_mlsnn.nir.mapping.NIRImportError` with one line naming it.
"""
from __future__ import annotations

import numpy as np

from .mapping import NIRImportError

MIN_DT = 1e-12  # s: below it a step is no step (and denormal floats lose the conversion)
MAX_NEURONS = 2 ** 24  # per tensor: far above any network Loihi 2 holds
TAUS = ("tau", "tau_syn", "tau_mem")


def check_dt(dt: float) -> None:
    """``dt`` is a finite, normal float of at least :data:`MIN_DT` seconds."""
    if not isinstance(dt, (int, float)) or not np.isfinite(dt) or dt < MIN_DT:
        raise NIRImportError(f"dt = {dt!r}: must be a finite step of at least {MIN_DT:g} s")


def _array(node_name: str, key: str, value):
    if isinstance(value, (str, bytes, dict)) or value is None:
        return None
    try:
        a = np.asarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value)
    except Exception:  # noqa: BLE001 -- a foreign object: not a numeric parameter
        return None
    if a.dtype == object or a.dtype.kind not in "biuf":
        return None
    if a.size > MAX_NEURONS * 64:
        raise NIRImportError(f"{node_name}.{key}: {a.size} values exceed the bound "
                             f"{MAX_NEURONS * 64}")
    return a


def check_graph(graph, dt: float) -> None:
    """Refuse a graph that is not a well-formed, physical NIR graph (one line)."""
    check_dt(dt)
    nodes = getattr(graph, "nodes", None)
    edges = getattr(graph, "edges", None)
    if not isinstance(nodes, dict) or edges is None:
        raise NIRImportError("not a NIR graph (no nodes and edges)")
    for edge in edges:
        if len(edge) != 2:
            raise NIRImportError(f"edge {edge!r} does not join two nodes")
        a, b = edge
        for end in (a, b):
            if end not in nodes:
                raise NIRImportError(f"edge {a} -> {b} names a missing node {end!r}")
        if a == b:
            raise NIRImportError(f"edge {a} -> {a}: a recurrent (self) edge is not "
                                 "supported")
    for name, node in nodes.items():
        for key, value in vars(node).items():
            if key in ("metadata", "input_type", "output_type"):
                continue
            a = _array(name, key, value)
            if a is None or a.dtype.kind not in "f":
                continue
            if not np.all(np.isfinite(a)):
                raise NIRImportError(f"{name}.{key}: non-finite values (NaN or infinity)")
            if key in TAUS:
                if np.any(a <= 0):
                    raise NIRImportError(f"{name}.{key} = {float(a.min()):g}: a time "
                                         "constant must be > 0")
                if np.any(a < dt * (1 - 1e-9)):
                    raise NIRImportError(f"{name}.{key} = {float(a.min()):g} s is below "
                                         f"the step dt = {dt:g} s (forward Euler "
                                         "would overshoot): import with a smaller --dt")
        if type(node).__name__ == "Input":
            check_input_shape(name, node)


def check_input_shape(name: str, node) -> None:
    """The Input node's shape: non-empty, positive integers, bounded size."""
    shape = node.input_type.get("input") if isinstance(node.input_type, dict) else None
    a = _array(name, "input_type", shape)
    if a is None or a.size == 0 or a.ndim > 1:
        raise NIRImportError(f"{name}: the input shape {shape!r} is not a non-empty "
                             "list of integers")
    if np.any(a != np.round(a)) or np.any(a < 1):
        raise NIRImportError(f"{name}: the input shape {a.tolist()} needs positive "
                             "integers")
    if float(np.prod(a.astype(np.float64))) > MAX_NEURONS:
        raise NIRImportError(f"{name}: the input shape {a.tolist()} exceeds "
                             f"{MAX_NEURONS} values")
