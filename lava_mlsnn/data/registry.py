"""Event data sets by name: the built-in five, names you register, any tonic data set.

Every name maps to a :class:`DatasetEntry`, whose ``open`` gives one split as an
:class:`~lava_mlsnn.data.events.EventDataset` with ``sensor_size`` and ``classes``.
A name not registered is looked up in ``tonic.datasets`` (case, ``-`` and ``_``
ignored: ``'pokerdvs'`` is ``tonic.datasets.POKERDVS``) and registered on the fly, read
offline from ``<root>/<ClassName>/`` as every tonic set is. Its official split is used
when the tonic class takes ``train=``; otherwise the last 10 % of each class (natural
file order) is ``test``, as for CIFAR10-DVS. Sets whose tonic class states no sensor size
or classes (N-Caltech101) need them given: :func:`register_dataset`.

Example::

    from lava_mlsnn.data import register_dataset, load_dataset
    import tonic
    register_dataset("ncaltech", tonic.datasets.NCALTECH101, sensor_size=(240, 180, 2),
                     extension=".bin")
    train = load_dataset("ncaltech", root="/data", split="train")
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

from . import tonic_sets
from .digits_dvs import DigitsDVS
from .events import EventDataset


def _key(name: str) -> str:
    return str(name).lower().replace("-", "").replace("_", "")


@dataclass(frozen=True)
class DatasetEntry:
    """A named data set: ``factory(root, split, transform, target_transform, **kw)``."""

    name: str
    factory: Callable[..., EventDataset]
    needs_root: bool = True
    description: str = ""

    def open(self, root: Optional[str], split: str = "train", transform=None,
             target_transform=None, **kwargs: Any) -> EventDataset:
        if self.needs_root and root is None:
            raise ValueError(f"load_dataset({self.name!r}) needs root, the folder holding "
                             "tonic's data sets")
        return self.factory(root, split, transform, target_transform, **kwargs)


def _digits(root, split, transform, target_transform, **kwargs) -> EventDataset:
    return DigitsDVS(split, transform, target_transform, **kwargs)


def _motion_digits(root, split, transform, target_transform, **kwargs) -> EventDataset:
    from .motion_digits import MotionDigitsDVS
    return MotionDigitsDVS(split, transform, target_transform, **kwargs)


_REGISTRY: Dict[str, DatasetEntry] = {
    "digits": DatasetEntry("digits", _digits, False, "embedded DVS rendering of sklearn's digits"),
    "motiondigits": DatasetEntry("motion_digits", _motion_digits, False,
                                 "embedded 20-class motion digits"),
    "dvsgesture": DatasetEntry("dvsgesture", tonic_sets.DVSGestureDataset,
                               description="IBM DVS128 Gesture"),
    "nmnist": DatasetEntry("nmnist", tonic_sets.NMNISTDataset, description="N-MNIST"),
    "cifar10dvs": DatasetEntry("cifar10dvs", tonic_sets.CIFAR10DVSDataset,
                               description="CIFAR10-DVS"),
}
_ALIASES = {"digitsdvs": "digits", "motiondigitsdvs": "motiondigits", "dvs128gesture": "dvsgesture", "ibmgesture": "dvsgesture"}


def tonic_dataset_class(tonic_class: type, sensor_size: Optional[Sequence[int]] = None,
                        classes: Optional[Sequence[str]] = None, extension: str = "",
                        test_fraction: float = tonic_sets.CIFAR10DVS_TEST_FRACTION) -> type:
    """A lava-mlsnn data set class (offline, canonical events) for any tonic class."""
    size = tuple(int(v) for v in sensor_size) if sensor_size is not None else \
        getattr(tonic_class, "sensor_size", None)
    names = list(classes) if classes is not None else getattr(tonic_class, "classes", None)
    if not size or not names:
        raise ValueError(f"tonic.datasets.{tonic_class.__name__} states no "
                         f"{'sensor size' if not size else 'classes'}: register it with "
                         "register_dataset(..., sensor_size=(W, H, P), classes=[...])")
    offline = tonic_sets._offline(tonic_class)
    setattr(tonic_sets, offline.__qualname__, offline)  # picklable for DataLoader workers
    official = "train" in inspect.signature(tonic_class.__init__).parameters
    base = tonic_sets._OfficialSplit if official else tonic_sets._PerClassSplit

    def __init__(self, root, split="train", transform=None, target_transform=None, **kw):
        base.__init__(self, root, split, transform, target_transform, **kw)
        self.sensor_size = tuple(int(v) for v in size)
        self.classes = [str(c) for c in names]

    def _folders(self):
        return [tonic_sets.os.path.join(self.root, self.tonic_name)]

    attrs = {"name": tonic_class.__name__, "tonic_name": tonic_class.__name__,
             "title": tonic_class.__name__, "extension": extension, "offline_cls": offline,
             "test_fraction": float(test_fraction), "__init__": __init__,
             "_folders": _folders,
             "layout": f"<root>/{tonic_class.__name__}/... (tonic's own layout)",
             "source": getattr(tonic_class, "url", None) or "tonic's documentation"}
    return type(f"{tonic_class.__name__}Dataset", (base,), attrs)


def register_dataset(name: str, tonic_class: Optional[type] = None, *,
                     factory: Optional[Callable[..., EventDataset]] = None,
                     sensor_size: Optional[Sequence[int]] = None,
                     classes: Optional[Sequence[str]] = None, extension: str = "",
                     test_fraction: float = tonic_sets.CIFAR10DVS_TEST_FRACTION) -> DatasetEntry:
    """Make ``name`` usable everywhere a data set is named (``load_dataset``, ``data.dataset``
    in a training configuration, ``evaluate`` and ``inspect --energy --dataset``).

    Parameters
    ----------
    name : str
    tonic_class : type, optional
        A ``tonic.datasets`` class (read offline from ``<root>/<ClassName>/``).
    factory : callable, optional
        Instead of ``tonic_class``: ``factory(root, split, transform, target_transform,
        val_fraction=, split_seed=, **kw) -> EventDataset``.
    sensor_size : (W, H, P), optional
        Overrides (or supplies) the tonic class's ``sensor_size``.
    classes : list of str, optional
        Overrides (or supplies) its class names.
    extension : str
        File extension that shows the set is present (``''``: any file).
    test_fraction : float
        For classes without an official split: the share of each class that is ``test``.
    """
    if (tonic_class is None) == (factory is None):
        raise ValueError("register_dataset needs exactly one of tonic_class and factory")
    if factory is None:
        factory = tonic_dataset_class(tonic_class, sensor_size, classes, extension,
                                      test_fraction)
    entry = DatasetEntry(_key(name), factory, True,
                         tonic_class.__name__ if tonic_class is not None else "")
    _REGISTRY[_key(name)] = entry
    return entry


def resolve_dataset(name: str) -> DatasetEntry:
    """The entry of ``name``: registered, an alias, or a ``tonic.datasets`` class."""
    key = _ALIASES.get(_key(name), _key(name))
    if key in _REGISTRY:
        return _REGISTRY[key]
    import tonic.datasets as tds
    matches = [n for n in dir(tds) if _key(n) == key and isinstance(getattr(tds, n), type)]
    if matches:
        return register_dataset(key, getattr(tds, matches[0]))
    raise ValueError(f"unknown data set {name!r}; known: {', '.join(dataset_names())}, or "
                     "any tonic.datasets class by name")


def dataset_names() -> Tuple[str, ...]:
    """Names registered so far (built-ins first)."""
    return tuple(e.name for e in _REGISTRY.values())


def is_dataset(name: str) -> bool:
    """Whether ``name`` resolves (a registered name or a tonic class)."""
    try:
        resolve_dataset(name)
    except ValueError:
        return False
    return True
