"""Shared by the benchmark scripts: the embedded DVS digits, train -> export -> emulate."""
from __future__ import annotations

import os
import time
from typing import Dict, Optional

import numpy as np
import torch

from lava_mlsnn.block import Network, to_emulator_layout
from lava_mlsnn.classify import classify_spec
from lava_mlsnn.demo import _frames, _loader
from lava_mlsnn.metrics.activity import block_activity, layer_activity, totals
from lava_mlsnn.netx import emulate, read_network
from lava_mlsnn.train import evaluate, fit

FIGURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures")


def digits_frames(timesteps: int = 1, input_levels: int = 7, limit: Optional[int] = None,
                  seed: int = 0) -> Dict[str, tuple]:
    """Train / val / test tensors ``([N, 2, 32, 32, T] float, labels)`` of the embedded set."""
    from lava_mlsnn.data import DigitsDVS
    splits = {"train": DigitsDVS("train", val_fraction=0.1, seed=seed),
              "val": DigitsDVS("val", val_fraction=0.1, seed=seed),
              "test": DigitsDVS("test", seed=seed)}
    return {k: _frames(ds, timesteps, input_levels, limit if k == "train" else None)
            for k, ds in splits.items()}


def train_export_evaluate(net: Network, data: Dict[str, tuple], epochs: int, path: str,
                          lr: float = 3e-3, batch: int = 32, seed: int = 0,
                          regularizer=None) -> Dict:
    """Train, export to ``path``, evaluate the file with the emulator on the test split.

    Returns accuracies (float, training-side quantized, emulator), activity totals and
    per block, the spec, and timings.
    """
    torch.manual_seed(seed)
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = data["train"], data["val"], data["test"]
    t0 = time.perf_counter()
    fit(net, _loader(x_tr, y_tr, batch, True, seed), epochs, lr=lr,
        val_loader=_loader(x_va, y_va, 256, False), progress=False, regularizer=regularizer)
    train_s = time.perf_counter() - t0
    test_loader = _loader(x_te, y_te, 256, False)
    acc_float = evaluate(net, test_loader)
    acc_quant = evaluate(net, test_loader, quantized=True)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    net.export_hdf5(path)
    spec = read_network(path)
    out = emulate(spec, to_emulator_layout(x_te).long())
    pred = classify_spec(spec, out[len(spec.layers) - 1])
    layers = layer_activity(spec, out)
    return {"float": acc_float, "quantized": acc_quant,
            "emulator": float((pred == y_te).float().mean()), "spec": spec, "outputs": out,
            "activity": totals(layers), "blocks": block_activity(spec, layers),
            "layers": layers, "train_s": train_s}


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"
