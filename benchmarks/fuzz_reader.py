"""Fuzz the network-file reader: every corrupted file is a runnable network or one clean refusal.

Usage::

    python benchmarks/fuzz_reader.py [--seconds S] [--seed N] [--memory-mib M] [--json]

Starting from small valid files (a conv network and a dense one, DESIGN §6), each
case corrupts one file and calls :func:`lava_mlsnn.format.read_network`:

* ``value``   -- a dataset or attribute gets another value (huge, negative, zero,
  fractional, NaN/inf, text, non-UTF-8 bytes, complex, lists);
* ``dtype``   -- same values, another storage type (float16, uint64, bool,
  complex, text, compound);
* ``shape``   -- same kind of values, another shape (empty, extra axes, longer);
* ``missing`` -- an object or attribute removed;
* ``extra``   -- an object added (unknown dataset or group, soft or external link,
  a huge chunked dataset declared but never written, a huge attribute);
* ``byteflip`` / ``truncate`` -- sweeps over the raw bytes of the file.

The mutations are drawn by hypothesis (``value`` ... ``extra``) and by a sweep
over offsets (``byteflip``, ``truncate``). A case passes when the reader either
returns a network that the emulator then runs on a small input, or raises
``FormatError`` whose first problem is one line; anything else (another
exception, a crash, ``MemoryError`` under the limit) is a failure. The process
runs under ``RLIMIT_DATA`` = memory after imports + ``--memory-mib``, so a file
that makes the reader allocate without bound fails as ``MemoryError``.

Prints a table per category (cases, valid networks, clean refusals, failures),
or JSON with ``--json``. Exit status 1 when any case failed.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from typing import Callable, Dict, List

import h5py
import numpy as np
from hypothesis import HealthCheck, Phase, given, seed as hyp_seed, settings, strategies as st

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lava_mlsnn.backends.emulator import emulate  # noqa: E402
from lava_mlsnn.format import FormatError, read_network, write_network  # noqa: E402
from lava_mlsnn.format.random_net import random_input, random_network  # noqa: E402

CATEGORIES = ("value", "dtype", "shape", "missing", "extra", "byteflip", "truncate")


# --------------------------------------------------------------------------- base files
def base_files(folder: str) -> List[str]:
    paths = []
    for k, conv in enumerate((True, False)):
        spec = random_network(np.random.default_rng(11 + k), conv=conv)
        spec.classes = [f"c{i}" for i in range(spec.layers[-1].shape[0])]
        path = os.path.join(folder, f"base{k}.h5")
        write_network(spec, path)
        paths.append(path)
    return paths


def _objects(path: str) -> List[str]:
    """Every dataset and group path, and every attribute as ``@name``."""
    out: List[str] = []
    with h5py.File(path, "r") as f:
        out += [f"@{a}" for a in f.attrs]
        f.visit(out.append)
    return out


# --------------------------------------------------------------------------- mutations
_values = st.one_of(
    st.integers(-(1 << 70), 1 << 70), st.sampled_from([0, -1, 1, 2, 1 << 31, 1 << 63, 4097]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.5, 1e30, -1e30, 2.5]),
    st.text(max_size=12), st.binary(max_size=12), st.complex_numbers(max_magnitude=1e3),
    st.lists(st.integers(-300, 300), min_size=0, max_size=5), st.booleans())
_dtypes = st.sampled_from(["f2", "f8", "u8", "i1", "?", "c8", "S4", "compound"])


def _as_array(value):
    if isinstance(value, bytes):
        return np.array(value)
    if isinstance(value, int) and not -(1 << 63) <= value < (1 << 64):
        return np.array(float(value))
    if isinstance(value, int) and value >= (1 << 63):
        return np.array(value, dtype=np.uint64)
    return np.array(value)


def _replace(f: h5py.File, target: str, data) -> None:
    if target.startswith("@"):
        f.attrs[target[1:]] = data
        return
    parent, _, name = target.rpartition("/")
    g = f[parent] if parent else f
    if isinstance(g[name], h5py.Group):
        del g[name]
        g[name] = data
        return
    del g[name]
    g.create_dataset(name, data=data)


def _current(f: h5py.File, target: str):
    if target.startswith("@"):
        return np.asarray(f.attrs[target[1:]])
    obj = f[target]
    return np.asarray(obj[()]) if isinstance(obj, h5py.Dataset) else np.asarray(1)


def mutate(f: h5py.File, category: str, target: str, draw: Callable) -> None:
    """Apply one ``category`` corruption to ``target`` of the open file ``f``."""
    if category == "value":
        _replace(f, target, _as_array(draw(_values)))
    elif category == "dtype":
        cur = _current(f, target)
        dt = draw(_dtypes)
        if dt == "compound":
            data = np.zeros(cur.shape, dtype=[("a", "i4"), ("b", "f4")])
        elif dt == "S4":
            data = cur.astype(str).astype("S4") if cur.dtype.kind not in "SO" else cur
        else:
            with np.errstate(all="ignore"):
                data = cur.astype(dt) if cur.dtype.kind not in "SOV" else np.zeros(3, dt)
        _replace(f, target, data)
    elif category == "shape":
        cur = _current(f, target)
        how = draw(st.sampled_from(["empty", "axis", "longer", "scalar"]))
        if cur.dtype.kind in "SOV":
            cur = np.zeros(2)
        data = {"empty": np.zeros((0,) + cur.shape[1:], cur.dtype),
                "axis": cur.reshape(cur.shape + (1,)),
                "longer": np.concatenate([cur.ravel(), cur.ravel()[:1]]) if cur.size else
                np.ones(3, cur.dtype),
                "scalar": cur.ravel()[:1].reshape(()) if cur.size else np.array(0)}[how]
        _replace(f, target, data)
    elif category == "missing":
        if target.startswith("@"):
            del f.attrs[target[1:]]
        else:
            del f[target]
    elif category == "extra":
        parent = target if not target.startswith("@") and isinstance(f[target], h5py.Group) \
            else ""
        g = f[parent] if parent else f
        kind = draw(st.sampled_from(["dataset", "group", "softlink", "extlink", "unwritten",
                                     "attr", "bigattr"]))
        name = "x" + str(draw(st.integers(0, 9)))
        if kind == "dataset":
            g.create_dataset(name, data=np.arange(3))
        elif kind == "group":
            g.create_group(name)
        elif kind == "softlink":
            g[name] = h5py.SoftLink("/layer")
        elif kind == "extlink":
            g[name] = h5py.ExternalLink("/etc/hostname", "/")
        elif kind == "unwritten":  # a few-KB file declaring 40 GB
            g.create_dataset(name, shape=(100_000, 100_000), dtype="f4", chunks=(64, 64))
        elif kind == "attr":
            g.attrs[name] = 1
        else:
            f.attrs["inputShape"] = np.array([2, 40_000, 40_000])


# --------------------------------------------------------------------------- one case
def check(path: str) -> str:
    """``'valid'`` or ``'refused'``; raises on anything else."""
    try:
        spec = read_network(path)
    except FormatError as err:
        line = err.problems[0] if err.problems else ""
        if not line or "\n" in line:
            raise AssertionError(f"refusal is not one line: {err.problems!r}")
        return "refused"
    x = random_input(np.random.default_rng(0), spec, 2, 2) if spec.input_shape else None
    if x is not None:
        emulate(spec, x)  # validate accepts exactly what simulate runs
    return "valid"


class Tally:
    def __init__(self) -> None:
        self.counts: Dict[str, Counter] = defaultdict(Counter)
        self.failures: List[str] = []

    def record(self, category: str, run: Callable[[], str], what: str) -> None:
        try:
            self.counts[category][run()] += 1
        except Exception as err:  # noqa: BLE001 -- every other outcome is a failure
            self.counts[category]["failed"] += 1
            self.failures.append(f"{category} {what}: {type(err).__name__}: "
                                 f"{' '.join(str(err).split())[:200]}")


def fuzz_structure(tally: Tally, bases: List[str], folder: str, deadline: float,
                   seed: int) -> None:
    """Hypothesis-drawn structural corruptions until ``deadline``."""
    targets = {b: _objects(b) for b in bases}
    work = os.path.join(folder, "case.h5")

    @settings(max_examples=10, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def case(data):
        base = data.draw(st.sampled_from(bases))
        category = data.draw(st.sampled_from(CATEGORIES[:5]))
        target = data.draw(st.sampled_from(targets[base]))
        shutil.copy(base, work)
        try:
            with h5py.File(work, "r+") as f:
                mutate(f, category, target, data.draw)
        except (TypeError, ValueError, KeyError, OSError, OverflowError):
            return  # h5py cannot store that mutation: not a case
        tally.record(category, lambda: check(work), f"{target} of {os.path.basename(base)}")

    k = 0
    while time.monotonic() < deadline:
        hyp_seed(seed * 100_003 + k)(case)()
        k += 1


def sweep_bytes(tally: Tally, base: str, folder: str, n: int) -> None:
    """``n`` byte flips and ``n`` truncations spread over the whole file."""
    data = open(base, "rb").read()
    work = os.path.join(folder, "raw.h5")
    for off in np.linspace(0, len(data) - 1, n).astype(int):
        flipped = bytearray(data)
        flipped[off] ^= 0xFF
        with open(work, "wb") as f:
            f.write(flipped)
        tally.record("byteflip", lambda: check(work), f"offset {off}")
    for cut in np.linspace(0, len(data) - 1, n).astype(int):
        with open(work, "wb") as f:
            f.write(data[:cut])
        tally.record("truncate", lambda: check(work), f"at {cut} bytes")


def _vm_data_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float,
                   default=float(os.environ.get("LAVA_MLSNN_FUZZ_SECONDS", 30)),
                   help="time for the hypothesis part (default 30, or $LAVA_MLSNN_FUZZ_SECONDS)")
    p.add_argument("--sweep", type=int, default=200, help="offsets per byte sweep (default 200)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--memory-mib", type=int, default=512,
                   help="heap allowed beyond the imports (RLIMIT_DATA; default 512 MiB)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    folder = tempfile.mkdtemp(prefix="lava-mlsnn-fuzz-")
    try:
        bases = base_files(folder)
        for b in bases:  # warm up torch and the emulator before the limit
            check(b)
        limit = _vm_data_bytes() + (args.memory_mib << 20)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, resource.getrlimit(
            resource.RLIMIT_DATA)[1]))
        tally = Tally()
        t0 = time.monotonic()
        sweep_bytes(tally, bases[0], folder, args.sweep)
        fuzz_structure(tally, bases, folder, time.monotonic() + args.seconds, args.seed)
        elapsed = time.monotonic() - t0
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    rows = {c: dict(tally.counts[c]) for c in CATEGORIES}
    result = {"categories": rows, "failures": tally.failures, "seconds": elapsed,
              "memory_limit_mib": args.memory_mib, "seed": args.seed}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"reader fuzz: {elapsed:.0f} s, seed {args.seed}, heap limit +{args.memory_mib} MiB")
        print(f"{'category':<10} {'cases':>7} {'valid':>7} {'refused':>8} {'failed':>7}")
        for c in CATEGORIES:
            r = rows[c]
            n = sum(r.values())
            print(f"{c:<10} {n:>7} {r.get('valid', 0):>7} {r.get('refused', 0):>8} "
                  f"{r.get('failed', 0):>7}")
        total = Counter()
        for r in rows.values():
            total.update(r)
        print(f"{'total':<10} {sum(total.values()):>7} {total['valid']:>7} "
              f"{total['refused']:>8} {total['failed']:>7}")
        for line in tally.failures[:20]:
            print("  FAILED", line)
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())
