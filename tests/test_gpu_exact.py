"""Bit-exactness on CUDA: the emulator and the training-side quantized forward give the CPU's
integers (and the reference's), with TF32 switched on globally as many training scripts do."""
import numpy as np
import pytest
import torch

from lava_mlsnn import fixed
from lava_mlsnn.backends.emulator import emulate
from lava_mlsnn.block import to_emulator_layout
from netfactory import random_training_net
from reference_plain import run_reference

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="no CUDA device here: GPU exactness is checked only "
                                       "where CUDA exists")


@pytest.fixture
def tf32_on():
    flags = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = flags


def test_synapse_sums_exact_on_cuda(tf32_on):
    rng = np.random.default_rng(0)
    w = rng.integers(-256, 255, size=(16, 8, 3, 3))
    z = rng.integers(0, 800, size=(4, 8, 12, 12))  # partial sums just below 2**24
    spec = fixed.SynapseSpec("conv", w, 0, padding=(1, 1))
    cpu = fixed.synapse_current(spec, torch.as_tensor(z))
    gpu = fixed.synapse_current(spec, torch.as_tensor(z).cuda())
    assert gpu.device.type == "cuda" and torch.equal(gpu.cpu(), cpu)
    dense = fixed.SynapseSpec("dense", rng.integers(-256, 255, size=(64, 800)))
    zd = torch.as_tensor(rng.integers(0, 80, size=(8, 800)))
    assert torch.equal(fixed.synapse_current(dense, zd.cuda()).cpu(),
                       fixed.synapse_current(dense, zd))
    assert torch.backends.cudnn.allow_tf32  # the caller's setting is restored


@pytest.mark.parametrize("seed,levels,steps", [(0, 3, 3), (1, 15, 2)])
def test_emulator_and_quantized_forward_exact_on_cuda(tf32_on, seed, levels, steps):
    net, x = random_training_net(seed, levels, steps, conv=True)
    spec = net.export_spec()
    x_file = to_emulator_layout(x).long()
    cpu = emulate(spec, x_file)
    gpu = emulate(spec, x_file.cuda())
    ref = run_reference(spec, x_file.numpy())
    net.cuda()
    with torch.no_grad(), net.quantized():
        rec = []
        net(x.cuda(), rec)
    for i in cpu:
        assert torch.equal(gpu[i].cpu(), cpu[i]), f"emulator layer {i}"
        assert torch.equal(to_emulator_layout(rec[i]).cpu(), cpu[i]), f"quantized layer {i}"
        assert np.array_equal(cpu[i].numpy(), ref[i])
        assert i == 0 or torch.any(cpu[i] != 0), f"layer {i} silent"
