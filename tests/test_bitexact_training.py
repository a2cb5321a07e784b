"""Training-side quantized forward == emulator of the exported file, every layer, every step."""
import numpy as np
import pytest
import torch

from lava_mlsnn.block import to_emulator_layout
from lava_mlsnn.netx import emulate, read_network
from layercheck import assert_layers_active
from netfactory import random_training_net

CASES = [(seed, levels, steps, conv) for seed, (levels, steps, conv) in enumerate(
    [(1, 1, True), (3, 1, True), (15, 1, True), (3, 3, True), (1, 3, False), (15, 3, False),
     (3, 2, False), (15, 3, True)])]


@pytest.mark.parametrize("seed,levels,steps,conv", CASES)
def test_quantized_forward_equals_emulator(tmp_path, seed, levels, steps, conv):
    net, x = random_training_net(seed, levels, steps, conv)
    with net.quantized():
        record = []
        net(x, record)
    path = str(tmp_path / "net.h5")
    net.export_hdf5(path)
    spec = read_network(path)  # through the file, as a user would deploy it
    out = emulate(spec, to_emulator_layout(x).long())
    assert len(record) == len(spec.layers)
    assert_layers_active(out)
    for i, layer_out in enumerate(record):
        got = to_emulator_layout(layer_out)
        assert torch.equal(got, out[i]), f"layer {i} ({spec.layers[i].type}) differs"
    # spiking layers stay within their levels
    for i, layer in enumerate(spec.layers):
        if layer.neuron is not None and layer.neuron.type == "MLSN":
            assert int(out[i].max()) <= levels and int(out[i].min()) >= 0


def test_float_and_quantized_paths_agree_closely():
    """The float path differs only by quantization: most predictions agree."""
    net, x = random_training_net(3, 15, 1, True, train_steps=0)
    x = torch.cat([x] * 4)
    with torch.no_grad():
        yf = net(x)[..., -1]
        with net.quantized():
            yq = net(x)[..., -1].double()
    corr = np.corrcoef(yf.flatten().numpy(), yq.flatten().numpy())[0, 1]
    assert corr > 0.9


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cuba_blocks_lava_dl_forward_equals_emulator(seed):
    """Stock lava-dl CUBA dynamics (its own float forward) == our integer path == emulator."""
    from lava_mlsnn import block
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    cp = dict(threshold=float(rng.uniform(0.5, 1.5)), current_decay=float(rng.uniform(0, 1)),
              voltage_decay=float(rng.uniform(0, 0.5)))
    net = block.Network([block.Input((2, 9, 9), 1),
                         block.cuba.Conv(cp, 2, 4, 3, padding=1, stride=2, weight_scale=3),
                         block.Flatten(), block.cuba.Dense(cp, 100, 12, weight_scale=3),
                         block.Readout({}, 12, 3)], timesteps=6)
    x = (torch.rand(4, 2, 9, 9, 6) < 0.3).float()
    net.eval()
    float_rec = []
    net(x, float_rec)
    with net.quantized():
        rec = []
        net(x, rec)
    out = emulate(net.export_spec(), to_emulator_layout(x).long())
    assert_layers_active(out)
    for i in range(len(rec)):
        assert torch.equal(to_emulator_layout(rec[i]), out[i])
        if i < 4:  # spiking layers: lava-dl's own forward gives the same spikes
            assert torch.equal(to_emulator_layout(float_rec[i]).long(), out[i])


def test_blockwise_export_in_lava_dl_style(tmp_path):
    """``for i, b in enumerate(blocks): b.export_hdf5(layer.create_group(str(i)))`` works
    once folded, and gives the same layers as Network.export_hdf5."""
    import h5py
    net, x = random_training_net(5, 3, 1, conv=False)
    with pytest.raises(ValueError, match="takes an h5py group"):
        net.blocks[1].export_hdf5(None)
    net.quantize()
    path = str(tmp_path / "blocks.h5")
    with h5py.File(path, "w") as f:
        group = f.create_group("layer")
        for i, b in enumerate(net.blocks):
            b.export_hdf5(group.create_group(str(i)))
    net.dequantize()
    stock_style = read_network(path)  # the Input block wrote the root attributes
    assert not stock_style.stock and stock_style.input_levels == net.input_block.levels
    whole = net.export_spec()
    x_file = to_emulator_layout(x).long().clamp(max=1)
    a, b = emulate(stock_style, x_file), emulate(whole, x_file)
    assert_layers_active(b)
    assert all(torch.equal(a[i], b[i]) for i in b)
