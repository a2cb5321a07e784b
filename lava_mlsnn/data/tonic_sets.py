"""Real event data sets through ``tonic.datasets``, offline, plus :func:`load_dataset`.

The files must already be on disk in tonic's layout under ``root``; nothing is
ever downloaded (the tonic classes are subclassed so that ``download`` raises).
A missing data set raises :class:`DatasetNotFoundError` naming the folder to fill.

============= ==================================================================== ==============
name          files, in tonic's layout under ``root``                              sensor (W,H,P)
============= ==================================================================== ==============
dvsgesture    ``DVSGesture/ibmGestureTrain/user<NN>_<light>/<label>.npy``          (128, 128, 2)
              and ``DVSGesture/ibmGestureTest/...`` (tonic's preprocessed
              release: int columns x, y, p, t with t in ms)
nmnist        ``NMNIST/Train/<digit>/<id>.bin`` and ``NMNIST/Test/...``            (34, 34, 2)
              (the original 40-bit-per-event binary files)
cifar10dvs    ``CIFAR10DVS/<class>/<file>.aedat4`` (tonic's AEDAT4 release;        (128, 128, 2)
              reading it needs the ``aedat`` package)
digits        embedded (:class:`~lava_mlsnn.data.DigitsDVS`), ``root`` unused      (32, 32, 2)
motion_digits embedded (:class:`~lava_mlsnn.data.MotionDigitsDVS`, 20              (32, 32, 2)
              classes: digit x order of motion), ``root`` unused
============= ==================================================================== ==============

Splits: DVS Gesture and N-MNIST use their official train/test sets.
CIFAR10-DVS has none; here, per class, the files in natural file-name order
(``..._2`` before ``..._10``) are split 90/10: the first 900 of each class's
1000 are ``train``, the last 100 ``test`` (in general the last
``round(0.1 * n_class)``), as SpikingJelly's non-random split does. A ``val``
split is carved out of ``train`` with ``val_fraction`` (stratified, fixed
``split_seed``). Samples are ordered by natural path order, so indices do not
depend on ``os.walk`` order.

Events come out as int64 ``x, y, t, p`` arrays (t in microseconds), sorted by t
(:func:`~lava_mlsnn.data.events.to_event_array`). No horizontal flip is ever
applied: DVS Gesture's classes depend on direction (left vs right hand wave,
clockwise vs counter-clockwise arm rolls), so a flip changes the label.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np
import tonic.datasets as tds

from .events import EventDataset, carve_split, check_split, natural_key, to_event_array

CIFAR10DVS_TEST_FRACTION = 0.1


class DatasetNotFoundError(FileNotFoundError):
    """An event data set is not on disk where tonic's layout puts it (nothing is downloaded).

    Attributes
    ----------
    expected_path : str
        The folder that should hold the files.
    """

    def __init__(self, message: str, expected_path: str) -> None:
        super().__init__(message)
        self.expected_path = expected_path

    def __str__(self) -> str:
        return str(self.args[0])


class DatasetFileError(DatasetNotFoundError):
    """A file of the data set folder that is not a readable regular file (named)."""


def _offline(cls: type) -> type:
    """A subclass of tonic data set ``cls`` that never downloads.

    Existence is checked before construction (by :class:`TonicEventDataset`),
    so tonic's own check, which also wants the downloaded archive to be
    present, is replaced by "yes"; ``download`` raising is the last line of
    defence against a network access.
    """

    def _check_exists(self) -> bool:
        return True

    def download(self) -> None:
        raise DatasetNotFoundError(
            f"{cls.__name__} files are missing under {self.location_on_system}; "
            "lava-mlsnn never downloads data sets", self.location_on_system)

    # same __name__, since tonic puts the files under <save_to>/<class name>; the
    # __qualname__ is the module attribute below, so that instances pickle (DataLoader spawn)
    return type(cls.__name__, (cls,), {"_check_exists": _check_exists, "download": download,
                                       "__module__": __name__,
                                       "__qualname__": f"_Offline{cls.__name__}"})


_OfflineDVSGesture = _offline(tds.DVSGesture)
_OfflineNMNIST = _offline(tds.NMNIST)
_OfflineCIFAR10DVS = _offline(tds.CIFAR10DVS)


def _have_aedat() -> bool:
    return importlib.util.find_spec("aedat") is not None


def _has_files(folder: str, ext: str) -> bool:
    for _, _, files in os.walk(folder):
        if any(f.endswith(ext) for f in files):
            return True
    return False


class TonicEventDataset(EventDataset):
    """One split of a tonic data set, read offline, with canonical events.

    Use :func:`load_dataset`; the subclasses below fix the data set.

    Attributes
    ----------
    sensor_size : (int, int, int)
        ``(W, H, 2)`` from the tonic class.
    classes : list of str
        Class names, index = label.
    targets : numpy.ndarray
        Labels of this split, int64 ``[len(self)]``.
    files : list of str
        Path of each sample of this split.
    """

    tonic_name = ""
    title = ""
    extension = ""
    layout = ""
    source = ""

    def __init__(self, root: str, split: str = "train", transform: Optional[Callable] = None,
                 target_transform: Optional[Callable] = None, val_fraction: float = 0.0,
                 split_seed: int = 0, **tonic_kwargs: Any) -> None:
        super().__init__(transform, target_transform)
        self.root = os.path.abspath(os.path.expanduser(str(root)))
        self.split = check_split(split)
        self.val_fraction = float(val_fraction)
        self.split_seed = int(split_seed)
        self.tonic_kwargs = dict(sorted(tonic_kwargs.items()))
        self._check_present()
        self._tonic, positions = self._open()
        self._tonic.transform = None  # ours run after the dtype conversion
        self.sensor_size = tuple(int(v) for v in self._tonic.sensor_size)
        classes = self._tonic.classes
        if isinstance(classes, dict):
            classes = [name for name, _ in sorted(classes.items(), key=lambda kv: kv[1])]
        self.classes = list(classes)
        self.positions = np.asarray(positions, dtype=np.int64)
        all_targets = np.asarray(self._tonic.targets, dtype=np.int64)
        self.targets = all_targets[self.positions]
        data = self._tonic.data
        # Path of each sample; sets that tonic loads into memory (POKERDVS) get a name.
        self.files = [data[i] if isinstance(data[i], str) else f"{self.tonic_name}[{i}]"
                      for i in self.positions]
        self._check_files()

    def _check_files(self) -> None:
        """Every sample file a regular file, before any is opened: a FIFO would block the
        reader forever, a device be endless; a link loop or a dangling link is named."""
        from .._io import UnsafePathError, check_input_file
        for entry in self.files:
            if not os.path.isabs(entry):
                continue  # an in-memory sample's name
            try:
                check_input_file(entry)
            except (FileNotFoundError, UnsafePathError) as err:
                raise DatasetFileError(f"{self.title} ({self.split} split): {err}",
                                       entry) from None

    # -- per data set -------------------------------------------------------------
    def _folders(self) -> List[str]:
        """Folders (absolute) that must hold files of ``extension`` for this split."""
        raise NotImplementedError

    def _open(self) -> Tuple[Any, np.ndarray]:
        """The tonic object and the positions (into its ``data``) of this split."""
        raise NotImplementedError

    # -- shared -------------------------------------------------------------------
    def _check_present(self) -> None:
        for folder in self._folders():
            if not _has_files(folder, self.extension):
                layout = self.layout.replace("<root>", self.root)
                raise DatasetNotFoundError(
                    f"{self.title} ({self.split} split) not found: no {self.extension} files "
                    f"under {folder}. Expected tonic's layout: {layout}; the files are at "
                    f"{self.source}. lava-mlsnn never downloads data sets.", folder)

    def _sorted_positions(self, dataset: Any) -> np.ndarray:
        """Positions of ``dataset.data`` in natural path order (os.walk order is arbitrary)."""
        if not all(isinstance(p, str) for p in dataset.data):  # in memory, in tonic's order
            return np.arange(len(dataset.data), dtype=np.int64)
        rel = [os.path.relpath(p, dataset.location_on_system) for p in dataset.data]
        return np.array(sorted(range(len(rel)), key=lambda i: natural_key(rel[i])), dtype=np.int64)

    def _events(self, index: int) -> np.ndarray:
        events, _ = self._tonic[int(self.positions[index])]
        return to_event_array(events)

    def _identity_parts(self) -> Sequence[str]:
        digest = hashlib.sha256()
        for pos, path in zip(self.positions, self.files):
            entry = self._tonic.data[int(pos)]
            if not isinstance(entry, str):  # loaded into memory by tonic: its content
                digest.update(np.ascontiguousarray(entry).tobytes())
                continue
            st = os.stat(path)
            digest.update(f"{os.path.relpath(path, self.root)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
        return [f"root={self.root}", f"split={self.split}", f"val_fraction={self.val_fraction}",
                f"split_seed={self.split_seed}", f"kwargs={self.tonic_kwargs!r}",
                f"files={digest.hexdigest()}"]


class _OfficialSplit(TonicEventDataset):
    """Data sets whose tonic class takes ``train=True/False``."""

    offline_cls: type = object
    train_folder = ""
    test_folder = ""

    def _folders(self) -> List[str]:
        sub = self.test_folder if self.split == "test" else self.train_folder
        return [os.path.join(self.root, self.tonic_name, sub)]

    def _open(self) -> Tuple[Any, np.ndarray]:
        ds = self.offline_cls(self.root, train=self.split != "test", **self.tonic_kwargs)
        order = self._sorted_positions(ds)
        if self.split == "test":
            return ds, order
        return ds, self._carve(ds, order)

    def _carve(self, ds: Any, order: np.ndarray) -> np.ndarray:
        """``train`` or ``val`` positions out of the official training set ``order``."""
        labels = np.asarray(ds.targets, dtype=np.int64)
        chosen = carve_split(np.arange(order.size), labels[order], self.split,
                             self.val_fraction, self.split_seed)
        return order[chosen]


class DVSGestureDataset(_OfficialSplit):
    """IBM DVS128 Gesture (11 classes, 128x128) via ``tonic.datasets.DVSGesture``.

    Timestamps have millisecond resolution in tonic's release (converted to us).
    Never flip these events horizontally: left/right and cw/ccw are different classes.
    The validation split holds out whole **users** (``round(val_fraction * users)``, at
    least one, drawn with ``split_seed``), as the official test split does: a person's
    gestures are never in both ``train`` and ``val``.
    """

    name = tonic_name = "DVSGesture"
    title = "DVS128 Gesture"
    extension = ".npy"
    offline_cls = _OfflineDVSGesture
    train_folder, test_folder = "ibmGestureTrain", "ibmGestureTest"
    layout = ("<root>/DVSGesture/ibmGestureTrain/user<NN>_<lighting>/<label>.npy and "
              "<root>/DVSGesture/ibmGestureTest/... (unpack ibmGestureTrain.tar.gz and "
              "ibmGestureTest.tar.gz into <root>/DVSGesture/)")
    source = f"{tds.DVSGesture.train_url} and {tds.DVSGesture.test_url}"

    def _carve(self, ds: Any, order: np.ndarray) -> np.ndarray:
        if self.split == "train" and self.val_fraction <= 0:
            return order
        if self.val_fraction <= 0:
            raise ValueError("split 'val' needs val_fraction > 0")
        user = np.array([gesture_user(ds.data[i]) for i in order])
        users = sorted(set(user), key=natural_key)
        if len(users) < 2:
            raise ValueError(f"a validation split by user needs two users or more; "
                             f"{self.root} has {len(users)}")
        n_val = min(len(users) - 1, max(1, int(round(self.val_fraction * len(users)))))
        held = set(np.random.default_rng(self.split_seed).permutation(users)[:n_val])
        in_val = np.array([u in held for u in user], dtype=bool)
        return order[in_val if self.split == "val" else ~in_val]


def gesture_user(path: str) -> str:
    """The user of a DVS Gesture sample: ``userNN`` of its ``userNN_<lighting>`` folder."""
    return os.path.basename(os.path.dirname(path)).split("_")[0]


class NMNISTDataset(_OfficialSplit):
    """N-MNIST (10 classes, 34x34) via ``tonic.datasets.NMNIST``.

    Extra keyword arguments ``first_saccade_only`` and ``stabilize`` go to tonic.
    """

    name = tonic_name = "NMNIST"
    title = "N-MNIST"
    extension = ".bin"
    offline_cls = _OfflineNMNIST
    train_folder, test_folder = "Train", "Test"
    layout = ("<root>/NMNIST/Train/<digit>/<id>.bin and <root>/NMNIST/Test/<digit>/<id>.bin "
              "(unzip train.zip and test.zip into <root>/NMNIST/)")
    source = f"{tds.NMNIST.train_url} and {tds.NMNIST.test_url}"


class _PerClassSplit(TonicEventDataset):
    """Data sets without an official split: per class, the last ``test_fraction`` of the
    samples in natural file order are ``test`` (module docstring)."""

    offline_cls: type = object
    test_fraction = CIFAR10DVS_TEST_FRACTION

    def _folders(self) -> List[str]:
        return [os.path.join(self.root, self.tonic_name)]

    def _open(self) -> Tuple[Any, np.ndarray]:
        ds = self.offline_cls(self.root, **self.tonic_kwargs)
        order = self._sorted_positions(ds)
        labels = np.asarray(ds.targets, dtype=np.int64)
        train, test = [], []
        for c in np.unique(labels):
            members = order[labels[order] == c]  # natural file-name order within the class
            n_test = int(round(self.test_fraction * members.size))
            cut = members.size - n_test
            train.append(members[:cut])
            test.append(members[cut:])
        if self.split == "test":
            return ds, np.concatenate(test)
        train_pos = np.concatenate(train)
        chosen = carve_split(np.arange(train_pos.size), labels[train_pos], self.split,
                             self.val_fraction, self.split_seed)
        return ds, train_pos[chosen]


class CIFAR10DVSDataset(_PerClassSplit):
    """CIFAR10-DVS (10 classes, 128x128) via ``tonic.datasets.CIFAR10DVS``; fixed 90/10 split
    per class in natural file-name order (module docstring). Needs the ``aedat`` package."""

    name = tonic_name = "CIFAR10DVS"
    title = "CIFAR10-DVS"
    extension = ".aedat4"
    offline_cls = _OfflineCIFAR10DVS
    layout = ("<root>/CIFAR10DVS/<class>/<file>.aedat4 with <class> in airplane, automobile, "
              "bird, cat, deer, dog, frog, horse, ship, truck (unzip CIFAR10DVS.zip, then each "
              "<class>.zip, into <root>/CIFAR10DVS/)")
    source = tds.CIFAR10DVS.url

    def _open(self) -> Tuple[Any, np.ndarray]:
        if not _have_aedat():
            raise ImportError("CIFAR10-DVS is stored as .aedat4, which tonic reads with the "
                              "'aedat' package: install it with `pip install aedat`")
        return super()._open()


DATASET_NAMES = ("digits", "motion_digits", "dvsgesture", "nmnist", "cifar10dvs")
EMBEDDED_NAMES = ("digits", "motion_digits")  # rendered here: no files, no root


def load_dataset(name: str, root: Optional[str] = None, split: str = "train",
                 transform: Optional[Callable] = None, target_transform: Optional[Callable] = None,
                 val_fraction: float = 0.0, split_seed: int = 0, **kwargs: Any) -> EventDataset:
    """Open one split of an event data set by name, offline.

    Parameters
    ----------
    name : str
        ``'digits'``, ``'motion_digits'``, ``'dvsgesture'``, ``'nmnist'``, ``'cifar10dvs'``, a name added with
        :func:`lava_mlsnn.data.register_dataset`, or any ``tonic.datasets`` class by name
        (``'POKERDVS'``; :mod:`lava_mlsnn.data.registry`). Case, ``-`` and ``_`` are
        ignored (``'DVS-Gesture'``, ``'N-MNIST'`` work).
    root : str, optional
        Folder that holds tonic's data set folders (``<root>/DVSGesture``, ...);
        unused by the embedded ``'digits'`` and ``'motion_digits'``.
    split : {'train', 'val', 'test'}
        ``val`` needs ``val_fraction > 0`` and is carved out of ``train``.
    transform, target_transform : callable, optional
        Applied to the int64 event array / the int label.
    val_fraction : float
        Share of each class of ``train`` that forms ``val``.
    split_seed : int
        Seed of that hold-out.
    **kwargs
        Passed on: ``seed``, ``config``, ``cache_dir`` for digits; ``first_saccade_only``,
        ``stabilize`` for N-MNIST.

    Returns
    -------
    EventDataset
        ``ds[i] -> (transform(events), label)``, with ``sensor_size``, ``classes``, ``targets``.

    Raises
    ------
    DatasetNotFoundError
        When the files are not in tonic's layout under ``root``.
    """
    from .registry import resolve_dataset
    return resolve_dataset(name).open(root, split, transform, target_transform,
                                      val_fraction=val_fraction, split_seed=split_seed, **kwargs)
