"""Activity, synaptic operations, energy and memory of deployed networks."""
from .energy import (
    TERMS,
    EnergyConstants,
    EnergyReport,
    LayerEnergy,
    RunCounts,
    count_outputs,
    energy_report,
)
from .neurobench import activation_sparsity, energy_lines, neurobench_metrics, synaptic_ops

__all__ = [
    "TERMS",
    "EnergyConstants",
    "EnergyReport",
    "LayerEnergy",
    "RunCounts",
    "activation_sparsity",
    "count_outputs",
    "energy_lines",
    "energy_report",
    "neurobench_metrics",
    "synaptic_ops",
]
