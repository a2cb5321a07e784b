"""``Network``: a whole deployed network as one hierarchical Lava Process.

The counterpart of ``lava.lib.dl.netx.hdf5.Network`` for every file lava-mlsnn reads
(multi-level, residual joins, CUBA, quantized): wire a source to ``net.inp`` and
``net.out`` to a sink, then ``net.run(...)`` and ``net.stop()``.
"""
from __future__ import annotations

import os
from typing import Dict, List, Optional, Tuple, Union

from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess, LogConfig

from lava_mlsnn import fixed
from lava_mlsnn.format.reader import read_network
from lava_mlsnn.format.spec import INPUT, LayerSpec, NetworkSpec
from lava_mlsnn.proc._common import StreamFile, as_shape
from lava_mlsnn.proc.cuba.process import CubaLif
from lava_mlsnn.proc.multilevel.process import MultiLevelNeuron
from lava_mlsnn.proc.passthrough.process import Pass
from lava_mlsnn.proc.readout.process import Readout
from lava_mlsnn.proc.sigma_delta.process import SigmaDeltaNeuron
from lava_mlsnn.proc.synapse.process import Synapse


def neuron_process(layer: LayerSpec, index: int, reset_interval: int, reset_offset: int,
                   record: Optional[StreamFile] = None) -> AbstractProcess:
    """The Lava Process that runs one layer's neuron (DESIGN §5 type -> Process).

    ``input`` layers are a :class:`Pass` clipping to ``[0, inputLevels]`` (a stock
    netx Input block's neuron runs as that neuron); stateful neurons reset every
    ``reset_interval`` steps at phase ``reset_offset``.
    """
    p, shape = layer.neuron, tuple(layer.shape)
    common = dict(shape=shape, record=record, name=f"layer{index}")
    reset = dict(reset_interval=reset_interval, reset_offset=reset_offset)
    if p.current_bias is not None and p.type not in fixed.CURRENT_BIAS_TYPES:
        raise ValueError(f"layer {index}: a current bias on a {p.type} neuron is not "
                         "supported (only MLSN and CUBA neurons carry one)")
    if p.type == "INPUT":
        return Pass(lo=0, hi=p.input_levels, **common)
    if p.type == "PASS":
        return Pass(lo=fixed.SAT_MIN, hi=fixed.SAT_MAX, **common)
    if p.type == "MLSN":
        return MultiLevelNeuron(vth_mant=p.v_th_mant, levels=p.levels, i_decay=p.i_decay,
                                v_decay=p.v_decay, v_init=p.v_init, bias=p.bias,
                                bias_exp=p.bias_exp, v_bits=p.v_bits, v_exp=p.v_exp,
                                current_bias=_zero_if_none(p.current_bias),
                                reset_rule=fixed.RESET_RULES.index(p.reset), **reset, **common)
    if p.type == "READOUT":
        return Readout(v_decay=p.v_decay, bias=p.bias, bias_exp=p.bias_exp, **reset, **common)
    if p.type == "CUBA":
        return CubaLif(vth_mant=p.v_th_mant, i_decay=p.i_decay, v_decay=p.v_decay,
                       bias=p.bias, bias_exp=p.bias_exp,
                       current_bias=_zero_if_none(p.current_bias), **reset, **common)
    if p.type in fixed.SDNN_TYPES:
        return SigmaDeltaNeuron(mode=p.type, vth_mant=p.v_th_mant, bias=p.bias,
                                bias_exp=p.bias_exp, spike_exp=p.spike_exp,
                                state_exp=p.state_exp, **reset, **common)
    raise ValueError(f"layer {index}: no Lava Process for neuron type {p.type!r}")


def _zero_if_none(values):
    return 0 if values is None else values


