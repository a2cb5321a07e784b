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
