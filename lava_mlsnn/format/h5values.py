"""Checked access to HDF5 objects and values: the reader's defence against hostile files.

Every value of a network file is read through here, so that a file can make the
reader neither allocate without bound, nor follow a link out of the file, nor
accept a value it would misread:

* an object is used only when it is a plain dataset or group reached by a hard
  link (soft and external links, committed datatypes, virtual datasets and
  external raw storage are refused);
* a dataset's element count and byte size are computed from its declared shape
  *before* it is read and checked against :func:`max_dataset_bytes`; a dataset
  declared but never written is refused (reading it would only yield fill values);
* numbers must be real (integer, boolean or floating point; not complex, text,
  compound or references), finite, integral where an integer is meant, and within
  the documented range -- checked on the stored values, before any cast, so that
  1e30 can never wrap into an int64;
* text must be UTF-8 and short.

Failures are appended to a ``problems`` list as one line naming the object's path
inside the file; the helpers then return ``None``.
"""
from __future__ import annotations

import os
from typing import Any, Iterable, List, Optional, Sequence, Tuple

import h5py
import numpy as np

MAX_BYTES_ENV = "LAVA_MLSNN_MAX_DATASET_BYTES"
DEFAULT_MAX_BYTES = 256 << 20
MAX_TEXT = 1 << 20  # characters of one text value (metadata included)
MAX_NAMES = 1 << 16  # entries of a text list (class names)

Problems = List[str]


def max_dataset_bytes() -> int:
    """Largest dataset the reader loads (bytes): ``$LAVA_MLSNN_MAX_DATASET_BYTES``,
    default 256 MiB."""
    try:
        return max(1, int(os.environ.get(MAX_BYTES_ENV, DEFAULT_MAX_BYTES)))
    except ValueError:
        return DEFAULT_MAX_BYTES


# --------------------------------------------------------------------------- objects
def _link_kind(group: h5py.Group, key: str) -> str:
    link = group.get(key, getlink=True)
    if isinstance(link, h5py.ExternalLink):
        return "an external link (to another file)"
    if isinstance(link, h5py.SoftLink):
        return "a soft link"
    return ""


def check_members(group: h5py.Group, allowed: Iterable[str], where: str, problems: Problems
                  ) -> None:
    """Refuse links, objects and attributes of ``group`` that are not part of the format
    (``where`` empty: the root, whose attributes the reader checks itself)."""
    allowed = set(allowed)
    for key in group:
        kind = _link_kind(group, key)
        path = f"{where}/{key}" if where else key
        if kind:
            problems.append(f"{path}: is {kind}; network files must be self-contained")
        elif key not in allowed:
            problems.append(f"{path}: unknown object (not part of the format; expected "
                            f"{', '.join(sorted(allowed)) or 'nothing'} here)")
    if where:  # only the root carries attributes in this format
        for name in group.attrs:
            problems.append(f"{where}: unknown attribute {name!r} (not part of the format)")


def member(group: h5py.Group, key: str, where: str, problems: Problems, kind: type
           ) -> Optional[Any]:
    """``group[key]`` when it is a hard-linked object of ``kind`` (Dataset or Group)."""
    if key not in group:
        return None
    path = f"{where}/{key}" if where else key
    link = _link_kind(group, key)
    if link:
        problems.append(f"{path}: is {link}; network files must be self-contained")
        return None
    try:
        obj = group[key]
    except (KeyError, OSError, RuntimeError, ValueError) as err:
        problems.append(f"{path}: unreadable ({' '.join(str(err).split())})")
        return None
    if not isinstance(obj, kind):
        want = "a dataset" if kind is h5py.Dataset else "a group"
        problems.append(f"{path}: expected {want}, found {type(obj).__name__.lower()}")
        return None
    return obj


def _describe(dtype: np.dtype) -> str:
    if h5py.check_string_dtype(dtype) is not None or dtype.kind in "SU":
        return "text"
    return {"c": "complex numbers", "V": "compound/opaque data", "O": "object references",
            "M": "dates", "m": "time deltas"}.get(dtype.kind, str(dtype))


def _declared_size(shape: Optional[Tuple[int, ...]], itemsize: int, path: str,
                   problems: Problems) -> Optional[int]:
    if shape is None:
        problems.append(f"{path}: has an empty (null) dataspace")
        return None
    n = 1
    for s in shape:
        n *= int(s)
    nbytes = n * int(itemsize)
    limit = max_dataset_bytes()
    if nbytes > limit:
        problems.append(f"{path}: declares {'x'.join(map(str, shape))} elements "
                        f"({nbytes:,} bytes), above the reader's limit of {limit:,} bytes "
                        f"(${MAX_BYTES_ENV})")
        return None
    return n


def read_dataset(ds: h5py.Dataset, path: str, problems: Problems) -> Optional[Any]:
    """The value of ``ds`` (numpy array, or ``str``/list of ``str`` for text), checked
    for size, storage and dtype before it is read."""
    if ds.is_virtual:
        problems.append(f"{path}: is a virtual dataset (maps other files)")
        return None
    if ds.external:
        problems.append(f"{path}: keeps its data in external files")
        return None
    dtype = ds.dtype
    text = h5py.check_string_dtype(dtype) is not None
    if dtype.subdtype is not None or (dtype.kind in "VOMm" and not text) or \
            h5py.check_ref_dtype(dtype) is not None:
        problems.append(f"{path}: holds {_describe(dtype)}, not numbers or text")
        return None
    n = _declared_size(ds.shape, dtype.itemsize, path, problems)
    if n is None:
        return None
    if n and ds.id.get_storage_size() == 0:
        problems.append(f"{path}: declared but never written (no data stored)")
        return None
    try:
        value = ds[()]
    except (OSError, RuntimeError, ValueError, TypeError) as err:
        problems.append(f"{path}: unreadable ({' '.join(str(err).split())})")
        return None
    return decode_text(value, path, problems) if text or dtype.kind == "S" else value


