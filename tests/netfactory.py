"""Random networks for the tests: training-side blocks, and deployed files on disk."""
import os
from typing import Tuple

import numpy as np
import torch

from lava_mlsnn import block
from lava_mlsnn.fixed import NeuronParams, SynapseSpec
from lava_mlsnn.format import write_network
from lava_mlsnn.format.random_net import random_input, random_network
from lava_mlsnn.format.spec import INPUT, Branch, LayerSpec, NetworkSpec


def random_training_net(seed: int, levels: int, timesteps: int, conv: bool = True,
                        train_steps: int = 2) -> tuple:
    """A randomly configured block network, trained a few steps so BatchNorm and
    thresholds move away from their initial values. Returns (net, input batch)."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)

    def neuron():
        return dict(threshold=float(rng.uniform(0.3, 1.5)), levels=levels, norm=bool(rng.random() < 0.7),
                    voltage_decay=float(rng.choice([0.0, rng.uniform(0, 0.3)])),
                    current_decay=float(rng.choice([1.0, rng.uniform(0.2, 1.0)])),
                    v_init=float(rng.choice([0.0, 0.5])))

    in_levels = int(rng.integers(1, 5))
    if conv:
        c, h = 2, int(rng.integers(8, 13))
        groups = int(rng.choice([1, 2]))
        c1 = 4
        stride = int(rng.integers(1, 3))
        pad = int(rng.integers(0, 2))
        blocks = [block.Input((c, h, h), in_levels),
                  block.Conv(neuron(), c, c1, 3, stride=stride, padding=pad, groups=groups,
                             weight_scale=2),
                  block.Pool(neuron(), 2),
                  block.Conv(neuron(), c1, 6, 3, padding=1, weight_scale=2),
                  block.Flatten()]
        hh = (h + 2 * pad - 3) // stride + 1
        n_flat = 6 * (hh // 2) ** 2
    else:
        n_flat = int(rng.integers(8, 30))
        blocks = [block.Input((n_flat,), in_levels)]
    hidden = int(rng.integers(8, 24))
    blocks += [block.Dense(neuron(), n_flat, hidden, weight_scale=2),
               block.Readout(dict(norm=bool(rng.random() < 0.5),
                                  voltage_decay=float(rng.choice([0.0, 0.1]))), hidden, 5)]
    net = block.Network(blocks, timesteps=timesteps)
    shape = blocks[0].shape
    x = torch.from_numpy(rng.integers(0, in_levels + 3, size=(6,) + shape + (timesteps,))).float()
    return nudge(net, x, train_steps), x


def nudge(net, x, steps: int = 2, regularizer=None):
    """A few SGD steps so that BatchNorm statistics and thresholds leave their initial
    values; returns the network in eval mode."""
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    for _ in range(steps):
        loss = net(x)[..., -1].pow(2).mean()
        if regularizer is not None:
            loss = loss + regularizer(net)
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    return net


def random_files(directory, seeds: Tuple[int, int], batch: int, steps: int, **net_kw):
    """Write a random network and an input for it; returns ``(spec, net.h5, x.npy)``.

    ``seeds`` seed the network and the input; ``net_kw`` goes to ``random_network``.
    """
    spec = random_network(np.random.default_rng(seeds[0]), **net_kw)
    net, x = os.path.join(str(directory), "net.h5"), os.path.join(str(directory), "x.npy")
    write_network(spec, net)
    np.save(x, random_input(np.random.default_rng(seeds[1]), spec, batch, steps))
    return spec, net, x


def join_network(rng) -> NetworkSpec:
    """A DAG: skip branches of different depth, a PASS join, identity over a flatten,
    a dense synapse reading the raw network input."""
    def w(*shape):
        return rng.integers(-120, 121, size=shape).astype(np.int64)

    def mlsn(levels=3, **kw):
        return NeuronParams("MLSN", int(rng.integers(20, 80)), levels, **kw)

    c = (3, 5, 5)
    layers = [
        LayerSpec("input", (2, 5, 5), INPUT, neuron=NeuronParams("INPUT", input_levels=3)),
        LayerSpec("conv", c, 0, [Branch(0, SynapseSpec("conv", w(3, 2, 3, 3), padding=(1, 1)))],
                  mlsn(v_init=1000)),
        LayerSpec("conv", c, 1, [Branch(1, SynapseSpec("conv", w(3, 3, 3, 3), padding=(1, 1)))],
                  mlsn(i_decay=2000, v_decay=100)),
        LayerSpec("join", c, 2, [Branch(2, SynapseSpec("identity", np.array(37))),
                                 Branch(0, SynapseSpec("conv", w(3, 2, 1, 1)))],  # delay 2
                  mlsn(levels=2)),
        LayerSpec("flatten", (75,), 3),
        LayerSpec("join", (75,), 4, [Branch(4, SynapseSpec("identity", np.array(2))),
                                     Branch(INPUT, SynapseSpec("dense", w(75, 50), -3))],
                  NeuronParams("PASS")),
        LayerSpec("dense", (4,), 5, [Branch(5, SynapseSpec("dense", w(4, 75), -2))],
                  NeuronParams("READOUT", v_decay=300, bias=np.array([1, -2, 3, 0]))),
    ]
    return NetworkSpec(layers=layers, input_shape=(2, 5, 5), input_levels=3, timesteps=3)
