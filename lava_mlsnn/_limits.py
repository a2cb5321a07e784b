"""Limits on what a user hands in: safe YAML, bounded values, short messages.

Everything here runs before any work or allocation, so a hostile value fails in one
line naming the value and its limit (DESIGN §7, failure contract) rather than as a
hang, a huge allocation or a traceback deep inside.

* :func:`load_yaml` -- a YAML document read from bytes: UTF-8 only, at most
  :data:`MAX_YAML_BYTES`, no aliases (a "billion laughs" document expands
  exponentially), no duplicate keys (the later one would silently win), nesting at
  most :data:`MAX_YAML_DEPTH` deep (deeper ends in a RecursionError).
* :func:`short` -- the ``repr`` of a value cut to a few dozen characters, so a message
  never formats a megabyte.
* :func:`check_budget` -- an element count (shape x steps x batch) against a memory
  budget, before the array is allocated.
"""
from __future__ import annotations

import errno
import math
import os
from typing import Any, Optional, Sequence

import yaml

MAX_YAML_BYTES = 1 << 20     # a configuration is a few hundred bytes
MAX_YAML_DEPTH = 32          # sections -> keys -> a list value is depth 3
MAX_SHORT = 60               # characters of a value quoted in a message
MEMORY_BUDGET_ENV = "LAVA_MLSNN_MEMORY_BUDGET"
DEFAULT_MEMORY_BUDGET = 8 << 30  # bytes one array (e.g. recorded activity) may take


class UnsafeYAMLError(yaml.YAMLError):
    """A YAML document refused before or while it is composed (one-line message)."""


def short(value: Any, limit: int = MAX_SHORT) -> str:
    """``repr(value)`` of at most ``limit`` characters (huge ints are not converted)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"<an integer of {value.bit_length()} bits>"
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} ch)"


class _SafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases or duplicate keys and with bounded depth."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):  # noqa: ANN001 -- PyYAML's signature
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise UnsafeYAMLError(f"YAML aliases (*name) are not accepted (line {mark.line + 1})")
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                mark = self.peek_event().start_mark
                raise UnsafeYAMLError(f"nested deeper than {MAX_YAML_DEPTH} levels "
                                      f"(line {mark.line + 1})")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):  # noqa: ANN001
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                dup = key in seen
            except TypeError:  # an unhashable key: PyYAML reports it below
                break
            if dup:
                raise UnsafeYAMLError(f"duplicate key {short(key)} "
                                      f"(line {key_node.start_mark.line + 1})")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml(data: bytes, where: str) -> Any:
    """Parse one YAML document from ``data`` (bytes) with the limits above.

    Raises
    ------
    UnsafeYAMLError
        Too large, not UTF-8, an alias, a duplicate key, too deep; the message names
        ``where`` and the limit.
    yaml.YAMLError
        Not valid YAML.
    """
    if len(data) > MAX_YAML_BYTES:
        raise UnsafeYAMLError(f"{where}: {len(data):,} bytes (limit {MAX_YAML_BYTES:,})")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UnsafeYAMLError(f"{where}: not UTF-8 text (byte {err.start})") from None
    loader = _SafeLoader(text)
    try:
        return loader.get_single_data()
    except UnsafeYAMLError as err:
        raise UnsafeYAMLError(f"{where}: {err}") from None
    except ValueError as err:  # e.g. an integer literal of more than 4300 digits
        raise UnsafeYAMLError(f"{where}: {short(str(err))}") from None
    finally:
        loader.dispose()


def finite(v: Any) -> bool:
    """``v`` is an int or a finite float (bools and NaN/inf are not)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    return isinstance(v, int) or math.isfinite(v)


class BudgetError(MemoryError):
    """An array refused before its allocation: it would exceed the memory budget (the
    input's size is at fault: exit 2, one line naming the array and the budget)."""


def _rlimit_headroom() -> Optional[int]:
    """Bytes of address space left under ``RLIMIT_AS`` / ``RLIMIT_DATA`` (None: no limit)."""
    try:
        import resource
    except ImportError:  # not POSIX
        return None
    left = None
    for name in ("RLIMIT_AS", "RLIMIT_DATA"):
        soft = resource.getrlimit(getattr(resource, name))[0]
        if soft != resource.RLIM_INFINITY:
            used = _vm_bytes("VmSize" if name == "RLIMIT_AS" else "VmData")
            room = max(0, soft - used)
            left = room if left is None else min(left, room)
    return left


