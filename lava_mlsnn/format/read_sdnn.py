"""lava-dl's sigma-delta (SDNN) vocabulary as stock netx builds it (``lava.proc.sdn``).

``Delta`` in an input layer, ``Sigma`` where ``sigma_output`` is set, else
``SigmaDelta`` (ReLU); a ``vThMant`` of 0 sends every change. In a stock file each
synapse current is bounded as stock Lava bounds it (:data:`.schema.STOCK_OVERFLOW`):
a sigma sums Dense currents unsaturated.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Dict, List, Optional

import h5py

from .params import NeuronParams, default_bias_exp
from .read_values import _text
from .schema import STOCK_OVERFLOW
from .spec import Branch, LayerSpec


def sigma_delta_neuron(ng: h5py.Group, layer_type: str, vals: Dict[str, Any], problems: List[str],
                 nw: str) -> Optional[NeuronParams]:
    """A lava-dl sigma-delta neuron as netx builds it: ``Delta`` in an input layer,
    ``Sigma`` where ``sigma_output`` is set, else ``SigmaDelta`` (ReLU)."""
    act = _text(ng, "activation", problems, nw) if "activation" in ng else "relu"
    if act is not None and act != "relu":
        problems.append(f"{nw}/activation: {act!r} is not supported: stock netx runs every "
                        "sigma-delta layer with ReLU")
    if vals.get("vThMant") is None and "vThMant" not in ng and not vals.get("sigma_output"):
        problems.append(f"{nw}: missing 'vThMant'")
    kind = "SDNN_DELTA" if layer_type == "input" else \
        "SDNN_SIGMA" if vals.get("sigma_output") else "SDNN"
    vth = vals.get("vThMant")
    return NeuronParams(type=kind, v_th_mant=1 if vth is None else vth, i_decay=0,
                        bias_exp=default_bias_exp(kind))


def stock_bounds(layer: LayerSpec) -> LayerSpec:
    """A stock sigma-delta layer with its currents bounded as stock Lava's synapses do."""
    if layer.neuron is None or layer.neuron.type not in ("SDNN", "SDNN_SIGMA"):
        return layer
    layer.branches = [Branch(b.source, replace(b.synapse, overflow=STOCK_OVERFLOW[
        b.synapse.kind])) for b in layer.branches]
    return layer
