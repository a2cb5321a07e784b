"""Evaluate an exported network file on an event data set (``lava-mlsnn evaluate``, the exporter).

The framing comes from the file itself: ``timesteps`` (T bins), ``inputLevels``
(count clip) and ``inputShape`` ``(C, H, W)`` (downsampling target ``(W, H)``;
``C = 1`` merges the polarities), so a file is evaluated on exactly the frames it
was trained on. The exporter also writes the training framing into the file's
metadata (``framing``), which supplies the data set name and the validation
split settings when the caller does not.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

import numpy as np
import torch

from .._limits import check_budget
from ..classify import classify_spec
from ..metrics.activity import layer_activity
from ..metrics.energy import EnergyConstants, EnergyReport, RunCounts, count_outputs, \
    energy_report
from .emulator import emulate
from ..format.spec import NetworkSpec
from ..data.splits import FrameSet, framing_settings, open_split, subset_indices


class EvaluationError(ValueError):
    """The file and the data set do not fit together (reported in one line)."""


def file_framing(spec: NetworkSpec, sensor_size: Tuple[int, int, int]) -> Dict[str, Any]:
    """:func:`lava_mlsnn.data.framing` settings for ``spec`` on a sensor of ``(W, H, P)``."""
    if not spec.timesteps:
        raise EvaluationError("the file does not say its timesteps (attribute 'timesteps'), "
                              "so the events cannot be framed")
    shape = spec.input_shape
    if shape is None or len(shape) != 3:
        raise EvaluationError(f"the network input {shape} is not (C, H, W) count frames")
    c, h, w = (int(s) for s in shape)
    if c not in (1, 2):
        raise EvaluationError(f"the network takes {c} input channels; event frames have 2 "
                              "(ON/OFF) or 1 (merged)")
    sensor = (int(sensor_size[0]), int(sensor_size[1]), c)
    if w > sensor[0] or h > sensor[1]:
        raise EvaluationError(f"the network input {w}x{h} (WxH) is larger than the sensor "
                              f"{sensor[0]}x{sensor[1]}")
    return framing_settings(sensor, spec.timesteps, spec.input_levels, (w, h))


def load_frames(spec: NetworkSpec, dataset: str, root: Optional[str], split: str = "test",
                samples: Optional[int] = None, cache_dir: Optional[str] = None,
                stream: bool = False) -> Tuple[Union[np.ndarray, "FrameBatches"],
                                               Optional[np.ndarray]]:
    """Frames ``[B, T, C, H, W]`` (integers, :meth:`FrameBatches.take`) and labels ``[B]``
    of a split, framed for ``spec``;
    with ``stream``, a :class:`FrameBatches` that reads them batch by batch (and None:
    the labels come with each batch).

    Raises
    ------
    lava_mlsnn.data.DatasetNotFoundError
        The data set's files are not on disk.
    EvaluationError
        The file cannot be framed for, or does not match, the data set.
    """
    from ..data import EMBEDDED_NAMES, load_dataset
    meta = spec.metadata.get("framing") or {}
    val_fraction = float(meta.get("val_fraction", 0.0)) if meta.get("dataset") == dataset else 0.0
    split_seed = int(meta.get("split_seed", 0))
    if split == "val" and val_fraction <= 0:
        raise EvaluationError("split 'val' needs the training run's val_fraction, which this "
                              "file's metadata does not give; use --split test or train")
    extra = dict(meta.get("dataset_kwargs") or {}) if meta.get("dataset") == dataset else {}
    kwargs = {"cache_dir": cache_dir} if dataset in EMBEDDED_NAMES and cache_dir else {}
    probe = load_dataset(dataset, root, "test", **kwargs, **extra)
    if spec.classes and len(spec.classes) != len(probe.classes):
        raise EvaluationError(f"the network has {len(spec.classes)} classes, {dataset} has "
                              f"{len(probe.classes)}")
    settings = file_framing(spec, probe.sensor_size)
    framed = open_split(dataset, root, split, settings, cache_dir, val_fraction=val_fraction,
                        split_seed=split_seed, dataset_kwargs=extra)
    frames = FrameSet(framed, subset_indices(len(framed), samples), f"{dataset} {split}")
    if not len(frames):
        raise EvaluationError(f"{dataset} {split} has no samples")
    if stream:
        return FrameBatches(frames), None
    check_budget(f"frames of {dataset} {split} [B, T, C, H, W]",
                 (len(frames), spec.timesteps) + tuple(spec.input_shape), 8,
                 hint="evaluate fewer samples (--samples K)")
    x, y = FrameBatches(frames).take(0, len(frames))
    return x, y


@dataclass(frozen=True)
class FrameBatches:
    """A framed split read batch by batch (:func:`load_frames` with ``stream=True``), so a
    whole test set never sits in memory: :func:`evaluate_file` takes it in place of the
    frames array and reads its labels with each batch."""

    frames: Any  # a lava_mlsnn.data.splits.FrameSet

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def shape(self) -> Tuple[int, ...]:
        """``(B, T, C, H, W)`` of the whole split (the first sample's frame shape)."""
        return (len(self),) + tuple(self.frames[0][0].shape)

    def take(self, start: int, stop: int) -> Tuple[np.ndarray, np.ndarray]:
        """Frames ``[n, T, C, H, W]`` and labels ``[n]`` of samples ``start..stop-1``.

        The frames keep the integer type they are stored in where the split gives it
        (:meth:`~lava_mlsnn.data.splits.FrameSet.compact`: mostly uint8 count frames, an
        eighth of int64's bytes for the emulator's input pass to read); unsigned types
        wider than 8 bits become the signed type above them (torch has no arithmetic on
        them), anything else int64."""
        xs, ys = [], []
        compact = getattr(self.frames, "compact", None)
        for i in range(start, min(stop, len(self))):
            if compact is not None:
                x, y = compact(i)
                x = np.asarray(x)
                if x.dtype.kind not in "iu":  # bool, or a transform's float frames
                    x = x.astype(np.float32).astype(np.int64)  # as __getitem__ then int64
            else:
                x, y = self.frames[i]
                x = x.to(torch.int64).numpy()
            xs.append(x)
            ys.append(y)
        x = np.stack(xs)
        if x.dtype.kind == "u" and x.dtype.itemsize > 1:
            x = x.astype(np.int32 if x.dtype.itemsize == 2 else np.int64)
        return x, np.asarray(ys, dtype=np.int64)


def _batches(x: Union[np.ndarray, FrameBatches], labels: Optional[np.ndarray], size: int
             ) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
    """``(frames, labels)`` per batch of ``size`` samples of an array or a stream."""
    for start in range(0, len(x), size):
        if isinstance(x, FrameBatches):
            yield x.take(start, start + size)
        else:
            yield x[start:start + size], np.asarray(labels)[start:start + size]


@dataclass
class Evaluation:
    """Result of :func:`evaluate_file` (activity per sample, throughput in samples/s)."""

    backend: str
    samples: int
    accuracy: float
    predictions: np.ndarray
    activity: Dict[str, float]
    layers: List[Dict[str, Any]] = field(default_factory=list)
    run_s: float = 0.0
    build_s: float = 0.0

    @property
    def samples_per_s(self) -> float:
        return self.samples / max(self.run_s, 1e-9)


def accumulate_activity(spec: NetworkSpec, outs: Dict[int, Any], acc: Dict[int, Dict[str, float]]
                        ) -> None:
    """Add a batch's per-layer activity (sums over its samples) into ``acc``.

    Counted over slices of about ``ACTIVITY_ELEMENTS`` values of the widest record
    (the counts are float64 temporaries of each record: 8 bytes a value).
    """
    batch = int(next(iter(outs.values())).shape[0])
    widest = max((int(np.prod(v.shape[1:])) for v in outs.values()), default=1)
    step = max(1, ACTIVITY_ELEMENTS // max(widest, 1))
    for s in range(0, batch, step):
        part = {i: torch.as_tensor(v[s:s + step]) for i, v in outs.items()}
        n = int(next(iter(part.values())).shape[0])
        with torch.enable_grad():  # fan-out maps are computed as gradients
            rows = layer_activity(spec, part)
        for a in rows:
            row = acc.setdefault(a.index, {"index": a.index, "type": a.type,
                                           "neuron": a.neuron, "neurons": a.neurons,
                                           "events": 0.0, "payload": 0.0, "synops": 0.0,
                                           "synops_unary": 0.0})
            for k in ("events", "payload", "synops", "synops_unary"):
                row[k] += getattr(a, k) * n


#: Values of the widest record counted at once by :func:`accumulate_activity`.
ACTIVITY_ELEMENTS = 4 << 20


def per_sample_activity(acc: Dict[int, Dict[str, float]], n: int
                        ) -> Tuple[List[Dict[str, Any]], Dict[str, float]]:
    """Per-layer rows and network totals per sample: events and payload without the input
    layer's, synaptic operations with those it causes (:mod:`lava_mlsnn.metrics.activity`)."""
    keys = ("events", "payload", "synops", "synops_unary")
    layers = [{**r, **{k: r[k] / max(n, 1) for k in keys}} for _, r in sorted(acc.items())]
    net = [r for r in layers if r["neuron"] != "INPUT"]
    tot = {k: float(sum(r[k] for r in net)) for k in ("events", "payload")}
    tot.update({k: float(sum(r[k] for r in layers)) for k in ("synops", "synops_unary")})
    return layers, tot


def evaluate_file(spec: NetworkSpec, x: Union[np.ndarray, FrameBatches],
                  labels: Optional[np.ndarray], backend: str = "emulator",
                  batch_size: int = 256, keep_outputs: bool = False
                  ) -> Tuple[Evaluation, Optional[Dict[int, np.ndarray]]]:
    """Run ``x`` ``[B, T, C, H, W]`` through the file: emulator, Lava (fixed_pt) or Loihi 2.

    ``x`` may be a :class:`FrameBatches` stream (``labels`` None): the emulator and Lava
    then read, run and score one batch of ``batch_size`` samples at a time, and the
    emulator records each layer in the narrow type of
    :func:`~lava_mlsnn.backends.emulator.record_dtype`, so memory holds one batch.
    Returns the evaluation and, with ``keep_outputs``, every layer's aligned outputs
    ``{i: int [B, T, *shape]}`` (memory: all layers of all samples).
    """
    out_i = spec.output_index
    preds: List[np.ndarray] = []
    truth: List[np.ndarray] = []
    acc: Dict[int, Dict[str, float]] = {}
    kept: Dict[int, List[np.ndarray]] = {}
    run_s = build_s = 0.0

    def consume(outs: Dict[int, Any], y: np.ndarray) -> None:
        outs = {i: np.asarray(v) for i, v in outs.items()}
        preds.append(classify_spec(spec, outs[out_i]))
        truth.append(np.asarray(y))
        accumulate_activity(spec, outs, acc)
        if keep_outputs:
            for i, v in outs.items():
                kept.setdefault(i, []).append(v)

    if backend == "lava":
        from .._quiet import import_lava_runtime
        import_lava_runtime()  # tqdm may have fixed the multiprocessing start method
        from .lava_runner import LavaNetwork
        t0 = time.perf_counter()
        with LavaNetwork(spec, steps=int(x.shape[1]), batch=min(batch_size, len(x))) as net:
            build_s = time.perf_counter() - t0
            for xb, yb in _batches(x, labels, batch_size):
                t1 = time.perf_counter()
                outs = net.run(xb)
                run_s += time.perf_counter() - t1
                consume(outs, yb)
    elif backend == "loihi2":  # hardware through lava-loihi (checked by the caller)
        from .loihi2 import run_loihi2
        xa, ya = next(_batches(x, labels, max(len(x), 1)))  # one run over every sample
        t1 = time.perf_counter()
        outs = run_loihi2(spec, xa, batch=batch_size)
        run_s = time.perf_counter() - t1
        consume(outs, ya)
    elif backend == "emulator":
        for xb, yb in _batches(x, labels, batch_size):
            t1 = time.perf_counter()
            outs = emulate(spec, xb, narrow=True)
            run_s += time.perf_counter() - t1
            consume({i: v.numpy() for i, v in outs.items()}, yb)
    else:
        raise ValueError(f"unknown backend {backend!r} (expected emulator, lava or loihi2)")
    n = len(x)
    layers, activity = per_sample_activity(acc, n)
    pred = np.concatenate(preds)
    result = Evaluation(backend, n, float((pred == np.concatenate(truth)).mean()), pred,
                        activity, layers, run_s, build_s)
    outputs = {i: np.concatenate(v) for i, v in kept.items()} if keep_outputs else None
    return result, outputs


def evaluation_lines(path: str, spec: NetworkSpec, ev: Evaluation, dataset: str, split: str
                     ) -> List[str]:
    """The ``lava-mlsnn evaluate`` report: accuracy, activity per layer and in all, throughput."""
    from .._table import format_table
    c, h, w = spec.input_shape
    build = f", {ev.build_s:.1f} s to build" if ev.backend == "lava" else ""
    lines = [f"{path}: {dataset} {split} split, {ev.samples} samples framed as T={spec.timesteps}"
             f" x {c}x{h}x{w}, counts clipped to {spec.input_levels}",
             f"backend      {ev.backend}{' (fixed_pt)' if ev.backend == 'lava' else ''}",
             f"accuracy     {ev.accuracy:.2%} ({int(round(ev.accuracy * ev.samples))}/"
             f"{ev.samples})",
             f"activity     {ev.activity['events']:,.1f} events, {ev.activity['payload']:,.1f} "
             f"payload sum (input layer excluded), {ev.activity['synops']:,.0f} synaptic "
             "operations per sample (every synapse, the input's included)",
             f"throughput   {ev.samples_per_s:,.1f} samples/s ({ev.run_s:.2f} s{build})",
             "", "per layer (per sample)"]
    lines.append(format_table(
        ["#", "type", "neuron", "neurons", "events", "payload", "synops out", "events/neuron"],
        [[r["index"], r["type"], r["neuron"], f"{r['neurons']:,}", f"{r['events']:,.1f}",
          f"{r['payload']:,.1f}", f"{r['synops']:,.0f}",
          f"{r['events'] / max(r['neurons'], 1):.3f}"] for r in ev.layers]))
    lines.append("synops out: operations a layer's events cause in the synapses it feeds")
    return lines


def count_run(spec: NetworkSpec, x: Union[np.ndarray, torch.Tensor],
              batch_size: int = 256) -> RunCounts:
    """Run the emulator on ``x`` ``[B, T, *inputShape]`` in batches and count its activity."""
    total = RunCounts()
    for start in range(0, len(x), batch_size):
        part = x[start:start + batch_size]
        total = total.merge(count_outputs(spec, emulate(spec, part, narrow=True), part))
    return total


def estimate_energy(spec: NetworkSpec, x: Union[np.ndarray, torch.Tensor],
                    constants: Optional[EnergyConstants] = None,
                    batch_size: int = 256) -> EnergyReport:
    """Run ``x`` ``[B, T, *inputShape]`` through the emulator and estimate the energy."""
    return energy_report(spec, count_run(spec, x, batch_size), constants)
