"""Run a deployed network in Lava (CPU simulator, ``fixed_pt``), aligned in time.

The process graph -- a :class:`~lava_mlsnn.proc.Network` Process fed by a
:class:`~lava_mlsnn.proc.StreamSource` -- is built once per :class:`LavaNetwork`
and many samples are streamed through it (DESIGN §4):

* the network input comes from a :class:`~lava_mlsnn.proc.StreamSource`: input
  step ``s`` of the ``k``-th sample of a run is sent at Lava time
  ``t0 + 1 + k*T + s``;
* inside the ``Network``, every neuron layer is one Process; every
  :class:`~lava_mlsnn.spec.Branch` is one :class:`~lava_mlsnn.proc.Synapse` into
  that layer's ``a_in`` (Lava sums the fan-in). Each synapse adds one step, so a layer at pipeline depth ``d``
  (:meth:`NetworkSpec.depths`) handles that sample step at ``t0 + 1 + k*T + s + d``;
  a branch whose source is shallower than ``d - 1`` gets ``extra_delay`` so that
  all branches arrive aligned. ``input`` layers are a :class:`~lava_mlsnn.proc.Pass`
  fed directly (no latency); ``flatten`` layers have no Process (dense synapses
  flatten internally);
* neurons reset to their start-of-sample state with ``reset_interval = T`` and
  ``reset_offset = 1 + d``; each run lasts a multiple of ``T`` steps, so the
  phase holds across runs, and the ``ceil(max_depth / T) * T`` steps of zero
  input at the end of a run flush the pipeline;
* each neuron writes its payload into a memory-mapped ring buffer (its
  ``record`` file), which the runner re-aligns by depth. No sink Processes: they
  would add to the per-step synchronisation and ``Var.get()`` moves one value
  per message.
"""
from __future__ import annotations

import os
from typing import Dict, Iterable, List, Optional, Tuple, Union

import numpy as np
import torch

from .. import fixed
from ..lifecycle import ScratchDir
from ..proc._common import StreamFile
from .emulator import check_input, check_record_budget, emulate
from ..format.spec import INPUT, NetworkSpec
from .streamed import StreamedRun

_INT32 = np.iinfo(np.int32)


#: Upper bound on the stream files of one :func:`run_lava` build (bytes); larger
#: batches are streamed in several runs of the same build.
STREAM_BUDGET = 256 << 20


def check_record(spec: NetworkSpec, record: Optional[Iterable[int]]) -> List[int]:
    """Sorted layer indices to record (default all); ``ValueError`` outside the network."""
    n = len(spec.layers)
    keep = list(range(n)) if record is None else sorted({int(i) for i in record})
    if any(not 0 <= i < n for i in keep):
        raise ValueError(f"record: layer indices must lie in [0, {n})")
    return keep


