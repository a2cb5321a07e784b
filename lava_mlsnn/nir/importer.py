"""NIR graph -> trainable :class:`lava_mlsnn.block.Network` (:func:`from_nir`) and
-> deployed :class:`NetworkSpec` (:func:`read_nir`).

A NIR graph is read as a chain ``Input -> (synapse [Scale] neuron | Flatten | pool)* ->
Output``. Each synapse (``Affine``, ``Linear``, ``Conv2d``, ``SumPool2d``,
``AvgPool2d``) and the neuron after it become one block; NIR's continuous-time neurons
are discretised with forward Euler at step ``dt`` (DESIGN §10 lists every mapping and
what it approximates). ``reset='zero'`` (NIR's own definition: ``v > v_th`` then
``v = v_reset = 0``) gives lava-dl's binary ``CUBA`` blocks; ``reset='subtract'`` gives
multi-level blocks (soft reset, ``v >= th``, up to ``levels`` per step: Sinabs'
``MembraneSubtract``/``MultiSpike``); ``'snntorch'`` / ``'snntorch_delay'`` give one-level
blocks with snnTorch's own ``subtract`` (``reset_delay`` False / True), which NIR cannot
say. A graph written by :func:`lava_mlsnn.nir.to_nir` is read back exactly from its
extension instead.
"""
from __future__ import annotations

import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..format.spec import NetworkSpec
from . import codec
from .validate import check_graph
from .exporter import DEFAULT_DT
from .mapping import (CURRENTS, NEURONS, OTHERS, RESETS, SYNAPSES, NIRImportError, _block, _neuron,
                      _per_channel, _Synapse, _synapse)


def _load(graph):
    import nir
    if isinstance(graph, (str, bytes)) or hasattr(graph, "__fspath__"):
        return nir.read(graph, type_check=False)  # NIR mis-infers grouped convs
    return graph


def _find_cycle(succ: Dict[str, List[str]]) -> List[str]:
    """One cycle of the graph (its nodes in order), or [] (iterative depth-first walk)."""
    state: Dict[str, int] = {}  # 1 on the current path, 2 done
    for root in succ:
        if root in state:
            continue
        path, stack = [], [(root, iter(succ[root]))]
        state[root] = 1
        path.append(root)
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, iter(succ[nxt])))
    return []


def _chain(graph) -> List[Tuple[str, object]]:
    """The nodes from the one Input to the one Output; refuses anything else."""
    kinds = {name: type(node).__name__ for name, node in graph.nodes.items()}
    bad = [f"{n} ({k})" for n, k in kinds.items() if k not in SYNAPSES + NEURONS + OTHERS]
    bad += [f"{n} (Delay with non-zero delays)" for n, node in graph.nodes.items()
            if kinds[n] == "Delay" and np.any(np.asarray(node.delay) != 0)]
    if bad:
        raise NIRImportError("unsupported NIR nodes: " + ", ".join(sorted(bad)))
    succ: Dict[str, List[str]] = {n: [] for n in graph.nodes}
    pred: Dict[str, List[str]] = {n: [] for n in graph.nodes}
    for a, b in graph.edges:
        succ[a].append(b)
        pred[b].append(a)
    cycle = _find_cycle(succ)
    if cycle:
        raise NIRImportError(f"nodes {' -> '.join(cycle + cycle[:1])} form a cycle (a "
                             "recurrent connection): recurrent graphs are not supported")
    inputs = [n for n, k in kinds.items() if k == "Input"]
    if len(inputs) != 1:
        raise NIRImportError(f"a graph with {len(inputs)} Input nodes: one is supported")
    order, cur = [], inputs[0]
    while True:
        order.append(cur)
        if kinds[cur] == "Output":
            break
        if len(succ[cur]) != 1 or len(pred[succ[cur][0]]) != 1:
            raise NIRImportError(f"node {cur} branches or joins: only feed-forward chains "
                                 "of NIR nodes are imported")
        cur = succ[cur][0]
        if cur in order:
            raise NIRImportError(f"node {cur} is in a cycle: recurrent graphs are not "
                                 "supported")
    if len(order) != len(graph.nodes):
        left = sorted(set(graph.nodes) - set(order))
        raise NIRImportError(f"nodes not on the Input -> Output chain: {', '.join(left)}")
    return [(n, graph.nodes[n]) for n in order]


def _input_shape(node) -> Tuple[int, ...]:
    shape = node.input_type.get("input") if isinstance(node.input_type, dict) else None
    if shape is None:
        raise NIRImportError("the Input node has no shape")
    shape = tuple(int(s) for s in np.asarray(shape).reshape(-1))
    return shape[1:] if len(shape) in (2, 4) and shape[0] == 1 else shape


def _type_shape(types, key: str) -> Optional[Tuple[int, ...]]:
    shape = types.get(key) if isinstance(types, dict) else None
    if shape is None or np.asarray(shape).size == 0:
        return None
    return tuple(int(s) for s in np.asarray(shape).reshape(-1))


