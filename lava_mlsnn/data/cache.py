"""Frame every sample once and keep the integer frames, keyed by every setting.

tonic's ``DiskCachedDataset`` keys its files by sample index only, so changing
a framing setting silently serves the old frames (tonic issue #160). Here the
cache folder is ``cache_dir/<key>/`` where ``key`` hashes the data set identity
(:meth:`~lava_mlsnn.data.events.EventDataset.cache_identity`: data set, split,
file list, sizes, mtimes, the data set's own transforms) and ``repr`` of the
framing transform. Frozen-dataclass transforms list every field in their
``repr``, so any changed setting gives a new key. A transform whose ``repr``
shows a memory address (a lambda, a plain object) still works but gets a new
key in every process, so its disk cache is never reused (a warning says so).

Only deterministic transforms belong here: a random augmentation would be
frozen at its first draw. Apply those to the cached frames instead.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
import zipfile
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np
import torch

from .._io import atomic_write, check_npy_file
from .._limits import BudgetError

CACHE_FORMAT_VERSION = 1


def cache_key(dataset_id: str, transform: Callable) -> str:
    """Hex key (20 characters) of a data set identity and a transform's ``repr``."""
    text = f"lava-mlsnn framed cache v{CACHE_FORMAT_VERSION}\n{dataset_id}\n{transform!r}"
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _compact(frames: np.ndarray) -> np.ndarray:
    """The same integers in the narrowest dtype that holds them (count frames are mostly uint8)."""
    if frames.size == 0:
        return frames.astype(np.uint8)
    lo, hi = int(frames.min()), int(frames.max())
    for dtype in (np.uint8, np.uint16, np.uint32) if lo >= 0 else (np.int8, np.int16, np.int32):
        info = np.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            return frames.astype(dtype)
    return frames.astype(np.int64)


def _check_cache_dir(cache_dir: str) -> None:
    """A cache folder that is a file, or on a pseudo file system, is refused by name."""
    real = os.path.realpath(cache_dir)
    if any(real == p or real.startswith(p + os.sep) for p in ("/proc", "/sys", "/dev")):
        raise CacheDirError(f"cache folder {cache_dir}: on a pseudo file system "
                            "(/proc, /sys, /dev); give a real folder")
    if os.path.exists(cache_dir) and not os.path.isdir(cache_dir):
        raise CacheDirError(f"cache folder {cache_dir}: exists and is not a directory")


class CacheDirError(ValueError):
    """A cache folder that cannot be one (one line naming it)."""


