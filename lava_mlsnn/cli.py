"""The ``lava-mlsnn`` command (DESIGN §7): validate, inspect, simulate, evaluate, demo.

Error contract (DESIGN §7; scripts and tests outside the project rely on it): a
bad input (missing or corrupt file, a value the format forbids, a wrong input
array, an output target that is not a regular file) exits with status 2 and
exactly one line on stderr naming the problem -- ``validate`` prints every problem
of a network file, one per line -- with no traceback and no partial output file.
A failed write (disk full, file too large) or an unexpected failure prints one
line and exits 1 (``LAVA_MLSNN_DEBUG=1`` shows the traceback instead). SIGTERM and
SIGHUP stop the run like SIGINT: the Lava runtime ends, its processes and scratch
files go, and the command exits with ``128 + signal``.
"""
from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import time
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ._io import UnsafePathError, atomic_write, check_input_file, check_output_target, \
    write_error_line
from ._table import format_table
from .lifecycle import Terminated, terminate_on_signals

PROG = "lava-mlsnn"
FORWARDED = {"train": ".train.command", "export": ".train.export_command"}
VERBOSITY = {"-v": 1, "--verbose": 1, "-q": -1, "--quiet": -1}
DEBUG_ENV = "LAVA_MLSNN_DEBUG"
EXIT_USAGE = 2
EXIT_FAILURE = 1


class CliError(Exception):
    """A failure the command reports in one line, with its exit status."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.message = message
        self.code = code


def _one_line(text: object) -> str:
    """Collapse a message onto one line (library errors may hold newlines)."""
    return " ".join(str(text).split())


def _error(message: str) -> None:
    print(f"{PROG}: error: {_one_line(message)}", file=sys.stderr)


# --------------------------------------------------------------------------- loading
def _load_network(path: str):
    """Read a network file, turning every failure into one :class:`CliError` line."""
    from .format.reader import FormatError, read_network
    try:
        return read_network(path)
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except FormatError as err:
        more = len(err.problems) - 1
        hint = f" (and {more} more; run '{PROG} validate {path}')" if more > 0 else ""
        raise CliError(f"{path}: invalid network: {err.problems[0]}{hint}") from None


def _load_input(path: str) -> np.ndarray:
    """Load ``X.npy`` as int64, rejecting anything that is not an integer array."""
    try:
        check_input_file(path)
    except (FileNotFoundError, UnsafePathError) as err:
        raise CliError(str(err)) from None
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise CliError(f"{path}: not a readable .npy array ({_one_line(err)})") from None
    if isinstance(arr, np.lib.npyio.NpzFile):
        arr.close()
        raise CliError(f"{path}: is an .npz archive, expected a single .npy array")
    if arr.dtype.kind not in "biuf":
        raise CliError(f"{path}: dtype {arr.dtype} is not an integer array")
    if arr.dtype.kind == "f" and arr.size and (
            not np.all(np.isfinite(arr)) or np.any(arr != np.trunc(arr))):
        raise CliError(f"{path}: input must hold integers (event counts / payloads), "
                       f"found non-integer values of dtype {arr.dtype}")
    if arr.dtype.kind == "f" and arr.size and float(np.abs(arr).max()) > float(1 << 53):
        raise CliError(f"{path}: values exceed 2**53 (not exact integers in {arr.dtype})")
    if arr.dtype == np.uint64 and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise CliError(f"{path}: values exceed the int64 range")
    return arr.astype(np.int64)


def _write_npz(path: str, arrays: Dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` atomically: a temp file beside it, then rename."""
    try:
        atomic_write(path, lambda f: np.savez_compressed(f, **arrays))
    except UnsafePathError as err:
        raise CliError(str(err)) from None
    except OSError as err:
        raise CliError(write_error_line(path, err), EXIT_FAILURE) from None


def _check_out(path: Optional[str]) -> None:
    """Refuse a bad ``--out`` before any work is done."""
    if not path:
        return
    try:
        check_output_target(path)
    except UnsafePathError as err:
        raise CliError(str(err)) from None
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise CliError(f"{path}: {directory} is not a directory")


