"""Training throughput of ``training/train_dvs.py`` on this CPU.

1. The default configuration (embedded digits, convnet, N=4, T=1), with and without the
   framed-tensor cache: end-to-end training samples/s, and the data path alone (one pass
   of the training loader, no model).
2. DDP on CPU: ``torchrun --nproc_per_node=2`` (gloo, 1 thread each) vs one process
   (all cores, and one thread), at the same global batch and at twice the global batch.

Throughput is the median over epochs 2..E of training samples / epoch wall time
(validation, checkpoints and plots excluded).
Run: .venv/bin/python benchmarks/bench_training.py [--epochs E]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Dict, List

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import ROOT, publish, table  # noqa: E402

PY = sys.executable
SCRIPT = os.path.join(ROOT, "training", "train_dvs.py")
TORCHRUN = os.path.join(os.path.dirname(PY), "torchrun")


def train(work: str, name: str, sets: List[str], procs: int = 1, threads: int = 0) -> Dict:
    """One training run in a fresh process (or ``procs`` torchrun workers); its metrics."""
    out = os.path.join(work, name)
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    args = ["--no-progress", "--set", f"output.dir={out}", "--set", "train.device=cpu"]
    for s in sets:
        args += ["--set", s]
    cmd = [PY, SCRIPT, *args] if procs == 1 else \
        [TORCHRUN, "--standalone", f"--nproc_per_node={procs}", SCRIPT, *args]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{name} failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}")
    from lava_mlsnn.train.runlog import read_metrics
    rows = read_metrics(os.path.join(out, "metrics.csv"))
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    rates = sorted(float(r["samples_per_s"]) for r in rows[1:] or rows)
    return {"samples_per_s": rates[len(rates) // 2],
            "first_epoch_samples_per_s": float(rows[0]["samples_per_s"]),
            "val_acc": float(rows[-1]["val_acc"]), "wall_s": wall,
            "test_acc": summary["test_acc_quantized"], "identical": summary["ranks_identical"]}


def loader_throughput(cache: bool, cache_dir: str) -> float:
    """Samples/s of one pass of the default training loader (data only, no model)."""
    from lava_mlsnn.train import config as C
    from lava_mlsnn.train.data import build_data, train_loader
    cfg = C.resolve([], [f"data.cache={str(cache).lower()}"])
    data = build_data(cfg, cache_dir)
    if cache:
        data.train.materialize()  # as the training script does before the first epoch
    loader, sampler = train_loader(data.train, cfg["optim"]["batch_size"], 0)
    sampler.set_epoch(0)
    t0 = time.perf_counter()
    n = sum(len(y) for _, y in loader)
    return n / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2,
                        help="runs of every configuration, interleaved; the best one counts")
    parser.add_argument("--limit", type=int, default=400,
                        help="samples per split (throughput per sample does not depend on it)")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="bench-training-")
    cache_dir = os.path.join(work, "frames")
    base = [f"optim.epochs={args.epochs}", f"data.cache_dir={cache_dir}",
            f"data.limit={args.limit}"]
    cores = os.cpu_count() or 1
    runs = {"cached": (base, 1, 0), "uncached": (base + ["data.cache=false"], 1, 0),
            "single": (base, 1, 1), "ddp_same": (base + ["optim.batch_size=16"], 2, 1),
            "ddp_double": (base, 2, 1)}
    best: Dict[str, Dict] = {}
    try:
        load = os.getloadavg()[0]
        data_cached = max(loader_throughput(True, cache_dir) for _ in range(args.repeats))
        data_uncached = max(loader_throughput(False, cache_dir) for _ in range(args.repeats))
        for r in range(args.repeats):
            for name, (sets, procs, threads) in runs.items():
                res = train(work, f"{name}-{r}", sets, procs, threads)
                if name not in best or res["samples_per_s"] > best[name]["samples_per_s"]:
                    best[name] = res
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cached, uncached, single = best["cached"], best["uncached"], best["single"]
    ddp_same, ddp_double = best["ddp_same"], best["ddp_double"]
    rows1 = [
        ["data path only (1 pass of the loader)", f"{data_cached:,.0f}", f"{data_uncached:,.0f}",
         f"{data_cached / data_uncached:.1f}x"],
        [f"training (1 process, {cores} threads)",
         f"{cached['samples_per_s']:.1f}", f"{uncached['samples_per_s']:.1f}",
         f"{cached['samples_per_s'] / uncached['samples_per_s']:.2f}x"],
    ]
    t1 = table(["default config (digits, convnet 16/32, N=4, T=1)", "cache (samples/s)",
                "no cache (samples/s)", "ratio"], rows1)
    one = cached["samples_per_s"]
    rows2 = [
        [f"1 process x {cores} threads", "32", f"{one:.1f}", "1.00x", "-"],
        ["1 process x 1 thread", "32", f"{single['samples_per_s']:.1f}",
         f"{single['samples_per_s'] / one:.2f}x", "-"],
        ["2 processes x 1 thread (gloo)", "2 x 16 = 32", f"{ddp_same['samples_per_s']:.1f}",
         f"{ddp_same['samples_per_s'] / one:.2f}x", str(ddp_same["identical"])],
        ["2 processes x 1 thread (gloo)", "2 x 32 = 64", f"{ddp_double['samples_per_s']:.1f}",
         f"{ddp_double['samples_per_s'] / one:.2f}x", str(ddp_double["identical"])],
    ]
    t2 = table(["DDP on CPU, default config", "global batch", "samples/s", "vs 1 process",
                "ranks identical"], rows2)
    note = (f"Load average when started: {load:.1f} on {cores} cores; the machine may be "
            "shared, so compare the ratios of runs made back to back rather than absolute "
            f"figures. Throughput = median over epochs 2..{args.epochs} of training samples / "
            "epoch wall time (validation, checkpoints and plots excluded), best of "
            f"{args.repeats} interleaved runs, data.limit={args.limit} samples per split. "
            "'Data path only' "
            "iterates the training loader without a model: cached frames vs framing the events "
            "of every sample on each access. The digits events are in memory; for the tonic "
            "data sets the uncached path also reads every file from disk each epoch.")
    publish("Training throughput: framed-tensor cache and DDP on CPU",
            ".venv/bin/python benchmarks/bench_training.py", f"{t1}\n\n{t2}\n\n{note}\n")


if __name__ == "__main__":
    main()
