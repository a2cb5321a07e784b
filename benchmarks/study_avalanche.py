"""Avalanche study on motion digits: activity per block against depth (8 blocks) for every
residual variant, and the Sparse-ResNet design space.

All variants: two stages of 4 blocks, N = 4, T = 2, the same training budget and seeds;
accuracy of the exported file (emulator), events and payload per block and in total.
Default: the wide nets of the depth study (stem at full 16x16 resolution, 16 and 32
channels, 5 epochs; ``benchmarks/results/avalanche.json``). ``--narrow``: stem stride 2,
8 and 16 channels, 4 epochs (``benchmarks/results/avalanche_narrow.json``); these nets stay
near chance. The wide setting also trains five variants for 15 epochs (names ending in
``_e15``), where the depth study shows the 8-block nets far from their 5-epoch accuracy.
Resumable.
Run: nice -n 10 .venv/bin/python benchmarks/study_avalanche.py [--narrow] [--seeds 0 1 2]
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _study import SIZE, study_main  # noqa: E402
from _study_report import avalanche_report, avalanche_narrow_report  # noqa: E402

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
    "sparse_th3": dict(kind="sparse", barrier_threshold=3.0),
    "sparse_nb2": dict(kind="sparse", barrier_levels=2),
    "sparse_nb8": dict(kind="sparse", barrier_levels=8),
}
# Wide nets only: the reference, the sparsest joins and the Sparse-ResNet settings closest to
# SEW ADD, at three times the budget (the depth study's 15 epochs; names end in ``_e15``).
LONG, LONG_VARIANTS = 15, ("sew", "spiking", "sparse", "sparse_stage", "sparse_th3")


SETTINGS = {  # --narrow or not -> (study, widths, stem stride, epochs, report)
    False: ("avalanche", (16, 32), 1, 5, avalanche_report),
    True: ("avalanche_narrow", (8, 16), 2, 4, avalanche_narrow_report),
}


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    narrow = "--narrow" in argv
    study, widths, stride, epochs, report = SETTINGS[narrow]

    def build(kw):
        return lambda s: residual_net(input_shape=SHAPE, num_classes=CLASSES, widths=widths,
                                      blocks=4, levels=4, timesteps=T, stem_stride=stride, **kw)

    def variants(epochs: int):
        out = {name: dict(timesteps=T, epochs=epochs, build=build(kw))
               for name, kw in VARIANTS.items()}
        if not narrow:
            out.update({f"{name}_e{LONG}": dict(timesteps=T, epochs=LONG,
                                                build=build(VARIANTS[name]))
                        for name in LONG_VARIANTS})
        return out

    study_main(study, variants, report, epochs=epochs,
               argv=[a for a in argv if a != "--narrow"])


if __name__ == "__main__":
    main()
