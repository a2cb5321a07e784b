"""Deployed network -> NIR graph (:func:`to_nir`).

Plain nodes follow NIR's continuous-time definitions discretised with forward Euler at
step ``dt`` (the convention of snnTorch's and Norse's readers), in real units where one
unit of weight is one integer weight step and one unit of state is ``2**6`` state steps
(DESIGN §5): a binary ``CUBA`` layer becomes a synapse node followed by ``LIF`` (or
``IF``, ``CubaLIF``), a ``READOUT`` layer ``LI`` (or ``I``), a ``PASS`` layer its synapse
node alone. What NIR cannot say (soft reset and levels of ``MLSN``, ``vInit``, Loihi's
rounding and 24-bit saturation, the input clip) travels as the lava-mlsnn extension
(:mod:`lava_mlsnn.nir.codec`), which :func:`lava_mlsnn.nir.read_nir` reads back exactly.
"""
from __future__ import annotations

import warnings
from typing import Dict, List, Tuple

import numpy as np

from .. import fixed
from ..format.spec import INPUT, LayerSpec, NetworkSpec
from . import codec

DEFAULT_DT = 1e-4  # snnTorch's fixed step; Norse takes it as from_nir(..., dt=)


def _nir():
    import nir
    return nir


def _real_weight(syn: fixed.SynapseSpec) -> np.ndarray:
    return np.asarray(syn.weight, dtype=np.float64) * 2.0 ** syn.weight_exp


def _bias_real(p: fixed.NeuronParams, shape: Tuple[int, ...]) -> np.ndarray:
    """Per-step bias added to v, per output channel, in real units (state / 2**6).

    NIR's synapse biases are per channel; a full-layer bias keeps its first pixel here
    (the extension carries it whole)."""
    c = int(shape[0])
    if p is None or p.bias is None:
        return np.zeros(c)
    b = np.asarray(p.bias, dtype=np.float64) * 2.0 ** (p.bias_exp - fixed.STATE_SHIFT)
    return b.reshape(c, -1)[:, 0] if b.size != c else b.reshape(c)


def _current_bias_real(p: fixed.NeuronParams, shape: Tuple[int, ...]) -> np.ndarray:
    """A current bias (DESIGN §5) per output channel in real units: one unit of ``a`` is
    one integer weight step, so it is the synapse node's own bias, exact (NIR's
    ``CubaLIF`` adds its synapse's bias to the current, as §5 does; before an ``LIF`` or
    ``IF``, whose current does not persist, it reaches v within the same step)."""
    c = int(shape[0])
    if p is None or p.current_bias is None:
        return np.zeros(c)
    b = np.asarray(p.current_bias, dtype=np.float64)
    return np.full(c, float(b.reshape(-1)[0])) if b.size == 1 else \
        (b.reshape(c, -1)[:, 0] if b.size != c else b.reshape(c))


def _v_leak_of_bias(neuron, p: fixed.NeuronParams, shape: Tuple[int, ...], i: int) -> bool:
    """A ``CubaLIF``'s bias on v becomes its ``v_leak`` (``tau_mem dv/dt = v_leak - v +
    r I`` adds ``dt/tau_mem * v_leak`` to v per step): an ``Affine`` bias in front of it
    would enter the synaptic current and build up by ``1 / (1 - alpha)``. True if moved."""
    if type(neuron).__name__ != "CubaLIF" or p.bias is None or not np.any(p.bias):
        return False
    b = np.asarray(p.bias, dtype=np.float64) * 2.0 ** (p.bias_exp - fixed.STATE_SHIFT)
    b = b.reshape(shape) if b.size == int(np.prod(shape)) else \
        np.broadcast_to(b.reshape((-1,) + (1,) * (len(shape) - 1)), shape)
    dm = max(p.v_decay / fixed.DECAY_ONE, 1e-12)  # as tau_mem = dt / dm
    neuron.v_leak = (b / dm).astype(np.float32)
    warnings.warn(f"layer {i}: its bias is written as the CubaLIF's v_leak (NIR's "
                  "definition); snnTorch's import refuses v_leak, Norse's also adds it to "
                  "the synaptic current", stacklevel=3)
    return True


