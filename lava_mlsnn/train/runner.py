"""A resumable, optionally distributed training run driven by a configuration.

Determinism (what makes a resumed run end with the weights of an uninterrupted one):

* everything a later epoch depends on is in ``checkpoints/last.pt``, written
  atomically after every epoch: model (with BatchNorm running stats), optimizer,
  scheduler, history, best-so-far, and the RNG states (as tensors and lists:
  checkpoints load with ``weights_only=True`` and carry a verified checksum; the
  one before is kept as ``last.prev.pt`` and used, with a warning, when the
  newest is corrupt -- :mod:`lava_mlsnn.train.checkpoint`);
* at the start of every epoch all RNGs (torch, CUDA, numpy, python) are reseeded
  from ``(seed, epoch, rank)``, and the sampler's permutation comes from
  ``seed + epoch``, so no random state has to survive from one epoch to the next;
* the weights a run reports are the best-validation epoch's (``best.pt``); the
  test split is evaluated once, with that checkpoint.

With ``torchrun`` the model is wrapped in DDP (gradients averaged, rank 0's
parameters broadcast at construction), BatchNorm running stats are averaged after
every epoch, and only rank 0 writes the run directory.
"""
from __future__ import annotations

import copy
import logging
import os
import random
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .._log import show_progress
from ..block import Network, ResidualBlock
from ..block.multilevel import Flatten, Input, Readout
from ..classify import argmax_lowest
from ..metrics.activity import SPIKING, fanout_map
from ..quant import SpikeEntropy
from .activity import ActivityRegularizer, combine
from . import distributed as D
from . import runlog
from .checkpoint import CheckpointError, load_checkpoint, pack_rng, previous_path, \
    save_checkpoint, unpack_rng
from ..data.splits import RunData, build_data, default_cache_dir, eval_loader, train_loader
from .loop import logits, run_evaluation
from .models import build_model

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "lava-mlsnn-run-v1"
PLOT_EVERY_S = 60.0


class RunError(RuntimeError):
    """A run directory that cannot be created or resumed (reported in one line)."""


@dataclass
class RunOptions:
    """How to run (not part of the configuration): resume, early stop, progress bars."""

    run_dir: str
    resume: bool = False
    stop_after_epochs: Optional[int] = None
    progress: bool = True


def paths(run_dir: str) -> Dict[str, str]:
    ck = os.path.join(run_dir, "checkpoints")
    return {"config": os.path.join(run_dir, "config.yaml"),
            "metrics": os.path.join(run_dir, "metrics.csv"),
            "summary": os.path.join(run_dir, "summary.json"),
            "last": os.path.join(ck, "last.pt"), "best": os.path.join(ck, "best.pt")}


# ------------------------------------------------------------------ model pieces
def layer_names(net: Network) -> List[Tuple[str, str]]:
    """``(name, kind)`` of every entry ``net(x, record)`` appends; kind is ``input``,
    ``spiking`` or ``skip`` (flatten, readout membrane)."""
    out: List[Tuple[str, str]] = []
    for i, b in enumerate(net.blocks):
        if isinstance(b, Input):
            out.append(("input", "input"))
        elif isinstance(b, ResidualBlock):
            parts = ["conv1", "join"] if b.kind == "spiking" else \
                ["conv1", "conv2"] + (["shortcut"] if b.projection else []) + ["join"]
            out += [(f"{i}.{b.kind}.{p}", "spiking") for p in parts]
        else:
            kind = "skip" if isinstance(b, (Flatten, Readout)) else "spiking"
            out.append((f"{i}.{type(b).__name__.lower()}", kind))
    return out


def make_optimizer(config: Dict, params) -> torch.optim.Optimizer:
    o = config["optim"]
    if o["optimizer"] == "sgd":
        return torch.optim.SGD(params, lr=o["lr"], momentum=o["momentum"],
                               weight_decay=o["weight_decay"])
    cls = torch.optim.AdamW if o["optimizer"] == "adamw" else torch.optim.Adam
    return cls(params, lr=o["lr"], weight_decay=o["weight_decay"])