class FramedDataset:
    """A data set of integer frames computed once per sample, cached in memory and on disk.

    Parameters
    ----------
    dataset : EventDataset or any ``(events, label)`` sequence
        Source of events. Needs ``cache_identity()`` unless ``dataset_id`` is given
        (required with ``cache_dir`` then).
    transform : callable
        Events -> integer frames ``[T, P, H, W]``, e.g. :class:`~lava_mlsnn.data.ToCountFrames`
        or :func:`~lava_mlsnn.data.framing`. Must be deterministic.
    cache_dir : str, optional
        Root of the disk cache; frames go to ``cache_dir/<key>/<index>.npz``.
    dataset_id : str, optional
        Identity of ``dataset`` if it has no ``cache_identity()``.
    in_memory : bool
        Keep the frames in memory as well (in their narrowest integer dtype).

    Notes
    -----
    ``ds[i]`` returns ``(frames, label)``: an int64 ``torch.Tensor`` ``[T, P, H, W]``
    and an ``int``. With a ``DataLoader`` of several workers each worker has its
    own memory cache; the disk cache is shared and safe (atomic writes).
    """

    def __init__(self, dataset: Any, transform: Callable, cache_dir: Optional[str] = None,
                 dataset_id: Optional[str] = None, in_memory: bool = True) -> None:
        self.dataset = dataset
        self.transform = transform
        if dataset_id is None and hasattr(dataset, "cache_identity"):
            dataset_id = dataset.cache_identity()
        if dataset_id is None:
            if cache_dir is not None:
                raise ValueError("a disk cache needs the data set's identity: give dataset_id= "
                                 "or use a data set with cache_identity()")
            dataset_id = f"unnamed-{id(dataset)}"
        self.dataset_id = dataset_id
        self.key = cache_key(dataset_id, transform)
        self.in_memory = in_memory
        if cache_dir is not None:
            _check_cache_dir(cache_dir)
        self.cache_path = os.path.join(cache_dir, self.key) if cache_dir is not None else None
        self._memory: Dict[int, Tuple[np.ndarray, int]] = {}
        self._expected: Optional[Tuple[int, ...]] = None  # rank and [P, H, W] of a frame
        if self.cache_path is not None:
            if " at 0x" in repr(transform):
                warnings.warn(f"the repr of {transform!r} holds a memory address, so its disk "
                              "cache will not be found again by another process", stacklevel=2)
            self._write_meta()

    def _write_meta(self) -> None:
        try:
            os.makedirs(self.cache_path, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise CacheDirError(f"cache folder {self.cache_path}: a path component is not a "
                                "directory") from None
        meta = os.path.join(self.cache_path, "meta.json")
        if not os.path.exists(meta):
            text = json.dumps({"format": CACHE_FORMAT_VERSION, "dataset": self.dataset_id,
                               "transform": repr(self.transform)}, indent=1)
            atomic_write(meta, lambda f: f.write(text.encode()), fsync=False)

    @property
    def targets(self) -> Any:
        """The wrapped data set's labels (if it has ``targets``)."""
        return getattr(self.dataset, "targets", None)

    @property
    def classes(self) -> Any:
        """The wrapped data set's class names (if it has ``classes``)."""
        return getattr(self.dataset, "classes", None)

    def __len__(self) -> int:
        return len(self.dataset)

    def _file(self, index: int) -> str:
        return os.path.join(self.cache_path, f"{index}.npz")

    def _load_disk(self, index: int) -> Optional[Tuple[np.ndarray, int]]:
        path = self._file(index)
        if not os.path.exists(path):
            return None
        try:
            check_npy_file(path)  # a header declaring more than the file holds: no 9 TiB ask
            with np.load(path, allow_pickle=False) as z:
                frames, label = z["frames"], z["label"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, BudgetError):
            return None  # unreadable (e.g. a damaged disk): frame it again and overwrite
        expected = self._expected or self._read_shape()
        if (not isinstance(frames, np.ndarray) or frames.dtype.kind not in "iub"
                or frames.ndim < 1 or label.shape != () or label.dtype.kind not in "iu"
                or (expected is not None and self._shape_of(frames) != expected)):
            return None  # wrong shape or dtype (another version, a foreign file): rebuilt
        return frames, int(label)

    @staticmethod
    def _shape_of(frames: np.ndarray) -> Tuple[int, ...]:
        """What every sample's frames share: the rank and ``[P, H, W]`` (T may vary)."""
        return (frames.ndim,) + tuple(int(d) for d in frames.shape[1:])

    def _shape_file(self) -> str:
        return os.path.join(self.cache_path, "shape.json")

    def _read_shape(self) -> Optional[Tuple[int, ...]]:
        """The frame signature recorded by the process that filled the cache, if any."""
        try:
            with open(self._shape_file()) as f:
                self._expected = tuple(int(v) for v in json.load(f)["signature"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return self._expected

    def _frame(self, index: int) -> Tuple[np.ndarray, int]:
        """Frame sample ``index`` (no cache)."""
        events, label = self.dataset[index]
        frames = self.transform(events)
        if isinstance(frames, torch.Tensor):
            frames = frames.detach().cpu().numpy()
        frames = np.asarray(frames)
        if not (np.issubdtype(frames.dtype, np.integer) or frames.dtype == np.bool_):
            raise TypeError(f"the framing transform must return integer frames, got {frames.dtype}")
        return _compact(frames), int(label)

    def _compute(self, index: int) -> Tuple[np.ndarray, int]:
        compact, label = self._frame(index)
        if self._expected is None:
            self._expected = self._shape_of(compact)
            if self.cache_path is not None and self._read_shape() is None:
                text = json.dumps({"signature": list(self._expected)})
                atomic_write(self._shape_file(), lambda f: f.write(text.encode()), fsync=False)
        if self.cache_path is not None:
            atomic_write(self._file(index), lambda f: np.savez_compressed(
                f, frames=compact, label=np.int64(label)), fsync=False)
        return compact, label

    def get_compact(self, index: int) -> Tuple[np.ndarray, int]:
        """Frames of sample ``index`` in their narrowest integer dtype, and its label."""
        n = len(self)
        index = int(index) + (n if int(index) < 0 else 0)
        if not 0 <= index < n:
            raise IndexError(f"index {index} out of range for {n} samples")
        hit = self._memory.get(index)
        if hit is None and self.cache_path is not None:
            hit = self._load_disk(index)
        if hit is None:
            hit = self._compute(index)
        if self.in_memory:
            self._memory[index] = hit
        return hit

    def __getitem__(self, index: int) -> Tuple[torch.Tensor, int]:
        frames, label = self.get_compact(index)
        return torch.from_numpy(frames.astype(np.int64)), label

    def materialize(self) -> "FramedDataset":
        """Frame every sample now (e.g. before training); returns ``self``."""
        for i in range(len(self)):
            self.get_compact(i)
        return self

    def __repr__(self) -> str:
        return (f"FramedDataset(n={len(self)}, key={self.key}, transform={self.transform!r}, "
                f"cache_path={self.cache_path!r})")
