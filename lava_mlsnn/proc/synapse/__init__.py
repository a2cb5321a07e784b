"""Graded synapse (dense / conv / pool / identity) Process with a delay line."""
from .process import Synapse

__all__ = ["Synapse"]
