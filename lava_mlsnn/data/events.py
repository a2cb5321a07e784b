"""Event arrays, the common data-set base class and the fixed split rule.

Every data set of :mod:`lava_mlsnn.data` hands out events as a numpy structured
array of :data:`EVENT_DTYPE`, the dtype of ``tonic.datasets.NMNIST``
(``x, y, t, p``, all int64): ``x`` in ``[0, W)``, ``y`` in ``[0, H)``, ``t`` in
microseconds, ``p`` in ``{0, 1}`` (1 = ON, brightness went up), sorted by ``t``.
tonic's own data sets differ (int16 ``x``/``y`` and bool ``p`` for DVS Gesture,
uint64 ``t`` first for CIFAR10-DVS), so the loaders convert with
:func:`to_event_array` before any user transform sees the events.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Optional, Sequence, Tuple

import numpy as np

EVENT_DTYPE = np.dtype([("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")])

SPLITS = ("train", "val", "test")


def make_events(x: Any, y: Any, t: Any, p: Any) -> np.ndarray:
    """Build an event array of :data:`EVENT_DTYPE` from four equal-length sequences.

    Parameters
    ----------
    x, y : array_like of int
        Pixel column and row.
    t : array_like of int
        Timestamps in microseconds.
    p : array_like of int or bool
        Polarity; anything > 0 becomes 1 (ON), the rest 0 (OFF).

    Returns
    -------
    numpy.ndarray
        Structured array, shape ``[n]``, in the given order (not sorted).
    """
    x = np.asarray(x)
    ev = np.empty(x.shape[0], dtype=EVENT_DTYPE)
    ev["x"] = x
    ev["y"] = np.asarray(y)
    ev["t"] = np.asarray(t)
    ev["p"] = np.asarray(p) > 0
    return ev


def to_event_array(events: np.ndarray) -> np.ndarray:
    """Convert any tonic-style structured event array to :data:`EVENT_DTYPE`, sorted by ``t``.

    Field names are matched by name, so tonic's orderings (``xytp``, ``xypt``,
    ``txyp``) all work. Polarity ``p`` (bool, {0, 1} or {-1, 1}) maps to
    ``p > 0``. The sort is stable, so simultaneous events keep their order; an
    already sorted array is not copied twice.

    Parameters
    ----------
    events : numpy.ndarray
        Structured array with at least the fields ``x``, ``y``, ``t``, ``p``.

    Returns
    -------
    numpy.ndarray
        A new array of :data:`EVENT_DTYPE`, shape ``[n]``.
    """
    names = events.dtype.names or ()
    missing = [f for f in EVENT_DTYPE.names if f not in names]
    if missing:
        raise ValueError(f"event array lacks field(s) {missing}; it has {list(names)}")
    ev = make_events(events["x"], events["y"], events["t"], events["p"])
    if ev.shape[0] > 1 and np.any(np.diff(ev["t"]) < 0):
        ev = ev[np.argsort(ev["t"], kind="stable")]
    return ev


def natural_key(text: str) -> Tuple[Any, ...]:
    """Sort key that orders embedded integers numerically (``a_2`` before ``a_10``)."""
    return tuple(int(tok) if tok.isdigit() else tok for tok in re.split(r"(\d+)", text))


def stratified_holdout(labels: Sequence[int], fraction: float, seed: int) -> np.ndarray:
    """Pick a fixed, class-stratified subset of positions.

    Per class, the positions are shuffled with ``numpy.random.default_rng(seed)``
    (PCG64, stable across platforms) and the first ``round(fraction * n_class)``
    are taken. Classes are visited in increasing label order so the result
    depends only on ``labels``, ``fraction`` and ``seed``.

    Parameters
    ----------
    labels : sequence of int
        Class label of each sample, length ``n``.
    fraction : float
        Share of each class to hold out, in ``[0, 1)``.
    seed : int
        Seed of the shuffle.

    Returns
    -------
    numpy.ndarray
        Sorted int64 positions (into ``labels``) of the held-out samples.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    labels = np.asarray(labels, dtype=np.int64)
    rng = np.random.default_rng(seed)
    held = []
    for c in np.unique(labels):
        pos = np.flatnonzero(labels == c)
        k = int(round(fraction * pos.size))
        held.append(rng.permutation(pos)[:k])
    if not held:
        return np.zeros(0, dtype=np.int64)
    return np.sort(np.concatenate(held)).astype(np.int64)