def _vm_bytes(field: str) -> int:
    """``field`` of /proc/self/status in bytes (0 where it cannot be read)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def bound_threads_under_memory_limit() -> None:
    """Under ``RLIMIT_AS`` / ``RLIMIT_DATA``, BLAS libraries loaded from now on start one
    thread (``OPENBLAS_NUM_THREADS=1`` unless the user set it).

    OpenBLAS allocates a buffer per thread when it loads; when the address-space limit
    refuses one, it retries forever instead of failing: ``evaluate`` under a 3 GiB
    limit hung in scipy's copy of OpenBLAS (loaded by tonic). With one thread the load
    either fits or fails, and a failure is an ImportError that the commands report as
    a memory limit in one line. Call it before scipy (or torch, or tonic) is imported.
    """
    if _rlimit_headroom() is not None:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def memory_budget() -> int:
    """Bytes one array may take: ``$LAVA_MLSNN_MEMORY_BUDGET``, else 8 GiB or, under an
    address-space or data limit (``ulimit -v`` / ``-d``), what is left of it."""
    env = os.environ.get(MEMORY_BUDGET_ENV)
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            pass
    room = _rlimit_headroom()
    return DEFAULT_MEMORY_BUDGET if room is None else max(1, min(DEFAULT_MEMORY_BUDGET, room))


def check_budget(what: str, dims: Sequence[int], itemsize: int,
                 budget: Optional[int] = None, hint: str = "") -> None:
    """Refuse an array of ``dims`` x ``itemsize`` bytes above the memory budget.

    Parameters
    ----------
    what : str
        Names the array in the message (e.g. ``"recorded activity [B, T, N]"``).
    dims : sequence of int
        Its shape; the product is taken in Python integers (no overflow).
    itemsize : int
        Bytes per element.
    budget : int, optional
        Bytes; default :func:`memory_budget`.
    hint : str
        What to change, appended to the message (e.g. ``"record fewer layers"``).

    Raises
    ------
    BudgetError
        One line naming the array, its size and the budget (and how to raise it).
    """
    budget = memory_budget() if budget is None else budget
    n = itemsize
    for d in dims:
        n *= int(d)
    if n > budget:
        shape = " x ".join(short(int(d), 24) for d in dims)
        raise BudgetError(f"{what} of {shape} would take {_gib(n)}, above the memory budget "
                          f"of {_gib(budget)} (${MEMORY_BUDGET_ENV}){'; ' + hint if hint else ''}")


def _gib(n: int) -> str:
    """Bytes in the largest binary unit that keeps a digit before the point."""
    if n >= 2 ** 80:
        return f"2**{n.bit_length() - 1} bytes"
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):,.1f} {unit}"
    return f"{n} bytes"


#: How the loader reports a shared library it had no address space to map (torch's CUDA
#: libraries under ``ulimit -v``): an ImportError that is a memory limit, not a missing package.
_NO_MAP = ("failed to map segment", "cannot allocate memory")


def is_memory_failure(err: BaseException) -> bool:
    """``err`` is an allocation that failed or was refused: a MemoryError (a
    :class:`BudgetError` included), ``ENOMEM``, or a library that could not be mapped."""
    if isinstance(err, MemoryError):
        return True
    if isinstance(err, OSError) and err.errno == errno.ENOMEM:
        return True
    return isinstance(err, (ImportError, OSError)) and any(
        m in str(err).lower() for m in _NO_MAP)


def memory_exit_status(err: BaseException) -> int:
    """2 when the budget refused a size (the input is too large), 1 when memory ran out."""
    return 2 if isinstance(err, BudgetError) else 1


def memory_error_line(err: BaseException) -> str:
    """One line for a failed allocation (:func:`is_memory_failure`), saying which limit it
    met.

    A :class:`BudgetError` is its own message. Otherwise the allocation itself failed:
    under ``RLIMIT_AS`` / ``RLIMIT_DATA`` (``ulimit -v`` / ``-d``) the line names the
    limit, else the machine's memory.
    """
    if isinstance(err, BudgetError):
        return str(err)
    detail = " ".join(str(err).split())[:120] or "an allocation failed"
    try:
        import resource
        limits = [(name, resource.getrlimit(getattr(resource, name))[0])
                  for name in ("RLIMIT_AS", "RLIMIT_DATA")]
        limits = [(n, v) for n, v in limits if v != resource.RLIM_INFINITY]
    except ImportError:
        limits = []
    if limits:
        named = ", ".join(f"{n} = {_gib(v)}" for n, v in limits)
        return f"out of memory under the process's memory limit ({named}): {detail}"
    return f"out of memory (the machine's memory is exhausted): {detail}"
