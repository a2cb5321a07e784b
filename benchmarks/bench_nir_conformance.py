"""NIR differential conformance: random networks over each peer's parameter space
(tests/conformkit.py, the draws of tests/test_nir_conformance.py), built and simulated in
snnTorch, Norse and Sinabs, exported to NIR by the peer, imported and run in the emulator;
per neuron layer, the fraction of spike entries equal to the peer's own simulation.

Weights on the import's exact grid (the test's setting), and the same draws with weights
off the grid (as trained weights are: the import's 8-bit rounding on top).

Run: .venv/bin/python benchmarks/bench_nir_conformance.py [--draws N]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
import conformkit as ck  # noqa: E402
from _report import publish, table  # noqa: E402
from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

from lava_mlsnn.nir import NIRImportError  # noqa: E402

VERSIONS = {"snntorch": "snnTorch", "norse": "Norse", "sinabs": "Sinabs"}


def _family(peer: str, case: dict) -> str:
    if peer == "snntorch":
        return (f"{case['neuron']}, {case['reset']}, reset_delay={ck._delay(case)} (import "
                f"{ck.snntorch_reset(case)})")
    if peer == "sinabs":
        return f"{case['neuron']}, {'SingleSpike' if case['levels'] == 1 else 'MaxSpike'}"
    return case["neuron"]


def _draw(peer: str, n: int) -> list:
    cases: list = []

    @seed(0)  # the same draws whichever framework runs first
    @settings(max_examples=n, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=ck.CASES[peer])
    def collect(case):
        cases.append(case)
    collect()
    return cases


def run(peer: str, cases: list, off_grid: bool) -> dict:
    rows = defaultdict(lambda: {"draws": 0, "refused": 0, "layers": 0, "identical": 0,
                                "agree": [], "ours": 0, "theirs": 0})
    for case in cases:
        case = dict(case, off_grid=off_grid)
        r = rows[_family(peer, case)]
        r["draws"] += 1
        try:
            layers = ck.compare(peer, case)
        except NIRImportError:
            r["refused"] += 1
            continue
        if not all(d["theirs"] > 0 and d["ours"] > 0 for d in layers):
            r["draws"] -= 1  # a silent layer proves nothing (the test skips it too)
            continue
        for d in layers:
            r["layers"] += 1
            r["identical"] += d["agree"] == 1.0
            r["agree"].append(d["agree"])
            r["ours"] += d["ours"]
            r["theirs"] += d["theirs"]
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=60, help="draws per framework")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    import importlib.metadata as md
    out = []
    t0 = time.perf_counter()
    for peer in ("snntorch", "norse", "sinabs"):
        cases = _draw(peer, args.draws)
        grid, off = run(peer, cases, False), run(peer, cases, True)
        for fam in sorted(grid):
            g, o = grid[fam], off[fam]
            fmt = lambda r, k: (f"{min(r[k]):.3f} / {sum(r[k]) / len(r[k]):.3f}"  # noqa: E731
                                if r[k] else "-")
            out.append([f"{VERSIONS[peer]} {md.version(peer)}: {fam}", g["draws"], g["refused"],
                        f"{g['identical']} / {g['layers']}", fmt(g, "agree"),
                        f"{g['ours']} / {g['theirs']}", fmt(o, "agree")])
    load = os.getloadavg()[0]
    body = table(["peer: neuron", "draws", "refused", "identical layers",
                  "agreement min / mean", "spikes ours / peer",
                  "off-grid weights: agreement"], out)
    body += (f"\n\n{args.draws} draws per framework ({time.perf_counter() - t0:.0f} s in all, "
             f"load average {load:.1f} at the end); a draw with a silent layer is not counted. Agreement: fraction of "
             "equal spike entries [B=16, T=8, neurons] per neuron layer, against the peer's own "
             "simulation. Refused: the draw the import must refuse (a bias on v into a "
             "hard-reset neuron), each in one line; a bias into a CubaLIF (snnTorch Synaptic, "
             "Norse LIFCell) is imported as its current bias. snnTorch's resets are "
             "imported with its own rules (DESIGN §5): subtract as reset='snntorch' "
             "(reset_delay=False) or 'snntorch_delay' (its default True); zero as 'zero' "
             "or, with reset_delay=True, 'snntorch_zero_delay' (a Leaky's is 'zero's). Off-grid: the same draws "
             "with weights off the exact grid, the import's 8-bit rounding on top.")
    publish("NIR conformance: random peer networks -> lava-mlsnn",
            f"python benchmarks/bench_nir_conformance.py --draws {args.draws}", body)


if __name__ == "__main__":
    main()
