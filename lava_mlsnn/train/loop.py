"""A plain, resumable training loop for block networks.

Loss: cross-entropy on the readout membrane at the last step (the quantity the
deployed network is classified by). Checkpoints are written atomically and load
with ``weights_only=True`` and a verified checksum (:mod:`.checkpoint`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..block import Network
from .checkpoint import load_checkpoint, previous_path, save_checkpoint


def logits(outputs: torch.Tensor) -> torch.Tensor:
    """Readout ``[N, classes, T]`` -> class scores at the last step."""
    return outputs[..., -1]


@dataclass
class Checkpoint:
    """Where and how often ``fit`` saves (``path``: one file, overwritten each epoch)."""

    path: str
    resume: bool = True


@torch.no_grad()
def predict(net: Network, loader: Iterable, quantized: bool = False,
            device: str = "cpu") -> torch.Tensor:
    """Predicted class per sample, real-valued or through the deployed integers."""
    net.eval()
    preds = []
    if quantized:
        with net.quantized():
            for x, _ in loader:
                preds.append(logits(net(x.to(device))).argmax(-1).cpu())
    else:
        for x, _ in loader:
            preds.append(logits(net(x.to(device))).argmax(-1).cpu())
    return torch.cat(preds)


@torch.no_grad()
def evaluate(net: Network, loader: Iterable, quantized: bool = False, device: str = "cpu"
             ) -> float:
    """Accuracy on ``loader`` (batches of ``(x [N, C, H, W, T], label)``)."""
    labels = torch.cat([y for _, y in loader])
    return float((predict(net, loader, quantized, device) == labels).float().mean())


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
    for epoch in range(start, epochs):
        net.train()
        for m in net.modules():  # schedules such as the binary quantizer's EDE sharpness
            if hasattr(m, "set_progress"):
                m.set_progress(epoch / max(epochs - 1, 1))
        total, correct, loss_sum = 0, 0, 0.0
        bar = tqdm(train_loader, desc=f"epoch {epoch + 1}/{epochs}", disable=not progress,
                   leave=False)
        for x, y in bar:
            x, y = x.to(device), y.to(device)
            out = logits(net(x))
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
            correct += int((out.argmax(-1) == y).sum())
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
        if checkpoint:
            save_checkpoint({"model": net.state_dict(), "optimizer": opt.state_dict(),
                         "scheduler": sched.state_dict(), "epoch": epoch + 1,
                         "history": history, "best_acc": best[0], "best": best[1],
                         "rng": torch.get_rng_state()}, checkpoint.path)
    if best[1] is not None:
        net.load_state_dict(best[1])
    return history
