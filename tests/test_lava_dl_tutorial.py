"""lava-dl's own tutorial networks train through block.Network with the changes DESIGN 9.1
lists, then export, and the file runs in the emulator as lava-dl's own forward computes.

The networks and neuron dicts are lava-dl's (lava-nc/lava-dl, tutorials/lava/lib/dl/slayer:
oxford/train.ipynb and nmnist/train.ipynb), as written there; the data are tiny synthetic
spike trains of the tutorials' shapes. Changes (DESIGN 9.1): ``slayer.block.cuba`` ->
``lava_mlsnn.block.cuba``, a ``block.Input`` first, NMNIST's ``delay=True`` dropped.
"""
import torch
import lava.lib.dl.slayer as slayer

from lava_mlsnn import block
from lava_mlsnn.backends.emulator import emulate
from lava_mlsnn.block import to_emulator_layout
from lava_mlsnn.format.reader import read_network
from layercheck import assert_layers_active


def oxford_network() -> block.Network:
    neuron_params = {
        'threshold': 0.1,
        'current_decay': 1,
        'voltage_decay': 0.1,
        'requires_grad': True,
    }
    return block.Network([
        block.Input((200,)),
        block.cuba.Dense(neuron_params, 200, 256),
        block.cuba.Dense(neuron_params, 256, 200),
    ])


def nmnist_network() -> block.Network:
    neuron_params = {
        'threshold': 1.25,
        'current_decay': 0.25,
        'voltage_decay': 0.03,
        'tau_grad': 0.03,
        'scale_grad': 3,
        'requires_grad': True,
    }
    neuron_params_drop = {**neuron_params, 'dropout': slayer.neuron.Dropout(p=0.05), }
    return block.Network([
        block.Input((34 * 34 * 2,)),
        block.cuba.Dense(neuron_params_drop, 34 * 34 * 2, 512, weight_norm=True),
        block.cuba.Dense(neuron_params_drop, 512, 512, weight_norm=True),
        block.cuba.Dense(neuron_params, 512, 10, weight_norm=True),
    ])


def _check_export(net: block.Network, x: torch.Tensor, tmp_path) -> None:
    path = str(tmp_path / "network.net")
    net.export_hdf5(path)
    out = emulate(read_network(path), to_emulator_layout(x).long())
    net.eval()
    rec = []
    with torch.no_grad():
        net(x, rec)  # lava-dl's own float forward of the trained blocks
    assert_layers_active(out, [1, len(rec) - 1])
    for i in range(1, len(rec)):
        assert torch.equal(to_emulator_layout(rec[i]).long(), out[i]), f"layer {i}"


def test_oxford_tutorial_trains_and_exports(tmp_path):
    torch.manual_seed(0)
    net = oxford_network()
    optimizer = torch.optim.Adam(net.parameters(), lr=0.001, weight_decay=1e-5)
    error = slayer.loss.SpikeTime(time_constant=2, filter_order=2)
    stats = slayer.utils.LearningStats()
    assistant = slayer.utils.Assistant(net, error, optimizer, stats)
    x = (torch.rand(1, 200, 60) < 0.2).float()
    target = (torch.rand(1, 200, 60) < 0.05).float()
    decay0 = float(net.blocks[1].neuron.voltage_decay)
    losses = []
    for _ in range(4):
        assistant.train(x, target)
        losses.append(stats.training.loss)
        stats.update()
    assert losses[-1] < losses[0]
    assert float(net.blocks[1].neuron.voltage_decay) != decay0  # requires_grad: decays learn
    _check_export(net, x, tmp_path)


def test_nmnist_tutorial_trains_and_exports(tmp_path):
    torch.manual_seed(1)
    net = nmnist_network()
    optimizer = torch.optim.Adam(net.parameters(), lr=0.001)
    error = slayer.loss.SpikeRate(true_rate=0.2, false_rate=0.03, reduction='sum')
    stats = slayer.utils.LearningStats()
    assistant = slayer.utils.Assistant(net, error, optimizer, stats,
                                       classifier=slayer.classifier.Rate.predict)
    x = (torch.rand(4, 34 * 34 * 2, 12) < 0.15).float()
    label = torch.tensor([0, 3, 7, 3])
    w0 = net.blocks[3].synapse.weight_v.detach().clone()
    losses = []
    for _ in range(3):
        assistant.train(x, label)
        losses.append(stats.training.loss)
        stats.update()
    assert not torch.equal(net.blocks[3].synapse.weight_v, w0)
    assert all(0 < v < float("inf") for v in losses)
    _check_export(net, x, tmp_path)


def test_nmnist_dicts_on_multilevel_blocks(tmp_path):
    """The NMNIST dicts on multi-level blocks: only requires_grad=True is dropped (DESIGN
    9.1); tau_grad / scale_grad give lava-dl's surrogate at each level edge."""
    torch.manual_seed(2)
    neuron_params = {'threshold': 1.25, 'current_decay': 0.25, 'voltage_decay': 0.03,
                     'tau_grad': 0.03, 'scale_grad': 3}
    drop = {**neuron_params, 'dropout': slayer.neuron.Dropout(p=0.05), 'levels': 3}
    net = block.Network([block.Input((2 * 8 * 8,)),
                         block.Dense(drop, 2 * 8 * 8, 64, weight_norm=True),
                         block.Dense(drop, 64, 32, weight_norm=True),
                         block.Dense(neuron_params, 32, 10)], timesteps=6)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    x = (torch.rand(4, 2 * 8 * 8, 6) < 0.3).float() * 4
    label = torch.tensor([0, 3, 7, 3])
    theta0 = float(net.blocks[1].neuron.threshold)
    for _ in range(3):
        loss = torch.nn.functional.cross_entropy(net(x).sum(-1), label)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert float(net.blocks[1].neuron.threshold) != theta0
    path = str(tmp_path / "ml.net")
    net.export_hdf5(path, allow_clipping=True)
    out = emulate(read_network(path), to_emulator_layout(x).long())
    with net.quantized(allow_clipping=True):
        rec = []
        net(x, rec)
    assert_layers_active(out)
    assert all(torch.equal(to_emulator_layout(rec[i]).long(), out[i].long())
               for i in range(len(rec)))
