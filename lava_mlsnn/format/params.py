"""What a layer of a deployed network holds: ranges, synapse and neuron parameters.

The numbers of the DESIGN §5 contract (state scale, decay resolution, the 24-bit
range, Loihi 2's weight and bias ranges) and the two records every layer is made
of. Plain numpy, no torch and no Lava: the format layer (reader, writer, schema)
and every backend share these; the arithmetic on them is :mod:`lava_mlsnn.fixed`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Hashable, Tuple, TypeVar

import numpy as np

_T = TypeVar("_T")


def memo(spec: object, key: Hashable, make: Callable[[], _T]) -> _T:
    """``make()`` computed once per frozen ``spec`` (:class:`SynapseSpec`,
    :class:`NeuronParams`) and ``key``: what a backend derives from a spec's fields
    alone (its checks, its constants), kept with the spec as its converted weights are,
    so that a run does not derive it again on every call."""
    cache = spec.__dict__.get("_memo")
    if cache is None:
        cache = {}
        object.__setattr__(spec, "_memo", cache)  # frozen: the fields, not the cache
    if key not in cache:
        cache[key] = make()
    return cache[key]

STATE_SHIFT = 6
DECAY_BITS = 12
DECAY_ONE = 1 << DECAY_BITS  # 4096: a decay of 4096 empties a state in one step
SAT_MIN = -(1 << 23)
SAT_MAX = (1 << 23) - 1
LOIHI_WEIGHT_MIN = -256
LOIHI_WEIGHT_MAX = 254
BIAS_EXP_DEFAULT = 6  # a bias is in weight units unless a layer says otherwise
BIAS_MANT_MIN, BIAS_MANT_MAX = -(1 << 12), (1 << 12) - 1  # Loihi's 13-bit bias mantissa
BIAS_EXP_MAX = 7  # Lava LIF's 3-bit bias exponent
SDNN_TYPES = ("SDNN", "SDNN_DELTA", "SDNN_SIGMA")
SDNN_BIAS_EXP = 12  # netx scales an SDNN bias by 1 << (spike_exp + state_exp)


def default_bias_exp(neuron_type: str) -> int:
    """A layer's ``biasExp`` when the file does not give one."""
    return SDNN_BIAS_EXP if neuron_type in SDNN_TYPES else BIAS_EXP_DEFAULT


@dataclass(frozen=True)
class SynapseSpec:
    """A synapse of DESIGN §5: how a source payload becomes an integer current.

    Attributes
    ----------
    kind : str
        ``'dense'``, ``'conv'``, ``'pool'`` or ``'identity'``.
    weight : numpy.ndarray (int64)
        ``(out, in)`` for dense, ``(out, in/groups, kH, kW)`` for conv, a scalar
        for pool and identity.
    weight_exp : int
        ``weightExp``: the current is ``sat24(sum << e)`` (``>> -e`` if negative).
    stride, padding, dilation : tuple of int
        ``(y, x)`` conv/pool geometry (PyTorch semantics).
    groups : int
        Conv groups.
    kernel : tuple of int
        Pool kernel ``(kH, kW)``.
    overflow : str
        What bounds the current: ``'sat24'`` (DESIGN §5, lava-mlsnn's synapses),
        ``'wrap24'`` (stock Lava ``Conv``: ``signed_clamp``, a 24-bit wrap-around) or
        ``'none'`` (stock Lava ``Dense``: no bound), see :func:`lava_mlsnn.fixed.bounded`.
    delay : numpy.ndarray (int64) or None
        Axonal delays in steps (netx's ``delay``, applied as Lava's ``DelayDense``
        applies it): ``(n_out,)`` per output neuron (flattened layer order) or, for
        dense, ``(out, in)`` per synapse. The part of a current with delay ``k``
        reaches its neuron ``k`` steps after the input that caused it
        (:func:`lava_mlsnn.fixed.delayed_parts`, :func:`~lava_mlsnn.fixed.delay_line_step`).
        ``None``: no delay.
    """

    kind: str
    weight: np.ndarray
    weight_exp: int = 0
    stride: Tuple[int, int] = (1, 1)
    padding: Tuple[int, int] = (0, 0)
    dilation: Tuple[int, int] = (1, 1)
    groups: int = 1
    kernel: Tuple[int, int] = (1, 1)
    delay: np.ndarray | None = None
    overflow: str = "sat24"

    def __post_init__(self) -> None:
        # Per-call conversions would dominate small Lava steps: the largest |weight|
        # once, and a cache for the backends' converted copies of the weights.
        w = np.asarray(self.weight)
        object.__setattr__(self, "_w_abs_max", float(np.abs(w).max(initial=0)))
        object.__setattr__(self, "_w_cache", {})
        object.__setattr__(self, "_delay_groups", None)  # fixed.delay_groups fills it

    @property
    def max_delay(self) -> int:
        """Largest axonal delay in steps (0 without delays)."""
        return 0 if self.delay is None else int(np.max(self.delay, initial=0))

    @property
    def weight_abs_max(self) -> float:
        """Largest ``|weight|``."""
        return self._w_abs_max

    def fan_in(self) -> int:
        """Largest number of source values summed into one current."""
        if self.kind == "dense":
            return int(self.weight.shape[1])
        if self.kind == "conv":
            return math.prod(int(d) for d in self.weight.shape[1:])
        if self.kind == "pool":
            return int(self.kernel[0] * self.kernel[1])
        return 1


