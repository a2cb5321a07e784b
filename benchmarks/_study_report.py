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


def _by_budget(names: List[str]) -> Dict[str, Dict[int, str]]:
    """``{base name: {epochs: variant}}``: a variant named ``<base>_e<K>`` is ``<base>``
    trained for K epochs; a name without the suffix is trained for the study's own budget
    (key 0)."""
    out: Dict[str, Dict[int, str]] = {}
    for v in names:
        base, _, k = v.rpartition("_e")
        if base and k.isdigit():
            out.setdefault(base, {})[int(k)] = v
        else:
            out.setdefault(v, {})[0] = v
    return out


def latency_report() -> str:
    """Accuracy, events and energies of every latency net at 5 epochs and at 15 (``_e15``)."""
    rows = {r["variant"]: r for r in _rows(load("latency"))}
    budgets = _by_budget(list(rows))
    cells = []
    for base, by in budgets.items():
        line = [base]
        for k in (0, 15):
            r = rows.get(by.get(k, ""))
            line += [_pm(r["acc"]), f"{r['events'][0]:.0f}", f"{r['ma'][0] / 1e3:.1f}",
                     f"{r['sop'][0] / 1e3:.1f}"] if r else ["", "", "", ""]
        cells.append(line)
    text = table(["variant"] + [f"{h}, {e} epochs" for e in (5, 15) for h in (
        "emulator acc. %", "events/sample", "memory-aware nJ", "SOP nJ")], cells)
    print(text)
    return text


def avalanche_report() -> str:
    """Every residual variant of the avalanche study (wide 8-block nets) against SEW ADD at
    the same budget: 5 epochs, and 15 epochs for the variants named ``*_e15``."""
    return _avalanche("avalanche", "study_avalanche", "wide nets (16-32 channels)")


def avalanche_narrow_report() -> str:
    """The same variants as narrow 8-block nets (stem stride 2, 8-16 channels, 4 epochs)."""
    return _avalanche("avalanche_narrow", "study_avalanche_narrow",
                      "narrow nets (8-16 channels)")


def _avalanche(study: str, figure: str, setting: str, reference: str = "sew") -> str:
    """Accuracy, events and payload of every variant relative to ``reference`` trained for
    the same number of epochs; the per-block activity curves of each budget go to
    ``figures/<figure>.png`` (the first budget) and ``figures/<figure>_e<epochs>.png``."""
    res = load(study)
    epochs = {r["variant"]: r["epochs"] for r in res.values()}
    budgets = sorted(set(epochs.values()))
    rows = []
    for i, budget in enumerate(budgets):
        names = [v for v in _variants(res) if epochs[v] == budget]
        ref = next(v for v in names if v.split("_e")[0] == reference)
        base = {k: mean_std(res, ref, lambda r, k=k: r["activity"][k])[0]
                for k in ("events", "payload")}
        acc_ref = mean_std(res, ref, lambda r: r["emulator"])[0]
        curves = {}
        for v in names:
            acc = mean_std(res, v, lambda r: r["emulator"])
            ev = mean_std(res, v, lambda r: r["activity"]["events"])
            pay = mean_std(res, v, lambda r: r["activity"]["payload"])
            verdict = "(reference)" if v == ref else \
                ("yes" if ev[0] <= 0.8 * base["events"] and acc[0] >= acc_ref - 0.01 else "no")
            rows.append([v, str(budget), _pm(acc), f"{ev[0]:.0f} ± {ev[1]:.0f}",
                         f"{pay[0]:.0f} ± {pay[1]:.0f}", f"{ev[0] / base['events']:.2f}",
                         f"{pay[0] / base['payload']:.2f}", verdict])
            runs = [r for r in res.values() if r["variant"] == v]
            joins = [[b for b in r["blocks"] if b["name"].startswith("ResidualBlock")]
                     for r in runs]
            curves[v] = {k: [sum(j[b][k] for j in joins) / len(joins)
                             for b in range(len(joins[0]))]
                         for k in ("events", "payload", "output_events", "output_payload")}
        _plot_curves(curves, f"{figure}{'' if i == 0 else f'_e{budget}'}.png",
                     f"{setting}, {budget} epochs")
    text = table(["variant", "epochs", "emulator acc. % (mean ± std)", "events/sample",
                  "payload/sample", f"events / {reference}", f"payload / {reference}",
                  ">= 20 % fewer events within 1 pt"], rows)
    print(text)
    return text


