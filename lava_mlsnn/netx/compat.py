"""``lava_mlsnn.netx.Network``: the network Process built as ``lava.lib.dl.netx.hdf5.Network`` is.

It takes the constructor arguments lava-dl users pass to netx and gives netx's access
paths (``in_layer``, ``out_layer``, ``layers[i].neuron`` / ``.synapse``, ``inp``,
``out``, ``len``, ``str``), on :class:`lava_mlsnn.proc.network.Network` (which runs
lava-mlsnn's own files too: residual joins, graded neurons). What does not apply is
refused by name.
"""
from __future__ import annotations

import os
from dataclasses import replace
from typing import Any, List, Optional, Tuple, Union

from ..format.params import SDNN_TYPES
from ..format.reader import read_network
from ..format.spec import INPUT, LayerSpec, NetworkSpec


class Block:
    """A view of one layer as a netx block: ``neuron`` and ``synapse`` Processes.

    ``synapse`` is the layer's first synapse (``None`` for an ``input`` layer),
    ``synapses`` all of them (a join has several); ``inp`` is the synapse's ``s_in``
    and ``out`` the neuron's ``s_out``. Other attributes are the neuron's (``s_out``,
    ``a_in``, its Vars).
    """

    def __init__(self, index: int, neuron: Any, synapses: List[Any]) -> None:
        self.index = index
        self.neuron = neuron
        self.synapses = list(synapses)
        self.synapse = self.synapses[0] if self.synapses else None
        self.inp = self.synapse.s_in if self.synapse is not None else neuron.a_in
        self.out = neuron.s_out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["neuron"], name)

    def __repr__(self) -> str:
        return f"Block(layer {self.index}: {type(self.neuron).__name__})"


def _cut(spec: NetworkSpec, num_layers: Optional[int], skip_layers: int) -> NetworkSpec:
    """netx's ``num_layers`` (file layers built) and ``skip_layers`` (the first layers
    left out: the input is what the first kept layer reads)."""
    layers = spec.layers if num_layers is None else spec.layers[:max(int(num_layers), 0)]
    if not layers:
        raise ValueError(f"num_layers={num_layers} leaves no layer to build")
    skip = int(skip_layers or 0)
    if skip < 0 or skip >= len(layers):
        raise ValueError(f"skip_layers={skip_layers} must lie in [0, {len(layers) - 1}]")
    if skip == 0:
        return replace(spec, layers=list(layers))
    if any(la.type == "join" or la.source != i - 1 for i, la in enumerate(layers)):
        raise ValueError("skip_layers: only a chain of layers (as netx builds) can be cut")
    in_shape = tuple(layers[skip - 1].shape)
    kept: List[LayerSpec] = []
    for la in layers[skip:]:
        src = la.source - skip if la.source - skip >= 0 else INPUT
        kept.append(replace(la, source=src, branches=[replace(b, source=src)
                                                      for b in la.branches]))
    return replace(spec, layers=kept, input_shape=in_shape)


def _spike_exp(spec: NetworkSpec, spike_exp: int) -> NetworkSpec:
    """netx's ``spike_exp`` on sigma-delta layers: it scales their threshold, bias and
    input by ``1 << (spike_exp + state_exp)`` (state_exp 6)."""
    if int(spike_exp) == 6:
        return spec
    if not 0 <= int(spike_exp) <= 16:
        raise ValueError(f"spike_exp={spike_exp} must lie in [0, 16]")
    layers = []
    for la in spec.layers:
        p = la.neuron
        if p is not None and p.type in SDNN_TYPES:
            la = replace(la, neuron=replace(p, spike_exp=int(spike_exp),
                                            bias_exp=int(spike_exp) + p.state_exp))
        layers.append(la)
    return replace(spec, layers=layers)


def Network(net_config: Union[str, os.PathLike, NetworkSpec], num_layers: Optional[int] = None,
            skip_layers: int = 0, input_message_bits: Optional[int] = 0,
            input_shape: Optional[Tuple[int, ...]] = None,
            reset_interval: Optional[int] = None, reset_offset: int = 0, spike_exp: int = 6,
            sparse_fc_layer: bool = False, xyf: bool = False, **kwargs: Any):
    """Build a network file as one Lava Process, with netx's arguments.

    Parameters
    ----------
    net_config : str, path or NetworkSpec
        The network file (stock lava-dl or lava-mlsnn) or an already read spec.
    num_layers, skip_layers : int, optional
        As netx: build the first ``num_layers`` file layers; leave the first
        ``skip_layers`` of them out (the input is then what the first kept layer reads).
    input_message_bits : int
        netx's bits of the input payload. lava-mlsnn's synapses always multiply by the
        payload; ``0`` (netx's binary input) is accepted for spikes, and the data must
        then be 0/1, as stock netx reads any non-zero value as a spike.
    input_shape : tuple of int, optional
        For files that do not give it; torch order ``(C, H, W)``, or netx's
        ``(x, y, f)`` with ``xyf=True``.
    reset_interval, reset_offset : int
        netx's periodic reset (``None``: the file's ``timesteps``; 0 for stock files,
        i.e. no reset, as netx). Layer ``l`` resets at phase ``reset_offset + 1 + d``
        (``d`` its pipeline depth); netx counts blocks instead, which is the same on a
        chain that starts with an Input block and one step later otherwise (set
        ``reset_offset`` one lower there).
    spike_exp : int
        netx's sigma-delta spike exponent (default 6).
    sparse_fc_layer : bool
        netx's ``Sparse`` synapses for dense layers: the same integers; accepted.
    xyf : bool
        ``input_shape`` is in netx's ``(x, y, f)`` order. The ports stay in torch order.
    **kwargs
        :class:`lava_mlsnn.proc.network.Network`'s own (``record``, ``host_clips_input``,
        ``name``, ``log_config``).

    Returns
    -------
    lava_mlsnn.proc.network.Network
        With ``layers[i]`` a :class:`Block` per file layer (``None`` for flatten
        layers, as before), ``in_layer`` / ``out_layer`` the first and last blocks,
        ``output_message_bits`` (24: graded payloads), ``len`` and ``str``.

    Raises
    ------
    ValueError
        An argument that does not apply, named.
    """
    from ..proc.network.process import Network as _Network

    if input_message_bits is not None and not 0 <= int(input_message_bits) <= 24:
        raise ValueError(f"input_message_bits={input_message_bits} must lie in [0, 24]")
    spec = net_config if isinstance(net_config, NetworkSpec) else read_network(net_config)
    spec = _spike_exp(_cut(spec, num_layers, skip_layers), spike_exp)
    if input_shape is not None and xyf:
        input_shape = tuple(input_shape)[::-1]
    net = _Network(spec, reset_interval=reset_interval, reset_offset=reset_offset,
                   input_shape=input_shape, **kwargs)
    net.layers = [None if p is None else Block(i, p, net.synapses.get(i, []))
                  for i, p in enumerate(net.layers)]
    blocks = [b for b in net.layers if b is not None]
    net.in_layer, net.out_layer = blocks[0], blocks[-1]
    net.output_message_bits = 24
    net.input_message_bits = int(input_message_bits or 0)
    net.sparse_fc_layer = bool(sparse_fc_layer)
    return net
