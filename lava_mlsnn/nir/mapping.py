"""How NIR nodes become lava-mlsnn blocks (DESIGN §10): the synapse of a node, the
discretised neuron, and the block the pair makes.

NIR neurons are continuous-time; they are discretised with forward Euler at step
``dt``. ``IF`` and ``I`` nodes (no time constant) integrate ``r * I`` per step, the
convention of every peer exporter (snnTorch, Norse, Sinabs write ``r = 1``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
import torch


SYNAPSES = ("Affine", "Linear", "Conv2d", "SumPool2d", "AvgPool2d")
NEURONS = ("IF", "LIF", "CubaLIF", "LI", "I", "Threshold")
OTHERS = ("Input", "Output", "Flatten", "Scale", "Delay")
RESETS = ("zero", "subtract", "snntorch", "snntorch_delay", "snntorch_zero_delay")
#: snnTorch's own resets (DESIGN §5): ``subtract`` with ``reset_delay`` False / True, and
#: its ``Synaptic`` with ``zero`` and ``reset_delay=True``
SNNTORCH_RESETS = ("snntorch", "snntorch_delay", "snntorch_zero_delay")
CURRENTS = ("nir", "jump")  # how a CubaLIF's input enters its current (from_nir)
class NIRImportError(ValueError):
    """The graph has nodes or parameters lava-mlsnn cannot map (one line naming them)."""


@dataclass
class _Synapse:
    kind: str  # dense | conv | pool
    weight: np.ndarray  # float: (out, in) | (out, in/g, kH, kW) | scalar pool weight
    bias: np.ndarray  # (out,) float, zeros if none
    name: str
    stride: Tuple[int, int] = (1, 1)
    padding: Tuple[int, int] = (0, 0)
    dilation: Tuple[int, int] = (1, 1)
    groups: int = 1
    kernel: Tuple[int, int] = (1, 1)
    current_bias: Optional[np.ndarray] = None  # (out,) the bias that enters the current

    def scale_rows(self, s: np.ndarray) -> None:
        """Multiply each output channel (weight row and both biases) by ``s[o]``."""
        if self.kind == "pool":
            self.weight = self.weight * _uniform(s, f"Scale after pool {self.name}")
            return
        self.weight = self.weight * s.reshape((-1,) + (1,) * (self.weight.ndim - 1))
        self.bias = self.bias * s
        if self.current_bias is not None:
            self.current_bias = self.current_bias * s

def _uniform(values, what: str) -> float:
    a = np.asarray(values, dtype=np.float64).reshape(-1)
    if a.size and not np.allclose(a, a[0], rtol=1e-6, atol=0):
        raise NIRImportError(f"{what}: per-neuron values are not supported (a layer shares "
                             "one value)")
    return float(a[0]) if a.size else 1.0


def _per_channel(values, channels: int, what: str) -> np.ndarray:
    """A per-neuron array as one value per output channel (constant over H, W)."""
    a = np.asarray(values, dtype=np.float64)
    if a.size == 1:
        return np.full(channels, float(a.reshape(-1)[0]))
    a = a.reshape(channels, -1)
    if not np.allclose(a, a[:, :1], rtol=1e-6, atol=0):
        raise NIRImportError(f"{what}: values that vary within a channel are not supported")
    return a[:, 0].copy()


def _pair(v) -> Tuple[int, int]:
    a = np.asarray(v).reshape(-1)
    if a.dtype.kind not in "iuf":
        raise NIRImportError(f"padding/stride {v!r} is not a number pair")
    return (int(a[0]), int(a[0])) if a.size == 1 else (int(a[0]), int(a[1]))


@dataclass
class _Neuron:
    """A NIR neuron discretised at ``dt``: decays (fractions), gain on its input,
    threshold per output channel (``None``: no spike), extra bias on v (real units)."""

    spiking: bool
    current_decay: float
    voltage_decay: float
    gain: float
    threshold: Optional[np.ndarray]
    v_leak_bias: np.ndarray  # per neuron, real units per step
    v_reset: float
    synaptic: bool = False  # a CubaLIF: its synapse's bias enters the current


def _leak(node) -> np.ndarray:
    return np.asarray(node.v_leak, dtype=np.float64)


def _neuron(name: str, node, dt: float, current: str = "nir") -> _Neuron:
    k = type(node).__name__
    if k == "IF":  # per-step convention of every peer exporter: v += r * I
        return _Neuron(True, 1.0, 0.0, _uniform(node.r, f"{name}.r"),
                       np.asarray(node.v_threshold), 0.0, _uniform(node.v_reset, name))
    if k == "LIF":
        d = dt / _uniform(node.tau, f"{name}.tau")
        return _Neuron(True, 1.0, d, _uniform(node.r, f"{name}.r") * d,
                       np.asarray(node.v_threshold), d * _leak(node), _uniform(node.v_reset, name))
    if k == "CubaLIF":
        ds = dt / _uniform(node.tau_syn, f"{name}.tau_syn")
        dm = dt / _uniform(node.tau_mem, f"{name}.tau_mem")
        # NIR: tau_syn dI/dt = -I + w_in x adds ds * w_in * x a step; Norse's LIFCell
        # jumps by w_in * x (current='jump')
        g = _uniform(node.w_in, f"{name}.w_in") * (ds if current == "nir" else 1.0) * \
            _uniform(node.r, f"{name}.r") * dm
        return _Neuron(True, ds, dm, g, np.asarray(node.v_threshold),
                       dm * _leak(node), _uniform(node.v_reset, name), synaptic=True)
    if k == "LI":
        d = dt / _uniform(node.tau, f"{name}.tau")
        return _Neuron(False, 1.0, d, _uniform(node.r, f"{name}.r") * d, None,
                       d * _leak(node), 0.0)
    if k == "I":
        return _Neuron(False, 1.0, 0.0, _uniform(node.r, f"{name}.r"), None, 0.0, 0.0)
    # Threshold: a memoryless Heaviside, v = current, no state carried over
    return _Neuron(True, 1.0, 1.0, 1.0, np.asarray(node.threshold), 0.0, 0.0)


def _fold_threshold(syn: _Synapse, neu: _Neuron, name: str) -> float:
    """One threshold per layer: per-channel thresholds fold into the synapse rows (the
    neuron is homogeneous in weight, bias and threshold when ``v_reset = 0``)."""
    channels = int(np.asarray(syn.weight).shape[0]) if syn.kind != "pool" else 1
    th = _per_channel(neu.threshold, channels, f"{name}.v_threshold") if syn.kind != "pool" \
        else np.array([_uniform(neu.threshold, f"{name}.v_threshold")])
    if np.any(th <= 0):
        raise NIRImportError(f"{name}: thresholds must be > 0")
    ref = float(th.max())
    if syn.kind != "pool" and not np.allclose(th, ref):
        syn.scale_rows(ref / th)
    return ref


def _move_current_bias(syn: _Synapse, neu: _Neuron) -> None:
    """A synapse bias in front of a ``CubaLIF`` enters its synaptic current in NIR (and
    snnTorch's ``Synaptic``), ``tau_syn dI/dt = -I + w_in (W x + b)``, and builds up by
    ``1 / (1 - alpha)``: it becomes the layer's current bias (DESIGN §5), scaled with the
    weights from here on, and the bias on v keeps only the leak voltage."""
    if neu.synaptic and syn.kind != "pool" and np.any(syn.bias):
        syn.current_bias, syn.bias = syn.bias, np.zeros_like(syn.bias)


def _block(syn: _Synapse, neu: _Neuron, name: str, reset: str, levels: int):
    from ..block import Conv, Dense, Pool, Readout, cuba
    from ..neuron.norm import Bias
    from . import current
    _move_current_bias(syn, neu)
    syn.scale_rows(np.full(syn.weight.shape[0] if syn.kind != "pool" else 1, neu.gain))
    if syn.kind != "pool":
        syn.bias = syn.bias + _per_channel(neu.v_leak_bias, syn.weight.shape[0],
                                           f"{name}.v_leak")
    elif np.any(neu.v_leak_bias):
        raise NIRImportError(f"{name}: a leak voltage after a pool is not supported")
    if not neu.spiking:
        if syn.kind != "dense":
            raise NIRImportError(f"{name}: a non-spiking neuron after {syn.name} "
                                 f"({syn.kind}) is not supported (only after Affine/Linear)")
        out = syn.weight.shape[0]
        params = {"voltage_decay": neu.voltage_decay}
        if np.any(syn.bias):
            params["norm"] = lambda: Bias(out, syn.bias)
        blk = Readout(params, syn.weight.shape[1], out)
        _set_weight(blk, syn)
        return blk
    theta = _fold_threshold(syn, neu, name)
    if reset == "snntorch_zero_delay" and not neu.synaptic:
        reset = "zero"  # snnTorch's Leaky keeps its input then: the spikes of a hard reset
    if neu.v_reset:  # soft reset keeps the residue, a hard one sets 0: neither is v_reset
        raise NIRImportError(f"{name}: v_reset = {neu.v_reset:g}; only 0 is supported")
    if reset == "zero":
        if syn.kind == "pool":
            raise NIRImportError(f"{name}: a pool into a hard-reset neuron is not supported "
                                 "(import with reset='subtract')")
        if np.any(syn.bias):
            raise NIRImportError(f"{name}: a bias (or leak voltage) into a hard-reset neuron "
                                 "is not supported (import with reset='subtract')")
        # CUBA weights sit on a fixed grid (x 64): use all of it (the dynamics are
        # homogeneous in weights and threshold, so the spikes do not change).
        top = float(np.abs(syn.weight).max()) or 1.0
        k = (254.0 / 64.0) / top
        syn.weight = syn.weight * k
        if syn.current_bias is not None:
            syn.current_bias = syn.current_bias * k
        params = {"threshold": theta * k, "current_decay": neu.current_decay,
                  "voltage_decay": neu.voltage_decay}
        biased = syn.current_bias is not None
        if syn.kind == "dense":
            blk = (current.CurrentBiasCubaDense if biased else cuba.Dense)(
                params, syn.weight.shape[1], syn.weight.shape[0])
        else:
            blk = (current.CurrentBiasCubaConv if biased else cuba.Conv)(params, syn.weight.shape[1] * syn.groups, syn.weight.shape[0],
                            tuple(syn.weight.shape[2:]), stride=syn.stride,
                            padding=syn.padding, dilation=syn.dilation, groups=syn.groups)
        _set_weight(blk, syn)
        return blk
    # A NIR / snnTorch / Sinabs spike counts 1 whatever the threshold; a multi-level
    # block's payload counts theta. Soft reset with v_init 0 is homogeneous in weights,
    # bias and threshold, so dividing them by theta gives threshold 1 and the same spikes.
    if syn.kind == "pool":
        syn.weight = syn.weight / theta
    else:
        syn.scale_rows(np.full(syn.weight.shape[0], 1.0 / theta))
    theta = 1.0
    params = {"threshold": theta, "levels": levels, "current_decay": neu.current_decay,
              "voltage_decay": neu.voltage_decay, "v_init": 0.0}
    if reset in SNNTORCH_RESETS:  # one level, snnTorch's reset read from the stored v
        params["reset"] = reset
    if syn.kind == "pool":
        blk = Pool(params, syn.kernel, syn.stride, syn.padding)
        blk.synapse.weight.fill_(float(syn.weight))
        return blk
    out = syn.weight.shape[0]
    if np.any(syn.bias):
        params["norm"] = lambda: Bias(out, syn.bias)
    biased = syn.current_bias is not None
    if syn.kind == "dense":
        blk = (current.CurrentBiasDense if biased else Dense)(params, syn.weight.shape[1], out)
    else:
        blk = (current.CurrentBiasConv if biased else Conv)(
            params, syn.weight.shape[1] * syn.groups, out, tuple(syn.weight.shape[2:]),
            stride=syn.stride, padding=syn.padding, dilation=syn.dilation, groups=syn.groups)
    _set_weight(blk, syn)
    return blk


def _set_weight(blk, syn: _Synapse) -> None:
    w = blk.synapse.weight
    with torch.no_grad():
        w.copy_(torch.as_tensor(syn.weight, dtype=w.dtype).reshape(w.shape))
    if syn.current_bias is not None:
        blk.set_current_bias(syn.current_bias)


def _synapse(name: str, node, shape: Tuple[int, ...], in_scale: Optional[np.ndarray]
             ) -> Tuple[_Synapse, Tuple[int, ...]]:
    """The synapse of ``node`` reading ``shape``; ``in_scale`` per input channel."""
    k = type(node).__name__
    if k in ("Affine", "Linear"):
        w = np.asarray(node.weight, dtype=np.float64)
        if w.ndim != 2 or int(np.prod(shape)) != w.shape[1]:
            raise NIRImportError(f"{name}: weight {w.shape} does not read a {shape} input")
        if in_scale is not None:
            w = w * np.repeat(in_scale, w.shape[1] // in_scale.size)[None, :]
        b = np.asarray(node.bias, dtype=np.float64).reshape(-1) if k == "Affine" \
            else np.zeros(w.shape[0])
        return _Synapse("dense", w, b, name), (w.shape[0],)
    if k == "Conv2d":
        w = np.asarray(node.weight, dtype=np.float64)
        if w.ndim != 4 or len(shape) != 3:
            raise NIRImportError(f"{name}: Conv2d needs a (C, H, W) input, got {shape}")
        if isinstance(node.padding, str):
            raise NIRImportError(f"{name}: padding {node.padding!r} is not supported")
        given = getattr(node, "input_shape", None)
        if given is not None and tuple(int(v) for v in np.asarray(given).reshape(-1)) \
                != tuple(shape[1:]):
            raise NIRImportError(f"{name}: input_shape {tuple(np.asarray(given).reshape(-1))} "
                                 f"differs from the {tuple(shape[1:])} it reads")
        groups = int(node.groups)
        if groups < 1 or w.shape[1] * groups != shape[0] or w.shape[0] % groups:
            raise NIRImportError(f"{name}: weight {w.shape} with groups = {groups} does not "
                                 f"read a {shape} input")
        if in_scale is not None:
            w = w * in_scale.reshape(groups, -1)[np.arange(w.shape[0]) //
                                                 (w.shape[0] // groups)][:, :, None, None]
        b = np.asarray(node.bias, dtype=np.float64).reshape(-1) * np.ones(w.shape[0])
        syn = _Synapse("conv", w, b, name, _pair(node.stride), _pair(node.padding),
                       _pair(node.dilation), groups)
        out = tuple(int(v) for v in torch.nn.functional.conv2d(
            torch.zeros((1,) + tuple(shape)), torch.zeros(w.shape, dtype=torch.float32),
            stride=syn.stride, padding=syn.padding, dilation=syn.dilation,
            groups=groups).shape[1:])
        return syn, out
    # SumPool2d / AvgPool2d
    kernel, stride, padding = _pair(node.kernel_size), _pair(node.stride), _pair(node.padding)
    weight = 1.0 / (kernel[0] * kernel[1]) if k == "AvgPool2d" else 1.0
    if in_scale is not None:
        weight *= _uniform(in_scale, f"Scale before {name}")
    syn = _Synapse("pool", np.array(weight), np.zeros(1), name, stride, padding,
                   kernel=kernel)
    out = tuple(int(v) for v in torch.nn.functional.avg_pool2d(
        torch.zeros((1,) + tuple(shape)), kernel, stride, padding).shape[1:])
    return syn, out
