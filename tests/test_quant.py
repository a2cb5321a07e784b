"""Q-SNN quantization: grids, gradients, WS-DR, and bit-exact deployment."""
import numpy as np
import pytest
import torch

from lava_mlsnn import quant
from lava_mlsnn.block import to_emulator_layout
from lava_mlsnn.models import dvs_convnet
from lava_mlsnn.netx import emulate, read_network
from layercheck import assert_layers_active
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


def _assert_emulator_equals_quantized(net, x, spec):
    """Every layer of ``spec`` run by the emulator equals the quantized forward, and carries
    data."""
    with net.quantized():
        record = []
        net(x, record)
    out = emulate(spec, to_emulator_layout(x).long())
    assert len(record) == len(out)
    assert_layers_active(out)
    for i, r in enumerate(record):
        assert torch.equal(to_emulator_layout(r), out[i]), f"layer {i} differs"


@pytest.mark.parametrize("weight_bits,membrane_bits", [(1, 8), (1, 4), (2, 8), (4, 4), (8, 8)])
def test_quantized_networks_bit_exact(tmp_path, weight_bits, membrane_bits):
    torch.manual_seed(weight_bits * 10 + membrane_bits)
    x = torch.randint(0, 8, (5, 2, 12, 12, 2)).float()
    net = _trained(dvs_convnet((2, 12, 12), 4, levels=3, weight_bits=weight_bits,
                               membrane_bits=membrane_bits, timesteps=2), x)
    path = str(tmp_path / "q.h5")
    net.export_hdf5(path)
    spec = read_network(path)
    _assert_emulator_equals_quantized(net, x, spec)
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
    _assert_emulator_equals_quantized(net, x, net.export_spec())


def test_binary_raw_unit_keeps_standardized_signs_and_the_raw_unit():
    torch.manual_seed(3)
    w = 0.04 * torch.randn(8, 4, 3, 3) + 0.01
    raw = quant.BinaryWeight(unit="raw")
    # plain transcription: signs of per-channel standardized weights (sign(0) = +1),
    # unit 2^round(log2(mean|w|)) of the raw weights
    centred = w - w.mean(dim=(1, 2, 3), keepdim=True)
    signs = torch.where(centred >= 0, 1.0, -1.0)
    unit = 2.0 ** round(float(torch.log2(w.abs().mean())))
    assert unit == 2.0 ** -5
    assert torch.equal(raw(w), signs * unit)
    q, u = raw.integer_grid(w)
    assert u == unit and torch.equal(q.float(), signs)
    assert float(quant.BinaryWeight()(w).abs().max()) == 1.0  # Q-SNN's unit: the standardized
    with pytest.raises(ValueError, match="unit must be 'standardized' or 'raw'"):
        quant.BinaryWeight(unit="weights")
    with pytest.raises(ValueError, match="one unit per layer"):
        quant.BinaryWeight(unit="raw", scale="channel")


def test_binary_raw_unit_exports_bit_exact(tmp_path):
    torch.manual_seed(4)
    x = torch.randint(0, 8, (5, 2, 12, 12, 2)).float()
    net = dvs_convnet((2, 12, 12), 4, levels=1, weight_bits=1, timesteps=2)
    assert quant.configure_binary_weights(net, unit="raw") == 2
    # untrained (zero BatchNorm shift): the integer threshold is theta / unit weight steps,
    # unit = 2^round(log2 mean|w|) of the raw weights (the input of both hidden layers is a
    # binary spike of a unit-threshold neuron)
    net.eval()
    spec = net.export_spec()
    hidden = [layer for layer in spec.layers if layer.weight_bits == 1]
    weights = [m.weight for m in net.modules() if isinstance(
        getattr(m, "pre_hook_fx", None), quant.BinaryWeight)]
    units = [2.0 ** round(float(torch.log2(w.detach().abs().mean()))) for w in weights]
    assert len(hidden) == 2 and units[0] < 0.1
    for layer, unit in zip(hidden, units):
        assert layer.neuron.v_th_mant == layer.weight_scale / unit
    net = _trained(net, x)
    path = str(tmp_path / "raw.h5")
    net.export_hdf5(path)
    _assert_emulator_equals_quantized(net, x, read_network(path))


@pytest.mark.parametrize("weight_bits", [1, 2])
def test_untrained_low_bit_net_exports_bit_exact(weight_bits):
    """A zero BatchNorm shift (no bias) sets no bound on the weight scale."""
    torch.manual_seed(5)
    net = dvs_convnet((2, 12, 12), 4, levels=2, weight_bits=weight_bits, timesteps=2).eval()
    x = torch.randint(0, 8, (3, 2, 12, 12, 2)).float()
    _assert_emulator_equals_quantized(net, x, net.export_spec())


def test_config_sets_the_binary_weight_options_and_refuses_them_elsewhere():
    from lava_mlsnn.train.config import ConfigError, resolve
    from lava_mlsnn.train.models import build_model
    qs = lambda net: [m for m in net.modules() if isinstance(m, quant.BinaryWeight)]  # noqa: E731
    default = build_model(resolve(overrides=["quant.weight_bits=1"]), (2, 16, 16), 5)
    assert [(q.standardize, q.unit) for q in qs(default)] == [(True, "standardized")] * 2
    cfg = resolve(overrides=["quant.weight_bits=1", "quant.standardize=false",
                             "quant.binary_unit=raw"])
    assert [(q.standardize, q.unit) for q in qs(build_model(cfg, (2, 16, 16), 5))] == \
        [(False, "raw")] * 2
    for item in ("quant.standardize=false", "quant.binary_unit=raw"):
        with pytest.raises(ConfigError, match=f"{item.split('=')[0]} applies to 1-bit weights "
                                              "only .* got quant.weight_bits=4"):
            resolve(overrides=["quant.weight_bits=4", item])
    with pytest.raises(ConfigError, match="quant.binary_unit must be one of"):
        resolve(overrides=["quant.weight_bits=1", "quant.binary_unit=channel"])
