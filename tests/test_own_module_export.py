"""lava-dl's own-Module export pattern with lava-mlsnn blocks (block.own_export)."""
import h5py
import pytest
import torch

from lava_mlsnn import block
from lava_mlsnn.backends.emulator import emulate
from lava_mlsnn.block import to_emulator_layout
from lava_mlsnn.block.own_export import BlockExportError
from lava_mlsnn.format.reader import read_network
from layercheck import assert_layers_active


class OwnNet(torch.nn.Module):
    """A user's Module as lava-dl's tutorials write it (no block.Network)."""

    def __init__(self):
        super().__init__()
        self.blocks = torch.nn.ModuleList([
            block.Input((2, 8, 8), levels=2),
            block.Conv({"threshold": 0.4, "levels": 3, "norm": True}, 2, 4, 3, padding=1),
            block.Pool({"threshold": 0.6, "levels": 2}, 2),
            block.Flatten(),
            block.Dense({"threshold": 0.3, "levels": 2, "tau_grad": 0.5}, 4 * 4 * 4, 12,
                        weight_norm=True),
            block.Readout({"norm": True}, 12, 3)])

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return x

    def export_hdf5(self, filename):
        with h5py.File(filename, "w") as h:
            layer = h.create_group("layer")
            for i, b in enumerate(self.blocks):
                b.export_hdf5(layer.create_group(f"{i}"))


def _trained(steps=3):
    torch.manual_seed(3)
    net = OwnNet()
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    x = torch.randint(0, 3, (6, 2, 8, 8, 4)).float()
    for _ in range(steps):  # the last step leaves the weight-normed weight one step old
        loss = net(x).sum(-1).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net, x


def test_lazy_blockwise_export_equals_network_export(tmp_path):
    net, x = _trained()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    path = str(tmp_path / "own.net")
    net.export_hdf5(path)  # no quantize() call
    assert net.training and all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    spec = read_network(path)
    assert not spec.stock and spec.input_levels == 2 and spec.input_shape == (2, 8, 8)
    whole = block.Network(list(net.blocks), timesteps=4)
    x_in = to_emulator_layout(x).long()
    ours, ref = emulate(spec, x_in), emulate(whole.export_spec(), x_in)
    assert_layers_active(ref)
    assert sorted(ours) == sorted(ref) and all(torch.equal(ours[i], ref[i]) for i in ref)
    with whole.quantized():  # and the quantized forward of the trained blocks
        rec = []
        whole(x, rec)
    assert all(torch.equal(to_emulator_layout(rec[i]).long(), ref[i].long())
               for i in range(len(rec)))


def test_out_of_order_or_without_input_refused(tmp_path):
    net, _ = _trained(1)
    with h5py.File(tmp_path / "a.net", "w") as h:
        layer = h.create_group("layer")
        with pytest.raises(BlockExportError, match="layer/0 is Conv: the first block"):
            net.blocks[1].export_hdf5(layer.create_group("0"))
    with h5py.File(tmp_path / "b.net", "w") as h:
        layer = h.create_group("layer")
        net.blocks[0].export_hdf5(layer.create_group("0"))
        with pytest.raises(BlockExportError, match="layer/1 of this file was not written"):
            net.blocks[2].export_hdf5(layer.create_group("2"))
    with h5py.File(tmp_path / "c.net", "w") as h:
        with pytest.raises(BlockExportError, match="writes into /layer/<i> groups"):
            net.blocks[0].export_hdf5(h.create_group("blocks/0"))


def test_shape_unknown_before_a_forward_refused(tmp_path):
    blocks = [block.Input((2, 6, 6)), block.Conv({}, 2, 3, 3)]
    with h5py.File(tmp_path / "d.net", "w") as h:
        layer = h.create_group("layer")
        blocks[0].export_hdf5(layer.create_group("0"))
        with pytest.raises(BlockExportError, match="run the network once first"):
            blocks[1].export_hdf5(layer.create_group("1"))


def test_cuba_blocks_after_an_input_in_the_pattern(tmp_path):
    """lava_mlsnn.block.cuba blocks write lava-dl's own groups; after a block.Input the file
    is a lava-mlsnn file whose layers equal Network.export_hdf5's."""
    torch.manual_seed(0)
    n = {"threshold": 0.1, "current_decay": 1, "voltage_decay": 0.1, "requires_grad": True}
    blocks = [block.Input((20,)), block.cuba.Dense(n, 20, 16), block.cuba.Dense(n, 16, 8)]
    net = block.Network(blocks)
    x = (torch.rand(2, 20, 10) < 0.3).float()
    net(x)
    path = str(tmp_path / "cuba.net")
    with h5py.File(path, "w") as h:
        layer = h.create_group("layer")
        for i, b in enumerate(blocks):
            b.export_hdf5(layer.create_group(f"{i}"))
    spec = read_network(path)
    assert not spec.stock
    x_in = to_emulator_layout(x).long()
    ours, ref = emulate(spec, x_in), emulate(net.export_spec(), x_in)
    assert_layers_active(ref)
    assert all(torch.equal(ours[i], ref[i]) for i in ref)
