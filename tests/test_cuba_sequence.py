"""lava-dl's CUBA neuron as one compiled autograd function (neuron/cuba_sequence.py) and
the CUBA blocks that use it, against stock lava-dl (``slayer.neuron.cuba.Neuron``,
``slayer.block.cuba``): spikes and states bit for bit, gradients to float rounding."""
from __future__ import annotations

from unittest import mock

import pytest
import torch

from lava_mlsnn._quiet import quiet_import
from lava_mlsnn.block import cuba as our_cuba
from lava_mlsnn.block import frames
from lava_mlsnn.neuron import cuba_sequence

slayer = quiet_import("lava.lib.dl.slayer")
stock_neuron, stock_block = slayer.neuron.cuba, slayer.block.cuba

#: current_decay, voltage_decay: none (0), intermediate, all (1.0 = 4096)
DECAYS = [(0.0, 0.0), (0.3, 0.05), (1.0, 1.0), (1.0, 0.0), (0.02, 0.5)]


def _current(shape, seed: int, scale: float = 0.6) -> torch.Tensor:
    """A current off lava-dl's grid (truncated by the forward), of both signs."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g) * scale + 0.15


def _neurons(**params):
    """Two stock neurons with the same parameters: one for each path."""
    return stock_neuron.Neuron(**params), stock_neuron.Neuron(**params)


def _close(a: torch.Tensor, b: torch.Tensor, rel: float = 1e-5) -> None:
    assert float(b.abs().max()) > 0
    assert float((a - b).abs().max()) <= rel * float(b.abs().max())


def _both(params, x, w, calls: int = 1):
    """Outputs and gradients (``x``'s, each decay's) of ``calls`` forward + backward passes
    through the compiled path and through lava-dl's, on twin neurons."""
    fast, ref = _neurons(**params)
    out = []
    for neuron, compiled in ((fast, True), (ref, False)):
        got = []
        for _ in range(calls):
            xi = x.clone().requires_grad_()
            if compiled:
                assert cuba_sequence.applies(neuron, xi)
                y = cuba_sequence.run(neuron, xi)
            else:
                y = neuron(xi)
            (y * w).sum().backward()
            got.append((y.detach(), xi.grad, neuron.current_state.clone(),
                        neuron.voltage_state.clone()))
        decays = [p.grad.clone() if p.grad is not None else None
                  for p in (neuron.current_decay, neuron.voltage_decay)]
        out.append((got, decays))
    return out


@pytest.mark.parametrize("decays", DECAYS, ids=lambda d: f"i{d[0]}-v{d[1]}")
@pytest.mark.parametrize("shape", [(3, 7, 1), (2, 4, 5, 6, 8), (2, 3, 4, 4, 16), (4, 300, 3)],
                         ids=lambda s: "x".join(map(str, s)))
def test_spikes_bit_for_bit_and_gradients_as_lava_dl(decays, shape):
    params = dict(threshold=0.5, current_decay=decays[0], voltage_decay=decays[1],
                  tau_grad=0.5, scale_grad=2.0)
    x = _current(shape, 1)
    w = torch.randn(shape, generator=torch.Generator().manual_seed(2))
    (got, _), (ref, _) = _both(params, x, w)
    (y, gx, _, _), (y_ref, gx_ref, _, _) = got[0], ref[0]
    assert torch.equal(y, y_ref)
    assert 0 < float(y_ref.sum()) < y_ref.numel()  # the layer is active, not saturated
    assert set(torch.unique(y).tolist()) == {0.0, 1.0}
    _close(gx, gx_ref)


@pytest.mark.parametrize("decays", DECAYS[:3], ids=lambda d: f"i{d[0]}-v{d[1]}")
@pytest.mark.parametrize("steps", [1, 2, 9])
def test_learnable_decays_get_lava_dl_gradients(decays, steps):
    params = dict(threshold=0.75, current_decay=decays[0], voltage_decay=decays[1],
                  requires_grad=True)
    shape = (3, 5, 4, 4, steps)
    x = _current(shape, 3, 0.8)
    w = torch.randn(shape, generator=torch.Generator().manual_seed(4))
    (got, dec), (ref, dec_ref) = _both(params, x, w)
    assert torch.equal(got[0][0], ref[0][0]) and float(ref[0][0].sum()) > 0
    _close(got[0][1], ref[0][1])
    for a, b in zip(dec, dec_ref):
        assert a is not None and b is not None and a.shape == b.shape
        if steps == 1:  # no step before the last: lava-dl's sum is empty
            assert float(a.abs().max()) == 0 and float(b.abs().max()) == 0
        else:
            _close(a, b, 1e-4)


