"""``lava-mlsnn train`` as a script (kept for existing commands and ``torchrun``).

Usage and exit status: see :mod:`lava_mlsnn.train.command` or ``lava-mlsnn train --help``.
"""
import sys
from typing import Optional, Sequence

from lava_mlsnn.train.command import main as _main


def main(argv: Optional[Sequence[str]] = None) -> int:
    return _main(argv, prog="train_dvs")


if __name__ == "__main__":
    sys.exit(main())
