"""NeuroBench-style workload figures of a deployed network, and the energy summary text.

For one run (:class:`~lava_mlsnn.metrics.energy.RunCounts`, i.e. an emulator run of the
exported file), following NeuroBench's definitions (``docs/metrics``;
``neurobench/metrics/utils/layers/macs.py``):

* **activation sparsity**: zero outputs / all outputs of the spiking layers (MLSN, CUBA,
  PASS) over all steps. The input layer and the READOUT (a membrane, not an activation)
  are left out, as NeuroBench hooks only neuron modules.
* **synaptic operations**, per sample, of the dense and conv synapses only (NeuroBench
  skips pooling, normalisation and element-wise adds): *effective* = the layer re-run with
  inputs and weights binarised (nonzero -> 1), summed; it counts as **MACs** when any input
  value of the layer is outside {0, 1} (graded spikes, SEW-ADD sums, raw DVS counts), as
  **ACs** otherwise; *dense* = every input and weight set to 1, every step. The binary test
  is made over the whole run (NeuroBench makes it per call).
* the same traffic **per event** (one op per nonzero payload and synapse: lava-mlsnn's,
  and SpikingJelly's convention when spikes are binary) and **per unit of payload** (a
  payload ``z`` costs ``z`` ops: sinabs ``synops``, the I-LIF convention), over every
  synapse of the file, pool and join synapses included.
* **footprint**: bytes at the deployed integer bit widths
  (:func:`lava_mlsnn.metrics.memory.memory_footprint`), and as NeuroBench counts a model
  (``numel * element_size`` of parameters: 4 bytes per weight and bias).
"""
from __future__ import annotations

from typing import Dict, List

import numpy as np

from .._table import format_table
from ..format.shapes import synapse_count
from ..format.spec import NetworkSpec
from .energy import EnergyReport, RunCounts, resolve_source
from .memory import memory_footprint

NEUROBENCH_KINDS = ("dense", "conv")
ACTIVATIONS = ("MLSN", "CUBA", "PASS")


def activation_sparsity(spec: NetworkSpec, counts: RunCounts) -> float:
    """Share of zero outputs of the spiking layers over the run (0: no sparsity)."""
    zero = total = 0.0
    for i, layer in enumerate(spec.layers):
        if layer.neuron is not None and layer.neuron.type in ACTIVATIONS:
            size = counts.timesteps * layer.size
            total += size
            zero += size - counts.mean("events", i)
    return zero / total if total else 0.0


def synaptic_ops(spec: NetworkSpec, counts: RunCounts) -> List[Dict]:
    """Synaptic operations per sample of every synapse (one row per layer and branch).

    Keys: ``layer``, ``branch``, ``kind``, ``binary`` (its source sends only 0/1),
    ``neurobench`` (a dense/conv synapse NeuroBench counts), ``effective`` (per event),
    ``unary`` (per unit of payload) and ``dense`` (all inputs and weights 1, every step).
    """
    rows = []
    for i, layer in enumerate(spec.layers):
        for k, br in enumerate(layer.branches):
            dense = counts.timesteps * synapse_count(br.synapse, spec.source_shape(br.source))
            rows.append({"layer": i, "branch": k, "kind": br.synapse.kind,
                         "binary": counts.binary.get(resolve_source(spec, br.source), True),
                         "neurobench": br.synapse.kind in NEUROBENCH_KINDS,
                         "effective": counts.mean("branch_synops", (i, k)),
                         "unary": counts.mean("branch_unary", (i, k)),
                         "dense": float(dense)})
    return rows


def connection_sparsity(spec: NetworkSpec) -> float:
    """Zero weights / all weights of the dense and conv synapses."""
    w = [np.asarray(b.synapse.weight).ravel() for layer in spec.layers for b in layer.branches
         if b.synapse.kind in NEUROBENCH_KINDS]
    w = np.concatenate(w) if w else np.zeros(0)
    return float((w == 0).mean()) if w.size else 0.0


