"""Training step (forward + backward) of the multi-level and CUBA Conv blocks vs the conv floor.

Contenders, timed interleaved (one step of each in turn, ``--repeats`` rounds, best
round kept) on the same input:

* floor: torch's ``conv2d`` forward + backward over the same ``N x T`` frames (the
  synapse's own cost; no neuron);
* the multi-level Conv block (``block.Conv``, levels 4): its synapse frame by frame,
  time-first (:mod:`lava_mlsnn.block.frames`), its time loop as one compiled,
  vectorised autograd function (:mod:`lava_mlsnn.neuron.sequence`);
* the same block through lava-dl's conv3d synapse and the step-by-step autograd loop
  (:func:`lava_mlsnn.neuron.multilevel.dynamics`, the reference path);
* lava-dl's ``cuba.Conv``;
* lava-mlsnn's ``block.cuba.Conv`` (the same block and weights): its synapse frame by
  frame, lava-dl's CUBA neuron as one compiled autograd function
  (:mod:`lava_mlsnn.neuron.cuba_sequence`, the same spikes bit for bit).

The input needs no gradient (a first layer), for every contender alike.
Run: .venv/bin/python benchmarks/bench_training_step.py [--repeats 10] [--threads K] [--parts]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Callable, Dict, List
from unittest import mock

import torch
import torch.nn.functional as F

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _report import publish, table  # noqa: E402

from lava_mlsnn import block  # noqa: E402
from lava_mlsnn._quiet import quiet_import  # noqa: E402
from lava_mlsnn.block import cuba as our_cuba  # noqa: E402
from lava_mlsnn.block import frames as block_frames  # noqa: E402
from lava_mlsnn.neuron import sequence  # noqa: E402

cuba = quiet_import("lava.lib.dl.slayer").block.cuba

#: (N, C_in, C_out, H = W, T)
SHAPES = [(32, 2, 16, 32, 1), (32, 2, 16, 32, 8), (16, 16, 32, 16, 16)]


def contenders(batch: int, c_in: int, c_out: int, size: int, steps: int,
               device: str = "cpu") -> Dict[str, Callable[[], None]]:
    """One training step (forward + backward) per contender, on one shared input.

    On a GPU the multi-level block runs the step-by-step loop (the compiled loop is
    CPU-only), so ``loop`` is the same path as ``ours`` there and is left out.
    """
    x = (torch.rand(batch, c_in, size, size, steps, device=device) < 0.2).float()
    frames = x.permute(0, 4, 1, 2, 3).reshape(batch * steps, c_in, size, size).contiguous()
    weight = torch.nn.Parameter(torch.randn(c_out, c_in, 3, 3, device=device) * 0.3)
    ours = block.Conv(dict(threshold=1.0, levels=4), c_in, c_out, 3, padding=1).to(device)
    cuba_params = dict(threshold=1.0, current_decay=1.0, voltage_decay=0.0)
    stock = cuba.Conv(cuba_params, c_in, c_out, 3, padding=1, delay_shift=False).to(device)
    ours_cuba = our_cuba.Conv(cuba_params, c_in, c_out, 3, padding=1).to(device)
    ours_cuba.load_state_dict(stock.state_dict())

    def floor() -> None:
        F.conv2d(frames, weight, padding=1).sum().backward()

    def loop() -> None:
        with mock.patch.object(sequence, "applies", return_value=False), \
                mock.patch.object(block_frames, "applies", return_value=False):
            ours(x).sum().backward()

    steps_ = {"floor": floor, "ours": lambda: ours(x).sum().backward(), "loop": loop,
              "cuba": lambda: stock(x).sum().backward(),
              "our_cuba": lambda: ours_cuba(x).sum().backward()}
    if device != "cpu":
        del steps_["loop"]
    return steps_


def parts(batch: int, c_in: int, c_out: int, size: int, steps: int
          ) -> Dict[str, Callable[[], None]]:
    """Where the multi-level block's step goes (CPU): the block, its synapse alone (frame
    by frame, forward + backward) and its neuron alone (on the synapse's current,
    detached, forward + backward), beside the floor."""
    x = (torch.rand(batch, c_in, size, size, steps) < 0.2).float()
    frames = x.permute(0, 4, 1, 2, 3).reshape(batch * steps, c_in, size, size).contiguous()
    weight = torch.nn.Parameter(torch.randn(c_out, c_in, 3, 3) * 0.3)
    ours = block.Conv(dict(threshold=1.0, levels=4), c_in, c_out, 3, padding=1)
    current = block_frames.conv(ours.synapse, x).detach().requires_grad_()

    def neuron() -> None:
        current.grad = None
        ours.neuron(current).sum().backward()

    return {"floor": lambda: F.conv2d(frames, weight, padding=1).sum().backward(),
            "block": lambda: ours(x).sum().backward(),
            "synapse": lambda: block_frames.conv(ours.synapse, x).sum().backward(),
            "neuron": neuron}


def best_interleaved(steps: Dict[str, Callable[[], None]], repeats: int,
                     sync: Callable[[], None] = lambda: None) -> Dict[str, float]:
    """Best time (s) of each contender over ``repeats`` rounds, one call of each per round
    (after one warm-up round), so that a load change hits every contender alike;
    ``sync`` waits for the device (``torch.cuda.synchronize`` on a GPU)."""
    best = {k: float("inf") for k in steps}
    for r in range(repeats + 1):
        for name, step in steps.items():
            sync()
            t0 = time.perf_counter()
            step()
            sync()
            dt = time.perf_counter() - t0
            if r:
                best[name] = min(best[name], dt)
    return best


def main(argv: List[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md")
    ap.add_argument("--parts", action="store_true",
                    help="print where the block's step goes (synapse, neuron) and stop")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.parts:
        rows = []
        for batch, c_in, c_out, size, steps in SHAPES:
            t = best_interleaved(parts(batch, c_in, c_out, size, steps), args.repeats)
            rows.append([f"{batch}x{c_in}x{size}x{size}, T={steps} -> {c_out} ch"]
                        + [f"{t[k] * 1e3:.2f}" for k in ("floor", "block", "synapse", "neuron")]
                        + [f"{(t['block'] - t['synapse'] - t['neuron']) * 1e3:.2f}"])
        print(table(["shape (N x C x H x W, T)", "conv floor (ms)", "block (ms)",
                     "synapse f+b (ms)", "neuron f+b (ms)", "rest (ms)"], rows))
        print(f"best of {args.repeats} interleaved rounds; 1-minute load average "
              f"{os.getloadavg()[0]:.1f}")
        return
    load = [os.getloadavg()[0]]
    rows = []
    for shape in SHAPES:
        t = best_interleaved(contenders(*shape), args.repeats)
        ms = lambda k: f"{t[k] * 1e3:.2f}"  # noqa: E731
        ratio = lambda k: f"{t[k] / t['floor']:.1f}x"  # noqa: E731
        batch, c_in, c_out, size, steps = shape
        rows.append([f"{batch}x{c_in}x{size}x{size}, T={steps} -> {c_out} ch", ms("floor"),
                     ms("ours"), ratio("ours"), ms("loop"), ratio("loop"),
                     f"{t['loop'] / t['ours']:.1f}x", ms("cuba"), ratio("cuba"), ms("our_cuba"),
                     ratio("our_cuba")])
    load.append(os.getloadavg()[0])
    body = table(["shape (N x C x H x W, T)", "conv floor (ms)", "multi-level Conv (ms)",
                  "/ floor (target <= 3x)", "step-by-step loop (ms)", "/ floor",
                  "loop / ours", "lava-dl cuba.Conv (ms)", "/ floor",
                  "our CUBA Conv (ms)", "/ floor"], rows) + \
        (f"\n\nBest of {args.repeats} interleaved rounds (floor, block, step-by-step loop, "
         "lava-dl's cuba.Conv, ours in turn), forward + backward of `.sum()`, "
         "input without gradient; "
         f"1-minute load average {load[0]:.1f} at the start, {load[1]:.1f} at the end "
         f"({os.cpu_count()} cores shared with other jobs).\n")
    command = ".venv/bin/python benchmarks/bench_training_step.py" + \
        (f" --threads {args.threads}" if args.threads else "") + \
        (f" --repeats {args.repeats}" if args.repeats != 10 else "")
    title = "Training step: multi-level and CUBA Conv blocks vs the conv floor" + \
        (f" ({args.threads} thread{'s' * (args.threads > 1)})" if args.threads else "")
    if args.no_write:
        print(body)
    else:
        publish(title, command, body)


if __name__ == "__main__":
    main()
