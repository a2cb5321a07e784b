"""Event data for lava-mlsnn: the embedded digits DVS set, tonic data sets, framing, caching.

Typical use::

    from lava_mlsnn.data import load_dataset, framing, FramedDataset

    train = load_dataset("digits", split="train")    # or "motion_digits"; "dvsgesture", root=...
    frames = framing(train.sensor_size, n_time_bins=1, clip=15)
    data = FramedDataset(train, frames, cache_dir="runs/cache")
    x, label = data[0]    # int64 tensor [T, 2, H, W], int

Events are numpy structured arrays of :data:`EVENT_DTYPE` (int64 ``x, y, t, p``,
t in microseconds, sorted by t), the dtype of tonic's N-MNIST.
"""
from .cache import FramedDataset, cache_key
from .digits_dvs import DIGIT_CLASSES, DigitsDVS
from .dvs_sim import DigitsDVSConfig, RenderedDigits, render_digits_dvs, saccade_path
from .motion_digits import MOTION_CLASSES, MotionDigitsConfig, MotionDigitsDVS, render_motion_digits
from .events import (
    EVENT_DTYPE,
    SPLITS,
    EventDataset,
    make_events,
    stratified_holdout,
    to_event_array,
)
from .tonic_sets import (
    DATASET_NAMES,
    CIFAR10DVSDataset,
    DatasetNotFoundError,
    DVSGestureDataset,
    EMBEDDED_NAMES,
    NMNISTDataset,
    TonicEventDataset,
    load_dataset,
)
from .registry import dataset_names, register_dataset, resolve_dataset
from .transforms import Compose, Downsample, ToCountFrames, ToEventArray, framing, to_slayer

__all__ = [
    "dataset_names",
    "register_dataset",
    "resolve_dataset",
    "CIFAR10DVSDataset",
    "Compose",
    "DATASET_NAMES",
    "DIGIT_CLASSES",
    "DVSGestureDataset",
    "DatasetNotFoundError",
    "DigitsDVS",
    "DigitsDVSConfig",
    "Downsample",
    "EMBEDDED_NAMES",
    "EVENT_DTYPE",
    "MOTION_CLASSES",
    "MotionDigitsConfig",
    "MotionDigitsDVS",
    "EventDataset",
    "FramedDataset",
    "NMNISTDataset",
    "RenderedDigits",
    "SPLITS",
    "ToCountFrames",
    "ToEventArray",
    "TonicEventDataset",
    "cache_key",
    "framing",
    "load_dataset",
    "make_events",
    "render_digits_dvs",
    "render_motion_digits",
    "saccade_path",
    "stratified_holdout",
    "to_event_array",
    "to_slayer",
]
