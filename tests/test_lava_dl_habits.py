"""A lava-dl user's habits: neuron dicts, lava-dl blocks in a Network, shape mistakes."""
import pytest
import torch
import lava.lib.dl.slayer as slayer
from lava.lib.dl.slayer.spike.spike import _spike_backward

from lava_mlsnn import block
from lava_mlsnn.block.build_checks import BuildError
from lava_mlsnn.neuron.lava_dl import NeuronParamError

# lava-dl's NMNIST tutorial dict (tutorials/lava/lib/dl/slayer/nmnist/train.ipynb), with
# requires_grad at the value that means the same thing here
NMNIST = {"threshold": 1.25, "current_decay": 0.25, "voltage_decay": 0.03, "tau_grad": 0.03,
          "scale_grad": 3, "requires_grad": False}


def test_lava_dl_keys_mean_the_same_thing():
    d = block.Dense({**NMNIST, "shared_param": True, "graded_spike": False, "scale": 64,
                     "persistent_state": False,
                     "dropout": slayer.neuron.Dropout(p=0.05)}, 8, 4)
    cfg = d.neuron.cfg
    assert (cfg.current_decay, cfg.voltage_decay, cfg.tau_grad, cfg.scale_grad) == \
        (0.25, 0.03, 0.03, 3.0)
    assert cfg.surrogate == "exp" and d.neuron.threshold == 1.25
    assert isinstance(d.neuron.drop, slayer.neuron.Dropout)


@pytest.mark.parametrize("key,value", [("requires_grad", True), ("shared_param", False),
                                       ("graded_spike", True), ("scale", 1 << 5),
                                       ("threshold_step", 0.1), ("tau_gard", 1.0),
                                       ("current_decay", (0.1, 0.2))])
def test_other_keys_refused_naming_the_key(key, value):
    with pytest.raises(NeuronParamError) as err:
        block.Dense({**NMNIST, key: value}, 8, 4)
    msg = str(err.value)
    assert f"neuron_params[{key!r}]" in msg and "\n" not in msg


def test_surrogate_keys_refused_with_another_surrogate():
    with pytest.raises(NeuronParamError, match="tau_grad.*'sigmoid'"):
        block.Dense({"tau_grad": 0.5, "surrogate": "sigmoid"}, 4, 2)


def test_lava_dl_norm_classes():
    d = block.Dense({"norm": slayer.neuron.norm.MeanOnlyBatchNorm}, 8, 4)
    assert d.neuron.norm.mean_only and d.neuron.norm.num_features == 4
    with pytest.raises(NeuronParamError, match="WgtScaleBatchNorm"):
        block.Dense({"norm": slayer.neuron.norm.WgtScaleBatchNorm}, 8, 4)


def test_readout_takes_the_hidden_dict_but_not_a_current_decay():
    r = block.Readout({**NMNIST, "current_decay": 1, "voltage_decay": 0.1}, 8, 4)
    assert r.neuron.voltage_decay == 0.1
    with pytest.raises(NeuronParamError, match="current_decay"):
        block.Readout(NMNIST, 8, 4)  # 0.25: a readout has no current state


@pytest.mark.parametrize("tau_grad,scale_grad", [(0.03, 3.0), (1.0, 1.0), (0.5, 2.0)])
def test_exp_surrogate_is_lava_dls_spike_gradient(tau_grad, scale_grad):
    theta = 1.25
    n = block.Dense({"threshold": theta, "tau_grad": tau_grad, "scale_grad": scale_grad,
                     "v_init": 0.0, "learn_threshold": False}, 1, 1).neuron
    v = torch.linspace(-1.0, 4.0, 41).reshape(41, 1, 1).requires_grad_()
    n(v).sum().backward()  # one step: v[0] = input; output theta * z
    ours = v.grad.reshape(-1) / theta  # d z / d v
    ref = _spike_backward(v.detach().reshape(-1), theta, tau_grad * theta, scale_grad)
    assert torch.allclose(ours, ref, rtol=1e-5, atol=1e-7)
    assert float(ours.max()) > 0


