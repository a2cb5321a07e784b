"""A simulated event camera looking at grey images moved along micro-saccades.

It renders the embedded digits data set (:mod:`lava_mlsnn.data.digits_dvs`)
and works for any stack of small grey images with ink in [0, 1]. Each image is

1. upscaled with bilinear interpolation to ``digit_size`` x ``digit_size``
   pixels (default 24x24, x3) and centred in a ``sensor_size`` sensor
   (default 32x32) on a background of relative intensity ``background``;
2. moved along ``n_saccades`` micro-saccades (default 3, like N-MNIST's three):
   a closed triangle of radius ``amplitude_px`` (1.5 px), each leg lasting
   ``saccade_us`` (33 ms, so 99 ms in all) with a cosine velocity profile,
   sampled every ``step_us`` (1 ms);
3. turned into events as a DVS pixel does: each pixel keeps a reference log
   intensity; whenever the log intensity has moved by ``C`` or more from it,
   one event per multiple of ``C`` is emitted (p = 1 for brighter, p = 0 for
   darker) and the reference moves by that many ``C``. ``C`` is ``threshold``
   (0.3 log units) times a fixed per-pixel mismatch ``1 + threshold_sigma * N(0, 1)``
   (sigma 3 %). Each crossing gets its own time by linear interpolation of the
   log intensity inside the step, rounded to the microsecond.
4. Per sample, the references start at a random phase within +-C/2 of the first
   frame, and background-activity noise events (Poisson, ``noise_rate_hz``
   = 0.2 Hz per pixel, random pixel, time and polarity) are added.

All randomness comes from ``numpy.random.default_rng(seed)``. Log intensities
are quantised to 2**-16 before thresholding, so rounding differences between
CPUs or BLAS builds (~1e-16) practically never move an event: a seed gives the
same events everywhere. The work is vectorised over samples (one numpy pass
per step over all of them) and split over a few threads; scikit-learn's 1797
digits take ~2-4 s on 2 cores and give ~2600 events per sample.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterable, Optional, Tuple

import numpy as np

from .events import EVENT_DTYPE

_LOG_SCALE = 1 << 16  # log-intensity quantum 2**-16


def check_pixel_model(config) -> Tuple[int, int]:
    """``__post_init__`` part of every rendering config: ``sensor_size`` made a tuple of
    int (set on the frozen dataclass) and the DVS pixel model's ``threshold`` and
    ``background`` checked; returns ``(W, H)``."""
    object.__setattr__(config, "sensor_size", tuple(int(v) for v in config.sensor_size))
    if config.threshold <= 0 or config.background <= 0:
        raise ValueError("threshold and background must be > 0")
    return config.sensor_size


@dataclass(frozen=True)
class DigitsDVSConfig:
    """Camera and motion settings of the digits rendering (see the module docstring).

    Attributes
    ----------
    sensor_size : (int, int)
        Sensor width and height in pixels.
    digit_size : int
        Side of the upscaled digit in pixels (the 8x8 image is scaled by ``digit_size / 8``).
    n_saccades : int
        Number of saccade legs (>= 2); the path is a closed polygon with that many corners.
    saccade_us : int
        Duration of one leg in microseconds (a multiple of ``step_us``).
    step_us : int
        Simulation step in microseconds.
    amplitude_px : float
        Distance of the path's corners from the centre, in pixels.
    threshold : float
        Mean contrast threshold ``C`` in natural-log units.
    threshold_sigma : float
        Relative standard deviation of the fixed per-pixel threshold mismatch.
    background : float
        Background intensity relative to full ink (ink adds up to 1.0).
    noise_rate_hz : float
        Background-activity noise events per pixel per second.
    """

    sensor_size: Tuple[int, int] = (32, 32)
    digit_size: int = 24
    n_saccades: int = 3
    saccade_us: int = 33_000
    step_us: int = 1_000
    amplitude_px: float = 1.5
    threshold: float = 0.3
    threshold_sigma: float = 0.03
    background: float = 0.1
    noise_rate_hz: float = 0.2

    def __post_init__(self) -> None:
        w, h = check_pixel_model(self)
        if self.digit_size < 1 or self.digit_size > min(w, h):
            raise ValueError("digit_size must be in [1, min(sensor_size)]")
        if self.n_saccades < 2 or self.step_us < 1 or self.saccade_us < self.step_us:
            # one leg of a closed path would go nowhere
            raise ValueError("need n_saccades >= 2 and saccade_us >= step_us >= 1")
        if self.saccade_us % self.step_us:
            raise ValueError("saccade_us must be a multiple of step_us")

    @property
    def duration_us(self) -> int:
        """Length of one sample in microseconds."""
        return self.n_saccades * self.saccade_us


@dataclass(frozen=True)
class RenderedDigits:
    """All samples' events, packed: sample ``i`` is ``[offsets[i], offsets[i+1])``."""

    offsets: np.ndarray  # int64 [N + 1]
    x: np.ndarray  # int16 [E]
    y: np.ndarray  # int16 [E]
    t: np.ndarray  # int32 [E], microseconds
    p: np.ndarray  # uint8 [E]
    labels: np.ndarray  # int64 [N]

    def events(self, i: int) -> np.ndarray:
        """Events of sample ``i`` as a structured array of :data:`EVENT_DTYPE`."""
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        ev = np.empty(b - a, dtype=EVENT_DTYPE)
        ev["x"], ev["y"], ev["t"], ev["p"] = self.x[a:b], self.y[a:b], self.t[a:b], self.p[a:b]
        return ev


