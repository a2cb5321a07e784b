"""Event transforms and framing, in tonic's style: frozen dataclasses with ``__call__``.

Being frozen dataclasses, they hold no hidden state, compare by value and have a
``repr`` that lists every setting, which :class:`~lava_mlsnn.data.cache.FramedDataset`
uses as its cache key.

Why not ``tonic.transforms.ToFrame`` (tonic 1.7) for the framing: with
``n_time_bins`` it slices half-open windows ``[t0 + i*w, t0 + (i+1)*w)`` with
``w = (t_max - t0) // n``, so the events at ``t_max`` (and up to ``n - 1`` us
before it) are dropped; it counts in int16, which can overflow over a long
recording framed with T = 1; and on an empty input it returns float64 zeros laid
out ``(T, P, W, H)``. ``tonic.transforms.Compose`` also stops at an empty
event array and returns it instead of frames. :class:`ToCountFrames` and
:class:`Compose` below keep the same ``(T, P, H, W)`` layout and polarity
channels as tonic (channel 0 = OFF, 1 = ON) without those problems; any tonic
event-to-event transform (``Denoise``, ``CropTime``, ...) can still be put in a
:class:`Compose`.

No transform here flips events horizontally: DVS Gesture has direction-dependent
classes (left/right hand wave, clockwise/counter-clockwise arm rolls).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence, Tuple

import numpy as np
import torch

from .events import to_event_array


@dataclass(frozen=True)
class Compose:
    """Apply ``transforms`` in order; unlike tonic's, empty event arrays go through too.

    Parameters
    ----------
    transforms : sequence of callables
        Stored as a tuple (so the object stays hashable and its ``repr`` exact).
    """

    transforms: Tuple[Callable, ...]

    def __init__(self, transforms: Sequence[Callable]) -> None:
        object.__setattr__(self, "transforms", tuple(transforms))

    def __call__(self, events: Any) -> Any:
        for transform in self.transforms:
            events = transform(events)
        return events


@dataclass(frozen=True)
class ToEventArray:
    """Convert a tonic structured event array to the library's int64 ``x, y, t, p`` dtype,
    sorted by ``t`` (see :func:`lava_mlsnn.data.events.to_event_array`)."""

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return to_event_array(events)


@dataclass(frozen=True)
class Downsample:
    """Spatially downsample events with integer arithmetic (no event is dropped).

    Give either ``spatial_factor`` (an integer divisor: ``x // k``, ``y // k``)
    or ``sensor_size`` and ``target_size`` (``x * W_out // W_in``, exact, unlike
    a float factor whose rounding can push a coordinate across a pixel edge).
    Several input pixels then map to one output pixel, so
    :class:`ToCountFrames` adds their events up. Times and polarities are
    unchanged. DVS Gesture 128x128 -> 64x64: ``Downsample(spatial_factor=2)``;
    -> 48x48: ``Downsample(sensor_size=(128, 128, 2), target_size=(48, 48))``.

    Parameters
    ----------
    spatial_factor : int, optional
        Integer divisor of both coordinates (>= 1).
    sensor_size : (int, int, int), optional
        Input ``(W, H, P)``; needed with ``target_size``.
    target_size : (int, int), optional
        Output ``(W, H)``.
    """

    spatial_factor: Optional[int] = None
    sensor_size: Optional[Tuple[int, int, int]] = None
    target_size: Optional[Tuple[int, int]] = None

    def __post_init__(self) -> None:
        # normalise to plain int tuples so that equal settings have equal reprs (cache keys)
        for field in ("sensor_size", "target_size"):
            value = getattr(self, field)
            if value is not None:
                object.__setattr__(self, field, tuple(int(v) for v in value))
        by_factor = self.spatial_factor is not None
        by_size = self.target_size is not None
        if by_factor == by_size:
            raise ValueError("give exactly one of spatial_factor or target_size")
        if by_factor and (int(self.spatial_factor) != self.spatial_factor or self.spatial_factor < 1):
            raise ValueError(f"spatial_factor must be a positive integer, got {self.spatial_factor}")
        if by_size and self.sensor_size is None:
            raise ValueError("target_size needs sensor_size (the input size)")

    def output_sensor_size(self, sensor_size: Optional[Tuple[int, int, int]] = None) -> Tuple[int, int, int]:
        """``(W, H, P)`` after this transform, for an input of ``sensor_size``."""
        size = sensor_size if sensor_size is not None else self.sensor_size
        if size is None:
            raise ValueError("sensor_size is needed to compute the output size")
        if self.target_size is not None:
            return (int(self.target_size[0]), int(self.target_size[1]), int(size[2]))
        k = int(self.spatial_factor)
        return (-(-int(size[0]) // k), -(-int(size[1]) // k), int(size[2]))

    def __call__(self, events: np.ndarray) -> np.ndarray:
        events = events.copy()
        if self.target_size is not None:
            for field, n_in, n_out in (("x", self.sensor_size[0], self.target_size[0]),
                                       ("y", self.sensor_size[1], self.target_size[1])):
                events[field] = events[field].astype(np.int64) * int(n_out) // int(n_in)
        else:
            k = int(self.spatial_factor)
            events["x"] = events["x"].astype(np.int64) // k
            events["y"] = events["y"].astype(np.int64) // k
        return events


@dataclass(frozen=True)
class ToCountFrames:
    """Events -> integer count frames ``[T, P, H, W]`` (int64 numpy array, torch order).

    ``frames[b, c, y, x]`` is the number of events of polarity ``c`` (0 = OFF,
    1 = ON) at pixel ``(x, y)`` in time bin ``b``. The bins split the sample's
    own inclusive span ``[t_min, t_max]`` (``D = t_max - t_min + 1`` us) into
    ``T`` equal parts: an event goes to ``b = ((t - t_min) * T) // D``, so
    every event lands in exactly one bin and ``frames.sum() == len(events)``
    (before clipping). ``T = 1`` gives one 2-channel frame of the whole sample.
    An empty input gives all-zero frames; a single event goes to bin 0.

    Parameters
    ----------
    sensor_size : (int, int, int)
        ``(W, H, P)`` as in tonic; ``P`` is 2 (ON/OFF) or 1 (polarities merged).
    n_time_bins : int
        ``T`` >= 1.
    clip : int, optional
        Clip every count to ``[0, clip]`` (the network's ``inputLevels``).

    Raises
    ------
    ValueError
        On events outside the sensor (a sign of a wrong ``sensor_size``).
    """

    sensor_size: Tuple[int, int, int]
    n_time_bins: int = 1
    clip: Optional[int] = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "sensor_size", tuple(int(v) for v in self.sensor_size))
        if len(self.sensor_size) != 3 or self.sensor_size[2] not in (1, 2):
            raise ValueError(f"sensor_size must be (W, H, P) with P in (1, 2), got {self.sensor_size}")
        if int(self.n_time_bins) != self.n_time_bins or self.n_time_bins < 1:
            raise ValueError(f"n_time_bins must be a positive integer, got {self.n_time_bins}")
        if self.clip is not None and self.clip < 0:
            raise ValueError(f"clip must be >= 0, got {self.clip}")

    @property
    def frame_shape(self) -> Tuple[int, int, int, int]:
        """``(T, P, H, W)`` of the output."""
        w, h, p = (int(v) for v in self.sensor_size)
        return (int(self.n_time_bins), p, h, w)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        shape = self.frame_shape
        n_bins, n_pol, h, w = shape
        if len(events) == 0:
            return np.zeros(shape, dtype=np.int64)
        x = events["x"].astype(np.int64)
        y = events["y"].astype(np.int64)
        if x.min() < 0 or y.min() < 0 or x.max() >= w or y.max() >= h:
            raise ValueError(
                f"events reach x in [{x.min()}, {x.max()}], y in [{y.min()}, {y.max()}], "
                f"outside the sensor_size {self.sensor_size}")
        pol = (events["p"] > 0).astype(np.int64) if n_pol == 2 else np.zeros_like(x)
        t = events["t"].astype(np.int64)
        t0 = t.min()
        span = t.max() - t0 + 1
        time_bin = (t - t0) * n_bins // span
        flat = ((time_bin * n_pol + pol) * h + y) * w + x
        frames = np.bincount(flat, minlength=int(np.prod(shape))).astype(np.int64, copy=False)
        if self.clip is not None:
            np.minimum(frames, int(self.clip), out=frames)
        return frames.reshape(shape)


def framing(
    sensor_size: Tuple[int, int, int],
    n_time_bins: int = 1,
    clip: Optional[int] = None,
    target_size: Optional[Tuple[int, int]] = None,
) -> Compose:
    """The usual framing pipeline: optional :class:`Downsample` to ``target_size``, then
    :class:`ToCountFrames` with the matching sensor size.

    Parameters
    ----------
    sensor_size : (int, int, int)
        The data set's ``(W, H, P)``.
    n_time_bins : int
        Number of frames ``T``.
    clip : int, optional
        Clip counts to ``[0, clip]``.
    target_size : (int, int), optional
        Downsample to ``(W, H)`` first (e.g. ``(48, 48)`` for DVS Gesture).

    Returns
    -------
    Compose
        Events -> int64 frames ``[T, P, H_out, W_out]``.
    """
    steps: list = []
    size = tuple(int(v) for v in sensor_size)
    if target_size is not None and tuple(target_size) != size[:2]:
        down = Downsample(sensor_size=size, target_size=tuple(int(v) for v in target_size))
        steps.append(down)
        size = down.output_sensor_size()
    steps.append(ToCountFrames(size, n_time_bins, clip))
    return Compose(steps)


def to_slayer(frames: Any) -> torch.Tensor:
    """Move time last: ``[..., T, C, H, W]`` -> ``[..., C, H, W, T]`` (SLAYER's layout, DESIGN §4).

    Works for one sample ``[T, C, H, W]`` and for a batch ``[B, T, C, H, W]``;
    numpy input is converted to a tensor (same dtype).
    """
    x = torch.as_tensor(frames)
    if x.dim() < 4:
        raise ValueError(f"expected [..., T, C, H, W], got shape {tuple(x.shape)}")
    return x.movedim(-4, -1)
