"""Rewrite the study results shipped in the package (``lava_mlsnn/studies/<study>.json``) from
``benchmarks/results/<study>.json``, reduced to what tutorial 08 shows (``reduce_run``).

Usage: ``.venv/bin/python benchmarks/ship_study_results.py`` (after re-running a study).
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from lava_mlsnn._io import atomic_write  # noqa: E402
from lava_mlsnn.studies import HERE, STUDIES, reduce_run  # noqa: E402


def shipped_text(study: str) -> str:
    """The shipped file's text for ``study``, from the full results."""
    with open(os.path.join(ROOT, "benchmarks", "results", f"{study}.json")) as f:
        runs = json.load(f)
    reduced = {key: reduce_run(run) for key, run in sorted(runs.items())}
    return json.dumps(reduced, indent=1, sort_keys=True) + "\n"


def main() -> int:
    for study in STUDIES:
        text = shipped_text(study)
        path = os.path.join(HERE, f"{study}.json")
        atomic_write(path, lambda f: f.write(text.encode()))
        print(f"wrote {os.path.relpath(path, ROOT)}: {len(json.loads(text))} runs, "
              f"{len(text) / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
