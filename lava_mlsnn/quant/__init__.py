"""Quantization (Q-SNN): k-bit weights, low-bit membranes, WS-DR."""
from .membrane import StaticMembraneQuant, TanhMembraneQuant
from .weights import BinaryWeight, UniformWeight, weight_quantizer
from .wsdr import SpikeEntropy, spiking_neurons

__all__ = ["BinaryWeight", "SpikeEntropy", "StaticMembraneQuant", "TanhMembraneQuant",
           "UniformWeight", "spiking_neurons", "weight_quantizer"]