@pytest.mark.parametrize("decays", [(0.1, 0.2), (1.0, 0.0)], ids=lambda d: f"i{d[0]}-v{d[1]}")
def test_graded_spikes(decays):
    params = dict(threshold=0.4, current_decay=decays[0], voltage_decay=decays[1],
                  graded_spike=True, requires_grad=True)
    shape = (2, 6, 5, 5, 7)
    x = _current(shape, 5)
    w = torch.randn(shape, generator=torch.Generator().manual_seed(6))
    (got, dec), (ref, dec_ref) = _both(params, x, w)
    y, y_ref = got[0][0], ref[0][0]
    assert torch.equal(y, y_ref) and torch.equal(torch.signbit(y), torch.signbit(y_ref))
    assert float((y_ref > 0.4).sum()) > 0 and len(torch.unique(y_ref)) > 10  # graded
    _close(got[0][1], ref[0][1])
    for a, b in zip(dec, dec_ref):
        _close(a, b, 1e-4)


def test_persistent_state_carries_over_calls_as_lava_dl():
    params = dict(threshold=0.6, current_decay=0.1, voltage_decay=0.05, persistent_state=True)
    shape = (2, 4, 3, 3, 5)
    x = _current(shape, 7, 0.5)
    w = torch.randn(shape, generator=torch.Generator().manual_seed(8))
    (got, _), (ref, _) = _both(params, x, w, calls=3)
    for (y, gx, cs, vs), (y_r, gx_r, cs_r, vs_r) in zip(got, ref):
        assert torch.equal(y, y_r) and torch.equal(cs, cs_r) and torch.equal(vs, vs_r)
        assert float(cs_r.abs().sum()) > 0 and float(vs_r.abs().sum()) > 0
        _close(gx, gx_r)
    assert not torch.equal(got[0][0], got[1][0])  # the state did carry over


@pytest.mark.parametrize("th, scale", [(1 / 64, 0.05), (3.0, 4.0), (40.0, 3000.0),
                                       (2.0 ** 28, 2.0 ** 27)])
def test_thresholds_and_large_currents(th, scale):
    """Thresholds on lava-dl's 1/64 grid, small to large, and currents whose states pass
    2**24 (where the float32 comparisons of the reset round) and 2**41."""
    params = dict(threshold=th, current_decay=0.5, voltage_decay=0.25)
    shape = (2, 64, 12)
    g = torch.Generator().manual_seed(9)
    x = _current(shape, 9, scale).abs() * (torch.rand(shape, generator=g) < 0.3)
    w = torch.randn(shape, generator=torch.Generator().manual_seed(10))
    (got, _), (ref, _) = _both(params, x, w)
    assert torch.equal(got[0][0], ref[0][0])
    assert 0 < float(ref[0][0].sum()) < ref[0][0].numel()
    _close(got[0][1], ref[0][1])


def _blocks(kind, params, *args, **kwargs):
    torch.manual_seed(11)
    ours = getattr(our_cuba, kind)(params, *args, **kwargs)
    stock = getattr(stock_block, kind)(params, *args, delay_shift=False, **kwargs)
    stock.load_state_dict(ours.state_dict())
    return ours, stock


def _compare_blocks(ours, stock, x, compiled: bool = True):
    calls = []
    real = cuba_sequence.run
    with mock.patch.object(cuba_sequence, "run", lambda *a: calls.append(1) or real(*a)):
        y = ours(x)
    assert bool(calls) == compiled
    w = torch.randn(y.shape, generator=torch.Generator().manual_seed(12))
    (y * w).sum().backward()
    y_ref = stock(x)
    (y_ref * w).sum().backward()
    assert torch.equal(y.detach(), y_ref.detach()) and float(y_ref.sum()) > 0
    ref_grads = dict(stock.named_parameters())
    for name, p in ours.named_parameters():
        if not p.requires_grad:
            continue
        ref_grad = ref_grads[name].grad
        if "decay" in name and x.shape[-1] == 1:  # one step: lava-dl's decay sum is empty
            assert float(ref_grad.abs().max()) == 0 and float(p.grad.abs().max()) == 0
        else:
            _close(p.grad, ref_grad, 1e-4)


@pytest.mark.parametrize("steps", [1, 8, 16])
@pytest.mark.parametrize("decays", [(1.0, 0.0), (0.25, 0.03), (0.0, 1.0)],
                         ids=lambda d: f"i{d[0]}-v{d[1]}")
