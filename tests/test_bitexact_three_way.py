"""The product: training-side quantized forward == emulator == Lava fixed_pt.

Random trained networks (feed-forward, residual with every join kind, quantized),
random inputs, several samples streamed through one Lava build; every layer, every step.
"""
import numpy as np
import pytest
import torch

from lava_mlsnn import block, quant
from lava_mlsnn.block import to_emulator_layout
from lava_mlsnn.models import dvs_convnet
from lava_mlsnn.netx import emulate, run_lava
from layercheck import assert_layers_active
from netfactory import nudge, random_training_net


def _three_way(net, x):
    with net.quantized():
        record = []
        net(x, record)
    spec = net.export_spec()
    x_file = to_emulator_layout(x).long()
    emu = emulate(spec, x_file)
    lava = run_lava(spec, x_file.numpy())
    assert len(record) == len(spec.layers) == len(emu) == len(lava)
    assert_layers_active(emu)
    for i in range(len(spec.layers)):
        train_side = to_emulator_layout(record[i])
        assert torch.equal(train_side, emu[i]), f"training vs emulator, layer {i}"
        assert np.array_equal(lava[i], emu[i].numpy()), f"Lava vs emulator, layer {i}"
    return spec


@pytest.mark.parametrize("seed,levels,steps,conv", [(11, 1, 3, True), (12, 3, 1, True),
                                                    (13, 15, 3, False), (14, 3, 2, True)])
def test_feedforward(seed, levels, steps, conv):
    net, x = random_training_net(seed, levels, steps, conv)
    _three_way(net, x)


@pytest.mark.parametrize("kind,steps", [("sparse", 1), ("sew", 3), ("spiking", 3),
                                        ("sparse", 3)])
def test_residual(kind, steps):
    torch.manual_seed(steps + 10)
    p = dict(threshold=0.7, levels=3, voltage_decay=0.1 if steps > 1 else 0.0)
    stem = {**p, "norm": True}
    if kind == "sew":
        stem.update(threshold=1.0, learn_threshold=False)
    net = block.Network([block.Input((2, 8, 8), 3), block.Conv(stem, 2, 4, 3, padding=1),
                         block.ResidualBlock(kind, p, 4, 4),          # identity shortcut
                         block.ResidualBlock(kind, p, 4, 6, stride=2),  # projection
                         block.Flatten(), block.Readout({}, 6 * 16, 3)], timesteps=steps)
    x = torch.randint(0, 5, (4, 2, 8, 8, steps)).float()
    spec = _three_way(nudge(net, x), x)
    depth = spec.depths()
    gaps = [depth[i] - 1 - depth[b.source] for i, layer in enumerate(spec.layers)
            for b in layer.branches if layer.type == "join"]
    assert max(gaps) >= (1 if kind == "spiking" else 2)  # shortcuts wait for the main path


@pytest.mark.parametrize("weight_bits,membrane_bits", [(1, 4), (4, 8)])
def test_quantized(weight_bits, membrane_bits):
    torch.manual_seed(weight_bits)
    net = dvs_convnet((2, 10, 10), 3, levels=3, channels=(4, 6), hidden=12,
                      weight_bits=weight_bits, membrane_bits=membrane_bits, timesteps=2)
    x = torch.randint(0, 8, (4, 2, 10, 10, 2)).float()
    _three_way(nudge(net, x, regularizer=quant.SpikeEntropy()), x)
