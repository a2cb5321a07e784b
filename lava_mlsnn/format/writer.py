"""Write the lava-mlsnn HDF5 format (DESIGN §6), atomically.

Files that use only stock layer and neuron types stay loadable by lava-dl's netx.
"""
from __future__ import annotations

import json
from typing import Optional, Tuple

import h5py
import numpy as np

from .._io import atomic_write_path
from .params import RESET_RULES, SDNN_TYPES, NeuronParams, SynapseSpec, default_bias_exp
from .spec import LayerSpec, NetworkSpec

FORMAT_NAME = "lava-mlsnn"
FORMAT_VERSION = 1


def _write_str(g: h5py.Group, key: str, value: str) -> None:
    g.create_dataset(key, (1,), "S10", [value.encode("ascii")])


def _write_synapse(g: h5py.Group, syn: SynapseSpec) -> None:
    if syn.kind == "dense":
        g.create_dataset("inFeatures", data=int(syn.weight.shape[1]))
        g.create_dataset("outFeatures", data=int(syn.weight.shape[0]))
        g.create_dataset("weight", data=syn.weight.astype(np.float32))
    elif syn.kind == "conv":
        g.create_dataset("inChannels", data=int(syn.weight.shape[1] * syn.groups))
        g.create_dataset("outChannels", data=int(syn.weight.shape[0]))
        g.create_dataset("kernelSize", data=np.array(syn.weight.shape[2:]))
        g.create_dataset("stride", data=np.array(syn.stride))
        g.create_dataset("padding", data=np.array(syn.padding))
        g.create_dataset("dilation", data=np.array(syn.dilation))
        g.create_dataset("groups", data=int(syn.groups))
        g.create_dataset("weight", data=syn.weight.astype(np.float32))
    elif syn.kind == "pool":
        g.create_dataset("kernelSize", data=np.array(syn.kernel))
        g.create_dataset("stride", data=np.array(syn.stride))
        g.create_dataset("padding", data=np.array(syn.padding))
        g.create_dataset("weight", data=np.float32(np.asarray(syn.weight).reshape(())))
    elif syn.kind == "identity":
        g.create_dataset("weight", data=np.float32(np.asarray(syn.weight).reshape(())))
    if syn.delay is not None:  # netx's key: per output neuron (out,) or per synapse (out, in)
        g.create_dataset("delay", data=np.asarray(syn.delay).astype(np.float32))
    if syn.weight_exp:
        g.create_dataset("weightExp", data=int(syn.weight_exp))


def _write_neuron(g: h5py.Group, p: NeuronParams) -> None:
    ng = g.create_group("neuron")
    if p.type in SDNN_TYPES:  # stock keys, readable by lava-dl netx
        ng.create_dataset("type", data="SDNN")
        ng.create_dataset("activation", data="relu")
        ng.create_dataset("vThMant", data=int(p.v_th_mant))
        if p.type == "SDNN_SIGMA":
            ng.create_dataset("sigma_output", data=True)
    elif p.type == "CUBA":  # stock keys, readable by lava-dl netx
        ng.create_dataset("type", data="CUBA")
        ng.create_dataset("iDecay", data=int(p.i_decay))
        ng.create_dataset("vDecay", data=int(p.v_decay))
        ng.create_dataset("vThMant", data=int(p.v_th_mant))
        ng.create_dataset("refDelay", data=1)
        ng.create_dataset("gradedSpike", data=False)
    else:
        ng.create_dataset("type", data=p.type)
        ng.create_dataset("vThMant", data=int(p.v_th_mant))
        ng.create_dataset("levels", data=int(p.levels))
        ng.create_dataset("iDecay", data=int(p.i_decay))
        ng.create_dataset("vDecay", data=int(p.v_decay))
        ng.create_dataset("vInit", data=int(p.v_init))
        ng.create_dataset("vBits", data=int(p.v_bits))
        ng.create_dataset("vExp", data=int(p.v_exp))
        if p.reset != "soft":  # absent: the soft reset, so earlier files stay as they were
            ng.create_dataset("resetRule", data=RESET_RULES.index(p.reset))
    if p.bias is not None:
        b = np.asarray(p.bias)
        g.create_dataset("bias", data=(b.reshape(-1) if b.ndim and b.size == b.shape[0] else b)
                         .astype(np.float32))
        if p.bias_exp != default_bias_exp(p.type):  # absent: the default, so stock files stay
            g.create_dataset("biasExp", data=int(p.bias_exp))
    if p.current_bias is not None:  # lava-mlsnn's key (DESIGN §5): absent in stock files
        b = np.asarray(p.current_bias)
        ng.create_dataset("currentBias", data=(b.reshape(-1) if b.ndim and b.size == b.shape[0]
                                               else b).astype(np.int32))


