"""Print a side-by-side table and write it into BENCHMARKS.md under its own heading."""
from __future__ import annotations

import datetime
import os
import platform
import re
from typing import List, Sequence

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCHMARKS_MD = os.path.join(ROOT, "BENCHMARKS.md")


def table(header: Sequence[str], rows: List[Sequence]) -> str:
    """A GitHub-markdown table."""
    cells = [[str(h) for h in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"  # noqa
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), sep] + [line(r) for r in cells[1:]])


def machine() -> str:
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
            f"{'CUDA ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'CPU only'}")


def publish(section: str, command: str, body: str) -> None:
    """Replace (or append) ``## section`` in BENCHMARKS.md and print the body."""
    print(body)
    stamp = datetime.date.today().isoformat()
    text = (f"## {section}\n\nCommand: `{command}`  \nMeasured {stamp} on {machine()}.\n\n"
            f"{body.strip()}\n")
    old = open(BENCHMARKS_MD).read() if os.path.exists(BENCHMARKS_MD) else \
        "# Benchmarks\n\nEvery figure below was measured by the command shown with it; " \
        "each script rewrites its own section.\n"
    pattern = re.compile(rf"^## {re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)
    new = pattern.sub(lambda _: text + "\n", old) if pattern.search(old) else \
        old.rstrip() + "\n\n" + text
    with open(BENCHMARKS_MD, "w") as f:
        f.write(new)
