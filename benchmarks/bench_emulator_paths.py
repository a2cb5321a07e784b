"""Emulator default path on the demo network (T = 1): the layer-major run with compiled
neuron loops (the default, its MLSN layers on the float32 loop) vs the step-major lean MLSN
step (``emulator.KERNEL_MIN_STEPS = 2``) vs the plain
integer step (``KERNEL_STEP = LEAN_STEP = False``), with int64 and narrow records
(``narrow=True``, what ``evaluate`` runs, on int64 frames and on the frames as
``evaluate`` reads them: their stored type), interleaved in one run, against the float32
synaptic-sum limit of bench_deploy.py. The kernels' first-call compile (or cache load) is
paid in the warm-up run, outside the timings.

Run: .venv/bin/python benchmarks/bench_emulator_paths.py [--repeats R] [--rounds N]
(needs runs/demo/digits_mlsn.h5: run bench_deploy.py or the demo first).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this tree
from bench_deploy import DEMO, _best_rate, synaptic_limit  # noqa: E402

import lava_mlsnn.backends.emulator as emulator  # noqa: E402
from lava_mlsnn.netx import emulate, read_network  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7, help="runs per timing (best taken)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    args = parser.parse_args(argv)
    from lava_mlsnn.backends.evaluate import FrameBatches
    from lava_mlsnn.data import DigitsDVS, FramedDataset, framing
    from lava_mlsnn.data.splits import FrameSet
    spec = read_network(DEMO)
    test = DigitsDVS("test")
    framed = FramedDataset(test, framing(test.sensor_size, 1, clip=spec.input_levels))
    x = torch.stack([framed[i][0] for i in range(len(framed))]).numpy()  # int64
    # the frames as evaluate reads them (FrameBatches: their stored type, uint8 here)
    stored = FrameBatches(FrameSet(framed, np.arange(len(framed)), "test")).take(0, len(x))[0]
    assert np.array_equal(stored, x)
    # (row name, emulator.KERNEL_MIN_STEPS, emulator.LEAN_STEP, narrow records, input); the
    # default runs T = 1 layer-major, KERNEL_MIN_STEPS = 2 keeps the step-major lean step
    paths = (("default: layer-major, float32 MLSN loop (KERNEL_MIN_STEPS = 1)", 1, True, False,
              x),
             ("default, narrow records (emulate(narrow=True))", 1, True, True, x),
             (f"default, narrow records, {stored.dtype} frames (as evaluate runs)", 1, True,
              True, stored),
             ("step-major lean MLSN step (KERNEL_MIN_STEPS = 2)", 2, True, False, x),
             ("step-major lean step, narrow records", 2, True, True, x),
             ("plain integer step (KERNEL_STEP = LEAN_STEP = False)", None, False, False, x))
    rates = {name: [] for name, *_ in paths}
    rates["limit"] = []
    outs = {}
    for _ in range(args.rounds):
        for name, kernel, lean, narrow, inp in paths:
            emulator.KERNEL_STEP, emulator.LEAN_STEP = kernel is not None, lean
            emulator.KERNEL_MIN_STEPS = kernel or 1
            outs[name] = emulate(spec, inp, narrow=narrow)  # warm-up (and compile, cached)
            rates[name].append(_best_rate(lambda: emulate(spec, inp, narrow=narrow), len(x),
                                          args.repeats))
        emulator.KERNEL_STEP, emulator.LEAN_STEP, emulator.KERNEL_MIN_STEPS = True, True, 1
        rates["limit"].append(synaptic_limit(spec, x, args.repeats)[0])
    base = outs[paths[-1][0]]
    same = {name: all(torch.equal(base[i], outs[name][i].to(torch.int64)) for i in base)
            for name in outs}
    limit = statistics.median(rates["limit"])
    print(f"| path (demo network, T=1, {len(x)} samples) | samples/s | % of limit | identical |")
    print("|---|---|---|---|")
    for name, *_ in paths:
        r = statistics.median(rates[name])
        print(f"| {name} | {r:.0f} | {100 * r / limit:.0f} % | {'yes' if same[name] else 'NO'} |")
    print(f"| limit: float32 synaptic sums alone | {limit:.0f} | 100 % | - |")


if __name__ == "__main__":
    main()
