"""Checkpoints that cannot run code, detect corruption and survive a bad write.

* Loading uses ``torch.load(weights_only=True)``: only tensors, numbers, strings
  and containers are unpickled, so a crafted file cannot execute anything. What a
  run stores is kept to those types (RNG states as tensors and lists,
  :func:`pack_rng` / :func:`unpack_rng`).
* Every checkpoint carries the SHA-256 of its content (every tensor's bytes,
  dtype and shape, every value), verified on load: a flipped bit is a refusal,
  not a resume with different weights. Floating-point tensors must be finite.
* Saving keeps the previous checkpoint beside the new one (``last.prev.pt``);
  when the newest cannot be used, :func:`load_checkpoint` falls back to it with
  a warning instead of failing.
* Writes are atomic (:func:`lava_mlsnn._io.atomic_write`).
"""
from __future__ import annotations

import hashlib
import os
import random
import warnings
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np
import torch

from .._io import UnsafePathError, atomic_write, check_input_file

CHECKSUM_KEY = "sha256"


class CheckpointError(RuntimeError):
    """No usable checkpoint (one line naming the file and the reason)."""


class ForeignCheckpointError(CheckpointError):
    """A checkpoint holding objects other than tensors, numbers, strings and containers:
    refused outright, with no fallback to another checkpoint (it was put there on purpose
    or by another program; silently using the previous one would export other weights)."""


def previous_path(path: str) -> str:
    """Where the checkpoint before ``path`` is kept: ``last.pt`` -> ``last.prev.pt``."""
    root, ext = os.path.splitext(path)
    return f"{root}.prev{ext}"


# --------------------------------------------------------------------------- content hash
def _feed(h: "hashlib._Hash", obj: Any) -> None:
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    elif isinstance(obj, dict):
        h.update(b"D%d" % len(obj))
        for k in sorted(obj, key=repr):
            h.update(repr(k).encode())
            _feed(h, obj[k])
    elif isinstance(obj, (list, tuple)):
        h.update(b"L%d" % len(obj) if isinstance(obj, list) else b"U%d" % len(obj))
        for v in obj:
            _feed(h, v)
    elif obj is None or isinstance(obj, (bool, int, float, str, bytes, torch.Size)):
        h.update(f"{type(obj).__name__}:{obj!r}".encode())
    else:
        raise TypeError(f"checkpoints hold tensors, numbers, strings and containers only, "
                        f"not {type(obj).__name__}")


def content_hash(state: Dict[str, Any]) -> str:
    """SHA-256 hex digest of a checkpoint's content (the checksum entry excluded)."""
    h = hashlib.sha256()
    _feed(h, {k: v for k, v in state.items() if k != CHECKSUM_KEY})
    return h.hexdigest()


def _non_finite(obj: Any, where: str = "") -> Optional[str]:
    if isinstance(obj, torch.Tensor):
        if obj.is_floating_point() and obj.numel() and not bool(torch.isfinite(obj).all()):
            return where or "a tensor"
        return None
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) \
        if isinstance(obj, (list, tuple)) else ()
    for k, v in items:
        bad = _non_finite(v, f"{where}.{k}" if where else str(k))
        if bad:
            return bad
    return None


# --------------------------------------------------------------------------- RNG states
def pack_rng() -> Dict[str, Any]:
    """Every RNG's state as tensors and lists (loadable with ``weights_only``)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, py_state, py_gauss = random.getstate()
    out: Dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(np.asarray(keys, np.int64)),
                  "pos": int(pos), "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "python": {"version": int(version), "state": [int(v) for v in py_state],
                   "gauss": py_gauss},
    }
    if torch.cuda.is_available():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def unpack_rng(states: Dict[str, Any]) -> None:
    """Restore what :func:`pack_rng` saved."""
    torch.set_rng_state(states["torch"])
    n = states["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["gauss"]))
    p = states["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


# --------------------------------------------------------------------------- save / load
def save_checkpoint(state: Dict[str, Any], path: str, keep_previous: bool = True) -> None:
    """Write ``state`` (with its checksum) to ``path`` atomically.

    With ``keep_previous`` the checkpoint ``path`` held before is kept as
    :func:`previous_path`, the fallback of :func:`load_checkpoint`.
    """
    payload = dict(state)
    payload[CHECKSUM_KEY] = content_hash(state)
    new = path + ".new"
    atomic_write(new, lambda f: torch.save(payload, f), mkdir=True)
    # Only once the new file is complete does the old one become the fallback. A
    # crash between the two renames leaves the previous checkpoint, which loads.
    if keep_previous and os.path.isfile(path) and not os.path.islink(path):
        os.replace(path, previous_path(path))
    os.replace(new, path)


def _read(path: str, expect_format: Optional[str]) -> Dict[str, Any]:
    try:
        check_input_file(path)
    except (FileNotFoundError, UnsafePathError) as err:
        raise CheckpointError(str(err)) from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 -- unreadable, torn, or not weights-only
        reason = " ".join(str(err).split())[:200]
        if "weights only load failed" in reason.lower():
            raise ForeignCheckpointError(
                f"{path}: unreadable checkpoint: it holds objects a weights-only load "
                "refuses (refusing it rather than using another checkpoint)") from None
        raise CheckpointError(f"{path}: unreadable checkpoint ({type(err).__name__}: "
                              f"{reason})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: not a lava-mlsnn checkpoint")
    if expect_format is not None and state.get("format") != expect_format:
        raise CheckpointError(f"{path}: not a lava-mlsnn training checkpoint")
    stored = state.get(CHECKSUM_KEY)
    if stored is None:
        raise CheckpointError(f"{path}: checkpoint has no checksum")
    try:
        actual = content_hash(state)
    except TypeError as err:
        raise CheckpointError(f"{path}: {err}") from None
    if stored != actual:
        raise CheckpointError(f"{path}: checksum mismatch (the file is corrupt)")
    bad = _non_finite(state.get("model", {}), "model")
    if bad:
        raise CheckpointError(f"{path}: non-finite values in {bad}")
    return state


def load_checkpoint(path: str, expect_format: Optional[str] = None, fallback: bool = True,
                    on_fallback: Optional[Callable[[str], None]] = None
                    ) -> Tuple[Dict[str, Any], str]:
    """Load and verify a checkpoint; fall back to the previous one if it is bad.

    The fallback is announced through ``on_fallback(message)`` (one line), else as
    a ``RuntimeWarning``.

    Returns
    -------
    (state, used_path)
        ``used_path`` is ``path`` or, after a warning, :func:`previous_path`.

    Raises
    ------
    CheckpointError
        Neither is usable (missing, unreadable, not weights-only, checksum
        mismatch, non-finite weights).
    """
    try:
        return _read(path, expect_format), path
    except ForeignCheckpointError:
        raise
    except CheckpointError as err:  # missing (a crash between renames), corrupt, unsafe
        prev = previous_path(path)
        if not fallback or not os.path.exists(prev):
            raise
        try:
            state = _read(prev, expect_format)
        except CheckpointError as err2:
            raise CheckpointError(f"{err}; the previous one is not usable either: "
                                  f"{err2}") from None
        message = f"{err}; using the previous checkpoint {prev} (epoch {state.get('epoch', '?')})"
        if on_fallback is not None:
            on_fallback(message)
        else:
            warnings.warn(message, RuntimeWarning, stacklevel=2)
        return state, prev
