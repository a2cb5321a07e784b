"""Run a deployed network on Loihi 2 (``Loihi2HwCfg``), streamed and aligned like the CPU run.

The graph is the one :class:`~lava_mlsnn.netx.lava_runner.LavaNetwork` builds for
the CPU (a :class:`~lava_mlsnn.proc.Network` Process), with three changes that the
chip imposes:

* the host clips the input to ``inputLevels`` (what an ``input`` layer does) and
  sends it through an input adapter, so ``input`` layers need no chip Process;
* neurons get no ``record`` file (a NeuroCore cannot write host memory): every
  recorded layer is sent back through an output adapter into a host-side
  :class:`~lava_mlsnn.proc.StreamSink`;
* model selection is :func:`~lava_mlsnn.loihi2.registry.hw_run_config`, i.e. the
  registered lava-loihi models for chip Processes and CPU models for the host.

``dry_run=True`` swaps in :func:`cpu_standin_registry`: the lava-mlsnn CPU models
for the chip Processes and zero-latency ``Pass`` Processes for the adapters. It
runs under ``Loihi2HwCfg`` on any machine and gives the emulator's integers, which
checks this graph (wiring, host clipping, adapters, reset offsets, read-out
alignment) before any chip time is spent.
"""
from __future__ import annotations

import os
from typing import Dict, Iterable, List, Optional, Tuple, Union

import numpy as np
import torch

from ... import fixed
from ..emulator import check_input
from .report import payload_bits, payload_bounds
from ...format.spec import INPUT, NetworkSpec
from ...lifecycle import ScratchDir
from ...proc._common import StreamFile
from ..lava_runner import check_record
from ..streamed import StreamedRun
from . import detect
from .registry import REGISTRY, Loihi2IO, ModelRegistry, hw_run_config, lava_loihi_io, \
    load_plugins


def cpu_standin_registry() -> ModelRegistry:
    """Registry whose "chip" models are lava-mlsnn's CPU ``fixed_pt`` models (dry runs)."""
    from ..._quiet import import_lava_runtime
    import_lava_runtime()
    from ...proc.cuba.models import PyCubaLifModelFixed
    from ...proc.multilevel.models import PyMultiLevelNeuronModelFixed
    from ...proc.passthrough.models import PyPassModelFixed
    from ...proc.readout.models import PyReadoutModelFixed
    from ...proc.synapse.models import PySynapseModelFixed

    def identity(shape: Tuple[int, ...], bits: int):
        from ...proc import Pass
        p = Pass(shape=shape)  # sat24 passes every payload unchanged, with no latency
        return p, p.a_in, p.s_out

    return ModelRegistry({"MultiLevelNeuron": PyMultiLevelNeuronModelFixed,
                          "Readout": PyReadoutModelFixed, "Pass": PyPassModelFixed,
                          "CubaLif": PyCubaLifModelFixed, "Synapse": PySynapseModelFixed},
                         io=Loihi2IO(identity, identity))


