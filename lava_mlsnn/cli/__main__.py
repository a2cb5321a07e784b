"""``python -m lava_mlsnn.cli``: the ``lava-mlsnn`` command."""
import sys

from . import main

sys.exit(main())
