"""Emulator default path on the demo network: the lean MLSN step (the default) vs the plain
integer step (``emulator.LEAN_STEP = False``) vs the lean step recording narrow integers
(``narrow=True``, what ``evaluate`` runs), interleaved in one run, against the float32
synaptic-sum limit of bench_deploy.py.

Run: .venv/bin/python benchmarks/bench_emulator_paths.py [--repeats R] [--rounds N]
(needs runs/demo/digits_mlsn.h5: run bench_deploy.py or the demo first).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys

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
    from lava_mlsnn.data import DigitsDVS, FramedDataset, framing
    spec = read_network(DEMO)
    test = DigitsDVS("test")
    framed = FramedDataset(test, framing(test.sensor_size, 1, clip=spec.input_levels))
    x = torch.stack([framed[i][0] for i in range(len(framed))]).numpy()
    rates = {True: [], False: [], "narrow": [], "limit": []}
    outs = {}
    for _ in range(args.rounds):
        for lean in (True, False):
            emulator.LEAN_STEP = lean
            outs[lean] = emulate(spec, x)
            rates[lean].append(_best_rate(lambda: emulate(spec, x), len(x), args.repeats))
        emulator.LEAN_STEP = True
        outs["narrow"] = emulate(spec, x, narrow=True)
        rates["narrow"].append(_best_rate(lambda: emulate(spec, x, narrow=True), len(x),
                                          args.repeats))
        rates["limit"].append(synaptic_limit(spec, x, args.repeats)[0])
    same = all(torch.equal(outs[True][i], outs[k][i].to(torch.int64)) for i in outs[True]
               for k in (False, "narrow"))
    limit = statistics.median(rates["limit"])
    print(f"| path (demo network, T=1, {len(x)} samples) | samples/s | % of limit | identical |")
    print("|---|---|---|---|")
    for name, key in (("default: lean MLSN step", True), ("plain integer step", False),
                      ("lean step, narrow records (emulate(narrow=True), as evaluate runs)",
                       "narrow")):
        r = statistics.median(rates[key])
        print(f"| {name} | {r:.0f} | {100 * r / limit:.0f} % | {'yes' if same else 'NO'} |")
    print(f"| limit: float32 synaptic sums alone | {limit:.0f} | 100 % | - |")


if __name__ == "__main__":
    main()
