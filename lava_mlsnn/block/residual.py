"""Residual blocks: Sparse-ResNet (barrier join), SEW-ResNet ADD / IAND, Spiking ResNet.

All four use the same multi-level neuron, N and T (DESIGN §9):

* ``SparseResBlock``: ``y = Barrier(ML(BN(conv2(ML(BN(conv1 x))))) + shortcut(x))``;
  the barrier is a multi-level neuron whose backward pass is straight-through, so
  the join is bounded to N levels yet passes gradients like an ANN ResNet.
* ``SEWResBlock`` (ADD): ``y = main + shortcut`` -- a ``PASS`` join whose payload
  can exceed N and grows with depth (the spike avalanche).
* ``SpikingResBlock``: ``y = ML(BN(conv2(ML(BN(conv1 x)))) + shortcut(x))``.
* SEW IAND: ``y = ML(shortcut(x) - main)``, a join neuron on the difference; with
  binary spikes and a unit threshold it is SEW's ``(NOT main) AND shortcut``, for
  N > 1 its multi-level generalisation ``clip(shortcut - main, 0, N)``.

MS-ResNet (membrane shortcut) adds membrane potentials, not spikes, across blocks:
a neuron cannot send its membrane to another core, so it is refused (:data:`REFUSED`).

The shortcut is the identity when shapes agree, else a 1x1 strided conv with BN
(followed by a multi-level neuron for Sparse/SEW, feeding the join directly for
Spiking ResNet). Each block exports several DESIGN §6 layers, the last a ``join``.
"""
from __future__ import annotations

from typing import Callable, List, Optional, Tuple

import torch
from lava.lib.dl.slayer.synapse import layer as synapse

from .. import fixed
from ..format.spec import Branch, LayerSpec
from ..neuron import multilevel
from ..neuron.lava_dl import neuron_kwargs
from ..neuron.norm import BatchNorm
from .base import (Folded, bias_mantissa, bias_scale_cap, conv_synapse_spec, even_weights,
                   fit_threshold, real_weight, report_clipping)
from .multilevel import Conv, Pool

KINDS = ("sparse", "sew", "spiking", "iand")
BARRIER_STE = ("identity", "clipped")
REFUSED = {"ms": "MS-ResNet is not deployable: its shortcut adds membrane potentials, which "
                 "a Loihi neuron cannot send (use 'sparse', 'sew', 'iand' or 'spiking')"}


def check_kind(kind: str) -> str:
    """``kind`` if it is a residual kind this library builds, else a one-line ValueError."""
    if kind in REFUSED:
        raise ValueError(REFUSED[kind])
    if kind not in KINDS:
        raise ValueError(f"unknown residual kind {kind!r} (expected one of {KINDS})")
    return kind


