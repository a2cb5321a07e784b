"""Sigma-delta neuron (netx ``SDNN``) Process with the lava-mlsnn reset/record plumbing."""
from .process import SigmaDeltaNeuron

__all__ = ["SigmaDeltaNeuron"]