def _check_flatten(name: str, node, shape: Tuple[int, ...]) -> None:
    """NIR's Flatten works on the unbatched shape: only a whole flatten is imported (a
    partial one would be read as whole, silently)."""
    start, end = int(node.start_dim), int(node.end_dim)
    if start not in (0, -len(shape)) or end not in (-1, len(shape) - 1):
        raise NIRImportError(f"{name}: Flatten(start_dim={start}, end_dim={end}) of a "
                             f"{shape} tensor: only a whole flatten (0, -1) is supported")
    given = _type_shape(node.input_type, "input")
    if given is not None and int(np.prod(given)) != int(np.prod(shape)):
        raise NIRImportError(f"{name}: input_type {given} differs from the {shape} it reads")


def _check_output(name: str, node, shape: Tuple[int, ...]) -> None:
    given = _type_shape(node.output_type, "output")
    if given is not None and int(np.prod(given)) != int(np.prod(shape)):
        raise NIRImportError(f"{name}: output_type {given} differs from the {shape} the "
                             "graph computes")


def from_nir(graph, dt: float = DEFAULT_DT, reset: str = "zero", levels: int = 1,
             input_levels: int = 1, timesteps: int = 1,
             classes: Optional[Sequence[str]] = None, current: str = "nir"):
    """A trainable :class:`lava_mlsnn.block.Network` from a NIR graph (or its file).

    Parameters
    ----------
    graph : nir.NIRGraph or path
    dt : float
        Step (s) at which NIR time constants are discretised (snnTorch: 1e-4; Norse:
        its cells' ``dt`` times the ``dt`` given to its ``to_nir``, 1e-6 when both are
        Norse's default 1e-3).
    reset : {'zero', 'subtract', 'snntorch', 'snntorch_delay', 'snntorch_zero_delay'}
        What a spike does to v: NIR's ``v = v_reset = 0`` (lava-dl ``CUBA`` blocks),
        subtract the threshold (multi-level blocks, up to ``levels`` spikes per step), or
        snnTorch's own ``reset_mechanism='subtract'`` with ``reset_delay`` False / True
        (one level; its reset is read from the stored membrane, DESIGN §5), or its
        ``Synaptic`` reset to zero with ``reset_delay=True`` (a ``CubaLIF``; other
        neurons then take ``'zero'``, which gives snnTorch's ``Leaky`` spikes).
    levels : int
        Levels of the multi-level neurons (``reset='subtract'`` only).
    input_levels : int
        Largest input count per pixel and step (``inputLevels``).
    timesteps : int
        Steps per sample written to the exported file.
    classes : list of str, optional
    current : {'nir', 'jump'}
        How a ``CubaLIF``'s input enters its current: NIR's definition (``tau_syn dI/dt =
        -I + w_in x``: ``dt/tau_syn * w_in * x`` a step), or a jump of ``w_in * x`` (Norse
        1.1's ``LIFCell``, which its exporter writes as a plain ``CubaLIF``).

    Raises
    ------
    NIRImportError
        One line naming the unsupported nodes or parameters.
    """
    from ..block import Flatten, Input, Network
    from ..block.passthrough import PassPool
    if reset not in RESETS:
        raise NIRImportError(f"reset must be one of {', '.join(RESETS)}, got {reset!r}")
    if levels < 1 or (levels > 1 and reset != "subtract"):
        raise NIRImportError(f"levels = {levels}: levels > 1 need reset='subtract' (snnTorch's "
                             "resets send one spike a step)")
    if current not in CURRENTS:
        raise NIRImportError(f"current must be one of {', '.join(CURRENTS)}, got {current!r}")
    g = _load(graph)
    check_graph(g, dt)
    chain = _chain(g)
    shape = _input_shape(chain[0][1])
    blocks: list = [Input(shape, input_levels)]
    pending: Optional[_Synapse] = None
    in_scale: Optional[np.ndarray] = None
    for name, node in chain[1:]:
        k = type(node).__name__
        if pending is not None and pending.kind == "pool" and k in SYNAPSES + ("Flatten",):
            blocks.append(PassPool(pending.kernel, pending.stride, pending.padding))
            if float(pending.weight) != 1.0:  # an average: its 1/k^2 goes to the reader
                in_scale = np.full(shape[0], float(pending.weight))
            pending = None
        if k == "Output":
            _check_output(name, node, shape)
            continue
        if k == "Delay":
            continue
        if k in SYNAPSES:
            if pending is not None:
                raise NIRImportError(f"{pending.name} -> {name}: two synapses without a "
                                     "neuron between them are not supported")
            if k in ("Affine", "Linear") and len(shape) > 1:
                blocks.append(Flatten())  # NIR readers flatten implicitly; the file says it
                in_scale = None if in_scale is None else np.repeat(
                    in_scale, int(np.prod(shape[1:])))
                shape = (int(np.prod(shape)),)
            pending, shape = _synapse(name, node, shape, in_scale)
            in_scale = None
        elif k == "Scale":
            s = np.asarray(node.scale, dtype=np.float64)
            if pending is not None:
                pending.scale_rows(_per_channel(s, shape[0], f"{name}.scale")
                                   if pending.kind != "pool" else s)
            else:
                c = _per_channel(s, shape[0], f"{name}.scale")
                in_scale = c if in_scale is None else in_scale * c
        elif k == "Flatten":
            _check_flatten(name, node, shape)
            if pending is not None:
                raise NIRImportError(f"{name}: a Flatten between {pending.name} and its "
                                     "neuron is not supported")
            if len(shape) > 1:
                blocks.append(Flatten())
                if in_scale is not None:
                    in_scale = np.repeat(in_scale, int(np.prod(shape[1:])))
                shape = (int(np.prod(shape)),)
        else:  # a neuron
            if pending is None:
                raise NIRImportError(f"{name} ({k}) has no synapse before it")
            blocks.append(_block(pending, _neuron(name, node, dt, current), name, reset, levels))
            pending = None
    if pending is not None:
        raise NIRImportError(f"{pending.name}: the graph ends without a neuron after it")
    net = Network(blocks, classes=list(classes) if classes else None, timesteps=timesteps)
    net._infer_shapes()
    return net


