"""A comparison of layers is evidence only where the layers carry data."""
from typing import Dict, Iterable, Optional

import numpy as np


def assert_layers_active(outputs: Dict[int, object], layers: Optional[Iterable[int]] = None,
                         what: str = "") -> None:
    """Every compared layer (default: all of ``outputs``) has a nonzero value somewhere."""
    silent = [i for i in (outputs if layers is None else layers)
              if not np.any(np.asarray(outputs[i]) != 0)]
    assert not silent, f"{what}layers {silent} are silent: their agreement proves nothing"
