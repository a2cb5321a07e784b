"""The emulator's lean MLSN step: DESIGN §5 evaluated on float32 tensors, same integers.

The plain step (:func:`lava_mlsnn.fixed.layer_step`) turns each float synapse sum into an
int32 current and runs the neuron on integers: with the conversions back to float for
the next layer's convolution, about fifteen passes over every layer's tensor. Here the
sum stays float32 from the synapse to the next synapse (about eight passes), which is
exact because every value the step forms is an integer that float32 holds, or is
saturated before any rounding could change it:

* the sum ``s`` is exact (``|s| < 2**24``, :func:`lava_mlsnn.fixed.sum_dtype`);
  ``s << e`` is a multiplication by a power of two (exact), ``s >> e`` its ``floor``;
* ``a << 6`` is again a power of two; ``decay(u)`` is formed in float64 (``|u| * 4096``
  needs 36 bits) and is at most ``|u|``;
* a sum of two exact operands is correctly rounded, so where the true sum lies inside
  ``±2**24`` it is exact, and outside it stays outside (rounding is monotone and
  ``±2**24`` are floats): the 24-bit saturation that follows is exact. Every sum below
  adds at most one operand to an already exact value: ``u = sat(a << 6 + decay(u))``,
  ``v = sat((decay(v) + u) + bias)`` with ``|decay(v) + u| <= 2**24``;
* ``v // th``: float32 division is exact enough (:func:`lava_mlsnn.fixed._levels_of`).

Only layers meeting these preconditions take the step (:func:`lean_layers`); the others
run the plain one. ``tests/test_emulator_lean.py`` checks both against each other.
"""
from __future__ import annotations

from typing import Dict, Optional, Set, Tuple

import numpy as np
import torch

from .. import fixed
from ..format.params import memo
from ..format.spec import NetworkSpec

_F32_EXACT = float(1 << 24)


def _bias_term(p: fixed.NeuronParams) -> Optional[np.ndarray]:
    """``bias << biasExp`` (int64), or None without a bias."""
    if p.bias is None:
        return None
    return fixed.shift(np.asarray(p.bias, dtype=np.int64), p.bias_exp)


def lean_ok(p: fixed.NeuronParams, syn: fixed.SynapseSpec, bound: Optional[float]) -> bool:
    """Whether a single-branch layer with neuron ``p`` fed through ``syn`` by payloads of
    at most ``bound`` meets the module's exactness preconditions."""
    if bound is None or syn.delay is not None:
        return False
    return memo(p, "lean_ok", lambda: _neuron_ok(p)) \
        and fixed.sum_dtype(syn, bound) == torch.float32


def _neuron_ok(p: fixed.NeuronParams) -> bool:
    """The preconditions of :func:`lean_ok` on the neuron alone."""
    if p.type != "MLSN":
        return False
    if p.current_bias is not None or p.reset != "soft":  # not in lean_step: the plain
        return False  # step carries them (§5)
    if np.ndim(p.i_decay) or np.ndim(p.v_decay) or (p.v_bits and int(p.v_exp) < 0):
        return False  # per-neuron decays and right-shifted v quantization: the plain step
    th = int(p.v_th_mant) << fixed.STATE_SHIFT
    if not 0 < th < (1 << 24) or abs(int(p.v_init)) > fixed.SAT_MAX:
        return False
    bias = _bias_term(p)
    if bias is not None:  # a float32 operand, and the int32 bound of fixed.state_dtype
        big = np.abs(bias).max(initial=0)
        if big > (1 << 29) or np.any(bias.astype(np.float32).astype(np.int64) != bias):
            return False
    return True


def cuba32_ok(p: fixed.NeuronParams, syn: fixed.SynapseSpec, bound: Optional[float]) -> bool:
    """Whether :func:`lava_mlsnn.fixed.cuba_step` of a single-branch CUBA layer fed through
    ``syn`` by payloads of at most ``bound`` is exact in float32 (the layer-major run's
    ``kernels.CUBA32`` loop), by the module's argument and one bound more: a current of
    at most ``A`` (the sum's bound, shifted) keeps ``|u| <= 64 A * 4096 / iDecay < 2**23``
    (``decay`` is at most ``x * (4096 - iDecay) / 4096``: a geometric series), so LIF's
    wraps of ``u`` never act and no overflow mode of the synapse bounds anything; ``v``
    is saturated to ``±(2**23 - 1)`` after a sum of two exact operands (below ``2**24``)
    and a bias below ``2**24``, and the threshold ``vThMant << 6`` is a float32 integer."""
    if bound is None or syn.delay is not None or fixed.sum_dtype(syn, bound) != torch.float32:
        return False
    if not memo(p, "cuba32_ok", lambda: _cuba_neuron_ok(p)):
        return False
    e = int(syn.weight_exp)
    top = syn.weight_abs_max * float(bound) * syn.fan_in()
    current = np.ceil(top * 2.0 ** e) if e < 0 else top * 2.0 ** e
    return current * 64 * fixed.DECAY_ONE / int(p.i_decay) < (1 << 23)


