"""Depth on motion digits: wider residual nets (16-32 channels, full 16x16 stem) with 2 and 8
blocks against the convnet of the latency study (N = 4, T = 2, same 5-epoch budget), and
the same nets (plus SEW ADD with 2 blocks) at three times the budget (15 epochs, names
ending in ``_e15``), to tell a budget limit from a depth limit.

Resumable (``benchmarks/results/depth.json``).
Run: nice -n 10 .venv/bin/python benchmarks/study_depth.py [--epochs 5] [--seeds 0 1 2]
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _study import SIZE, study_main  # noqa: E402
from _study_report import depth_report  # noqa: E402

from lava_mlsnn.models import dvs_convnet, residual_net  # noqa: E402

T, N, LONG = 2, 4, 15
VARIANTS = {"spiking_8blocks": ("spiking", 4), "sew_8blocks": ("sew", 4),
            "spiking_2blocks": ("spiking", 1)}
LONG_VARIANTS = {"convnet": None, "spiking_2blocks": ("spiking", 1), "sew_2blocks": ("sew", 1),
                 "spiking_8blocks": ("spiking", 4), "sew_8blocks": ("sew", 4)}


def _build(join_blocks):
    if join_blocks is None:  # the latency study's convnet (its ml4_T2)
        return lambda s: dvs_convnet((2, SIZE, SIZE), 20, levels=N, timesteps=T)
    kind, blocks = join_blocks
    return lambda s: residual_net(kind, (2, SIZE, SIZE), 20, widths=(16, 32), blocks=blocks,
                                  levels=N, timesteps=T, stem_stride=1)


def variants(epochs: int):
    out = {name: dict(timesteps=T, epochs=epochs, build=_build(jb))
           for name, jb in VARIANTS.items()}
    out.update({f"{name}_e{LONG}": dict(timesteps=T, epochs=LONG, build=_build(jb))
                for name, jb in LONG_VARIANTS.items()})
    return out


def main(argv=None):
    study_main("depth", variants, depth_report, epochs=5, argv=argv)


if __name__ == "__main__":
    main()
