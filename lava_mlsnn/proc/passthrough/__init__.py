"""Stateless pass-through neuron (``PASS`` and ``input`` layers) Process."""
from .process import Pass

__all__ = ["Pass"]