def make_scheduler(config: Dict, opt: torch.optim.Optimizer):
    o = config["optim"]
    if o["schedule"] == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=o["epochs"])
    if o["schedule"] == "step":
        return torch.optim.lr_scheduler.StepLR(opt, o["step_size"], o["gamma"])
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)


def unused_parameters(net: Network, shape: Tuple[int, ...]) -> List[str]:
    """Trainable parameters that get no gradient (e.g. a mean-only BatchNorm's weight).

    DDP must be told about them (``find_unused_parameters``); a copy of the model
    is probed so that the real one's running stats stay untouched.
    """
    probe = copy.deepcopy(net).cpu().train()
    logits(probe(torch.ones((2,) + tuple(shape) + (1,)))).sum().backward()
    return [n for n, p in probe.named_parameters() if p.requires_grad and p.grad is None]


def seed_epoch(seed: int, epoch: int, rank: int) -> None:
    """Reseed every RNG as a function of ``(seed, epoch, rank)`` only."""
    s = (seed * 1_000_003 + epoch * 9_973 + rank) % (2 ** 31)
    random.seed(s)
    np.random.seed(s)
    torch.manual_seed(s)  # also seeds every CUDA device


def extend_run(config: Dict, opts: RunOptions, d: D.Dist, done: int, sched,
               net: Network) -> None:
    """On ``--resume``: a new ``optim.epochs`` extends (or shortens, down to the epochs
    done) the run; the run's ``config.yaml`` is updated so that a later resume keeps it.

    A schedule that depends on the epoch count (cosine learning rate, the binary
    quantizers' sharpness) continues toward the new total from where it stands; with
    a ``constant`` or ``step`` schedule the extended run equals one planned for the new
    total from the start, bit for bit.
    """
    from .config import dump, load_resolved
    total = config["optim"]["epochs"]
    if total < done:
        raise RunError(f"optim.epochs={total}: the run in {opts.run_dir} has already done "
                       f"{done} epochs")
    path = paths(opts.run_dir)["config"]
    saved = load_resolved(path)
    if saved["optim"]["epochs"] == total:
        return
    if isinstance(sched, torch.optim.lr_scheduler.CosineAnnealingLR):
        sched.T_max = total
    if d.main:
        depends = config["optim"]["schedule"] == "cosine" or any(
            hasattr(m, "set_progress") for m in net.modules())
        log.info("note: extending the run from %d to %d epochs%s", saved["optim"]["epochs"],
                 total, "; its schedule continues toward the new total (a run planned for "
                 f"{total} epochs from the start would differ)" if depends else "")
        saved["optim"]["epochs"] = total
        dump(saved, path)


def has_checkpoint(run_dir: str) -> bool:
    """Whether ``run_dir`` holds a checkpoint to resume from (latest or previous)."""
    last = paths(run_dir)["last"]
    return os.path.exists(last) or os.path.exists(previous_path(last))


# ------------------------------------------------------------------ epochs
def train_epoch(model: torch.nn.Module, net: Network, loader, opt, names, regularizer,
                d: D.Dist, bar) -> Dict[str, Any]:
    """One pass over this rank's shard; returns totals summed over all ranks."""
    model.train()
    loss_sum, correct, total = 0.0, 0, 0
    events = np.zeros(len(names))
    for x, y in loader:
        x = x.to(d.device, non_blocking=True).movedim(1, -1)  # [B, T, C, H, W] -> SLAYER
        y = y.to(d.device, non_blocking=True)
        record: List[torch.Tensor] = []
        out = logits(model(x, record=record), net.readout_output)
        loss = F.cross_entropy(out, y)
        if regularizer is not None:
            loss = loss + regularizer(net)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        for m in net.modules():
            if m is not net and hasattr(m, "clamp"):
                m.clamp()
        with torch.no_grad():
            events += [float((r != 0).sum()) for r in record]
        total += len(y)
        correct += int((argmax_lowest(out.detach()) == y).sum())
        loss_sum += float(loss.detach()) * len(y)
        bar.update(len(y) * d.world)
        bar.set_postfix(loss=f"{loss_sum / total:.3f}", acc=f"{correct / total:.3f}",
                        events=f"{_net_events(events / total, names):.0f}")
    sums = D.all_sum(d, [loss_sum, correct, total, *events])
    n = max(sums[2], 1)
    layer = {name: sums[3 + k] / n for k, (name, kind) in enumerate(names) if kind != "skip"}
    return {"loss": sums[0] / n, "train_acc": sums[1] / n, "samples": int(sums[2]),
            "train_events": _net_events(np.asarray(sums[3:]) / n, names), "layer_events": layer}


