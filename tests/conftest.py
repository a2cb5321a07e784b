"""Shared fixtures: random training networks and a guard against stray Lava processes."""
import multiprocessing
import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))

os.environ.setdefault("LAVA_MLSNN_FAST", "1")
# ``make mutants`` forks a test run per mutant: a torch thread pool does not survive a fork.
torch.set_num_threads(int(os.environ.get("LAVA_MLSNN_TEST_THREADS", 0))
                      or max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True, scope="session")
def no_stray_processes():
    """Lava runs each Process in an OS process: none may outlive the tests."""
    yield
    children = multiprocessing.active_children()
    assert not children, f"processes left behind: {children}"


@pytest.fixture(autouse=True)
def no_new_lava_processes(request):
    """Every Lava build of a ``lava``-marked test must be stopped: no OS process may
    outlive the test that started it."""
    if request.node.get_closest_marker("lava") is None:
        yield
        return
    before = {p.pid for p in multiprocessing.active_children()}
    yield
    left = [p for p in multiprocessing.active_children() if p.pid not in before]
    assert not left, f"Lava processes left behind: {left}"
