"""NIR (Neuromorphic Intermediate Representation) import and export.

``from_nir`` reads a NIR graph (snnTorch, Norse, Sinabs, ... exports) into a trainable
:class:`lava_mlsnn.block.Network`; ``read_nir`` gives its deployed integers (exactly,
for graphs written by ``to_nir``); ``to_nir`` writes a deployed network as NIR; ``write_nir`` writes any in-memory
graph (Norse's included, which ``nir.write`` refuses) to a file the CLI reads. Needs
the ``nir`` package (``pip install lava-mlsnn[peers]``).
"""
from .exporter import DEFAULT_DT, to_nir
from .importer import NIRImportError, from_nir, read_nir
from .writer import write_nir

__all__ = ["DEFAULT_DT", "NIRImportError", "from_nir", "read_nir", "to_nir", "write_nir"]