def _net_events(per_layer: np.ndarray, names) -> float:
    return float(sum(v for v, (_, kind) in zip(per_layer, names) if kind == "spiking"))


def evaluate_float(net: Network, loader, names, d: D.Dist) -> Tuple[float, float]:
    """Accuracy and events per sample of the real-valued network (eval mode), all ranks."""
    events = [0.0]

    def count(x, y, record, pred) -> None:
        events[0] += sum(float((r != 0).sum()) for r, (_, k) in zip(record, names)
                         if k == "spiking")

    ev = run_evaluation(net, loader, device=d.device, time_first=True, on_batch=count)
    c, n, e = D.all_sum(d, [int((ev.predictions == ev.labels).sum()), ev.samples, events[0]])
    return c / max(n, 1), e / max(n, 1)


def evaluate_quantized(net: Network, loader, device) -> Dict[str, Any]:
    """Accuracy, predictions and activity of the deployed integers (training-side
    forward), in one pass over ``loader``."""
    spec = net.export_spec()
    # Synaptic operations count those the input's events cause (lava_mlsnn.metrics.activity);
    # events and payload are the network's own.
    sources = [i for i, layer in enumerate(spec.layers) if layer.neuron is not None
               and layer.neuron.type in SPIKING]
    with torch.enable_grad():  # fan-out maps are computed as gradients
        fans = {i: fanout_map(spec, i).to(device) for i in sources}
    totals = {"events": 0.0, "payload": 0.0, "synops": 0.0}

    def count(x, y, record, pred) -> None:
        for i in sources:
            out = record[i].movedim(-1, 1).to(torch.float64)  # [B, T, *shape]
            nz = (out != 0).to(torch.float64)
            if spec.layers[i].neuron.type != "INPUT":
                totals["events"] += float(nz.sum())
                totals["payload"] += float(out.abs().sum())
            totals["synops"] += float((nz * fans[i].to(torch.float64)).sum())

    ev = run_evaluation(net, loader, quantized=True, device=device, time_first=True,
                        on_batch=count)
    n = max(ev.samples, 1)
    return {"accuracy": ev.accuracy, "predictions": ev.predictions,
            "activity": {k: v / n for k, v in totals.items()}}


# ------------------------------------------------------------------ the run
def _load_checkpoint(path: str, announce: bool = True) -> Dict[str, Any]:
    """Verified checkpoint (previous one on corruption, with a note); ``RunError`` else."""
    def note(message: str) -> None:
        if announce:
            log.warning(" ".join(message.split()))
    try:
        state, _ = load_checkpoint(path, CHECKPOINT_FORMAT, on_fallback=note)
    except CheckpointError as err:
        raise RunError(str(err)) from None
    return state


