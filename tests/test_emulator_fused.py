"""The fused emulator path (``emulate(..., fused=True)``: each single-branch layer's
rounding, saturation and neuron step compiled into one kernel by ``torch.compile``)
against the independent scalar reference and the plain path, at the numeric edges:
currents and states at +-2**23, decays 0/1/4095/4096, levels 1..15, membrane
quantization, biases near the int32 bound, conv layers channels-last, T > 1.

One test: compiling costs seconds per layer, so the cases are few, fixed and dense in
edges (the hypothesis tests of the same functions run the plain path)."""
import numpy as np
import torch

from layercheck import assert_layers_active
from lava_mlsnn import fixed
from lava_mlsnn.backends.emulator import emulate
from lava_mlsnn.format.spec import Branch, LayerSpec, NetworkSpec
from reference_plain import run_reference

P = fixed.NeuronParams


def _network(rng: np.random.Generator) -> NetworkSpec:
    """input -> conv (edge decays) -> pool (CUBA) -> flatten -> 4 dense layers, one per
    decay edge pair -> dense READOUT; weight exponents drive currents into saturation."""
    def w(*shape, lo=-60, hi=120):
        return rng.integers(lo, hi, size=shape)

    def dense(src, n_in, n, neuron, exp=0):
        return LayerSpec("dense", (n,), src, [Branch(src, fixed.SynapseSpec(
            "dense", w(n, n_in), exp))], neuron)

    layers = [
        LayerSpec("input", (2, 8, 8), -1, neuron=P("INPUT", input_levels=15)),
        # levels 15 x 8000 << 6 < 2**23: a saturated membrane reaches the top level
        LayerSpec("conv", (6, 8, 8), 0, [Branch(0, fixed.SynapseSpec(
            "conv", w(6, 2, 3, 3), 7, padding=(1, 1)))],  # << 7: a saturates at +-2**23
            P("MLSN", v_th_mant=8000, levels=15, i_decay=1, v_decay=4095,
              v_init=2000, bias=rng.integers(-4096, 4096, size=(6, 1, 1)), bias_exp=8)),
        LayerSpec("pool", (6, 4, 4), 1, [Branch(1, fixed.SynapseSpec(
            "pool", np.array(37), 0, stride=(2, 2), kernel=(2, 2)))],
            P("CUBA", v_th_mant=300, i_decay=4095, v_decay=1,
              bias=rng.integers(-30, 30, size=(6, 1, 1)))),
        LayerSpec("flatten", (96,), 2),
        dense(3, 96, 24, P("MLSN", v_th_mant=2, levels=1, i_decay=0, v_decay=4096,
                           bias=np.full(24, 2 ** 17 - 1)), exp=3),  # bias << 6 = 2**23
        dense(4, 24, 24, P("MLSN", v_th_mant=40, levels=7, i_decay=4096, v_decay=0,
                           v_bits=3, v_exp=6, v_init=640)),
        dense(5, 24, 24, P("MLSN", v_th_mant=9, levels=4, i_decay=4095, v_decay=1,
                           v_bits=8, v_exp=2, bias=rng.integers(-4096, 4096, size=24),
                           bias_exp=4)),
        dense(6, 24, 24, P("MLSN", v_th_mant=1, levels=2, i_decay=1, v_decay=4095,
                           bias=rng.choice([-2 ** 17, 2 ** 17 - 1], size=24))),  # int32 edges
        dense(7, 24, 5, P("READOUT", v_decay=1, bias=rng.integers(-40, 40, size=5),
                          bias_exp=7), exp=6),
    ]
    return NetworkSpec(layers, input_shape=(2, 8, 8), input_levels=15, timesteps=4)


def test_fused_equals_reference_and_plain_at_the_edges():
    for seed, steps in ((0, 4), (1, 4), (2, 1)):  # T = 1 keeps broadcast initial states
        rng = np.random.default_rng(seed)
        spec = _network(rng)
        x = rng.integers(0, 16, size=(3, steps, 2, 8, 8))
        x[0] = 15  # all-max payloads: the saturating sums
        fused = emulate(spec, x, fused=True)
        plain = emulate(spec, x)
        ref = run_reference(spec, x)
        assert_layers_active(ref, what=f"seed {seed}: ")
        for i in ref:
            assert torch.equal(fused[i], plain[i]), f"seed {seed}, layer {i}"
            assert np.array_equal(fused[i].numpy(), ref[i]), f"seed {seed}, layer {i}"
        # the edges this network is built to reach are reached
        conv_v = fused[1]
        assert int(conv_v.max()) == 15  # level 15 of the conv layer
        if steps > 1:  # the readout integrates into saturation
            assert int(fused[8].max()) == 2 ** 23 - 1 or int(fused[8].min()) == -2 ** 23