# --------------------------------------------------------------------------- formatting
def _shape(shape) -> str:
    return "x".join(str(int(s)) for s in shape) if shape is not None else "?"


def _bytes(n: int) -> str:
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def _layer_rows(spec) -> List[List[object]]:
    from .backends.loihi2.report import layer_fan_in, layer_synapses, layer_weights, weight_bits
    rows = []
    for i, layer in enumerate(spec.layers):
        p = layer.neuron
        ntype = p.type if p is not None and p.type != "INPUT" else "-"
        levels = {"MLSN": getattr(p, "levels", 0), "CUBA": 1,
                  "INPUT": spec.input_levels}.get(getattr(p, "type", None), "-")
        vth = p.v_th_mant if p is not None and p.type in ("MLSN", "CUBA") else "-"
        w = layer_weights(layer)
        wrange = f"[{int(w.min())}, {int(w.max())}]" if w.size else "-"
        bits = weight_bits(layer) or "-"
        if layer.weight_scale:
            bits = f"{bits} (s={layer.weight_scale})"
        exps = sorted({int(b.synapse.weight_exp) for b in layer.branches})
        src = ",".join("in" if s < 0 else str(s) for s in layer.sources)
        syn = layer_synapses(spec, i) if layer.branches else 0
        rows.append([i, layer.type, src, _shape(layer.shape), ntype, levels, vth, wrange, bits,
                     ",".join(map(str, exps)) or "-", f"{layer.size:,}",
                     f"{syn:,}" if layer.branches else "-",
                     layer_fan_in(layer) if layer.branches else "-"])
    return rows


def _summary(spec, path: str) -> List[str]:
    from .backends.loihi2.report import layer_synapses, neuron_support
    kind = "stock lava-dl NetX network" if spec.stock else "lava-mlsnn network"
    types = ", ".join(layer.type for layer in spec.layers)
    neurons = sum(layer.size for layer in spec.layers if layer.type not in ("input", "flatten"))
    synapses = sum(layer_synapses(spec, i) for i in range(len(spec.layers)))
    weights = sum(int(np.asarray(b.synapse.weight).size)
                  for layer in spec.layers for b in layer.branches)
    last = spec.layers[-1]
    out_type = last.neuron.type if last.neuron is not None else last.type
    support: Dict[str, List[str]] = {}
    for row in neuron_support(spec):
        support.setdefault(row["support"], []).append(str(row["layer"]))
    loihi = "; ".join(f"{k}: layers {', '.join(v)}" for k, v in support.items())
    classes = f"{len(spec.classes)} ({', '.join(spec.classes[:10])}" \
        f"{', ...' if len(spec.classes) > 10 else ''})" if spec.classes else "-"
    delayed = {i: max(b.synapse.max_delay for b in layer.branches)
               for i, layer in enumerate(spec.layers)
               if any(b.synapse.delay is not None for b in layer.branches)}
    delays = (f"layers {', '.join(map(str, delayed))} (up to {max(delayed.values())} steps)"
              if delayed else "none")
    return [f"{path}: valid {kind}",
            f"  layers     {len(spec.layers)}: {types}",
            f"  delays     {delays}",
            f"  neurons    {neurons:,} (input layer excluded)",
            f"  synapses   {synapses:,} connections, {weights:,} weights",
            f"  input      {_shape(spec.input_shape)}, payload 0..{spec.input_levels}",
            f"  timesteps  {spec.timesteps or 'unknown'}",
            f"  classes    {classes}",
            f"  output     layer {spec.output_index} ({out_type}), shape {_shape(last.shape)}",
            f"  Loihi 2    {loihi}"]


def _warning_lines(spec) -> List[str]:
    from .backends.loihi2.report import deployment_warnings
    warns = deployment_warnings(spec)
    if not warns:
        return ["deployment warnings: none"]
    return [f"deployment warnings ({len(warns)}):"] + [f"  - {w}" for w in warns]


# --------------------------------------------------------------------------- commands
def cmd_validate(args: argparse.Namespace) -> int:
    from .format.reader import FormatError, read_network
    try:
        spec = read_network(args.net)
    except FileNotFoundError:
        raise CliError(f"{args.net}: no such file") from None
    except FormatError as err:
        for problem in err.problems:  # every problem, one per line
            _error(f"{args.net}: {problem}")
        return EXIT_USAGE
    print("\n".join(_summary(spec, args.net) + _warning_lines(spec)))
    return 0


