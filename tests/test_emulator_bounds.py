"""The static payload bounds that choose each synapse sum's float type
(:func:`lava_mlsnn.backends.emulator.sum_bounds`): a stock input layer without a neuron
(netx hands the data on) is bounded by the data, not by 1, so large inputs get a float64
sum; aligned and pipelined runs give the int64 sums of numpy."""
import numpy as np
import torch

from lava_mlsnn import fixed
from lava_mlsnn.backends.emulator import emulate, sum_bounds
from lava_mlsnn.backends.pipelined import emulate_pipelined
from lava_mlsnn.format.spec import Branch, LayerSpec, NetworkSpec

P = fixed.NeuronParams


def _pass_input_net(w: np.ndarray) -> NetworkSpec:
    n_out, n_in = w.shape
    syn = fixed.SynapseSpec("dense", w, 0, overflow="none")  # stock SDNN Dense: unbounded
    return NetworkSpec([LayerSpec("input", (n_in,), -1, neuron=P("PASS")),
                        LayerSpec("dense", (n_out,), 0, [Branch(0, syn)], P("SDNN_SIGMA"))],
                       input_shape=(n_in,), input_levels=1, timesteps=1)


def test_neuronless_input_layer_bounds_the_next_sum_by_the_data():
    rng = np.random.default_rng(0)
    w = rng.integers(-255, 256, size=(8, 64))
    x = rng.integers(0, 1 << 20, size=(4, 1, 64))  # |w| * x * fan-in ~ 2**34: float64
    spec = _pass_input_net(w)
    assert sum_bounds(spec, int(x.max()))[0] == int(x.max()) + 1
    want = x[:, 0] @ w.T  # int64
    assert np.abs(want).max() > (1 << 24)  # float32 partial sums would round
    got = emulate(spec, x)[1][:, 0]
    assert torch.equal(got, torch.as_tensor(want))
    piped = emulate_pipelined(spec, x, steps=2)[1][:, 1]  # one step through the synapse
    assert torch.equal(piped, torch.as_tensor(want))
