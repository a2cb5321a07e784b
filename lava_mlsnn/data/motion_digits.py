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

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np

from .digits_dvs import (DIGIT_CLASSES, RenderedDigitsDataset, cached_render,
                         digits_split_positions, render_cache_file)
from .dvs_sim import (RenderedDigits, check_pixel_model, crossings, log_intensity, pack_events,
                      pixel_draws)

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
        w, h = check_pixel_model(self)
        if self.digit_size < 1 or self.digit_size + 2 * self.amplitude_px > min(w, h):
            raise ValueError("digit_size + 2 * amplitude_px must fit in the sensor")
        if self.step_us < 1 or self.leg_us < self.step_us or self.leg_us % self.step_us:
            raise ValueError("leg_us must be a positive multiple of step_us")
        if self.n_distractors < 0:
            raise ValueError("n_distractors must be >= 0")

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
    c_pix, phase = pixel_draws(config.threshold, config.threshold_sigma, (w, h), n, rng)

    scale = size / s
    path = out_and_back(config)
    sign = np.where(order == 0, 1.0, -1.0)

    def frames():
        for off in path:
            ink = _bilinear(h, s, ty, scale) @ images[src] @ \
                _bilinear(w, s, tx + sign * off, scale).transpose(0, 2, 1)
            for j in range(k):
                ink += _bilinear(h, s, dy[j] + d_sign[j] * off, scale) @ images[d_img[j]] @ \
                    _bilinear(w, s, dx[j], scale).transpose(0, 2, 1)
            yield log_intensity(np.minimum(ink.ravel(), 1.0), config.background)

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
    path = render_cache_file(cache_dir, "motion_digits", RENDER_VERSION, config, int(seed)) \
        if cache_dir else None
    return cached_render(_MEMORY, (config, int(seed)), path,
                         lambda: render_motion_digits(config, seed))


class MotionDigitsDVS(RenderedDigitsDataset):
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
    default_config = MotionDigitsConfig
    render_version = RENDER_VERSION
    load = staticmethod(load_motion_rendered)

    def _split_positions(self, labels: np.ndarray) -> np.ndarray:
        # both orders of an image go to the split of the image
        images = digits_split_positions(labels[::2] // 2, self.split, self.val_fraction,
                                        self.split_seed)
        return np.sort(np.concatenate([2 * images, 2 * images + 1]))
