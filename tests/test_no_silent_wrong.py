"""Regression tests for answers that used to be wrong without an error: evaluation over a
shuffling loader, the classification rule, CUBA norms at export, clipped thresholds and
saturated weights at folding, export inside ``quantized()``, biases beyond 13 bits, and the
float-vs-integer agreement at T > 1 with trained BatchNorm statistics and decays."""
import warnings

import numpy as np
import pytest
import torch
from lava.lib.dl import slayer

from lava_mlsnn import block, fixed
from lava_mlsnn.backends.emulator import emulate
from lava_mlsnn.backends.loihi2.report import deployment_warnings
from lava_mlsnn.block import FoldError, FoldWarning, to_emulator_layout
from lava_mlsnn.classify import classify, classify_spec
from lava_mlsnn.format.reader import read_network
from lava_mlsnn.train import evaluate, predict
from layercheck import assert_layers_active
from netfactory import nudge, random_training_net
from reference_plain import run_reference


# --------------------------------------------------------------------------- evaluation
def test_evaluate_is_one_pass_over_a_shuffling_loader():
    net, x = random_training_net(3, 3, 2, conv=False)
    x = torch.cat([x] * 5)
    labels = predict(net, [(x, torch.zeros(len(x)))])  # the net's own answers: a perfect fit
    assert len(set(labels.tolist())) > 1
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, labels),
                                         batch_size=4, shuffle=True)
    assert evaluate(net, loader) == 1.0
    assert evaluate(net, loader, quantized=False) == 1.0


# --------------------------------------------------------------------------- classify
@pytest.mark.parametrize("kind", [np.asarray, torch.as_tensor])
def test_one_classification_rule(kind):
    out = kind(np.array([[[0, 5, 1], [3, 0, 0]],     # readout: last step -> 0; sum -> 1
                         [[2, 2, 0], [0, 0, 0]]]))   # tie -> lowest index, both rules
    assert list(classify(out, readout=True)) == [0, 0]
    assert list(classify(out, readout=False)) == [1, 0]
    slayer_layout = kind(np.moveaxis(np.asarray(out), 1, -1))
    assert list(classify(slayer_layout, readout=False, time_axis=-1)) == [1, 0]


def test_commands_classify_a_cuba_output_file_alike(tmp_path):
    """A spiking (CUBA) output layer: the emulator API, file evaluation and the training
    side all sum the payload over time."""
    from lava_mlsnn.backends.evaluate import evaluate_file
    torch.manual_seed(0)
    cp = dict(threshold=0.4, current_decay=0.5, voltage_decay=0.1)
    net = block.Network([block.Input((12,), 1), block.cuba.Dense(cp, 12, 16, weight_scale=3),
                         block.cuba.Dense(cp, 16, 4, weight_scale=3)], timesteps=8)
    x = (torch.rand(32, 12, 8) < 0.5).float()
    path = str(tmp_path / "cuba.h5")
    net.export_hdf5(path)
    spec = read_network(path)
    emu = emulate(spec, to_emulator_layout(x).long())
    assert_layers_active(emu, [1, 2])
    by_sum = emu[2].sum(1).argmax(-1)
    assert not torch.equal(by_sum, emu[2][:, -1].argmax(-1))  # the two rules differ here
    from lava_mlsnn.backends.emulator import classify as emu_classify
    assert torch.equal(emu_classify(emu[2], spec), classify_spec(spec, emu[2]))
    ev, _ = evaluate_file(spec, to_emulator_layout(x).long().numpy(), by_sum.numpy())
    assert ev.accuracy == 1.0
    assert torch.equal(predict(net, [(x, by_sum)], quantized=True), by_sum)


