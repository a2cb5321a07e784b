"""Peak memory per 1,000 samples next to speed: evaluating a test set with the emulator
with every layer kept as int64 (the frames and all records in memory, as before) vs
narrow records (``emulate(narrow=True)``) vs the streamed evaluation (``FrameBatches``:
one batch of frames and records at a time, as ``lava-mlsnn evaluate`` runs).

Each case runs in its own subprocess: peak memory is that process's peak resident size
(``VmHWM``, reset just before the case) above its resident size then (imports, network
and warm-up excluded); the
frames are produced on demand from a fixed generator, so the in-memory cases count the
int64 frames array they build and the streamed case only its batches. "emulator
samples/s" times the emulator calls alone; "end to end" adds building the frames and,
for the evaluation, classifying and counting the activity of every layer.

Run: .venv/bin/python benchmarks/bench_memory.py [--samples N] [--repeats R]
(needs runs/demo/digits_mlsn.h5: run bench_deploy.py or the demo first).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)  # this tree's lava_mlsnn
CASES = ("int64 records, frames in memory", "narrow records, frames in memory",
         "streamed, narrow records (evaluate)")
NETS = ("demo network (T=1)", "lava-dl CUBA conv (T=16)")


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as f:
        line = next(ln for ln in f if ln.startswith(key + ":"))
    return int(line.split()[1]) / 1024  # kB


def _reset_peak() -> float:
    """Reset the process's peak resident size to its current one (Linux >= 4.0:
    ``clear_refs`` 5); returns that size (MB)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _status_mb("VmRSS")


def _peak_mb() -> float:
    return _status_mb("VmHWM")


class _Frames:
    """Samples ``(float32 [T, C, H, W], label)`` made on demand (a FrameSet stand-in)."""

    def __init__(self, make, n: int) -> None:
        self.make, self.n = make, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        import torch
        x, y = self.make(i)
        return torch.from_numpy(x.astype(np.float32)), y


def _network(net: int, tmp: str):
    """(spec, sample(i) -> (int frames [T, C, H, W], label))."""
    sys.path.insert(0, HERE)
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from lava_mlsnn.netx import read_network
    if net == 0:
        from lava_mlsnn.data import DigitsDVS, FramedDataset, framing
        spec = read_network(os.path.join(ROOT, "runs/demo/digits_mlsn.h5"))
        test = DigitsDVS("test")
        framed = FramedDataset(test, framing(test.sensor_size, 1, clip=spec.input_levels))
        cache = [framed[i] for i in range(len(framed))]
        return spec, lambda i: (cache[i % len(cache)][0].numpy(), int(cache[i % len(cache)][1]))
    from bench_stock import cuba_conv
    path = os.path.join(tmp, "cuba.h5")
    cuba_conv(path)
    spec = read_network(path)

    def sample(i):
        rng = np.random.default_rng(i)
        return (rng.random((16, 2, 32, 32)) < 0.15).astype(np.int64), i % 10
    return spec, sample


def _run_case(spec, frames: _Frames, case: int, batch: int) -> tuple:
    """(emulator s, total s, records kept MB or None) of one evaluation of ``frames``."""
    from lava_mlsnn.backends.emulator import emulate
    from lava_mlsnn.backends.evaluate import FrameBatches, evaluate_file
    t = time.perf_counter()
    if case == 2:
        ev, _ = evaluate_file(spec, FrameBatches(frames), None, batch_size=batch)
        return ev.run_s, time.perf_counter() - t, None
    x, _ = FrameBatches(frames).take(0, len(frames))
    t1 = time.perf_counter()
    out = emulate(spec, x, narrow=case == 1)
    emu_s = time.perf_counter() - t1
    kept = sum(v.numel() * v.element_size() for v in out.values()) / 2 ** 20
    del out, x
    return emu_s, time.perf_counter() - t, kept


def worker(net: int, case: int, samples: int, batch: int, repeats: int) -> dict:
    """``repeats == 0``: one run measuring peak memory; else the best of ``repeats`` timed
    runs (resetting the peak slows the process down, so the two are measured apart)."""
    from lava_mlsnn.backends.emulator import emulate
    with tempfile.TemporaryDirectory() as tmp:
        spec, sample = _network(net, tmp)
        frames = _Frames(sample, samples)
        warm = np.stack([sample(i)[0] for i in range(2)])
        emulate(spec, warm)
        emulate(spec, warm, narrow=True)
        if repeats == 0:
            base = _reset_peak()
            _, _, kept = _run_case(spec, frames, case, batch)
            return {"peak_mb": _peak_mb() - base, "records_mb": kept}
        runs = [_run_case(spec, frames, case, batch) for _ in range(repeats)]
    return {"emu_s": min(r[0] for r in runs), "total_s": min(r[1] for r in runs)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=256, help="streamed batch size")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per case (fastest "
                    "taken; peak memory: the smaller of two runs)")
    ap.add_argument("--worker", type=int, nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        print(json.dumps(worker(a.worker[0], a.worker[1], a.samples, a.batch, a.repeats)))
        return
    per_k = 1000 / a.samples
    print("| network | case | peak memory per 1,000 samples (MB) | records kept (MB per "
          "1,000) | emulator samples/s | end to end samples/s |")
    print("|---|---|---|---|---|---|")
    for net, name in enumerate(NETS):
        for case, what in enumerate(CASES):
            def run(repeats):
                r = subprocess.run([sys.executable, __file__, "--worker", str(net), str(case),
                                    "--samples", str(a.samples), "--batch", str(a.batch),
                                    "--repeats", str(repeats)],
                                   capture_output=True, text=True, cwd=ROOT, check=True)
                return json.loads(r.stdout.strip().splitlines()[-1])
            mem = [run(0) for _ in range(2)]
            speed = run(a.repeats)
            peak = min(r["peak_mb"] for r in mem) * per_k
            rec = mem[0]["records_mb"]
            rec = f"{rec * per_k:.0f}" if rec is not None else f"one batch of {a.batch}"
            emu = a.samples / speed["emu_s"]
            total = a.samples / speed["total_s"]
            print(f"| {name} | {what} | {peak:.0f} | {rec} | {emu:.0f} | {total:.0f} |")

if __name__ == "__main__":
    main()
