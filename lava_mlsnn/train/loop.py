"""A plain, resumable training loop for block networks.

Loss: cross-entropy on the class scores the deployed network is classified by
(:mod:`lava_mlsnn.classify`: the readout membrane at the last step, or a spiking output
summed over time). Checkpoints are written atomically and load with ``weights_only=True``
and a verified checksum (:mod:`.checkpoint`).
"""
from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .._log import show_progress
from ..block import Network
from ..classify import argmax_lowest, class_scores, classify
from .checkpoint import load_checkpoint, previous_path, save_checkpoint
from .runlog import epoch_lines, format_epoch

log = logging.getLogger(__name__)


def logits(outputs: torch.Tensor, readout: bool = True) -> torch.Tensor:
    """Class scores ``[N, classes]`` of the output block's ``[N, classes, T]``.

    The same rule as :mod:`lava_mlsnn.classify`: a readout is read at the last step,
    a spiking output summed over time.
    """
    return class_scores(outputs, readout, time_axis=-1)


@dataclass
class Checkpoint:
    """Where and how often ``fit`` saves (``path``: one file, overwritten each epoch)."""

    path: str
    resume: bool = True


@dataclass
class Evaluation:
    """What one pass over a loader gives: ``predictions`` and ``labels`` (int64 ``[n]``,
    in the loader's order) and their ``accuracy``."""

    predictions: torch.Tensor
    labels: torch.Tensor

    @property
    def accuracy(self) -> float:
        n = len(self.labels)
        return float((self.predictions == self.labels).float().mean()) if n else 0.0

    @property
    def samples(self) -> int:
        return len(self.labels)


BatchHook = Callable[[torch.Tensor, torch.Tensor, List[torch.Tensor], torch.Tensor], None]


@torch.no_grad()
def run_evaluation(net: Network, loader: Iterable, quantized: bool = False,
                   device: str = "cpu", time_first: bool = False,
                   on_batch: Optional[BatchHook] = None) -> Evaluation:
    """Classify every sample of ``loader`` in one pass (labels and predictions together).

    Parameters
    ----------
    net : Network
    loader : iterable of ``(x, label)``
        ``x`` is ``[N, C, (H, W), T]`` (SLAYER layout) or, with ``time_first``,
        ``[N, T, C, (H, W)]`` (file layout, as framed data sets give it).
    quantized : bool
        Through the deployed integers (:meth:`Network.quantized`) instead of the real
        forward.
    on_batch : callable, optional
        ``on_batch(x, y, record, pred)`` after each batch, with ``x`` in SLAYER layout on
        ``device`` and ``record`` every exported layer's output: activity counts or a
        comparison with a backend ride on the same pass.
    """
    net.eval()
    readout = net.readout_output
    preds: List[torch.Tensor] = []
    labels: List[torch.Tensor] = []
    with net.quantized() if quantized else contextlib.nullcontext():
        for x, y in loader:
            x = x.to(device)
            if time_first:
                x = x.movedim(1, -1)
            record: List[torch.Tensor] = []
            out = net(x, record=record)
            pred = classify(out, readout, time_axis=-1)
            if on_batch is not None:
                on_batch(x, y, record, pred)
            preds.append(pred.cpu())
            labels.append(torch.as_tensor(y).cpu())
    cat = (lambda t: torch.cat(t).to(torch.int64) if t else torch.zeros(0, dtype=torch.int64))
    return Evaluation(cat(preds), cat(labels))


def predict(net: Network, loader: Iterable, quantized: bool = False,
            device: str = "cpu") -> torch.Tensor:
    """Predicted class per sample, real-valued or through the deployed integers."""
    return run_evaluation(net, loader, quantized, device).predictions


def evaluate(net: Network, loader: Iterable, quantized: bool = False, device: str = "cpu"
             ) -> float:
    """Accuracy on ``loader`` (batches of ``(x [N, C, H, W, T], label)``), one pass."""
    return run_evaluation(net, loader, quantized, device).accuracy


def fit(net: Network, train_loader: Iterable, epochs: int, lr: float = 3e-3,
        val_loader: Optional[Iterable] = None, device: str = "cpu",
        checkpoint: Optional[Checkpoint] = None, progress: bool = True,
        regularizer: Optional[Callable[[Network], torch.Tensor]] = None,
        weight_decay: float = 0.0) -> List[Dict[str, float]]:
    """Train with Adam and a cosine learning-rate schedule.

    Parameters
    ----------
    net : Network
    train_loader : iterable of ``(x [N, *shape, T] float, label [N] long)``
    epochs : int
    lr : float
    val_loader : iterable, optional
        Accuracy on it is recorded each epoch; the best epoch's weights are kept
        in the checkpoint as ``best``.
    checkpoint : Checkpoint, optional
        Saved atomically after every epoch; with ``resume`` an existing file is
        continued from.
    regularizer : callable, optional
        Extra loss term ``f(net)`` (e.g. WS-DR's spike term).

    Returns
    -------
    list of dict
        Per-epoch ``loss``, ``train_acc`` and ``val_acc``.
    """
    net.to(device)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs))
    history: List[Dict[str, float]] = []
    start, best = 0, (-1.0, None)
    if checkpoint and checkpoint.resume and (os.path.exists(checkpoint.path) or
                                             os.path.exists(previous_path(checkpoint.path))):
        state, _ = load_checkpoint(checkpoint.path)
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        start, history = state["epoch"], state["history"]
        best = (state["best_acc"], state["best"])
        torch.set_rng_state(state["rng"])
    readout = net.readout_output
    for epoch in range(start, epochs):
        net.train()
        for m in net.modules():  # schedules such as the binary quantizer's EDE sharpness
            if hasattr(m, "set_progress"):
                m.set_progress(epoch / max(epochs - 1, 1))
        total, correct, loss_sum = 0, 0, 0.0
        bar = tqdm(train_loader, desc=f"epoch {epoch + 1}/{epochs}", leave=True,
                   disable=not show_progress(progress))  # bars (kept) on a terminal only
        for x, y in bar:
            x, y = x.to(device), y.to(device)
            out = logits(net(x), readout)
            loss = F.cross_entropy(out, y)
            if regularizer is not None:
                loss = loss + regularizer(net)
            opt.zero_grad()
            loss.backward()
            opt.step()
            for m in net.modules():
                if hasattr(m, "clamp") and m is not net:
                    m.clamp()
            total += len(y)
            correct += int((argmax_lowest(out.detach()) == y).sum())
            loss_sum += float(loss) * len(y)
            bar.set_postfix(loss=f"{loss_sum / total:.3f}", acc=f"{correct / total:.3f}")
        sched.step()
        record = {"epoch": epoch + 1, "loss": loss_sum / max(total, 1),
                  "train_acc": correct / max(total, 1)}
        if val_loader is not None:
            record["val_acc"] = evaluate(net, val_loader, device=device)
            if record["val_acc"] > best[0]:
                best = (record["val_acc"], {k: v.detach().cpu().clone()
                                            for k, v in net.state_dict().items()})
        history.append(record)
        if progress and epoch_lines(show_progress(progress)):
            log.info("%s", format_epoch(record, epochs))
        if checkpoint:
            save_checkpoint({"model": net.state_dict(), "optimizer": opt.state_dict(),
                         "scheduler": sched.state_dict(), "epoch": epoch + 1,
                         "history": history, "best_acc": best[0], "best": best[1],
                         "rng": torch.get_rng_state()}, checkpoint.path)
    if best[1] is not None:
        net.load_state_dict(best[1])
    return history
