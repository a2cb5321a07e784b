"""Plain-text tables of the command-line reports (no dependencies)."""
from __future__ import annotations

from typing import Sequence


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Plain-text table; numeric columns right-aligned, text left-aligned."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[k]) for r in cells) for k in range(len(headers))]

    def numeric(k: int) -> bool:
        vals = [r[k].replace(",", "") for r in cells[1:] if r[k] not in ("", "-")]
        return bool(vals) and all(v.lstrip("-").replace(".", "", 1).isdigit() for v in vals)

    right = [numeric(k) for k in range(len(headers))]
    lines = []
    for n, r in enumerate(cells):
        lines.append("  ".join(c.rjust(w) if rt else c.ljust(w)
                               for c, w, rt in zip(r, widths, right)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
