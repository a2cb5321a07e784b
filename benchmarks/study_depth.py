"""Depth on motion digits: wider residual nets (16-32 channels, full 16x16 stem) with 2 and 8
blocks against the convnet of the latency study (N = 4, T = 2, same 5-epoch budget).

Resumable (``benchmarks/results/depth.json``).
Run: nice -n 10 .venv/bin/python benchmarks/study_depth.py [--epochs 5] [--seeds 0 1 2]
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _study import SIZE, study_main  # noqa: E402
from _study_report import depth_report  # noqa: E402

from lava_mlsnn.models import residual_net  # noqa: E402

T, N = 2, 4
VARIANTS = {"spiking_8blocks": ("spiking", 4), "sew_8blocks": ("sew", 4),
            "spiking_2blocks": ("spiking", 1)}


def variants(epochs: int):
    return {name: dict(timesteps=T, epochs=epochs, build=lambda s, k=k, b=b: residual_net(
        k, (2, SIZE, SIZE), 20, widths=(16, 32), blocks=b, levels=N, timesteps=T,
        stem_stride=1)) for name, (k, b) in VARIANTS.items()}


def main(argv=None):
    study_main("depth", variants, depth_report, epochs=5, argv=argv)


if __name__ == "__main__":
    main()
