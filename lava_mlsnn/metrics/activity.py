"""Activity of a deployed network: events, payload sums and synaptic operations.

Counts come from aligned per-layer outputs (an emulator or Lava run of an exported
file, or the training-side quantized forward, which are identical). A graded spike
is one *event*: one weight read and one multiply-add per fan-out synapse.

**Synaptic operations** (the one definition that ``evaluate``, ``inspect --energy``, the
training summaries and the benchmarks report): per sample, over every synapse of the
file (dense, conv, pool, identity, every join branch, those reading the network input
included), the events of its source times the nonzero weights each event reaches
(padding excluded). Per layer it is attributed to the layer whose events cause it
(``synops``: "synops out"). Named variants: ``synops_unary`` (a payload ``z`` costs
``z`` ops: sinabs, I-LIF) and NeuroBench's effective MACs / ACs (dense and conv
synapses only, :mod:`lava_mlsnn.metrics.neurobench`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np
import torch

from ..fixed import SynapseSpec, raw_current
from ..format.spec import INPUT, NetworkSpec

SPIKING = ("MLSN", "CUBA", "PASS", "INPUT")


@dataclass
class LayerActivity:
    """Per-sample averages for one layer.

    Attributes
    ----------
    events : float
        Nonzero payloads sent (over all steps).
    payload : float
        Sum of payloads (``sum z``); equals ``events`` for binary layers.
    synops : float
        Events x fan-out (synaptic operations triggered downstream).
    synops_unary : float
        Payload x fan-out: the same traffic counted as unary spikes (sinabs,
        SpikingJelly I-LIF convention).
    neurons : int
    """

    index: int
    type: str
    neuron: str
    neurons: int
    events: float
    payload: float
    synops: float
    synops_unary: float

    @property
    def event_rate(self) -> float:
        return self.events / max(self.neurons, 1)


def fanout_map(spec: NetworkSpec, index: int) -> torch.Tensor:
    """Synapses (nonzero weights) leaving each element of layer ``index``.

    Returns a float tensor of the layer's shape. Computed as the gradient of the
    total current of every consumer with 0/1 weights: exact at borders and strides.
    """
    shape = spec.source_shape(index)
    total = torch.zeros(shape, dtype=torch.float64)
    for consumer in spec.consumers().get(index, []):
        layer = spec.layers[consumer]
        if layer.type == "flatten":
            total += fanout_map(spec, consumer).reshape(shape)
            continue
        for br in layer.branches:
            if br.source != index:
                continue
            ones = SynapseSpec(br.synapse.kind, (np.asarray(br.synapse.weight) != 0).astype(np.int64),
                               0, br.synapse.stride, br.synapse.padding, br.synapse.dilation,
                               br.synapse.groups, br.synapse.kernel)
            z = torch.ones((1,) + tuple(shape), dtype=torch.float64, requires_grad=True)
            raw_current(ones, z).sum().backward()
            total += z.grad[0]
    rec = spec.layers[index].recurrent if index >= 0 else None
    if rec is not None:  # a dense_rec layer's payload also feeds back through weight_rec
        total += torch.as_tensor((np.asarray(rec.weight) != 0).sum(0),
                                 dtype=torch.float64).reshape(shape)
    return total


def layer_activity(spec: NetworkSpec, outputs: Mapping[int, torch.Tensor]
                   ) -> List[LayerActivity]:
    """Activity of every spiking/PASS layer from aligned outputs ``{i: [B, T, *shape]}``.

    READOUT layers (which send a membrane, not spikes) and flatten layers (no
    neurons) are left out.
    """
    result = []
    for i, layer in enumerate(spec.layers):
        if layer.neuron is None or layer.neuron.type not in SPIKING or i not in outputs:
            continue
        out = torch.as_tensor(outputs[i]).to(torch.float64)
        batch = out.shape[0]
        fan = fanout_map(spec, i)
        nonzero = (out != 0).to(torch.float64)
        result.append(LayerActivity(
            i, layer.type, layer.neuron.type, layer.size,
            events=float(nonzero.sum()) / batch, payload=float(out.abs().sum()) / batch,
            synops=float((nonzero * fan).sum()) / batch,
            synops_unary=float((out.abs() * fan).sum()) / batch))
    return result


def block_activity(spec: NetworkSpec, layers: Sequence[LayerActivity]) -> List[Dict]:
    """Group layer activity by the blocks recorded in the file's metadata.

    Returns one dict per block (``name``, ``layers``, ``events``, ``payload``,
    ``synops``); files without block metadata get one entry per layer.
    """
    by_index = {a.index: a for a in layers}
    blocks = spec.metadata.get("blocks") or [{"name": f"layer {a.index}", "layers": [a.index]}
                                             for a in layers]
    out = []
    for b in blocks:
        members = [by_index[i] for i in b["layers"] if i in by_index]
        if not members:
            continue
        out.append({"name": b["name"], "layers": [m.index for m in members],
                    "events": sum(m.events for m in members),
                    "payload": sum(m.payload for m in members),
                    "synops": sum(m.synops for m in members),
                    "output_events": members[-1].events, "output_payload": members[-1].payload})
    return out


def totals(layers: Sequence[LayerActivity], skip_input: bool = True) -> Dict[str, float]:
    """Network totals per sample.

    The input layer's events and payload are not network activity (``skip_input``); the
    synaptic operations they cause are (module docstring), so they are always counted.
    """
    keep = [a for a in layers if not (skip_input and a.neuron == "INPUT")]
    return {"events": sum(a.events for a in keep), "payload": sum(a.payload for a in keep),
            "synops": sum(a.synops for a in layers),
            "synops_unary": sum(a.synops_unary for a in layers)}


def record_to_outputs(record: Sequence[torch.Tensor]) -> Dict[int, torch.Tensor]:
    """Training-side record (SLAYER layout ``[N, *shape, T]``) -> ``{i: [N, T, *shape]}``."""
    return {i: r.movedim(-1, 1) for i, r in enumerate(record)}


def plot_activity(curves: Mapping[str, Sequence[float]], path: str, ylabel: str = "payload "
                  "sum per sample", title: str = "Activity per block") -> None:
    """Line plot of activity vs block depth, one line per network (PNG)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=120)
    for name, values in curves.items():
        ax.plot(range(1, len(values) + 1), values, marker="o", label=name)
    ax.set_xlabel("block (depth)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def as_rows(layers: Sequence[LayerActivity]) -> List[Dict]:
    return [asdict(a) for a in layers]