def carve_split(
    train_positions: np.ndarray,
    labels: Sequence[int],
    split: str,
    val_fraction: float,
    split_seed: int,
) -> np.ndarray:
    """Select the ``train`` or ``val`` part of a training set (``test`` passes through).

    ``val`` is :func:`stratified_holdout` of the training positions with
    ``val_fraction`` and ``split_seed``; ``train`` is the rest. With
    ``val_fraction == 0`` the training set is returned whole and asking for
    ``val`` is an error.

    Parameters
    ----------
    train_positions : numpy.ndarray
        Positions of the official training samples, shape ``[n_train]``.
    labels : sequence of int
        Labels of *all* samples (indexed by position).
    split : {'train', 'val'}
        Which part to return.
    val_fraction : float
        Share of every class of the training set that goes to ``val``.
    split_seed : int
        Seed of the validation shuffle.

    Returns
    -------
    numpy.ndarray
        Sorted int64 positions.
    """
    if split == "val" and val_fraction <= 0.0:
        raise ValueError("split='val' needs val_fraction > 0 (e.g. val_fraction=0.1)")
    train_positions = np.asarray(train_positions, dtype=np.int64)
    if val_fraction <= 0.0:
        return train_positions
    lab = np.asarray(labels, dtype=np.int64)[train_positions]
    held = train_positions[stratified_holdout(lab, val_fraction, split_seed)]
    if split == "val":
        return held
    return np.setdiff1d(train_positions, held)


def check_split(split: str) -> str:
    """Return ``split`` if it is one of :data:`SPLITS`, else raise ``ValueError``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return split


class EventDataset:
    """Base of the event data sets: canonical events, optional transforms, an identity.

    Subclasses set ``name``, ``sensor_size`` ``(W, H, 2)``, ``classes``,
    ``targets`` (int64 labels of this split, shape ``[len(self)]``) and
    implement :meth:`_events` (canonical events of sample ``index``) and
    :meth:`_identity_parts` (what makes this data set's content unique).

    ``__getitem__`` returns ``(transform(events), target_transform(label))``,
    torch-``Dataset`` style; with no transform the events are a structured
    array of :data:`EVENT_DTYPE`.
    """

    name: str = "events"
    sensor_size: Tuple[int, int, int] = (0, 0, 2)
    classes: Sequence[str] = ()

    def __init__(
        self,
        transform: Optional[Callable] = None,
        target_transform: Optional[Callable] = None,
    ) -> None:
        self.transform = transform
        self.target_transform = target_transform
        self.targets = np.zeros(0, dtype=np.int64)

    def _events(self, index: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _identity_parts(self) -> Sequence[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def events(self, index: int) -> np.ndarray:
        """Canonical events of sample ``index`` (no transform applied)."""
        return self._events(self._check_index(index))

    def cache_identity(self) -> str:
        """A string that changes whenever the samples this object returns can change.

        Used by :class:`lava_mlsnn.data.cache.FramedDataset` as part of its key:
        it covers the data set, split, sample list and this object's own
        ``transform`` / ``target_transform`` (by ``repr``).
        """
        parts = [self.name, *self._identity_parts()]
        parts.append(f"transform={self.transform!r}")
        parts.append(f"target_transform={self.target_transform!r}")
        return "|".join(parts)

    def _check_index(self, index: int) -> int:
        n = len(self)
        index = int(index)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"index {index} out of range for {self.name} of length {n}")
        return index

    def __len__(self) -> int:
        return int(self.targets.shape[0])

    def __getitem__(self, index: int) -> Tuple[Any, Any]:
        index = self._check_index(index)
        events = self._events(index)
        target: Any = int(self.targets[index])
        if self.transform is not None:
            events = self.transform(events)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return events, target

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={len(self)}, sensor_size={self.sensor_size})"
