"""Random deployable networks, for bit-exactness tests and fuzzing."""
from __future__ import annotations

from dataclasses import replace
from typing import Optional, Sequence

import numpy as np

from .params import NeuronParams, SynapseSpec
from .shapes import synapse_output_shape
from .spec import INPUT, Branch, LayerSpec, NetworkSpec


def _neuron(rng: np.random.Generator, shape, levels: int, kind: str = "MLSN") -> NeuronParams:
    th = int(rng.integers(20, 200))
    leaky = rng.random() < 0.5
    bias = None
    if rng.random() < 0.5:
        bshape = (shape[0],) + (1,) * (len(shape) - 1) if rng.random() < 0.5 else tuple(shape)
        bias = rng.integers(-th // 2, th // 2 + 1, size=bshape).astype(np.int64)
    if kind == "READOUT":
        return NeuronParams("READOUT", 1, 1, 4096, int(rng.integers(0, 400)) if leaky else 0,
                            bias=bias)
    if kind == "CUBA":
        return NeuronParams("CUBA", th, 1, int(rng.integers(0, 4097)),
                            int(rng.integers(0, 4097)), bias=bias)
    v_bits = int(rng.choice([0, 0, 8, 12]))
    return NeuronParams(
        "MLSN", th, levels,
        i_decay=int(rng.choice([4096, int(rng.integers(0, 4097))])),
        v_decay=int(rng.integers(0, 600)) if leaky else 0,
        v_init=int(rng.choice([0, (th << 6) // 2])),
        v_bits=v_bits, v_exp=int(rng.integers(0, 7)) if v_bits else 0, bias=bias)


def _with_current_bias(rng: np.random.Generator, p: NeuronParams, shape) -> NeuronParams:
    """``p`` with a current bias (DESIGN §5) of about a threshold, per channel or per
    neuron, sometimes negative throughout."""
    bshape = (shape[0],) + (1,) * (len(shape) - 1) if rng.random() < 0.5 else tuple(shape)
    th = int(p.v_th_mant)
    lo = -th if rng.random() < 0.8 else -2 * th
    return replace(p, current_bias=rng.integers(lo, th + 1, size=bshape).astype(np.int64))


def random_network(rng: np.random.Generator, levels: int = 3, conv: bool = True,
                   input_shape: Optional[Sequence[int]] = None, input_levels: int = 3,
                   neuron: str = "MLSN", timesteps: int = 2,
                   current_bias: bool = False) -> NetworkSpec:
    """A random feed-forward network of DESIGN §6 layers.

    Conv networks: input -> conv (random stride/padding/groups) -> pool -> conv ->
    flatten -> dense -> dense(READOUT). Dense networks: input -> dense -> dense ->
    dense(READOUT). Weights span Loihi's 8-bit range with a random ``weightExp``.
    ``current_bias``: every MLSN and CUBA layer also gets a current bias (drawn after
    everything else, so the network is otherwise the one drawn without it).
    """
    rng = np.random.default_rng(rng)
    layers = []
    if conv:
        shape = tuple(input_shape or (2, int(rng.integers(6, 11)), int(rng.integers(6, 11))))
    else:
        shape = tuple(input_shape or (int(rng.integers(5, 30)),))
    layers.append(LayerSpec("input", shape, INPUT, neuron=NeuronParams("INPUT",
                                                                       input_levels=input_levels)))

    def add(kind: str, syn: SynapseSpec, ntype: str = neuron):
        src = len(layers) - 1
        out = synapse_output_shape(syn, layers[src].shape)
        layers.append(LayerSpec(kind, out, src, [Branch(src, syn)], _neuron(rng, out, levels, ntype)))

    def w(*size):
        return rng.integers(-256, 255, size=size).astype(np.int64)

    if conv:
        c = shape[0]
        groups = int(rng.choice([1, 2])) if c % 2 == 0 else 1
        c1 = 4 if groups == 1 else 4
        add("conv", SynapseSpec("conv", w(c1, c // groups, 3, 3), int(rng.integers(-3, 2)),
                                stride=(int(rng.integers(1, 3)),) * 2,
                                padding=(int(rng.integers(0, 2)),) * 2, groups=groups))
        add("pool", SynapseSpec("pool", np.array(int(rng.integers(1, 40))), 0,
                                stride=(2, 2), kernel=(2, 2)) if min(layers[-1].shape[1:]) >= 2
            else SynapseSpec("identity", np.array(int(rng.integers(1, 40)))))
        if layers[-1].type == "identity":
            layers[-1].type = "join"
        add("conv", SynapseSpec("conv", w(3, layers[-1].shape[0], 2, 2), 0, padding=(1, 1),
                                dilation=(int(rng.integers(1, 3)),) * 2))
        layers.append(LayerSpec("flatten", (layers[-1].size,), len(layers) - 1))
    else:
        add("dense", SynapseSpec("dense", w(int(rng.integers(5, 20)), shape[0]),
                                 int(rng.integers(-2, 2))))
    add("dense", SynapseSpec("dense", w(int(rng.integers(5, 20)), layers[-1].size), 0))
    add("dense", SynapseSpec("dense", w(int(rng.integers(2, 6)), layers[-1].size), 0),
        "READOUT" if neuron != "CUBA" else "CUBA")
    if current_bias:
        for layer in layers:
            if layer.neuron is not None and layer.neuron.type in ("MLSN", "CUBA"):
                layer.neuron = _with_current_bias(rng, layer.neuron, layer.shape)
    return NetworkSpec(layers=layers, input_shape=shape, input_levels=input_levels,
                       timesteps=timesteps)


def random_input(rng: np.random.Generator, spec: NetworkSpec, batch: int, steps: int,
                 high: Optional[int] = None) -> np.ndarray:
    """Random integer input ``[B, T, *inputShape]``, sometimes above ``inputLevels``."""
    rng = np.random.default_rng(rng)
    high = spec.input_levels + 2 if high is None else high
    return rng.integers(0, high + 1, size=(batch, steps) + tuple(spec.input_shape)).astype(np.int64)
