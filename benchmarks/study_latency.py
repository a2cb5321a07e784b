"""Latency study on motion digits: multi-level T = 1 (and 2) against binary T = 1..16.

Same convnet (Conv 16 s2 -> Conv 32 -> SumPool 2 -> Dense 64 -> Readout), training
budget and seeds for every variant; accuracy of the exported file (emulator) and its
energy (memory-aware and SOP models), at the 5-epoch budget and at three times it (15
epochs, names ending in ``_e15``). Resumable: finished runs are kept in
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


LONG = 15


def variants(epochs: int):
    def net(n, t, e):
        return dict(timesteps=t, epochs=e, build=lambda s: dvs_convnet(
            (2, SIZE, SIZE), 20, levels=n, timesteps=t))

    # cheap and decisive runs first, so a cut-short study still answers the question
    nets = {"binary_T1": (1, 1), "binary_T8": (1, 8)}
    nets.update({f"ml{n}_T{t}": (n, t) for t in (1, 2) for n in (2, 4, 8)})
    nets.update({f"binary_T{t}": (1, t) for t in (2, 4, 16)})
    out = {name: net(n, t, epochs) for name, (n, t) in nets.items()}
    out.update({f"{name}_e{LONG}": net(n, t, LONG) for name, (n, t) in nets.items()})
    return out


def main(argv=None):
    study_main("latency", variants, latency_report, epochs=5, argv=argv)


if __name__ == "__main__":
    main()
