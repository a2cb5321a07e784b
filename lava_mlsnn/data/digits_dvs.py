"""Embedded default data set: scikit-learn's digits seen by a simulated event camera.

``sklearn.datasets.load_digits`` ships 1797 grey 8x8 digits with the library, so
this data set needs no download. :mod:`lava_mlsnn.data.dvs_sim` renders them:
each digit is upscaled x3 (bilinear) to 24x24 and centred in a 32x32 sensor,
moved along 3 micro-saccades (a closed triangle of radius 1.5 px, 33 ms per leg,
99 ms in all) and turned into ON/OFF events by a per-pixel log-intensity change
threshold (C = 0.3, 3 % pixel mismatch, 0.2 Hz/pixel background noise), about
2600 events per sample. Rendering all samples takes ~2-4 s on 2 cores and
~33 MB, once per process (and optionally once per ``cache_dir``).

Split (fixed, independent of ``seed``): per class, 20 % of the samples chosen
with ``numpy.random.default_rng(0)`` form ``test`` (359 samples), the rest
``train`` (1438). ``val_fraction > 0`` carves a stratified ``val`` split out of
``train``.
"""
from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import asdict
from typing import Callable, Dict, Hashable, Optional, Sequence, Tuple

import numpy as np

from .._io import atomic_write, check_npy_file
from .._limits import BudgetError
from .dvs_sim import DigitsDVSConfig, RenderedDigits, render_digits_dvs
from .events import EventDataset, carve_split, check_split, stratified_holdout

RENDER_VERSION = 1  # bump when the renderer's output changes, to invalidate disk caches
TEST_FRACTION = 0.2
TEST_SPLIT_SEED = 0

DIGIT_CLASSES = (
    "0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
    "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine",
)

_MEMORY: Dict[Tuple[DigitsDVSConfig, int], RenderedDigits] = {}


def render_cache_file(cache_dir: str, prefix: str, version: int, config, seed) -> str:
    """``cache_dir/<prefix>_<hash>.npz``, the hash of the renderer version, every config
    field and the seed."""
    key = repr((version, sorted(asdict(config).items()), seed))
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return os.path.join(cache_dir, f"{prefix}_{digest}.npz")


def cached_render(memory: Dict, key: Hashable, path: Optional[str],
                  render: Callable[[], RenderedDigits]) -> RenderedDigits:
    """``memory[key]``, else the file at ``path`` (when given and readable), else
    ``render()``, stored in ``memory`` and written atomically to ``path``.

    The file is written atomically (temporary file, then ``os.replace``), so
    concurrent processes never read a partial file.
    """
    if key in memory:
        return memory[key]
    rendered = None
    if path and os.path.exists(path):
        try:
            check_npy_file(path)  # the declared shapes fit the file (checked before np.load)
            with np.load(path, allow_pickle=False) as z:
                rendered = RenderedDigits(**{f: z[f] for f in RenderedDigits.__dataclass_fields__})
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, BudgetError):
            rendered = None  # unreadable: render again and overwrite
    if rendered is None:
        rendered = render()
        if path:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            arrays = {k: getattr(rendered, k) for k in RenderedDigits.__dataclass_fields__}
            atomic_write(path, lambda f: np.savez(f, **arrays))
    memory[key] = rendered
    return rendered


def _cache_file(cache_dir: str, config: DigitsDVSConfig, seed: int) -> str:
    return render_cache_file(cache_dir, "digits_dvs", RENDER_VERSION, config, seed)


def load_rendered(
    config: DigitsDVSConfig = DigitsDVSConfig(),
    seed: int = 0,
    cache_dir: Optional[str] = None,
) -> RenderedDigits:
    """Rendered digits for ``(config, seed)``, from memory, ``cache_dir`` or a fresh render
    (see :func:`cached_render`)."""
    path = _cache_file(cache_dir, config, seed) if cache_dir else None
    return cached_render(_MEMORY, (config, int(seed)), path,
                         lambda: render_digits_dvs(config, seed))