def test_conv_block_against_stock_cuba_conv(steps, decays):
    params = dict(threshold=0.5, current_decay=decays[0], voltage_decay=decays[1],
                  requires_grad=True)
    ours, stock = _blocks("Conv", params, 3, 6, 3, padding=1, stride=1, weight_scale=3)
    x = (torch.rand(4, 3, 10, 9, steps, generator=torch.Generator().manual_seed(13))
         < 0.3).float()
    assert frames.applies(ours.synapse, x)
    _compare_blocks(ours, stock, x)


@pytest.mark.parametrize("steps", [1, 6])
def test_dense_block_with_mask_and_dropout_against_stock_cuba_dense(steps):
    params = dict(threshold=0.5, current_decay=0.2, voltage_decay=0.1,
                  dropout=slayer.neuron.Dropout(p=0.2))
    mask = (torch.rand(20, 30, generator=torch.Generator().manual_seed(14)) < 0.7).float()
    ours, stock = _blocks("Dense", params, 30, 20, weight_scale=3, mask=mask)
    x = (torch.rand(5, 30, steps, generator=torch.Generator().manual_seed(15)) < 0.4).float()
    torch.manual_seed(16)  # the same dropout draws on both paths
    calls = []
    real = cuba_sequence.run
    with mock.patch.object(cuba_sequence, "run", lambda *a: calls.append(1) or real(*a)):
        y = ours(x)
    torch.manual_seed(16)
    y_ref = stock(x)
    assert calls and torch.equal(y, y_ref) and float(y_ref.sum()) > 0
    assert float((y_ref == 0).sum()) > 0


def test_what_it_does_not_cover_runs_lava_dl():
    """A norm between current and voltage, per-channel decays, debug, float64: the
    neuron's own forward (the same results, since it is lava-dl's code)."""
    x = _current((2, 4, 5), 17)
    norm = stock_neuron.Neuron(threshold=0.5, current_decay=0.1, voltage_decay=0.1,
                               norm=slayer.neuron.norm.MeanOnlyBatchNorm)
    assert not cuba_sequence.applies(norm, x)
    per_channel = stock_neuron.Neuron(threshold=0.5, current_decay=0.1, voltage_decay=0.1,
                                      shared_param=False)
    assert not cuba_sequence.applies(per_channel, x)
    debug = stock_neuron.Neuron(threshold=0.5, current_decay=0.1, voltage_decay=0.1)
    debug.debug = True
    assert not cuba_sequence.applies(debug, x)
    plain = stock_neuron.Neuron(threshold=0.5, current_decay=0.1, voltage_decay=0.1)
    assert cuba_sequence.applies(plain, x)
    assert not cuba_sequence.applies(plain, x.double())
    assert not cuba_sequence.applies(plain, x[0])  # no batch axis
    plain(x)  # its shape is now (4,)
    assert not cuba_sequence.applies(plain, _current((2, 5, 5), 1))

    class Custom(stock_neuron.Neuron):
        def spike(self, voltage):
            return super().spike(voltage)

    assert not cuba_sequence.applies(Custom(threshold=0.5, current_decay=0.1,
                                            voltage_decay=0.1), x)
    # a block with a normed neuron trains on lava-dl's path, with the same results
    params = dict(threshold=0.5, current_decay=0.2, voltage_decay=0.1,
                  norm=slayer.neuron.norm.MeanOnlyBatchNorm)
    ours, stock = _blocks("Conv", params, 2, 4, 3, padding=1, weight_scale=3)
    xs = (torch.rand(2, 2, 6, 6, 4, generator=torch.Generator().manual_seed(18)) < 0.4).float()
    _compare_blocks(ours, stock, xs, compiled=False)


def test_the_backward_exp_is_within_an_ulp_of_torch():
    import numpy as np
    from numba import njit

    cuba_sequence._compile()
    from lava_mlsnn.neuron._cuba_loops import exp_nonpositive

    @njit
    def run(a, out):
        for i in range(a.shape[0]):
            out[i] = exp_nonpositive(a[i])

    rng = np.random.default_rng(0)
    a = np.concatenate([-np.abs(rng.standard_normal(200_000).astype(np.float32) * 30),
                        np.array([0, -0.0, -1e-30, -87, -103, -103.5, -104, -200, -np.inf],
                                 dtype=np.float32)])
    got = np.empty_like(a)
    run(a, got)
    ref = torch.exp(torch.from_numpy(a)).numpy()
    ulps = np.abs(got.view(np.int32).astype(np.int64) - ref.view(np.int32).astype(np.int64))
    assert ulps.max() <= 1 and np.mean(ulps == 0) > 0.95
    nan = np.empty(1, dtype=np.float32)
    run(np.array([np.nan], dtype=np.float32), nan)
    assert np.isnan(nan[0])
