"""Shared by the multi-seed studies: motion-digits frames, one run, resumable JSON results.

A study is a list of named variants, each a function ``seed -> Network`` plus the
framing and training budget. Every finished (variant, seed) run is stored at once in
``benchmarks/results/<study>.json`` (atomically), so an interrupted study resumes
where it stopped and a finished one is only re-reported.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch

from lava_mlsnn._io import atomic_write
from lava_mlsnn.data import FramedDataset, framing, to_slayer

from _common import train_export_evaluate

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
FIGURES = os.path.join(HERE, "figures")
CACHE = os.path.join(os.path.dirname(HERE), "runs", "cache")


SIZE = 16  # the studies' frames: the 32x32 sensor summed over 2x2 pixels (4x less compute)


def motion_frames(timesteps: int, input_levels: int = 7, limit: Optional[int] = None,
                  seed: int = 0, size: int = SIZE) -> Dict[str, tuple]:
    """Train / val / test tensors ``([N, 2, size, size, T] float, labels)`` of motion digits.

    Framed tensors are kept in ``runs/cache`` (one file per T, input levels and size), so
    parallel study processes render and frame once.
    """
    from lava_mlsnn.data import MotionDigitsDVS
    path = os.path.join(CACHE, f"motion_frames_s{seed}_T{timesteps}_L{input_levels}_{size}px.pt")
    if os.path.exists(path):
        data = torch.load(path)
    else:
        kw = dict(seed=seed, cache_dir=CACHE)
        splits = {"train": MotionDigitsDVS("train", val_fraction=0.1, **kw),
                  "val": MotionDigitsDVS("val", val_fraction=0.1, **kw),
                  "test": MotionDigitsDVS("test", **kw)}
        data = {k: _framed(ds, timesteps, input_levels, size) for k, ds in splits.items()}
        os.makedirs(CACHE, exist_ok=True)
        atomic_write(path, lambda f: torch.save(data, f))
    if limit:
        g = torch.Generator().manual_seed(0)
        keep = torch.randperm(len(data["train"][1]), generator=g)[:limit]
        data = dict(data, train=(data["train"][0][keep], data["train"][1][keep]))
    return data


def _framed(dataset, timesteps: int, input_levels: int, size: int) -> tuple:
    framed = FramedDataset(dataset, framing(dataset.sensor_size, n_time_bins=timesteps,
                                            clip=input_levels, target_size=(size, size)))
    xs, ys = zip(*(framed[i] for i in range(len(framed))))
    return to_slayer(torch.stack(xs)).float(), torch.tensor(ys)


def load(study: str) -> Dict[str, Dict]:
    path = os.path.join(RESULTS, f"{study}.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


def _store(study: str, key: str, record: Dict) -> None:
    results = load(study)  # re-read: another process may have added runs meanwhile
    results[key] = record
    os.makedirs(RESULTS, exist_ok=True)
    text = json.dumps(results, indent=1, sort_keys=True)
    atomic_write(os.path.join(RESULTS, f"{study}.json"), lambda f: f.write(text.encode()))


def summarize(result: Dict, extra: Optional[Dict] = None) -> Dict:
    """The JSON-friendly part of :func:`train_export_evaluate`'s result."""
    from lava_mlsnn.metrics.energy import energy_report, count_outputs
    spec, out = result["spec"], result["outputs"]
    rec = {k: result[k] for k in ("float", "quantized", "emulator", "train_s")}
    rec["activity"] = {k: float(v) for k, v in result["activity"].items()}
    rec["blocks"] = [{k: (float(v) if isinstance(v, (int, float, np.floating)) else v)
                      for k, v in b.items() if k != "layers"} for b in result["blocks"]]
    try:
        report = energy_report(spec, count_outputs(spec, out))
        rec["energy_pj"] = {"memory_aware": float(report.total()), "sop": float(report.sop_pj),
                            "ann": float(report.ann_pj)}
    except Exception as err:  # noqa: BLE001 - a missing estimate must not lose the run
        rec["energy_error"] = str(err)
    rec.update(extra or {})
    return rec


def _claim(study: str, key: str) -> bool:
    """Take ``(study, key)`` for this process (an exclusive create); False if taken.

    Two processes may then work through the same study; the claim of a killed process
    stays behind, so delete ``runs/cache/claims`` before resuming an interrupted study.
    """
    path = os.path.join(CACHE, "claims", study, key.replace("/", "_"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return True
    except FileExistsError:
        return False


def run_study(study: str, variants: Dict[str, Dict], seeds: Sequence[int],
              only: Optional[Sequence[str]] = None) -> Dict[str, Dict]:
    """Run every missing ``(variant, seed)``; ``variants[name]`` holds ``build(seed)``,
    ``timesteps``, ``epochs`` and optionally ``regularizer``, ``limit``, ``lr``."""
    for name, v in variants.items():
        if only and name not in only:
            continue
        for seed in seeds:
            key = f"{name}/seed{seed}"
            if key in load(study) or not _claim(study, key):
                continue  # done, or being trained by another study process
            data = motion_frames(v["timesteps"], limit=v.get("limit"))
            torch.manual_seed(seed)
            net = v["build"](seed)
            t0 = time.perf_counter()
            info = {"variant": name, "seed": seed, "epochs": v["epochs"],
                    "timesteps": v["timesteps"]}
            try:
                res = train_export_evaluate(
                    net, data, v["epochs"], os.path.join(CACHE, "nets", study, f"{name}_s{seed}.h5"),
                    lr=v.get("lr", 3e-3), seed=seed, regularizer=v.get("regularizer"))
                rec = summarize(res, info)
            except ValueError as err:  # not deployable: keep the float accuracy and the reason
                from lava_mlsnn.demo import _loader
                from lava_mlsnn.train import evaluate
                acc = evaluate(net, _loader(*data["test"], 256, False))
                rec = dict(info, float=acc, emulator=float("nan"), quantized=float("nan"),
                           export_error=str(err), activity={"events": float("nan"),
                                                            "payload": float("nan")})
            rec["wall_s"] = time.perf_counter() - t0
            _store(study, key, rec)
            print(f"{study} {key}: float {100 * rec['float']:.1f} %, emulator "
                  f"{100 * rec['emulator']:.1f} %, events "
                  f"{rec['activity']['events']:.0f}, {rec['wall_s']:.0f} s", flush=True)
    return load(study)


def study_main(study: str, variants: Callable[[int], Dict[str, Dict]],
               report: Callable[[], None], epochs: int, argv: Optional[Sequence[str]] = None,
               default_only: Optional[Sequence[str]] = None) -> None:
    """Command line of every study script: run the missing runs, then print the report.

    ``--epochs`` (default ``epochs``) goes to ``variants(epochs)``; ``--seeds``, ``--only``
    (default ``default_only``, else every variant) go to :func:`run_study`;
    ``--report-only`` only reports the stored results.
    """
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--only", nargs="*")
    p.add_argument("--report-only", action="store_true")
    a = p.parse_args(argv)
    if not a.report_only:
        run_study(study, variants(a.epochs), a.seeds, a.only or default_only)
    report()


def mean_std(results: Dict[str, Dict], name: str, get: Callable[[Dict], float]) -> List[float]:
    vals = [get(r) for k, r in results.items() if r["variant"] == name]
    return [float(np.mean(vals)), float(np.std(vals)), len(vals)] if vals else [float("nan")] * 3