# --------------------------------------------------------------------------- CUBA norm
@pytest.mark.parametrize("conv", [False, True])
def test_cuba_norm_exports_its_bias_as_lava_dl_does(conv):
    torch.manual_seed(3)
    cp = dict(threshold=0.5, current_decay=0.3, voltage_decay=0.05,
              norm=slayer.neuron.norm.MeanOnlyBatchNorm)
    if conv:
        blocks = [block.Input((2, 8, 8), 1), block.cuba.Conv(cp, 2, 4, 3, padding=1,
                                                             weight_scale=3), block.Flatten(),
                  block.cuba.Dense(cp, 256, 6, weight_scale=3)]
        x = (torch.rand(6, 2, 8, 8, 5) < 0.4).float()
    else:
        blocks = [block.Input((20,), 1), block.cuba.Dense(cp, 20, 10, weight_scale=3),
                  block.cuba.Dense(cp, 10, 6, weight_scale=3)]
        x = (torch.rand(6, 20, 5) < 0.4).float()
    net = block.Network(blocks, timesteps=5)
    net.train()
    for _ in range(3):  # running means move away from 0
        net(x + (torch.rand_like(x) < 0.3).float())
    net.eval()
    float_rec = []
    net(x, float_rec)  # lava-dl's own forward, norm included
    spec = net.export_spec()
    biased = [i for i, layer in enumerate(spec.layers) if layer.neuron is not None
              and layer.neuron.bias is not None and np.any(layer.neuron.bias != 0)]
    assert biased, "the norms must reach the file as biases"
    out = emulate(spec, to_emulator_layout(x).long())
    spiking = [i for i, layer in enumerate(spec.layers) if layer.type != "flatten"
               and layer.neuron.type == "CUBA"]
    assert_layers_active(out, spiking)
    for i in spiking:
        assert torch.equal(to_emulator_layout(float_rec[i]).long(), out[i]), f"layer {i}"


def test_cuba_weight_scaling_norm_is_refused():
    cp = dict(threshold=0.5, current_decay=0.3, voltage_decay=0.05,
              norm=slayer.neuron.norm.WgtScaleBatchNorm)
    net = block.Network([block.Input((20,), 1), block.cuba.Dense(cp, 20, 6, weight_scale=3)])
    net.train()
    for _ in range(20):
        net(torch.rand(4, 20, 3) * 400)
    assert float(net.blocks[1].neuron.norm.std(net.blocks[1].neuron.norm.running_var)) > 1
    with pytest.raises(FoldError, match="MeanOnlyBatchNorm"):
        net.export_spec()


# --------------------------------------------------------------------------- folding
def _tiny_threshold_net():
    torch.manual_seed(0)
    net = block.Network([block.Input((20,), 1),
                         block.Dense(dict(threshold=0.002, learn_threshold=False), 20, 10),
                         block.Readout({}, 10, 3)])
    with torch.no_grad():
        net.blocks[1].synapse.weight.mul_(10)
    return net


def test_folding_refuses_a_clipped_threshold():
    net = _tiny_threshold_net()
    with pytest.raises(FoldError, match=r"block 1 \(Dense\).*vThMant would be clipped.*"
                       r"weights saturate"):
        net.export_spec()
    assert not net.is_quantized  # nothing half-folded is left behind


def test_folding_warns_with_counts_when_allowed():
    net = _tiny_threshold_net()
    with pytest.warns(FoldWarning, match=r"\d+ of 200 weights saturate"):
        spec = net.export_spec(allow_clipping=True)
    assert spec.layers[1].neuron.v_th_mant == 1


def test_export_spec_leaves_quantized_mode_alone():
    net, x = random_training_net(4, 3, 2)
    with net.quantized():
        before = net(x)
        spec = net.export_spec()
        assert net.is_quantized
        after = net(x)
        assert torch.equal(before, after)
        assert after.dtype == torch.int64
        with net.quantized():  # re-entrant
            pass
        assert net.is_quantized
    assert not net.is_quantized
    assert len(spec.layers) > 2


