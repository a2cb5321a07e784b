"""Loihi 2 deployment report of a network: constraints, neuron support, resources.

Everything here reads a :class:`~lava_mlsnn.netx.spec.NetworkSpec`; nothing
changes it. The simulators (emulator, Lava fixed_pt) run any network the format
accepts; this module says what a Loihi 2 chip would additionally require
(DESIGN §8). Its limits come from Lava's declared fixed-point precisions
(``lava.proc.lif``: ``vth`` 17 bits, ``bias_mant`` 13 bits, decays 12 bits,
states 24 bits; ``lava.utils.weightutils``: 8-bit weights) and from Intel's
published Loihi 2 figures; core counts, throughput and energy come from :mod:`.mapping` and
:mod:`.estimate`, estimates calibrated on the compiler's published allocations.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ...fixed import BIAS_EXP_MAX, BIAS_MANT_MAX, BIAS_MANT_MIN, DECAY_ONE, SAT_MAX, SynapseSpec
from ..._table import format_table  # noqa: F401  (the report's text tables)
from ...format.shapes import synapse_count
from ...format.spec import INPUT, LayerSpec, NetworkSpec
from ...metrics.memory import layer_weights, weight_bits  # noqa: F401  (the one definition)

# Intel's published Loihi 2 figure: 128 neuro-cores per chip (the core model: mapping.py).
CORES_PER_CHIP = 128
MAX_DELAY = 62
MSG_BITS = 24
VTH_MAX = (1 << 17) - 1          # LIF vth: unsigned 17 bits
BIAS_MIN, BIAS_MAX = BIAS_MANT_MIN, BIAS_MANT_MAX   # bias_mant: signed 13 bits
DECAY_MAX = (1 << 12) - 1        # du, dv: 12 bits


# --------------------------------------------------------------------------- per-layer facts
def layer_synapses(spec: NetworkSpec, index: int) -> int:
    """Connections into layer ``index`` (0 if a source shape is unknown)."""
    total = 0
    for br in spec.layers[index].branches:
        try:
            total += synapse_count(br.synapse, spec.source_shape(br.source))
        except ValueError:  # stock file that reads the network input of unknown shape
            return 0
    rec = spec.layers[index].recurrent
    return total + (int(rec.weight.size) if rec is not None else 0)


def layer_fan_in(layer: LayerSpec) -> int:
    """Largest number of source values summed into one neuron."""
    return sum(br.synapse.fan_in() for br in layer.branches) \
        + (layer.recurrent.fan_in() if layer.recurrent is not None else 0)


def payload_bounds(spec: NetworkSpec, input_bound: Optional[int] = None) -> Dict[int, int]:
    """Worst-case ``|payload|`` each layer can send (``-1``: the network input).

    The network input is taken as bounded by ``input_bound`` (default ``inputLevels``,
    as the chip's host clips it); a READOUT sends its 24-bit ``v``; a PASS layer its
    saturated worst-case current.
    """
    bound: Dict[int, int] = {INPUT: int(spec.input_levels if input_bound is None
                                        else input_bound)}
    for i, layer in enumerate(spec.layers):
        t = layer.neuron.type if layer.neuron is not None else None
        if layer.type == "flatten":
            bound[i] = bound[layer.source]
        elif t == "INPUT":
            bound[i] = int(spec.input_levels)
        elif t == "MLSN":
            bound[i] = int(layer.neuron.levels)
        elif t == "CUBA":
            bound[i] = 1
        elif t == "READOUT":
            bound[i] = SAT_MAX
        else:
            bound[i] = min(SAT_MAX, current_bound(layer, bound))
    return bound


def current_bound(layer: LayerSpec, bounds: Dict[int, int]) -> int:
    """Worst-case ``|a|`` of a layer before the 24-bit saturation."""
    total = 0
    for br in layer.branches:
        w = int(np.abs(np.asarray(br.synapse.weight)).max(initial=0))
        raw = w * br.synapse.fan_in() * bounds[br.source]
        e = int(br.synapse.weight_exp)
        total += raw << e if e >= 0 else -((-raw) >> -e)  # ceil for right shifts
    return total


def payload_bits(layer: LayerSpec, bound: int) -> int:
    """Message bits a layer's payload needs (signed for READOUT and PASS)."""
    signed = layer.neuron is not None and layer.neuron.type in ("READOUT", "PASS", "SDNN",
                                                                 "SDNN_DELTA", "SDNN_SIGMA")
    return max(1, int(bound).bit_length() + (1 if signed else 0))


# --------------------------------------------------------------------------- weights
def _lava_loadable(w: np.ndarray) -> bool:
    """Whether Lava's 8-bit weights hold ``w`` unchanged (``lava.utils.weightutils``).

    Single-sign weights may use all 8 bits (0..255); mixed-sign ones are stored as
    ``2 * m`` with an 8-bit signed ``m``, i.e. even values in [-256, 254].
    """
    if w.size == 0 or (w.min() >= 0 and w.max() <= 255) or (w.max() <= 0 and w.min() >= -255):
        return True
    return bool(w.min() >= -256 and w.max() <= 254 and not np.any(w & 1))


def weight_rescale(w: np.ndarray) -> Optional[int]:
    """Shift ``j`` such that ``w * 2**j`` with ``weightExp - j`` is Lava-loadable.

    Returns ``0`` when the weights load as they are, the ``j`` of smallest magnitude
    otherwise, or ``None`` when no power-of-two rescale represents them exactly.
    """
    w = np.asarray(w, dtype=np.int64).ravel()
    nz = np.abs(w[w != 0])
    common = int(np.min(nz & -nz)).bit_length() - 1 if nz.size else 0  # shared factor 2**common
    for j in sorted(range(-common, 9), key=abs):
        if _lava_loadable(w << j if j >= 0 else w >> -j):
            return j
    return None


def _grid_violations(layer: LayerSpec) -> Optional[str]:
    """How a layer breaks its declared ``weightBits``/``weightScale`` grid, if it does."""
    k = int(layer.weight_bits)
    if not k:
        return None
    if not 1 <= k <= 8:
        return f"weightBits {k} is outside 1..8"
    scale = int(layer.weight_scale) or 1
    w = layer_weights(layer, ("dense", "conv"))
    q, rem = np.divmod(w, scale)
    bad = rem != 0
    bad |= (np.abs(q) != 1) if k == 1 else (np.abs(q) > (1 << (k - 1)) - 1)
    if not np.any(bad):
        return None
    grid = "{-1, 1}" if k == 1 else f"|q| <= {(1 << (k - 1)) - 1}"
    return (f"{int(bad.sum())} of {w.size} weights are not q * weightScale ({scale}) with "
            f"{grid} as weightBits = {k} declares (e.g. {int(w[bad][0])})")


# --------------------------------------------------------------------------- warnings
#: Where each deployment rule comes from (``inspect`` prints it under each warning).
SOURCES = {
    "msg": "Loihi 2 graded spikes: 24-bit payloads (lava.proc.dense num_message_bits)",
    "weights": "lava.utils.weightutils: 8-bit weight mantissas",
    "grid": "the file's own weightBits / weightScale (DESIGN §6)",
    "delay": "lava.lib.dl.netx.hdf5 clamps delays to 62",
    "vth": "lava.proc.lif: vth 17 bits",
    "decay": "lava.proc.lif: du, dv 12 bits",
    "state": "lava.proc.lif: u, v 24 bits",
    "bias": "lava.proc.lif: bias_mant 13 bits",
    "bias_exp": "lava.proc.lif: bias_exp 3 bits",
    "join": "lava.lib.dl.netx builds chains only",
}


def deployment_notes(spec: NetworkSpec) -> List[str]:
    """What runs differently from lava-mlsnn's aligned run but is no Loihi 2 limit.

    Stock netx's own behaviour, which the notebooks ran on Loihi 2 as it is: an Input
    block's transform left to the data pipeline, and a sigma-delta layer with a bias that
    integrates it while netx's pipeline fills (its neurons cannot be reset).
    """
    out: List[str] = []
    depths = spec.depths()
    for i, layer in enumerate(spec.layers):
        tag = f"layer {i} ({layer.type})"
        if layer.input_transform is not None and layer.input_transform != (64, 0):
            w, b = layer.input_transform
            out.append(f"{tag}: the Input block's transform (weight {w}, bias {b}: x * {w / 64:g} "
                       f"+ {b / 64:g}) is not applied; as in stock netx the network input goes "
                       "to the neuron as given (apply the transform in the data pipeline)")
        p = layer.neuron
        if p is not None and p.type == "SDNN" and p.bias is not None and depths[i] > 0:
            out.append(f"{tag}: sigma-delta layer with a bias: stock netx cannot reset "
                       f"sigma-delta neurons, so in its pipeline this layer runs {depths[i]} "
                       "step(s) on the bias alone before the first input arrives and its "
                       "output differs from lava-mlsnn's (and lava-dl's) aligned run")
    return out


def deployment_warnings(spec: NetworkSpec) -> List[str]:
    """Every value of ``spec`` that Loihi 2 cannot hold or run as written (DESIGN §8).

    None of these stop the simulators, which model the arithmetic exactly;
    :func:`deployment_notes` lists what differs from stock netx's timing without being a
    chip limit, :func:`deployment_checks` names each warning's source.
    """
    return [msg for msg, _ in deployment_checks(spec)]


def deployment_checks(spec: NetworkSpec) -> List[Tuple[str, str]]:
    """:func:`deployment_warnings` with the source of each rule: ``(message, source)``."""
    out: List[Tuple[str, str]] = []
    bounds = payload_bounds(spec)
    depths = spec.depths()
    if spec.input_levels.bit_length() > MSG_BITS:
        out.append((f"inputLevels {spec.input_levels} needs more than {MSG_BITS} message bits",
                    "msg"))
    for i, layer in enumerate(spec.layers):
        tag = f"layer {i} ({layer.type})"
        if layer.branches:
            _weight_warnings(layer, tag, out)
        d = max((br.synapse.max_delay for br in layer.branches), default=0)
        if d > MAX_DELAY:
            out.append((f"{tag}: axonal delay up to {d} steps exceeds Loihi 2's {MAX_DELAY} "
                        f"(stock netx would clamp it to {MAX_DELAY}; lava-mlsnn runs it as "
                        "written)", "delay"))
        p = layer.neuron
        if p is not None and p.type not in ("INPUT", "PASS"):
            _neuron_warnings(p, tag, out)
        if layer.branches:
            raw = current_bound(layer, bounds)
            if raw > SAT_MAX:
                what = "payload" if p is not None and p.type == "PASS" else "current"
                out.append((f"{tag}: worst-case {what} {raw} exceeds the 24-bit range and would "
                           "saturate (fan-in x max |weight| x max source payload)", "state"))
        if p is not None and payload_bits(layer, bounds[i]) > MSG_BITS:
            out.append((f"{tag}: payload up to {bounds[i]} needs {payload_bits(layer, bounds[i])} "
                       f"message bits; graded spikes carry at most {MSG_BITS}", "msg"))
        if len(layer.branches) > 1:
            out.append((_join_note(spec, i, depths, tag), "join"))
    return [(msg, SOURCES[key]) for msg, key in out]


def _weight_warnings(layer: LayerSpec, tag: str, out: list) -> None:
    for k, br in enumerate(layer.branches):
        w = np.asarray(br.synapse.weight, dtype=np.int64).ravel()
        where = tag + (f" branch {k}" if layer.type == "join" else "")
        e = int(br.synapse.weight_exp)
        j = weight_rescale(w)
        outside = int(np.sum((w < -256) | (w > 254)))
        if outside:
            fix = (f"; exact as 8-bit mantissas if stored as weight x 2^{j} with weightExp {e - j}"
                   if j is not None else "; not representable as an 8-bit mantissa x 2^weightExp")
            out.append((f"{where}: {outside} of {w.size} weights outside Loihi 2's [-256, 254] "
                       f"(min {int(w.min())}, max {int(w.max())}){fix}", "weights"))
        elif j is None:
            # In range yet not loadable: odd values together with magnitudes beyond 127.
            odd = w[(w & 1) == 1]
            out.append((f"{where}: weights up to |{int(np.abs(w).max())}| with {odd.size} odd "
                       f"values (e.g. {int(odd[0])}) are not an 8-bit mantissa x 2^weightExp: "
                       "mixed-sign 8-bit weights are 2*m, m in [-128, 127] (Lava's "
                       "num_weight_bits=8 drops the lowest bit; exact needs 9 bits)", "weights"))
    grid = _grid_violations(layer)
    if grid:
        out.append((f"{tag}: {grid}", "grid"))


def _neuron_warnings(p, tag: str, out: list) -> None:
    if p.type in ("MLSN", "CUBA") and p.v_th_mant > VTH_MAX:
        out.append((f"{tag}: vThMant {p.v_th_mant} exceeds 17 bits (max {VTH_MAX})", "vth"))
    if p.v_decay > DECAY_MAX:
        out.append((f"{tag}: vDecay {p.v_decay} exceeds 12 bits (max {DECAY_MAX})", "decay"))
    # netx maps du = iDecay - 1 for CUBA; an MLSN with iDecay 4096 simply keeps no current.
    if p.type == "CUBA" and not 1 <= p.i_decay <= DECAY_ONE:
        out.append((f"{tag}: iDecay {p.i_decay} maps to du = {p.i_decay - 1}, outside 12 bits",
                    "decay"))
    if abs(int(p.v_init)) > SAT_MAX:
        out.append((f"{tag}: vInit {p.v_init} exceeds the 24-bit state", "state"))
    if p.bias is not None:
        b = np.asarray(p.bias)
        if b.size and (b.min() < BIAS_MIN or b.max() > BIAS_MAX):
            out.append((f"{tag}: bias in [{int(b.min())}, {int(b.max())}] exceeds the 13-bit "
                       f"bias mantissa [{BIAS_MIN}, {BIAS_MAX}] (bias_exp = {p.bias_exp})", "bias"))
        # Lava LIF's bias_exp is a 3-bit field (lava.proc.lif). netx maps SDNN layers to
        # SigmaDelta, which has no bias exponent: its bias is shifted by state_exp + spike_exp
        # (lava.lib.dl.netx.hdf5), so the PilotNet SDNN file's biasExp 12 ran on Loihi 2.
        if p.type != "SDNN" and p.bias_exp > BIAS_EXP_MAX:
            out.append((f"{tag}: biasExp {p.bias_exp} exceeds the 3-bit bias exponent "
                       f"(max {BIAS_EXP_MAX})", "bias_exp"))


def _join_note(spec: NetworkSpec, i: int, depths: List[int], tag: str) -> str:
    layer = spec.layers[i]
    lag = [depths[i] - 1 - (0 if b.source == INPUT else depths[b.source]) for b in layer.branches]
    msg = (f"{tag}: {len(layer.branches)} incoming branches summed on one neuron (not buildable "
           "by stock lava-dl netx; lava-mlsnn's builder wires them into one input)")
    if max(lag) > 0:
        msg += f"; shorter branches need delay lines of {', '.join(map(str, lag))} steps"
    if max(lag) > MAX_DELAY:
        msg += f", beyond Loihi 2's axonal delay of {MAX_DELAY}"
    return msg


# --------------------------------------------------------------------------- neurons
def neuron_support(spec: NetworkSpec) -> List[Dict]:
    """How each neuron layer maps onto Loihi 2.

    Returns
    -------
    list of dict
        ``{'layer', 'neuron', 'support', 'how'}``; ``support`` is ``'stock'``
        (a stock Lava process), ``'stock-probe'`` (stock process read by a probe,
        output layer only) or ``'custom'`` (needs a lava-loihi microcode model,
        registered through :mod:`lava_mlsnn.loihi2`).
    """
    rows = []
    last = spec.output_index
    for i, layer in enumerate(spec.layers):
        p = layer.neuron
        if p is None:
            continue
        if p.type == "INPUT":
            support, how = "stock", "host input, clipped to inputLevels before sending"
        elif p.type == "CUBA":
            support, how = "stock", "Lava LIF (netx CUBA mapping: du = iDecay - 1, bias_exp 6)"
            if p.bias is not None and p.bias_exp != 6:
                support, how = "custom", (f"Lava LIF with bias_exp {p.bias_exp} (stock netx "
                                          "reads bias_exp 6: load with lava-mlsnn)")
            if p.current_bias is not None:
                support, how = "custom", ("a current bias (currentBias), which stock Lava "
                                          "LIF and netx lack: load with lava-mlsnn")
        elif p.type == "PASS":
            support, how = "stock", "Lava GradedVec(vth=0): sends its input current"
        elif p.type in ("SDNN", "SDNN_DELTA", "SDNN_SIGMA"):
            proc = {"SDNN": "SigmaDelta", "SDNN_DELTA": "Delta", "SDNN_SIGMA": "Sigma"}[p.type]
            support, how = "stock", f"Lava {proc} (netx SDNN mapping: spike_exp 6, state_exp 6)"
        elif p.type == "READOUT" and i == last:
            support, how = ("stock-probe", "non-spiking LIF (du 4095, vth 131071) whose v is "
                            "probed; equal while |v| < 2^23 - 64")
        elif p.type == "READOUT":
            support, how = "custom", ("lava-loihi microcode that sends v every step (plug "
                                      "in via lava_mlsnn.loihi2)")
        else:
            extra = ", membrane quantization" if p.v_bits else ""
            support, how = "custom", (f"lava-loihi microcode (plug in via lava_mlsnn.loihi2): "
                                      f"graded output 0..{p.levels}, soft reset{extra}")
        rows.append({"layer": i, "neuron": p.type, "support": support, "how": how})
    return rows


# --------------------------------------------------------------------------- resources
def resource_estimate(spec: NetworkSpec) -> Dict:
    """The Loihi 2 core estimate of a network (:func:`.estimate.resource_estimate`)."""
    from .estimate import resource_estimate as estimate
    return estimate(spec)
