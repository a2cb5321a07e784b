"""Tables and figures of the multi-seed studies, from benchmarks/results/*.json."""
from __future__ import annotations

import os
from typing import Dict, List

from _report import table
from _study import FIGURES, load, mean_std


def _pm(m: List[float], scale: float = 100.0, digits: int = 1) -> str:
    return f"{scale * m[0]:.{digits}f} ± {scale * m[1]:.{digits}f} (n={m[2]})"


def _variants(results: Dict[str, Dict]) -> List[str]:
    seen: List[str] = []
    for r in results.values():
        if r["variant"] not in seen:
            seen.append(r["variant"])
    return seen


def latency_report() -> str:
    res = load("latency")
    rows = []
    for v in _variants(res):
        acc = mean_std(res, v, lambda r: r["emulator"])
        ev = mean_std(res, v, lambda r: r["activity"]["events"])
        ma = mean_std(res, v, lambda r: r.get("energy_pj", {}).get("memory_aware", float("nan")))
        sop = mean_std(res, v, lambda r: r.get("energy_pj", {}).get("sop", float("nan")))
        rows.append([v, _pm(acc), f"{ev[0]:.0f}", f"{ma[0] / 1e3:.1f}", f"{sop[0] / 1e3:.1f}"])
    text = table(["variant", "emulator acc. % (mean ± std)", "events/sample",
                  "memory-aware nJ", "SOP nJ"], rows)
    print(text)
    return text


def avalanche_report() -> str:
    res = load("avalanche")
    base = {k: mean_std(res, "sew", lambda r, k=k: r["activity"][k])[0]
            for k in ("events", "payload")}
    acc_sew = mean_std(res, "sew", lambda r: r["emulator"])[0]
    rows, curves = [], {}
    for v in _variants(res):
        acc = mean_std(res, v, lambda r: r["emulator"])
        ev = mean_std(res, v, lambda r: r["activity"]["events"])
        pay = mean_std(res, v, lambda r: r["activity"]["payload"])
        verdict = "yes" if ev[0] <= 0.8 * base["events"] and acc[0] >= acc_sew - 0.01 else "no"
        rows.append([v, _pm(acc), f"{ev[0]:.0f} ± {ev[1]:.0f}", f"{pay[0]:.0f} ± {pay[1]:.0f}",
                     f"{ev[0] / base['events']:.2f}", f"{pay[0] / base['payload']:.2f}", verdict])
        runs = [r for r in res.values() if r["variant"] == v]
        joins = [[b for b in r["blocks"] if b["name"].startswith("ResidualBlock")] for r in runs]
        curves[v] = {k: [sum(j[i][k] for j in joins) / len(joins) for i in range(len(joins[0]))]
                     for k in ("events", "payload", "output_events", "output_payload")}
    text = table(["variant", "emulator acc. % (mean ± std)", "events/sample", "payload/sample",
                  "events / SEW", "payload / SEW", ">= 20 % fewer events within 1 pt"], rows)
    print(text)
    _plot_curves(curves)
    return text


def _plot_curves(curves: Dict[str, Dict[str, List[float]]]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(FIGURES, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, label in ((axes[0], "output_events", "events out of the block per sample"),
                           (axes[1], "output_payload", "payload out of the block per sample")):
        for name, c in curves.items():
            ax.plot(range(1, len(c[key]) + 1), c[key], marker="o", label=name)
        ax.set_xlabel("residual block (depth)")
        ax.set_ylabel(label)
        ax.set_yscale("log")
    axes[1].legend(fontsize=7)
    fig.suptitle("Avalanche: activity per block, motion digits, N = 4, T = 2 (mean of seeds)")
    fig.tight_layout()
    fig.savefig(os.path.join(FIGURES, "study_avalanche.png"), dpi=110)
    plt.close(fig)
