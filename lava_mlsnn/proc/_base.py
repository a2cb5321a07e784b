"""Abstract Process and ProcessModels shared by the lava-mlsnn neurons.

Every neuron Process has an ``a_in`` InPort (several synapses may connect to it:
Lava sums the fan-in), an ``s_out`` OutPort carrying an integer payload, the
streaming reset (``reset_interval``, ``reset_offset``) and an optional
``record`` :class:`~lava_mlsnn.proc._common.StreamFile` into which the model
writes every payload it sends (a zero-cost probe, see ``_common``).

All but ``Pass`` also add ``bias << bias_exp`` every step
(:class:`AbstractBiasedNeuron`). The abstract ProcessModels here declare the
ports and the Vars the models share (a voltage ``v`` and the bias; a current
``u`` too for the two-state neurons), as Lava's ``AbstractPyLifModelFixed`` does;
the concrete ProcessModels derive from them, never from each other (Lava's ``@implements`` refuses a class that already implements
another Process).
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess, LogConfig
from lava.magma.core.process.variable import Var

from .. import fixed
from ._common import StreamFile, as_shape, check_stream, full_bias, reset_due


class AbstractGradedNeuron(AbstractProcess):
    """Ports and reset/record parameters common to all lava-mlsnn neurons.

    Parameters
    ----------
    shape : tuple of int
        Layer shape in torch order, ``(C, H, W)`` or ``(F,)``.
    reset_interval : int
        Steps per sample ``T``; ``0`` never resets.
    reset_offset : int
        Reset (state back to its start-of-sample value, *before* integrating)
        when ``time_step % reset_interval == reset_offset % reset_interval``.
    record : StreamFile, optional
        File ring buffer ``(length, *shape)`` int32 receiving every payload sent.
    """

    def __init__(self, *, shape, reset_interval: int = 0, reset_offset: int = 0,
                 record: Optional[StreamFile] = None, name: Optional[str] = None,
                 log_config: Optional[LogConfig] = None, **kwargs) -> None:
        self._runtime = None  # AbstractProcess.__del__ needs it if validation below raises
        shape = as_shape(shape)
        if int(reset_interval) < 0:
            raise ValueError("reset_interval must be >= 0")
        super().__init__(shape=shape, reset_interval=int(reset_interval),
                         reset_offset=int(reset_offset), record=check_stream(record),
                         name=name, log_config=log_config, **kwargs)
        self.shape: Tuple[int, ...] = shape
        self.a_in = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)


class AbstractBiasedNeuron(AbstractGradedNeuron):
    """A neuron that adds ``bias << bias_exp`` (state units) every step.

    Parameters
    ----------
    shape : tuple of int
        Layer shape, torch order.
    bias : int or int array
        Per-step bias mantissa: scalar, per channel ``(C,)`` or full shape.
    bias_exp : int
        Bias exponent (``biasExp``, 0..23; ``6``: weight units, netx's mapping).
    **kwargs
        ``reset_interval``, ``reset_offset``, ``record``, ``name``, ``log_config``
        and model parameters, see :class:`AbstractGradedNeuron`.
    """

    def __init__(self, *, shape, bias=0, bias_exp: int = 6, **kwargs) -> None:
        super().__init__(shape=shape, **kwargs)
        self.bias = Var(shape=self.shape, init=full_bias(bias, self.shape))
        self.bias_exp = Var(shape=(1,), init=check_int("bias_exp", bias_exp, 0, 23))


def current_bias_var(shape: Tuple[int, ...], current_bias) -> Var:
    """The ``current_bias`` Var of a neuron with a current (``MLSN``, ``CUBA``): added to
    ``a`` every step before the current's update (DESIGN §5), in ``[-2**23, 2**23 - 1]``."""
    b = full_bias(current_bias, shape)
    if b.size and (b.min() < fixed.SAT_MIN or b.max() > fixed.SAT_MAX):
        raise ValueError(f"current_bias must lie in [{fixed.SAT_MIN}, {fixed.SAT_MAX}]")
    return Var(shape=shape, init=b)


def model_current_bias(values: np.ndarray) -> Optional[np.ndarray]:
    """A model's ``current_bias`` Var as :class:`~lava_mlsnn.fixed.NeuronParams` holds it
    (``None`` when it is all zero: the same integers, the plain step)."""
    return np.asarray(values, dtype=np.int64) if np.any(values) else None


def check_int(name: str, value, lo: Optional[int] = None, hi: Optional[int] = None) -> int:
    """Check an integer parameter (Process-side validation: a model that raises
    inside Lava's runtime can hang the run, so bad values are refused here)."""
    v = np.asarray(value)
    if v.size != 1 or not np.issubdtype(v.dtype, np.number) or float(v) != int(v):
        raise ValueError(f"{name} must be one integer, got {value!r}")
    v = int(v.reshape(()))
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ValueError(f"{name} must lie in [{lo}, {hi}], got {v}")
    return v


class _NeuronModelMixin:
    """Receive, reset, step, send and record: the time step of every neuron ProcessModel.

    Subclasses set ``_current_dtype`` (what :meth:`step` gets) and ``_payload_dtype``
    (what is sent; ``None``: as :meth:`step` returns it) and implement :meth:`step`.
    """

    _current_dtype: type = np.float64
    _payload_dtype: Optional[type] = None

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        self._init_stream()

    def step(self, a: np.ndarray, reset: bool) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def run_spk(self) -> None:
        # fixed_pt: int64 before any arithmetic, the fan-in sum arrives as int32
        a = self.a_in.recv().astype(self._current_dtype)
        z = self.step(a, self._reset_now())
        if self._payload_dtype is not None:
            z = z.astype(self._payload_dtype)
        self.s_out.send(z)
        self._record_payload(z)

    def _init_stream(self) -> None:
        self._reset_interval: int = self.proc_params["reset_interval"]
        self._reset_offset: int = self.proc_params["reset_offset"]
        self._record: Optional[StreamFile] = self.proc_params["record"]
        self._rec_buf = None

    def _reset_now(self) -> bool:
        return reset_due(self.time_step, self._reset_interval, self._reset_offset)

    def _record_payload(self, payload: np.ndarray) -> None:
        if self._record is None:
            return
        if self._rec_buf is None:  # mapped lazily, inside the model's own OS process
            self._rec_buf = self._record.open(self.proc_params["shape"], writable=True)
        self._rec_buf[self._record.slot(self.time_step)] = payload


class AbstractPyNeuronModelFixed(_NeuronModelMixin, PyLoihiProcessModel):
    """Fixed-point neuron: int32 ports, int64 arithmetic in :mod:`lava_mlsnn.fixed`.

    Subclasses implement :meth:`step` (``a`` int64 current -> int64 payload).
    """

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    _current_dtype = np.int64
    _payload_dtype = np.int32


class AbstractPyNeuronModelFloat(_NeuronModelMixin, PyLoihiProcessModel):
    """Floating-point neuron: the fixed-point equations in float64, in the same
    state units (``a * 64``), without rounding, saturation or wrapping."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)


class AbstractPyBiasedModelFixed(AbstractPyNeuronModelFixed):
    """Fixed-point Vars of an :class:`AbstractBiasedNeuron`: voltage and bias."""

    v: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    bias: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    bias_exp: int = LavaPyType(int, np.int32, precision=5)


class AbstractPyTwoStateModelFixed(AbstractPyBiasedModelFixed):
    """Fixed-point neuron with a current ``u`` and a voltage ``v``."""

    u: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)

    def stateful_step(self, a: np.ndarray, reset: bool, params) -> np.ndarray:
        """One :func:`lava_mlsnn.fixed.neuron_step` on the Vars ``u`` and ``v``.

        At a sample start the state is the fixed-point initial one (``u = 0``,
        ``v = vInit``) instead of the stored one.
        """
        if reset:
            state = fixed.initial_state(params, a.shape, a)
        else:
            state = (self.u.astype(np.int64), self.v.astype(np.int64))
        (u, v), z = fixed.neuron_step(state, a, params)
        self.u[:] = u
        self.v[:] = v
        return z


class AbstractPyBiasedModelFloat(AbstractPyNeuronModelFloat):
    """Float Vars of an :class:`AbstractBiasedNeuron`: voltage and bias."""

    v: np.ndarray = LavaPyType(np.ndarray, float)
    bias: np.ndarray = LavaPyType(np.ndarray, float)
    bias_exp: int = LavaPyType(int, int)


class AbstractPyTwoStateModelFloat(AbstractPyBiasedModelFloat):
    """Float neuron with a current ``u`` and a voltage ``v``."""

    u: np.ndarray = LavaPyType(np.ndarray, float)

    def start_sample(self, v_init: float = 0.0) -> None:
        """The start-of-sample state, ``u = 0`` and ``v = v_init`` (``fixed.initial_state``)."""
        self.u[:] = 0.0
        self.v[:] = v_init


STATE_SCALE = 64.0  # float counterpart of ``<< fixed.STATE_SHIFT``


def float_decay(x: np.ndarray, d: int) -> np.ndarray:
    """Float counterpart of ``fixed.decay``: ``x * (1 - d / 4096)``."""
    return x * (1.0 - float(d) / 4096.0)
