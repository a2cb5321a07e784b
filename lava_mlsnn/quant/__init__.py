"""Quantization (Q-SNN): k-bit weights, low-bit membranes, WS-DR."""
from .membrane import StaticMembraneQuant, TanhMembraneQuant
from .weights import BinaryWeight, UniformWeight, configure_binary_weights, weight_quantizer
from .wsdr import SpikeEntropy, spiking_neurons

__all__ = ["BinaryWeight", "SpikeEntropy", "StaticMembraneQuant", "TanhMembraneQuant",
           "UniformWeight", "configure_binary_weights", "spiking_neurons", "weight_quantizer"]