def neurobench_metrics(spec: NetworkSpec, counts: RunCounts) -> Dict[str, float]:
    """NeuroBench-style figures of one run (per sample; see the module docstring).

    Returns
    -------
    dict
        ``activation_sparsity``; ``effective_macs``, ``effective_acs``, ``dense_ops``
        (NeuroBench convention); ``synops_per_event``, ``synops_unary`` (every synapse);
        ``footprint_bytes`` (deployed bit widths), ``footprint_neurobench_bytes`` (4 B per
        parameter); ``connection_sparsity``; ``samples`` and ``timesteps``.
    """
    rows = synaptic_ops(spec, counts)
    nb = [r for r in rows if r["neurobench"]]
    mem = memory_footprint(spec)
    return {
        "activation_sparsity": activation_sparsity(spec, counts),
        "effective_macs": sum(r["effective"] for r in nb if not r["binary"]),
        "effective_acs": sum(r["effective"] for r in nb if r["binary"]),
        "dense_ops": sum(r["dense"] for r in nb),
        "synops": sum(r["effective"] for r in rows),  # the definition (metrics.activity)
        "synops_per_event": sum(r["effective"] for r in rows),
        "synops_unary": sum(r["unary"] for r in rows),
        "footprint_bytes": float(mem["total_bytes"]),
        "footprint_neurobench_bytes": float(mem["fp32_weight_bytes"] + mem["fp32_bias_bytes"]),
        "connection_sparsity": connection_sparsity(spec),
        "samples": float(counts.samples), "timesteps": float(counts.timesteps),
    }


# --------------------------------------------------------------------------- text
def _nj(pj: float) -> str:
    return f"{pj / 1e3:,.3f}"


def _count(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}"


def energy_lines(report: EnergyReport, nb: Dict[str, float]) -> List[str]:
    """The per-layer energy breakdown and NeuroBench figures as text lines (nJ)."""
    c = report.constants
    rows = [[e.index, e.type, e.neuron, e.model, _count(e.theta_in), _count(e.theta_out)]
            + [_nj(getattr(e, t)) for t in ("ops", "potentials", "weights", "bias", "io",
                                             "addressing")]
            + [_nj(e.total), _nj(e.sop)] for e in report.layers]
    snn, ann = report.breakdown(), report.breakdown(ann=True)
    rows.append(["", "total", "", "", "", ""] + [_nj(snn[t]) for t in (
        "ops", "potentials", "weights", "bias", "io", "addressing", "total", "sop")])
    rows.append(["", "ANN ref", "", "ANN", "", ""] + [_nj(ann[t]) for t in (
        "ops", "potentials", "weights", "bias", "io", "addressing", "total", "sop")])
    kind = "binary" if report.input_binary else "graded"
    out = [f"energy per inference (nJ), T={report.timesteps}, mean over {report.samples} "
           f"sample{'s' * (report.samples != 1)}; input {_count(report.input_events)} events "
           f"({kind})",
           format_table(["#", "type", "neuron", "model", "events in", "events out", "ops",
                         "potentials", "weights", "bias", "io", "addressing", "total", "SOP"],
                        rows),
           f"  memory-aware (Lemaire et al. 2022, SRAM '{c.sram_mode}', {c.mem_width}-bit "
           f"words): {_nj(report.total_pj)} nJ; ANN of the same architecture {_nj(report.ann_pj)} "
           f"nJ (ANN / SNN = {report.ann_pj / max(report.total_pj, 1e-12):.2f})",
           f"  SOP model (E_MAC {c.e_mac_sop} pJ, E_AC {c.e_ac_sop} pJ): {_nj(report.sop_pj)} nJ"
           f" vs ANN {_nj(report.ann_sop_pj)} nJ",
           "  model: SNN = binary inputs (ACs), Hybrid = graded input (one MAC per fan-out per "
           "nonzero payload), Add = PASS join",
           "neurobench-style (per sample)",
           f"  activation sparsity {nb['activation_sparsity']:.4f}; connection sparsity "
           f"{nb['connection_sparsity']:.4f}",
           f"  synaptic operations {_count(nb['synops'])} (every synapse: events x nonzero "
           "fan-out, as evaluate counts them)",
           f"  variants: NeuroBench (dense/conv only, non-binary input = MAC) effective MACs "
           f"{_count(nb['effective_macs'])}, effective ACs {_count(nb['effective_acs'])}, dense "
           f"{_count(nb['dense_ops'])}; per unit of payload (sinabs / I-LIF) "
           f"{_count(nb['synops_unary'])}",
           f"  footprint {nb['footprint_bytes']:,.0f} B at deployed bit widths; "
           f"{nb['footprint_neurobench_bytes']:,.0f} B as NeuroBench counts (4 B per parameter)"]
    return out
