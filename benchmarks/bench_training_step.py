"""Training step (forward + backward) of a multi-level Conv block vs lava-dl's cuba.Conv.

Same shapes, same input, CPU. Prints and records the median time per step.
Run: .venv/bin/python benchmarks/bench_training_step.py
"""
from __future__ import annotations

import statistics
import sys
import time

import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _report import publish, table  # noqa: E402

from lava_mlsnn import block  # noqa: E402
from lava_mlsnn._quiet import quiet_import  # noqa: E402

cuba = quiet_import("lava.lib.dl.slayer").block.cuba


def median_step(module: torch.nn.Module, x: torch.Tensor, repeats: int = 15) -> float:
    times = []
    for i in range(repeats + 3):
        t0 = time.perf_counter()
        module(x).sum().backward()
        if i >= 3:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    torch.manual_seed(0)
    rows = []
    for batch, c_in, c_out, size, steps in [(32, 2, 16, 32, 1), (32, 2, 16, 32, 8),
                                            (16, 16, 32, 16, 16)]:
        x = (torch.rand(batch, c_in, size, size, steps) < 0.2).float()
        ours = block.Conv(dict(threshold=1.0, levels=4), c_in, c_out, 3, padding=1)
        stock = cuba.Conv(dict(threshold=1.0, current_decay=1.0, voltage_decay=0.0),
                          c_in, c_out, 3, padding=1, delay_shift=False)
        t_ours = median_step(ours, x)
        t_stock = median_step(stock, x)
        rows.append([f"{batch}x{c_in}x{size}x{size}, T={steps} -> {c_out} ch",
                     f"{t_ours * 1e3:.1f}", f"{t_stock * 1e3:.1f}", f"{t_ours / t_stock:.2f}x"])
    body = table(["shape (N x C x H x W, T)", "multi-level Conv (ms)", "lava-dl cuba.Conv (ms)",
                  "ratio (target <= 1.5x)"], rows)
    publish("Training step: multi-level Conv vs lava-dl cuba.Conv",
            ".venv/bin/python benchmarks/bench_training_step.py", body)


if __name__ == "__main__":
    main()
