"""Avalanche study on motion digits: activity per block against depth (8 blocks) for every
residual variant, and the Sparse-ResNet design space.

All variants: stem conv 8 (stride 2), two stages of 4 blocks (8 and 16 channels),
N = 4, T = 2, the same training budget and seeds; accuracy of the exported file
(emulator), events and payload per block and in total. Resumable
(``benchmarks/results/avalanche.json``).
Run: nice -n 10 .venv/bin/python benchmarks/study_avalanche.py [--epochs 4] [--seeds 0 1 2]
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _study import SIZE, study_main  # noqa: E402
from _study_report import avalanche_report  # noqa: E402

from lava_mlsnn.models import residual_net  # noqa: E402

SHAPE, CLASSES, T = (2, SIZE, SIZE), 20, 2
VARIANTS = {  # name -> residual_net keyword arguments
    "sew": dict(kind="sew"),
    "sparse": dict(kind="sparse"),
    "spiking": dict(kind="spiking"),
    "iand": dict(kind="iand"),
    "sparse_stage": dict(kind="sparse", barrier="stage"),
    "sparse_clipped": dict(kind="sparse", barrier_ste="clipped"),
    "sparse_nb1": dict(kind="sparse", barrier_levels=1),
    "sparse_shortcut": dict(kind="sparse", barrier="shortcut"),
    # run when the budget allows (--only sparse_nb2 sparse_nb8)
    "sparse_nb2": dict(kind="sparse", barrier_levels=2),
    "sparse_nb8": dict(kind="sparse", barrier_levels=8),
}


def variants(epochs: int):
    return {name: dict(timesteps=T, epochs=epochs, build=lambda s, kw=kw: residual_net(
        input_shape=SHAPE, num_classes=CLASSES, widths=(8, 16), blocks=4, levels=4,
        timesteps=T, **kw)) for name, kw in VARIANTS.items()}


def main(argv=None):
    study_main("avalanche", variants, avalanche_report, epochs=4, argv=argv,
               default_only=[v for v in VARIANTS if v not in ("sparse_nb2", "sparse_nb8")])


if __name__ == "__main__":
    main()
