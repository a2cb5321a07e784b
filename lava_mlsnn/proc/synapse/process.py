"""``Synapse``: a graded synapse of DESIGN §5 with Lava ``Dense``-style latency."""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess, LogConfig
from lava.magma.core.process.variable import Var

from lava_mlsnn.fixed import SynapseSpec
from lava_mlsnn.format.shapes import synapse_output_shape

from lava_mlsnn.proc._base import check_int
from lava_mlsnn.proc._common import as_shape

KINDS = ("dense", "conv", "pool", "identity")


def _pair(name: str, v) -> Tuple[int, int]:
    arr = np.asarray(v, dtype=np.int64).ravel()
    if arr.size == 1:
        arr = np.repeat(arr, 2)
    if arr.size != 2:
        raise ValueError(f"{name} must be one or two ints, got {v!r}")
    return int(arr[0]), int(arr[1])


class Synapse(AbstractProcess):
    """Graded synapse: ``a = sat24(op(z) << weight_exp)`` (``>> -weight_exp`` if < 0).

    ``op`` is ``W @ z`` (dense, ``z`` flattened in C-major order), a PyTorch
    ``conv2d`` cross-correlation (conv), ``w * sum_pool`` (pool) or ``w * z``
    (identity), evaluated by :func:`lava_mlsnn.fixed.synapse_current`. Like
    Lava's ``Dense``, ``a_out`` at step ``t`` carries the current computed from
    ``s_in`` at step ``t - 1 - extra_delay``; the first ``1 + extra_delay`` steps
    send zeros.

    Parameters
    ----------
    in_shape : tuple of int
        Shape of ``s_in`` (the sending Process's ``s_out`` shape, torch order).
    out_shape : tuple of int
        Shape of ``a_out`` (the receiving neuron's shape).
    kind : str
        ``'dense'``, ``'conv'``, ``'pool'`` or ``'identity'``.
    weight : int array
        ``(out, in)`` dense, ``(out, in/groups, kH, kW)`` conv, scalar pool/identity.
    weight_exp : int
        Shared weight exponent.
    stride, padding, dilation : int or (int, int)
        Conv / pool geometry (PyTorch semantics, ``(y, x)``).
    groups : int
        Conv groups.
    kernel : int or (int, int)
        Pool kernel.
    view_shape : tuple of int, optional
        Shape the synapse sees its input as (default ``in_shape``); e.g. the
        ``(F,)`` of a flatten layer for an identity synapse reading a ``(C,H,W)``
        neuron. Must have as many elements as ``in_shape``.
    extra_delay : int
        Steps of latency beyond the one every synapse adds (residual joins whose
        branches differ in depth).
    delay : int array, optional
        Axonal delays in steps (:attr:`lava_mlsnn.fixed.SynapseSpec.delay`): the part
        of a current with delay ``k`` arrives ``k`` steps later still, as in Lava's
        ``DelayDense``.
    reset_interval, reset_offset : int
        With delays: steps per sample ``T`` and the time step (mod ``T``) at which the
        source sends a sample's first step. A part that would arrive after its
        sample's last step is dropped (each sample starts from empty delay lines, as
        in the emulator); ``reset_interval = 0`` drops nothing.
    recurrent : bool
        A layer's synapse onto itself: what it sends belongs to the sample's next
        step, so the part sent from a sample's last step is dropped.
    overflow : str
        How the current is bounded (:attr:`lava_mlsnn.fixed.SynapseSpec.overflow`):
        ``'sat24'`` (default), or a stock file's ``'wrap24'`` / ``'none'``.
    """

    def __init__(self, *, in_shape, out_shape, kind: str, weight, weight_exp: int = 0,
                 stride=1, padding=0, dilation=1, groups: int = 1, kernel=1,
                 view_shape: Optional[Sequence[int]] = None, extra_delay: int = 0,
                 delay=None, reset_interval: int = 0, reset_offset: int = 0,
                 recurrent: bool = False, overflow: str = "sat24",
                 name: Optional[str] = None, log_config: Optional[LogConfig] = None) -> None:
        self._runtime = None  # AbstractProcess.__del__ needs it if validation below raises
        in_shape, out_shape = as_shape(in_shape), as_shape(out_shape)
        view = in_shape if view_shape is None else as_shape(view_shape)
        if int(np.prod(view)) != int(np.prod(in_shape)):
            raise ValueError(f"view_shape {view} does not hold the {int(np.prod(in_shape))} "
                             f"values of in_shape {in_shape}")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        w = np.asarray(weight)
        if not np.issubdtype(w.dtype, np.number) or not np.all(w == np.trunc(w)):
            raise ValueError("weights must be integers")
        w = w.astype(np.int64)
        if kind in ("pool", "identity"):
            if w.size != 1:
                raise ValueError(f"{kind} weight must be a scalar")
            w = w.reshape(())
        delays = _check_delays(delay, w, out_shape, kind)
        if overflow not in ("sat24", "wrap24", "none"):
            raise ValueError(f"overflow must be 'sat24', 'wrap24' or 'none', got {overflow!r}")
        spec = SynapseSpec(kind, w, check_int("weight_exp", weight_exp),
                           stride=_pair("stride", stride), padding=_pair("padding", padding),
                           dilation=_pair("dilation", dilation),
                           groups=check_int("groups", groups, 1), kernel=_pair("kernel", kernel),
                           delay=delays, overflow=overflow)
        got = synapse_output_shape(spec, view)  # raises ValueError on a mismatch
        if got != out_shape:
            raise ValueError(f"{kind} synapse maps {view} to {got}, not out_shape {out_shape}")
        delay = check_int("extra_delay", extra_delay, 0)
        super().__init__(in_shape=in_shape, out_shape=out_shape, view_shape=view, kind=kind,
                         weight_exp=spec.weight_exp, stride=spec.stride, padding=spec.padding,
                         dilation=spec.dilation, groups=spec.groups, kernel=spec.kernel,
                         extra_delay=delay, delay=delays,
                         reset_interval=check_int("reset_interval", reset_interval, 0),
                         reset_offset=check_int("reset_offset", reset_offset),
                         recurrent=bool(recurrent), overflow=overflow, name=name,
                         log_config=log_config)
        self.s_in = InPort(shape=in_shape)
        self.a_out = OutPort(shape=out_shape)
        self.weight = Var(shape=w.shape if w.ndim else (1,), init=w if w.ndim else w.reshape(1))
        # Delay line: slot ``t % slots`` is sent at step t and emptied; a part with
        # axonal delay k is added to the slot sent 1 + extra_delay + k steps later.
        self.a_buff = Var(shape=(1 + delay + spec.max_delay,) + out_shape, init=0)

    @classmethod
    def from_spec(cls, spec: SynapseSpec, in_shape, out_shape, view_shape=None,
                  extra_delay: int = 0, reset_interval: int = 0, reset_offset: int = 0,
                  recurrent: bool = False, name: Optional[str] = None) -> "Synapse":
        """Build from a :class:`~lava_mlsnn.fixed.SynapseSpec` (one network branch)."""
        return cls(in_shape=in_shape, out_shape=out_shape, kind=spec.kind, weight=spec.weight,
                   weight_exp=spec.weight_exp, stride=spec.stride, padding=spec.padding,
                   dilation=spec.dilation, groups=spec.groups, kernel=spec.kernel,
                   view_shape=view_shape, extra_delay=extra_delay, delay=spec.delay,
                   reset_interval=reset_interval, reset_offset=reset_offset,
                   recurrent=recurrent, overflow=spec.overflow, name=name)


def _check_delays(delay, w: np.ndarray, out_shape: Tuple[int, ...], kind: str
                  ) -> Optional[np.ndarray]:
    """Delays as int64: one per output neuron, or ``(out, in)`` for a dense synapse."""
    if delay is None:
        return None
    d = np.asarray(delay)
    if not np.issubdtype(d.dtype, np.number) or not np.all(d == np.trunc(d)) \
            or (d.size and d.min() < 0):
        raise ValueError("delays must be integers >= 0")
    n_out = int(np.prod(out_shape))
    if d.shape == (n_out,) or (kind == "dense" and d.shape == tuple(w.shape)):
        return d.astype(np.int64)
    raise ValueError(f"delays of shape {d.shape} fit neither the {n_out} output neurons nor "
                     "a dense weight (out, in)")