def _energy_input(spec, args: argparse.Namespace) -> Tuple[np.ndarray, str]:
    """Input activity for ``inspect --energy``: ``--input X.npy``, else the embedded digits
    test split framed per the file (``timesteps``, ``inputLevels``, ``inputShape``)."""
    if args.input:
        from .backends.emulator import check_input
        x = _load_input(args.input)
        try:
            check_input(spec, x)
        except ValueError as err:
            raise CliError(f"{args.input}: {_one_line(err)}") from None
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise CliError(f"{args.input}: input {tuple(x.shape)} has no samples or no steps")
        return x, args.input
    if args.dataset and (args.dataset != "digits" or args.root):
        return _dataset_input(spec, args)
    shape = tuple(int(s) for s in (spec.input_shape or ()))
    if len(shape) != 3 or shape[0] != 2 or shape[1] > 32 or shape[2] > 32:
        raise CliError(f"--energy needs input activity for {args.net} (input {_shape(shape)}): "
                       "give --input X.npy [B, T, *inputShape]; the embedded digits fit only "
                       "2-channel inputs up to 32x32")
    from .data import DigitsDVS, FramedDataset, framing
    test = DigitsDVS("test")
    size = (shape[2], shape[1])
    framed = FramedDataset(test, framing(
        test.sensor_size, n_time_bins=spec.timesteps or 1, clip=spec.input_levels,
        target_size=None if size == tuple(test.sensor_size[:2]) else size))
    n = min(args.samples, len(framed))
    x = np.stack([framed[i][0].numpy() for i in range(n)])
    return x, f"the embedded digits test split ({n} samples, T={x.shape[1]})"


def _dataset_input(spec, args: argparse.Namespace) -> Tuple[np.ndarray, str]:
    """``inspect --energy --dataset NAME [--root DIR]``: a test split framed per the file."""
    from .data import DatasetNotFoundError
    from .train.data import DataError
    from .backends.evaluate import EvaluationError, load_frames
    root = args.root or (spec.metadata.get("config") or {}).get("data", {}).get("root")
    try:
        x, _ = load_frames(spec, args.dataset, root, "test", args.samples)
    except (DatasetNotFoundError, EvaluationError, DataError, ImportError, ValueError) as err:
        raise CliError(_one_line(err)) from None
    return x, f"the {args.dataset} test split ({len(x)} samples, T={x.shape[1]})"


def _energy_lines(spec, args: argparse.Namespace) -> List[str]:
    from .backends.evaluate import count_run
    from .metrics.energy import energy_report
    from .metrics.neurobench import energy_lines, neurobench_metrics
    x, what = _energy_input(spec, args)
    try:
        counts = count_run(spec, x)
    except ValueError as err:  # e.g. sums too large to be exact in float64
        raise CliError(f"simulation failed: {_one_line(err)}", EXIT_FAILURE) from None
    return (["", f"energy (activity: emulator run of the file on {what})"]
            + energy_lines(energy_report(spec, counts), neurobench_metrics(spec, counts)))