class Loihi2Network(StreamedRun):
    """A network built once for Loihi 2, to stream any number of input batches.

    Same interface as :class:`~lava_mlsnn.netx.lava_runner.LavaNetwork`
    (``run``, ``close``, context manager).

    Parameters
    ----------
    spec : NetworkSpec
    steps : int, optional
        Steps per sample ``T`` (default ``spec.timesteps``).
    batch : int
        Samples per Lava run (host ring-buffer capacity).
    record : iterable of int, optional
        Layers to return (default all); each costs one output adapter.
    registry : ModelRegistry, optional
        Default :data:`~lava_mlsnn.loihi2.registry.REGISTRY` (plus the plug-ins).
    dry_run : bool
        Run the same graph on the CPU with :func:`cpu_standin_registry`.
    run_cfg_kwargs : dict, optional
        Extra ``Loihi2HwCfg`` arguments (e.g. ``callback_fxs`` for profiling).

    Raises
    ------
    Loihi2Unavailable
        Without lava-loihi (unless ``dry_run``) or when a needed model is missing.
    """

    progress_label = "loihi2"
    _aliases = ("flatten", "input")  # the host clips the input: no input layer Process
    progress_chunks = None  # one Lava call per run: each call costs a host-chip round trip

    def __init__(self, spec: NetworkSpec, steps: Optional[int] = None, batch: int = 1,
                 record: Optional[Iterable[int]] = None,
                 registry: Optional[ModelRegistry] = None, dry_run: bool = False,
                 run_cfg_kwargs: Optional[dict] = None) -> None:
        if dry_run:
            registry = cpu_standin_registry() if registry is None else registry
        else:
            detect.require_lava_loihi()
            registry = REGISTRY if registry is None else registry
            load_plugins(registry)
        from ..._quiet import import_lava_runtime
        import_lava_runtime()
        # Checked before anything is built: a missing model is the caller's to fix.
        self._cfg = hw_run_config(spec, registry, **dict(run_cfg_kwargs or {}))
        self.io: Loihi2IO = registry.io if registry.io is not None else lava_loihi_io()
        self.spec = spec
        self.steps = int(steps or spec.timesteps)
        if self.steps < 1 or spec.input_shape is None:
            raise ValueError("the file must give timesteps and inputShape (or pass steps=)")
        self.batch = max(1, int(batch))
        self.record = check_record(spec, record)
        self.input_shape = tuple(int(s) for s in spec.input_shape)
        self.depths = spec.depths()
        self.lag = int(self.io.in_latency)  # every chip layer sees its input this much later
        self._output_shift = self.lag + int(self.io.out_latency)
        span = max(self.depths, default=0) + self.lag + int(self.io.out_latency)
        self.pad_steps = -(-span // self.steps) * self.steps
        self.length = self.batch * self.steps + self.pad_steps
        self._open(ScratchDir())

    # ------------------------------------------------------------------ build
    def _input_clip(self) -> Optional[int]:
        """``inputLevels`` if the network clips its input (an ``input`` layer), else None."""
        inputs = [i for i, layer in enumerate(self.spec.layers) if layer.type == "input"]
        raw = [i for i, layer in enumerate(self.spec.layers)
               for b in layer.branches if b.source == INPUT]
        if inputs and raw:
            raise ValueError(f"layers {raw} read the raw input while input layer {inputs[0]} "
                             "clips it: the Loihi 2 path sends one (clipped) input stream")
        return int(self.spec.input_levels) if inputs else None

    def _build(self) -> None:
        from ...proc import Network, StreamSink, StreamSource

        spec = self.spec
        for i, layer in enumerate(spec.layers):
            if layer.recurrent is not None or (layer.type == "input"
                                               and layer.neuron.type != "INPUT"):
                what = "recurrent (dense_rec)" if layer.recurrent is not None else \
                    "input layers with a neuron (stock Input blocks)"
                raise ValueError(f"layer {i}: {what} are not supported by the loihi2 backend; "
                                 "use --backend lava")
            if layer.neuron is not None and layer.type != "input" and \
                    layer.neuron.type not in ("PASS", "MLSN", "READOUT", "CUBA"):
                raise ValueError(f"layer {i}: no Loihi 2 Process for neuron type "
                                 f"{layer.neuron.type!r}")
        self._clip = self._input_clip()
        bits = payload_bounds(spec)
        src = StreamFile(os.path.join(self._dir, "input.npy"), self.length)
        self._src_buf = StreamFile.create(src.path, self.length, self.input_shape)
        self._source = StreamSource(shape=self.input_shape, stream=src, name="host_input")
        in_bits = max(1, int(bits[INPUT]).bit_length())
        adapter, a_in, a_out = self.io.input_adapter(self.input_shape, in_bits)
        self._source.s_out.connect(a_in)
        # Every chip layer sees its input ``lag`` steps after the host sent it.
        self.network = Network(spec, reset_interval=self.steps, reset_offset=self.lag,
                               host_clips_input=True, name="network")
        a_out.connect(self.network.inp)
        self.processes: List = [self._source, adapter, self.network]
        self._sinks: Dict[int, np.memmap] = {}
        for i in sorted({self._producer(i) for i in self.record} - {INPUT}):
            shape = tuple(spec.layers[i].shape)
            adapter, a_in, a_out = self.io.output_adapter(
                shape, payload_bits(spec.layers[i], bits[i]))
            stream = StreamFile(os.path.join(self._dir, f"layer{i}.npy"), self.length)
            self._sinks[i] = StreamFile.create(stream.path, self.length, shape)
            sink = StreamSink(shape=shape, stream=stream, name=f"host_layer{i}")
            self.network.layer_out(i).connect(a_in)
            a_out.connect(sink.a_in)
            self.processes += [adapter, sink]

    def _host_input(self, x: np.ndarray) -> np.ndarray:
        # The chip has no input layer Process: the host clips as that layer would.
        return x if self._clip is None else np.asarray(fixed.input_payload(x, self._clip))


def run_loihi2(spec: NetworkSpec, x: Union[np.ndarray, torch.Tensor],
               record: Optional[Iterable[int]] = None, registry: Optional[ModelRegistry] = None,
               dry_run: bool = False, progress: bool = False, batch: int = 256
               ) -> Dict[int, np.ndarray]:
    """Run a batch on Loihi 2 and stop; same result as :func:`~lava_mlsnn.netx.emulate`.

    Parameters
    ----------
    spec : NetworkSpec
    x : int array ``[B, T, *inputShape]``
    record : iterable of int, optional
        Layers to return (default all).
    registry : ModelRegistry, optional
        Models to use (default: the global registry and its plug-ins).
    dry_run : bool
        Run the Loihi 2 graph on the CPU with stand-in models (no lava-loihi needed).
    progress : bool
        tqdm bar over time steps.
    batch : int
        Samples per Lava run (host buffer capacity).

    Raises
    ------
    Loihi2Unavailable
        One line: lava-loihi missing, a plug-in failing, or a model missing.
    """
    if not dry_run:
        detect.require_lava_loihi()  # the cheapest refusal first
    xt = check_input(spec, x)
    net = Loihi2Network(spec, steps=int(xt.shape[1]), batch=min(batch, max(1, len(xt))),
                        record=record, registry=registry, dry_run=dry_run)
    try:
        return net.run(xt, progress=progress)
    finally:
        net.close()
