"""The study results shipped in the package (``lava_mlsnn.studies``, read by tutorial 08) are
the benchmark studies' own runs, reduced, and ship in the wheel."""
import json
import os

import pytest

from lava_mlsnn.studies import HERE, STUDIES, load_study, reduce_run
from trainkit import ROOT

RESULTS = os.path.join(ROOT, "benchmarks", "results")


@pytest.mark.parametrize("study", STUDIES)
def test_shipped_runs_are_the_study_results(study):
    path = os.path.join(RESULTS, f"{study}.json")
    if not os.path.exists(path):
        pytest.skip("no benchmarks/results in this tree")
    with open(path) as f:
        full = json.load(f)
    shipped = load_study(study)
    assert sorted(shipped) == sorted(full) and len(shipped) >= 18
    for key, run in full.items():  # every figure kept equals the study's own
        s = shipped[key]
        assert s == reduce_run(run)
        assert s["emulator"] == run["emulator"] and 0 < s["emulator"] <= 1
        assert s["energy_pj"]["memory_aware"] == run["energy_pj"]["memory_aware"] > 0
    if study == "avalanche":
        assert all(len(r["blocks"]) == 8 and r["blocks"][0]["output_events"] > 0
                   for r in shipped.values())


def test_unknown_study_is_refused_in_one_line():
    with pytest.raises(ValueError, match="unknown study 'depth'; shipped: avalanche"):
        load_study("depth")


def test_the_shipped_files_are_package_data():
    with open(os.path.join(ROOT, "pyproject.toml")) as f:
        assert '"studies/*.json"' in f.read()
    assert sorted(n for n in os.listdir(HERE) if n.endswith(".json")) == \
        sorted(f"{s}.json" for s in STUDIES)
