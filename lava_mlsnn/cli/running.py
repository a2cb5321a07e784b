"""``lava-mlsnn simulate`` and ``evaluate``: run a network file on an input array or a data
set with the emulator, Lava or Loihi 2."""
from __future__ import annotations

import argparse
import sys
import time
from typing import Dict, List

import numpy as np

from .._table import format_table
from ._common import EXIT_FAILURE, CliError, _check_out, _load_input, _load_network, \
    _one_line, _write_npz


def _check_backend(backend: str, spec) -> None:
    """Refuse, in one line and before any work, a backend that cannot run here."""
    if backend != "loihi2":
        return
    from ..backends.loihi2 import (REGISTRY, Loihi2Unavailable, load_plugins, missing_message,
                         require_lava_loihi)
    try:  # lava-loihi (INRC only), then a registered chip model for every Process used
        require_lava_loihi()
        load_plugins()
    except Loihi2Unavailable as err:
        raise CliError(str(err)) from None
    missing = REGISTRY.missing(spec)
    if missing:
        raise CliError(missing_message(missing))


def _simulate(spec, x: np.ndarray, backend: str, batch_size: int) -> Dict[int, np.ndarray]:
    if backend == "loihi2":
        from ..backends.loihi2 import Loihi2Unavailable, run_loihi2
        try:
            res = run_loihi2(spec, x, progress=sys.stderr.isatty(), batch=batch_size)
        except Loihi2Unavailable as err:
            raise CliError(str(err)) from None
        return {int(i): np.asarray(v, dtype=np.int64) for i, v in res.items()}
    if backend == "lava":
        try:
            from ..backends.lava_runner import run_lava
        except ImportError as err:
            raise CliError(f"the lava backend is not available ({_one_line(err)})",
                           EXIT_FAILURE) from None
        res = run_lava(spec, x, record=None, progress=sys.stderr.isatty())
        return {int(i): np.asarray(v, dtype=np.int64) for i, v in res.items()}
    from ..backends.emulator import emulate
    parts: Dict[int, List[np.ndarray]] = {}
    for start in range(0, x.shape[0], batch_size):  # bounded working memory for big B
        for i, v in emulate(spec, x[start:start + batch_size], narrow=True).items():
            parts.setdefault(i, []).append(v.numpy())
    return {i: np.concatenate(v) for i, v in parts.items()}


def _class_lines(spec, out: np.ndarray) -> List[str]:
    last = spec.layers[-1]
    ntype = last.neuron.type if last.neuron is not None else None
    if len(last.shape) != 1 or not (ntype == "READOUT" or spec.classes):
        return []
    from ..classify import classify_spec
    pred = classify_spec(spec, out)
    how = "argmax of v at the last step" if ntype == "READOUT" else \
        "argmax of the payload summed over time"
    counts = np.bincount(pred, minlength=last.shape[0])
    names = spec.classes if spec.classes and len(spec.classes) == last.shape[0] else None
    rows = [[c] + ([names[c]] if names else []) + [int(n)] for c, n in enumerate(counts)
            if n or last.shape[0] <= 20]
    headers = ["class"] + (["name"] if names else []) + ["samples"]
    return [f"predicted classes ({how}):", format_table(headers, rows)]


def cmd_simulate(args: argparse.Namespace) -> int:
    spec = _load_network(args.net)
    _check_backend(args.backend, spec)
    _check_out(args.out)
    x = _load_input(spec, args.input)
    start = time.perf_counter()
    from ..backends.lava_watchdog import LavaRunError
    try:
        res = _simulate(spec, x, args.backend, args.batch_size)
    except (ValueError, LavaRunError) as err:
        raise CliError(f"simulation failed: {_one_line(err)}", EXIT_FAILURE) from None
    elapsed = time.perf_counter() - start
    last = spec.output_index
    batch, steps = x.shape[:2]
    out_layer = spec.layers[last]
    out_kind = out_layer.neuron.type if out_layer.neuron is not None else out_layer.type
    lines = [f"simulated {batch} sample{'s' * (batch != 1)} x {steps} step"
             f"{'s' * (steps != 1)} with the {args.backend} backend in {elapsed:.2f} s "
             f"({batch / max(elapsed, 1e-9):.1f} samples/s)",
             f"output: layer {last} ({out_kind}), array {list(res[last].shape)}"]
    lines += _class_lines(spec, res[last])
    if args.out:
        arrays = {f"layer_{i}": res[i] for i in sorted(res)}
        arrays["output"] = res[last]
        _write_npz(args.out, arrays)
        lines.append(f"wrote {args.out}: layer_0..layer_{last}, output")
    print("\n".join(lines))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..data import DatasetNotFoundError
    from ..data.splits import DataError
    from ..backends.evaluate import EvaluationError, evaluate_file, evaluation_lines, load_frames
    spec = _load_network(args.net)
    _check_backend(args.backend, spec)
    meta = spec.metadata.get("framing") or {}
    dataset = args.dataset or meta.get("dataset")
    if not dataset:
        raise CliError(f"{args.net}: give --dataset (the file's metadata does not name one)")
    root = args.root or (spec.metadata.get("config") or {}).get("data", {}).get("root")
    try:
        # Only --cache-dir is written to: a path found inside a network file never is.
        # Streamed: one batch of frames in memory at a time.
        x, y = load_frames(spec, dataset, root, args.split, args.samples, args.cache_dir,
                           stream=True)
        ev, _ = evaluate_file(spec, x, y, args.backend, args.batch_size)
    except (DatasetNotFoundError, EvaluationError, DataError, ImportError, ValueError) as err:
        raise CliError(_one_line(err)) from None
    print("\n".join(evaluation_lines(args.net, spec, ev, dataset, args.split)))
    return 0

