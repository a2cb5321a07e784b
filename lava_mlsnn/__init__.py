"""lava-mlsnn: multi-level (graded-spike) and quantized spiking networks for Loihi 2.

Train with SLAYER blocks (:mod:`lava_mlsnn.block`), export NetX-style HDF5
(:mod:`lava_mlsnn.format`), run bit-exactly in the emulator or Lava
(:mod:`lava_mlsnn.netx`), exchange networks as NIR (:mod:`lava_mlsnn.nir`).
"""
__version__ = "0.1.0"