@dataclass(frozen=True)
class NeuronParams:
    """Integer parameters of one layer's neuron (DESIGN §5 / §6 ``neuron`` group).

    ``bias`` is an int array broadcastable to the layer shape (``(C, 1, 1)`` for a
    per-channel conv bias) or ``None``; it enters the state as ``bias << bias_exp``
    (``biasExp``, default 6: the bias is in weight units, as lava-dl's netx maps it).

    ``current_bias`` (``MLSN`` and ``CUBA`` only; ``None``: none) is an int array of the
    same shapes, in the units of the neuron's input current ``a`` (after the synapse's
    weight exponent and 24-bit bound), within ``[-2**23, 2**23 - 1]``: it is added to
    ``a`` every step, before the current's own update (``u = decay(u) + ((a +
    current_bias) << 6)``, DESIGN §5), so that it builds up with the current as NIR's
    ``CubaLIF`` (and snnTorch's ``Synaptic``) define a synapse bias.

    ``reset`` (``MLSN`` only) is how a spike resets the membrane (DESIGN §5):
    ``'soft'`` (``v >= th`` gives ``v // th`` levels, ``v -= z th``), or, with one level,
    snnTorch's own ``reset_mechanism='subtract'`` rules, whose reset is read from the
    stored membrane: ``'snntorch'`` (``reset_delay=False``) and ``'snntorch_delay'``
    (``reset_delay=True``, snnTorch's default); ``'snntorch_zero_delay'``: snnTorch's
    ``Synaptic`` with ``reset_mechanism='zero'`` and ``reset_delay=True``.
    """

    type: str = "MLSN"
    v_th_mant: int = 1
    levels: int = 1
    i_decay: int = DECAY_ONE
    v_decay: int = 0
    v_init: int = 0
    v_bits: int = 0
    v_exp: int = 0
    bias: np.ndarray | None = None
    bias_exp: int = BIAS_EXP_DEFAULT
    input_levels: int = 0  # only for the 'INPUT' pseudo-neuron of an input layer
    spike_exp: int = 6  # sigma-delta only: netx's spike_exp and state_exp (both 6)
    state_exp: int = 6
    current_bias: np.ndarray | None = None  # lava-mlsnn's neuron key ``currentBias``
    reset: str = "soft"  # MLSN only: one of RESET_RULES (neuron key ``resetRule``, §5)

#: ``NeuronParams.reset`` values; the index is the neuron key ``resetRule`` (DESIGN §6).
RESET_RULES = ("soft", "snntorch", "snntorch_delay", "snntorch_zero_delay")

#: Neuron types that carry a current bias (``NeuronParams.current_bias``, DESIGN §5).
CURRENT_BIAS_TYPES = ("MLSN", "CUBA")
