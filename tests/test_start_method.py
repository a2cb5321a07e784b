"""The compiled loops leave the multiprocessing start method as they found it.

numba's thread pool fixes the start method when it starts (its lock asks for one); Lava
sets its own when its runtime is first imported and fails on one already chosen ("context
has already been set"). Training with the compiled neuron loops, or an emulator run, before
Lava's first import must not break that import.
"""
import multiprocessing

import numpy as np
import pytest
import torch

from lava_mlsnn import block
from lava_mlsnn.backends import emulator, kernels
from lava_mlsnn.block import cuba
from lava_mlsnn.neuron import cuba_sequence, sequence


@pytest.fixture
def unset():
    before = multiprocessing.get_start_method(allow_none=True)
    multiprocessing.set_start_method(None, force=True)
    yield
    multiprocessing.set_start_method(before, force=True)


def _train_step(layer, x):
    layer(x).sum().backward()
    return multiprocessing.get_start_method(allow_none=True)


def test_training_steps_keep_it_unset(unset):
    assert sequence._compile() and cuba_sequence._compile()  # the compiled loops exist
    torch.manual_seed(0)
    x = (torch.rand(2, 2, 8, 8, 4) < 0.5).float()
    ml = block.Conv(dict(threshold=0.5, levels=4), 2, 3, 3, padding=1)
    cb = cuba.Conv(dict(threshold=0.5, current_decay=0.5, voltage_decay=0.5), 2, 3, 3,
                   padding=1)
    assert _train_step(ml, x) is None
    assert _train_step(cb, x) is None
    assert ml.synapse.weight.grad.abs().sum() > 0 and cb.synapse.weight.grad.abs().sum() > 0


def test_emulator_kernels_keep_it_unset(unset):
    assert kernels.available()
    from lava_mlsnn.fixed import NeuronParams, SynapseSpec
    from lava_mlsnn.format.spec import Branch, LayerSpec, NetworkSpec
    rng = np.random.default_rng(0)
    layers = [LayerSpec("dense", (600,), -1, [Branch(-1, SynapseSpec(
        "dense", rng.integers(-3, 4, size=(600, 40)), 0))], NeuronParams("CUBA", 8, 1, 1024, 512))]
    spec = NetworkSpec(layers, input_shape=(40,), timesteps=8)
    x = rng.integers(0, 3, size=(64, 8, 40))  # 64 x 8 x 600 neuron-steps: a parallel launch
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        out = emulator.emulate(spec, x)
    finally:
        torch.set_num_threads(threads)
    assert int(out[0].sum()) > 0
    assert multiprocessing.get_start_method(allow_none=True) is None
