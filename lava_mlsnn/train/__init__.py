"""Training loop: fit, evaluate, atomic checkpoints."""
from .loop import Checkpoint, evaluate, fit, predict

__all__ = ["Checkpoint", "evaluate", "fit", "predict"]
