"""Q-SNN table: weight and membrane bits, with and without WS-DR, on the embedded DVS digits.

Same network (``dvs_convnet``, N = 4, T = 1) and budget for every row. Accuracy is
the emulator's on the exported file (FP32 row: the float model); memory is the
exported file's footprint at its integer bit widths vs the same network in FP32.
Run: .venv/bin/python benchmarks/bench_qsnn.py [--epochs E] [--fast]
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import digits_frames, pct, train_export_evaluate  # noqa: E402
from _report import publish, table  # noqa: E402

from lava_mlsnn.metrics.memory import memory_footprint  # noqa: E402
from lava_mlsnn.models import dvs_convnet  # noqa: E402
from lava_mlsnn.quant import SpikeEntropy  # noqa: E402

CONFIGS = [(None, 0), (8, 0), (4, 8), (1, 8), (1, 4)]  # (weight bits, membrane bits); 0 = 24-bit


def _label(bits, mbits):
    if bits is None:
        return "FP32", "FP32"
    return str(bits), str(mbits or 24)


def main(argv=None) -> list:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--fast", action="store_true")
    args = parser.parse_args(argv)
    epochs = 1 if args.fast else args.epochs
    data = digits_frames(1, limit=300 if args.fast else None)
    rows, raw = [], []
    for bits, mbits in CONFIGS:
        for wsdr in (False, True):
            torch.manual_seed(0)
            net = dvs_convnet((2, 32, 32), 10, levels=4, weight_bits=bits, membrane_bits=mbits,
                              standardize=wsdr)
            r = train_export_evaluate(net, data, epochs, f"runs/bench_qsnn/w{bits}_m{mbits}_"
                                      f"{'wsdr' if wsdr else 'plain'}.h5",
                                      regularizer=SpikeEntropy() if wsdr else None)
            mem = memory_footprint(r["spec"])
            acc = r["float"] if bits is None else r["emulator"]
            total = mem["fp32_total_bytes"] if bits is None else mem["total_bytes"]
            weights = mem["fp32_weight_bytes"] if bits is None else \
                mem["weight_bytes"] + mem["scale_bytes"]
            wb, mb = _label(bits, mbits)
            raw.append(dict(bits=bits, mbits=mbits, wsdr=wsdr, acc=acc, total=total))
            rows.append([wb, mb, "yes" if wsdr else "no", pct(acc), f"{total / 1024:.1f}",
                         f"{1 - total / mem['fp32_total_bytes']:.1%}",
                         f"{weights / 1024:.1f}",
                         f"{1 - weights / mem['fp32_weight_bytes']:.1%}"])
    body = (f"`dvs_convnet` (conv 16, conv 32, pool, dense 64, readout), N = 4, T = 1, {epochs} "
            "epochs, same seed for every row; hidden layers at the given weight bits, first and "
            "last layer 8-bit. WS-DR = per-channel weight standardization before binarization "
            "(1-bit rows) + the spike-entropy loss (lambda 5e-3, all rows). Accuracy: emulator on "
            "the exported file, full test split (FP32 row: the float model). Memory: weights at "
            "their bits + scales + 16-bit biases + neuron state at its bits, vs FP32.\n\n"
            + table(["weight bits", "membrane bits", "WS-DR", "accuracy", "memory (KiB)",
                     "reduction vs FP32", "weights (KiB)", "weight reduction"], rows)
            + "\n\nTarget (paper): >= 90 % memory reduction at 1-bit weights with accuracy within "
              "2 points of the 8-bit net; WS-DR better than no WS-DR at 1 bit.")
    publish("Q-SNN: weight and membrane bits, WS-DR",
            ".venv/bin/python benchmarks/bench_qsnn.py" + (" --fast" if args.fast else ""), body)
    return raw


if __name__ == "__main__":
    main()
