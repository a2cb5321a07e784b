"""``lava-mlsnn simulate`` and ``evaluate``: run a network file on an input array or a data
set with the emulator, Lava or Loihi 2."""
from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import time
import warnings
from typing import Dict, List, Optional

import numpy as np

from .._table import format_table
from .._io import atomic_write
from ._common import EXIT_FAILURE, CliError, _check_out, _load_array, _load_input, \
    _load_network, _one_line, _write, _write_npz
from ._common import dataset_root


def add_simulate_outputs(p: argparse.ArgumentParser) -> None:
    """``simulate``'s per-sample outputs: ``--predictions`` and ``--labels``."""
    p.add_argument("--predictions", metavar="PRED.csv",
                   help="write one CSV row per sample: sample index, predicted class, "
                   "(label, correct with --labels) and the class scores score_<c> (payload "
                   "summed over time; a READOUT's v at the last step)")
    p.add_argument("--labels", metavar="Y.npy",
                   help="integer class labels [B] of the input's samples: print the accuracy")


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


def _check_class_output(spec, flag: str) -> int:
    """The number of classes of a 1-D output layer, or one line refusing ``flag``."""
    last = spec.layers[spec.output_index]
    if len(last.shape) != 1:
        raise CliError(f"{flag} needs a network whose output layer is 1-D (one score per "
                       f"class); layer {spec.output_index} has shape {tuple(last.shape)}")
    return int(last.shape[0])


def _load_labels(path: str, batch: int, classes: int) -> np.ndarray:
    """``Y.npy``: integer class indices ``[B]`` in ``[0, classes)``, one per input sample."""
    y = _load_array(path)
    if y.shape != (batch,):
        raise CliError(f"{path}: labels {tuple(y.shape)} do not match the input's {batch} "
                       f"sample{'s' * (batch != 1)} (expected shape ({batch},))")
    if y.size and (y.min() < 0 or y.max() >= classes):
        raise CliError(f"{path}: labels [{int(y.min())}, {int(y.max())}] leave the output "
                       f"layer's classes [0, {classes - 1}]")
    return y


def clipped_inputs(spec, x: np.ndarray) -> Optional[str]:
    """A warning naming how many input values an ``input`` layer clips to ``[0,
    inputLevels]`` (negative or above the range; :func:`fixed.input_payload`), or None."""
    from .. import fixed
    from ..format.spec import INPUT
    for layer in spec.layers:
        neuron = layer.neuron
        if layer.type != "input" or neuron is None or neuron.type != "INPUT" or \
                spec.producer(layer.source) != INPUT:
            continue
        levels = int(neuron.input_levels)
        changed = fixed.input_payload(x, levels) != x
        n = int(changed.sum())
        if n:
            low, high = int((x[changed] < 0).sum()), int((x[changed] > levels).sum())
            return (f"{n} of {x.size} input values were clipped to the input layer's range "
                    f"[0, {levels}] ({low} negative, {high} above {levels})")
        return None
    return None


def _predictions_csv(pred: np.ndarray, scores: np.ndarray,
                     labels: Optional[np.ndarray]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["sample", "predicted"] + (["label", "correct"] if labels is not None
                                               else []) +
                    [f"score_{c}" for c in range(scores.shape[1])])
    for i in range(len(pred)):
        row = [i, int(pred[i])]
        if labels is not None:
            row += [int(labels[i]), int(pred[i] == labels[i])]
        writer.writerow(row + [int(v) for v in scores[i]])
    return buf.getvalue()


def cmd_simulate(args: argparse.Namespace) -> int:
    spec = _load_network(args.net)
    _check_backend(args.backend, spec)
    _check_out(args.out)
    _check_out(args.predictions)
    if args.out and args.predictions and \
            os.path.abspath(args.out) == os.path.abspath(args.predictions):
        raise CliError(f"--out and --predictions name the same file ({args.out})")
    classes = _check_class_output(spec, "--predictions" if args.predictions else "--labels") \
        if args.predictions or args.labels else 0
    x = _load_input(spec, args.input)
    labels = _load_labels(args.labels, x.shape[0], classes) if args.labels else None
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
    if args.predictions or labels is not None:
        from ..classify import class_scores, classify_spec, is_readout
        ntype = out_layer.neuron.type if out_layer.neuron is not None else ""
        scores = class_scores(res[last], is_readout(ntype))  # the rule classify_spec applies
        pred = classify_spec(spec, res[last])
        if labels is not None:
            right = int((pred == labels).sum())
            lines.append(f"accuracy {100 * right / len(labels):.2f} % ({right} of "
                         f"{len(labels)} samples, labels {args.labels})")
        if args.predictions:
            text = _predictions_csv(pred, scores, labels)
            _write(args.predictions,
                   lambda: atomic_write(args.predictions, lambda f: f.write(text.encode())))
            lines.append(f"wrote {args.predictions}: {len(pred)} rows (sample, predicted"
                         f"{', label, correct' if labels is not None else ''}, "
                         f"score_0..score_{scores.shape[1] - 1})")
    if args.out:
        arrays = {f"layer_{i}": res[i] for i in sorted(res)}
        arrays["output"] = res[last]
        _write_npz(args.out, arrays)
        lines.append(f"wrote {args.out}: layer_0..layer_{last}, output")
    clip = clipped_inputs(spec, x)
    if clip:  # the command prints its warnings on stderr after a successful run
        warnings.warn(clip, stacklevel=1)
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
    root = dataset_root(dataset, args.root or (spec.metadata.get("config") or {})
                        .get("data", {}).get("root"))
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

