"""Q-SNN quantization: grids, gradients, WS-DR, and bit-exact deployment."""
import numpy as np
import pytest
import torch

from lava_mlsnn import quant
from lava_mlsnn.block import to_emulator_layout
from lava_mlsnn.models import dvs_convnet
from lava_mlsnn.netx import emulate, read_network
from netfactory import nudge


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_weights_lie_on_the_grid(bits):
    torch.manual_seed(bits)
    w = torch.randn(8, 4, 3, 3) * 0.3 + 0.05
    qz = quant.weight_quantizer(bits)
    wq = qz(w)
    q, unit = qz.integer_grid(w)
    assert torch.allclose(wq.double(), q * unit, atol=1e-6)
    assert torch.equal(q, q.round())
    qmax = 1 if bits == 1 else 2 ** (bits - 1) - 1
    assert float(q.abs().max()) <= qmax
    if bits == 1:
        assert set(q.unique().tolist()) == {-1.0, 1.0}


def test_binary_standardization_balances_signs():
    torch.manual_seed(0)
    w = torch.randn(16, 8, 3, 3) + torch.linspace(-2, 2, 16).reshape(16, 1, 1, 1)
    q, _ = quant.BinaryWeight().integer_grid(w)
    positive = (q > 0).double().mean(dim=(1, 2, 3))
    assert float((positive - 0.5).abs().max()) < 0.15  # each channel ~50 % positive
    assert abs(float(positive.mean()) - 0.5) < 0.05


def test_binary_surrogate_gradient_and_schedule():
    qz = quant.BinaryWeight()
    w = (torch.randn(4, 6) * 0.5).requires_grad_()
    qz(w).mul(torch.randn(4, 6)).sum().backward()
    assert torch.isfinite(w.grad).all() and float(w.grad.abs().sum()) > 0
    assert qz.t == pytest.approx(0.1) and qz.k == pytest.approx(10)
    qz.set_progress(1.0)
    assert qz.t == pytest.approx(10) and qz.k == pytest.approx(1)
    qz.set_progress(0.5)
    assert qz.t == pytest.approx(1.0)


def test_uniform_ste_gradient():
    w = torch.randn(5, 5, requires_grad=True)
    quant.UniformWeight(4)(w).sum().backward()
    assert torch.allclose(w.grad, torch.ones_like(w))


def test_static_membrane_quantizer_matches_integer_shift():
    mq = quant.StaticMembraneQuant(4, range_log2=2)  # step theta/2, range +-4 theta
    theta = torch.tensor([1.0])
    v = torch.tensor([-10.0, -0.2, 0.3, 0.7, 3.9, 9.0])
    assert mq(v, theta).tolist() == [-4.0, -0.5, 0.0, 0.5, 3.5, 3.5]
    # integer form: vThMant 64 -> th = 4096, step 2^vExp = 2048
    assert mq.v_exp(64) == 6 + 6 - 1
    with pytest.raises(ValueError):
        mq.v_exp(48)


def test_tanh_membrane_quantizer_is_not_exportable():
    net = dvs_convnet((2, 8, 8), 3, levels=2)
    net.blocks[1].neuron.v_quant = quant.TanhMembraneQuant(8)
    with pytest.raises(ValueError, match="not deployable"):
        net.export_spec()


def test_spike_entropy_value_and_gradient():
    """Hand-computed: four neurons, rates 0.1, 0.3, 0.8, 0.2; the first and last excluded."""
    from lava_mlsnn.neuron import multilevel
    net = torch.nn.ModuleList([multilevel.Neuron(levels=2) for _ in range(4)])
    rates = [torch.tensor(r, requires_grad=True) for r in (0.1, 0.3, 0.8, 0.2)]
    for n, r in zip(net, rates):
        n.rate = r
    loss = quant.SpikeEntropy(lam=5e-3)(net)
    assert float(loss) == pytest.approx(5e-3 * ((0.3 - 0.5) ** 2 + (0.8 - 0.5) ** 2) / 2)
    loss.backward()
    assert rates[0].grad is None and rates[3].grad is None
    assert float(rates[1].grad) == pytest.approx(5e-3 * 2 * (0.3 - 0.5) / 2)
    assert float(rates[2].grad) == pytest.approx(5e-3 * 2 * (0.8 - 0.5) / 2)


def _trained(net, x, steps=3):
    return nudge(net, x, steps, quant.SpikeEntropy())


@pytest.mark.parametrize("weight_bits,membrane_bits", [(1, 8), (1, 4), (2, 8), (4, 4), (8, 8)])
def test_quantized_networks_bit_exact(tmp_path, weight_bits, membrane_bits):
    torch.manual_seed(weight_bits * 10 + membrane_bits)
    x = torch.randint(0, 8, (5, 2, 12, 12, 2)).float()
    net = _trained(dvs_convnet((2, 12, 12), 4, levels=3, weight_bits=weight_bits,
                               membrane_bits=membrane_bits, timesteps=2), x)
    with net.quantized():
        record = []
        net(x, record)
    path = str(tmp_path / "q.h5")
    net.export_hdf5(path)
    spec = read_network(path)
    out = emulate(spec, to_emulator_layout(x).long())
    for i, r in enumerate(record):
        assert torch.equal(to_emulator_layout(r), out[i])
    hidden = [layer for layer in spec.layers if layer.weight_bits and layer.weight_bits < 8]
    if weight_bits < 8:
        assert hidden
        for layer in hidden:
            w = layer.branches[0].synapse.weight
            q = w // layer.weight_scale
            assert np.array_equal(q * layer.weight_scale, w)
            assert np.abs(q).max() <= max(1, 2 ** (weight_bits - 1) - 1)
    assert all(layer.neuron.v_bits == membrane_bits for layer in spec.layers
               if layer.neuron is not None and layer.neuron.type == "MLSN")


def test_quantized_residual_bit_exact():
    torch.manual_seed(0)
    from lava_mlsnn import block
    p = dict(threshold=0.8, levels=3, membrane=quant.StaticMembraneQuant(8))
    net = block.Network([block.Input((2, 10, 10), 3), block.Conv({**p, "norm": True}, 2, 6, 3,
                                                                    padding=1),
                         block.ResidualBlock("sparse", p, 6, 6, weight_quant=quant.BinaryWeight),
                         block.ResidualBlock("sparse", p, 6, 8, stride=2,
                                             weight_quant=lambda: quant.UniformWeight(2)),
                         block.Flatten(), block.Readout({}, 8 * 25, 3)], timesteps=1)
    x = torch.randint(0, 5, (4, 2, 10, 10, 1)).float()
    _trained(net, x)
    with net.quantized():
        record = []
        net(x, record)
    out = emulate(net.export_spec(), to_emulator_layout(x).long())
    for i, r in enumerate(record):
        assert torch.equal(to_emulator_layout(r), out[i])
