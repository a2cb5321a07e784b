"""lava-dl neuron dicts, translated for lava-mlsnn's neurons (DESIGN "lava-dl habits").

A lava-dl user writes one ``neuron_params`` dict (``slayer.neuron.cuba.Neuron``'s
arguments) and passes it to every block. The keys that mean the same thing here are
accepted (some only at the value that means the same thing); every other key, or a
value with no equivalent, is refused with one line naming it, so nothing a user asks
for is silently dropped.

========================  ===================================================
lava-dl key               multi-level neuron (``block.Dense``, ``Conv``, ``Pool``)
========================  ===================================================
``threshold``             the same (real units; learned here, ``learn_threshold``)
``current_decay``         the same (fraction per step; a scalar)
``voltage_decay``         the same (fraction per step; a scalar)
``tau_grad``              the same: lava-dl's surrogate (``surrogate='exp'``) of
                          width ``tau_grad * theta`` at each level edge
``scale_grad``            the same: that surrogate's height
``requires_grad``         ``False`` only (decays are fixed here)
``shared_param``          ``True`` only (one threshold and decay per layer)
``graded_spike``          ``False`` only (use ``levels`` for graded payloads)
``scale``                 ``64`` only (the integer scale is chosen at export)
``norm``                  ``True``, ``'mean_only'``, a lava-mlsnn norm factory, or
                          lava-dl's ``MeanOnlyBatchNorm`` (as ``'mean_only'``)
``dropout``               the same (a training-only module)
``persistent_state``      the same
========================  ===================================================

A :class:`~lava_mlsnn.block.Readout` (no spike, no reset) takes ``voltage_decay``,
``norm``, ``dropout`` and ``persistent_state``; the keys that only shape a spike
(``threshold``, ``levels``, the surrogate's, ...) have no effect on it and are
accepted so that the hidden layers' dict can be reused, but a ``current_decay``
other than 1 is refused (a readout has no current state).
"""
from __future__ import annotations

import numbers
from functools import partial
from typing import Any, Dict, Optional

from .norm import BatchNorm

#: Arguments of :class:`lava_mlsnn.neuron.multilevel.Neuron` (besides ``norm``).
NATIVE = frozenset({"threshold", "levels", "current_decay", "voltage_decay", "v_init",
                    "surrogate", "alpha", "tau_grad", "scale_grad", "learn_threshold",
                    "dropout", "persistent_state", "membrane", "reset"})
READOUT = frozenset({"voltage_decay", "dropout", "persistent_state"})
#: Keys that only shape a spike: a readout accepts and does not use them.
SPIKE_ONLY = frozenset({"threshold", "levels", "v_init", "surrogate", "alpha", "tau_grad",
                        "scale_grad", "learn_threshold", "membrane", "reset"})
#: lava-dl keys accepted at the one value that means the same thing here.
FIXED_VALUE = {"requires_grad": (False, "learnable decays are not supported: decays are "
                                        "fixed here"),
               "shared_param": (True, "per-channel thresholds and decays are not supported"),
               "graded_spike": (False, "lava-dl's graded CUBA output is not a multi-level "
                                       "spike: use 'levels' for graded payloads"),
               "scale": (1 << 6, "the integer scale is chosen when the network is folded")}


class NeuronParamError(ValueError):
    """A neuron dict holds a key, or a value, that has no meaning here."""


def _refuse(key: str, why: str) -> NeuronParamError:
    return NeuronParamError(f"neuron_params[{key!r}]: {why}")


def _norm(norm: Any, channels: int):
    """A ``norm`` value as a factory of a folding norm (or ``None``)."""
    if norm is None or norm is False:
        return None
    if norm is True:
        return partial(BatchNorm, channels)
    if norm == "mean_only":
        return partial(BatchNorm, channels, mean_only=True)
    target = getattr(norm, "func", norm)  # a functools.partial of a class
    module = getattr(target, "__module__", "") or ""
    if module.startswith("lava.lib.dl"):
        if getattr(target, "__name__", "") == "MeanOnlyBatchNorm":
            return partial(BatchNorm, channels, mean_only=True)
        raise _refuse("norm", f"lava-dl's {getattr(target, '__name__', target)} has no folded "
                              "integer form here; use True (per-channel BatchNorm) or "
                              "'mean_only'")
    if not callable(norm):
        raise _refuse("norm", f"{norm!r} is not True, 'mean_only' or a norm factory")
    return norm


def neuron_kwargs(params: Optional[Dict[str, Any]], channels: int, kind: str = "multilevel"
                  ) -> Dict[str, Any]:
    """Arguments of the block's neuron from a lava-mlsnn or lava-dl neuron dict.

    Parameters
    ----------
    params : dict or None
        The block's ``neuron_params``.
    channels : int
        Output channels (features) of the block: the size of a BatchNorm.
    kind : {'multilevel', 'readout'}

    Returns
    -------
    dict
        Keyword arguments of :class:`~lava_mlsnn.neuron.multilevel.Neuron` or
        :class:`~lava_mlsnn.neuron.readout.Neuron`.

    Raises
    ------
    NeuronParamError
        A key or value with no equivalent here (one line naming the key).
    """
    params = dict(params or {})
    out: Dict[str, Any] = {}
    norm = _norm(params.pop("norm", None), channels)
    if norm is not None:
        out["norm"] = norm
    for key, (value, why) in FIXED_VALUE.items():
        if key in params:
            given = params.pop(key)
            if given != value:
                raise _refuse(key, f"{given!r} is not supported ({why}); drop the key or set "
                                   f"it to {value!r}")
    for key in ("current_decay", "voltage_decay", "threshold"):
        if key in params and not isinstance(params[key], numbers.Real):
            raise _refuse(key, f"{params[key]!r} is not a scalar (per-channel values are "
                               "not supported)")
    for key in ("tau_grad", "scale_grad"):
        if key in params and kind != "readout":
            surrogate = params.setdefault("surrogate", "exp")
            if surrogate != "exp":
                raise _refuse(key, f"lava-dl's surrogate width and height belong to "
                                   f"surrogate='exp', not {surrogate!r}")
    if kind == "readout":
        decay = params.pop("current_decay", 1.0)
        if decay != 1:
            raise _refuse("current_decay", f"{decay!r}: a readout has no current state "
                                           "(only 1 is supported)")
        allowed = READOUT | SPIKE_ONLY
    else:
        allowed = NATIVE
    for key in params:
        if key not in allowed:
            raise _refuse(key, "unknown key (lava-mlsnn neuron keys: "
                               f"{', '.join(sorted(allowed | {'norm'}))})")
    if kind == "readout":
        params = {k: v for k, v in params.items() if k in READOUT}
    out.update(params)
    return out
