"""Embedded harder benchmark: motion digits, 20 classes = digit x order of motion.

Every scikit-learn digit is rendered twice by the digits' DVS pixel model
(:func:`lava_mlsnn.data.dvs_sim.crossings`: log-intensity contrast threshold
C = 0.3 with 3 % mismatch, 0.2 Hz/pixel noise), once per class of motion order:

* the **target** digit (upscaled x2 to 16x16, at a random position of the 32x32
  sensor) moves horizontally out and back: ``+A`` then back (``right first``,
  order 0) or ``-A`` then back (``left first``, order 1), A = 5 px, 40 ms per leg
  with a cosine velocity profile (80 ms in all);
* ``n_distractors`` **distractor** digits (random other images, same size and ink,
  random positions, overlapping the target at will) move vertically out and back
  in a random order, so the net must tell which digit moves along x before it can
  name it.

Label = ``2 * digit + order``. Out-and-back motion leaves the same events summed
over the sample whichever leg comes first (the ON and OFF edges of both legs
add up), so a net that sees one count frame (T = 1) can only guess the order:
its ceiling is about half of the T >= 2 ceiling. Resembles N-MNIST (a sensor
moving over a digit) more than DVS Gesture (whose classes are also motions, with
direction, but of a body) or CIFAR10-DVS (natural images, no temporal class
cue); it is small (32x32, 3594 samples), synthetic and noise-light, so absolute
accuracies do not transfer to those sets.

Split (fixed, independent of ``seed``): the digits' split of the source images
(:func:`lava_mlsnn.data.digits_dvs.digits_split_positions`), both renderings of
an image in the same split: 2876 train, 718 test samples.
"""
from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import asdict, dataclass
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np

from .cache import atomic_write
from .digits_dvs import DIGIT_CLASSES, digits_split_positions
from .dvs_sim import _LOG_SCALE, RenderedDigits, crossings, pack_events
from .events import EventDataset, check_split

RENDER_VERSION = 1  # bump when the renderer's output changes, to invalidate disk caches
ORDERS = ("right first", "left first")
MOTION_CLASSES = tuple(f"{d.split(' - ')[0]} - {d.split(' - ')[1]}, {o}"
                       for d in DIGIT_CLASSES for o in ORDERS)


@dataclass(frozen=True)
class MotionDigitsConfig:
    """Settings of the motion digits rendering (see the module docstring).

    Attributes
    ----------
    sensor_size : (int, int)
    digit_size : int
        Side of every upscaled digit in pixels.
    leg_us : int
        Duration of one leg (out, or back) in microseconds, a multiple of ``step_us``.
    step_us : int
    amplitude_px : float
        Excursion of every leg in pixels.
    n_distractors : int
        Vertically moving distractor digits per sample.
    threshold, threshold_sigma, background, noise_rate_hz
        The DVS pixel model, as :class:`~lava_mlsnn.data.DigitsDVSConfig`.
    """

    sensor_size: Tuple[int, int] = (32, 32)
    digit_size: int = 16
    leg_us: int = 40_000
    step_us: int = 1_000
    amplitude_px: float = 5.0
    n_distractors: int = 1
    threshold: float = 0.3
    threshold_sigma: float = 0.03
    background: float = 0.1
    noise_rate_hz: float = 0.2

    def __post_init__(self) -> None:
        object.__setattr__(self, "sensor_size", tuple(int(v) for v in self.sensor_size))
        w, h = self.sensor_size
        if self.digit_size < 1 or self.digit_size + 2 * self.amplitude_px > min(w, h):
            raise ValueError("digit_size + 2 * amplitude_px must fit in the sensor")
        if self.step_us < 1 or self.leg_us < self.step_us or self.leg_us % self.step_us:
            raise ValueError("leg_us must be a positive multiple of step_us")
        if self.threshold <= 0 or self.background <= 0 or self.n_distractors < 0:
            raise ValueError("threshold and background must be > 0, n_distractors >= 0")

    @property
    def duration_us(self) -> int:
        """Length of one sample in microseconds (two legs)."""
        return 2 * self.leg_us