def digits_split_positions(labels: Sequence[int], split: str, val_fraction: float = 0.0,
                           split_seed: int = 0) -> np.ndarray:
    """Positions of the samples of ``split`` (see the module docstring for the rule)."""
    check_split(split)
    labels = np.asarray(labels, dtype=np.int64)
    test = stratified_holdout(labels, TEST_FRACTION, TEST_SPLIT_SEED)
    if split == "test":
        return test
    train = np.setdiff1d(np.arange(labels.size), test)
    return carve_split(train, labels, split, val_fraction, split_seed)


class RenderedDigitsDataset(EventDataset):
    """An :class:`EventDataset` over one :class:`RenderedDigits` (every split of the same
    ``config`` and ``seed`` shares it). Subclasses set ``default_config``,
    ``render_version``, ``load`` (``(config, seed, cache_dir) -> RenderedDigits``)
    and :meth:`_split_positions`."""

    default_config: Callable[[], object]
    render_version: int
    load: Callable[..., RenderedDigits]

    def __init__(self, split: str = "train", transform: Optional[Callable] = None,
                 target_transform: Optional[Callable] = None, seed: int = 0,
                 val_fraction: float = 0.0, split_seed: int = 0, config=None,
                 cache_dir: Optional[str] = None) -> None:
        super().__init__(transform, target_transform)
        self.split = check_split(split)
        self.seed = int(seed)
        self.val_fraction = float(val_fraction)
        self.split_seed = int(split_seed)
        self.config = config if config is not None else self.default_config()
        w, h = self.config.sensor_size
        self.sensor_size = (int(w), int(h), 2)
        self._rendered = self.load(self.config, self.seed, cache_dir)
        self.positions = self._split_positions(self._rendered.labels)
        self.targets = self._rendered.labels[self.positions]

    def _split_positions(self, labels: np.ndarray) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover - abstract

    @property
    def rendered(self) -> RenderedDigits:
        """All rendered samples (shared by every split of the same ``config`` and ``seed``)."""
        return self._rendered

    @property
    def duration_us(self) -> int:
        """Length of every sample in microseconds (events have ``1 <= t <= duration_us``)."""
        return self.config.duration_us

    def _events(self, index: int) -> np.ndarray:
        return self._rendered.events(int(self.positions[index]))

    def _identity_parts(self) -> Sequence[str]:
        return [f"v{self.render_version}", repr(self.config), f"seed={self.seed}",
                f"split={self.split}", f"val_fraction={self.val_fraction}",
                f"split_seed={self.split_seed}"]


class DigitsDVS(RenderedDigitsDataset):
    """DVS rendering of scikit-learn's digits (embedded, no download; module docstring).

    Parameters
    ----------
    split : {'train', 'val', 'test'}
        ``test``: fixed stratified 20 % (359 samples). ``train``: the other
        1438, minus ``val`` when ``val_fraction > 0``.
    transform : callable, optional
        Applied to the event array (e.g. :class:`~lava_mlsnn.data.ToCountFrames`).
    target_transform : callable, optional
        Applied to the integer label.
    seed : int
        Rendering seed (sensor noise); does not change the split.
    val_fraction : float
        Share of each class of the training set held out as ``val``.
    split_seed : int
        Seed of the ``val`` hold-out.
    config : DigitsDVSConfig, optional
        Camera and motion settings; default ``DigitsDVSConfig()``.
    cache_dir : str, optional
        Folder for an on-disk copy of the rendered events.

    Attributes
    ----------
    sensor_size : (int, int, int)
        ``(W, H, 2)``, default ``(32, 32, 2)``.
    classes : tuple of str
        ``'0 - zero'`` ... ``'9 - nine'`` (tonic's N-MNIST names).
    targets : numpy.ndarray
        Labels of this split, int64 ``[len(self)]``.
    positions : numpy.ndarray
        Index into scikit-learn's digits of each sample of this split, int64 ``[len(self)]``.
    """

    name = "digits_dvs"
    classes = DIGIT_CLASSES
    default_config = DigitsDVSConfig
    render_version = RENDER_VERSION
    load = staticmethod(load_rendered)

    def _split_positions(self, labels: np.ndarray) -> np.ndarray:
        return digits_split_positions(labels, self.split, self.val_fraction, self.split_seed)
