"""The Conv block's frame-wise synapse (block/frames.py) against lava-dl's own
``synapse.Conv`` (a Conv3d over time-last data), the path it replaces on the CPU."""
from __future__ import annotations

from unittest import mock

import pytest
import torch

from lava_mlsnn import block
from lava_mlsnn.block import frames
from lava_mlsnn.neuron import sequence
from lava_mlsnn.quant import weights as wq


def _input(shape, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    spikes = torch.rand(shape, generator=g) < 0.3
    return spikes.float() * torch.randint(1, 4, shape, generator=g).float()


SYNAPSES = [  # in, out, kernel, stride, padding, dilation, groups, T
    (2, 4, 3, 1, 1, 1, 1, 8),
    (4, 6, 3, 2, 0, 1, 2, 3),
    (3, 5, (3, 1), 1, (2, 0), 2, 1, 1),
]


@pytest.mark.parametrize("cfg", SYNAPSES, ids=lambda c: f"k{c[2]}-s{c[3]}-g{c[6]}-T{c[7]}")
@pytest.mark.parametrize("quantized", [False, True])
def test_the_same_sums_as_lava_dl_synapse(cfg, quantized):
    c_in, c_out, k, s, p, d, g, steps = cfg
    torch.manual_seed(1)
    hook = wq.UniformWeight(bits=4) if quantized else None
    blk = block.Conv(dict(threshold=1.0, levels=3), c_in, c_out, k, stride=s, padding=p,
                     dilation=d, groups=g, pre_hook_fx=hook)
    syn = blk.synapse
    x = _input((3, c_in, 9, 8, steps), 2).requires_grad_()
    assert frames.applies(syn, x)
    out = frames.conv(syn, x)
    w = torch.randn(out.shape)
    (out * w).sum().backward()
    got = (out.detach(), x.grad.clone(), syn.weight.grad.clone())
    x.grad = syn.weight.grad = None
    ref = syn(x)
    (ref * w).sum().backward()
    assert torch.equal(got[0], ref.detach()) and ref.abs().sum() > 0
    assert out.movedim(-1, 1).is_contiguous()  # time-first: the neuron reads it as it is
    for a, b in zip(got[1:], (x.grad, syn.weight.grad)):
        assert b.abs().sum() > 0
        assert float((a - b).abs().max()) <= 1e-5 * float(b.abs().max())


def test_a_chain_of_conv_blocks_matches_lava_dl_synapses_and_passes_no_copy():
    """Two Conv blocks and a dense readout, the frame-wise path against lava-dl's conv3d
    synapses: outputs bit for bit, every gradient to rounding; the second block's
    current reaches the compiled loop without a transposing copy."""
    torch.manual_seed(4)
    p = dict(threshold=0.8, levels=3, current_decay=0.5, voltage_decay=0.25, norm=True)

    def net():
        return torch.nn.Sequential(block.Conv(p, 2, 4, 3, padding=1),
                                   block.Conv(p, 4, 4, 3, padding=1, stride=2))

    fast, ref = net(), net()
    ref.load_state_dict(fast.state_dict())
    x = _input((2, 2, 8, 8, 6), 5)
    seen = []
    real = sequence._time_first

    def spy(t):
        out = real(t)
        seen.append(out.data_ptr() == t.data_ptr())
        return out

    with mock.patch.object(sequence, "_time_first", spy):
        y = fast(x)
    assert seen[:2] == [True, True]  # both currents read in place
    w = torch.randn(y.shape)
    (y * w).sum().backward()
    with mock.patch.object(frames, "applies", return_value=False):
        y_ref = ref(x)
        (y_ref * w).sum().backward()
    assert torch.equal(y.detach(), y_ref.detach()) and y_ref.abs().sum() > 0
    grads = dict(ref.named_parameters())
    for name, prm in fast.named_parameters():
        gr = grads[name].grad
        assert gr is not None and gr.abs().sum() > 0, name
        assert float((prm.grad - gr).abs().max()) <= 1e-5 * float(gr.abs().max()), name


def test_what_it_does_not_cover_calls_the_synapse():
    blk = block.Conv(dict(threshold=1.0), 2, 3, 3, padding=1)
    x = _input((2, 2, 5, 5, 4), 3)
    assert frames.applies(blk.synapse, x)
    assert not frames.applies(blk.synapse, x[..., 0])  # not [N, C, H, W, T]
    normed = block.Conv(dict(threshold=1.0), 2, 3, 3, padding=1, weight_norm=True)
    assert not frames.applies(normed.synapse, x)  # its weight is recomputed by a hook
    handle = blk.synapse.register_forward_hook(lambda *a: None)
    assert not frames.applies(blk.synapse, x)
    handle.remove()
    # weight normalisation still trains: the block runs lava-dl's synapse call
    y = normed(x)
    y.sum().backward()
    assert normed.synapse.weight_v.grad is not None