def run(config: Dict, opts: RunOptions, d: D.Dist) -> Dict[str, Any]:
    """Train (or continue) the run in ``opts.run_dir``; returns the summary (rank 0)."""
    p = paths(opts.run_dir)
    seed = config["train"]["seed"]
    o = config["optim"]
    cache_dir = default_cache_dir(opts.run_dir, config["data"]["cache_dir"])
    if not d.main:
        D.barrier(d)  # rank 0 frames first and fills the disk cache; the others read it
    data = build_data(config, cache_dir)
    for split in data.splits():  # read errors surface here, before any training
        if config["data"]["cache"]:
            split.materialize()
        elif len(split):
            _ = split[0]
    if d.main:
        D.barrier(d)

    torch.manual_seed(seed)
    net = build_model(config, data.input_shape, len(data.classes), data.classes).to(d.device)
    names = layer_names(net)
    opt = make_optimizer(config, net.parameters())
    sched = make_scheduler(config, opt)
    history: List[Dict[str, Any]] = []
    best = {"epoch": 0, "val_acc": None}
    start = 0
    if opts.resume and not has_checkpoint(opts.run_dir):
        if d.main:
            log.info("note: %s has no checkpoint yet; starting its run from epoch 1",
                     opts.run_dir)
    elif opts.resume:
        state = _load_checkpoint(p["last"], announce=d.main)
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        history, best, start = state["history"], state["best"], state["epoch"]
        extend_run(config, opts, d, start, sched, net)
        unpack_rng(state["rng"])
        if state.get("world_size", 1) != d.world and d.main:
            log.info("note: resuming a %s-process run with %s; the shards and batches differ "
                     "from an uninterrupted run", state.get("world_size", 1), d.world)

    model: torch.nn.Module = net
    if d.active:
        unused = unused_parameters(net, data.input_shape)
        model = torch.nn.parallel.DistributedDataParallel(
            net, device_ids=[d.device.index] if d.device.type == "cuda" else None,
            find_unused_parameters=bool(unused))
    act = config["activity"]
    regularizer = combine([
        SpikeEntropy(config["quant"]["wsdr_lambda"]) if config["quant"]["wsdr"] else None,
        ActivityRegularizer(act["regularizer"], act["lambda"], act["target"])
        if act["regularizer"] else None])
    loader, sampler = train_loader(data.train, o["batch_size"], seed, d.rank, d.world,
                                   config["data"]["workers"], d.device.type == "cuda")
    val_loader = eval_loader(data.val, o["eval_batch_size"], d.rank, d.world) \
        if data.val is not None else None

    run_epochs = 0
    last_plot = time.perf_counter()
    train_s = sum(r["epoch_s"] for r in history)
    bars = show_progress(opts.progress and d.main)  # a bar per epoch (kept) on a terminal only
    lines = runlog.epoch_lines(bars)  # and a log line per epoch wherever the log is kept
    tb = runlog.TensorBoardLog(opts.run_dir) if config["train"]["tensorboard"] and d.main \
        else None
    for epoch in range(start, o["epochs"]):
        if opts.stop_after_epochs is not None and run_epochs >= opts.stop_after_epochs:
            break
        seed_epoch(seed, epoch, d.rank)
        sampler.set_epoch(epoch)
        for m in net.modules():  # schedules such as the binary quantizer's EDE sharpness
            if hasattr(m, "set_progress"):
                m.set_progress(epoch / max(o["epochs"] - 1, 1))
        lr = opt.param_groups[0]["lr"]
        t0 = time.perf_counter()
        with tqdm(total=len(data.train), desc=f"epoch {epoch + 1}/{o['epochs']}", unit="sample",
                  disable=not bars, leave=True, dynamic_ncols=True) as bar:
            rec = train_epoch(model, net, loader, opt, names, regularizer, d, bar)
            sched.step()
            D.average_buffers(d, net)
            epoch_s = time.perf_counter() - t0
            val_acc, val_events = evaluate_float(net, val_loader, names, d) \
                if val_loader is not None else (None, None)
            bar.set_postfix(loss=f"{rec['loss']:.3f}", acc=f"{rec['train_acc']:.3f}",
                            val=f"{val_acc:.3f}" if val_acc is not None else "-",
                            events=f"{rec['train_events']:.0f}")
        rec.update(epoch=epoch + 1, lr=lr, val_acc=val_acc, val_events=val_events,
                   epoch_s=epoch_s, samples_per_s=rec["samples"] / max(epoch_s, 1e-9))
        history.append(rec)
        train_s += epoch_s
        improved = val_acc is None or best["val_acc"] is None or val_acc > best["val_acc"]
        if improved:
            best = {"epoch": epoch + 1, "val_acc": val_acc}
        if d.main:
            if lines:
                log.info("%s", runlog.format_epoch(rec, o["epochs"]))
            if improved:
                save_checkpoint({"format": CHECKPOINT_FORMAT, "epoch": epoch + 1,
                                 "val_acc": val_acc, "model": net.state_dict(),
                                 "config": config}, p["best"])
            save_checkpoint({"format": CHECKPOINT_FORMAT, "epoch": epoch + 1,
                             "model": net.state_dict(), "optimizer": opt.state_dict(),
                             "scheduler": sched.state_dict(), "history": history, "best": best,
                             "rng": pack_rng(), "config": config, "world_size": d.world},
                            p["last"])
            runlog.write_metrics(p["metrics"], history)
            if tb is not None:
                tb.epoch(rec)
            # plots take seconds: refresh them at most once a minute, and at the end
            if time.perf_counter() - last_plot > PLOT_EVERY_S or len(history) == o["epochs"]:
                runlog.plot_history(history, opts.run_dir)
                last_plot = time.perf_counter()
        run_epochs += 1

    if tb is not None:
        tb.close()
    if d.main and run_epochs and len(history) < o["epochs"]:
        runlog.plot_history(history, opts.run_dir)  # stopped early: plots of what was done
    hashes = D.gather_objects(d, D.state_hash(net))
    done = len(history) >= o["epochs"]
    if not done:
        D.barrier(d)
        return {"stopped": True, "epoch": len(history), "run_dir": opts.run_dir,
                "state_hashes": hashes}
    summary = None
    if d.main:
        summary = finish(config, opts, d, net, data, history, best, train_s, run_epochs, hashes)
    D.barrier(d)
    return summary or {"stopped": False, "run_dir": opts.run_dir, "state_hashes": hashes}