def _neuron_node(p: fixed.NeuronParams, shape: Tuple[int, ...], dt: float):
    """The plain NIR neuron for ``p`` and the gain its synapse must carry."""
    nir = _nir()
    full = lambda v: np.full(shape, float(v), dtype=np.float32)  # noqa: E731
    if p.type in ("MLSN", "CUBA"):
        th = full(p.v_th_mant)
        dv, di = p.v_decay / fixed.DECAY_ONE, p.i_decay / fixed.DECAY_ONE
        if di < 1.0:
            tau_syn = dt / max(di, 1e-12)
            tau_mem = dt / max(dv, 1e-12)
            return nir.CubaLIF(tau_syn=full(tau_syn), tau_mem=full(tau_mem),
                               r=full(tau_mem / dt), v_leak=full(0), v_threshold=th,
                               v_reset=full(0), w_in=full(tau_syn / dt)), 1.0
        if dv > 0.0:
            return nir.LIF(tau=full(dt / dv), r=full(1), v_leak=full(0), v_threshold=th,
                           v_reset=full(0)), 1.0 / dv
        return nir.IF(r=full(1), v_threshold=th, v_reset=full(0)), 1.0
    if p.type == "READOUT":
        dv = p.v_decay / fixed.DECAY_ONE
        if dv > 0.0:
            return nir.LI(tau=full(dt / dv), r=full(1), v_leak=full(0)), 1.0 / dv
        return nir.I(r=full(1)), 1.0
    return None, 1.0  # PASS: the synapse alone


def _synapse_nodes(name: str, syn: fixed.SynapseSpec, in_shape: Tuple[int, ...],
                   out_shape: Tuple[int, ...], gain: float, bias: np.ndarray,
                   pool: str = "sum", folded: bool = False) -> List[Tuple[str, object]]:
    nir = _nir()
    w = _real_weight(syn) * gain
    if syn.kind == "dense":
        return [(name, nir.Affine(weight=w.astype(np.float32),
                                  bias=(bias * gain).astype(np.float32)))]
    if syn.kind == "conv":
        return [(name, nir.Conv2d(input_shape=tuple(in_shape[1:]), weight=w.astype(np.float32),
                                  stride=syn.stride, padding=syn.padding,
                                  dilation=syn.dilation, groups=syn.groups,
                                  bias=(bias * gain).astype(np.float32)))]
    nodes: List[Tuple[str, object]] = []
    if syn.kind == "pool":
        make = nir.AvgPool2d if pool == "avg" else nir.SumPool2d
        nodes.append((name, make(kernel_size=np.array(syn.kernel), stride=np.array(syn.stride),
                                 padding=np.array(syn.padding))))
        if folded:  # the pool's weight sits in the neuron's threshold (peers read no Scale)
            return nodes
        scale_shape = out_shape
    else:
        scale_shape = in_shape
    scale = float(w.reshape(-1)[0])
    if scale != 1.0 or syn.kind == "identity":
        nodes.append((f"{name}_scale", nir.Scale(scale=np.full(scale_shape, scale,
                                                               dtype=np.float32))))
    return nodes


def _refuse_unmapped(spec: NetworkSpec) -> None:
    """Stock netx features this exporter has no NIR form for: refused, never dropped."""
    for i, layer in enumerate(spec.layers):
        p = layer.neuron
        what = ("axonal delays" if any(b.synapse.delay is not None for b in layer.branches)
                else "a recurrent (dense_rec) synapse" if layer.recurrent is not None
                else "a sigma-delta (SDNN) neuron" if p is not None
                and p.type in fixed.SDNN_TYPES
                else "an input layer with a neuron" if layer.type == "input" and p is not None
                and p.type != "INPUT" else None)
        if what:
            raise ValueError(f"layer {i} has {what}, which the NIR export does not carry")


def _fold_pool_scale(neuron, syn: fixed.SynapseSpec, gain: float, pool: str) -> None:
    """A pool into a spiking neuron: its weight (x gain; x k^2 for an average node) divides
    the neuron's threshold, exact since v_reset = 0 and the neuron has no bias here."""
    s = float(_real_weight(syn).reshape(-1)[0]) * gain
    if pool == "avg":
        s *= syn.kernel[0] * syn.kernel[1]
    neuron.v_threshold = (np.asarray(neuron.v_threshold) / s).astype(np.float32)