def cmd_inspect(args: argparse.Namespace) -> int:
    from .metrics.memory import memory_footprint
    from .backends.loihi2.report import neuron_support, resource_estimate
    spec = _load_network(args.net)
    energy = _energy_lines(spec, args) if args.energy or args.input or args.dataset else []
    out = _summary(spec, args.net) + ["", "layers"]
    out.append(format_table(["#", "type", "source", "shape", "neuron", "levels", "vThMant",
                             "weights", "wbits", "wexp", "neurons", "synapses", "fan-in"],
                            _layer_rows(spec)))
    out.append("  (wbits: declared weightBits, else the signed bits the integer weights need; "
               "s = weightScale)")
    out += ["", "Loihi 2 neuron support"]
    out.append(format_table(["#", "neuron", "support", "mapping"],
                            [[r["layer"], r["neuron"], r["support"], r["how"]]
                             for r in neuron_support(spec)]))
    res = resource_estimate(spec)
    out += ["", "Loihi 2 resources (estimate)"]
    out.append(format_table(["#", "neurons", "synapses", "wbits", "synapse mem", "cores"],
                            [[r["layer"], f"{r['neurons']:,}", f"{r['synapses']:,}",
                              r["weight_bits"], _bytes(r["synapse_bytes"]), r["cores"]]
                             for r in res["layers"]]))
    out.append(f"  total: {res['neurons']:,} neurons, {res['synapses']:,} synapses, "
               f"{_bytes(res['synapse_bytes'])} synaptic memory, ~{res['cores']} cores "
               f"(~{res['chips']} chip{'s' if res['chips'] > 1 else ''})")
    out += [f"  assumption: {a}" for a in res["assumptions"]]
    out += [""] + _warning_lines(spec)
    mem = memory_footprint(spec)
    out += ["", "memory footprint (quantized vs FP32)"]
    out.append(format_table(
        ["#", "weights", "wbits", "weight mem", "bias mem", "state", "state mem", "total",
         "FP32"],
        [[r["layer"], f"{r['weights']:,}", r["weight_bits"] if r["weights"] else "-",
          _bytes(r["weight_bytes"] + r["scale_bytes"]), _bytes(r["bias_bytes"]),
          ",".join(r["state"]) + (f" ({r['state_bits']} b)" if r["state"] else "-"),
          _bytes(r["state_bytes"]), _bytes(r["bytes"]), _bytes(r["fp32_bytes"])]
         for r in mem["layers"]]))
    out.append(f"  total: {_bytes(mem['total_bytes'])} quantized (weights "
               f"{_bytes(mem['weight_bytes'] + mem['scale_bytes'])}, biases "
               f"{_bytes(mem['bias_bytes'])}, state {_bytes(mem['state_bytes'])}) vs "
               f"{_bytes(mem['fp32_total_bytes'])} in FP32: {mem['ratio']:.1f}x smaller")
    print("\n".join(out + energy))
    return 0


