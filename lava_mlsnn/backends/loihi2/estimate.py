"""Loihi 2 estimate of a network: cores and chips (:mod:`.mapping`), frames/s and energy.

One model gives all three: the per-layer allocation of :mod:`.mapping` (calibrated on the
compiler's published tables) sets how many neurons and synapses each core serves, and so the
time of a step and, with per-operation and static figures, its energy. Pure arithmetic on a
:class:`~lava_mlsnn.format.spec.NetworkSpec`.

Time per step: the busiest core's neuron and synaptic updates, ``T_NEURON * n + T_SYNOP *
ops * n / N`` (``n`` of the layer's ``N`` neurons on the core, ``ops`` the layer's synaptic
operations per step: ``activity`` x its connections, or a run's measured count), plus one
barrier; when the host sends the input every step, at least ``input values /
HOST_VALUES_PER_S``. Frames/s: one over
``steps`` of them. Energy per inference: ``steps * (P_STATIC * chips * t_step + dynamic)``,
dynamic = ``E_NEURON`` per neuron update + ``E_SYNOP`` per synaptic operation + ``E_SPIKE`` per
spike sent, over every layer.

``activity`` is the fraction of a layer's sources that send per step (uniform over layers, an
assumption: the notebooks publish activity only as plots); it sets every synaptic-operation
figure, so a measured rate (e.g. ``inspect --energy``'s run) should replace it where known.

The memory-aware energy model (:mod:`lava_mlsnn.metrics.energy`) answers another question: the
energy of the same arithmetic on a generic near-memory accelerator, from a run's activity and
SRAM access costs; this one estimates Loihi 2 itself, static power included (DESIGN §8).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from ...format.spec import NetworkSpec
from ...metrics.memory import weight_bits
from .mapping import LayerMap, estimate_spec, input_on_chip
from .report import CORES_PER_CHIP, layer_synapses

#: Time per synaptic spike operation, s: Loihi (1) maximum, Davies et al., "Loihi: a
#: neuromorphic manycore processor with on-chip learning", IEEE Micro 38(1), 2018, Table 2.
#: Intel has published no per-operation figures for Loihi 2; these are used for it.
T_SYNOP = 3.5e-9
#: Time per active neuron update, s (same table).
T_NEURON = 8.4e-9
#: Mesh-wide barrier synchronisation per step, s (same table: 113-465 ns; the maximum).
T_BARRIER = 465e-9
#: Energy per synaptic spike operation, J (same table, 23.6 pJ).
E_SYNOP = 23.6e-12
#: Energy per active neuron update, J (same table, 52 pJ).
E_NEURON = 52e-12
#: Energy per spike sent within a tile, J (same table, 1.7 pJ; mesh hops not counted).
E_SPIKE = 1.7e-12
#: Static power per chip, W: mean of the idle power the two PilotNet benchmark notebooks
#: measured per chip on Loihi 2 (0.232 W, pilotnet_snn; 0.282 W, pilotnet_sdnn).
P_STATIC = 0.257
#: Input values the host sends per second: fitted to the PilotNet SDNN notebook, the one
#: published host-bound run (16.87 frames/s of 200 x 66 x 3 values, one step per frame).
HOST_VALUES_PER_S = 200 * 66 * 3 * 16.87
#: Fraction of a layer's sources that send per step when no measured rate is given.
ACTIVITY = 0.1

ASSUMPTIONS = [
    "cores per layer: the compiler-calibrated mapping (DESIGN §8; conv tiles along width, "
    "dense layers bound by 8,192 synapse words per core); multi-level neurons and joins cost "
    "as SDNN neurons",
    f"each layer gets cores of its own; {CORES_PER_CHIP} cores per chip (Intel's Loihi 2 "
    "figure); a flatten and a host-sent input take none",
    "time and energy per operation: Loihi (1) figures of Davies et al. 2018 (none published "
    "for Loihi 2); static power: the PilotNet notebooks' idle power per chip",
    "activity: the given fraction of every layer's sources sends each step (synaptic "
    "operations scale with it); every neuron updates every step",
    "host input: the whole input frame each step at the rate fitted to the PilotNet SDNN "
    "notebook; an input layer of LIF neurons runs on chip (the PilotNet SNN notebook)",
]


@dataclass(frozen=True)
class Performance:
    """Throughput and energy per inference of a mapped network.

    Attributes
    ----------
    step_s, core_step_s, host_step_s : float
        Time per step (s): the estimate, the busiest core's part, the host-input part
        (0 when the input runs on chip).
    bound : str
        What sets ``step_s``: ``"host input"`` or the busiest core's layer label.
    steps : int
        Steps per inference.
    fps : float
        Inferences (frames) per second, ``1 / (steps * step_s)``.
    energy_j, static_j, dynamic_j : float
        Energy per inference (J) and its static and dynamic parts.
    activity : float or None
        The source activity assumed (``None``: a run's measured activity).
    layers : tuple of (int, float, float)
        Per mapped layer: its index, its busiest core's time per step (s, barrier excluded)
        and its dynamic energy per inference (J).
    """

    step_s: float
    core_step_s: float
    host_step_s: float
    bound: str
    steps: int
    fps: float
    energy_j: float
    static_j: float
    dynamic_j: float
    activity: Optional[float]
    layers: Tuple[Tuple[int, float, float], ...] = ()


def _layer_rates(spec: NetworkSpec, i: int, activity: float, counts) -> tuple:
    """Synaptic operations and spikes per step of layer ``i``: assumed or measured."""
    layer = spec.layers[i]
    if counts is None:
        syn = activity * (layer_synapses(spec, i) if layer.branches else 0)
        return syn, activity * layer.size
    per_step = max(counts.samples * counts.timesteps, 1)
    syn = sum(v for (j, _), v in counts.branch_synops.items() if j == i) / per_step
    return syn, counts.events.get(i, 0.0) / per_step


def performance(spec: NetworkSpec, *, activity: float = ACTIVITY,
                steps: Optional[int] = None, rows: Optional[List] = None,
                counts=None) -> Performance:
    """Frames/s and energy per inference of ``spec`` on Loihi 2 (module notes).

    Parameters
    ----------
    spec : NetworkSpec
    activity : float
        Fraction of each layer's sources that send per step, in ``[0, 1]``.
    steps : int, optional
        Steps per inference (default: the file's ``timesteps``, else 1).
    rows : list, optional
        :func:`~.mapping.estimate_spec` of ``spec``, if already computed.
    counts : RunCounts, optional
        A run's activity (:func:`lava_mlsnn.backends.evaluate.count_run`): its exact
        synaptic operations and spikes per step replace ``activity`` (a layer's operations
        spread evenly over its cores); ``Performance.activity`` is then ``None``.
    """
    if not 0.0 <= activity <= 1.0 or not math.isfinite(activity):
        raise ValueError(f"activity must be a fraction in [0, 1], got {activity}")
    steps = int(steps or spec.timesteps or 1)
    if steps < 1:
        raise ValueError(f"steps per inference must be positive, got {steps}")
    rows = estimate_spec(spec) if rows is None else rows
    core, bound, dynamic, per_layer = 0.0, "-", 0.0, []
    for i, label, m in rows:
        layer = spec.layers[i]
        syn, spikes = _layer_rates(spec, i, activity, counts)
        # The busiest core of a layer: its share of the layer's neurons and operations.
        t = T_NEURON * m.neurons_per_core + T_SYNOP * syn * m.neurons_per_core / layer.size
        if t > core:
            core, bound = t, label
        energy = E_NEURON * layer.size + E_SYNOP * syn + E_SPIKE * spikes
        dynamic += energy
        per_layer.append((i, t, steps * energy))
    host = 0.0
    if not input_on_chip(spec) and spec.input_shape is not None:
        host = int(np.prod(spec.input_shape)) / HOST_VALUES_PER_S
    step = max(core + T_BARRIER, host)
    if host > core + T_BARRIER:
        bound = "host input"
    chips = max(1, math.ceil(sum(m.cores for _, _, m in rows) / CORES_PER_CHIP))
    static = steps * step * P_STATIC * chips
    return Performance(step, core + T_BARRIER, host, bound, steps, 1.0 / (steps * step),
                       static + steps * dynamic, static, steps * dynamic,
                       None if counts is not None else activity, tuple(per_layer))


def resource_estimate(spec: NetworkSpec) -> Dict:
    """Cores per layer and in total, chips, and the assumptions (the one core estimate).

    Returns
    -------
    dict
        ``layers``: one ``{'layer', 'label', 'neurons', 'synapses', 'weight_bits',
        'synapse_bytes', 'neurons_per_core', 'syn_words_per_core', 'axon_in', 'cores',
        'binds'}`` per mapped layer (``synapse_bytes``: the connections at their weight bits,
        for reference; cores come from the mapping); totals ``neurons``, ``synapses``,
        ``synapse_bytes``, ``cores``, ``chips``, ``fits_one_chip``; ``assumptions``.
    """
    rows = []
    for i, label, m in estimate_spec(spec):
        layer = spec.layers[i]
        syn = layer_synapses(spec, i) if layer.branches else 0
        bits = weight_bits(layer)
        rows.append({"layer": i, "label": label, "neurons": layer.size, "synapses": syn,
                     "weight_bits": bits, "synapse_bytes": math.ceil(syn * bits / 8),
                     **asdict(m)})
    cores = sum(r["cores"] for r in rows)
    chips = max(1, math.ceil(cores / CORES_PER_CHIP))
    return {"layers": rows,
            "neurons": sum(r["neurons"] for r in rows),
            "synapses": sum(r["synapses"] for r in rows),
            "synapse_bytes": sum(r["synapse_bytes"] for r in rows),
            "cores": cores, "chips": chips, "fits_one_chip": chips == 1,
            "assumptions": list(ASSUMPTIONS)}


def loihi2_estimate(spec: NetworkSpec, *, activity: float = ACTIVITY,
                    steps: Optional[int] = None, counts=None) -> Dict:
    """:func:`resource_estimate` plus ``performance`` (:class:`Performance` as a dict with
    ``ms_per_step`` and ``mj_per_inference``) and, per layer, ``core_step_s`` and
    ``dynamic_j``: what ``inspect --json`` prints under ``loihi2``."""
    res = resource_estimate(spec)
    perf = performance(spec, activity=activity, steps=steps, counts=counts,
                       rows=[(r["layer"], r["label"], LayerMap(
                           r["neurons_per_core"], r["syn_words_per_core"], r["axon_in"],
                           r["cores"], r["binds"])) for r in res["layers"]])
    for row, (_, t, energy) in zip(res["layers"], perf.layers):
        row["core_step_s"], row["dynamic_j"] = t, energy
    res["performance"] = {**{k: v for k, v in asdict(perf).items() if k != "layers"},
                          "ms_per_step": perf.step_s * 1e3,
                          "mj_per_inference": perf.energy_j * 1e3}
    return res
