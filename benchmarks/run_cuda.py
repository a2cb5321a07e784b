"""One run on a GPU machine fills the CUDA column of BENCHMARKS.md.

Steps, in order (the CPU figures are re-measured in the same run, on the same machine):

1. GPU exactness: pytest on every test module that skips without CUDA (found by
   scanning ``tests/`` for a ``torch.cuda.is_available()`` skip); passed / failed counts.
2. Deployment: emulator samples/s on the CPU and on the device, with identical integers
   on every layer required: the demo network (``runs/demo/digits_mlsn.h5``, when present
   with its data) and a random multi-level conv network at T = 16.
3. Training step: ``bench_training_step.py``'s contenders (conv floor, multi-level Conv,
   lava-dl ``cuba.Conv``) on the CPU and on the device, interleaved, best of ``--repeats``.

Without a CUDA device the script measures nothing: it prints the plan and says the CUDA
column stays unmeasured (exit 0). ``--device cpu --smoke`` runs every step on the CPU at
tiny sizes without writing (what ``tests/test_run_cuda.py`` checks).

Run: .venv/bin/python benchmarks/run_cuda.py [--repeats 10]
     .venv/bin/python benchmarks/run_cuda.py --dry-run
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from _report import publish, table  # noqa: E402

SECTION = "CUDA column: deployment, training step and GPU exactness"
DEMO = os.path.join(ROOT, "runs", "demo", "digits_mlsn.h5")
PLAN = ["GPU exactness tests: {tests}",
        "emulator samples/s, CPU vs device: demo network (if {demo} exists), random conv "
        "net T = 16",
        "training step ms, CPU vs device: conv floor, multi-level Conv, lava-dl cuba.Conv"]


def gpu_test_files() -> List[str]:
    """Test modules that skip without CUDA."""
    tests = os.path.join(ROOT, "tests")
    return sorted(os.path.join("tests", f) for f in os.listdir(tests)
                  if f.startswith("test_") and f.endswith(".py")
                  and re.search(r"skipif\(\s*not torch\.cuda\.is_available\(\)",
                                open(os.path.join(tests, f)).read()))


def run_gpu_tests(files: Sequence[str]) -> Tuple[str, bool]:
    """``'N passed, M failed, K skipped'`` of one pytest run, and whether none failed."""
    if not files:  # never a bare pytest: that would run the whole suite
        return "no test skips without CUDA", True
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          *files], cwd=ROOT, capture_output=True, text=True)
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|error)",
                                               out.stdout.splitlines()[-1] if out.stdout
                                               else "")}
    text = ", ".join(f"{counts.get(k, 0)} {k}" for k in ("passed", "failed", "skipped"))
    ok = out.returncode in (0, 5) and not counts.get("failed") and not counts.get("error")
    return text, ok


def _best(fn: Callable[[], object], repeats: int, sync: Callable[[], None]) -> float:
    fn()  # warm-up (cuDNN autotuning, weight caches)
    best = float("inf")
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - t0)
    return best


def emulator_rows(device: str, repeats: int, smoke: bool, sync) -> Tuple[List[list], bool]:
    """Samples/s of the emulator on the CPU and on ``device``; identical integers."""
    from lava_mlsnn.format.random_net import random_input, random_network
    from lava_mlsnn.netx import emulate, read_network
    nets = []
    if not smoke and os.path.exists(DEMO):
        try:
            from lava_mlsnn.data import DigitsDVS, FramedDataset, framing
            spec = read_network(DEMO)
            test = DigitsDVS("test")
            framed = FramedDataset(test, framing(test.sensor_size, 1, clip=spec.input_levels))
            x = torch.stack([framed[i][0] for i in range(len(framed))]).numpy()
            nets.append(("demo network (T=1)", spec, x))
        except Exception as e:  # noqa: BLE001 - the row says why it is missing
            nets.append((f"demo network: not run ({type(e).__name__}: {e})", None, None))
    else:
        nets.append(("demo network: not run (runs/demo/digits_mlsn.h5 absent)", None, None))
    steps, batch, size = (2, 4, 8) if smoke else (16, 256, 32)
    spec = random_network(np.random.default_rng(0), levels=3, input_shape=(2, size, size),
                          timesteps=steps)
    nets.append((f"random conv net (T={steps}, {batch} samples)", spec,
                 random_input(np.random.default_rng(1), spec, batch, steps)))
    rows, ok = [], True
    for name, spec, x in nets:
        if spec is None:
            rows.append([f"emulator, {name}", "-", "-", "-", "-"])
            continue
        xc, xd = torch.as_tensor(x), torch.as_tensor(x).to(device)
        cpu_out, dev_out = emulate(spec, xc), emulate(spec, xd)
        same = all(torch.equal(cpu_out[i], dev_out[i].cpu()) for i in cpu_out)
        ok &= same
        t_cpu = _best(lambda: emulate(spec, xc), repeats, lambda: None)
        t_dev = _best(lambda: emulate(spec, xd), repeats, sync)
        rows.append([f"emulator samples/s, {name}", f"{len(x) / t_cpu:.0f}",
                     f"{len(x) / t_dev:.0f}", f"{t_cpu / t_dev:.1f}x",
                     "yes" if same else "NO"])
    return rows, ok


def training_rows(device: str, repeats: int, smoke: bool, sync) -> List[list]:
    """Training-step ms per contender on the CPU and on ``device``."""
    import bench_training_step as bts
    shapes = [(2, 2, 4, 8, 1), (2, 2, 4, 8, 4)] if smoke else bts.SHAPES
    names = {"floor": "conv floor", "ours": "multi-level Conv", "cuba": "lava-dl cuba.Conv"}
    rows = []
    for shape in shapes:
        torch.manual_seed(0)
        cpu = bts.best_interleaved({k: v for k, v in bts.contenders(*shape).items()
                                    if k in names}, repeats)
        try:
            dev: Dict[str, float] = bts.best_interleaved(
                bts.contenders(*shape, device=device), repeats, sync)
        except Exception as e:  # noqa: BLE001 - lava-dl's CUDA kernels compile with nvcc
            dev, why = {}, f"{type(e).__name__}: {str(e).splitlines()[0][:80]}"
            if "cuba" not in why:
                raise
        batch, c_in, c_out, size, steps = shape
        for k, label in names.items():
            d = dev.get(k)
            rows.append([f"training step ms, {label}, {batch}x{c_in}x{size}x{size} T={steps} "
                         f"-> {c_out}", f"{cpu[k] * 1e3:.2f}",
                         "failed" if d is None else f"{d * 1e3:.2f}",
                         "-" if d is None else f"{cpu[k] / d:.1f}x", "-"])
    return rows


def main(argv: List[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu (with --smoke)")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, the demo left out")
    ap.add_argument("--dry-run", action="store_true", help="print the plan only")
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md")
    args = ap.parse_args(argv)
    tests = gpu_test_files()
    plan = [p.format(tests=" ".join(tests) or "none found", demo=os.path.relpath(DEMO, ROOT))
            for p in PLAN]
    has_cuda = args.device.startswith("cuda") and torch.cuda.is_available()
    if args.dry_run or (args.device.startswith("cuda") and not has_cuda):
        why = "dry run" if args.dry_run else "no CUDA device here"
        print(f"run_cuda: {why}; the CUDA column of BENCHMARKS.md stays unmeasured. Plan:")
        print("\n".join(f"  {i + 1}. {p}" for i, p in enumerate(plan)))
        return 0
    if args.device != "cpu" and not has_cuda:
        print(f"run_cuda: error: unknown device {args.device!r} (cuda or cpu)", file=sys.stderr)
        return 2
    sync = torch.cuda.synchronize if has_cuda else (lambda: None)
    t0 = time.perf_counter()
    test_text, tests_ok = run_gpu_tests(tests)
    rows = [["GPU exactness tests (" + ", ".join(os.path.basename(t) for t in tests) + ")", "-",
             test_text, "-", "yes" if tests_ok else "NO"]]
    emu, emu_ok = emulator_rows(args.device, args.repeats, args.smoke, sync)
    rows += emu + training_rows(args.device, args.repeats, args.smoke, sync)
    device = torch.cuda.get_device_name(0) if has_cuda else "cpu"
    body = table(["measure", "CPU", f"{device}", "CPU / device", "identical"], rows) + \
        (f"\n\nOne run of every step ({time.perf_counter() - t0:.0f} s); best of "
         f"{args.repeats} per figure; on the GPU the multi-level block runs the step-by-step "
         "loop (the compiled loop is CPU-only).\n")
    if args.no_write or args.smoke:
        print(body)
    else:
        publish(SECTION, ".venv/bin/python benchmarks/run_cuda.py", body)
    return 0 if tests_ok and emu_ok else 1


if __name__ == "__main__":
    sys.exit(main())
