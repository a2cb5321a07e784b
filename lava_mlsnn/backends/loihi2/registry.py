"""Which Loihi 2 ProcessModel runs each lava-mlsnn Process: the plug-in point.

lava-mlsnn's Processes (``lava_mlsnn.proc``) carry bit-exact CPU models only.
On the chip every Process that the network places on NeuroCores needs an
``AbstractNcProcessModel`` (microcode neuron or synapse) from lava-loihi, which
only INRC members have. An INRC member plugs those models in here; nothing
else in lava-mlsnn changes.

What to register (keys are the Process classes or their names):

=====================  ==========================================================
``MultiLevelNeuron``   ``MLSN`` layers: graded output ``0..levels``, soft reset,
                       optional membrane quantization (Vars ``u, v, bias,
                       vth_mant, levels, i_decay, v_decay, v_init, v_bits, v_exp``)
``Readout``            ``READOUT`` layers: sends ``v`` every step (Vars ``v, bias,
                       v_decay``); for the output layer a stock non-spiking LIF whose
                       ``v`` is read by the output adapter fits (``inspect``: stock-probe)
``Pass``               ``PASS`` joins (SEW-ResNet ADD): sends ``sat24(a)``
``CubaLif``            ``CUBA`` layers (stock: a subclass of lava-loihi's LIF model
                       with netx's mapping ``du = iDecay - 1`` fits)
``Synapse``            every branch: dense / conv / pool / identity with
                       ``weight_exp`` and ``extra_delay`` (lava-loihi's Dense / Conv
                       models with ``num_message_bits=24`` and a delay fit)
=====================  ==========================================================

The arithmetic each model must reproduce is :mod:`lava_mlsnn.fixed` (DESIGN §5);
the models must honour the ``reset_interval`` / ``reset_offset`` proc params
(state back to its start-of-sample value) and can ignore ``record`` (always
``None`` on the Loihi 2 path: outputs leave the chip through adapters).

Three ways to register, all equivalent::

    from lava_mlsnn import loihi2
    loihi2.register_model("MultiLevelNeuron", NcModelMultiLevel)   # in your code

    # or a module named in $LAVA_MLSNN_LOIHI2_MODELS (comma-separated) defining
    def register_models(registry): registry.register("Readout", NcModelReadout)

    # or the same function exposed by an installed package under the entry-point
    # group "lava_mlsnn.loihi2" (pyproject: [project.entry-points."lava_mlsnn.loihi2"])

:func:`hw_run_config` turns a registry into the ``Loihi2HwCfg`` whose
``exception_proc_model_map`` forces those models (Lava's documented override of
its model selection), with the host-side stream Processes pinned to their CPU
models.
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Set, Tuple, Union

from ...format.spec import NetworkSpec
from .detect import Loihi2Unavailable

#: Neuron type of the file format -> the lava-mlsnn Process that runs it.
NEURON_PROCESS = {"MLSN": "MultiLevelNeuron", "READOUT": "Readout", "PASS": "Pass",
                  "CUBA": "CubaLif"}
#: Every Process that sits on NeuroCores and so needs a registered model.
CHIP_PROCESSES: Tuple[str, ...] = ("MultiLevelNeuron", "Readout", "Pass", "CubaLif", "Synapse")
#: Host-side Processes (input and output streams): their CPU models are kept.
HOST_MODELS = {"StreamSource": "lava_mlsnn.proc.stream.models.PyStreamSourceModelFixed",
               "StreamSink": "lava_mlsnn.proc.stream.models.PyStreamSinkModelFixed"}

PLUGIN_ENV = "LAVA_MLSNN_LOIHI2_MODELS"
ENTRY_POINT_GROUP = "lava_mlsnn.loihi2"

ProcessKey = Union[str, type]
#: ``factory(shape, num_message_bits) -> (process, in_port, out_port)``.
AdapterFactory = Callable[[Tuple[int, ...], int], Tuple[Any, Any, Any]]


@dataclass(frozen=True)
class Loihi2IO:
    """How payloads cross between the host and the chip.

    Attributes
    ----------
    input_adapter, output_adapter : AdapterFactory
        Build one adapter for a payload of ``shape`` and ``num_message_bits``
        (host -> chip, chip -> host).
    in_latency, out_latency : int
        Steps each adapter adds; the runner shifts resets and read-outs by them.
    """

    input_adapter: AdapterFactory
    output_adapter: AdapterFactory
    in_latency: int = 0
    out_latency: int = 0


def lava_loihi_io() -> Loihi2IO:
    """lava-loihi's embedded-I/O spike adapters (``lava.proc.embedded_io.spike``).

    Their latency is taken as 0: check it once on a chip by comparing
    :func:`~lava_mlsnn.loihi2.run_loihi2` with :func:`~lava_mlsnn.netx.emulate`
    and pass a :class:`Loihi2IO` with the measured latencies if they differ.
    """
    eio = importlib.import_module("lava.proc.embedded_io.spike")

    def into(shape: Tuple[int, ...], bits: int):
        p = eio.PyToNxAdapter(shape=shape, num_message_bits=bits)
        return p, p.inp, p.out

    def out_of(shape: Tuple[int, ...], bits: int):
        p = eio.NxToPyAdapter(shape=shape, num_message_bits=bits)
        return p, p.inp, p.out

    return Loihi2IO(into, out_of)


def _name(process: ProcessKey) -> str:
    name = process if isinstance(process, str) else getattr(process, "__name__", str(process))
    if name not in CHIP_PROCESSES:
        raise ValueError(f"{name!r} is not a lava-mlsnn chip Process (one of "
                         f"{', '.join(CHIP_PROCESSES)})")
    return name


def process_class(name: str) -> type:
    """The lava-mlsnn Process class called ``name`` (imports Lava)."""
    from ... import proc
    return getattr(proc, name)


def _import_object(path: str) -> Any:
    module, _, attr = path.rpartition(".")
    return getattr(importlib.import_module(module), attr)


class ModelRegistry:
    """Process -> Loihi 2 ProcessModel map, plus the host/chip I/O.

    Parameters
    ----------
    models : dict, optional
        Initial ``{Process class or name: ProcessModel class}``.
    io : Loihi2IO, optional
        Adapters; ``None`` uses :func:`lava_loihi_io` when the network is built.
    """

    def __init__(self, models: Optional[Dict[ProcessKey, type]] = None,
                 io: Optional[Loihi2IO] = None) -> None:
        self._models: Dict[str, type] = {}
        self.io = io
        for process, model in (models or {}).items():
            self.register(process, model)

    def register(self, process: ProcessKey, model: type) -> None:
        """Run every ``process`` (class or name) on the chip with ``model``."""
        if not isinstance(model, type):
            raise TypeError(f"model must be a ProcessModel class, got {model!r}")
        self._models[_name(process)] = model

    def unregister(self, process: ProcessKey) -> None:
        self._models.pop(_name(process), None)

    def model(self, process: ProcessKey) -> Optional[type]:
        """The registered model of ``process``, or ``None``."""
        return self._models.get(_name(process))

    @property
    def registered(self) -> Dict[str, type]:
        return dict(self._models)

    def missing(self, spec: NetworkSpec) -> Dict[str, List[int]]:
        """Chip Processes ``spec`` needs without a registered model -> layers using them."""
        out: Dict[str, List[int]] = {}
        for name, layers in required_processes(spec).items():
            if name not in self._models:
                out[name] = layers
        return out

    def exception_map(self) -> Dict[type, type]:
        """``{Process class: model}`` for ``exception_proc_model_map`` (imports Lava)."""
        emap = {process_class(name): model for name, model in self._models.items()}
        for name, path in HOST_MODELS.items():
            emap[process_class(name)] = _import_object(path)
        return emap


def required_processes(spec: NetworkSpec) -> Dict[str, List[int]]:
    """Chip Processes a network needs -> the layers that use them.

    ``input`` layers need none (the host clips and sends the input); ``flatten``
    layers need none (the synapses that read them flatten).
    """
    need: Dict[str, List[int]] = {}
    for i, layer in enumerate(spec.layers):
        p = layer.neuron
        if layer.type in ("input", "flatten") or p is None or p.type == "INPUT":
            continue
        need.setdefault(NEURON_PROCESS[p.type], []).append(i)
        if layer.branches:
            need.setdefault("Synapse", []).append(i)
    return need


def missing_message(missing: Dict[str, List[int]]) -> str:
    """One line naming the Processes without a Loihi 2 model."""
    parts = [f"{name} (layer{'s' if len(ls) > 1 else ''} {', '.join(map(str, ls))})"
             for name, ls in missing.items()]
    return (f"no Loihi 2 ProcessModel is registered for {'; '.join(parts)}: plug lava-loihi "
            f"NcProcessModels in with lava_mlsnn.loihi2.register_model or a module named in "
            f"${PLUGIN_ENV} (see lava_mlsnn/loihi2/registry.py)")


#: The registry the CLI and :func:`~lava_mlsnn.loihi2.run_loihi2` use by default.
REGISTRY = ModelRegistry()
_LOADED: Set[str] = set()


def register_model(process: ProcessKey, model: type) -> None:
    """Register ``model`` for ``process`` in the default :data:`REGISTRY`."""
    REGISTRY.register(process, model)


def load_plugins(registry: Optional[ModelRegistry] = None) -> List[str]:
    """Import the plug-ins named in ``$LAVA_MLSNN_LOIHI2_MODELS`` and the entry points.

    Each plug-in is a module (env) or an object (entry point); a module's
    ``register_models(registry)`` function, or the entry point's callable, is
    called once with the registry. Returns the plug-ins loaded by this call.

    Raises
    ------
    Loihi2Unavailable
        If a plug-in cannot be imported or fails (one line naming it).
    """
    registry = REGISTRY if registry is None else registry
    loaded = []
    names = [n.strip() for n in os.environ.get(PLUGIN_ENV, "").split(",") if n.strip()]
    targets: List[Tuple[str, Callable[[], Any]]] = [
        (n, lambda n=n: importlib.import_module(n)) for n in names]
    try:
        from importlib.metadata import entry_points
        eps = entry_points()
        group = eps.select(group=ENTRY_POINT_GROUP) if hasattr(eps, "select") \
            else eps.get(ENTRY_POINT_GROUP, [])
        targets += [(f"{ep.name} ({ep.value})", ep.load) for ep in group]
    except Exception:  # noqa: BLE001 -- broken metadata must not break the command
        pass
    for label, load in targets:
        key = f"{id(registry)}:{label}"
        if key in _LOADED:
            continue
        try:
            obj = load()
            hook = getattr(obj, "register_models", obj)
            if callable(hook):
                hook(registry)
        except Exception as err:  # noqa: BLE001 -- reported in one line
            raise Loihi2Unavailable(f"Loihi 2 model plug-in {label} failed: "
                                    f"{type(err).__name__}: {' '.join(str(err).split())}"
                                    ) from None
        _LOADED.add(key)
        loaded.append(label)
    return loaded


def hw_run_config(spec: Optional[NetworkSpec] = None, registry: Optional[ModelRegistry] = None,
                  **kwargs: Any):
    """``Loihi2HwCfg`` that runs every registered Process with its registered model.

    Parameters
    ----------
    spec : NetworkSpec, optional
        When given, every chip Process it needs must have a model.
    registry : ModelRegistry, optional
        Default :data:`REGISTRY`.
    **kwargs
        Passed to ``Loihi2HwCfg`` (``callback_fxs``, ``select_tag``, ...).

    Raises
    ------
    Loihi2Unavailable
        When ``spec`` needs a Process without a model (:func:`missing_message`).
    """
    registry = REGISTRY if registry is None else registry
    if spec is not None:
        missing = registry.missing(spec)
        if missing:
            raise Loihi2Unavailable(missing_message(missing))
    from lava.magma.core.run_configs import Loihi2HwCfg
    emap = registry.exception_map()
    emap.update(kwargs.pop("exception_proc_model_map", None) or {})  # the caller's word wins
    return Loihi2HwCfg(exception_proc_model_map=emap, **kwargs)
