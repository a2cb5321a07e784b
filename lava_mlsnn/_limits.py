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


def memory_budget() -> int:
    """Bytes one array may take: ``$LAVA_MLSNN_MEMORY_BUDGET`` or 8 GiB."""
    try:
        return max(1, int(os.environ.get(MEMORY_BUDGET_ENV, DEFAULT_MEMORY_BUDGET)))
    except ValueError:
        return DEFAULT_MEMORY_BUDGET


def check_budget(what: str, dims: Sequence[int], itemsize: int,
                 budget: Optional[int] = None) -> None:
    """Refuse an array of ``dims`` x ``itemsize`` bytes above the memory budget.

    Parameters
    ----------
    what : str
        Names the array in the message (e.g. ``"recorded activity [B, T, N]"``).
    dims : sequence of int
        Its shape; the product is taken in Python integers (no overflow).
    itemsize : int
        Bytes per element.

    Raises
    ------
    MemoryError
        One line naming the array, its size and the budget (and how to raise it).
    """
    budget = memory_budget() if budget is None else budget
    n = itemsize
    for d in dims:
        n *= int(d)
    if n > budget:
        shape = " x ".join(str(int(d)) for d in dims)
        raise MemoryError(f"{what} of {shape} would take {n / 2**30:,.1f} GiB, above the "
                          f"memory budget of {budget / 2**30:,.1f} GiB (${MEMORY_BUDGET_ENV})")