def write_layer(g: h5py.Group, layer: LayerSpec, index: Optional[int]) -> None:
    """Write one ``/layer/<i>`` group; ``source`` is written unless it is ``index - 1``."""
    _write_str(g, "type", "dense_rec" if layer.recurrent is not None else layer.type)
    g.create_dataset("shape", data=np.array(layer.shape, dtype=np.int64))
    if index is None or layer.source != index - 1:
        g.create_dataset("source", data=int(layer.source))
    if layer.weight_bits:
        g.create_dataset("weightBits", data=int(layer.weight_bits))
    if layer.weight_scale:
        g.create_dataset("weightScale", data=int(layer.weight_scale))
    if layer.type == "join":
        for k, br in enumerate(layer.branches):
            bg = g.create_group(f"branch/{k}")
            bg.create_dataset("source", data=int(br.source))
            _write_str(bg, "type", br.synapse.kind)
            _write_synapse(bg, br.synapse)
    elif layer.branches:
        _write_synapse(g, layer.branches[0].synapse)
    if layer.recurrent is not None:
        g.create_dataset("weight_rec", data=layer.recurrent.weight.astype(np.float32))
    if layer.input_transform is not None:
        g.create_dataset("weight", data=np.float32([layer.input_transform[0]]))
        g.create_dataset("bias", data=np.float32([layer.input_transform[1]]))
    if layer.neuron is not None and layer.neuron.type != "INPUT":
        _write_neuron(g, layer.neuron)


def write_root_attrs(f: h5py.File, timesteps: int, input_shape: Optional[Tuple[int, ...]],
                     input_levels: int) -> None:
    """The root attributes that make a file a lava-mlsnn file (DESIGN §6): format and
    version, steps per sample (0: unknown), input shape and levels."""
    f.attrs["format"] = FORMAT_NAME
    f.attrs["formatVersion"] = FORMAT_VERSION
    f.attrs["timesteps"] = int(timesteps)
    if input_shape is not None:
        f.attrs["inputShape"] = np.array(input_shape, dtype=np.int64)
    f.attrs["inputLevels"] = int(input_levels)


def write_network(spec: NetworkSpec, path: str) -> None:
    """Write ``spec`` to ``path`` atomically (DESIGN §6 layout).

    The file is written beside the target and renamed over it when complete; a
    target that is a link, FIFO or device is refused
    (:func:`lava_mlsnn._io.atomic_write_path`).

    A network that uses only stock layer and neuron types stays loadable by
    ``lava.lib.dl.netx``; lava-mlsnn root attributes are always written.
    """
    def write(buf) -> None:  # an in-memory file (see atomic_write_path)
        with h5py.File(buf, "w") as f:
            write_root_attrs(f, spec.timesteps, spec.input_shape, spec.input_levels)
            if spec.classes is not None:
                f.attrs["classes"] = np.array([c.encode() for c in spec.classes])
            f.attrs["metadata"] = json.dumps(spec.metadata, default=str)
            lg = f.create_group("layer")
            for i, layer in enumerate(spec.layers):
                write_layer(lg.create_group(str(i)), layer, i)

    atomic_write_path(path, write)


def write_checked_network(spec: NetworkSpec, path: str) -> None:
    """:func:`write_network`, but the file must pass ``read_network`` before it lands.

    For networks built from something else (a NIR graph): a value the builder let
    through that the format forbids is refused instead of written, so ``validate``
    never meets a file lava-mlsnn wrote itself. The file is written and read back in a
    private folder; only a valid one replaces ``path`` (atomically).

    Raises
    ------
    FormatError
        The reader's problems with the built file; nothing is written to ``path``.
    """
    import os
    import tempfile

    from .._io import atomic_write
    from .reader import read_network
    with tempfile.TemporaryDirectory(prefix="lava-mlsnn-check-") as scratch:
        built = os.path.join(scratch, "network.h5")
        write_network(spec, built)
        read_network(built)
        with open(built, "rb") as f:
            data = f.read()
    atomic_write(path, lambda f: f.write(data))