def saccade_path(config: DigitsDVSConfig) -> np.ndarray:
    """Sensor-plane offset of the digit at every step, shape ``[S + 1, 2]`` (dx, dy) in pixels."""
    n = config.n_saccades
    angles = np.pi / 2 + 2 * np.pi * np.arange(n + 1) / n
    corners = config.amplitude_px * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    per_leg = config.saccade_us // config.step_us
    s = np.arange(1, per_leg + 1) / per_leg
    ease = (1.0 - np.cos(np.pi * s)) / 2.0  # zero velocity at both ends of a leg
    legs = [corners[i] + (corners[i + 1] - corners[i]) * ease[:, None] for i in range(n)]
    return np.concatenate([corners[:1], *legs], axis=0)


def _bilinear_matrix(n_out: int, n_src: int, origin: float, scale: float) -> np.ndarray:
    """Matrix ``[n_out, n_src]`` sampling a 1-D source of ``n_src`` cells, scaled by ``scale``
    and starting at sensor coordinate ``origin``, at the sensor pixel centres (zero outside)."""
    c = (np.arange(n_out) + 0.5 - origin) / scale - 0.5
    i0 = np.floor(c).astype(np.int64)
    f = c - i0
    m = np.zeros((n_out, n_src))
    rows = np.arange(n_out)
    for idx, w in ((i0, 1.0 - f), (i0 + 1, f)):
        ok = (idx >= 0) & (idx < n_src)
        m[rows[ok], idx[ok]] += w[ok]
    return m


def _log_frames(images: np.ndarray, config: DigitsDVSConfig, path: np.ndarray):
    """Yield the quantised log intensity ``[N * H * W]`` (int32) at every step."""
    w, h = config.sensor_size
    scale = config.digit_size / images.shape[-1]
    x0 = (w - config.digit_size) / 2.0
    y0 = (h - config.digit_size) / 2.0
    for dx, dy in path:
        ay = _bilinear_matrix(h, images.shape[1], y0 + dy, scale)
        ax = _bilinear_matrix(w, images.shape[2], x0 + dx, scale)
        yield log_intensity(((ay @ images) @ ax.T).ravel(), config.background)  # [N * H * W]


