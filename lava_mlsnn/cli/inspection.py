"""``lava-mlsnn validate`` and ``inspect``: a network file's summary, every problem of a bad
one, its layer table, Loihi 2 support and resources, memory and (optionally) energy."""
from __future__ import annotations

import argparse
from typing import Dict, List, Tuple

import numpy as np

from .._table import format_table
from ._common import EXIT_FAILURE, EXIT_USAGE, CliError, _error, _load_input, _load_network, \
    _one_line


# --------------------------------------------------------------------------- formatting
def _shape(shape) -> str:
    return "x".join(str(int(s)) for s in shape) if shape is not None else "?"


def _bytes(n: int) -> str:
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def _layer_rows(spec) -> List[List[object]]:
    from ..backends.loihi2.report import layer_fan_in, layer_synapses, layer_weights, weight_bits
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
    from ..backends.loihi2.report import layer_synapses, neuron_support
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
            f"  Loihi 2    {loihi}"] + \
        [f"  ignored    {line}" for line in getattr(spec, "ignored", ())]


def _warning_lines(spec) -> List[str]:
    from ..backends.loihi2.report import deployment_warnings
    warns = deployment_warnings(spec)
    if not warns:
        return ["deployment warnings: none"]
    return [f"deployment warnings ({len(warns)}):"] + [f"  - {w}" for w in warns]


# --------------------------------------------------------------------------- commands
def cmd_validate(args: argparse.Namespace) -> int:
    from ..format.reader import FormatError, read_network
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
        return _load_input(spec, args.input), args.input
    if args.dataset and (args.dataset != "digits" or args.root):
        return _dataset_input(spec, args)
    shape = tuple(int(s) for s in (spec.input_shape or ()))
    if len(shape) != 3 or shape[0] != 2 or shape[1] > 32 or shape[2] > 32:
        raise CliError(f"--energy needs input activity for {args.net} (input {_shape(shape)}): "
                       "give --input X.npy [B, T, *inputShape]; the embedded digits fit only "
                       "2-channel inputs up to 32x32")
    from ..data import DigitsDVS, FramedDataset, framing
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
    from ..data import DatasetNotFoundError
    from ..train.data import DataError
    from ..backends.evaluate import EvaluationError, load_frames
    root = args.root or (spec.metadata.get("config") or {}).get("data", {}).get("root")
    try:
        x, _ = load_frames(spec, args.dataset, root, "test", args.samples)
    except (DatasetNotFoundError, EvaluationError, DataError, ImportError, ValueError) as err:
        raise CliError(_one_line(err)) from None
    return x, f"the {args.dataset} test split ({len(x)} samples, T={x.shape[1]})"


def _energy_lines(spec, args: argparse.Namespace) -> List[str]:
    from ..backends.evaluate import count_run
    from ..metrics.energy import energy_report
    from ..metrics.neurobench import energy_lines, neurobench_metrics
    x, what = _energy_input(spec, args)
    try:
        counts = count_run(spec, x)
    except ValueError as err:  # e.g. sums too large to be exact in float64
        raise CliError(f"simulation failed: {_one_line(err)}", EXIT_FAILURE) from None
    return (["", f"energy (activity: emulator run of the file on {what})"]
            + energy_lines(energy_report(spec, counts), neurobench_metrics(spec, counts)))


def _mapping_lines(path: str) -> List[str]:
    """The compiler-calibrated core estimate (backends.loihi2.mapping) as a table."""
    from ..backends.loihi2.mapping import estimate_file
    head = "Loihi 2 mapping (calibrated on the compiler's published allocations)"
    try:
        rows = estimate_file(path)
    except ValueError as exc:
        return [head, f"  not estimated: {exc}"]
    total = sum(m.cores for _, m in rows)
    return [head, format_table(
        ["layer", "neurons/core", "syn words/core", "axon-in", "cores", "binds"],
        [[label, m.neurons_per_core, m.syn_words_per_core, m.axon_in, m.cores, m.binds]
         for label, m in rows]),
        f"  total: {total} cores (input layer not counted; rules and sources: DESIGN.md §8)"]


def cmd_inspect(args: argparse.Namespace) -> int:
    from ..metrics.memory import memory_footprint
    from ..backends.loihi2.report import neuron_support, resource_estimate
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
    out += [""] + _mapping_lines(args.net)
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

