"""Checked values of the format's groups: every integer read in its range (DESIGN §7).

The helpers every vocabulary of :mod:`.reader` reads through (:mod:`.h5values` does
the checks: sizes before reading, finite integral numbers, ranges before any cast).
Each appends what is wrong to ``problems`` and returns a default instead of raising.
"""
from __future__ import annotations

from typing import Any, List, Optional, Tuple

import h5py
import numpy as np

from . import h5values as hv
from .schema import MAX_DIM, MAX_NEURONS, RANGES


def _range(key: str) -> Tuple[int, int]:
    return RANGES.get(key, (-(1 << 31), (1 << 31) - 1))


def _get(group: h5py.Group, key: str, default: Any = None, problems: Optional[List[str]] = None,
         where: str = "") -> Any:
    """The checked value of dataset ``key`` (text decoded), ``default`` when absent."""
    probs = problems if problems is not None else []
    ds = hv.member(group, key, where, probs, h5py.Dataset)
    if ds is None:
        return default
    v = hv.read_dataset(ds, f"{where}/{key}" if where else key, probs)
    return default if v is None else v


def _text(group: h5py.Group, key: str, problems: List[str], where: str) -> Optional[str]:
    return hv.text(_get(group, key, None, problems, where), f"{where}/{key}", problems)


def _int(group: h5py.Group, key: str, default: Optional[int], problems: List[str], where: str
         ) -> Optional[int]:
    v = _get(group, key, None, problems, where)
    if v is None:
        return default
    lo, hi = _range(key)
    out = hv.int_value(v, f"{where}/{key}", problems, lo, hi)
    return default if out is None else out


def _pair(group: h5py.Group, key: str, default: int, problems: List[str], where: str
          ) -> Tuple[int, int]:
    v = _get(group, key, None, problems, where)
    if v is None:
        return (default, default)
    lo, hi = _range(key)
    t = hv.int_tuple(v, f"{where}/{key}", problems, lo, hi, (1, 2))
    if t is None:
        return (default, default)
    return (t[0], t[0]) if len(t) == 1 else (t[0], t[1])


def _int_array(group: h5py.Group, key: str, problems: List[str], where: str
               ) -> Optional[np.ndarray]:
    v = _get(group, key, None, problems, where)
    if v is None:
        return None
    lo, hi = _range(key)
    return hv.int_array(v, f"{where}/{key}", problems, lo, hi)


def _shape(value: Any, where: str, problems: List[str]) -> Optional[Tuple[int, ...]]:
    """A (C, H, W) or (F,) shape within the limits, its size computed exactly."""
    if value is None:
        return None
    t = hv.int_tuple(value, where, problems, 1, MAX_NEURONS, (1, 3))
    if t is None:
        return None
    if len(t) == 3 and max(t) > MAX_DIM:
        problems.append(f"{where}: an axis of {max(t)} exceeds the limit of {MAX_DIM}")
        return None
    n = 1
    for v in t:
        n *= v
    if n > MAX_NEURONS:
        problems.append(f"{where}: {'x'.join(map(str, t))} = {n:,} neurons exceed the limit of "
                        f"{MAX_NEURONS:,} per layer")
        return None
    return t


def _bias(g: h5py.Group, shape: Tuple[int, ...], problems: List[str], where: str,
          key: str = "bias") -> Optional[np.ndarray]:
    """A per-step bias (``key``: ``bias``, or a neuron's ``currentBias``): a scalar,
    one value per channel (as ``(C, 1, 1)`` for a ``(C, H, W)`` layer) or the layer shape."""
    b = _int_array(g, key, problems, where)
    if b is None:
        return None
    if b.size == 1 and len(shape) >= 1 and shape[0] != 1:
        return b.reshape(())
    if b.shape == tuple(shape):
        return b
    if b.ndim == 1 and b.size == shape[0]:
        return b.reshape((shape[0],) + (1,) * (len(shape) - 1))
    problems.append(f"{where}/{key}: shape {b.shape} fits neither channels ({shape[0]},) nor the "
                    f"layer shape {tuple(shape)}")
    return None
