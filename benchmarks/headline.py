"""Headline: multi-level T = 1 vs binary SNNs -- accuracy, latency, events and energy.

Trains (small budget), exports and evaluates, on the exported file with the emulator
(integer-identical to Lava) over the test split:

* multi-level ``dvs_convnet`` at T = 1 with N in {1, 2, 4, 8};
* binary baselines at T in {1, 4, 10}: the same architecture with lava-dl CUBA-LIF
  blocks (:mod:`lava_mlsnn.block.cuba`) and multi-level N = 1;

and reports accuracy, latency in steps, events, energy under the memory-aware model
(Lemaire et al. 2022) and the SOP model, the energy ratio against the binary net of
equal or nearest-higher accuracy, and NeuroBench-style figures. It adds the
Sparse-ResNet / SEW-ADD / Spiking ResNet comparison (``bench_resnet.run``, with
energy) and the Q-SNN table (``bench_qsnn``: its last published table, re-run with
``--qsnn``) when those scripts exist. Writes the section "Headline" of BENCHMARKS.md
and PNG plots into ``benchmarks/figures/``.

Run: .venv/bin/python benchmarks/headline.py [--fast] [--epochs E] [--dataset NAME --root DIR]
"""
from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import time
from typing import Dict, List, Optional, Tuple

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _report import BENCHMARKS_MD, publish, table  # noqa: E402

from lava_mlsnn import block  # noqa: E402
from lava_mlsnn.classify import classify_spec  # noqa: E402
from lava_mlsnn.metrics import count_outputs, energy_report, neurobench_metrics  # noqa: E402
from lava_mlsnn.models import dvs_convnet  # noqa: E402

FIGURES = os.path.join(HERE, "figures")
INPUT_LEVELS = 7
# lava-dl's own CUBA settings (SLAYER NMNIST tutorial); no BatchNorm (CUBA export has none)
CUBA = dict(threshold=1.25, current_decay=0.25, voltage_decay=0.03, tau_grad=0.03, scale_grad=3)
MULTI = [("ml", n, 1) for n in (1, 2, 4, 8)]
BINARY = [(kind, 1, t) for kind in ("cuba", "ml") for t in (1, 4, 10)]


def _in(r: Dict, rs: List[Dict]) -> bool:
    return any(r is x for x in rs)  # identity: results hold arrays, == would compare them


def _rest(binaries: List[Dict], multi: List[Dict]) -> List[Dict]:
    return [b for b in binaries if not _in(b, multi)]


def name(kind: str, levels: int, steps: int) -> str:
    return f"{'lava-dl CUBA' if kind == 'cuba' else f'multi-level N={levels}'}, T={steps}"


