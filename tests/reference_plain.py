"""Turn lava-mlsnn's in-memory network into the plain dicts of :mod:`reference`.

Only attribute reads and ``tolist()``: no arithmetic of the contract happens here, so a
comparison with :func:`reference.run_network` stays a comparison with an independent
transcription.
"""
from typing import Dict

import numpy as np


def plain_synapse(syn) -> Dict:
    w = np.asarray(syn.weight)
    d = {"kind": syn.kind, "weightExp": int(syn.weight_exp)}
    if syn.kind == "dense":
        d["weight"] = w.astype(np.int64).tolist()
    elif syn.kind == "conv":
        d.update(weight=(tuple(int(s) for s in w.shape), w.astype(np.int64).ravel().tolist()),
                 stride=tuple(syn.stride), padding=tuple(syn.padding),
                 dilation=tuple(syn.dilation), groups=int(syn.groups))
    else:
        d["weight"] = int(w.reshape(()))
        if syn.kind == "pool":
            d.update(kernel=tuple(syn.kernel), stride=tuple(syn.stride),
                     padding=tuple(syn.padding))
    return d


def plain_neuron(p, shape) -> Dict:
    d = {"type": p.type, "vThMant": int(p.v_th_mant), "levels": int(p.levels),
         "iDecay": int(p.i_decay), "vDecay": int(p.v_decay), "vInit": int(p.v_init),
         "vBits": int(p.v_bits), "vExp": int(p.v_exp), "biasExp": int(p.bias_exp)}
    if p.reset != "soft":
        d["resetRule"] = ("soft", "snntorch", "snntorch_delay",
                                                     "snntorch_zero_delay").index(p.reset)
    if p.bias is not None:
        d["bias"] = np.broadcast_to(np.asarray(p.bias), tuple(shape)).astype(np.int64) \
            .ravel().tolist()
    return d


def plain_network(spec) -> Dict:
    layers = []
    for layer in spec.layers:
        d = {"type": layer.type, "shape": tuple(int(s) for s in layer.shape),
             "source": int(layer.source),
             "branches": [{"source": int(b.source), "syn": plain_synapse(b.synapse)}
                          for b in layer.branches]}
        if layer.neuron is not None and layer.neuron.type != "INPUT":
            d["neuron"] = plain_neuron(layer.neuron, layer.shape)
        layers.append(d)
    return {"input_shape": tuple(spec.input_shape), "input_levels": int(spec.input_levels),
            "layers": layers}


def run_reference(spec, x: np.ndarray) -> Dict[int, np.ndarray]:
    """:func:`reference.run_network` on every sample of ``x [B, T, *inputShape]``;
    returns ``{layer: int64 [B, T, *shape]}`` like the emulator."""
    import reference
    net = plain_network(spec)
    per = [reference.run_network(net, [xt.ravel().tolist() for xt in sample]) for sample in x]
    out = {}
    for i, layer in enumerate(spec.layers):
        arr = np.array([p[i] for p in per], dtype=np.int64)
        out[i] = arr.reshape((len(x), x.shape[1]) + tuple(layer.shape))
    return out
