"""lava-dl CUBA-LIF (binary) Process with the lava-mlsnn reset/record plumbing."""
from .process import CubaLif

__all__ = ["CubaLif"]
