"""Sparse-ResNet vs SEW-ResNet ADD vs Spiking ResNet on the embedded DVS digits (T = 1).

Same depth, widths, N, T and training budget for the three; accuracy of the exported
file (emulator), events and payload sum per sample, and activity per block (plot).
Run: .venv/bin/python benchmarks/bench_resnet.py [--epochs E] [--fast]
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import FIGURES, digits_frames, pct, train_export_evaluate  # noqa: E402
from _report import publish, table  # noqa: E402

from lava_mlsnn.metrics.activity import plot_activity  # noqa: E402
from lava_mlsnn.models import dvs_resnet  # noqa: E402

KINDS = {"sparse": "Sparse-ResNet (barrier)", "sew": "SEW-ResNet ADD",
         "spiking": "Spiking ResNet"}


def run(epochs: int, levels: int, blocks_per_stage: int, limit=None, out_dir="runs/bench_resnet"):
    data = digits_frames(1, limit=limit)
    results = {}
    for kind in KINDS:
        torch.manual_seed(0)
        net = dvs_resnet(kind, (2, 32, 32), 10, levels=levels, widths=(16, 32),
                         blocks_per_stage=blocks_per_stage, timesteps=1)
        results[kind] = train_export_evaluate(net, data, epochs,
                                              os.path.join(out_dir, f"{kind}.h5"))
    return results


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--levels", type=int, default=4)
    parser.add_argument("--blocks-per-stage", type=int, default=3)
    parser.add_argument("--fast", action="store_true")
    args = parser.parse_args(argv)
    epochs = 1 if args.fast else args.epochs
    results = run(epochs, args.levels, args.blocks_per_stage, limit=200 if args.fast else None)
    sew = results["sew"]["activity"]
    rows = []
    for kind, r in results.items():
        a = r["activity"]
        joins = [b for b in r["blocks"] if b["name"].startswith("ResidualBlock")]
        rows.append([KINDS[kind], pct(r["float"]), pct(r["quantized"]), pct(r["emulator"]),
                     f"{a['events']:.0f}", f"{a['payload']:.0f}",
                     f"{a['events'] / sew['events']:.2f}", f"{a['payload'] / sew['payload']:.2f}",
                     f"{max(b['output_payload'] for b in joins) / max(1, joins[0]['output_events']):.2f}"])
    os.makedirs(FIGURES, exist_ok=True)
    for key, label in [("payload", "payload sum per sample"), ("events", "events per sample")]:
        plot_activity({KINDS[k]: [b[key] for b in r["blocks"]
                                  if b["name"].startswith("ResidualBlock")]
                       for k, r in results.items()},
                      os.path.join(FIGURES, f"resnet_activity_{key}.png"), ylabel=label,
                      title=f"Activity per residual block ({label})")
    per_block = table(["block"] + [KINDS[k] for k in results],
                      [[i + 1] + [f"{r['blocks_res'][i]:.0f}" for r in
                                  ({"blocks_res": [b["payload"] for b in r["blocks"]
                                                   if b["name"].startswith("ResidualBlock")]}
                                   for r in results.values())]
                       for i in range(sum(b["name"].startswith("ResidualBlock")
                                          for b in results["sew"]["blocks"]))])
    body = (f"6 residual blocks (2 stages x 3, widths 16/32), N = {args.levels}, T = 1, "
            f"{epochs} epochs, same seed and data for all three; activity = spiking and join "
            "layers, per test sample, from an emulator run of the exported file.\n\n"
            + table(["network", "float acc", "quantized acc", "emulator acc", "events",
                     "payload sum", "events vs SEW", "payload vs SEW",
                     "max join payload / first join events"], rows)
            + "\n\nPayload sum per residual block (all layers of the block):\n\n" + per_block
            + "\n\nPlots: `benchmarks/figures/resnet_activity_payload.png`, "
              "`benchmarks/figures/resnet_activity_events.png`. Target (paper): Sparse-ResNet "
              "activity <= 0.8x SEW-ADD's, accuracy within 1 point.")
    publish("Sparse-ResNet vs SEW-ResNet ADD vs Spiking ResNet",
            ".venv/bin/python benchmarks/bench_resnet.py" + (" --fast" if args.fast else ""),
            body)
    return results


if __name__ == "__main__":
    main()
