"""All study tables from benchmarks/results/*.json, and the figures (no training).

Run: .venv/bin/python benchmarks/study_report.py
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _study import load, mean_std  # noqa: E402
from _study_report import (_pm, avalanche_narrow_report, avalanche_report,  # noqa: E402
                           depth_report, energy_report_text, latency_report, wsdr_report)


def benchmark_checks() -> str:
    """The two properties motion digits was made for, as measured by the studies, at the
    5-epoch budget and at 15 epochs."""
    lat, depth = load("latency"), load("depth")
    acc = lambda r: r["emulator"]  # noqa: E731
    lines = []
    for suffix, epochs in (("", 5), ("_e15", 15)):
        t1, t8 = (mean_std(lat, f"binary_T{t}{suffix}", acc) for t in (1, 8))
        if t1[2] > 0 and t8[2] > 0:  # n; NaN when the runs are missing
            lines.append(f"- {epochs} epochs: binary convnet T = 1: {_pm(t1)} %; T = 8: "
                         f"{_pm(t8)} % (difference {100 * (t8[0] - t1[0]):.1f} points; "
                         "required >= 10)")
    for suffix, epochs in (("", 5), ("_e15", 15)):
        # the depth study's own convnet where it has one (same machine as its residual nets)
        conv = mean_std(depth, "convnet" + suffix, acc)
        if not conv[2] > 0:
            conv = mean_std(lat, "ml4_T2" + suffix, acc)
        for v in ("spiking_8blocks", "sew_8blocks", "spiking_2blocks", "sew_2blocks"):
            m = mean_std(depth, v + suffix, acc)
            if m[2] > 0:
                lines.append(f"- {epochs} epochs, N = 4, T = 2: convnet {_pm(conv)} %; residual "
                             f"{v} (16-32 channels) {_pm(m)} % (difference "
                             f"{100 * (m[0] - conv[0]):.1f} points)")
    for study in ("latency", "depth", "avalanche", "avalanche_narrow", "energy_reg", "wsdr"):
        res = load(study)
        lines.append(f"- {study}: {len(res)} runs, {sum(r['wall_s'] for r in res.values()) / 60:.0f} "
                     "min of train + export + evaluation on the shared CPU")
    lines.append("- 'binary' = the convnet with multi-level neurons at N = 1 (0/1 spikes), "
                 "'mlN' = N levels; 'TK' = K timesteps")
    text = "\n".join(lines)
    print(text)
    return text


def section() -> str:
    """BENCHMARKS.md's study section: the tables of every study and the findings file."""
    findings = open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                 "study_findings.md")).read().strip()
    parts = [findings.split("<!-- tables -->")[0].strip()]
    for title, command, fn in (
            ("Motion digits: what it was built for", "benchmarks/study_report.py", benchmark_checks),
            ("Latency", "benchmarks/study_latency.py", latency_report),
            ("Depth", "benchmarks/study_depth.py", depth_report),
            ("Avalanche and the Sparse-ResNet design space", "benchmarks/study_avalanche.py",
             avalanche_report),
            ("Avalanche, narrow nets (near chance)", "benchmarks/study_avalanche.py --narrow",
             avalanche_narrow_report),
            ("Energy at iso-accuracy and the activity regularizer", "benchmarks/study_energy.py",
             energy_report_text),
            ("WS-DR at 1-bit weights", "benchmarks/study_wsdr.py", wsdr_report)):
        parts.append(f"### {title}\n\nCommand: `nice -n 10 .venv/bin/python {command}`\n\n{fn()}")
    parts.append(findings.split("<!-- tables -->")[1].strip())
    return "\n\n".join(parts)


if __name__ == "__main__":
    if "--publish" in sys.argv:
        from _report import publish
        publish("Studies on motion digits (multi-seed)",
                "nice -n 10 .venv/bin/python benchmarks/study_report.py --publish", section())
        sys.exit(0)
    for title, fn in (("motion digits", benchmark_checks), ("latency", latency_report),
                      ("depth", depth_report), ("avalanche", avalanche_report),
                      ("avalanche, narrow", avalanche_narrow_report),
                      ("energy", energy_report_text),
                      ("wsdr", wsdr_report)):
        print(f"\n### {title}\n")
        fn()
