"""What a run writes besides checkpoints: the metrics CSV, the plots and the final summary."""
from __future__ import annotations

import csv
import io
import json
import os
import sys
from typing import Any, Dict, List, Sequence

from .._io import atomic_write

BASE_COLUMNS = ["epoch", "lr", "loss", "train_acc", "val_acc", "train_events", "val_events",
                "epoch_s", "samples_per_s"]


def _atomic_text(path: str, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))


def write_metrics(path: str, history: Sequence[Dict[str, Any]]) -> None:
    """Rewrite ``metrics.csv`` from the whole history (so a resumed run has no duplicate rows).

    Columns: :data:`BASE_COLUMNS` then ``events/<layer>`` (events per sample of each
    spiking layer in the training forward; ``input`` is the data's own events).
    """
    layers: List[str] = []
    for rec in history:
        for name in rec.get("layer_events", {}):
            if name not in layers:
                layers.append(name)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(BASE_COLUMNS + [f"events/{n}" for n in layers])
    for rec in history:
        row = [_fmt(rec.get(c)) for c in BASE_COLUMNS]
        row += [_fmt(rec.get("layer_events", {}).get(n)) for n in layers]
        writer.writerow(row)
    _atomic_text(path, buf.getvalue())


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def read_metrics(path: str) -> List[Dict[str, str]]:
    """Rows of a ``metrics.csv`` as dicts of strings."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def plot_history(history: Sequence[Dict[str, Any]], run_dir: str) -> List[str]:
    """``curves.png`` (loss, accuracy) and ``activity.png`` (events per sample) in ``run_dir``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    if not history:
        return []
    epochs = [r["epoch"] for r in history]
    paths = []
    fig, (ax_l, ax_a) = plt.subplots(1, 2, figsize=(9, 3.4), dpi=110)
    ax_l.plot(epochs, [r["loss"] for r in history], marker="o")
    ax_l.set(xlabel="epoch", ylabel="training loss", title="Loss")
    ax_a.plot(epochs, [r["train_acc"] for r in history], marker="o", label="train")
    if any(r.get("val_acc") is not None for r in history):
        ax_a.plot(epochs, [r.get("val_acc") for r in history], marker="o", label="validation")
    ax_a.set(xlabel="epoch", ylabel="accuracy", title="Accuracy")
    ax_a.legend()
    for ax in (ax_l, ax_a):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    paths.append(os.path.join(run_dir, "curves.png"))
    fig.savefig(paths[-1])
    plt.close(fig)

    fig, (ax_t, ax_b) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=110)
    ax_t.plot(epochs, [r["train_events"] for r in history], marker="o", label="train (float)")
    if any(r.get("val_events") is not None for r in history):
        ax_t.plot(epochs, [r.get("val_events") for r in history], marker="o",
                  label="validation (float, eval)")
    ax_t.set(xlabel="epoch", ylabel="events per sample", title="Network activity")
    ax_t.legend()
    last = {k: v for k, v in history[-1].get("layer_events", {}).items() if k != "input"}
    ax_b.bar(range(len(last)), list(last.values()))
    ax_b.set_xticks(range(len(last)), list(last.keys()), rotation=45, ha="right", fontsize=7)
    ax_b.set(ylabel="events per sample", title=f"Per layer, epoch {epochs[-1]}")
    for ax in (ax_t, ax_b):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    paths.append(os.path.join(run_dir, "activity.png"))
    fig.savefig(paths[-1])
    plt.close(fig)
    return paths