def to_nir(spec: NetworkSpec, dt: float = DEFAULT_DT, extension: bool = True,
           pool: str = "sum"):
    """A NIR graph of the deployed network ``spec``.

    Parameters
    ----------
    spec : NetworkSpec
    dt : float
        Step (s) at which NIR's time constants discretise to the file's decays:
        ``tau = dt * 4096 / vDecay``.
    extension : bool
        Carry every layer's exact integers (:mod:`lava_mlsnn.nir.codec`) in node metadata.
    pool : {'sum', 'avg'}
        Node a pooling layer becomes: ``SumPool2d`` (Norse, Sinabs read it) or
        ``AvgPool2d`` (snnTorch reads only that). A pool into a spiking neuron carries
        its weight in that neuron's threshold, so no ``Scale`` node is written.

    Returns
    -------
    nir.NIRGraph
    """
    nir = _nir()
    if spec.input_shape is None:
        raise ValueError("the network input shape is unknown: NIR needs it")
    if pool not in ("sum", "avg"):
        raise ValueError(f"pool must be 'sum' or 'avg', got {pool!r}")
    _refuse_unmapped(spec)
    nodes: Dict[str, object] = {}
    edges: List[Tuple[str, str]] = []
    tails: Dict[int, str] = {INPUT: "input"}
    nodes["input"] = nir.Input(input_type={"input": np.array(spec.input_shape)})
    for i, layer in enumerate(spec.layers):
        meta = codec.encode_layer(i, layer) if extension else {}
        if layer.type in ("input", "flatten") and not layer.branches:
            src = tails[layer.source]
            if layer.type == "input" and src == "input":
                # NIR has no clip and peers read no identity node: the Input node holds it
                nodes["input"].metadata = meta
                tails[i] = "input"
                continue
            if layer.type == "input":
                name = f"l{i}_input"
                node = nir.Scale(scale=np.ones(layer.shape, dtype=np.float32))
            else:
                name = f"l{i}"
                node = nir.Flatten(input_type={"input": np.array(spec.source_shape(layer.source))},
                                   start_dim=0, end_dim=-1)
            node.metadata = meta
            nodes[name] = node
            edges.append((src, name))
            tails[i] = name
            continue
        neuron, gain = _neuron_node(layer.neuron, layer.shape, dt)
        in_v_leak = _v_leak_of_bias(neuron, layer.neuron, layer.shape, i)
        ends = []
        for k, br in enumerate(layer.branches):
            base = f"l{i}" if len(layer.branches) == 1 else f"l{i}_b{k}"
            bias = _bias_real(layer.neuron if k == 0 and not in_v_leak else None,
                              layer.shape) + \
                _current_bias_real(layer.neuron if k == 0 else None, layer.shape)
            folded = br.synapse.kind == "pool" and neuron is not None and \
                hasattr(neuron, "v_threshold") and len(layer.branches) == 1 and \
                not np.any(bias)
            if folded:
                _fold_pool_scale(neuron, br.synapse, gain, pool)
            chain = _synapse_nodes(base, br.synapse, spec.source_shape(br.source), layer.shape,
                                   gain, bias, pool, folded)
            prev = tails[br.source]
            for name, node in chain:
                nodes[name] = node
                edges.append((prev, name))
                prev = name
            ends.append(prev)
        if neuron is None:
            if len(ends) > 1:  # a PASS join: NIR sums a node's inputs, so an identity joins them
                name = f"l{i}_sum"
                nodes[name] = nir.Scale(scale=np.ones(layer.shape, dtype=np.float32))
                edges.extend((e, name) for e in ends)
                ends = [name]
            nodes[ends[0]].metadata = meta
            tails[i] = ends[0]
        else:
            name = f"l{i}_neuron"
            neuron.metadata = meta
            nodes[name] = neuron
            edges.extend((e, name) for e in ends)
            tails[i] = name
    out_shape = spec.layers[-1].shape
    nodes["output"] = nir.Output(output_type={"output": np.array(out_shape)})
    edges.append((tails[len(spec.layers) - 1], "output"))
    # NIR's type inference takes a grouped conv's input channels from its weight
    # (in / groups): check types only where that cannot mislead it.
    grouped = any(b.synapse.kind == "conv" and b.synapse.groups > 1
                  for layer in spec.layers for b in layer.branches)
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=not grouped,
                        metadata=codec.encode_graph(spec) if extension else {})