def finish(config: Dict, opts: RunOptions, d: D.Dist, net: Network, data: RunData,
           history: List[Dict], best: Dict, train_s: float, run_epochs: int,
           hashes: List[str]) -> Dict[str, Any]:
    """Rank 0: evaluate the selected checkpoint on the test split, write the summary."""
    p = paths(opts.run_dir)
    final_hash = D.state_hash(net)
    net.load_state_dict(_load_checkpoint(p["best"])["model"])
    test = eval_loader(data.test, config["optim"]["eval_batch_size"])
    acc_float, _ = evaluate_float(net, test, layer_names(net), D.Dist(device=d.device))
    quant = evaluate_quantized(net, test, d.device)
    samples = sum(r["samples"] for r in history)
    summary = {
        "run_dir": opts.run_dir, "dataset": config["data"]["dataset"],
        "arch": config["model"]["arch"], "levels": config["model"]["levels"],
        "timesteps": config["data"]["timesteps"], "input_shape": list(data.input_shape),
        "classes": data.classes, "framing": data.framing,
        "samples": {"train": len(data.train), "val": len(data.val) if data.val else 0,
                    "test": len(data.test)},
        "parameters": sum(p_.numel() for p_ in net.parameters()),
        "epochs": config["optim"]["epochs"], "epochs_this_invocation": run_epochs,
        "best_epoch": best["epoch"], "best_val_acc": best["val_acc"],
        "selected_on": "val" if best["val_acc"] is not None else "last",
        "test_acc_float": acc_float, "test_acc_quantized": quant["accuracy"],
        "activity": quant["activity"], "train_s": train_s,
        "samples_per_s": samples / max(train_s, 1e-9), "world_size": d.world,
        "device": str(d.device), "final_state_hash": final_hash,
        "state_hashes": hashes, "ranks_identical": len(set(hashes)) == 1 if d.active else None,
    }
    runlog.write_summary(p["summary"], summary)
    log.info("%s", runlog.format_summary(summary))
    return summary
