"""Multi-level neuron: dynamics, gradients, training."""
import pytest
import torch

from lava_mlsnn import block
from lava_mlsnn.neuron import multilevel, readout


def test_t1_is_quantized_relu():
    """At T = 1 the neuron is exactly theta * clip(floor(x/theta + v_init), 0, N)."""
    n = multilevel.Neuron(threshold=0.5, levels=4, v_init=0.5)
    x = torch.linspace(-1, 4, 101).reshape(1, -1, 1)
    y = n(x)[0, :, 0]
    expected = 0.5 * torch.clamp(torch.floor(x[0, :, 0] / 0.5 + 0.5), 0, 4)
    assert torch.allclose(y, expected)


def test_soft_reset_keeps_residue():
    n = multilevel.Neuron(threshold=1.0, levels=2, v_init=0.0, learn_threshold=False)
    x = torch.full((1, 1, 4), 1.6)
    z = (n(x) / 1.0)[0, 0].tolist()
    # v: 1.6 -> z=1, res .6; 2.2 -> z=2, res .2; 1.8 -> 1, .8; 2.4 -> 2
    assert z == [1.0, 2.0, 1.0, 2.0]


@pytest.mark.parametrize("surrogate", ["ste", "sigmoid"])
def test_gradients_finite_nonzero(surrogate):
    torch.manual_seed(0)
    n = multilevel.Neuron(threshold=0.8, levels=3, surrogate=surrogate)
    x = (torch.randn(4, 10, 3) * 2).requires_grad_()
    n(x).square().sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert n.theta.grad is not None and torch.isfinite(n.theta.grad).all()
    assert float(n.theta.grad.abs()) > 0


def test_ste_threshold_gradient_is_lsq():
    """dy/dtheta = z - v/theta inside the range, N when saturated, 0 below."""
    n = multilevel.Neuron(threshold=1.0, levels=2, v_init=0.0)
    x = torch.tensor([[[-0.5], [0.7], [1.3], [5.0]]])
    y = n(x)
    grads = [torch.autograd.grad(y[0, i, 0], n.theta, retain_graph=True)[0].item()
             for i in range(4)]
    assert grads == pytest.approx([0.0, 0 - 0.7, 1 - 1.3, 2.0])


def test_training_lowers_loss():
    torch.manual_seed(1)
    x = torch.rand(64, 2, 8, 8, 1) * 3
    labels = (x[:, 0].sum((1, 2, 3)) > x[:, 1].sum((1, 2, 3))).long()
    p = dict(threshold=0.5, levels=3, norm=True)
    net = block.Network([block.Input((2, 8, 8), 3), block.Conv(p, 2, 4, 3, padding=1),
                         block.Flatten(), block.Readout(dict(), 256, 2)])
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(net(x)[..., -1], labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_readout_integrates():
    n = readout.Neuron(voltage_decay=0.5)
    v = n(torch.ones(1, 1, 3))[0, 0].tolist()
    assert v == pytest.approx([1.0, 1.5, 1.75])


def test_invalid_parameters():
    with pytest.raises(ValueError):
        multilevel.Neuron(levels=0)
    with pytest.raises(ValueError):
        multilevel.Neuron(threshold=0)
