"""Energy per inference of a deployed network: memory-aware, SOP and ANN reference.

All in pJ per inference (one sample of ``T`` steps), from the activity of a run of the
exported file (:func:`lava_mlsnn.backends.evaluate.count_run`: the emulator,
integer-identical to Lava):

* **memory-aware** model of Lemaire et al., "An Analytical Estimation of Spiking Neural
  Networks Energy Efficiency", ICONIP 2022 (arXiv 2210.13107; the authors'
  ``qualia-plugin-snn`` ``EnergyEstimationMetric``), six terms per layer: ``ops``
  (synaptic ACC/MAC, neuron update, leak, reset), ``potentials`` (reads + writes),
  ``weights``, ``bias`` (reads), ``io`` (event FIFO reads in, writes out), ``addressing``;
* **SOP** model: ``E = E_MAC * MACs + E_AC * SOPs``;
* **ANN reference** of the same architecture (Lemaire et al.'s formal layers, dense, once).

Modelling decisions (DESIGN §9; digest ``paper_multilevel.md`` §4):

* ``theta_in`` of a synapse: nonzero payloads its source sent in the ``T`` steps of a
  sample (mean over the samples run); ``theta_out``: nonzero payloads the layer sent. A
  graded spike is **one** event (one FIFO read, ``F`` weight reads and potential updates),
  never ``z`` unit spikes.
* **Binary input, per synapse**: every payload its source sent in the run is 0 or 1 ->
  SNN formulas (ACs); else Lemaire's "Hybrid" branch: ``theta_in * dense_MACs / N_in``
  MACs (nonzero rate x dense MACs, every step), weights, potentials and addressing on the
  same nonzero events.
* **T** = steps of the run (the file's ``timesteps``); ``T * N_out`` terms are one update
  per neuron per step: potential read + write, bias read, one ACC, one leak MAC per
  decaying state (``0 < decay < 4096``). Lava's pipeline fill is not counted.
* **Input layer**: free (the host sends it); its events are the first layer's
  ``theta_in``, graded when counts exceed 1.
* **READOUT** integrates every step but sends no spikes: ``theta_out = 0``, no reset, no
  output writes (Lemaire's code, for a layer without a spiking activation).
* **Geometry** (``F``: weight/potential accesses per event, ``F_acc``: ACCs per binary
  event): dense ``N_out``, ``N_out``; conv ``C_out/g * k^2``, ``C_out/g * ceil(k/s)^2``,
  addressing 2 MACs + ``k^2`` ACCs per event; pool (sum, one weight word) ``k^2``,
  ``ceil(k/s)^2``; identity 1, 1. Dense addressing: ``theta_in * N_out`` ACCs (the
  paper's Eq. 17.2; the lab code multiplies the rate instead, a slip not copied).
* **join**: every branch is a synapse into the layer's potentials, costed by its kind;
  the neuron once. A **PASS** layer of identity branches (SEW ADD) is Lemaire's Add layer
  on events: ``sum theta_k`` reads + ``theta_out`` writes, ``sum theta_k - theta_out``
  ACCs (``n - 1`` adds per output reached by ``n`` events), ``theta_out`` addressing ACCs;
  a PASS layer with other branches gets their synapse terms and no neuron part.
* **SOP**: per synapse, exact synaptic ops (events x nonzero-weight fan-out, padding
  excluded) at ``E_AC`` if its source is binary, else ``E_MAC`` ("MAC_first" is the first
  layer on graded input, costed on its events).
* **ANN**: MACs ``C_in/g * k^2 * N_out`` (dense ``N_in * N_out``) + ``N_out`` ACCs, input
  reads per MAC (dense: ``N_in``), weight reads per MAC, ``N_out`` bias reads and output
  writes, addressing ``N_in + N_out + C_out * k^2`` (dense ``N_in * N_out``); sum pooling
  ``k^2 * N_out`` ACCs; a join adds an Add layer (``n * N_out`` reads, ``N_out`` writes,
  ``(n - 1) * N_out`` ACCs, ``N_out`` addressing). Activations are free; SOP: ``E_MAC``
  x MACs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Tuple, Union

import numpy as np
import torch

from ..fixed import DECAY_ONE, SynapseSpec, raw_current
from ..format.spec import INPUT, LayerSpec, NetworkSpec
from .activity import layer_activity

#: The six terms of the memory-aware model (Lemaire et al.), in pJ each: the fields of
#: :class:`LayerEnergy` that its ``total`` sums.
TERMS = ("ops", "potentials", "weights", "bias", "io", "addressing")


@dataclass(frozen=True)
class EnergyConstants:
    """The one table of energy constants (pJ); override any with ``EnergyConstants(e_mul=...)``.

    Attributes
    ----------
    e_add, e_mul : float
        32-bit integer add / multiply at 45 nm: 0.1 pJ and 3.1 pJ (Horowitz, "Computing's
        energy problem", ISSCC 2014). A MAC costs ``e_mul + e_add``; Lemaire et al.'s
        'ICONIP' mode uses these 32-bit values whatever the data width (8-bit: 0.03 / 0.2).
    sram_mode : {'old', 'new'}
        SRAM energy per access of one ``mem_width``-bit word in a memory of ``n`` words.
        'old' (Lemaire et al., ICONIP 2022: a linear fit on Horowitz's 8 KiB / 32 KiB /
        1 MiB figures): ``sram_slope * n * mem_width + sram_offset``; 'new' (the lab's
        later mode): ``sram_word_pj / (64 / mem_width)`` (8 KiB blocks, 64-bit bus).
    sram_slope, sram_offset, sram_word_pj : float
        1.09e-5 pJ per bit stored, 13.2 pJ, 10 pJ.
    mem_width : int
        Bits per memory word (32, Lemaire et al.'s 'ICONIP' setting).
    fifo_size : int
        Words of each layer's input/output event FIFO (an assumption: the lab's SPLEAT
        parameter has no published default).
    e_mac_sop, e_ac_sop : float
        SOP model, 32-bit float at 45 nm (Horowitz 2014): 4.6 pJ per MAC, 0.9 pJ per AC.
    """

    e_add: float = 0.1
    e_mul: float = 3.1
    sram_mode: str = "old"
    sram_slope: float = 1.09e-5
    sram_offset: float = 13.2
    sram_word_pj: float = 10.0
    mem_width: int = 32
    fifo_size: int = 1024
    e_mac_sop: float = 4.6
    e_ac_sop: float = 0.9

    def __post_init__(self) -> None:
        if self.sram_mode not in ("old", "new"):
            raise ValueError(f"sram_mode must be 'old' or 'new', got {self.sram_mode!r}")

    @property
    def e_mac(self) -> float:
        """One multiply-accumulate (pJ)."""
        return self.e_mul + self.e_add

    def e_ram(self, words: float) -> float:
        """One read or write of a word in a memory of ``words`` words (pJ)."""
        if self.sram_mode == "new":
            return self.sram_word_pj / (64 / self.mem_width)
        return self.sram_slope * float(words) * self.mem_width + self.sram_offset


# --------------------------------------------------------------------------- counts
@dataclass
class RunCounts:
    """Activity of a run, **summed** over its samples (``mean`` divides).

    Keys are layer indices (``-1``: the network input); flatten layers resolve to their
    source. ``branch_*`` keys are ``(layer, branch)``: exact synaptic operations of one
    synapse (events x nonzero weights reached, padding excluded) and the same weighted by
    the payload (unary spikes).
    """

    samples: int = 0
    timesteps: int = 0
    events: Dict[int, float] = field(default_factory=dict)
    payload: Dict[int, float] = field(default_factory=dict)
    binary: Dict[int, bool] = field(default_factory=dict)
    branch_synops: Dict[Tuple[int, int], float] = field(default_factory=dict)
    branch_unary: Dict[Tuple[int, int], float] = field(default_factory=dict)

    def mean(self, table: str, key) -> float:
        """Per-sample average of ``getattr(self, table)[key]`` (0 when absent)."""
        return float(getattr(self, table).get(key, 0.0)) / max(self.samples, 1)

    def merge(self, other: "RunCounts") -> "RunCounts":
        """Counts of both runs together (same network and ``T``)."""
        if self.samples and other.samples and self.timesteps != other.timesteps:
            raise ValueError("cannot merge runs with different timesteps")
        out = RunCounts(self.samples + other.samples, self.timesteps or other.timesteps)
        for name in ("events", "payload", "branch_synops", "branch_unary"):
            a, b = getattr(self, name), getattr(other, name)
            getattr(out, name).update({k: a.get(k, 0.0) + b.get(k, 0.0) for k in {*a, *b}})
        out.binary = {k: self.binary.get(k, True) and other.binary.get(k, True)
                      for k in {*self.binary, *other.binary}}
        return out


def resolve_source(spec: NetworkSpec, index: int) -> int:
    """The layer whose payload arrives at ``index`` (flatten layers pass theirs on)."""
    return spec.producer(index)


def _binarized(syn: SynapseSpec) -> SynapseSpec:
    w = (np.asarray(syn.weight) != 0).astype(np.int64)
    return SynapseSpec(syn.kind, w, 0, syn.stride, syn.padding, syn.dilation, syn.groups,
                       syn.kernel)


def count_outputs(spec: NetworkSpec, outputs: Mapping[int, torch.Tensor],
                  x: Optional[Union[np.ndarray, torch.Tensor]] = None) -> RunCounts:
    """Counts of one run from its aligned outputs ``{i: [B, T, *shape]}`` (all layers).

    ``x`` (the input ``[B, T, *inputShape]``) is needed only when a layer reads the
    network input directly (a stock file without an ``input`` layer).
    """
    rec = [i for i, layer in enumerate(spec.layers) if layer.recurrent is not None]
    if rec:  # its synaptic events would be missing from every term
        raise ValueError(f"layer {rec[0]}: the energy model does not count recurrent "
                         "(dense_rec) synapses")
    outs = dict(outputs)
    if x is not None:
        outs[INPUT] = torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x)
    batch, steps = next(iter(outs.values())).shape[:2]
    counts = RunCounts(int(batch), int(steps))
    for a in layer_activity(spec, outputs):  # events and payload sums: metrics.activity
        counts.events[a.index] = a.events * batch
        counts.payload[a.index] = a.payload * batch
    for i, out in outs.items():
        if i == INPUT or (spec.layers[i].neuron is not None
                          and spec.layers[i].neuron.type != "READOUT"):
            counts.binary[i] = bool(((out == 0) | (out == 1)).all())
    if INPUT in outs:
        counts.events[INPUT] = float((outs[INPUT] != 0).sum())
        counts.payload[INPUT] = float(outs[INPUT].abs().sum())
    for i, layer in enumerate(spec.layers):
        for k, br in enumerate(layer.branches):
            if br.source not in outs:
                raise ValueError(f"layer {i} reads {br.source}, which the run did not record")
            z = torch.as_tensor(outs[br.source]).to(torch.float64)
            z = z.reshape((batch * steps,) + tuple(z.shape[2:]))
            ones = _binarized(br.synapse)
            counts.branch_synops[(i, k)] = float(raw_current(ones, (z != 0).double()).sum())
            counts.branch_unary[(i, k)] = float(raw_current(ones, z.abs()).sum())
    return counts


# --------------------------------------------------------------------------- geometry
@dataclass(frozen=True)
class Geometry:
    """Per-event costs of one synapse (see the module docstring for the formulas)."""

    fan: float          # weight reads and potential updates per event
    fan_acc: float      # ACCs per binary event
    fan_mac: float      # MACs per graded event: dense MACs / N_in
    addr_mac: float     # addressing MACs per event
    addr_acc: float     # addressing ACCs per event
    weight_words: int   # size of the weight memory
    dense_macs: int     # MACs (ACCs for pool) of one dense pass (the ANN)
    kernel: int         # k^2 (1 for dense and identity)


def geometry(syn: SynapseSpec, in_shape: Tuple[int, ...], out_shape: Tuple[int, ...]
             ) -> Geometry:
    """Lemaire et al.'s per-event fan-outs of a synapse from ``in_shape`` to ``out_shape``."""
    n_in, n_out = int(np.prod(in_shape)), int(np.prod(out_shape))
    w = np.asarray(syn.weight)
    if syn.kind == "dense":
        return Geometry(n_out, n_out, n_out, 0, n_out, int(w.size), n_in * n_out, 1)
    if syn.kind == "identity":
        return Geometry(1, 1, 1, 0, 1, 1, n_out, 1)
    sh, sw = syn.stride
    if syn.kind == "conv":
        c_out, c_in_g, kh, kw = (int(s) for s in w.shape)
        per = c_out // int(syn.groups)  # outputs an input channel reaches
        dense = c_in_g * kh * kw * n_out
        return Geometry(per * kh * kw, per * math.ceil(kh / sh) * math.ceil(kw / sw),
                        dense / n_in, 2, kh * kw, int(w.size), dense, kh * kw)
    kh, kw = syn.kernel  # pool: sum pooling with one weight
    dense = kh * kw * n_out
    return Geometry(kh * kw, math.ceil(kh / sh) * math.ceil(kw / sw), dense / n_in, 2,
                    kh * kw, 1, dense, kh * kw)


def leaky_states(layer: LayerSpec) -> int:
    """State variables that decay by a multiply each step (``0 < decay < 4096``)."""
    p = layer.neuron
    if p is None or p.type in ("INPUT", "PASS"):
        return 0
    decays = [p.v_decay] + ([p.i_decay] if p.type in ("MLSN", "CUBA") else [])
    return sum(1 for d in decays if 0 < int(d) < DECAY_ONE)


# --------------------------------------------------------------------------- models
@dataclass
class LayerEnergy:
    """Energy of one layer per inference (pJ) and the counts behind it.

    ``model`` is 'SNN' (binary inputs), 'Hybrid' (a graded input), 'Add' (PASS join) or
    'ANN'. ``mac`` and ``acc`` count the operations of the ``ops`` term; ``sop`` is the
    SOP-model energy of the same layer.
    """

    index: int
    type: str
    neuron: str
    model: str
    theta_in: float = 0.0
    theta_out: float = 0.0
    mac: float = 0.0
    acc: float = 0.0
    ops: float = 0.0
    potentials: float = 0.0
    weights: float = 0.0
    bias: float = 0.0
    io: float = 0.0
    addressing: float = 0.0
    sop: float = 0.0

    @property
    def total(self) -> float:
        """Memory-aware total (pJ): the six terms."""
        return sum(getattr(self, t) for t in TERMS)


def _bias_words(layer: LayerSpec) -> int:
    b = layer.neuron.bias if layer.neuron is not None else None
    return 0 if b is None else int(np.asarray(b).size)


def snn_layer(spec: NetworkSpec, i: int, counts: RunCounts, c: EnergyConstants) -> LayerEnergy:
    """Memory-aware and SOP energy of layer ``i`` for the activity in ``counts``."""
    layer, p = spec.layers[i], spec.layers[i].neuron
    n_out, steps = layer.size, counts.timesteps
    theta_out = 0.0 if p.type == "READOUT" else counts.mean("events", i)
    add_only = p.type == "PASS" and all(b.synapse.kind == "identity" for b in layer.branches)
    sources = [resolve_source(spec, b.source) for b in layer.branches]
    graded = [not counts.binary.get(s, True) for s in sources]
    e = LayerEnergy(i, layer.type, p.type,
                    "Add" if add_only else ("Hybrid" if any(graded) else "SNN"),
                    theta_out=theta_out)
    e_pot, e_fifo = c.e_ram(n_out), c.e_ram(c.fifo_size)
    for k, (br, src, grad) in enumerate(zip(layer.branches, sources, graded)):
        theta = counts.mean("events", src)
        e.theta_in += theta
        e.sop += counts.mean("branch_synops", (i, k)) * (c.e_mac_sop if grad else c.e_ac_sop)
        if add_only:
            continue
        g = geometry(br.synapse, spec.source_shape(br.source), layer.shape)
        if grad:
            e.mac += theta * g.fan_mac
        else:
            e.acc += theta * g.fan_acc
        e.weights += theta * g.fan * c.e_ram(g.weight_words)
        e.potentials += 2 * theta * g.fan * e_pot  # read + write per update
        e.io += theta * e_fifo
        e.addressing += theta * (g.addr_mac * c.e_mac + g.addr_acc * c.e_add)
    if add_only:
        e.io = (e.theta_in + theta_out) * e_fifo
        e.acc = max(e.theta_in - theta_out, 0.0)
        e.addressing = theta_out * c.e_add
    else:
        e.io += theta_out * e_fifo
        if p.type != "PASS":  # the neuron: one update per neuron per step, reset per spike
            updates = steps * n_out
            e.potentials += 2 * updates * e_pot
            e.acc += updates + theta_out
            e.mac += leaky_states(layer) * updates
            if _bias_words(layer):
                e.bias = updates * c.e_ram(_bias_words(layer))
    e.ops = e.mac * c.e_mac + e.acc * c.e_add
    return e


def ann_layer(spec: NetworkSpec, i: int, c: EnergyConstants) -> LayerEnergy:
    """Energy of layer ``i`` in the ANN of the same architecture (one dense pass)."""
    layer = spec.layers[i]
    n_out = layer.size
    e = LayerEnergy(i, layer.type, "ANN", "ANN")
    e_out = c.e_ram(n_out)
    for br in layer.branches:
        kind = br.synapse.kind
        if kind == "identity":
            continue  # only summed by the Add below
        in_shape = spec.source_shape(br.source)
        n_in = int(np.prod(in_shape))
        g = geometry(br.synapse, in_shape, layer.shape)
        if kind == "pool":
            e.acc += g.dense_macs
            e.io += g.dense_macs * c.e_ram(n_in)
        else:
            e.mac += g.dense_macs
            e.acc += n_out
            e.weights += g.dense_macs * c.e_ram(g.weight_words)
            e.io += (n_in if kind == "dense" else g.dense_macs) * c.e_ram(n_in)
        c_out = int(np.asarray(br.synapse.weight).shape[0]) if kind == "conv" else 1
        e.addressing += (n_in * n_out if kind == "dense"
                         else n_in + n_out + c_out * g.kernel) * c.e_add
        e.io += n_out * e_out
    if len(layer.branches) > 1:  # join: Lemaire's Add layer over the branch outputs
        n = len(layer.branches)
        e.io += (n + 1) * n_out * e_out
        e.acc += (n - 1) * n_out
        e.addressing += n_out * c.e_add
    if _bias_words(layer):
        e.bias = n_out * c.e_ram(_bias_words(layer))
    e.ops = e.mac * c.e_mac + e.acc * c.e_add
    e.sop = e.mac * c.e_mac_sop
    return e


@dataclass
class EnergyReport:
    """Per-layer energies (pJ per inference) of a network for one run's activity."""

    layers: List[LayerEnergy]
    ann: List[LayerEnergy]
    constants: EnergyConstants
    timesteps: int
    samples: int
    input_events: float = 0.0
    input_binary: bool = True

    def total(self, term: str = "total", ann: bool = False) -> float:
        """Sum of ``term`` ('total', 'sop', 'mac', 'acc' or one of :data:`TERMS`) in pJ."""
        return float(sum(getattr(e, term) for e in (self.ann if ann else self.layers)))

    def breakdown(self, ann: bool = False) -> Dict[str, float]:
        """Network totals per term, plus ``total`` and ``sop`` (pJ per inference)."""
        return {t: self.total(t, ann) for t in TERMS + ("total", "sop")}

    @property
    def total_pj(self) -> float:
        return self.total()

    @property
    def sop_pj(self) -> float:
        return self.total("sop")

    @property
    def ann_pj(self) -> float:
        return self.total(ann=True)

    @property
    def ann_sop_pj(self) -> float:
        return self.total("sop", ann=True)


def energy_report(spec: NetworkSpec, counts: RunCounts,
                  constants: Optional[EnergyConstants] = None) -> EnergyReport:
    """All three estimates for a network and the activity of a run (see module docstring)."""
    c = constants or EnergyConstants()
    synaptic = [i for i, layer in enumerate(spec.layers) if layer.branches]
    first = next((resolve_source(spec, b.source) for i in synaptic[:1]
                  for b in spec.layers[i].branches), INPUT)
    return EnergyReport([snn_layer(spec, i, counts, c) for i in synaptic],
                        [ann_layer(spec, i, c) for i in synaptic], c, counts.timesteps,
                        counts.samples, counts.mean("events", first),
                        counts.binary.get(first, True))
