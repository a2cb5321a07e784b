"""Write any in-memory NIR graph to a file the CLI reads (:func:`write_nir`).

``nir.write`` (nir 1.0.8) fails on graphs whose parameters are 0-d arrays or tensors
(``TypeError: Scalar datasets don't support chunk/filter options``), which is what
Norse's ``to_nir`` produces. :func:`write_nir` writes a copy whose parameters are
NumPy arrays with at least one dimension: a 0-d value is broadcast to the node's
output shape where the node states it (else kept as one value), so every reader
(lava-mlsnn, snnTorch, Norse, Sinabs) gets the same numbers.
"""
from __future__ import annotations

import copy

import numpy as np

_SKIP = ("metadata", "input_type", "output_type")


def _shape(node):
    out = getattr(node, "output_type", None)
    shape = out.get("output") if isinstance(out, dict) else None
    try:
        shape = tuple(int(s) for s in np.asarray(shape).reshape(-1))
    except (TypeError, ValueError):
        return None
    return shape or None


def plain_arrays(graph):
    """A copy of ``graph`` with every tensor / 0-d parameter as a NumPy array (ndim >= 1)."""
    import nir
    g = copy.deepcopy(graph)
    for node in g.nodes.values():
        if isinstance(node, nir.NIRGraph):
            node.nodes = plain_arrays(node).nodes
            continue
        shape = _shape(node)
        for key, value in list(vars(node).items()):
            if key in _SKIP:
                continue
            if hasattr(value, "detach"):
                value = value.detach().cpu().numpy()
            if isinstance(value, np.ndarray) or np.isscalar(value) and \
                    isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
                a = np.asarray(value)
                if a.ndim == 0:
                    a = np.full(shape, a.item(), dtype=a.dtype) if shape else a.reshape(1)
                setattr(node, key, a)
    return g


def write_nir(graph, path: str) -> None:
    """Write the in-memory NIR ``graph`` to ``path`` (atomically: all or nothing).

    Parameters
    ----------
    graph : nir.NIRGraph
        Any graph, including Norse's (0-d tensor parameters).
    path : str
        The ``.nir`` file to write; ``lava-mlsnn nir import`` reads it.
    """
    import nir
    from .._io import atomic_write_path
    g = plain_arrays(graph)
    atomic_write_path(path, lambda tmp: nir.write(tmp, g))
