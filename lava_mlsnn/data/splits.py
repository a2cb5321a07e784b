"""Count frames for a training run: data set splits, framing, the framed-tensor cache, loaders.

Each split is framed into ``T`` integer count frames by
:func:`lava_mlsnn.data.framing` (optional downsampling, counts clipped to
``inputLevels``) through :class:`lava_mlsnn.data.FramedDataset`, whose disk
cache is keyed by the data set identity and every framing setting: the events
are read and framed once, and later epochs (and later runs with the same
settings) read the frames. ``val`` is carved out of ``train``
(``data.val_fraction``, stratified); ``test`` is the official test split. No
augmentation is applied (in particular no horizontal flip: DVS Gesture's classes
depend on direction).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .._limits import check_budget
from ..data import EMBEDDED_NAMES as EMBEDDED, FramedDataset, framing, load_dataset


class DataError(RuntimeError):
    """A sample that cannot be read or framed (corrupt file, events off the sensor)."""


def subset_indices(n: int, limit: Optional[int], seed: int = 0) -> np.ndarray:
    """A fixed subset of ``limit`` positions out of ``n`` (all when ``limit`` is None).

    Drawn with ``numpy.random.default_rng(seed)`` and sorted, so it spreads over the
    classes of a class-ordered split and does not depend on anything else.
    """
    if limit is None or limit >= n:
        return np.arange(n, dtype=np.int64)
    return np.sort(np.random.default_rng(seed).permutation(n)[:limit]).astype(np.int64)


class FrameSet(torch.utils.data.Dataset):
    """Samples ``(frames float32 [T, C, H, W], label)`` of a framed split, optionally a subset.

    ``framed`` is a :class:`FramedDataset` (cached) or an event data set whose
    transform frames every access (``data.cache: false``). Counts are exact in
    float32 (below 2**24).
    """

    def __init__(self, framed: Any, indices: np.ndarray, name: str) -> None:
        self.framed = framed
        self.indices = np.asarray(indices, dtype=np.int64)
        self.name = name
        targets = np.asarray(framed.targets if framed.targets is not None else [])
        self.targets = targets[self.indices] if targets.size else None

    def __len__(self) -> int:
        return int(self.indices.size)

    def compact(self, i: int) -> Tuple[np.ndarray, int]:
        """Frames of sample ``i`` ``[T, C, H, W]`` as stored (the narrowest integer dtype
        that holds them, for a cached split: mostly uint8) and its label."""
        j = int(self.indices[i])
        try:
            if isinstance(self.framed, FramedDataset):
                return self.framed.get_compact(j)
            frames, label = self.framed[j]
            return np.asarray(frames), int(label)
        except (OSError, ValueError, EOFError, KeyError, IndexError) as err:
            files = getattr(getattr(self.framed, "dataset", self.framed), "files", None)
            where = f" ({files[j]})" if files is not None else ""
            raise DataError(f"{self.name} sample {j}{where} cannot be read or framed: "
                            f"{type(err).__name__}: {err}") from None

    def __getitem__(self, i: int) -> Tuple[torch.Tensor, int]:
        frames, label = self.compact(i)
        return torch.from_numpy(frames.astype(np.float32)), int(label)

    def materialize(self) -> "FrameSet":
        """Frame every sample now (fills the caches; raises :class:`DataError` early)."""
        for i in range(len(self)):
            self.compact(i)
        return self


@dataclass
class RunData:
    """The three splits of a run and their framing.

    Attributes
    ----------
    train, val, test : FrameSet
        ``val`` is ``None`` when ``data.val_fraction`` is 0.
    input_shape : (C, H, W)
        Frame shape after downsampling.
    classes : list of str
    framing : dict
        What :func:`lava_mlsnn.data.framing` got, for the exported file's metadata.
    """

    train: FrameSet
    val: Optional[FrameSet]
    test: FrameSet
    input_shape: Tuple[int, int, int]
    classes: List[str]
    framing: Dict[str, Any]

    def splits(self) -> Iterator[FrameSet]:
        return (s for s in (self.train, self.val, self.test) if s is not None)


def framing_settings(sensor_size: Sequence[int], timesteps: int, input_levels: int,
                     size: Optional[Sequence[int]]) -> Dict[str, Any]:
    """Keyword arguments of :func:`lava_mlsnn.data.framing` (JSON-friendly)."""
    target = [int(v) for v in size] if size is not None else None
    return {"sensor_size": [int(v) for v in sensor_size], "n_time_bins": int(timesteps),
            "clip": int(input_levels), "target_size": target}


def open_split(dataset: str, root: Optional[str], split: str, settings: Dict[str, Any],
               cache_dir: Optional[str], val_fraction: float = 0.0, split_seed: int = 0,
               use_cache: bool = True, dataset_kwargs: Optional[Dict[str, Any]] = None) -> Any:
    """One split framed as ``settings`` says, cached (``FramedDataset``) or framed per access.

    Raises
    ------
    lava_mlsnn.data.DatasetNotFoundError
        The files are not where tonic's layout puts them under ``root``.
    """
    kwargs: Dict[str, Any] = dict(dataset_kwargs or {})
    if dataset in EMBEDDED and cache_dir is not None:
        kwargs["cache_dir"] = cache_dir  # the rendered events (a few seconds to make)
    events = load_dataset(dataset, root, split, val_fraction=val_fraction,
                          split_seed=split_seed, **kwargs)
    transform = framing(tuple(settings["sensor_size"]), settings["n_time_bins"],
                        settings["clip"], settings["target_size"])
    if use_cache:
        return FramedDataset(events, transform, cache_dir=cache_dir)
    events.transform = transform
    return events


def frame_shape(settings: Dict[str, Any]) -> Tuple[int, int, int]:
    """``(C, H, W)`` of the frames ``settings`` produce."""
    w, h, p = settings["sensor_size"]
    if settings["target_size"] is not None:
        w, h = settings["target_size"]
    return (int(p), int(h), int(w))


def check_frame_budget(config: Dict[str, Dict[str, Any]], shape: Tuple[int, int, int]) -> None:
    """Refuse, before any sample is framed, frames that cannot fit the memory budget: one
    sample's int64 count frames ``[T, C, H, W]`` and one batch of them as float32 (the
    least a training step holds; ``data.size`` or ``data.timesteps`` too large).

    Raises
    ------
    lava_mlsnn._limits.BudgetError
    """
    t = int(config["data"]["timesteps"])
    batch = max(int(config["optim"]["batch_size"]), int(config["optim"]["eval_batch_size"]))
    hint = "lower data.size, data.timesteps or the batch sizes"
    check_budget("frames of one sample [T, C, H, W]", (t,) + tuple(shape), 8, hint=hint)
    check_budget("one batch of frames [batch, T, C, H, W]", (batch, t) + tuple(shape), 4,
                 hint=hint)


def dataset_kwargs(data: Dict[str, Any]) -> Dict[str, Any]:
    """Data-set options of a configuration's ``data`` section (N-MNIST's saccade choice)."""
    return {"first_saccade_only": True} if data.get("first_saccade_only") else {}


def build_data(config: Dict[str, Dict[str, Any]], cache_dir: Optional[str]) -> RunData:
    """Open, frame and (with the cache) pre-frame the splits of a run configuration."""
    d = config["data"]
    extra = dataset_kwargs(d)
    probe = load_dataset(d["dataset"], d["root"], "train", **extra,
                         **({"cache_dir": cache_dir} if d["dataset"] in EMBEDDED and cache_dir
                            else {}))
    settings = framing_settings(probe.sensor_size, d["timesteps"], d["input_levels"], d["size"])
    check_frame_budget(config, frame_shape(settings))
    val_fraction = float(d["val_fraction"])
    common = dict(cache_dir=cache_dir if d["cache"] else None, use_cache=d["cache"],
                  split_seed=d["split_seed"], dataset_kwargs=extra)
    train = open_split(d["dataset"], d["root"], "train", settings, val_fraction=val_fraction,
                       **common)
    val = open_split(d["dataset"], d["root"], "val", settings, val_fraction=val_fraction,
                     **common) if val_fraction > 0 else None
    test = open_split(d["dataset"], d["root"], "test", settings, **common)

    def frameset(framed: Any, name: str) -> FrameSet:
        return FrameSet(framed, subset_indices(len(framed), d["limit"], d["split_seed"]),
                        f"{d['dataset']} {name}")

    return RunData(frameset(train, "train"), frameset(val, "val") if val is not None else None,
                   frameset(test, "test"), frame_shape(settings),
                   [str(c) for c in probe.classes], {"dataset": d["dataset"], **settings,
                                                     "val_fraction": val_fraction,
                                                     "split_seed": d["split_seed"],
                                                     "dataset_kwargs": extra})


def train_loader(ds: FrameSet, batch_size: int, seed: int, rank: int = 0, world: int = 1,
                 workers: int = 0, pin_memory: bool = False
                 ) -> Tuple[torch.utils.data.DataLoader, torch.utils.data.DistributedSampler]:
    """Shuffled loader whose order is a function of ``(seed, epoch)`` only.

    The :class:`~torch.utils.data.DistributedSampler` (also with one process)
    draws each epoch's permutation from ``seed + epoch`` (call ``set_epoch``), so a
    resumed run sees the same batches as an uninterrupted one and ``K`` processes
    see disjoint shards of the same permutation.
    """
    sampler = torch.utils.data.DistributedSampler(ds, num_replicas=world, rank=rank,
                                                  shuffle=True, seed=seed, drop_last=False)
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, sampler=sampler,
                                         num_workers=workers, pin_memory=pin_memory,
                                         persistent_workers=workers > 0)
    return loader, sampler


def eval_loader(ds: FrameSet, batch_size: int, rank: int = 0, world: int = 1,
                workers: int = 0) -> torch.utils.data.DataLoader:
    """This process's shard (every ``world``-th sample from ``rank``), in order, unpadded."""
    part = torch.utils.data.Subset(ds, list(range(rank, len(ds), world)))
    return torch.utils.data.DataLoader(part, batch_size=batch_size, shuffle=False,
                                       num_workers=workers)


def default_cache_dir(run_dir: str, configured: Optional[str]) -> str:
    """``data.cache_dir`` or ``<run dir>/frames``."""
    return os.path.abspath(configured) if configured else os.path.join(run_dir, "frames")
