"""The compiled neuron loop and fork: Lava, DataLoader workers and DDP fork the training
process, so the loop's thread pool must not leave a forked child waiting forever (GNU
OpenMP's pool, numba's default on Linux, does)."""
from __future__ import annotations

import multiprocessing as mp

import pytest
import torch

from lava_mlsnn.neuron import multilevel, sequence

pytestmark = pytest.mark.skipif(not sequence._compile(), reason="numba is not installed")


def _train_step() -> float:
    cfg = multilevel.MultiLevelConfig(3, 1.0, 0.0, 0.5, "ste")
    x = (torch.randn(4, 700, 8) * 2).requires_grad_()
    th = torch.tensor([0.6], requires_grad=True)
    y, mean, _ = sequence.run(x, torch.zeros(1), th, cfg, keep_state=False)
    (y.sum() + mean).backward()
    return float(th.grad)


def _child(queue) -> None:
    queue.put(_train_step())


def test_a_forked_child_runs_the_loop_after_the_parent_did():
    import numba
    parent = _train_step()
    assert numba.threading_layer() != "omp"
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue,))
    proc.start()
    proc.join(60)
    alive = proc.is_alive()
    if alive:
        proc.kill()
    assert not alive, "the forked child hung in the compiled loop"
    assert proc.exitcode == 0 and queue.get(timeout=5) != 0.0 and parent != 0.0
