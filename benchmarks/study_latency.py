"""Latency study on motion digits: multi-level T = 1 (and 2) against binary T = 1..16.

Same convnet (Conv 16 s2 -> Conv 32 -> SumPool 2 -> Dense 64 -> Readout), training
budget and seeds for every variant; accuracy of the exported file (emulator) and its
energy (memory-aware and SOP models). Resumable: finished runs are kept in
``benchmarks/results/latency.json``.
Run: nice -n 10 .venv/bin/python benchmarks/study_latency.py [--epochs 5] [--seeds 0 1 2]
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _study import SIZE, study_main  # noqa: E402
from _study_report import latency_report  # noqa: E402

from lava_mlsnn.models import dvs_convnet  # noqa: E402


def variants(epochs: int):
    def binary(t):
        return dict(timesteps=t, epochs=epochs, build=lambda s: dvs_convnet(
            (2, SIZE, SIZE), 20, levels=1, timesteps=t))

    def ml(n, t):
        return dict(timesteps=t, epochs=epochs, build=lambda s: dvs_convnet(
            (2, SIZE, SIZE), 20, levels=n, timesteps=t))

    # cheap and decisive runs first, so a cut-short study still answers the question
    out = {"binary_T1": binary(1), "binary_T8": binary(8)}
    out.update({f"ml{n}_T{t}": ml(n, t) for t in (1, 2) for n in (2, 4, 8)})
    out.update({f"binary_T{t}": binary(t) for t in (2, 4, 16)})
    return out


def main(argv=None):
    study_main("latency", variants, latency_report, epochs=5, argv=argv)


if __name__ == "__main__":
    main()
