"""The run loop shared by the Lava CPU runner and the Loihi 2 runner.

Both build a process graph once, fed by a :class:`~lava_mlsnn.proc.StreamSource`
ring buffer, and read every recorded layer back from a memory-mapped ring buffer
(``_sinks``) at its pipeline depth. What differs is the build (``_build``), the run
config, how the host prepares the input (:meth:`StreamedRun._host_input`) and how many
steps the I/O adds before a layer's output reaches its buffer (``_output_shift``).
Every call into the Lava runtime goes through the :class:`LavaSupervisor`, so a
failing ProcessModel, a signal or :meth:`close` always ends the run's processes.
"""
from __future__ import annotations

import logging
import os
import time
from typing import Dict, Optional, Tuple, Union

import numpy as np
import torch

from .._log import show_progress
from ..format.spec import INPUT, NetworkSpec
from ..lifecycle import ScratchDir
from .emulator import check_input
from .lava_watchdog import LavaStalled, LavaSupervisor

log = logging.getLogger(__name__)

#: Environment override of :attr:`StreamedRun.stall_base_s` (seconds).
STALL_ENV = "LAVA_MLSNN_LAVA_STALL_S"


class StreamedRun:
    """Run loop, timings and teardown of a streamed network (mixed into the runners).

    A subclass sets ``spec``, ``steps``, ``batch``, ``record``, ``input_shape``,
    ``depths``, ``pad_steps`` and ``length``, implements ``_build`` (which sets
    ``_source``, ``_src_buf``, ``_sinks`` and ``_cfg``) and calls :meth:`_open`.
    """

    #: tqdm label.
    progress_label = "lava"
    #: With a progress bar, a run is split into about this many Lava calls (None: one call).
    progress_chunks: Optional[int] = 50
    #: Layer types that have no Process of their own (they send their source's payload).
    _aliases: Tuple[str, ...] = ("flatten",)
    #: Steps the I/O adds between a layer and its ring buffer.
    _output_shift = 0
    #: Time limit of a Lava call: this base (seconds; ``LAVA_MLSNN_LAVA_STALL_S``) ...
    stall_base_s = 300.0
    #: ... plus this many seconds per step, or 50x the measured time per step if larger.
    stall_per_step_s = 2.0
    #: How often a block whose Lava run stalled is rerun on a fresh runtime.
    stall_retries = 1

    spec: NetworkSpec

    def _open(self, scratch: ScratchDir) -> None:
        """Start the run state in ``scratch`` and build the graph (scratch removed on failure)."""
        self.timings: Dict[str, float] = {"build_s": 0.0, "run_s": 0.0, "steps": 0}
        self._scratch = scratch
        self._dir = scratch.path
        self._closed = False
        try:
            self._fresh_runtime()
        except BaseException:
            self._scratch.remove()
            raise

    def _fresh_runtime(self) -> None:
        """Build the process graph anew (its runtime starts on the first run)."""
        self._supervisor = LavaSupervisor()  # watchdog, signals, teardown of the runtime
        self._source = None
        self._sinks: Dict[int, np.memmap] = {}
        self._runtime_up = False
        self.time_step = 0
        self._build()

    def _build(self) -> None:  # pragma: no cover - every runner defines it
        raise NotImplementedError

    def _producer(self, index: int) -> int:
        """The layer (or INPUT) whose Process actually sends ``index``'s payload."""
        return self.spec.producer(index, self._aliases)

    def _host_input(self, x: np.ndarray) -> np.ndarray:
        """What the host writes into the input stream for a checked int64 batch ``x``."""
        return x

    # ------------------------------------------------------------------ run
    def stall_limit_s(self, steps: int) -> float:
        """Time limit of a Lava call that runs ``steps`` steps (seconds)."""
        base = float(os.environ.get(STALL_ENV) or self.stall_base_s)
        per_step = max(self.stall_per_step_s, 50.0 * self.seconds_per_step)
        return base + per_step * steps

    def _advance(self, n: int, bar) -> None:
        from lava.magma.core.run_conditions import RunSteps

        chunk = n if bar is None or self.progress_chunks is None else \
            max(self.steps, -(-n // self.progress_chunks))
        done = 0
        while done < n:
            k = min(chunk, n - done)
            if not self._runtime_up:
                t = time.perf_counter()
                self._runtime_up = True  # from here on, close() must end the processes
                self._supervisor.call(self._source, lambda: self._source.create_runtime(
                    run_cfg=self._cfg), timeout_s=self.stall_limit_s(0),
                    what="building the Lava runtime")  # compile + start processes
                self.timings["build_s"] += time.perf_counter() - t
            t = time.perf_counter()
            self._supervisor.call(self._source, lambda: self._source.run(
                condition=RunSteps(num_steps=k, blocking=True)),
                timeout_s=self.stall_limit_s(k), what=f"a Lava run of {k} steps")
            self.timings["run_s"] += time.perf_counter() - t
            self.timings["steps"] += k
            done += k
            if bar is not None:
                bar.update(k)

    def _run_block_retrying(self, x: np.ndarray, bar) -> Dict[int, np.ndarray]:
        for attempt in range(self.stall_retries + 1):
            try:
                return self._run_block(x, bar)
            except LavaStalled as err:
                if attempt == self.stall_retries:
                    raise
                log.warning("%s; rerunning these %d samples on a fresh Lava runtime",
                            err, len(x))
                self._supervisor.terminate(self._source)  # ends the stuck processes
                self._fresh_runtime()
        raise AssertionError("unreachable")  # pragma: no cover

    def _run_block(self, x: np.ndarray, bar) -> Dict[int, np.ndarray]:
        b, T = x.shape[0], self.steps
        n = b * T + self.pad_steps  # a multiple of T: keeps the reset phase across runs
        t0 = self.time_step
        slots = (t0 + np.arange(n)) % self.length
        self._src_buf[slots[: b * T]] = x.reshape((b * T,) + self.input_shape)
        self._src_buf[slots[b * T:]] = 0
        self._advance(n, bar)
        self.time_step += n
        raw = {INPUT: x.astype(np.int64, copy=False)}
        for i, buf in self._sinks.items():
            idx = (t0 + self.depths[i] + self._output_shift + np.arange(b * T)) % self.length
            raw[i] = np.asarray(buf[idx], dtype=np.int64).reshape((b, T) + tuple(buf.shape[1:]))
        return {i: raw[self._producer(i)].reshape((b, T) + tuple(self.spec.layers[i].shape))
                for i in self.record}

    def run(self, x: Union[np.ndarray, torch.Tensor], progress: bool = False
            ) -> Dict[int, np.ndarray]:
        """Stream a batch through the network.

        Parameters
        ----------
        x : int array ``[B, T, *inputShape]``
            Input payloads, torch order; any ``B`` (split into runs of ``batch``).
        progress : bool
            Show a tqdm bar over Lava time steps (only where stderr is a terminal).

        Returns
        -------
        dict
            ``{layer: int64 array [B, T, *shape]}``, aligned as
            :func:`~lava_mlsnn.backends.emulator.emulate`.
        """
        if self._closed:
            raise RuntimeError(f"this {type(self).__name__} is closed")
        xn = check_input(self.spec, x).numpy()
        if tuple(xn.shape[2:]) != self.input_shape or xn.shape[1] != self.steps:
            raise ValueError(f"input shape {tuple(xn.shape)} does not match [B, {self.steps}, "
                             f"{', '.join(map(str, self.input_shape))}]")
        xn = self._host_input(xn)
        bar = None
        if show_progress(progress):
            from tqdm.auto import tqdm
            n_runs = -(-len(xn) // self.batch)
            bar = tqdm(total=len(xn) * self.steps + n_runs * self.pad_steps, unit="step",
                       desc=self.progress_label)
        try:
            parts = [self._run_block_retrying(xn[s:s + self.batch], bar)
                     for s in range(0, len(xn), self.batch)]
        except BaseException:
            self.close()  # a failed Lava run is not resumable; free its processes
            raise
        finally:
            if bar is not None:
                bar.close()
        if not parts:
            return {i: np.zeros((0, self.steps) + tuple(self.spec.layers[i].shape), np.int64)
                    for i in self.record}
        return {i: np.concatenate([p[i] for p in parts]) for i in self.record}

    @property
    def seconds_per_step(self) -> float:
        """Mean wall time of one Lava time step so far (build excluded)."""
        return self.timings["run_s"] / max(1, self.timings["steps"])

    def close(self) -> None:
        """Stop the runtime (ends its OS processes, frees a chip) and delete the buffers."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._runtime_up:
                self._supervisor.shutdown(self._source)
        finally:
            self._src_buf = None
            self._sinks = {}
            self._scratch.remove()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
