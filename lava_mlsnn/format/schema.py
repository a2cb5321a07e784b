"""What the format holds: the range of every integer and the objects each group may contain.

The reader (:mod:`.reader`) refuses anything outside these tables (DESIGN §7.2);
new vocabulary (layer or neuron types, keys) is added here.
"""
from __future__ import annotations

from typing import Dict, Tuple

from .params import DECAY_ONE, RESET_RULES, SAT_MAX, SAT_MIN
from .spec import INPUT
from .writer import FORMAT_VERSION

_NEURON_KEYS = ("vThMant", "levels", "iDecay", "vDecay", "vInit", "vBits", "vExp")

# ----------------------------------------------------------------------- documented ranges
MAX_DIM = 1 << 16  # one axis of a shape, kernel, stride, padding, ...
MAX_NEURONS = 1 << 26  # neurons of one layer (and of the input)
MAX_LAYERS = 1 << 14
MAX_BRANCHES = 1 << 8
EXACT_SUM_LIMIT = 1 << 52  # |weight| * max payload * fan-in (float64 sums stay exact)
MAX_DELAY_STEPS = 1 << 10  # axonal delays the simulators run (Loihi 2 holds 62: inspect)

#: Inclusive range of every integer the format holds (DESIGN §7).
RANGES: Dict[str, Tuple[int, int]] = {
    "formatVersion": (1, FORMAT_VERSION), "timesteps": (0, 1 << 20),
    "inputShape": (1, MAX_DIM), "inputLevels": (1, SAT_MAX), "shape": (1, MAX_DIM),
    "source": (INPUT, MAX_LAYERS - 1),
    "weight": (SAT_MIN, SAT_MAX), "bias": (SAT_MIN, SAT_MAX), "biasExp": (0, 23),
    "weightExp": (-31, 10), "weightBits": (0, 8), "weightScale": (0, SAT_MAX),
    "inFeatures": (1, MAX_NEURONS), "outFeatures": (1, MAX_NEURONS),
    "inChannels": (1, MAX_DIM), "outChannels": (1, MAX_DIM),
    "kernelSize": (1, MAX_DIM), "stride": (1, MAX_DIM), "padding": (0, MAX_DIM),
    "dilation": (1, MAX_DIM), "groups": (1, MAX_DIM),
    "vThMant": (1, SAT_MAX), "levels": (1, SAT_MAX), "iDecay": (0, DECAY_ONE),
    "vDecay": (0, DECAY_ONE), "vInit": (SAT_MIN, SAT_MAX), "vBits": (0, 24), "vExp": (0, 24),
    "refDelay": (0, SAT_MAX), "gradedSpike": (0, 1), "delay": (0, MAX_DELAY_STEPS),
    "sigma_output": (0, 1), "currentBias": (SAT_MIN, SAT_MAX),
    "resetRule": (0, len(RESET_RULES) - 1),
}

# ----------------------------------------------------------------------- known objects
_ROOT_ATTRS = ("format", "formatVersion", "timesteps", "inputShape", "inputLevels", "classes",
               "metadata")
