"""lava-mlsnn: multi-level (graded-spike) and quantized spiking networks for Loihi 2.

Train with SLAYER blocks (:mod:`lava_mlsnn.block`), export NetX-style HDF5
(:mod:`lava_mlsnn.format`), run bit-exactly in the emulator or Lava
(:mod:`lava_mlsnn.netx`), exchange networks as NIR (:mod:`lava_mlsnn.nir`).
"""
__version__ = "0.1.0"

# Under a memory limit (ulimit -v / -d), BLAS loads with one thread: OpenBLAS with one
# buffer per core retries forever when the limit refuses one (DESIGN §7.4). This runs
# before numpy, scipy or torch is imported through the package.
from ._limits import bound_threads_under_memory_limit as _bound_threads  # noqa: E402

_bound_threads()
