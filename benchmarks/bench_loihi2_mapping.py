"""Loihi 2: compiler cores (published) vs lava-mlsnn's estimate per layer, measured vs estimated
frames/s and mJ per inference, and the same estimate for the demo network and the papers'
architectures (cores, chips, fits one chip?, frames/s, mJ).

Pure arithmetic (no timing): the compiler's tables and the Loihi 2 measurements are those of
lava-dl's notebooks (snapshot d825ac5; ``shared/lava-dl-nets/loihi2_allocations.md``, plus the
Oxford table of ``tutorials/lava/lib/dl/netx/oxford/run.ipynb``).

Run: PYTHONPATH=. python benchmarks/bench_loihi2_mapping.py [NETS_DIR] [--no-papers]
"""
from __future__ import annotations

import glob
import os
import sys
from pathlib import Path

from lava_mlsnn.backends.loihi2.estimate import ACTIVITY, loihi2_estimate, performance
from lava_mlsnn.backends.loihi2.mapping import estimate_file
from lava_mlsnn.format import read_network

ROOT = Path(__file__).resolve().parents[1]

#: Published cores per layer, input side first.
PUBLISHED = {
    "tut_netx_pilotnet_sdnn_network.net": [25, 13, 3, 3, 2, 12, 1, 1, 1],
    "test_netx_gts_pilotnet_lif_network.net": [13, 25, 13, 3, 3, 2, 12, 1, 1, 1],
    "tut_netx_mnist_trained_mnist_network.net": [3, 1, 1],
    # oxford/run.ipynb: 3 cores of 85 neurons (5,400 words), 2 of 100 (8,064 words).
    "tut_netx_oxford_Trained_network.net": [3, 2],
}

#: Loihi 2 measurements (file, steps per inference, frames/s, total mJ, dynamic mJ, notebook).
MEASURED = [
    ("test_netx_gts_pilotnet_lif_network.net", 16, 408.91, 1.661, 1.094,
     "pilotnet_snn/benchmark.ipynb (reset_interval 16)"),
    ("tut_netx_pilotnet_sdnn_network.net", 1, 16.87, 16.34, None,
     "pilotnet_sdnn/benchmark.ipynb (host-input bound)"),
]


def compiler_tables(nets: Path) -> None:
    for name, published in PUBLISHED.items():
        rows = estimate_file(nets / name)
        print(f"\n{name}\n| layer | compiler cores | estimate cores | est. neurons/core | "
              "est. syn words/core | binds |\n|---|---|---|---|---|---|")
        for (label, m), p in zip(rows, published):
            print(f"| {label} | {p} | {m.cores} | {m.neurons_per_core} | "
                  f"{m.syn_words_per_core} | {m.binds} |")
        print(f"| **total** | **{sum(published)}** | **{sum(m.cores for _, m in rows)}** | | | |")


def measured_table(nets: Path) -> None:
    print("\n| network | activity | bound | est. ms/step | est. frames/s | measured frames/s "
          "| ratio | est. mJ (static + dynamic) | measured mJ (dynamic) | ratio |\n"
          "|---|---|---|---|---|---|---|---|---|---|")
    for name, steps, fps, mj, dyn, where in MEASURED:
        spec = read_network(nets / name)
        for act in (ACTIVITY / 2, ACTIVITY, ACTIVITY * 2):
            p = performance(spec, activity=act, steps=steps)
            e_mj = p.energy_j * 1e3
            meas = f"{mj:.3f}" + (f" ({dyn:.3f})" if dyn is not None else " (~0)")
            print(f"| {name} ({where}) | {act:g}{' (default)' if act == ACTIVITY else ''} | "
                  f"{p.bound} | {p.step_s * 1e3:.3f} | {p.fps:.1f} | {fps} | "
                  f"{p.fps / fps:.2f} | {e_mj:.3f} ({p.static_j * 1e3:.3f} + "
                  f"{p.dynamic_j * 1e3:.3f}) | {meas} | {e_mj / mj:.2f} |")


def architectures():
    """(name, NetworkSpec, steps) of the demo network and every paper configuration."""
    from lava_mlsnn.block import fold_network
    from lava_mlsnn.models import dvs_convnet
    from lava_mlsnn.train.config import resolve
    from lava_mlsnn.train.models import build_model

    # The demo's network (lava_mlsnn/demo.py defaults): 2 x 32 x 32 digits, N = 4, T = 1.
    demo = dvs_convnet((2, 32, 32), 10, levels=4, input_levels=7, timesteps=1)
    yield "demo (dvs_convnet, digits 2x32x32)", fold_network(demo, allow_clipping=True)
    for path in sorted(glob.glob(str(ROOT / "lava_mlsnn" / "configs" / "papers" / "*.yaml"))):
        cfg = resolve([path], ["data.root=/nonexistent"])
        w, h = cfg["data"]["size"]
        n = 11 if cfg["data"]["dataset"] == "dvsgesture" else 10
        net = build_model(cfg, (2, h, w), n)
        yield f"papers/{os.path.basename(path)[:-5]}", fold_network(net, allow_clipping=True)


def architecture_table() -> None:
    print(f"\n| network | layers | neurons | cores | chips | fits one chip | bound | T | "
          f"frames/s | mJ per inference |\n|---|---|---|---|---|---|---|---|---|---|")
    for name, spec in architectures():
        try:
            est = loihi2_estimate(spec)
        except ValueError as exc:
            print(f"| {name} | {len(spec.layers)} | | not estimated: {exc} | | | | | | |")
            continue
        p = est["performance"]
        print(f"| {name} | {len(spec.layers)} | {est['neurons']:,} | {est['cores']} | "
              f"{est['chips']} | {'yes' if est['fits_one_chip'] else 'no'} | {p['bound']} | "
              f"{p['steps']} | {p['fps']:.1f} | {p['mj_per_inference']:.2f} |")


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    nets = Path(args[0]) if args else ROOT.parent / "shared" / "lava-dl-nets"
    compiler_tables(nets)
    measured_table(nets)
    if "--no-papers" not in sys.argv:
        architecture_table()


if __name__ == "__main__":
    main()
