"""The main job on the embedded data set: train -> export -> emulator and Lava runs.

``lava-mlsnn demo`` trains a small convolutional multi-level network (T = 1 by
default) on the DVS rendering of scikit-learn's digits, exports it to the HDF5
format, evaluates the file with the batched emulator on the whole test split and
in Lava (fixed point) on the whole test split -- or on at least 64 samples when the
whole split would take over a minute -- and prints a summary. Lava and the emulator
must agree on every integer: the demo says so, or exits 1.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import List, Optional

import numpy as np
import torch

FAST = os.environ.get("LAVA_MLSNN_FAST", "") not in ("", "0")


def _frames(dataset, timesteps: int, input_levels: int, limit: Optional[int] = None):
    from .data import FramedDataset, framing, to_slayer
    framed = FramedDataset(dataset, framing(dataset.sensor_size, n_time_bins=timesteps,
                                            clip=input_levels))
    n = len(framed) if limit is None else min(limit, len(framed))
    xs, ys = zip(*(framed[i] for i in range(n)))
    return to_slayer(torch.stack(xs)).float(), torch.tensor(ys)


def _loader(x: torch.Tensor, y: torch.Tensor, batch: int, shuffle: bool, seed: int = 0):
    ds = torch.utils.data.TensorDataset(x, y)
    gen = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=shuffle, generator=gen)


def _lava_subset(spec, x_file: np.ndarray, budget_s: float, minimum: int, progress: bool):
    """Run Lava on as much of the test split as fits in ``budget_s`` (at least ``minimum``)."""
    from ._quiet import import_lava_runtime
    import_lava_runtime()
    from .backends.lava_runner import run_lava
    probe = min(minimum, len(x_file))
    t0 = time.perf_counter()
    first = run_lava(spec, x_file[:probe], progress=progress)
    per_sample = (time.perf_counter() - t0) / probe
    n_total = len(x_file)
    if probe < n_total and per_sample * n_total <= budget_s:
        rest = run_lava(spec, x_file[probe:], progress=progress)
        return {i: np.concatenate([first[i], rest[i]]) for i in first}, n_total, \
            time.perf_counter() - t0
    return first, probe, time.perf_counter() - t0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="lava-mlsnn demo", description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3 if FAST else 12)
    parser.add_argument("--levels", type=int, default=4, help="N of the multi-level neurons")
    parser.add_argument("--timesteps", type=int, default=1)
    parser.add_argument("--input-levels", type=int, default=7)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/demo", help="output directory")
    parser.add_argument("--lava-budget", type=float, default=60.0,
                        help="seconds of Lava simulation before falling back to a subset")
    parser.add_argument("--lava-min-samples", type=int, default=64)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    progress = not args.no_progress

    from .block import to_emulator_layout
    from .classify import classify_spec
    from .data import DigitsDVS
    from .models import dvs_convnet
    from .netx import emulate, read_network
    from .train import evaluate, fit, predict

    torch.manual_seed(args.seed)
    t_start = time.perf_counter()
    print("lava-mlsnn demo: DVS digits (embedded), multi-level N=%d, T=%d" %
          (args.levels, args.timesteps))
    limit = 400 if FAST else None
    train = DigitsDVS("train", val_fraction=0.1, seed=args.seed)
    val = DigitsDVS("val", val_fraction=0.1, seed=args.seed)
    test = DigitsDVS("test", seed=args.seed)
    x_tr, y_tr = _frames(train, args.timesteps, args.input_levels, limit)
    x_va, y_va = _frames(val, args.timesteps, args.input_levels)
    x_te, y_te = _frames(test, args.timesteps, args.input_levels, 128 if FAST else None)
    print(f"data: {len(y_tr)} train / {len(y_va)} val / {len(y_te)} test samples, frames "
          f"{tuple(x_tr.shape[1:-1])} x T={args.timesteps}")

    net = dvs_convnet(x_tr.shape[1:-1], 10, levels=args.levels, input_levels=args.input_levels,
                      timesteps=args.timesteps, classes=[str(c) for c in range(10)])
    t0 = time.perf_counter()
    history = fit(net, _loader(x_tr, y_tr, args.batch, True, args.seed), args.epochs,
                  lr=args.lr, val_loader=_loader(x_va, y_va, 256, False), progress=progress)
    train_s = time.perf_counter() - t0
    test_loader = _loader(x_te, y_te, 256, False)
    acc_float = evaluate(net, test_loader)
    pred_quant = predict(net, test_loader, quantized=True).numpy()
    acc_quant = float((pred_quant == y_te.numpy()).mean())

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "digits_mlsn.h5")
    net.export_hdf5(path, metadata={"dataset": "digits-dvs", "epochs": args.epochs,
                                    "levels": args.levels, "history": history})
    spec = read_network(path)
    x_file = to_emulator_layout(x_te).long().numpy()
    t0 = time.perf_counter()
    emu = emulate(spec, x_file)
    emu_s = time.perf_counter() - t0
    out_i = len(spec.layers) - 1
    pred_emu = classify_spec(spec, emu[out_i]).numpy()
    acc_emu = float((pred_emu == y_te.numpy()).mean())

    lava, n_lava, lava_s = _lava_subset(spec, x_file, args.lava_budget,
                                        args.lava_min_samples, progress)
    pred_lava = classify_spec(spec, lava[out_i])
    acc_lava = float((pred_lava == y_te.numpy()[:n_lava]).mean())
    same = np.ones(n_lava, dtype=bool)
    for i in lava:
        same &= (lava[i] == emu[i][:n_lava].numpy()).reshape(n_lava, -1).all(axis=1)
    agreement = float(same.mean())

    summary = {
        "float_accuracy": acc_float, "quantized_accuracy": acc_quant,
        "emulator_accuracy": acc_emu, "lava_accuracy": acc_lava, "lava_samples": n_lava,
        "test_samples": len(y_te), "lava_emulator_agreement": agreement,
        "train_seconds": train_s, "emulator_samples_per_s": len(y_te) / emu_s,
        "lava_samples_per_s": n_lava / lava_s, "file": path,
    }
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print()
    print("=" * 64)
    print(f" exported file            {path}  ({len(spec.layers)} layers)")
    from .train.runlog import plural
    print(f" training                 {plural(args.epochs, 'epoch')}, {train_s:.0f} s on CPU")
    print(f" float accuracy           {acc_float:6.2%}   (training model, test split)")
    print(f" quantized accuracy       {acc_quant:6.2%}   (training-side integer forward)")
    print(f" emulator accuracy        {acc_emu:6.2%}   ({len(y_te)} test samples, "
          f"{len(y_te) / emu_s:.0f} samples/s)")
    print(f" Lava accuracy            {acc_lava:6.2%}   ({n_lava} test samples, fixed_pt, "
          f"{n_lava / lava_s:.1f} samples/s)")
    print(f" Lava vs emulator         {agreement:6.2%}   of samples identical in every layer "
          "and step")
    print("=" * 64)
    print(f"done in {time.perf_counter() - t_start:.0f} s")
    if agreement < 1.0 or not np.array_equal(pred_quant, pred_emu):
        print("lava-mlsnn demo: error: deployment is not bit-exact", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
