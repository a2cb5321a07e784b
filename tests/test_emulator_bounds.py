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


def test_pipelined_chunks_equal_one_sample_at_a_time(monkeypatch):
    import lava_mlsnn.backends.emulator as emulator
    from layercheck import assert_layers_active
    from test_emulator_fused import _network
    rng = np.random.default_rng(4)
    spec = _network(rng)
    out = spec.layers[-1]  # a CUBA output, as stock netx files end (no READOUT there)
    spec.layers[-1] = type(out)(out.type, out.shape, out.source, out.branches,
                                fixed.NeuronParams("CUBA", v_th_mant=5, i_decay=1024, v_decay=128))
    x = rng.integers(0, 16, size=(17, 3, 2, 8, 8))
    monkeypatch.setattr(emulator, "CHUNK_BYTES", 1)  # chunks of 6, 6 and 5 samples
    got = emulate_pipelined(spec, x)
    assert_layers_active({i: v.numpy() for i, v in got.items()})
    for b in (0, 7, 16):
        one = emulate_pipelined(spec, x[b:b + 1])
        for i in one:
            assert torch.equal(got[i][b:b + 1], one[i]), f"sample {b}, layer {i}"