def read_nir(graph, allow_clipping: bool = False, **options) -> NetworkSpec:
    """The deployed network of a NIR graph (or file).

    A graph written by :func:`lava_mlsnn.nir.to_nir` (it carries the lava-mlsnn
    extension) is read back exactly, integer for integer; any other graph goes through
    :func:`from_nir` (``options``) and is folded to integers
    (:meth:`lava_mlsnn.block.Network.export_spec`, ``allow_clipping``).
    """
    g = _load(graph)
    check_graph(g, options.get("dt", DEFAULT_DT))
    ext = codec.decode_graph(getattr(g, "metadata", None) or {})
    if ext is not None:
        spec = _from_extension(g, ext)
        _check_nodes_match(g, spec)
        return spec
    net = from_nir(g, **options)
    meta = {"nir": {k: v for k, v in options.items()}}
    return net.export_spec(metadata=meta, allow_clipping=allow_clipping)


def _from_extension(g, ext: dict) -> NetworkSpec:
    layers: Dict[int, object] = {}
    for name, node in g.nodes.items():
        meta = getattr(node, "metadata", None) or {}
        if codec.KEY in meta:
            body_index = codec.decode_index(meta)
            layers[body_index] = codec.decode_layer(meta)
    n = int(ext["layers"])
    missing = [i for i in range(n) if i not in layers]
    if missing:
        raise NIRImportError(f"the lava-mlsnn extension lacks layers {missing}")
    return NetworkSpec([layers[i] for i in range(n)],
                       tuple(ext["inputShape"]) if ext["inputShape"] else None,
                       int(ext["inputLevels"]), int(ext["timesteps"]), ext["classes"],
                       ext["metadata"], bool(ext["stock"]))


_COMPARED = ("weight", "bias", "v_threshold", "threshold", "kernel_size", "stride",
             "padding", "dilation", "groups", "scale", "v_leak")


def _check_nodes_match(g, spec: NetworkSpec) -> None:
    """The extension must describe the graph's own nodes: an edited graph (a weight
    negated with the ``nir`` API, an edge moved) is refused, never read as the original.
    The dt-free parameters of the plain nodes the extension implies are compared."""
    from .exporter import to_nir
    avg = any(type(n).__name__ == "AvgPool2d" for n in g.nodes.values())
    with warnings.catch_warnings():  # what to_nir tells an exporting user, not a reader
        warnings.simplefilter("ignore")
        ref = to_nir(spec, extension=False, pool="avg" if avg else "sum")
    if set(ref.nodes) != set(g.nodes) or \
            sorted(map(tuple, ref.edges)) != sorted(map(tuple, g.edges)):
        raise NIRImportError("the graph's nodes or edges differ from its lava-mlsnn "
                             "extension (edited after export?): remove the 'lava_mlsnn' "
                             "metadata to import the nodes")
    for name, node in ref.nodes.items():
        mine = g.nodes[name]
        if type(mine).__name__ != type(node).__name__:
            raise NIRImportError(f"node {name} is a {type(mine).__name__}, its lava-mlsnn "
                                 f"extension says {type(node).__name__}")
        for key in _COMPARED:
            if not hasattr(node, key):
                continue
            a = np.asarray(getattr(node, key), dtype=np.float64)
            b = np.asarray(getattr(mine, key, None), dtype=np.float64)
            if a.shape != b.shape or not np.allclose(a, b, rtol=1e-5, atol=1e-6):
                raise NIRImportError(f"node {name}.{key} differs from the graph's lava-mlsnn "
                                     "extension (edited after export?): remove the "
                                     "'lava_mlsnn' metadata to import the nodes")
