"""Results of the multi-seed motion-digits studies, shipped with the package.

The studies (``benchmarks/study_*.py`` in the source tree) train every variant with several
seeds and store each finished run in ``benchmarks/results/<study>.json``. The figures tutorial
08 plots are kept here, in the package, so that an installed wheel shows them too:
``<study>.json`` beside this file holds every run of :data:`STUDIES` reduced to the fields of
:func:`reduce_run`. ``python benchmarks/ship_study_results.py`` rewrites them from the
study results after a study was re-run.
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, Mapping

#: the studies shipped: residual joins (avalanche), timesteps and levels (latency), the
#: activity regularizer (energy_reg)
STUDIES = ("avalanche", "latency", "energy_reg")
HERE = os.path.dirname(os.path.abspath(__file__))


def reduce_run(run: Mapping[str, Any]) -> Dict[str, Any]:
    """The fields of one study run that the shipped files keep.

    ``variant``, ``seed``, ``epochs``, ``timesteps``; ``emulator`` (accuracy of the exported
    file in the emulator, a fraction); ``activity.events`` (events per sample);
    ``energy_pj.memory_aware`` and ``energy_pj.sop`` (pJ per inference); and per residual
    block (``blocks`` entries named ``ResidualBlock...``) its ``output_events`` and
    ``output_payload`` per sample.
    """
    return {
        "variant": run["variant"], "seed": run["seed"], "epochs": run["epochs"],
        "timesteps": run["timesteps"], "emulator": run["emulator"],
        "activity": {"events": run["activity"]["events"]},
        "energy_pj": {k: run["energy_pj"][k] for k in ("memory_aware", "sop")},
        "blocks": [{k: b[k] for k in ("name", "output_events", "output_payload")}
                   for b in run["blocks"] if b["name"].startswith("ResidualBlock")],
    }


def load_study(name: str) -> Dict[str, Dict[str, Any]]:
    """Every shipped run of study ``name`` (one of :data:`STUDIES`): run key
    (``"<variant>/seed<k>"``) -> the fields of :func:`reduce_run`."""
    if name not in STUDIES:
        raise ValueError(f"unknown study {name!r}; shipped: {', '.join(STUDIES)}")
    with open(os.path.join(HERE, f"{name}.json")) as f:
        return json.load(f)
