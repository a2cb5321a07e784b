"""Helpers for the training-script tests: load the scripts as modules, tiny run settings."""
from __future__ import annotations

import importlib.util
import os
import sys
from typing import List

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN_SCRIPT = os.path.join(ROOT, "training", "train_dvs.py")
EXPORT_SCRIPT = os.path.join(ROOT, "netx_export", "export.py")
PY = sys.executable


def load_script(path: str, name: str):
    """Import a script file as a module (its ``main(argv)`` runs in this process)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shared_cache(tmp_path_factory) -> str:
    """One framed-tensor (and rendered-digits) cache for every test module of a session."""
    path = tmp_path_factory.getbasetemp() / "lava-mlsnn-frames"
    path.mkdir(exist_ok=True)
    return str(path)


def tiny(cache_dir: str, epochs: int = 2, limit: int = 48) -> List[str]:
    """``--set`` arguments of a run that takes about a second per epoch on one core."""
    sets = [f"data.cache_dir={cache_dir}", f"data.limit={limit}", "model.channels=[4,8]",
            "model.hidden=16", f"optim.epochs={epochs}", "optim.batch_size=16",
            "train.device=cpu"]
    return ["--no-progress"] + [a for s in sets for a in ("--set", s)]


def subprocess_env() -> dict:
    """Environment for child processes: same torch thread count as this process (so float
    results match bit for bit), no debug tracebacks."""
    env = dict(os.environ)
    env.pop("LAVA_MLSNN_DEBUG", None)
    env["OMP_NUM_THREADS"] = str(torch.get_num_threads())
    return env


def checkpoint_tensors(path: str) -> dict:
    """Model and optimizer tensors of a ``last.pt``, flattened to ``name -> tensor``."""
    state = torch.load(path, map_location="cpu")
    out = {f"model.{k}": v for k, v in state["model"].items()}
    for pid, s in state["optimizer"]["state"].items():
        for k, v in s.items():
            if torch.is_tensor(v):
                out[f"opt.{pid}.{k}"] = v
    return out