def _plot_curves(curves: Dict[str, Dict[str, List[float]]], figure: str, setting: str) -> None:
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
    fig.suptitle(f"Avalanche: activity per block, motion digits, N = 4, T = 2, {setting} "
                 "(mean of seeds)", fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(FIGURES, figure), dpi=110)
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
    """Float and emulator accuracy at the 4-epoch budget, emulator accuracy at 20 epochs."""
    rows = {r["variant"]: r for r in _rows(load("wsdr"))}
    cells = []
    for base, by in _by_budget(list(rows)).items():
        r, long = rows[by[0]], rows.get(by.get(20, ""))
        cells.append([base, _pm(r["float"]), _pm(r["acc"]), f"{r['events'][0]:.0f}"] +
                     ([_pm(long["acc"]), f"{long['events'][0]:.0f}"] if long else ["", ""]))
    text = table(["variant", "float acc. %, 4 epochs", "emulator acc. %, 4 epochs",
                  "events/sample", "emulator acc. %, 20 epochs", "events/sample, 20 epochs"],
                 cells)
    print(text)
    return text


def energy_report_text() -> str:
    """Iso-accuracy energy of every multi-level net against the binary nets of the same
    budget (5 and 15 epochs), the activity-regularizer runs, and the Pareto figure."""
    lat = {r["variant"]: r for r in _rows(load("latency"))}
    iso = []
    for epochs, suffix in ((5, ""), (15, "_e15")):
        group = {v: r for v, r in lat.items()
                 if (v.endswith("_e15") if suffix else "_e" not in v)}
        binary = [r for v, r in group.items() if v.startswith("binary")]
        for v, r in group.items():
            if v.startswith("binary"):
                continue
            peers = [b for b in binary if b["acc"][0] >= r["acc"][0] - 0.01]
            if not peers:
                iso.append([v, str(epochs), _pm(r["acc"]), "none reaches it", "", "", ""])
                continue
            b = min(peers, key=lambda b: b["ma"][0])
            iso.append([v, str(epochs), _pm(r["acc"]), b["variant"], _pm(b["acc"]),
                        f"{b['ma'][0] / r['ma'][0]:.2f}", f"{b['sop'][0] / r['sop'][0]:.2f}"])
    text = table(["multi-level net", "epochs", "acc. %",
                  "cheapest binary net within 1 pt or better", "its acc. %",
                  "memory-aware ratio (binary / ML)", "SOP ratio"], iso)
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
    """Accuracy against memory-aware energy: 5-epoch nets (with the regularizer runs) on
    the left, 15-epoch nets on the right."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(FIGURES, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for ax, title, nets, extra in (
            (axes[0], "5 epochs (activity regularizer: 4)",
             [r for r in latency if "_e" not in r["variant"]], reg),
            (axes[1], "15 epochs", [r for r in latency if r["variant"].endswith("_e15")], [])):
        for group, marker, rows in (
                ("binary", "o", [r for r in nets if r["variant"].startswith("binary")]),
                ("multi-level", "s", [r for r in nets if not r["variant"].startswith("binary")]),
                ("ML N=4 T=2 + activity reg.", "^", extra)):
            if not rows:
                continue
            ax.errorbar([r["ma"][0] / 1e3 for r in rows], [100 * r["acc"][0] for r in rows],
                        yerr=[100 * r["acc"][1] for r in rows], fmt=marker, label=group,
                        capsize=2)
            for r in rows:
                ax.annotate(r["variant"].replace("_e15", ""),
                            (r["ma"][0] / 1e3, 100 * r["acc"][0]), fontsize=6)
        ax.set_xscale("log")
        ax.set_xlabel("memory-aware energy per inference (nJ)")
        ax.set_title(title, fontsize=9)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    axes[0].set_ylabel("emulator accuracy (%)")
    fig.suptitle("Motion digits: accuracy vs energy (mean ± std of seeds)", fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(FIGURES, "study_energy_pareto.png"), dpi=110)
    plt.close(fig)


def depth_report() -> str:
    """Accuracy of each net at the 5-epoch budget and at the 15-epoch one (``_e15``); the
    convnet is the latency study's ``ml4_T2``."""
    res, lat = load("depth"), load("latency")
    acc = lambda r: r["emulator"]  # noqa: E731
    short = {"convnet": mean_std(lat, "ml4_T2", acc)}
    long = {}
    for base, by in _by_budget(_variants(res)).items():
        if 0 in by:
            short[base] = mean_std(res, by[0], acc)
        if 15 in by:
            long[base] = mean_std(res, by[15], acc)
    rows = [[v + (" (5 epochs: the latency study's ml4_T2)" if v == "convnet" else ""),
             _pm(short[v]) if v in short else "", _pm(long[v]) if v in long else ""]
            for v in list(short) + [v for v in long if v not in short]]
    text = table(["net (N = 4, T = 2)", "emulator acc. %, 5 epochs", "emulator acc. %, 15 epochs"],
                 rows)
    print(text)
    return text