def log_intensity(ink: np.ndarray, background: float) -> np.ndarray:
    """Quantised log intensity (int32, units of 2**-16) of ink ``[P]`` in [0, 1] on
    ``background``: ``rint(log(ink + background) * 2**16)``."""
    log_bg = int(np.rint(np.log(background) * _LOG_SCALE))
    # most pixels see only background: take the (costly) log where there is ink
    lit = ink > 0
    out = np.full(ink.shape, log_bg, dtype=np.int32)
    vals = ink[lit]
    vals += background
    out[lit] = np.rint(np.log(vals, out=vals) * _LOG_SCALE)
    return out


def pixel_draws(threshold: float, threshold_sigma: float, sensor_size: Tuple[int, int],
                n: int, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """The sensor's random draws, in this order: per-pixel contrast thresholds
    (int32 ``[H, W]``, units of 2**-16, mismatch floored at 10 %) and every sample's
    initial reference phases in [-0.5, 0.5) ``[n * H * W]``."""
    w, h = sensor_size
    mismatch = 1.0 + threshold_sigma * rng.standard_normal((h, w))
    c_pix = np.rint(threshold * np.maximum(mismatch, 0.1) * _LOG_SCALE).astype(np.int32)
    return c_pix, rng.random(n * h * w) - 0.5


def _events_of_chunk(
    images: np.ndarray, phase: np.ndarray, c_pix: np.ndarray, config: DigitsDVSConfig
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Threshold-crossing events of a chunk of samples (see :func:`crossings`)."""
    n = images.shape[0]
    c_all = np.broadcast_to(c_pix, (n,) + c_pix.shape).ravel()
    frames = _log_frames(images, config, saccade_path(config))
    return crossings(frames, phase, c_all, config.step_us)


def crossings(frames: Iterable[np.ndarray], phase: np.ndarray, c_all: np.ndarray,
              step: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The DVS pixel model applied to a sequence of quantised log-intensity frames.

    Parameters
    ----------
    frames : iterable of numpy.ndarray
        Quantised log intensity (int32, units of 2**-16) of every pixel ``[P]`` at
        every step, the first frame at t = 0.
    phase : numpy.ndarray
        Initial reference offset of every pixel in thresholds, in [-0.5, 0.5) ``[P]``.
    c_all : numpy.ndarray
        Contrast threshold of every pixel (int32, same units) ``[P]``.
    step : int
        Step length in microseconds.

    Returns
    -------
    (flat, t, p)
        Pixel index into ``[P]``, time in microseconds and polarity, all int64, in step order.
    """
    frames = iter(frames)
    l_prev = next(frames)
    ref = l_prev + np.floor(phase * c_all).astype(np.int32)
    chunks = [(np.zeros(0, np.int64),) * 3]
    for k, l_now in enumerate(frames, start=1):
        diff = l_now - ref
        flat = np.flatnonzero(np.abs(diff) >= c_all)
        if flat.size:
            d, c = diff[flat].astype(np.int64), c_all[flat].astype(np.int64)
            sign = np.sign(d)
            count = np.abs(d) // c
            # one row per crossing: crossing j (1..count) of pixel flat[rep]
            rep = np.repeat(np.arange(flat.size), count)
            j = np.arange(rep.size) - np.repeat(np.cumsum(count) - count, count) + 1
            level = ref[flat].astype(np.int64)[rep] + sign[rep] * j * c[rep]
            lp = l_prev[flat].astype(np.int64)[rep]
            ln = l_now[flat].astype(np.int64)[rep]
            frac = (level - lp) / (ln - lp)  # in (0, 1]: |lp - ref| < C always holds
            t = np.rint((k - 1 + frac) * step).astype(np.int64)
            t = np.clip(t, (k - 1) * step + 1, k * step)
            chunks.append((flat[rep], t, (sign[rep] > 0).astype(np.int64)))
            ref[flat] += (sign * count * c).astype(np.int32)
        l_prev = l_now
    flat, t, p = (np.concatenate(a) for a in zip(*chunks))
    return flat, t, p


def render_digits_dvs(
    config: DigitsDVSConfig = DigitsDVSConfig(),
    seed: int = 0,
    images: Optional[np.ndarray] = None,
    labels: Optional[np.ndarray] = None,
    n_threads: Optional[int] = None,
) -> RenderedDigits:
    """Render the event streams of all digits (vectorised over samples; see the module doc).

    Parameters
    ----------
    config : DigitsDVSConfig
        Camera and motion settings.
    seed : int
        Seed of the threshold mismatch, initial reference phases and noise.
    images, labels : numpy.ndarray, optional
        Square grey images ``[N, s, s]`` with ink in ``[0, 1]`` and their labels ``[N]``;
        default: scikit-learn's digits (values / 16).
    n_threads : int, optional
        Threads over sample chunks (numpy releases the GIL); default
        ``min(4, os.cpu_count())``. The result does not depend on it.

    Returns
    -------
    RenderedDigits
        Packed events of every sample, each sorted by ``t`` (ties by y, x, p).
    """
    if images is None:
        from sklearn.datasets import load_digits

        digits = load_digits()
        images, labels = digits.images / 16.0, digits.target
    images = np.asarray(images, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    n = images.shape[0]
    w, h = config.sensor_size
    rng = np.random.default_rng(seed)

    # all random draws happen here, in a fixed order, so threading cannot change them
    c_pix, phase = pixel_draws(config.threshold, config.threshold_sigma, (w, h), n, rng)
    phase = phase.reshape(n, h * w)

    n_threads = n_threads or min(4, os.cpu_count() or 1)
    bounds = np.linspace(0, n, max(1, min(n_threads, n)) + 1).astype(int)
    jobs = [(images[a:b], phase[a:b].ravel(), c_pix, config) for a, b in zip(bounds[:-1], bounds[1:])]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        parts = list(pool.map(lambda job: _events_of_chunk(*job), jobs))
    flat = np.concatenate([f + a * h * w for (f, _, _), a in zip(parts, bounds[:-1])])
    t = np.concatenate([part[1] for part in parts])
    p = np.concatenate([part[2] for part in parts])
    sample, pix = np.divmod(flat, h * w)
    y, x = np.divmod(pix, w)

    return pack_events(sample, x, y, t, p, labels, (w, h), config.duration_us,
                       config.noise_rate_hz, rng)


def pack_events(sample: np.ndarray, x: np.ndarray, y: np.ndarray, t: np.ndarray,
                p: np.ndarray, labels: np.ndarray, sensor_size: Tuple[int, int],
                duration_us: int, noise_rate_hz: float, rng: np.random.Generator
                ) -> RenderedDigits:
    """Add background-activity noise, sort every sample's events by t, pack them.

    ``sample, x, y, t, p`` are int64 ``[E]`` (sample index, pixel, microseconds,
    polarity); noise is Poisson at ``noise_rate_hz`` per pixel, drawn from ``rng``.
    """
    n = int(labels.shape[0])
    w, h = sensor_size
    if noise_rate_hz > 0:
        dur = duration_us
        n_noise = rng.poisson(noise_rate_hz * dur * 1e-6 * w * h, size=n)
        m = int(n_noise.sum())
        sample = np.concatenate([sample, np.repeat(np.arange(n), n_noise)])
        x = np.concatenate([x, rng.integers(0, w, m)])
        y = np.concatenate([y, rng.integers(0, h, m)])
        t = np.concatenate([t, rng.integers(1, dur + 1, m)])
        p = np.concatenate([p, rng.integers(0, 2, m)])

    span = int(max(duration_us, int(t.max()) if t.size else 0)) + 1
    order = np.argsort((((sample * span + t) * h + y) * w + x) * 2 + p, kind="stable")
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(sample, minlength=n), out=offsets[1:])
    return RenderedDigits(
        offsets=offsets,
        x=x[order].astype(np.int16),
        y=y[order].astype(np.int16),
        t=t[order].astype(np.int32),
        p=p[order].astype(np.uint8),
        labels=labels,
    )