_REQUIRED_ROOT_ATTRS = ("formatVersion", "timesteps", "inputShape", "inputLevels")
_COMMON_KEYS = ("type", "shape", "source", "weightBits", "weightScale")
_NEURON_LAYER_KEYS = ("neuron", "bias", "biasExp", "weightExp")
_SYNAPSE_KEYS = {
    "dense": ("weight", "inFeatures", "outFeatures"),
    "conv": ("weight", "inChannels", "outChannels", "kernelSize", "stride", "padding",
             "dilation", "groups"),
    "pool": ("weight", "kernelSize", "stride", "padding", "dilation"),
    "identity": ("weight",),
}
#: Objects each layer type may hold (anything else is refused, never ignored).
LAYER_KEYS: Dict[str, Tuple[str, ...]] = {
    # A stock Input block: its neuron, and the data transform netx does not apply.
    "input": _COMMON_KEYS + ("neuron", "weight", "bias"),
    "flatten": _COMMON_KEYS,
    # ``delay`` is read on dense layers; on conv and pool it is refused by name.
    "dense": _COMMON_KEYS + _NEURON_LAYER_KEYS + _SYNAPSE_KEYS["dense"] + ("delay",),
    "conv": _COMMON_KEYS + _NEURON_LAYER_KEYS + _SYNAPSE_KEYS["conv"] + ("delay",),
    "pool": _COMMON_KEYS + _NEURON_LAYER_KEYS + _SYNAPSE_KEYS["pool"] + ("delay",),
    "join": _COMMON_KEYS + _NEURON_LAYER_KEYS + ("branch",),
}
# lava-dl's recurrent CUBA block (netx's RecurrentDense): a dense layer plus ``weight_rec``.
LAYER_KEYS["dense_rec"] = LAYER_KEYS["dense"] + ("weight_rec",)
#: Layer types lava-dl writes that stock netx cannot build (it raises NotImplementedError).
NETX_UNBUILT = {"average": "average (spatial mean) layers", "concat": "concat layers",
                "convT": "transposed conv (convT) layers", "unpool": "unpool layers",
                "dense_comp": "complex dense (dense_comp) layers"}
#: netx's integrator for a dense layer without a ``neuron`` group (``create_dense``):
#: CUBA with iDecay 0, vDecay 4096 and vThMant ``1 << 18 - 1`` (= 2**17, Python precedence).
NETX_DEFAULT_NEURON = {"iDecay": 0, "vDecay": DECAY_ONE, "vThMant": 1 << 17}
BRANCH_KEYS = {k: ("source", "type", "weightExp") + v for k, v in _SYNAPSE_KEYS.items()}
NEURON_KEYS: Dict[str, Tuple[str, ...]] = {
    "MLSN": ("type",) + _NEURON_KEYS, "READOUT": ("type",) + _NEURON_KEYS,
    "PASS": ("type",) + _NEURON_KEYS,
    "CUBA": ("type", "vThMant", "iDecay", "vDecay", "refDelay", "gradedSpike"),
}
#: ``LOIHI`` neuron keys lava-dl writes that netx reads past (``get_neuron_params``).
LOIHI_IGNORED = ("theta", "wgtExp", "scaleRho", "tauRho")
NEURON_KEYS["LOIHI"] = NEURON_KEYS["CUBA"] + LOIHI_IGNORED  # netx's alias of CUBA
#: lava-mlsnn's current bias (DESIGN §5), a neuron key of MLSN and CUBA neurons. netx
#: would run a CUBA layer without it, so a stock file (no root attributes) never has it.
CURRENT_BIAS_KEY = "currentBias"
for _t in ("MLSN", "CUBA"):
    NEURON_KEYS[_t] += (CURRENT_BIAS_KEY,)
NEURON_KEYS["MLSN"] += ("resetRule",)  # params.RESET_RULES' index (DESIGN §6)
NEURON_KEYS["SDNN"] = ("type", "activation", "vThMant", "sigma_output")  # lava-dl sigma-delta
#: Root objects of a stock file that netx's ``_create`` never reads.
STOCK_IGNORED_ROOT = ("simulation",)
#: Layer datasets of the lava-mlsnn vocabulary that netx never reads in a stock file.
STOCK_IGNORED_LAYER = ("weightExp", "biasExp")
#: How stock Lava bounds a synapse current netx builds: ``Dense`` does not, ``Conv``
#: wraps at 24 bits (``signed_clamp``). Applied to a stock file's sigma-delta layers.
STOCK_OVERFLOW = {"dense": "none", "conv": "wrap24"}
#: Neuron types netx builds that lava-mlsnn does not run (refused by name).
NETX_UNSUPPORTED_NEURONS = {"RF": "resonate-and-fire (RF) neurons",
                            "RF_IZ": "resonate-and-fire Izhikevich (RF_IZ) neurons"}