def _check_backend(backend: str, spec) -> None:
    """Refuse, in one line and before any work, a backend that cannot run here."""
    if backend != "loihi2":
        return
    from .backends.loihi2 import (REGISTRY, Loihi2Unavailable, load_plugins, missing_message,
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
        from .backends.loihi2 import Loihi2Unavailable, run_loihi2
        try:
            res = run_loihi2(spec, x, progress=sys.stderr.isatty(), batch=batch_size)
        except Loihi2Unavailable as err:
            raise CliError(str(err)) from None
        return {int(i): np.asarray(v, dtype=np.int64) for i, v in res.items()}
    if backend == "lava":
        try:
            from .backends.lava_runner import run_lava
        except ImportError as err:
            raise CliError(f"the lava backend is not available ({_one_line(err)})",
                           EXIT_FAILURE) from None
        res = run_lava(spec, x, record=None, progress=sys.stderr.isatty())
        return {int(i): np.asarray(v, dtype=np.int64) for i, v in res.items()}
    from .backends.emulator import emulate
    parts: Dict[int, List[np.ndarray]] = {}
    for start in range(0, x.shape[0], batch_size):  # bounded working memory for big B
        for i, v in emulate(spec, x[start:start + batch_size]).items():
            parts.setdefault(i, []).append(v.numpy())
    return {i: np.concatenate(v) for i, v in parts.items()}


def _class_lines(spec, out: np.ndarray) -> List[str]:
    last = spec.layers[-1]
    ntype = last.neuron.type if last.neuron is not None else None
    if len(last.shape) != 1 or not (ntype == "READOUT" or spec.classes):
        return []
    from .classify import classify_spec
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
    from .backends.emulator import check_input
    spec = _load_network(args.net)
    _check_backend(args.backend, spec)
    _check_out(args.out)
    x = _load_input(args.input)
    try:
        check_input(spec, x)
    except ValueError as err:
        raise CliError(f"{args.input}: {_one_line(err)}") from None
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise CliError(f"{args.input}: input {tuple(x.shape)} has no samples or no steps")
    start = time.perf_counter()
    from .backends.lava_watchdog import LavaRunError
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
    from .data import DatasetNotFoundError
    from .data.splits import DataError
    from .backends.evaluate import EvaluationError, evaluate_file, evaluation_lines, load_frames
    spec = _load_network(args.net)
    _check_backend(args.backend, spec)
    meta = spec.metadata.get("framing") or {}
    dataset = args.dataset or meta.get("dataset")
    if not dataset:
        raise CliError(f"{args.net}: give --dataset (the file's metadata does not name one)")
    root = args.root or (spec.metadata.get("config") or {}).get("data", {}).get("root")
    try:
        # Only --cache-dir is written to: a path found inside a network file never is.
        x, y = load_frames(spec, dataset, root, args.split, args.samples, args.cache_dir)
    except (DatasetNotFoundError, EvaluationError, DataError, ImportError, ValueError) as err:
        raise CliError(_one_line(err)) from None
    ev, _ = evaluate_file(spec, x, y, args.backend, args.batch_size)
    print("\n".join(evaluation_lines(args.net, spec, ev, dataset, args.split)))
    return 0


def cmd_demo(argv: Sequence[str]) -> int:
    import importlib
    try:
        demo = importlib.import_module(f"{__package__}.demo")
    except ModuleNotFoundError as err:
        if err.name != f"{__package__}.demo":  # a missing dependency of the demo: a real bug
            raise
        raise CliError("the demo is not available in this installation "
                       "(lava_mlsnn.demo is missing)", EXIT_FAILURE) from None
    try:
        rc = demo.main(list(argv))
    except SystemExit as ex:  # the demo's own argparse
        rc = ex.code
    return rc if isinstance(rc, int) else (0 if rc is None else EXIT_FAILURE)


# --------------------------------------------------------------------------- entry point
def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {n}")
    return n


def _dataset_name(text: str) -> str:
    from .data.registry import is_dataset
    if not is_dataset(text):
        raise argparse.ArgumentTypeError(f"unknown data set {text!r} (digits, dvsgesture, "
                                         "nmnist, cifar10dvs, or a tonic.datasets class name)")
    return text


def build_parser() -> argparse.ArgumentParser:
    """The command's argument parser (``demo`` arguments are forwarded untouched)."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="Multi-level spiking networks for Loihi 2: check, inspect and "
        f"run NetX-style HDF5 networks. Set {DEBUG_ENV}=1 to see tracebacks.")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log lines from the library (before COMMAND)")
    parser.add_argument("-q", "--quiet", action="count", default=0,
                        help="library warnings only (before COMMAND)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("validate", help="check a network file: summary, or every problem")
    p.add_argument("net", metavar="NET.h5")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("inspect", help="layer table, Loihi 2 constraints/resources, memory")
    p.add_argument("net", metavar="NET.h5")
    p.add_argument("--energy", action="store_true",
                   help="add the per-layer energy breakdown (memory-aware and SOP models, ANN "
                   "reference) and NeuroBench-style figures of an emulator run")
    p.add_argument("--input", metavar="X.npy", help="input activity for --energy: integer "
                   "array [B, T, *inputShape] (default: the embedded digits test split)")
    p.add_argument("--dataset", type=_dataset_name, metavar="NAME", help="input activity for "
                   "--energy: that data set's test split framed per the file (default: the "
                   "embedded digits); digits, dvsgesture, nmnist, cifar10dvs or any tonic set")
    p.add_argument("--root", metavar="DIR", help="folder holding tonic's data set folders "
                   "(for --dataset; default: the one in the file's metadata)")
    p.add_argument("--samples", type=_positive_int, default=64, metavar="N",
                   help="data set samples to run for --energy (default 64)")
    p.set_defaults(func=cmd_inspect)
    p = sub.add_parser("simulate", help="run a network on an input array")
    p.add_argument("net", metavar="NET.h5")
    p.add_argument("--input", required=True, metavar="X.npy",
                   help="integer array [B, T, *inputShape] (torch order)")
    p.add_argument("--backend", choices=("emulator", "lava", "loihi2"), default="emulator",
                   help="batched integer emulator (default), Lava's CPU simulator (fixed_pt) "
                   "or Loihi 2 hardware (Loihi2HwCfg; needs INRC's lava-loihi, see "
                   "lava_mlsnn/loihi2)")
    p.add_argument("--out", metavar="OUT.npz",
                   help="write layer_<i> [B, T, *shape] and output arrays here")
    p.add_argument("--batch-size", type=_positive_int, default=256, metavar="N",
                   help="samples per emulator batch (default 256)")
    p.set_defaults(func=cmd_simulate)
    p = sub.add_parser("evaluate", help="accuracy, activity and throughput on a data set")
    p.add_argument("net", metavar="NET.h5")
    p.add_argument("--dataset", type=_dataset_name, metavar="NAME",
                   help="digits, motion_digits, dvsgesture, nmnist, cifar10dvs, a registered "
                   "name or any tonic data set (default: the one named in the file's metadata)")
    p.add_argument("--root", metavar="DIR", help="folder holding tonic's data set folders")
    p.add_argument("--split", choices=("train", "val", "test"), default="test")
    p.add_argument("--backend", choices=("emulator", "lava", "loihi2"), default="emulator",
                   help="emulator (default), lava (CPU, fixed_pt) or loihi2 (hardware, needs "
                   "INRC's lava-loihi)")
    p.add_argument("--samples", type=_positive_int, metavar="K",
                   help="evaluate a fixed subset of K samples (default: the whole split)")
    p.add_argument("--batch-size", type=_positive_int, default=256, metavar="N")
    p.add_argument("--cache-dir", metavar="DIR", help="framed-tensor cache folder")
    p.set_defaults(func=cmd_evaluate)
    from .nir.cli import add_parser as add_nir_parser
    add_nir_parser(sub)
    sub.add_parser("train", help="train a network from a YAML configuration (see "
                   f"'{PROG} train --help')", add_help=False)
    sub.add_parser("export", help="export a training run to a network file, validated and "
                   f"checked (see '{PROG} export --help')", add_help=False)
    sub.add_parser("demo", help="train, export and run the embedded DVS demo "
                   f"(see '{PROG} demo --help')", add_help=False)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command; returns the exit status (0 ok, 2 bad input, 1 failure)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = os.environ.get(DEBUG_ENV, "") not in ("", "0")
    verbosity = 0
    while argv and argv[0] in VERBOSITY:  # global -v / -q, before the command
        verbosity += VERBOSITY[argv.pop(0)]
    from ._log import configure
    configure(verbosity)
    # A file-size limit must fail the write (EFBIG, one line), not kill the process.
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    # Library warnings would break the one-line error contract: collect them and
    # print lava-mlsnn's own only after a successful run.
    with warnings.catch_warnings(record=True) as caught, terminate_on_signals():
        warnings.simplefilter("default")
        try:
            if argv and argv[0] == "demo":
                rc = cmd_demo(argv[1:])
            elif argv and argv[0] in FORWARDED:  # own parsers, exit codes and messages
                rc = importlib.import_module(FORWARDED[argv[0]], __package__).main(
                    argv[1:], prog=f"{PROG} {argv[0]}")
            else:
                parser = build_parser()
                try:
                    args = parser.parse_args(argv)
                except SystemExit as ex:  # usage errors (2) and --help (0)
                    return ex.code if isinstance(ex.code, int) else EXIT_USAGE
                if args.command is None:
                    parser.print_help(sys.stderr)
                    return EXIT_USAGE
                rc = args.func(args)
        except CliError as err:
            _error(err.message)
            return err.code
        except KeyboardInterrupt:
            _error("interrupted")
            return 130
        except Terminated as err:
            _error(str(err))
            return err.exit_status
        except Exception as err:  # noqa: BLE001 -- the one-line contract holds for bugs too
            if debug:
                raise
            _error(f"unexpected {type(err).__name__}: {_one_line(err)} "
                   f"(set {DEBUG_ENV}=1 for a traceback)")
            return EXIT_FAILURE
    for w in caught:  # third-party chatter (Lava, torch) only in debug mode
        if debug or f"{os.sep}lava_mlsnn{os.sep}" in str(w.filename):
            print(f"{PROG}: warning: {_one_line(w.message)}", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