def plural(n: int, word: str) -> str:
    """``"1 epoch"``, ``"2 epochs"``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def percent(v: Any) -> str:
    """An accuracy fraction as ``"66.43 %"`` (``"-"`` when there is none)."""
    return f"{100 * v:.2f} %" if isinstance(v, (int, float)) else "-"


def format_epoch(rec: Dict[str, Any], epochs: int) -> str:
    """The one log line of an epoch: loss to 4 significant digits, accuracies in percent.

    ``rec`` is an epoch record of the history (``epoch``, ``loss``, ``train_acc``, optional
    ``val_acc``, ``train_events`` and ``epoch_s``); ``epochs`` the run's total epochs.
    """
    line = (f"epoch {rec['epoch']}/{epochs}: loss {rec['loss']:#.4g}, "
            f"train acc {percent(rec['train_acc'])}")
    if "val_acc" in rec:
        line += f", val acc {percent(rec['val_acc'])}"
    if rec.get("train_events") is not None:
        line += f", {rec['train_events']:.0f} events/sample"
    if rec.get("epoch_s") is not None:
        line += f", {rec['epoch_s']:.1f} s"
    return line


def epoch_lines(bars: bool, stdout: Any = None) -> bool:
    """Whether to log one line per epoch: always unless a kept progress bar already shows the
    epoch on the very terminal the log goes to (stdout a terminal; bars on stderr). A log
    redirected to a file holds one line per epoch even while bars are drawn on stderr."""
    if not bars:
        return True
    stdout = sys.stdout if stdout is None else stdout
    try:
        return not stdout.isatty()
    except (AttributeError, ValueError):
        return True


def write_summary(path: str, summary: Dict[str, Any]) -> None:
    _atomic_text(path, json.dumps(summary, indent=2, default=str) + "\n")


def format_summary(s: Dict[str, Any]) -> str:
    """The one-screen end-of-run summary."""
    def pct(v: Any) -> str:
        return f"{v:7.2%}" if isinstance(v, (int, float)) else "    n/a"
    sel = (f"epoch {s['best_epoch']} of {s['epochs']} (best validation accuracy)"
           if s.get("selected_on") == "val"
           else f"epoch {s['best_epoch']} (last; no validation split)")
    lines = [
        "=" * 72,
        f" run directory        {s['run_dir']}",
        f" data                 {s['dataset']}: {s['samples']['train']} train / "
        f"{s['samples']['val']} val / {s['samples']['test']} test, frames "
        f"{'x'.join(map(str, s['input_shape']))} x T={s['timesteps']}",
        f" model                {s['arch']}, N={s['levels']}, {s['parameters']:,} parameters",
        f" training             {plural(s['epochs'], 'epoch')} in {s['train_s']:.0f} s "
        f"({s['samples_per_s']:.0f} samples/s, {s['world_size']} process"
        f"{'es' if s['world_size'] > 1 else ''}, {s['device']})",
        f" selected checkpoint  {sel}",
        f" validation accuracy  {pct(s.get('best_val_acc'))}",
        f" test accuracy        {pct(s['test_acc_float'])} float   "
        f"{pct(s['test_acc_quantized'])} quantized (deployed integers)",
        f" activity (test)      {s['activity']['events']:,.0f} events, "
        f"{s['activity']['payload']:,.0f} payload, {s['activity']['synops']:,.0f} synops "
        "per sample (quantized)",
    ]
    if s.get("ranks_identical") is not None:
        lines.append(f" DDP ranks identical  {s['ranks_identical']} "
                     f"(state hashes {', '.join(s['state_hashes'])})")
    lines += ["=" * 72, f"next: lava-mlsnn export {s['run_dir']}"]
    return "\n".join(lines)


TB_SCALARS = ("loss", "train_acc", "val_acc", "train_events", "val_events", "lr", "epoch_s",
              "samples_per_s")


class TensorBoardLog:
    """Optional TensorBoard scalars of a run (``train.tensorboard``), in
    ``<run dir>/tensorboard``: one point per epoch of every :data:`TB_SCALARS` entry of its
    record. Needs the ``tensorboard`` package (extra ``tensorboard``)."""

    def __init__(self, run_dir: str) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:
            raise ImportError(f"train.tensorboard needs the 'tensorboard' package ({err}); "
                              "install it with pip install 'lava-mlsnn[tensorboard]'") from None
        self.path = os.path.join(run_dir, "tensorboard")
        self._writer = SummaryWriter(self.path)

    def epoch(self, record: Dict[str, Any]) -> None:
        for key in TB_SCALARS:
            value = record.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self._writer.add_scalar(f"train/{key}", float(value), int(record["epoch"]))
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()