# --------------------------------------------------------------------------- biases
def test_large_biases_get_an_exponent_and_stay_exact(tmp_path):
    torch.manual_seed(1)
    net = block.Network([block.Input((30,), 3),
                         block.Dense(dict(threshold=0.5, norm=True), 30, 12),
                         block.Readout(dict(norm=True), 12, 4)], timesteps=3)
    x = torch.randint(0, 4, (8, 30, 3)).float()
    nudge(net, x)
    with torch.no_grad():  # BatchNorm shifts far beyond the weights
        for m in net.modules():
            if hasattr(m, "running_mean"):
                m.running_mean.mul_(0).add_(torch.linspace(-40, 40, len(m.running_mean)))
    path = str(tmp_path / "bias.h5")
    net.export_hdf5(path)
    spec = read_network(path)
    exps = [layer.neuron.bias_exp for layer in spec.layers[1:]]
    assert max(exps) > fixed.BIAS_EXP_DEFAULT
    assert not [w for w in deployment_warnings(spec) if "bias" in w]
    for layer in spec.layers[1:]:
        assert np.abs(layer.neuron.bias).max() <= fixed.BIAS_MANT_MAX
    with net.quantized():
        rec = []
        net(x, rec)
    out = emulate(spec, to_emulator_layout(x).long())
    ref = run_reference(spec, to_emulator_layout(x).long().numpy())
    assert_layers_active(out, [1, 2])
    for i in range(len(spec.layers)):
        assert torch.equal(to_emulator_layout(rec[i]), out[i])
        assert np.array_equal(ref[i], out[i].numpy())


def test_files_without_bias_exp_read_as_before(tmp_path):
    """Absent ``biasExp`` means 6; it is written only where it differs from 6."""
    import h5py
    net, _ = random_training_net(0, 3, 1, conv=False)
    path = str(tmp_path / "old.h5")
    spec = net.export_hdf5(path)
    with h5py.File(path, "r+") as f:
        for i, layer in enumerate(spec.layers):
            declared = layer.neuron is not None and layer.neuron.bias is not None \
                and layer.neuron.bias_exp != 6
            assert ("biasExp" in f[f"layer/{i}"]) == declared
        f["layer/1"].create_dataset("biasExp", data=6)  # an explicit 6 reads the same
    again = read_network(path)
    assert [lay.neuron.bias_exp for lay in again.layers if lay.neuron is not None] == \
        [lay.neuron.bias_exp for lay in spec.layers if lay.neuron is not None]


# --------------------------------------------------------------------------- float vs int
def test_float_and_integer_agree_at_t_gt_1_with_trained_norms_and_decays():
    """T = 4, trained BatchNorm statistics, current and voltage decays, a bias on every
    layer: the reference run of the file equals the quantized forward, and the float
    path differs only by quantization."""
    torch.manual_seed(7)
    p = dict(threshold=0.6, levels=7, norm=True, current_decay=0.4, voltage_decay=0.1)
    net = block.Network([block.Input((2, 8, 8), 3), block.Conv(p, 2, 6, 3, padding=1),
                         block.Flatten(), block.Dense(p, 384, 24),
                         block.Readout(dict(norm=True, voltage_decay=0.05), 24, 5)],
                        timesteps=4)
    x = torch.randint(0, 4, (12, 2, 8, 8, 4)).float()
    nudge(net, x, steps=4)
    with torch.no_grad():
        yf = net(x)[..., -1]
        with net.quantized():
            rec = []
            yq = net(x, rec)
            real_per_unit = net.blocks[-1].folded.out_scale  # real value of one v unit
            spec = net.export_spec()
    assert all(layer.neuron.bias is not None for layer in spec.layers
               if layer.type in ("conv", "dense"))
    assert all(layer.neuron.i_decay < 4096 for layer in spec.layers
               if layer.type in ("conv",) or (layer.type == "dense" and
                                              layer.neuron.type == "MLSN"))
    ref = run_reference(spec, to_emulator_layout(x).long().numpy())
    assert_layers_active(ref, range(1, len(spec.layers)))
    for i in range(len(spec.layers)):
        assert np.array_equal(to_emulator_layout(rec[i]).numpy(), ref[i]), f"layer {i}"
    yq_real = yq[..., -1].double() * real_per_unit
    corr = np.corrcoef(yf.flatten().numpy(), yq_real.flatten().numpy())
    assert corr[0, 1] > 0.9
    assert float((yf.argmax(-1) == yq_real.argmax(-1)).float().mean()) >= 0.75
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.export_spec()  # no clipping in a healthy network
