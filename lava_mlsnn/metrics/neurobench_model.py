"""A deployed network as a ``torch.nn.Module`` that NeuroBench's own hooks can measure.

NeuroBench (extra ``neurobench``) measures a model through forward hooks: synaptic
operations on ``nn.Linear`` / ``nn.Conv2d`` calls, activation sparsity on activation
modules, footprint from parameters and buffers. :class:`DeployedModule` runs a
:class:`~lava_mlsnn.format.spec.NetworkSpec` step by step with the integer arithmetic of
:mod:`lava_mlsnn.fixed` (its outputs are the emulator's) and, at each step, calls a
float32 ``nn.Linear`` / ``nn.Conv2d`` holding the integer weights on the payload the
synapse reads, and a :class:`Payload` module on what every spiking layer sends: the calls
are where NeuroBench measures, the integer current is :func:`lava_mlsnn.fixed.
synapse_current`'s. Pool and identity weights are buffers (NeuroBench counts them in the
footprint, not in the synaptic operations), biases too.

Usage::

    from neurobench.models import TorchModel
    model = TorchModel(DeployedModule(spec))
    model.add_activation_module(Payload)
"""
from __future__ import annotations

from typing import Dict

import numpy as np
import torch

from .. import fixed
from ..format.spec import INPUT, NetworkSpec

SPIKING = ("MLSN", "CUBA", "PASS")


class Payload(torch.nn.Module):
    """Identity on a spiking layer's payload: NeuroBench's activation hook point."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z


def _measured(syn: fixed.SynapseSpec, in_shape) -> torch.nn.Module:
    w = torch.as_tensor(np.asarray(syn.weight), dtype=torch.float32)
    if syn.kind == "dense":
        m = torch.nn.Linear(w.shape[1], w.shape[0], bias=False)
    elif syn.kind == "conv":
        m = torch.nn.Conv2d(int(in_shape[0]), w.shape[0], tuple(w.shape[2:]), syn.stride,
                            syn.padding, syn.dilation, syn.groups, bias=False)
    else:  # pool / identity: not a NeuroBench connection layer
        m = torch.nn.Module()
        m.register_buffer("weight", w.reshape(1))
        return m
    with torch.no_grad():
        m.weight.copy_(w)
    m.weight.requires_grad_(False)
    return m


class DeployedModule(torch.nn.Module):
    """``forward(x [B, T, *inputShape]) -> output layer [B, T, *shape]`` (int64)."""

    def __init__(self, spec: NetworkSpec):
        super().__init__()
        self.spec = spec
        self.synapses = torch.nn.ModuleDict()
        self.payloads = torch.nn.ModuleDict()
        for i, layer in enumerate(spec.layers):
            for k, br in enumerate(layer.branches):
                self.synapses[f"{i}_{k}"] = _measured(br.synapse, spec.source_shape(br.source))
            if layer.neuron is not None and layer.neuron.type in SPIKING:
                self.payloads[str(i)] = Payload()
            if layer.neuron is not None and layer.neuron.bias is not None:
                self.register_buffer(f"bias_{i}", torch.as_tensor(
                    np.asarray(layer.neuron.bias), dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec = self.spec
        x = torch.as_tensor(x).to(torch.int64)
        state: Dict[int, tuple] = {}
        outs = []
        for t in range(x.shape[1]):
            sent: Dict[int, torch.Tensor] = {INPUT: x[:, t]}
            for i, layer in enumerate(spec.layers):
                if layer.type == "flatten":
                    src = sent[layer.source]
                    sent[i] = src.reshape(src.shape[0], -1)
                    continue
                if layer.type == "input":
                    a = sent[layer.source]
                else:
                    a = 0
                    for k, br in enumerate(layer.branches):
                        z = sent[br.source]
                        m = self.synapses[f"{i}_{k}"]
                        if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
                            m(z.reshape(z.shape[0], -1).float() if br.synapse.kind == "dense"
                              else z.float())  # the measurement point (hooks)
                        a = a + fixed.synapse_current(br.synapse, z)
                if i not in state:
                    state[i] = fixed.initial_state(layer.neuron, a.shape, a)
                state[i], out = fixed.neuron_step(state[i], a, layer.neuron)
                if str(i) in self.payloads:
                    out = self.payloads[str(i)](out)
                sent[i] = out
            outs.append(sent[len(spec.layers) - 1])
        return torch.stack(outs, 1)