def test_lava_dl_block_in_a_network_refused_naming_it():
    with pytest.raises(BuildError) as err:
        block.Network([block.Input((200,)), slayer.block.cuba.Dense(NMNIST, 200, 10)])
    assert str(err.value) == ("block 1 is lava-dl's slayer.block.cuba.Dense, which "
                              "block.Network cannot fold or export: use "
                              "lava_mlsnn.block.cuba.Dense (the same block and arguments, "
                              "with the integer export)")
    with pytest.raises(BuildError, match="no counterpart"):
        block.Network([block.Input((2, 8, 8)), slayer.block.cuba.Pool(NMNIST, 2)])
    with pytest.raises(BuildError, match=r"block 1 \(Linear\) is not a lava-mlsnn block"):
        block.Network([block.Input((4,)), torch.nn.Linear(4, 2)])


def test_delay_refusal_says_what_works():
    with pytest.raises(ValueError) as err:
        block.Dense(NMNIST, 8, 4, delay=True)
    msg = str(err.value)
    assert "export_hdf5" in msg and "stock netx" in msg and "block.cuba" not in msg


@pytest.mark.parametrize("blocks,msg", [
    (lambda: [block.Input((64,)), block.Dense({}, 60, 10)],
     "block 1 (Dense) reads 60 features but block 0 sends shape (64,)"),
    (lambda: [block.Input((2, 8, 8)), block.Conv({}, 2, 4, 3), block.Flatten(),
              block.Readout({}, 100, 3)],
     "block 3 (Readout) reads 100 features but block 2 sends shape (144,)"),
    (lambda: [block.Input((2, 8, 8)), block.Conv({}, 3, 4, 3)],
     "block 1 (Conv) reads 3 channels but block 0 sends shape (2, 8, 8)"),
    (lambda: [block.Input((2, 8, 8)), block.Conv({}, 2, 4, 3), block.Dense({}, 144, 10)],
     "block 2 (Dense) reads 144 features but block 1 sends shape (4, 6, 6): add "
     "block.Flatten() before it"),
    (lambda: [block.Input((2, 2, 2)), block.Pool({}, 4)],
     "block 1 (Pool) leaves no output from shape (2, 2, 2) (kernel (4, 4))"),
    (lambda: [block.Input((16,)), block.cuba.Dense(NMNIST, 8, 4)],
     "block 1 (Dense) reads 8 features but block 0 sends shape (16,)"),
])
def test_shape_mismatch_refused_when_built(blocks, msg):
    with pytest.raises(BuildError) as err:
        block.Network(blocks())
    assert str(err.value) == msg


def test_matching_shapes_build_through_pool_and_residual():
    net = block.Network([block.Input((2, 8, 8)), block.Conv({}, 2, 4, 3, padding=1),
                         block.ResidualBlock("sparse", {}, 4, 6, stride=2), block.Pool({}, 2),
                         block.Flatten(), block.Readout({}, 6 * 2 * 2, 3)])
    assert net(torch.rand(1, 2, 8, 8, 2)).shape == (1, 3, 2)
    with pytest.raises(BuildError, match=r"block 5 \(Readout\) reads 96 features"):
        block.Network([block.Input((2, 8, 8)), block.Conv({}, 2, 4, 3, padding=1),
                       block.ResidualBlock("sparse", {}, 4, 6, stride=2), block.Pool({}, 2),
                       block.Flatten(), block.Readout({}, 96, 3)])


@pytest.mark.parametrize("key,value,msg", [("graded_spike", True, "graded_spike=True"),
                                           ("shared_param", False, "shared_param=False")])
def test_cuba_block_options_without_deployed_form_refused_at_export(key, value, msg):
    net = block.Network([block.Input((6,)), block.cuba.Dense({**NMNIST, key: value}, 6, 4)])
    with pytest.raises(block.FoldError, match=msg):
        net.export_spec()


def test_residual_block_takes_the_lava_dl_dict():
    r = block.ResidualBlock("sparse", NMNIST, 4, 4)
    assert r.join_neuron.cfg.surrogate == "exp" and r.conv1.neuron.cfg.tau_grad == 0.03
    with pytest.raises(NeuronParamError, match="requires_grad"):
        block.ResidualBlock("sparse", {**NMNIST, "requires_grad": True}, 4, 4)


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=25, deadline=None, derandomize=True)
@given(h=st.integers(1, 12), k=st.integers(1, 5), s=st.integers(1, 3), p=st.integers(0, 2),
       d=st.integers(1, 2), pool=st.integers(1, 3))
