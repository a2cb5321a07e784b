"""Sweep of hostile user inputs beyond network files: NIR graphs, configs, data-set folders,
full disks and memory limits, each case run through the real ``lava-mlsnn`` command.

Usage::

    python benchmarks/hostile_inputs.py [--only CATEGORY ...] [--json]
    LAVA_MLSNN_SWEEP_CODE=/path/to/other/checkout python benchmarks/hostile_inputs.py

Complements ``benchmarks/fuzz_reader.py`` (corrupted network files). Every case is
a command line a user could type; it is *clean* when the command keeps the failure
contract (DESIGN §7.4):

* the exit status is the expected one: 0 or 2 for what the user handed in, 1 for a
  disk that fills or memory that runs out;
* on failure, exactly one line on stderr (warnings aside) and no traceback;
* it ends within 60 s;
* no temporary file remains, no partial output is left, an old output file survives a
  failed write, and a network file written with exit 0 passes ``validate``.

Cases of ``nir``, ``config`` and ``dataset`` run in-process (``cli.main``); ``disk``
(a 256 KiB tmpfs filled to its last 4 KiB; needs root, else skipped) and ``memory``
(``RLIMIT_AS`` or a small ``LAVA_MLSNN_MEMORY_BUDGET``) in their own process. Prints a
table per category and every case that is not clean; exit status 1 when any is not.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from typing import Dict, List, Tuple

import numpy as np

# LAVA_MLSNN_SWEEP_CODE=DIR runs the same cases against another checkout (a baseline)
ROOT = os.environ.get("LAVA_MLSNN_SWEEP_CODE") or \
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from lava_mlsnn import cli  # noqa: E402
from lava_mlsnn.format import FormatError, read_network, write_network  # noqa: E402
from lava_mlsnn.format.random_net import random_input, random_network  # noqa: E402
from _hostile_cases import OLD, Case, _quiet, config_cases, dataset_cases, nir_cases  # noqa: E402,E501

CATEGORIES = ("nir", "config", "dataset", "disk", "memory")
TIME_LIMIT_S = 60


# --------------------------------------------------------------------------- running
def _run_here(case: Case) -> Tuple[int, str]:
    saved = {k: os.environ.get(k) for k in case.env}
    os.environ.update(case.env)
    err = io.StringIO()
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            try:
                rc = cli.main(list(case.argv))
            except SystemExit as ex:  # a contract break of its own: cli.main must return
                rc = ex.code if isinstance(ex.code, int) else 1
                print("SystemExit escaped cli.main", file=sys.stderr)
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    return rc, err.getvalue()


def _run_process(case: Case) -> Tuple[int, str]:
    env = dict(os.environ, PYTHONPATH=ROOT, **case.env)
    env.pop("LAVA_MLSNN_DEBUG", None)
    limit = case.rlimit_as

    def preexec() -> None:
        if limit:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        proc = subprocess.run([sys.executable, "-m", "lava_mlsnn.cli", *case.argv],
                              capture_output=True, text=True, env=env, preexec_fn=preexec,
                              timeout=TIME_LIMIT_S * 2)
    except subprocess.TimeoutExpired:
        return -1, "timed out"
    return proc.returncode, proc.stderr


def _leftovers(folder: str) -> List[str]:
    return [os.path.join(r, f) for r, _, fs in os.walk(folder) for f in fs
            if f.endswith(".tmp") or f.startswith(".lava-mlsnn-")]


def judge(case: Case, rc: int, err: str, took: float, folder: str) -> List[str]:
    """What breaks the contract in one result (empty: clean)."""
    why = []
    if rc not in case.expect:
        why.append(f"exit {rc} (expected {'/'.join(map(str, case.expect))})")
    if "Traceback" in err:
        why.append("traceback")
    lines = [line for line in err.strip().splitlines() if "warning:" not in line]
    if rc != 0 and len(lines) != 1:
        why.append(f"{len(lines)} lines on stderr")
    if took > TIME_LIMIT_S:
        why.append(f"took {took:.0f} s")
    if _leftovers(folder):
        why.append(f"left {os.path.basename(_leftovers(folder)[0])}")
    if case.keep is not None:
        with open(case.keep, "rb") as f:
            if f.read() != OLD:
                why.append("old file lost")
    elif rc != 0 and case.out and os.path.lexists(case.out) and case.out != os.devnull:
        why.append("partial output left")
    if rc == 0 and case.out and case.out.endswith(".h5") and os.path.isfile(case.out):
        try:
            read_network(case.out)
        except FormatError as e:
            why.append(f"written file does not validate: {e.problems[0]}")
    return why


# --------------------------------------------------------------------------- the world
def world_files(d: str) -> Dict[str, str]:
    """A tiny dense network and its input, conv networks for the digits and N-MNIST."""
    w = {k: os.path.join(d, k) for k in ("net.h5", "x.npy", "digits.h5", "nmnist.h5")}
    tiny = random_network(np.random.default_rng(5), conv=False, input_shape=(4,))
    write_network(tiny, w["net.h5"])
    np.save(w["x.npy"], random_input(np.random.default_rng(6), tiny, 3, 4))
    write_network(random_network(np.random.default_rng(1), conv=True, input_shape=(2, 32, 32)),
                  w["digits.h5"])
    write_network(random_network(np.random.default_rng(2), conv=True, input_shape=(2, 34, 34)),
                  w["nmnist.h5"])
    return w




def disk_cases(d: str, w: Dict[str, str]) -> List[Case]:
    """Writes on a 256 KiB tmpfs filled to its last 4 KiB (mounted per case)."""
    mnt = os.path.join(d, "tmpfs")
    target = os.path.join(mnt, "old.h5")
    nir_file = os.path.join(d, "g-disk.nir")
    _quiet(["nir", "export", w["net.h5"], "-o", nir_file])
    fail = (1,)
    x = os.path.join(d, "x-disk.npy")  # its outputs compress to well above 4 KiB
    np.save(x, np.random.default_rng(7).integers(0, 4, (64, 50, 4)))
    return [
        Case("disk", "simulate --out", ["simulate", w["net.h5"], "--input", x, "--out", target],
             fail, keep=target),
        Case("disk", "nir export", ["nir", "export", w["digits.h5"], "-o", target], fail,
             keep=target),
        Case("disk", "nir import", ["nir", "import", nir_file, "-o", target], fail, keep=target),
        Case("disk", "train output.dir", ["train", "--set", f"output.dir={mnt}/run", "--set",
                                          "optim.epochs=1", "--set", "data.limit=8", "--set",
                                          "train.device=cpu", "--no-progress"], fail),
        Case("disk", "evaluate --cache-dir", ["evaluate", w["digits.h5"], "--dataset", "digits",
                                              "--samples", "8", "--cache-dir", f"{mnt}/cache"],
             (0, 1)),
    ]


def memory_cases(d: str, w: Dict[str, str]) -> List[Case]:
    big_x = os.path.join(d, "x-long.npy")
    np.save(big_x, np.zeros((2, 100_000, 4), dtype=np.int8))
    long_x = os.path.join(d, "x-longer.npy")  # records: 200 x 100,000 x 38 int64 = 5.7 GiB
    np.save(long_x, np.zeros((200, 100_000, 4), dtype=np.int8))
    huge = os.path.join(d, "x-huge-header.npy")
    from numpy.lib import format as npy_format
    with open(huge, "wb") as f:
        npy_format.write_array_header_1_0(f, {"descr": "<i8", "fortran_order": False,
                                              "shape": (1000,) * 4})
        f.write(b"\0" * 64)
    gib = 1 << 30
    ev = ["evaluate", w["digits.h5"], "--dataset", "digits", "--cache-dir",
          os.path.join(d, "mem-cache")]
    return [
        # under a limit: it runs (0) or says which limit it met (1), promptly
        Case("memory", "evaluate, RLIMIT_AS 3 GiB", ev, (0, 1), own_process=True,
             rlimit_as=3 * gib),
        Case("memory", "evaluate, RLIMIT_AS 2 GiB", ev, (0, 1), own_process=True,
             rlimit_as=2 * gib),
        Case("memory", "evaluate, RLIMIT_AS 6 GiB", ev, (0, 1), own_process=True,
             rlimit_as=6 * gib),
        Case("memory", "simulate, RLIMIT_AS 3 GiB", ["simulate", w["net.h5"], "--input",
                                                     w["x.npy"]], (0, 1), own_process=True,
             rlimit_as=3 * gib),
        Case("memory", "simulate T=100000, RLIMIT_AS 6 GiB",
             ["simulate", w["net.h5"], "--input", long_x], (2,), own_process=True,
             rlimit_as=6 * gib),
        Case("memory", "simulate T=100000, budget 8 MiB",
             ["simulate", w["net.h5"], "--input", big_x], (2,), own_process=True,
             env={"LAVA_MLSNN_MEMORY_BUDGET": str(8 << 20)}),
        Case("memory", "X.npy header declaring 8 TB", ["simulate", w["net.h5"], "--input", huge],
             (2,), own_process=True),
        Case("memory", "train data.size 65536x65536", ["train", "--set",
                                                       "data.size=[65536,65536]", "--set",
                                                       f"output.dir={d}/mem-run", "--set",
                                                       "train.device=cpu", "--no-progress"],
             (2,), own_process=True),
        Case("memory", "evaluate, budget 1 MiB", ev, (2,), own_process=True,
             env={"LAVA_MLSNN_MEMORY_BUDGET": str(1 << 20)}),
    ]


@contextlib.contextmanager
def full_tmpfs(mnt: str):
    os.makedirs(mnt, exist_ok=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt],
                      capture_output=True).returncode != 0:
        yield False
        return
    try:
        with open(os.path.join(mnt, "old.h5"), "wb") as f:
            f.write(OLD)
        st = os.statvfs(mnt)
        with open(os.path.join(mnt, "filler"), "wb") as f:
            f.write(os.urandom(max(0, st.f_bavail * st.f_frsize - 4096)))
        yield True
    finally:
        subprocess.run(["umount", "-l", mnt], capture_output=True)


def sweep(categories, folder: str) -> Dict:
    w = world_files(folder)
    builders = {"nir": nir_cases, "config": config_cases, "dataset": dataset_cases,
                "disk": disk_cases, "memory": memory_cases}
    counts: Dict[str, Dict[str, int]] = defaultdict(lambda: defaultdict(int))
    broken: List[Dict] = []
    for cat in categories:
        for case in builders[cat](folder, w):
            tmpfs = full_tmpfs(os.path.join(folder, "tmpfs")) if cat == "disk" \
                else contextlib.nullcontext(True)
            with tmpfs as ready:
                if not ready:
                    counts[cat]["skipped"] += 1
                    continue
                if case.prepare:
                    case.prepare()
                t0 = time.monotonic()
                rc, err = (_run_process if case.own_process or cat == "disk" else _run_here)(case)
                took = time.monotonic() - t0
                why = judge(case, rc, err, took, folder)
            counts[cat]["cases"] += 1
            counts[cat][f"exit {rc}"] += 1
            counts[cat]["clean" if not why else "not clean"] += 1
            if why:
                broken.append({"category": cat, "case": case.name, "exit": rc,
                               "why": why, "stderr": err.strip()[-300:]})
    return {"counts": {c: dict(v) for c, v in counts.items()}, "not_clean": broken}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", nargs="+", choices=CATEGORIES, default=list(CATEGORIES))
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    folder = tempfile.mkdtemp(prefix="lava-mlsnn-hostile-")
    t0 = time.monotonic()
    try:
        result = sweep(args.only, folder)
    finally:
        subprocess.run(["umount", "-l", os.path.join(folder, "tmpfs")], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
    result["seconds"] = time.monotonic() - t0
    if args.json:
        print(json.dumps(result))
    else:
        print("| category | cases | clean | not clean | exit 0 / 1 / 2 |")
        print("|---|---:|---:|---:|---|")
        total = defaultdict(int)
        for cat in args.only:
            c = result["counts"].get(cat, {})
            for k in ("cases", "clean", "not clean"):
                total[k] += c.get(k, 0)
            exits = " / ".join(str(c.get(f"exit {e}", 0)) for e in (0, 1, 2))
            skipped = f" ({c['skipped']} skipped: no tmpfs)" if c.get("skipped") else ""
            print(f"| {cat} | {c.get('cases', 0)} | {c.get('clean', 0)} | "
                  f"{c.get('not clean', 0)} | {exits}{skipped} |")
        print(f"| **total** | **{total['cases']}** | **{total['clean']}** | "
              f"**{total['not clean']}** | |")
        print(f"\n{result['seconds']:.0f} s")
        for b in result["not_clean"]:
            print(f"NOT CLEAN {b['category']} / {b['case']}: {'; '.join(b['why'])}: "
                  f"{b['stderr']}")
    return 1 if result["not_clean"] else 0


if __name__ == "__main__":
    sys.exit(main())
