"""All study tables from benchmarks/results/*.json, and the figures (no training).

Run: .venv/bin/python benchmarks/study_report.py
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _study import load, mean_std  # noqa: E402
from _study_report import (_pm, avalanche_report, energy_report_text, latency_report,  # noqa: E402
                           wsdr_report)


def benchmark_checks() -> str:
    """The two properties motion digits was made for, as measured by the studies."""
    lat, aval = load("latency"), load("avalanche")
    t1 = mean_std(lat, "binary_T1", lambda r: r["emulator"])
    t8 = mean_std(lat, "binary_T8", lambda r: r["emulator"])
    conv = mean_std(lat, "ml4_T2", lambda r: r["emulator"])
    lines = [f"- binary convnet T = 1: {_pm(t1)} %; T = 8: {_pm(t8)} % "
             f"(difference {100 * (t8[0] - t1[0]):.1f} points; required >= 10)"]
    best = None
    for v in sorted({r["variant"] for r in aval.values()}):
        m = mean_std(aval, v, lambda r: r["emulator"])
        if best is None or m[0] > best[1][0]:
            best = (v, m)
    if best:
        lines.append(f"- N = 4, T = 2: convnet {_pm(conv)} %; best 8-block residual net "
                     f"({best[0]}) {_pm(best[1])} % (difference {100 * (best[1][0] - conv[0]):.1f}"
                     " points)")
    text = "\n".join(lines)
    print(text)
    return text


if __name__ == "__main__":
    for title, fn in (("motion digits", benchmark_checks), ("latency", latency_report),
                      ("avalanche", avalanche_report), ("energy", energy_report_text),
                      ("wsdr", wsdr_report)):
        print(f"\n### {title}\n")
        fn()
