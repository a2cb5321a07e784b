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
        verdict = "(reference)" if v == "sew" else \
            ("yes" if ev[0] <= 0.8 * base["events"] and acc[0] >= acc_sew - 0.01 else "no")
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


def _rows(res: Dict[str, Dict]) -> List[Dict]:
    """One summary per variant: mean/std of accuracy, events, payload, energies."""
    out = []
    for v in _variants(res):
        e = lambda k: (lambda r: r.get("energy_pj", {}).get(k, float("nan")))  # noqa: E731
        out.append({"variant": v, "acc": mean_std(res, v, lambda r: r["emulator"]),
                    "float": mean_std(res, v, lambda r: r["float"]),
                    "events": mean_std(res, v, lambda r: r["activity"]["events"]),
                    "payload": mean_std(res, v, lambda r: r["activity"]["payload"]),
                    "ma": mean_std(res, v, e("memory_aware")), "sop": mean_std(res, v, e("sop"))})
    return out


def wsdr_report() -> str:
    rows = [[r["variant"], _pm(r["float"]), _pm(r["acc"]), f"{r['events'][0]:.0f}"]
            for r in _rows(load("wsdr"))]
    text = table(["variant", "float acc. %", "emulator acc. %", "events/sample"], rows)
    print(text)
    return text


def energy_report_text() -> str:
    lat = {r["variant"]: r for r in _rows(load("latency"))}
    binary = [r for v, r in lat.items() if v.startswith("binary")]
    iso = []
    for v, r in lat.items():
        if v.startswith("binary"):
            continue
        peers = [b for b in binary if b["acc"][0] >= r["acc"][0] - 0.01]
        if not peers:
            iso.append([v, _pm(r["acc"]), "none reaches it", "", "", ""])
            continue
        b = min(peers, key=lambda b: b["ma"][0])
        iso.append([v, _pm(r["acc"]), b["variant"], _pm(b["acc"]),
                    f"{b['ma'][0] / r['ma'][0]:.2f}", f"{b['sop'][0] / r['sop'][0]:.2f}"])
    text = table(["multi-level net", "acc. %", "cheapest binary net within 1 pt or better",
                  "its acc. %", "memory-aware ratio (binary / ML)", "SOP ratio"], iso)
    reg = _rows(load("energy_reg"))
    text += "\n\n" + table(["regularizer", "emulator acc. %", "events/sample", "payload/sample",
                            "memory-aware nJ", "SOP nJ"],
                           [[r["variant"], _pm(r["acc"]), f"{r['events'][0]:.0f}",
                             f"{r['payload'][0]:.0f}", f"{r['ma'][0] / 1e3:.2f}",
                             f"{r['sop'][0] / 1e3:.2f}"] for r in reg])
    print(text)
    _pareto(list(lat.values()), reg)
    return text


def _pareto(latency: List[Dict], reg: List[Dict]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(FIGURES, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for group, marker, rows in (("binary", "o", [r for r in latency
                                                 if r["variant"].startswith("binary")]),
                                ("multi-level", "s", [r for r in latency
                                                      if not r["variant"].startswith("binary")]),
                                ("ML N=4 T=2 + activity reg.", "^", reg)):
        if not rows:
            continue
        ax.errorbar([r["ma"][0] / 1e3 for r in rows], [100 * r["acc"][0] for r in rows],
                    yerr=[100 * r["acc"][1] for r in rows], fmt=marker, label=group, capsize=2)
        for r in rows:
            ax.annotate(r["variant"], (r["ma"][0] / 1e3, 100 * r["acc"][0]), fontsize=6)
    ax.set_xscale("log")
    ax.set_xlabel("memory-aware energy per inference (nJ)")
    ax.set_ylabel("emulator accuracy (%)")
    ax.set_title("Motion digits: accuracy vs energy (mean ± std of seeds)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(FIGURES, "study_energy_pareto.png"), dpi=110)
    plt.close(fig)


def depth_report() -> str:
    rows = [["convnet (latency study, ml4_T2)"] +
            [_pm(mean_std(load("latency"), "ml4_T2", lambda r: r["emulator"]))]]
    res = load("depth")
    rows += [[v, _pm(mean_std(res, v, lambda r: r["emulator"]))] for v in _variants(res)]
    text = table(["net (N = 4, T = 2, 5 epochs)", "emulator acc. % (mean ± std)"], rows)
    print(text)
    return text
