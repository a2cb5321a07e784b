"""Memory footprint of a deployed network: quantized vs the same network in FP32.

Counts what a chip or a microcontroller has to store for inference: the unique
weights (a conv kernel once), per-layer scales, biases and the neuron state
variables that persist from step to step. Bit widths follow the network file:

- weights at :func:`weight_bits` (declared ``weightBits``, else the signed bits of the
  weights' mantissa once their common power of two goes to ``weightExp``);
- a declared ``weightScale`` as one 32-bit value per layer;
- biases at 16 bits (Lava's ``bias_mant`` is an int16 holding 13 bits);
- ``v`` at ``vBits`` when set, else 24 bits; ``u`` at 24 bits where the neuron keeps
  a current (CUBA, and MLSN with ``iDecay < 4096``; with 4096 the current is the
  synaptic input of the step and is not stored).

The FP32 reference stores every weight, bias and state variable in 4 bytes.
"""
from __future__ import annotations

import math
from typing import Dict, List

import numpy as np

from ..fixed import DECAY_ONE
from ..format.spec import LayerSpec, NetworkSpec

DEFAULT_WEIGHT_BITS = 8
STATE_BITS = 24
BIAS_BITS = 16
SCALE_BITS = 32
FP32_BYTES = 4


def layer_weights(layer: LayerSpec, kinds=("dense", "conv", "pool", "identity")) -> np.ndarray:
    """Every weight of a layer's synapses of the given kinds, flattened (int64)."""
    parts = [np.asarray(br.synapse.weight, dtype=np.int64).ravel() for br in layer.branches
             if br.synapse.kind in kinds]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def weight_bits(layer: LayerSpec) -> int:
    """Bits a layer's weights are stored at: the one definition (``inspect``, memory, Loihi 2).

    The declared ``weightBits`` when set; else the signed two's-complement bits of the
    mantissa ``w / 2**s``, ``s`` the largest power of two dividing every weight (Loihi 2
    stores a mantissa with a shared ``weightExp``): weights in [-254, 254], all even, are
    2 x [-127, 127], 8 bits; one odd weight among them makes it 9. ``0`` without weights.
    """
    if layer.weight_bits:
        return int(layer.weight_bits)
    w = layer_weights(layer)
    if w.size == 0:
        return 0
    nz = np.abs(w[w != 0])
    shift = int(np.min(nz & -nz)).bit_length() - 1 if nz.size else 0
    m = w >> shift
    return max(int(m.max()), -int(m.min()) - 1, 0).bit_length() + 1


def _bytes(count: int, bits: int) -> int:
    return math.ceil(count * bits / 8)


def state_variables(layer: LayerSpec) -> List[str]:
    """Names of the per-neuron state a layer keeps between steps."""
    p = layer.neuron
    if p is None or p.type in ("INPUT", "PASS"):
        return []
    if p.type == "READOUT":
        return ["v"]
    if p.type == "MLSN" and p.i_decay >= DECAY_ONE:
        return ["v"]
    return ["u", "v"]


def layer_footprint(layer: LayerSpec) -> Dict:
    """Footprint of one layer (see :func:`memory_footprint` for the keys)."""
    weights = sum(int(np.asarray(br.synapse.weight).size) for br in layer.branches)
    if layer.recurrent is not None:
        weights += int(np.asarray(layer.recurrent.weight).size)
    wbits = weight_bits(layer) or DEFAULT_WEIGHT_BITS
    scales = 1 if layer.weight_scale else 0
    p = layer.neuron
    bias = 0 if p is None or p.bias is None else int(np.asarray(p.bias).size)
    names = state_variables(layer)
    v_bits = int(p.v_bits) if p is not None and p.v_bits else STATE_BITS
    state_bits = sum(v_bits if n == "v" else STATE_BITS for n in names)
    state_bytes = _bytes(layer.size, state_bits) if names else 0
    row = {
        "weights": weights, "weight_bits": wbits, "weight_bytes": _bytes(weights, wbits),
        "scale_bytes": _bytes(scales, SCALE_BITS),
        "biases": bias, "bias_bytes": _bytes(bias, BIAS_BITS),
        "state": names, "state_bits": state_bits, "state_bytes": state_bytes,
        "fp32_bytes": FP32_BYTES * (weights + bias + layer.size * len(names)),
    }
    row["bytes"] = row["weight_bytes"] + row["scale_bytes"] + row["bias_bytes"] + state_bytes
    return row


def memory_footprint(spec: NetworkSpec) -> Dict:
    """Bytes to store a network's parameters and state, quantized and in FP32.

    Parameters
    ----------
    spec : NetworkSpec

    Returns
    -------
    dict
        ``layers``: one dict per layer with ``layer``, ``weights`` (unique count),
        ``weight_bits``, ``weight_bytes``, ``scale_bytes``, ``biases``,
        ``bias_bytes``, ``state`` (names), ``state_bits`` (per neuron),
        ``state_bytes``, ``bytes`` (their sum) and ``fp32_bytes``. Totals:
        ``weight_bytes``, ``scale_bytes``, ``bias_bytes``, ``state_bytes``,
        ``total_bytes``, ``fp32_weight_bytes``, ``fp32_bias_bytes``, ``fp32_state_bytes``,
        ``fp32_total_bytes`` and ``ratio`` (FP32 / quantized).
    """
    rows = []
    for i, layer in enumerate(spec.layers):
        row = layer_footprint(layer)
        row["layer"] = i
        rows.append(row)
    out = {"layers": rows}
    for key in ("weight_bytes", "scale_bytes", "bias_bytes", "state_bytes"):
        out[key] = sum(r[key] for r in rows)
    out["total_bytes"] = sum(r["bytes"] for r in rows)
    out["fp32_weight_bytes"] = FP32_BYTES * sum(r["weights"] for r in rows)
    out["fp32_bias_bytes"] = FP32_BYTES * sum(r["biases"] for r in rows)
    out["fp32_state_bytes"] = FP32_BYTES * sum(len(r["state"]) * spec.layers[r["layer"]].size
                                               for r in rows)
    out["fp32_total_bytes"] = sum(r["fp32_bytes"] for r in rows)
    out["ratio"] = out["fp32_total_bytes"] / out["total_bytes"] if out["total_bytes"] else 1.0
    return out