def _cuba_neuron_ok(p: fixed.NeuronParams) -> bool:
    """The preconditions of :func:`cuba32_ok` on the neuron alone."""
    if p.type != "CUBA" or p.current_bias is not None or np.ndim(p.i_decay) \
            or np.ndim(p.v_decay) or not 0 < int(p.i_decay) <= fixed.DECAY_ONE:
        return False
    if not 0 <= int(p.v_th_mant) << fixed.STATE_SHIFT < (1 << 24):
        return False
    bias = _bias_term(p)
    return bias is None or np.abs(bias).max(initial=0) < (1 << 24)


def lean_layers(spec: NetworkSpec, plain: Set[int], bounds: Dict[int, Optional[float]]
                ) -> Set[int]:
    """Indices of the layers of ``plain`` (no recurrence, no delay line) that take
    :func:`lean_step`: single-branch MLSN layers meeting :func:`lean_ok`."""
    return {i for i in plain if len(spec.layers[i].branches) == 1
            and lean_ok(spec.layers[i].neuron, spec.layers[i].branches[0].synapse,
                        bounds[spec.layers[i].branches[0].source])}


def lean_params(p: fixed.NeuronParams, like: torch.Tensor) -> Optional[torch.Tensor]:
    """The layer's bias term as a float32 tensor broadcastable to its states."""
    bias = _bias_term(p)
    return None if bias is None else torch.as_tensor(bias, dtype=torch.float32,
                                                     device=like.device)


def lean_state(p: fixed.NeuronParams, shape: Tuple[int, ...], like: torch.Tensor
               ) -> Tuple[torch.Tensor, torch.Tensor]:
    """The reset state (``u = 0``, ``v = vInit``) as float32 broadcast views."""
    zero = torch.zeros((), dtype=torch.float32, device=like.device)
    return zero.expand(shape), (zero + int(p.v_init)).expand(shape)


def _decay(x: torch.Tensor, d: int) -> torch.Tensor:
    """:func:`lava_mlsnn.fixed.decay` of a float32 state: ``trunc(x * (4096 - d) / 4096)``
    in float64 (``(4096 - d) / 4096`` is a dyadic fraction, the product has < 53 bits)."""
    if d == 0:
        return x
    if d == fixed.DECAY_ONE:
        return torch.zeros_like(x)
    if x.dim() and not any(x.stride()):  # a reset state: one value, viewed everywhere
        return _decay(x[(0,) * x.dim()], d).expand(x.shape)
    c = (fixed.DECAY_ONE - d) / fixed.DECAY_ONE
    mag = x.abs().to(torch.float64).mul_(c).floor_()  # rounds |x| down: toward zero
    return torch.copysign(mag, x).to(torch.float32)


def lean_step(s: torch.Tensor, u: torch.Tensor, v: torch.Tensor, p: fixed.NeuronParams,
              bias: Optional[torch.Tensor], weight_exp: int, keep_state: bool = True
              ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One MLSN step from a float32 synapse sum ``s`` (overwritten), float32 states.

    Parameters
    ----------
    s : float32 tensor ``[B, *shape]``
        The exact synapse sum (:func:`lava_mlsnn.fixed.synapse_sum`), a fresh tensor:
        updated in place.
    u, v : float32 tensors broadcastable to ``s``
        Current and membrane state (state units).
    p : NeuronParams
    bias : float32 tensor or None
        :func:`lean_params`.
    weight_exp : int
    keep_state : bool
        False at a sample's last step: ``v``'s reset is skipped (nobody reads it).

    Returns
    -------
    (u, v, z) : float32 tensors holding the integers of :func:`lava_mlsnn.fixed.mlsn_step`.
    """
    a = s
    if weight_exp > 0:
        a.mul_(float(2 ** weight_exp))
    elif weight_exp < 0:
        a.mul_(2.0 ** weight_exp).floor_()
    a.clamp_(fixed.SAT_MIN, fixed.SAT_MAX)  # the current a of fixed.current_of_sum
    u_new = a.mul_(float(1 << fixed.STATE_SHIFT))
    if p.i_decay != fixed.DECAY_ONE:
        u_new += _decay(u, int(p.i_decay))
    u = u_new.clamp_(fixed.SAT_MIN, fixed.SAT_MAX)
    v = _decay(v, int(p.v_decay)) + u
    if bias is not None:
        v += bias
    v.clamp_(fixed.SAT_MIN, fixed.SAT_MAX)
    th = int(p.v_th_mant) << fixed.STATE_SHIFT
    z = torch.div(v, th).clamp_(0, int(p.levels)).floor_()  # >= 0: floor is the trunc
    # (torch 2.3's trunc is not vectorised on the CPU: ~40x the cost of floor)
    if keep_state:
        v.sub_(z, alpha=th)
        if p.v_bits:
            half = 1 << (int(p.v_bits) - 1)
            scale = float(2 ** int(p.v_exp))
            v = v.div_(scale).floor_().clamp_(-half, half - 1).mul_(scale)
    return u, v, z
