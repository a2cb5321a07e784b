"""Energy at iso-accuracy and the activity regularizer's accuracy/energy trade-off.

1. Iso-accuracy: the latency study's nets (``results/latency.json``): for every
   multi-level net, the binary net of the nearest accuracy at or above it, and the ratio of
   their energies (memory-aware and SOP models, :mod:`lava_mlsnn.metrics.energy`).
2. Trade-off: the multi-level convnet (N = 4, T = 2) trained with the payload-L1
   activity regularizer at several weights and with a firing-rate target
   (:class:`lava_mlsnn.train.activity.ActivityRegularizer`). Resumable
   (``results/energy_reg.json``).
Run: nice -n 10 .venv/bin/python benchmarks/study_energy.py [--epochs 4] [--seeds 0 1 2]
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _study import SIZE, study_main  # noqa: E402
from _study_report import energy_report_text  # noqa: E402

from lava_mlsnn.models import dvs_convnet  # noqa: E402
from lava_mlsnn.train.activity import ActivityRegularizer  # noqa: E402

T, N = 2, 4
REGULARIZERS = {"none": None, "l1_0.1": ("l1", 0.1), "l1_0.3": ("l1", 0.3),
                "l1_1": ("l1", 1.0), "l1_3": ("l1", 3.0), "rate_0.02": ("rate", 10.0, 0.02)}


def variants(epochs: int):
    out = {}
    for name, reg in REGULARIZERS.items():
        out[name] = dict(timesteps=T, epochs=epochs,
                         build=lambda s: dvs_convnet((2, SIZE, SIZE), 20, levels=N, timesteps=T),
                         regularizer=ActivityRegularizer(*reg) if reg else None)
    return out


def main(argv=None):
    study_main("energy_reg", variants, energy_report_text, epochs=4, argv=argv)


if __name__ == "__main__":
    main()