def out_and_back(config: MotionDigitsConfig) -> np.ndarray:
    """Offset of a ``+A`` first trajectory at every step, ``[S + 1]`` pixels (negate: ``-A`` first)."""
    per_leg = config.leg_us // config.step_us
    s = np.arange(1, per_leg + 1) / per_leg
    ease = (1.0 - np.cos(np.pi * s)) / 2.0
    a = config.amplitude_px
    return np.concatenate([[0.0], a * ease, a * (1.0 - ease)])


def _bilinear(n_out: int, n_src: int, origin: np.ndarray, scale: float) -> np.ndarray:
    """Per-sample sampling matrices ``[N, n_out, n_src]`` (as dvs_sim's, origins ``[N]``)."""
    c = (np.arange(n_out)[None, :] + 0.5 - origin[:, None]) / scale - 0.5
    i0 = np.floor(c).astype(np.int64)
    f = c - i0
    m = np.zeros((origin.size, n_out, n_src + 2))
    idx_n, idx_r = np.meshgrid(np.arange(origin.size), np.arange(n_out), indexing="ij")
    # columns shifted by one so out-of-range taps land in two discarded guard columns
    for idx, wgt in ((i0, 1.0 - f), (i0 + 1, f)):
        np.add.at(m, (idx_n, idx_r, np.clip(idx + 1, 0, n_src + 1)), wgt)
    return m[:, :, 1:-1]


def render_motion_digits(config: MotionDigitsConfig = MotionDigitsConfig(), seed: int = 0,
                         images: Optional[np.ndarray] = None,
                         labels: Optional[np.ndarray] = None) -> RenderedDigits:
    """Render both orders of every image (sample ``2 i + order`` is image ``i``).

    Parameters
    ----------
    config : MotionDigitsConfig
    seed : int
        Seed of positions, distractors, threshold mismatch, reference phases and noise.
    images, labels : numpy.ndarray, optional
        Grey images ``[M, s, s]`` (ink in [0, 1]) and digit labels ``[M]``; default
        scikit-learn's digits.

    Returns
    -------
    RenderedDigits
        ``2 M`` samples, labels ``2 * digit + order``.
    """
    if images is None:
        from sklearn.datasets import load_digits

        digits = load_digits()
        images, labels = digits.images / 16.0, digits.target
    images = np.asarray(images, dtype=np.float64)
    m, s = images.shape[0], images.shape[-1]
    n = 2 * m
    w, h = config.sensor_size
    rng = np.random.default_rng(seed)
    order = np.tile([0, 1], m)
    src = np.repeat(np.arange(m), 2)
    size, a = config.digit_size, config.amplitude_px
    # target: room for the horizontal excursion; distractors: room for the vertical one
    tx = rng.uniform(a, w - size - a, n)
    ty = rng.uniform(0, h - size, n)
    k = config.n_distractors
    d_img = rng.integers(0, m, (k, n))
    dx = rng.uniform(0, w - size, (k, n))
    dy = rng.uniform(a, h - size - a, (k, n))
    d_sign = rng.choice([-1.0, 1.0], (k, n))
    mismatch = 1.0 + config.threshold_sigma * rng.standard_normal((h, w))
    c_pix = np.rint(config.threshold * np.maximum(mismatch, 0.1) * _LOG_SCALE).astype(np.int32)
    phase = rng.random(n * h * w) - 0.5

    scale = size / s
    path = out_and_back(config)
    sign = np.where(order == 0, 1.0, -1.0)
    log_bg = int(np.rint(np.log(config.background) * _LOG_SCALE))

    def frames():
        for off in path:
            ink = _bilinear(h, s, ty, scale) @ images[src] @ \
                _bilinear(w, s, tx + sign * off, scale).transpose(0, 2, 1)
            for j in range(k):
                ink += _bilinear(h, s, dy[j] + d_sign[j] * off, scale) @ images[d_img[j]] @ \
                    _bilinear(w, s, dx[j], scale).transpose(0, 2, 1)
            ink = np.minimum(ink.ravel(), 1.0)
            out = np.full(ink.shape, log_bg, dtype=np.int32)
            lit = ink > 0
            out[lit] = np.rint(np.log(ink[lit] + config.background) * _LOG_SCALE)
            yield out

    c_all = np.broadcast_to(c_pix, (n, h, w)).ravel()
    flat, t, p = crossings(frames(), phase, c_all, config.step_us)
    sample, pix = np.divmod(flat, h * w)
    y, x = np.divmod(pix, w)
    out_labels = 2 * np.asarray(labels, dtype=np.int64)[src] + order
    return pack_events(sample, x, y, t, p, out_labels, (w, h), config.duration_us,
                       config.noise_rate_hz, rng)


