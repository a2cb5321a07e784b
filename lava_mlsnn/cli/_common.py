"""What every ``lava-mlsnn`` command shares: the one-line error, exit codes, safe loading
of network and input files, and guarded output paths (DESIGN §7)."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, Dict, Optional

import numpy as np

from .._io import ArrayHeaderError, UnsafePathError, atomic_write, check_input_file, \
    check_npy_file, check_output_target, write_error_line
from .._limits import BudgetError

PROG = "lava-mlsnn"
DEBUG_ENV = "LAVA_MLSNN_DEBUG"
EXIT_USAGE = 2
EXIT_FAILURE = 1

class CliError(Exception):
    """A failure the command reports in one line, with its exit status."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.message = message
        self.code = code


def _one_line(text: object) -> str:
    """Collapse a message onto one line (library errors may hold newlines)."""
    return " ".join(str(text).split())


def _error(message: str) -> None:
    print(f"{PROG}: error: {_one_line(message)}", file=sys.stderr)


# --------------------------------------------------------------------------- loading
def _load_network(path: str):
    """Read a network file, turning every failure into one :class:`CliError` line."""
    from ..format.reader import FormatError, read_network
    try:
        return read_network(path)
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except FormatError as err:
        more = len(err.problems) - 1
        hint = f" (and {more} more; run '{PROG} validate {path}')" if more > 0 else ""
        raise CliError(f"{path}: invalid network: {err.problems[0]}{hint}") from None


def _load_input(spec, path: str) -> np.ndarray:
    """``X.npy`` as int64 ``[B, T, *inputShape]`` for the network ``spec``: anything that is
    not an integer array, does not fit the network or holds no sample or no step is refused."""
    from ..backends.emulator import check_input
    x = _load_array(path)
    try:
        check_input(spec, x)
    except ValueError as err:
        raise CliError(f"{path}: {_one_line(err)}") from None
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise CliError(f"{path}: input {tuple(x.shape)} has no samples or no steps")
    return x


def _load_array(path: str) -> np.ndarray:
    """Load ``X.npy`` as int64, rejecting anything that is not an integer array."""
    try:
        check_input_file(path)
    except (FileNotFoundError, UnsafePathError) as err:
        raise CliError(str(err)) from None
    try:
        check_npy_file(path)  # the declared shape fits the file and the budget
        arr = np.load(path, allow_pickle=False)
    except (ArrayHeaderError, BudgetError) as err:
        raise CliError(str(err)) from None
    except (ValueError, OSError, EOFError) as err:
        raise CliError(f"{path}: not a readable .npy array ({_one_line(err)})") from None
    if isinstance(arr, np.lib.npyio.NpzFile):
        arr.close()
        raise CliError(f"{path}: is an .npz archive, expected a single .npy array")
    if arr.dtype.kind not in "biuf":
        raise CliError(f"{path}: dtype {arr.dtype} is not an integer array")
    if arr.dtype.kind == "f" and arr.size and (
            not np.all(np.isfinite(arr)) or np.any(arr != np.trunc(arr))):
        raise CliError(f"{path}: input must hold integers (event counts / payloads), "
                       f"found non-integer values of dtype {arr.dtype}")
    if arr.dtype.kind == "f" and arr.size and float(np.abs(arr).max()) > float(1 << 53):
        raise CliError(f"{path}: values exceed 2**53 (not exact integers in {arr.dtype})")
    if arr.dtype == np.uint64 and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise CliError(f"{path}: values exceed the int64 range")
    return arr.astype(np.int64)


def _write_npz(path: str, arrays: Dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` atomically: a temp file beside it, then rename."""
    try:
        atomic_write(path, lambda f: np.savez_compressed(f, **arrays))
    except UnsafePathError as err:
        raise CliError(str(err)) from None
    except OSError as err:
        raise CliError(write_error_line(path, err), EXIT_FAILURE) from None


def _check_out(path: Optional[str]) -> None:
    """Refuse a bad ``--out`` before any work is done (``''`` is refused, not ignored)."""
    if path is None:
        return
    if not path.strip():
        raise CliError("--out is empty; give a file name")
    try:
        check_output_target(path)
    except UnsafePathError as err:
        raise CliError(str(err)) from None
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise CliError(f"{path}: {directory} is not a directory")



def _write(path: str, write: Callable[[], None]) -> None:
    """Run an atomic ``write()`` with the command's error lines (2: bad target, 1: failed
    write)."""
    try:
        write()
    except UnsafePathError as err:
        raise CliError(str(err)) from None
    except OSError as err:
        raise CliError(write_error_line(path, err), EXIT_FAILURE) from None


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (``PROG CMD: error: ...``), exit 2,
    as every other refusal (DESIGN §7.1), instead of argparse's usage block."""

    def error(self, message: str) -> None:
        print(f"{self.prog}: error: {_one_line(message)} (see {self.prog} --help)",
              file=sys.stderr)
        sys.exit(EXIT_USAGE)


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {n}")
    return n


def _int_in(lo: int, hi: int) -> Callable[[str], int]:
    """An argparse type: an integer in ``lo..hi`` (a huge or non-numeric one is refused
    without converting or quoting it in full)."""
    def parse(text: str) -> int:
        if len(text) > 30:
            raise argparse.ArgumentTypeError(f"expected an integer in {lo}..{hi}, got "
                                             f"{len(text)} characters")
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer in {lo}..{hi}, got "
                                             f"{text!r}") from None
        if not lo <= n <= hi:
            raise argparse.ArgumentTypeError(f"expected an integer in {lo}..{hi}, got {n}")
        return n
    parse.__name__ = "integer"
    return parse


def _dataset_name(text: str) -> str:
    from ..data.registry import is_dataset
    if not is_dataset(text):
        raise argparse.ArgumentTypeError(f"unknown data set {text!r} (digits, dvsgesture, "
                                         "nmnist, cifar10dvs, or a tonic.datasets class name)")
    return text


def dataset_root(dataset: str, root: Optional[str]) -> Optional[str]:
    """``root`` for ``--dataset``; a data set that needs one and has none is refused in
    one line naming the ``--root`` flag."""
    from ..data.registry import resolve_dataset
    if root is None and resolve_dataset(dataset).needs_root:
        raise CliError(f"--dataset {dataset} needs --root DIR, the folder holding tonic's "
                       "data set folders (the network file's metadata names none)")
    return root
