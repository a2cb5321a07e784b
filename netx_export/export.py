"""``lava-mlsnn export`` as a script (kept for existing commands).

Usage and exit status: see :mod:`lava_mlsnn.train.export_command` or
``lava-mlsnn export --help``.
"""
import sys
from typing import Optional, Sequence

from lava_mlsnn.train.export_command import main as _main


def main(argv: Optional[Sequence[str]] = None) -> int:
    return _main(argv, prog="export")


if __name__ == "__main__":
    sys.exit(main())
