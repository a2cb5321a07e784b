"""The lava-mlsnn extension of NIR: a deployed layer's integers in a node's metadata.

NIR has no graded neuron, no soft reset and no fixed-point parameters, so a NIR graph
written by :func:`lava_mlsnn.nir.to_nir` carries, next to its plain nodes, the exact
integers of every layer (DESIGN §6 ``/layer/<i>``) in the metadata of the node that
ends that layer. NIR keeps metadata one level deep (strings and arrays), hence the
flat keys below. Readers that do not know the extension see plain NIR nodes.
"""
from __future__ import annotations

import json
from typing import Dict, Optional

import numpy as np

from ..fixed import NeuronParams, SynapseSpec
from ..format.spec import Branch, LayerSpec

KEY = "lava_mlsnn_layer"  # JSON: everything but the arrays
GRAPH_KEY = "lava_mlsnn"  # JSON on the graph: format version and the root attributes
EXTENSION_VERSION = 1


def _weight_key(k: int) -> str:
    return f"lava_mlsnn_weight_{k}"


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        return _text(value.reshape(-1)[0] if value.size == 1 else value.tobytes())
    return str(value)


def encode_layer(index: int, layer: LayerSpec) -> Dict[str, object]:
    """Metadata entries that hold ``layer`` exactly."""
    meta: Dict[str, object] = {}
    branches = []
    for k, b in enumerate(layer.branches):
        s = b.synapse
        branches.append({"source": b.source, "kind": s.kind, "weightExp": s.weight_exp,
                         "stride": list(s.stride), "padding": list(s.padding),
                         "dilation": list(s.dilation), "groups": s.groups,
                         "kernel": list(s.kernel),
                         "weightShape": list(np.shape(s.weight))})
        # flat: NIR writes arrays compressed, which HDF5 refuses for scalars
        meta[_weight_key(k)] = np.asarray(s.weight, dtype=np.int64).reshape(-1)
    neuron = None
    if layer.neuron is not None:
        p = layer.neuron
        neuron = {"type": p.type, "vThMant": p.v_th_mant, "levels": p.levels,
                  "iDecay": p.i_decay, "vDecay": p.v_decay, "vInit": p.v_init,
                  "vBits": p.v_bits, "vExp": p.v_exp, "biasExp": p.bias_exp,
                  "inputLevels": p.input_levels, "hasBias": p.bias is not None}
        if p.bias is not None:
            meta["lava_mlsnn_bias"] = np.asarray(p.bias, dtype=np.int64).reshape(-1)
            neuron["biasShape"] = list(np.shape(p.bias))
        if p.current_bias is not None:  # absent from graphs of layers without one
            meta["lava_mlsnn_current_bias"] = np.asarray(p.current_bias,
                                                         dtype=np.int64).reshape(-1)
            neuron["currentBiasShape"] = list(np.shape(p.current_bias))
        if p.reset != "soft":  # absent from graphs of soft-reset layers
            neuron["reset"] = p.reset
    body = {"version": EXTENSION_VERSION, "index": index, "type": layer.type,
            "shape": list(layer.shape), "source": layer.source, "branches": branches,
            "neuron": neuron, "weightBits": layer.weight_bits,
            "weightScale": layer.weight_scale}
    meta[KEY] = json.dumps(body)
    return meta


def decode_layer(meta: Dict[str, object]) -> Optional[LayerSpec]:
    """The layer held by a node's metadata, or ``None`` when it holds none."""
    if KEY not in meta:
        return None
    body = json.loads(_text(meta[KEY]))
    if body.get("version") != EXTENSION_VERSION:
        raise ValueError(f"lava-mlsnn NIR extension version {body.get('version')!r} is not "
                         f"{EXTENSION_VERSION}")
    branches = []
    for k, b in enumerate(body["branches"]):
        w = np.asarray(meta[_weight_key(k)]).astype(np.int64).reshape(b["weightShape"])
        syn = SynapseSpec(b["kind"], w, int(b["weightExp"]), tuple(b["stride"]),
                          tuple(b["padding"]), tuple(b["dilation"]), int(b["groups"]),
                          tuple(b["kernel"]))
        branches.append(Branch(int(b["source"]), syn))
    neuron = None
    n = body["neuron"]
    if n is not None:
        bias = np.asarray(meta["lava_mlsnn_bias"]).astype(np.int64).reshape(n["biasShape"]) \
            if n["hasBias"] else None
        current = np.asarray(meta["lava_mlsnn_current_bias"]).astype(np.int64).reshape(
            n["currentBiasShape"]) if "currentBiasShape" in n else None
        neuron = NeuronParams(n["type"], int(n["vThMant"]), int(n["levels"]), int(n["iDecay"]),
                              int(n["vDecay"]), int(n["vInit"]), int(n["vBits"]),
                              int(n["vExp"]), bias, int(n["biasExp"]), int(n["inputLevels"]),
                              current_bias=current, reset=str(n.get("reset", "soft")))
    return LayerSpec(body["type"], tuple(int(s) for s in body["shape"]), int(body["source"]),
                     branches, neuron, int(body["weightBits"]), int(body["weightScale"]))


def encode_graph(spec) -> Dict[str, object]:
    """Graph metadata: the root attributes of the file (DESIGN §6)."""
    body = {"version": EXTENSION_VERSION, "layers": len(spec.layers),
            "inputShape": list(spec.input_shape) if spec.input_shape else None,
            "inputLevels": spec.input_levels, "timesteps": spec.timesteps,
            "classes": spec.classes, "stock": spec.stock,
            "metadata": json.dumps(spec.metadata, default=str)}
    return {GRAPH_KEY: json.dumps(body)}


def decode_graph(meta: Dict[str, object]) -> Optional[dict]:
    if not meta or GRAPH_KEY not in meta:
        return None
    body = json.loads(_text(meta[GRAPH_KEY]))
    body["metadata"] = json.loads(body["metadata"])
    return body


def decode_index(meta: Dict[str, object]) -> int:
    """The layer index a node's extension entry belongs to."""
    return int(json.loads(_text(meta[KEY]))["index"])