class LavaNetwork(StreamedRun):
    """A network built once in Lava, to run any number of input batches.

    Parameters
    ----------
    spec : NetworkSpec
    steps : int, optional
        Time steps per sample ``T`` (default ``spec.timesteps``).
    batch : int
        Samples per Lava run (the ring-buffer capacity); :meth:`run` splits larger
        inputs into several runs.
    record : iterable of int, optional
        Layers whose outputs :meth:`run` returns; default every layer.
    input_shape : tuple of int, optional
        Needed only when ``spec.input_shape`` is unknown (stock files whose first
        layer is not dense).

    Notes
    -----
    Use as a context manager or call :meth:`close`: Lava runs every Process in
    its own OS process, which only ``stop()`` ends.
    """

    def __init__(self, spec: NetworkSpec, steps: Optional[int] = None, batch: int = 1,
                 record: Optional[Iterable[int]] = None,
                 input_shape: Optional[Tuple[int, ...]] = None) -> None:
        self.spec = spec
        self.steps = int(steps or spec.timesteps)
        if self.steps < 1:
            raise ValueError("steps per sample unknown: pass steps= (the file has no timesteps)")
        self.batch = int(batch)
        if self.batch < 1:
            raise ValueError("batch must be >= 1")
        shape = spec.input_shape if spec.input_shape is not None else input_shape
        if shape is None:
            raise ValueError("the network input shape is unknown: pass input_shape=")
        self.input_shape = tuple(int(s) for s in shape)
        self.record = check_record(spec, record)
        for br in (b for layer in spec.layers for b in layer.branches):
            fixed.check_exact_sum(br.synapse, fixed.SAT_MAX)  # as the emulator does
        self.depths = spec.depths()
        self.max_depth = max(self.depths, default=0)
        pad = -(-self.max_depth // self.steps) * self.steps
        self.pad_steps = pad
        self.length = self.batch * self.steps + pad  # ring-buffer slots
        self._open(ScratchDir(self.stream_bytes(spec, self.steps, self.batch, self.record,
                                                self.input_shape)))

    @staticmethod
    def stream_bytes(spec: NetworkSpec, steps: int, batch: int, record: Iterable[int],
                     input_shape: Tuple[int, ...]) -> int:
        """Size of the stream files of a build (int32 ring buffers, one slot per step)."""
        slots = batch * steps + -(-max(spec.depths(), default=0) // steps) * steps
        per_slot = int(np.prod(input_shape))
        producers = {spec.producer(i) for i in record}
        per_slot += sum(spec.layers[i].size for i in producers if i != INPUT)
        return 4 * slots * per_slot

    # ------------------------------------------------------------------ build
    def _build(self) -> None:
        from lava.magma.core.run_configs import Loihi2SimCfg

        from ..proc import Network, StreamSource

        self._cfg = Loihi2SimCfg(select_tag="fixed_pt")
        src_file = StreamFile(os.path.join(self._dir, "input.npy"), self.length)
        self._src_buf = StreamFile.create(src_file.path, self.length, self.input_shape)
        self._source = StreamSource(shape=self.input_shape, stream=src_file, name="input")
        records = {}
        for i in sorted({self._producer(i) for i in self.record} - {INPUT}):
            records[i] = StreamFile(os.path.join(self._dir, f"layer{i}.npy"), self.length)
            self._sinks[i] = StreamFile.create(records[i].path, self.length,
                                               tuple(self.spec.layers[i].shape))
        self.network = Network(self.spec, reset_interval=self.steps,
                               input_shape=self.input_shape, record=records, name="network")
        self._source.s_out.connect(self.network.inp)
        self.processes = [self._source, self.network]

    def _host_input(self, x: np.ndarray) -> np.ndarray:
        # check_input bounded what reaches a synapse; what an input layer clips anyway
        # may exceed the int32 stream file: clip it the same way first.
        return np.clip(x, _INT32.min, _INT32.max)


def run_lava(spec: NetworkSpec, x: Union[np.ndarray, torch.Tensor],
             record: Optional[Iterable[int]] = None, progress: bool = False
             ) -> Dict[int, np.ndarray]:
    """Run a batch in Lava ``fixed_pt``; same result as :func:`emulate`.

    Builds the network once, streams all ``B`` samples through it, stops Lava.

    Parameters
    ----------
    spec : NetworkSpec
    x : int array ``[B, T, *inputShape]``
    record : iterable of int, optional
        Layers to return (default all).
    progress : bool
        tqdm bar over time steps.

    Returns
    -------
    dict
        ``{layer: int64 numpy array [B, T, *shape]}``.
    """
    xt = check_input(spec, x)
    if xt.dim() < 3:
        raise ValueError(f"input must be [B, T, *inputShape], got shape {tuple(xt.shape)}")
    if xt.shape[0] == 0 or xt.shape[1] == 0:  # Lava cannot run 0 steps; 0 samples: a slip
        raise ValueError(f"input {tuple(xt.shape)} has no samples (B = 0) or no steps "
                         "(T = 0): nothing to run in Lava")
    steps, shape = int(xt.shape[1]), tuple(xt.shape[2:])
    keep = check_record(spec, record)
    check_record_budget(spec, keep, int(xt.shape[0]), steps)
    # Samples per run: all of them, unless the stream files would exceed STREAM_BUDGET.
    per_sample = LavaNetwork.stream_bytes(spec, steps, 1, keep, shape)
    batch = max(1, min(int(xt.shape[0]), STREAM_BUDGET // max(1, per_sample)))
    net = LavaNetwork(spec, steps=steps, batch=batch, record=record, input_shape=shape)
    try:
        return net.run(xt, progress=progress)
    finally:
        net.close()


def simulate(spec: NetworkSpec, x: Union[np.ndarray, torch.Tensor], backend: str = "emulator",
             record: Optional[Iterable[int]] = None, progress: bool = False
             ) -> Dict[int, np.ndarray]:
    """Run a batch with the chosen backend: ``'emulator'`` (batched torch) or ``'lava'``.

    Returns ``{layer: int64 numpy array [B, T, *shape]}`` either way.
    """
    if backend == "lava":
        return run_lava(spec, x, record=record, progress=progress)
    if backend == "emulator":
        return {i: v.numpy() for i, v in emulate(spec, x, record=record).items()}
    raise ValueError(f"unknown backend {backend!r} (expected 'emulator' or 'lava')")