class Network(AbstractProcess):
    """A deployed network file as one hierarchical Process with ``inp`` and ``out``.

    Used like ``lava.lib.dl.netx.hdf5.Network``::

        net = Network(net_config="net.h5")
        src = lava.proc.io.source.RingBuffer(data=x)   # x: (*net.inp.shape, steps)
        sink = lava.proc.io.sink.RingBuffer(shape=net.out.shape, buffer=steps)
        src.s_out.connect(net.inp); net.out.connect(sink.a_in)
        net.run(condition=RunSteps(steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        y = sink.data.get(); net.stop()

    **Input layout.** ``inp`` has the file's ``inputShape`` in torch order ``(C, H, W)``
    or ``(F,)`` (stock netx uses ``(W, H, C)``): one integer payload per Lava step,
    step ``s`` of sample ``k`` sent at time step ``1 + k*T + s`` (``T = reset_interval``).
    Payloads are event counts clipped to ``[0, inputLevels]`` by an ``input`` layer;
    where the input feeds a synapse directly they must lie in the 24-bit range.

    **Latency.** Every synapse adds one step (as Lava's ``Dense``), neurons none: the
    layer at pipeline depth ``d = depths[i]`` (:meth:`NetworkSpec.depths`) handles
    that input step at time ``1 + k*T + s + d``; ``out`` carries it at
    ``1 + k*T + s + latency`` (``latency = depths[-1]``). Joins delay their shorter
    branches, so every layer sees all its sources' outputs of the same sample step.

    **Reset.** Each stateful layer returns to its start-of-sample state (``u = 0``,
    ``v = vInit``) when its first step of a sample arrives: at ``time_step % T ==
    (reset_offset + 1 + d) % T``. Samples can thus be streamed back to back; a run of
    ``B`` samples lasts ``B*T + latency`` steps (the last ``latency`` with any input).

    Parameters
    ----------
    net_config : str, os.PathLike or NetworkSpec
        A network file (read and validated by :func:`lava_mlsnn.format.read_network`)
        or an already read :class:`NetworkSpec`.
    reset_interval : int, optional
        Steps per sample ``T``; default the file's ``timesteps``; ``0`` never resets.
    reset_offset : int
        Time step (mod ``T``) before the first step of the first sample: ``0`` when the
        source starts with it at time step 1.
    input_shape : tuple of int, optional
        Only for stock files that do not give their input shape.
    record : dict of int to StreamFile, optional
        Memory-mapped probes: layer index -> ring buffer that the layer's Process
        writes every payload into (the host-side runners use them).
    host_clips_input : bool
        Build no Process for ``input`` layers: the sender of ``inp`` has already clipped
        the input to ``inputLevels`` (the Loihi 2 path, whose host does so).

    Attributes
    ----------
    spec : NetworkSpec
    layers : list
        One entry per file layer: the neuron Process sending its payload (``s_out``),
        ``None`` for layers without one (``flatten``; see :meth:`layer_out`).
    synapses : dict of int to list of Synapse
        The synapse Processes of each layer, one per branch (then the recurrent one).
    depths : list of int
        Pipeline depth of every layer (steps after the input).
    latency : int
        Steps from ``inp`` to ``out``.
    """

    def __init__(self, net_config: Union[str, os.PathLike, NetworkSpec],
                 reset_interval: Optional[int] = None, reset_offset: int = 0,
                 input_shape: Optional[Tuple[int, ...]] = None,
                 record: Optional[Dict[int, StreamFile]] = None,
                 host_clips_input: bool = False, name: Optional[str] = None,
                 log_config: Optional[LogConfig] = None) -> None:
        self._runtime = None  # AbstractProcess.__del__ needs it if validation below raises
        spec = net_config if isinstance(net_config, NetworkSpec) else read_network(net_config)
        T = spec.timesteps if reset_interval is None else int(reset_interval)
        if T < 0:
            raise ValueError("reset_interval must be >= 0")
        shape = spec.input_shape if spec.input_shape is not None else input_shape
        if shape is None:
            raise ValueError("the network input shape is unknown: pass input_shape=")
        if spec.producer(spec.output_index, ("flatten", "input")) == INPUT:
            raise ValueError("the network has no layer with a neuron: nothing to run")
        for br in (b for layer in spec.layers for b in layer.branches):
            fixed.check_exact_sum(br.synapse, fixed.SAT_MAX)  # as the emulator does
        super().__init__(name=name, log_config=log_config)
        self.spec = spec
        self.reset_interval = T
        self.reset_offset = int(reset_offset)
        self.input_shape: Tuple[int, ...] = as_shape(shape)
        self.depths: List[int] = spec.depths()
        self.latency: int = self.depths[-1]
        self._aliases = ("flatten", "input") if host_clips_input else ("flatten",)
        self.inp = InPort(shape=self.input_shape)
        self.out = OutPort(shape=tuple(spec.layers[-1].shape))
        self.layers: List[Optional[AbstractProcess]] = []
        self.synapses: Dict[int, List[Synapse]] = {}
        self._views: Dict[int, OutPort] = {}
        self._build(dict(record or {}))
        self.layer_out(spec.output_index).connect(self.out)

    # ------------------------------------------------------------------ build
    def _shape(self, index: int) -> Tuple[int, ...]:
        return self.input_shape if index == INPUT else tuple(self.spec.layers[index].shape)

    def _connect_from(self, src: int, port) -> None:
        """Connect what layer ``src`` (``-1``: the network input) sends to ``port``."""
        if src == INPUT:
            if tuple(port.shape) != self.input_shape:
                raise ValueError(f"{port.process.name} reads the network input as "
                                 f"{tuple(port.shape)}, not {self.input_shape}")
            self.inp.connect(port)
        else:
            self.layers[src].s_out.connect(port)

    def _build(self, record: Dict[int, StreamFile]) -> None:
        T, spec = self.reset_interval, self.spec
        for i, layer in enumerate(spec.layers):
            if layer.type in self._aliases:
                self.layers.append(None)
                continue
            neuron = neuron_process(layer, i, T, self.reset_offset + 1 + self.depths[i],
                                    record.get(i))
            self.layers.append(neuron)
            if layer.type == "input":  # no synapse, no latency
                self._connect_from(spec.producer(layer.source, self._aliases), neuron.a_in)
            self.synapses[i] = []
            for k, br in enumerate(layer.branches):
                src = spec.producer(br.source, self._aliases)
                src_depth = 0 if src == INPUT else self.depths[src]
                syn = Synapse.from_spec(br.synapse, in_shape=self._shape(src),
                                        out_shape=tuple(layer.shape),
                                        view_shape=self._shape(br.source),
                                        extra_delay=self.depths[i] - src_depth - 1,
                                        reset_interval=T,  # axonal delay lines empty per sample
                                        reset_offset=self.reset_offset + 1 + src_depth,
                                        name=f"layer{i}.branch{k}")
                self._connect_from(src, syn.s_in)
                syn.a_out.connect(neuron.a_in)
                self.synapses[i].append(syn)
            if layer.recurrent is not None:  # its own payload, one step later
                syn = Synapse.from_spec(layer.recurrent, in_shape=tuple(layer.shape),
                                        out_shape=tuple(layer.shape), recurrent=True,
                                        reset_interval=T,
                                        reset_offset=self.reset_offset + 1 + self.depths[i],
                                        name=f"layer{i}.recurrent")
                neuron.s_out.connect(syn.s_in)
                syn.a_out.connect(neuron.a_in)
                self.synapses[i].append(syn)
        self.processes: List[AbstractProcess] = [p for p in self.layers if p is not None] + \
            [s for syns in self.synapses.values() for s in syns]

    # ------------------------------------------------------------------ probes
    def producer(self, index: int) -> int:
        """The layer whose Process sends layer ``index``'s payload (``-1``: ``inp``)."""
        return self.spec.producer(index, self._aliases)

    def layer_out(self, index: int) -> OutPort:
        """OutPort carrying layer ``index``'s payload (``v`` for READOUT), in its shape.

        Connect it to any sink (e.g. ``lava.proc.io.sink.RingBuffer``): the payload of
        sample step ``s`` arrives ``depths[index]`` steps after ``inp`` received it.
        """
        if not -len(self.layers) <= index < len(self.layers):
            raise IndexError(f"layer index {index} outside [0, {len(self.layers)})")
        index %= len(self.layers)
        src = self.producer(index)
        if src == INPUT:
            raise ValueError(f"layer {index} passes the network input on: read what is "
                             "sent to inp instead")
        port = self.layers[src].s_out
        shape = tuple(self.spec.layers[index].shape)
        if tuple(port.shape) == shape:
            return port
        if index not in self._views:  # one view per layer: Lava refuses unconnected views
            self._views[index] = port.reshape(shape)
        return self._views[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __str__(self) -> str:
        rows = [f"{'#':>3} {'type':<8} {'neuron':<8} {'shape':<16} depth"]
        for i, layer in enumerate(self.spec.layers):
            kind = layer.neuron.type if layer.neuron is not None else "-"
            rows.append(f"{i:>3} {layer.type:<8} {kind:<8} {str(tuple(layer.shape)):<16} "
                        f"{self.depths[i]}")
        return "\n".join(rows)