def cuba_convnet(shape, classes: int, steps: int) -> block.Network:
    """``dvs_convnet``'s architecture with binary lava-dl CUBA-LIF layers (the pool is a
    binary IF neuron with a fixed unit threshold, so the next CUBA layer reads 0/1)."""
    c, h, w = shape
    pool = dict(threshold=1.0, learn_threshold=False, levels=1, norm=False)
    blocks = [block.Input((c, h, w), INPUT_LEVELS),
              block.cuba.Conv(CUBA, c, 16, 3, stride=2, padding=1, weight_scale=2),
              block.cuba.Conv(CUBA, 16, 32, 3, padding=1, weight_scale=2),
              block.Pool(pool, 2), block.Flatten(),
              block.cuba.Dense(CUBA, 32 * ((h + 1) // 4) * ((w + 1) // 4), 64, weight_scale=2),
              block.Readout(dict(norm=True), 64, classes)]
    return block.Network(blocks, timesteps=steps)


def budget(steps: int, epochs: int, n_train: int, fast: bool) -> Tuple[int, int]:
    """(epochs, training samples), the same for CUBA and multi-level nets of equal T: a
    T = 10 sample costs several times a T = 1 one, so T = 10 nets get one epoch less."""
    if fast or steps < 10:
        return epochs, n_train
    return max(1, epochs - 1), n_train


# --------------------------------------------------------------------------- data
def load_frames(dataset: str, root: Optional[str], steps: int, size: Optional[int],
                limits: Dict[str, Optional[int]]) -> Dict[str, tuple]:
    """``{split: (x [N, C, H, W, T] float, labels)}`` for train / val / test."""
    from lava_mlsnn.data import FramedDataset, framing, load_dataset, to_slayer
    out = {}
    for split in ("train", "val", "test"):
        ds = load_dataset(dataset, root=root, split=split,
                          val_fraction=0.0 if split == "test" else 0.1)
        target = None if size is None else (size, size)
        framed = FramedDataset(ds, framing(ds.sensor_size, n_time_bins=steps, clip=INPUT_LEVELS,
                                           target_size=target))
        n = len(framed) if limits.get(split) is None else min(limits[split], len(framed))
        xs, ys = zip(*(framed[i] for i in range(n)))
        out[split] = (to_slayer(torch.stack(xs)).float(), torch.tensor(ys))
    out["classes"] = len(getattr(ds, "classes", None) or range(int(max(out["train"][1])) + 1))
    return out


def _loader(x, y, batch: int, shuffle: bool):
    ds = torch.utils.data.TensorDataset(x, y)
    return torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=shuffle,
                                       generator=torch.Generator().manual_seed(0))


# --------------------------------------------------------------------------- one config
def run_config(kind: str, levels: int, steps: int, data: Dict, epochs: int, n_train: int,
               out_dir: str) -> Dict:
    """Train, export, emulate on the test split; accuracy, activity and energy."""
    from lava_mlsnn.block import to_emulator_layout
    from lava_mlsnn.netx import emulate, read_network
    from lava_mlsnn.train import evaluate, fit
    torch.manual_seed(0)
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = data["train"], data["val"], data["test"]
    shape = tuple(x_tr.shape[1:-1])
    net = cuba_convnet(shape, data["classes"], steps) if kind == "cuba" else \
        dvs_convnet(shape, data["classes"], levels=levels, input_levels=INPUT_LEVELS,
                    timesteps=steps)
    t0 = time.perf_counter()
    fit(net, _loader(x_tr[:n_train], y_tr[:n_train], 32, True), epochs, lr=3e-3,
        val_loader=_loader(x_va, y_va, 256, False), progress=False)
    train_s = time.perf_counter() - t0
    path = os.path.join(out_dir, f"{kind}_N{levels}_T{steps}.h5")
    os.makedirs(out_dir, exist_ok=True)
    net.export_hdf5(path)
    spec = read_network(path)
    x_file = to_emulator_layout(x_te).long()
    out = emulate(spec, x_file)
    acc = float((classify_spec(spec, out[len(spec.layers) - 1]) == y_te).float().mean())
    counts = count_outputs(spec, out, x_file)
    return {"kind": kind, "levels": levels, "steps": steps, "name": name(kind, levels, steps),
            "acc": acc, "float_acc": evaluate(net, _loader(x_te, y_te, 256, False)),
            "epochs": epochs, "n_train": n_train, "train_s": train_s, "spec": spec,
            "latency": steps + max(spec.depths()), "energy": energy_report(spec, counts),
            "nb": neurobench_metrics(spec, counts), "counts": counts,
            "events": sum(counts.mean("events", i) for i, layer in enumerate(spec.layers)
                          if layer.neuron is not None and layer.neuron.type in
                          ("MLSN", "CUBA", "PASS"))}


def reference(r: Dict, binaries: List[Dict]) -> Tuple[Optional[Dict], str]:
    """The binary net of equal or nearest-higher accuracy (else the most accurate one)."""
    cands = [b for b in binaries if b is not r]
    above = [b for b in cands if b["acc"] >= r["acc"]]
    if above:
        return min(above, key=lambda b: (b["acc"], b["energy"].total_pj)), ""
    best = max(cands, key=lambda b: b["acc"], default=None)
    return best, " (all binary nets less accurate: vs the best)"


# --------------------------------------------------------------------------- report
def _nj(pj: float) -> str:
    return f"{pj / 1e3:,.1f}"


def main_table(multi: List[Dict], binaries: List[Dict]) -> str:
    rows = []
    for r in multi + _rest(binaries, multi):
        e = r["energy"]
        ref, note = reference(r, binaries) if _in(r, multi) else (None, "")
        ratio = (f"{ref['energy'].total_pj / e.total_pj:.2f}x / "
                 f"{ref['energy'].sop_pj / e.sop_pj:.2f}x vs {ref['name']}{note}") if ref else "-"
        rows.append([r["name"], f"{100 * r['acc']:.1f} %", r["steps"], r["latency"],
                     f"{r['events']:,.0f}", _nj(e.total_pj), _nj(e.sop_pj), ratio,
                     f"{r['epochs']} x {r['n_train']}", f"{r['train_s']:.0f}"])
    return table(["network", "accuracy", "T (steps)", "Lava steps", "events / sample",
                  "energy memory-aware (nJ)", "energy SOP (nJ)",
                  "binary / this (memory-aware / SOP)", "train budget (epochs x samples)",
                  "train (s)"], rows)


def terms_table(results: List[Dict]) -> str:
    rows = [[r["name"]] + [_nj(r["energy"].total(t)) for t in
                           ("ops", "potentials", "weights", "bias", "io", "addressing")]
            + [_nj(r["energy"].total_pj), _nj(r["energy"].ann_pj), _nj(r["energy"].ann_sop_pj)]
            for r in results]
    return table(["network", "ops", "potentials", "weights", "bias", "io", "addressing",
                  "total", "ANN ref (memory-aware)", "ANN ref (SOP)"], rows)


def neurobench_table(results: List[Dict]) -> str:
    rows = [[r["name"], f"{r['nb']['activation_sparsity']:.3f}",
             f"{r['nb']['effective_macs']:,.0f}", f"{r['nb']['effective_acs']:,.0f}",
             f"{r['nb']['dense_ops']:,.0f}", f"{r['nb']['synops_per_event']:,.0f}",
             f"{r['nb']['synops_unary']:,.0f}", f"{r['nb']['footprint_bytes'] / 1024:,.1f}",
             f"{r['nb']['footprint_neurobench_bytes'] / 1024:,.1f}"] for r in results]
    return table(["network", "activation sparsity", "effective MACs", "effective ACs",
                  "dense ops", "synops per event", "synops per payload unit",
                  "footprint (KiB, deployed bits)", "footprint (KiB, NeuroBench 4 B)"], rows)


def plots(multi: List[Dict], binaries: List[Dict]) -> List[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(FIGURES, exist_ok=True)
    paths = [os.path.join(FIGURES, "headline_energy_accuracy.png"),
             os.path.join(FIGURES, "headline_energy_terms.png")]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), dpi=120)
    for ax, attr, label in zip(axes, ("total_pj", "sop_pj"), ("memory-aware", "SOP")):
        for group, marker, rs in (("multi-level T=1", "o", multi),
                                  ("binary", "s", _rest(binaries, multi))):
            ax.scatter([getattr(r["energy"], attr) / 1e3 for r in rs],
                       [100 * r["acc"] for r in rs], marker=marker, label=group)
            for r in rs:
                ax.annotate(r["name"].replace("multi-level ", ""),
                            (getattr(r["energy"], attr) / 1e3, 100 * r["acc"]), fontsize=7)
        ax.set_xscale("log")
        ax.set_xlabel(f"energy per inference, {label} model (nJ)")
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(paths[0])
    plt.close(fig)
    results = multi + _rest(binaries, multi)
    fig, ax = plt.subplots(figsize=(9, 4), dpi=120)
    bottom = [0.0] * len(results)
    for term in ("ops", "potentials", "weights", "bias", "io", "addressing"):
        vals = [r["energy"].total(term) / 1e3 for r in results]
        ax.bar(range(len(results)), vals, bottom=bottom, label=term)
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_xticks(range(len(results)))
    ax.set_xticklabels([r["name"].replace("multi-level ", "ML ") for r in results],
                       rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("nJ per inference (memory-aware)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(paths[1])
    plt.close(fig)
    return paths


def resnet_section(fast: bool, epochs: int) -> str:
    """Sparse / SEW / Spiking ResNet via ``bench_resnet.run``, with energy; or a note."""
    try:
        bench = importlib.import_module("bench_resnet")
        blocks = 1 if fast else 2
        epochs = 1 if fast else max(1, epochs - 1)
        results = bench.run(epochs, 4, blocks, limit=200 if fast else None,
                            out_dir="runs/headline/resnet")
    except Exception as err:  # noqa: BLE001 -- a separate script: report, go on
        return f"Residual comparison skipped ({type(err).__name__}: {err})."
    rows = []
    for kind, r in results.items():
        counts = count_outputs(r["spec"], r["outputs"])
        e = energy_report(r["spec"], counts)
        rows.append([getattr(bench, "KINDS", {}).get(kind, kind), f"{100 * r['emulator']:.1f} %",
                     f"{r['activity']['events']:,.0f}", f"{r['activity']['payload']:,.0f}",
                     _nj(e.total_pj), _nj(e.sop_pj)])
    return (f"Via `bench_resnet.run` ({2 * blocks} residual blocks, widths 16/32, N = 4, T = 1, "
            f"{epochs} epoch{'s' * (epochs > 1)}{', 200 training samples' if fast else ''}; the "
            "full comparison is the section published by `bench_resnet.py`):\n\n"
            + table(["network", "accuracy", "events", "payload sum",
                     "energy memory-aware (nJ)", "energy SOP (nJ)"], rows))


def qsnn_section(rerun: bool, fast: bool) -> str:
    """The Q-SNN table: re-run through ``bench_qsnn.main`` or quoted from BENCHMARKS.md."""
    if not os.path.exists(os.path.join(HERE, "bench_qsnn.py")):
        return "Q-SNN table skipped: `benchmarks/bench_qsnn.py` does not exist."
    if rerun:
        try:
            importlib.import_module("bench_qsnn").main(["--fast"] if fast else [])
        except Exception as err:  # noqa: BLE001
            return f"Q-SNN run failed ({type(err).__name__}: {err})."
    text = open(BENCHMARKS_MD).read() if os.path.exists(BENCHMARKS_MD) else ""
    m = re.search(r"^## (Q-SNN[^\n]*)\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    if not m:
        return "Q-SNN table: `bench_qsnn.py` exists but has not published a table yet."
    lines = m.group(2).strip().splitlines()
    tbl = "\n".join(line for line in lines if line.startswith("|"))
    cmd = next((line for line in lines if line.startswith("Command:")), "")
    return (f"From the section \"{m.group(1)}\" ({cmd.strip()}; "
            f"{'re-run now' if rerun else 'not re-run here: add --qsnn'}):\n\n{tbl}")


def main(argv: Optional[List[str]] = None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fast", action="store_true", help="1-2 minute smoke run")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--dataset", default="digits", help="digits (embedded) or a tonic set")
    parser.add_argument("--root", default=None, help="tonic data root")
    parser.add_argument("--size", type=int, default=None,
                        help="downsample frames to SIZE x SIZE (e.g. 32 for DVS Gesture)")
    parser.add_argument("--no-resnet", action="store_true")
    parser.add_argument("--qsnn", action="store_true", help="re-run bench_qsnn.py")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    epochs = 1 if args.fast else args.epochs
    limits = {"train": 200, "val": 64, "test": 128} if args.fast else {}
    t_start = time.perf_counter()
    frames: Dict[int, Dict] = {}
    done: Dict[Tuple[str, int, int], Dict] = {}
    for kind, levels, steps in MULTI + BINARY:
        if (kind, levels, steps) in done:  # multi-level N = 1, T = 1 is in both groups
            continue
        if steps not in frames:
            frames[steps] = load_frames(args.dataset, args.root, steps, args.size, limits)
        n_all = len(frames[steps]["train"][1])
        ep, n = budget(steps, epochs, n_all, args.fast)
        done[(kind, levels, steps)] = run_config(kind, levels, steps, frames[steps], ep, n,
                                                 "runs/headline")
        r = done[(kind, levels, steps)]
        print(f"{r['name']:>28}: acc {100 * r['acc']:5.1f} %  memory-aware "
              f"{_nj(r['energy'].total_pj)} nJ  SOP {_nj(r['energy'].sop_pj)} nJ  "
              f"({r['train_s']:.0f} s)", flush=True)
    multi = [done[c] for c in MULTI]
    binaries = [done[c] for c in BINARY]
    figs = plots(multi, binaries)
    ann = multi[0]["energy"]
    body = (
        f"Data: {args.dataset} ({len(frames[1]['train'][1])} train / "
        f"{len(frames[1]['test'][1])} test samples), input counts clipped at {INPUT_LEVELS}. "
        f"Network: `dvs_convnet` (conv 16 s2, conv 32, sum-pool, dense 64, readout); binary "
        f"baselines: the same layers as lava-dl CUBA-LIF blocks ({CUBA}) and multi-level N = 1. "
        "Accuracy, events and energy: emulator run of the exported file (integer-identical to "
        "Lava) on the test split; energy per inference, default constants of "
        "`lava_mlsnn.metrics.EnergyConstants` (45 nm, Horowitz 2014; memory-aware model of "
        "Lemaire et al. 2022, SRAM 'old', 32-bit words; SOP 4.6 / 0.9 pJ). Events: nonzero "
        "payloads of all spiking layers (input excluded). Lava steps = T + pipeline depth. "
        "Budget: T = 10 nets (CUBA and multi-level alike) get one epoch less, as each sample "
        "costs several times more; see the budget column. Train times are wall-clock on a "
        "shared 2-core machine (other jobs running), not a speed benchmark. "
        f"Ratio column: energy of the binary net of equal or nearest-higher accuracy / this "
        f"net's.\n\n{main_table(multi, binaries)}\n\nMemory-aware terms (nJ per inference); ANN "
        f"of the same architecture (every layer dense, once): {_nj(ann.ann_pj)} nJ memory-aware,"
        f" {_nj(ann.ann_sop_pj)} nJ SOP for the multi-level net.\n\n"
        f"{terms_table(multi + _rest(binaries, multi))}\n\n"
        "NeuroBench-style figures (per sample; effective ops of the dense/conv synapses, a "
        "layer with any non-binary input counted as MACs; per event / per payload unit: every "
        "synapse, one op per nonzero payload / per unit of payload):\n\n"
        f"{neurobench_table(multi + _rest(binaries, multi))}\n\n"
        f"Plots: {', '.join('`benchmarks/figures/' + os.path.basename(p) + '`' for p in figs)}."
        "\n\n### Residual networks\n\n"
        + ("Skipped (--no-resnet)." if args.no_resnet else resnet_section(args.fast, epochs))
        + "\n\n### Q-SNN\n\n" + qsnn_section(args.qsnn, args.fast)
        + f"\n\nTotal run time {time.perf_counter() - t_start:.0f} s.")
    publish("Headline: multi-level T = 1 vs binary SNNs (accuracy, latency, energy)",
            ".venv/bin/python benchmarks/headline.py" + (" --fast" if args.fast else ""), body)
    return {"multi": multi, "binary": binaries}


if __name__ == "__main__":
    main()