class ResidualBlock(torch.nn.Module):
    """Two 3x3 multi-level conv layers and a shortcut, joined as ``kind`` says.

    Parameters
    ----------
    kind : {'sparse', 'sew', 'spiking', 'iand'}
    neuron_params : dict
        Multi-level neuron arguments for every neuron of the block (BatchNorm is
        always on for the convolutions).
    in_channels, out_channels : int
    stride : int
        Stride of the first conv (and of the projection shortcut).
    barrier_params : dict, optional
        Overrides for the join neuron of a Sparse-ResNet or IAND block (threshold,
        levels: the barrier's N_b).
    barrier_ste : {'identity', 'clipped'}
        Backward pass of the Sparse-ResNet barrier: identity (every gradient passes) or
        clipped (only where the sum lies inside the barrier's range ``[0, N_b theta]``).
    shortcut_barrier : int, optional
        SEW ADD only: a barrier of this many levels on the shortcut instead of after the
        add (``y = main + B(shortcut)``; a 1x1 sum pool with a unit-threshold neuron on an
        identity shortcut, the projection's neuron otherwise), so the join's payload is at
        most ``N + N_b``.
    weight_quant : callable, optional
        Factory of a weight quantizer (:mod:`lava_mlsnn.quant`) for every conv of a
        Sparse/SEW block (their BatchNorms become mean-only below 8 bits).
    """

    records_layers = True

    def __init__(self, kind: str, neuron_params: dict, in_channels: int, out_channels: int,
                 stride: int = 1, barrier_params: Optional[dict] = None,
                 weight_quant: Optional[Callable[[], torch.nn.Module]] = None,
                 barrier_ste: str = "identity", shortcut_barrier: Optional[int] = None):
        super().__init__()
        check_kind(kind)
        if barrier_ste not in BARRIER_STE:
            raise ValueError(f"barrier_ste must be one of {BARRIER_STE}, got {barrier_ste!r}")
        self.barrier_ste = barrier_ste
        if shortcut_barrier is not None and kind != "sew":
            raise ValueError("shortcut_barrier is an option of 'sew' (ADD) blocks")
        if weight_quant is not None and kind == "spiking":
            raise ValueError("weight quantization is supported for 'sparse' and 'sew' residual "
                             "blocks (a Spiking ResNet join sums two BatchNorm'd convs)")
        self.kind = kind
        bits = getattr(weight_quant(), "bits", 8) if weight_quant else 8
        params = {**neuron_params, "norm": "mean_only" if bits < 8 else True}
        hook = (lambda: {"pre_hook_fx": weight_quant()}) if weight_quant else dict
        fixed_unit = {"threshold": 1.0, "learn_threshold": False}
        # SEW's ADD needs equal payload units on both branches: neurons that feed the
        # join keep a fixed unit threshold (BatchNorm adapts the scale instead).
        feed = {**params, **fixed_unit} if kind == "sew" else params
        self.conv1 = Conv(params, in_channels, out_channels, 3, stride=stride, padding=1,
                          **hook())
        self.projection = stride != 1 or in_channels != out_channels
        if kind == "spiking":
            self.conv2 = synapse.Conv(out_channels, out_channels, 3, padding=1)
            self.norm2 = BatchNorm(out_channels)
            if self.projection:
                self.shortcut = synapse.Conv(in_channels, out_channels, 1, stride=stride)
                self.norm_s = BatchNorm(out_channels)
            join_params = {k: v for k, v in params.items() if k != "norm"}
        else:
            self.conv2 = Conv(feed, out_channels, out_channels, 3, padding=1, **hook())
            feed_s = feed if shortcut_barrier is None else {**feed, "levels": shortcut_barrier}
            if self.projection:
                self.shortcut = Conv(feed_s, in_channels, out_channels, 1, stride=stride,
                                     **hook())
            elif shortcut_barrier is not None:
                self.shortcut = Pool({**feed_s, "norm": False}, 1)
            join_params = {k: v for k, v in params.items() if k != "norm"}
            join_params.update(barrier_params or {})
        self.join_neuron = None if kind == "sew" else \
            multilevel.Neuron(**neuron_kwargs(join_params, out_channels))
        # an exported layer on the shortcut: the projection, or the shortcut barrier
        self.short_layer = self.projection or (kind != "spiking" and shortcut_barrier is not None)
        self.folded: Optional[Folded] = None

    # ------------------------------------------------------------------ real-valued path
    @staticmethod
    def _bn(norm: BatchNorm, x: torch.Tensor) -> torch.Tensor:
        scaled, shift = norm(x)
        return scaled + shift.unsqueeze(-1)

    def _join_real(self, parts: List[torch.Tensor]) -> torch.Tensor:
        if self.kind == "iand":
            return self.join_neuron(parts[1] - parts[0])
        s = parts[0] + parts[1]
        if self.kind == "sew":
            return s
        if self.kind == "sparse":
            # Barrier: multi-level forward, straight-through backward (the threshold
            # still learns); 'clipped' passes gradients only inside the barrier's range.
            g = s
            if self.barrier_ste == "clipped":
                top = self.join_neuron.levels * self.join_neuron.theta.detach().abs()
                g = s * ((s.detach() >= 0) & (s.detach() <= top)).to(s.dtype)
            return self.join_neuron(s.detach()) + (g - g.detach())
        return self.join_neuron(s)

    def forward(self, x: torch.Tensor, record: Optional[List[torch.Tensor]] = None
                ) -> torch.Tensor:
        if self.folded is not None and not self.training:
            return self._quantized_forward(x, record)
        a = self.conv1(x)
        outs = [a]
        if self.kind == "spiking":
            main = self._bn(self.norm2, self.conv2(a))
            short = self._bn(self.norm_s, self.shortcut(x)) if self.projection else x
        else:
            main = self.conv2(a)
            outs.append(main)
            short = self.shortcut(x) if self.short_layer else x
            if self.short_layer:
                outs.append(short)
        y = self._join_real([main, short])
        outs.append(y)
        if record is not None:
            record.extend(outs)
        return y

    # ------------------------------------------------------------------ deployment
    def _shape(self) -> Tuple[int, ...]:
        return tuple(int(s) for s in self.conv1.neuron.shape)

    def _inner(self) -> List[torch.nn.Module]:
        """The blocks inside, in file order (the join is this block's own)."""
        if self.kind == "spiking":
            return [self.conv1]
        return [self.conv1, self.conv2] + ([self.shortcut] if self.short_layer else [])

    def fold(self, in_scale: float) -> Folded:
        """The integers of the inner blocks and the join (the block is not changed)."""
        f1 = self.conv1.fold(in_scale)
        parts = [f1]
        if self.kind == "spiking":
            w2 = real_weight(self.conv2)
            branches = [(w2, self.norm2, f1.out_scale, lambda w: conv_synapse_spec(self.conv2, w))]
            if self.projection:
                branches.append((real_weight(self.shortcut), self.norm_s, in_scale,
                                 lambda w: conv_synapse_spec(self.shortcut, w)))
            else:
                branches.append((None, None, in_scale, None))
        else:
            parts.append(self.conv2.fold(f1.out_scale))
            s_scale = in_scale
            if self.short_layer:
                parts.append(self.shortcut.fold(in_scale))
                s_scale = parts[-1].out_scale
            # IAND joins the difference shortcut - main: the main branch counts negatively
            sign = -1.0 if self.kind == "iand" else 1.0
            branches = [(None, None, sign * parts[1].out_scale, None), (None, None, s_scale, None)]
        folds, params, out_scale = self._fold_join(branches)
        return Folded(None, params, out_scale, parts=tuple(parts), join=tuple(folds))

    def install(self, folded: Optional[Folded]) -> None:
        """Run ``folded`` (inner blocks and join) in the quantized forward; ``None``: undo."""
        self.folded = folded
        for block, f in zip(self._inner(), folded.parts if folded else [None] * 3):
            block.install(f)
        if self.join_neuron is not None:
            self.join_neuron.deployed = None if folded is None else folded.neuron

    def _fold_join(self, branches) -> Tuple[List[fixed.SynapseSpec], fixed.NeuronParams, float]:
        """Integer branches into the join neuron (see the module docstring)."""
        eff = []
        for w, norm, scale, _ in branches:
            if w is None:
                eff.append((torch.tensor(1.0, dtype=torch.float64) * scale, None))
                continue
            w = w.detach().to(torch.float64)
            g, shift = norm.folded()
            w = w * g.detach().to(torch.float64).reshape((-1,) + (1,) * (w.dim() - 1)) * scale
            eff.append((w, shift.detach().to(torch.float64)))
        if self.kind == "sew":
            ref = min(float(w) for w, _ in eff)
            ratios = [torch.round(w / ref) for w, _ in eff]
            if any(float(r.max()) > fixed.LOIHI_WEIGHT_MAX for r in ratios):
                report_clipping([f"SEW branch scales {[float(r) for r in ratios]} exceed the "
                                 f"weight range ({fixed.LOIHI_WEIGHT_MAX})"])
            ints = [torch.clamp(r, 1, fixed.LOIHI_WEIGHT_MAX) for r in ratios]
            params, c, out_scale = fixed.NeuronParams("PASS"), 1.0 / ref, ref
        else:
            shifts = [s for _, s in eff if s is not None]
            shift = sum(shifts) if shifts else None
            c = min(fixed.LOIHI_WEIGHT_MAX / max(float(w.abs().max()) for w, _ in eff),
                    bias_scale_cap(shift))
            theta = self.join_neuron.threshold
            problems: List[str] = []
            v_th_mant, c = fit_threshold(c, theta, self.join_neuron.v_quant is not None,
                                         problems)
            ints = [even_weights(w, c, problems) for w, _ in eff]  # even: Loihi grid
            report_clipping(problems)
            bias, bias_exp = bias_mantissa(None if shift is None else shift * c)
            bias = None if bias is None else bias.reshape(-1, 1, 1)
            params = self.join_neuron.integer_params(v_th_mant, bias, bias_exp)
            out_scale = theta
        folds = []
        for (w, _, _, make), w_int in zip(branches, ints):
            w_np = w_int.to(torch.int64).numpy()
            spec = fixed.SynapseSpec("identity", w_np.reshape(())) if make is None else make(w_np)
            folds.append(spec)
        return folds, params, out_scale

    def _quantized_forward(self, x: torch.Tensor, record) -> torch.Tensor:
        a = self.conv1(x)
        outs = [a]
        if self.kind == "spiking":
            sources = [a, x]
        else:
            main = self.conv2(a)
            outs.append(main)
            short = self.shortcut(x) if self.short_layer else x.to(torch.int64)
            if self.short_layer:
                outs.append(short)
            sources = [main, short]
        folds, params = self.folded.join, self.folded.neuron
        ys, state = [], None
        for t in range(x.shape[-1]):
            cur = sum(fixed.synapse_current(f, src[..., t]) for f, src in zip(folds, sources))
            if state is None:
                state = fixed.initial_state(params, cur.shape, cur)
            state, y = fixed.neuron_step(state, cur, params)
            ys.append(y)
        y = torch.stack(ys, dim=-1)
        outs.append(y)
        if record is not None:
            record.extend(outs)
        return y

    def export_layers(self, source: int, start: int,
                      folded: Optional[Folded] = None) -> List[LayerSpec]:
        """Layers in file order, the join last; ``start`` is this block's first index.

        ``folded`` is this block's :meth:`fold` (default: the installed form)."""
        f = self.folded if folded is None else folded
        layers = [self.conv1.layer_spec(source, f.parts[0])]
        if self.kind == "spiking":
            join_sources = [start, source]
        else:
            layers.append(self.conv2.layer_spec(start, f.parts[1]))
            short = source
            if self.short_layer:
                layers.append(self.shortcut.layer_spec(source, f.parts[2]))
                short = start + 2
            join_sources = [start + 1, short]
        branches = [Branch(s, syn) for s, syn in zip(join_sources, f.join)]
        layers.append(LayerSpec("join", self._shape(), join_sources[0], branches, f.neuron))
        return layers