def read_attr(obj: Any, name: str, path: str, problems: Problems) -> Optional[Any]:
    """An attribute's value, checked as :func:`read_dataset` checks datasets."""
    try:
        aid = obj.attrs.get_id(name)
        dtype, shape = aid.dtype, aid.shape
    except (KeyError, OSError, RuntimeError, ValueError, TypeError) as err:
        problems.append(f"{path}: unreadable attribute ({' '.join(str(err).split())})")
        return None
    text = h5py.check_string_dtype(dtype) is not None
    if dtype.subdtype is not None or (dtype.kind in "VOMm" and not text):
        problems.append(f"{path}: holds {_describe(dtype)}, not numbers or text")
        return None
    if _declared_size(shape, dtype.itemsize, path, problems) is None:
        return None
    try:
        value = obj.attrs[name]
    except (OSError, RuntimeError, ValueError, TypeError) as err:
        problems.append(f"{path}: unreadable attribute ({' '.join(str(err).split())})")
        return None
    if isinstance(value, h5py.Empty):
        problems.append(f"{path}: is empty")
        return None
    if text or dtype.kind == "S" or isinstance(value, (str, bytes)):
        return decode_text(value, path, problems)
    return value


# --------------------------------------------------------------------------- text
def _decode_one(v: Any, path: str, problems: Problems) -> Optional[str]:
    if isinstance(v, (bytes, np.bytes_)):
        try:
            v = bytes(v).decode("utf-8")
        except UnicodeDecodeError:
            problems.append(f"{path}: text is not valid UTF-8")
            return None
    elif not isinstance(v, str):
        problems.append(f"{path}: expected text, got {type(v).__name__}")
        return None
    if len(v) > MAX_TEXT:
        problems.append(f"{path}: text of {len(v):,} characters (limit {MAX_TEXT:,})")
        return None
    if "\x00" in v:
        problems.append(f"{path}: text contains NUL characters")
        return None
    return v


def decode_text(value: Any, path: str, problems: Problems) -> Optional[Any]:
    """``str`` for one text value, list of ``str`` for several (``None`` on a problem)."""
    if isinstance(value, np.ndarray):
        flat = value.ravel().tolist()
        if len(flat) > MAX_NAMES:
            problems.append(f"{path}: {len(flat):,} text entries (limit {MAX_NAMES:,})")
            return None
        out = [_decode_one(v, path, problems) for v in flat]
        if any(o is None for o in out):
            return None
        return out[0] if value.ndim == 0 or (len(out) == 1 and value.ndim == 1) else out
    return _decode_one(value, path, problems)


def text(value: Any, path: str, problems: Problems) -> Optional[str]:
    """One text value (a one-element list counts as one)."""
    if value is None:
        return None
    if isinstance(value, list):
        if len(value) != 1:
            problems.append(f"{path}: expected one text value, got {len(value)}")
            return None
        value = value[0]
    if not isinstance(value, str):
        problems.append(f"{path}: expected text, got {_what(value)}")
        return None
    return value


# --------------------------------------------------------------------------- numbers
def _what(value: Any) -> str:
    if isinstance(value, (str, list)):
        return "text"
    arr = np.asarray(value)
    return _describe(arr.dtype) if arr.dtype.kind not in "biuf" else f"{arr.dtype} {arr.shape}"


def int_array(value: Any, path: str, problems: Problems, lo: int, hi: int
              ) -> Optional[np.ndarray]:
    """``value`` as int64 when every element is a finite integer in ``[lo, hi]``."""
    if value is None:
        return None
    if isinstance(value, (str, list)):
        problems.append(f"{path}: expected integers, got text")
        return None
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        problems.append(f"{path}: expected integers, got {_describe(arr.dtype)}")
        return None
    if arr.size == 0:
        return arr.astype(np.int64)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            problems.append(f"{path}: values must be finite (found NaN or inf)")
            return None
        if np.any(arr != np.trunc(arr)):
            problems.append(f"{path}: values must be integers (found fractions)")
            return None
    mn, mx = arr.min(), arr.max()
    mn = int(mn) if arr.dtype.kind != "f" else float(mn)
    mx = int(mx) if arr.dtype.kind != "f" else float(mx)
    if mn < lo or mx > hi:
        got = f"{mn:g}" if mn == mx else f"{mn:g}..{mx:g}"
        problems.append(f"{path}: must lie in [{lo}, {hi}], got {got}")
        return None
    return arr.astype(np.int64)


def int_value(value: Any, path: str, problems: Problems, lo: int, hi: int) -> Optional[int]:
    """One integer in ``[lo, hi]`` (a one-element array counts as one)."""
    arr = int_array(value, path, problems, lo, hi)
    if arr is None:
        return None
    if arr.size != 1:
        problems.append(f"{path}: expected one integer, got shape {tuple(arr.shape)}")
        return None
    return int(arr.reshape(()))


def int_tuple(value: Any, path: str, problems: Problems, lo: int, hi: int,
              sizes: Sequence[int]) -> Optional[Tuple[int, ...]]:
    """A 1-D list of integers in ``[lo, hi]`` whose length is one of ``sizes``."""
    arr = int_array(value, path, problems, lo, hi)
    if arr is None:
        return None
    if arr.ndim > 1 or arr.size not in sizes:
        problems.append(f"{path}: expected {' or '.join(map(str, sizes))} integer(s), got "
                        f"shape {tuple(arr.shape)}")
        return None
    return tuple(int(v) for v in arr.ravel())
