"""Per-layer Loihi 2 core estimate calibrated on the compiler's published allocations.

Source of every fitted constant: the per-core tables the Loihi 2 compiler printed in lava-dl's
tutorial notebooks (snapshot d825ac5), transcribed in
``/work/shared/lava-dl-nets/loihi2_allocations.md``.  Pure arithmetic; imports nothing heavy.

Rules (each fitted, and named with the row it was fitted to):

* Conv / input layers are tiled along width: a core holds a ``w_tile x H x C`` block, ``w_tile``
  the largest power of two with ``w_tile * H * C <= cap``.  The compiler's layer labels
  (``Conv(4, 32, 24)`` = 4 x 32 x 24 = 3072 neurons per core, ...) are exactly these tiles; every
  PilotNet conv row is reproduced with ``CONV_NEURON_CAP`` and the input row with
  ``INPUT_NEURON_CAP``.  Conv weights are stored once per core (kernel sharing), so synapses do
  not bind conv layers in these networks.
* Dense layers are bound by synaptic memory, ``SYN_WORDS_PER_CORE`` words per core, a core of
  ``n`` neurons with fan-in ``F`` using ``AXON_WORDS * F + SYN_WORDS * n * F`` words: a per-axon
  part and a per-synapse part, solved from two rows (PilotNet 2560 -> 100: 7253 words for 8
  neurons; MNIST 784 -> 128: 78.4 % of the core for 43 neurons).  Density does not enter: the
  SNN and SDNN PilotNet files (densities 0.27 and 0.40) got the same 7253-word cores.  The
  other published rows check it: MNIST 128 -> 64 at 17.8 % (published 16.8 %), PilotNet
  50 -> 10 at 157 words (published 150).
* Multi-level (graded) neurons and joins: assumed to cost as SDNN neurons (one extra state
  word); within these caps they change nothing, which is stated, not measured.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Conv tile cap, neurons per core: PilotNet Conv(4, 32, 24) row, 3072 neurons per core.
CONV_NEURON_CAP = 3072
#: Input-layer tile cap: PilotNet SNN input row Conv(16, 66, 3), 3168 neurons per core
#: (> 3072, so input neurons, which carry no synaptic state, pack more densely).
INPUT_NEURON_CAP = 4096
#: Neurons per core, Intel's published Loihi 2 maximum (8,192 per neuron core).
MAX_NEURONS_PER_CORE = 8192
#: Synaptic memory words per core (assumption: 8192, so MNIST's 78.4 % row is 6422 words).
SYN_WORDS_PER_CORE = 8192
#: Words per input axon of a dense core: solved with SYN_WORDS from the PilotNet 2560 -> 100
#: row (2560 axons, 8 neurons, 7253 words) and the MNIST 784 -> 128 row (784 axons, 43 neurons,
#: 0.784 * 8192 words).
AXON_WORDS = 1.608
#: Words per (neuron, input) synapse of a dense core, from the same two rows.
SYN_WORDS = 0.1531


@dataclass(frozen=True)
class LayerMap:
    """One layer's estimated allocation.

    Attributes
    ----------
    neurons_per_core : int
        Neurons on the busiest core.
    syn_words_per_core : int
        Synaptic memory words on the busiest core (0 for conv/input, see module notes).
    axon_in : int
        Input axons per core (fan-in for dense layers).
    cores : int
        Cores the layer takes.
    binds : str
        The limit that sets ``cores``: ``"neurons"`` or ``"synapses"``.
    """

    neurons_per_core: int
    syn_words_per_core: int
    axon_in: int
    cores: int
    binds: str


def _pow2_floor(x: int) -> int:
    return 1 << (max(x, 1).bit_length() - 1)


def map_conv(shape_whc: tuple[int, int, int], *, is_input: bool = False) -> LayerMap:
    """Cores of a conv (or input) layer of output shape ``(W, H, C)`` neurons."""
    w, h, c = (int(v) for v in shape_whc)
    if min(w, h, c) <= 0:
        raise ValueError(f"conv shape must be positive, got {shape_whc}")
    cap = INPUT_NEURON_CAP if is_input else CONV_NEURON_CAP
    column = h * c
    if column > cap:
        raise ValueError(f"one column of {column} neurons exceeds the {cap}-neuron tile cap; "
                         "splitting along H or C is not modelled")
    w_tile = min(_pow2_floor(cap // column), w)
    return LayerMap(w_tile * column, 0, 0, math.ceil(w / w_tile), "neurons")


def map_dense(n_out: int, fan_in: int, density: float = 1.0) -> LayerMap:
    """Cores of a dense layer of ``n_out`` neurons with ``fan_in`` inputs.

    ``density`` (fraction of non-zero weights) is checked but does not change the estimate:
    the published rows show the compiler stores these layers densely (module notes).
    """
    if n_out <= 0 or fan_in <= 0 or not 0.0 < density <= 1.0:
        raise ValueError(f"dense layer needs n_out, fan_in > 0 and 0 < density <= 1, "
                         f"got {n_out}, {fan_in}, {density}")
    per_core_syn = int((SYN_WORDS_PER_CORE - AXON_WORDS * fan_in) // (SYN_WORDS * fan_in))
    if per_core_syn < 1:
        raise ValueError(f"fan-in {fan_in} does not fit one core's synaptic memory; "
                         "splitting the input side is not modelled")
    per_core = min(per_core_syn, MAX_NEURONS_PER_CORE, n_out)
    binds = "synapses" if per_core_syn < min(MAX_NEURONS_PER_CORE, n_out) else "neurons"
    cores = math.ceil(n_out / per_core)
    per_core = math.ceil(n_out / cores) if binds == "neurons" else per_core
    words = AXON_WORDS * fan_in + SYN_WORDS * per_core * fan_in
    return LayerMap(per_core, math.ceil(words), fan_in, cores, binds)


def estimate_file(path: str | Path, *, count_input: bool = False) -> list[tuple[str, LayerMap]]:
    """Per-layer estimate of a netx HDF5 file, input side first, read with h5py alone.

    Parameters
    ----------
    path : str or Path
        A netx ``.net`` file (layers ``input``, ``conv``, ``flatten``, ``dense``).
    count_input : bool
        Map the input layer on cores (the PilotNet SNN file's input neurons ran on chip; the
        SDNN and MNIST notebooks list no input row).

    Returns
    -------
    list of (label, LayerMap)
        One entry per mapped layer; ``flatten`` takes no cores.
    """
    import h5py  # lava-dl's own file dependency; imported here so the module stays light

    out: list[tuple[str, LayerMap]] = []
    with h5py.File(path, "r") as f:
        for key in sorted(f["layer"], key=int):
            layer = f["layer"][key]
            kind = layer["type"][()][0].decode()
            shape = tuple(int(v) for v in layer["shape"][()])[::-1]  # netx stores (C, H, W)
            if kind == "input" and count_input:
                out.append((f"input {shape}", map_conv(shape, is_input=True)))
            elif kind == "conv":
                out.append((f"conv {shape}", map_conv(shape)))
            elif kind == "dense":
                w = np.atleast_2d(np.asarray(layer["weight"][()]))
                density = max(np.count_nonzero(w), 1) / w.size
                out.append((f"dense {w.shape[1]} -> {w.shape[0]}",
                            map_dense(w.shape[0], w.shape[1], density)))
            elif kind not in ("input", "flatten"):
                raise ValueError(f"layer {key}: type {kind!r} is not modelled by the Loihi 2 "
                                 "estimate")
    return out