def test_build_shapes_equal_torchs_forward(h, k, s, p, d, pool):
    """The shapes the build check derives from the parameters are the ones torch's forward
    gives (conv edges: kernel reaching the padding, strides past the end); a network whose
    conv or pool leaves nothing is refused at build, not inside torch."""
    from lava_mlsnn.block.build_checks import output_shape
    conv = block.Conv({}, 2, 3, k, stride=s, padding=p, dilation=d)
    try:
        after_conv = output_shape(1, conv, (2, h, h))
    except BuildError:
        with pytest.raises(RuntimeError):
            conv(torch.zeros(1, 2, h, h, 1))
        return
    y = conv(torch.zeros(1, 2, h, h, 1))
    assert tuple(y.shape[1:-1]) == after_conv
    p_blk = block.Pool({}, pool)
    try:
        after_pool = output_shape(2, p_blk, after_conv)
    except BuildError:
        assert min(after_conv[1:]) < pool
        return
    assert tuple(p_blk(y).shape[1:-1]) == after_pool
    n = 3 * after_pool[1] * after_pool[2]
    net = block.Network([block.Input((2, h, h)), conv, p_blk, block.Flatten(),
                         block.Readout({}, n, 2)])
    assert net(torch.zeros(1, 2, h, h, 1)).shape == (1, 2, 1)
    with pytest.raises(BuildError, match=f"reads {n + 1} features"):
        block.Network([block.Input((2, h, h)), block.Conv({}, 2, 3, k, stride=s, padding=p,
                                                          dilation=d),
                       block.Pool({}, pool), block.Flatten(), block.Readout({}, n + 1, 2)])


@pytest.mark.parametrize("kwargs,name", [({"dilation": 2}, "dilation"),
                                         ({"weight_norm": True}, "weight_norm"),
                                         ({"weight_scale": 3}, "weight_scale"),
                                         ({"pre_hook_fx": lambda w: w}, "pre_hook_fx")])
def test_pool_arguments_without_effect_refused(kwargs, name):
    with pytest.raises(ValueError, match=f"Pool: {name} is not supported"):
        block.Pool({}, 2, **kwargs)
    p = block.Pool({}, 2, dilation=(1, 1), count_log=False)
    assert p.synapse.kernel_size == (2, 2)


def test_dense_mask_is_applied_in_training_and_export():
    torch.manual_seed(4)
    mask = (torch.rand(5, 8) < 0.5).float()
    net = block.Network([block.Input((8,), levels=3),
                         block.Dense({"threshold": 0.3, "levels": 2}, 8, 5, mask=mask),
                         block.Readout({}, 5, 2)], timesteps=3)
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    x = torch.randint(0, 4, (4, 8, 3)).float()
    net(x).sum().backward()
    opt.step()  # the step moves masked weights too; lava-dl masks them before each use
    assert torch.any(net.blocks[1].synapse.weight[..., 0, 0, 0][mask == 0] != 0)
    before = net.blocks[1].synapse.weight.detach().clone()
    spec = net.export_spec()
    assert torch.equal(net.blocks[1].synapse.weight, before)  # export changes nothing
    w = spec.layers[1].branches[0].synapse.weight
    assert (w[mask.numpy() == 0] == 0).all() and (w[mask.numpy() == 1] != 0).any()
    ref = block.Dense({"threshold": 0.3, "levels": 2}, 8, 5)
    ref.load_state_dict({k: v for k, v in net.blocks[1].state_dict().items() if k != "mask"},
                        strict=False)
    with torch.no_grad():
        ref.synapse.weight.data *= mask.reshape(5, 8, 1, 1, 1)
        assert torch.equal(net.blocks[1](x), ref(x))


def test_count_log_refused():
    with pytest.raises(ValueError, match="count_log=True is not supported"):
        block.Dense({}, 4, 2, count_log=True)