_MEMORY: Dict[Tuple[MotionDigitsConfig, int], RenderedDigits] = {}


def load_motion_rendered(config: MotionDigitsConfig = MotionDigitsConfig(), seed: int = 0,
                         cache_dir: Optional[str] = None) -> RenderedDigits:
    """Rendered motion digits from memory, ``cache_dir`` (hash-named, atomic) or a fresh render."""
    key = (config, int(seed))
    if key in _MEMORY:
        return _MEMORY[key]
    path = None
    if cache_dir:
        digest = hashlib.sha256(repr((RENDER_VERSION, sorted(asdict(config).items()),
                                      int(seed))).encode()).hexdigest()[:16]
        path = os.path.join(cache_dir, f"motion_digits_{digest}.npz")
    rendered = None
    if path and os.path.exists(path):
        try:
            with np.load(path) as z:
                rendered = RenderedDigits(**{f: z[f] for f in RenderedDigits.__dataclass_fields__})
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            rendered = None  # unreadable: render again and overwrite
    if rendered is None:
        rendered = render_motion_digits(config, seed)
        if path:
            os.makedirs(cache_dir, exist_ok=True)
            arrays = {f: getattr(rendered, f) for f in RenderedDigits.__dataclass_fields__}
            atomic_write(path, lambda f: np.savez(f, **arrays))
    _MEMORY[key] = rendered
    return rendered


class MotionDigitsDVS(EventDataset):
    """Motion digits (embedded, no download; the module docstring has the design).

    Parameters
    ----------
    split : {'train', 'val', 'test'}
        ``test``: 718 samples (both orders of the digits' test images); ``train``: 2876,
        minus ``val`` when ``val_fraction > 0`` (carved per source image).
    transform, target_transform : callable, optional
    seed : int
        Rendering seed; does not change the split.
    val_fraction : float
    split_seed : int
    config : MotionDigitsConfig, optional
    cache_dir : str, optional
        Folder for an on-disk copy of the rendered events.

    Attributes
    ----------
    sensor_size : (int, int, int)
        ``(32, 32, 2)`` by default.
    classes : tuple of str
        ``'0 - zero, right first'``, ``'0 - zero, left first'``, ... (label ``2 digit + order``).
    targets, positions : numpy.ndarray
        Labels and rendered-sample indices of this split, int64.
    """

    name = "motion_digits"
    classes = MOTION_CLASSES

    def __init__(self, split: str = "train", transform: Optional[Callable] = None,
                 target_transform: Optional[Callable] = None, seed: int = 0,
                 val_fraction: float = 0.0, split_seed: int = 0,
                 config: Optional[MotionDigitsConfig] = None,
                 cache_dir: Optional[str] = None) -> None:
        super().__init__(transform, target_transform)
        self.split = check_split(split)
        self.seed, self.val_fraction, self.split_seed = int(seed), float(val_fraction), \
            int(split_seed)
        self.config = config if config is not None else MotionDigitsConfig()
        w, h = self.config.sensor_size
        self.sensor_size = (int(w), int(h), 2)
        self._rendered = load_motion_rendered(self.config, self.seed, cache_dir)
        digit = self._rendered.labels[::2] // 2
        images = digits_split_positions(digit, split, self.val_fraction, self.split_seed)
        self.positions = np.sort(np.concatenate([2 * images, 2 * images + 1]))
        self.targets = self._rendered.labels[self.positions]

    @property
    def rendered(self) -> RenderedDigits:
        return self._rendered

    @property
    def duration_us(self) -> int:
        return self.config.duration_us

    def _events(self, index: int) -> np.ndarray:
        return self._rendered.events(int(self.positions[index]))

    def _identity_parts(self) -> Sequence[str]:
        return [f"v{RENDER_VERSION}", repr(self.config), f"seed={self.seed}",
                f"split={self.split}", f"val_fraction={self.val_fraction}",
                f"split_seed={self.split_seed}"]
