"""The compiled time loop of the multi-level neuron (neuron/sequence.py) against the
step-by-step autograd loop it replaces on the CPU.

The reference is the implementation before: ``multilevel.dynamics`` (untouched) and
``theta * z`` / ``z.mean()`` through autograd, reached by making ``sequence.applies``
say no. Outputs must be identical bit for bit, every gradient (input, weights,
BatchNorm, threshold, initial state) equal to float rounding, every compared
gradient non-zero.
"""
from __future__ import annotations

from unittest import mock

import pytest
import torch
from hypothesis import given, settings, strategies as st

from lava_mlsnn import block
from lava_mlsnn.neuron import multilevel, sequence

pytestmark = pytest.mark.skipif(not sequence._compile(), reason="numba is not installed")
ONE_STEP = sequence.MIN_NEURONS_ONE_STEP


@pytest.fixture(autouse=True)
def _kernels_at_one_step_too(monkeypatch):
    """The small cases here run the compiled loop at T = 1 too (in use it takes over
    from ``MIN_NEURONS_ONE_STEP`` neurons on)."""
    monkeypatch.setattr(sequence, "MIN_NEURONS_ONE_STEP", 0)


def _reference():
    return mock.patch.object(sequence, "applies", return_value=False)


def _step(module: torch.nn.Module, x: torch.Tensor, weight: torch.Tensor):
    """Output, rate and every gradient of one forward + backward (rate in the loss)."""
    module.zero_grad()
    x = x.detach().clone().requires_grad_()
    y = module(x)
    neurons = [m for m in module.modules() if isinstance(m, multilevel.Neuron)]
    loss = (y * weight).sum() + sum(n.rate * 3.0 for n in neurons)
    loss.backward()
    grads = {k: p.grad.clone() for k, p in module.named_parameters() if p.grad is not None}
    return y.detach(), [float(n.rate) for n in neurons], x.grad, grads


def _close(a: torch.Tensor, b: torch.Tensor, rel: float, name: str = "") -> None:
    """Equal up to rounding at the tensor's own scale (sums of many terms of both signs
    leave small entries with an absolute, not a relative, rounding error)."""
    assert a.shape == b.shape, name
    err, scale = float((a - b).abs().max()), float(b.abs().max())
    assert err <= rel * max(scale, 1e-30), f"{name}: max error {err:.3g} at scale {scale:.3g}"


def _compare(module_fn, x: torch.Tensor, rel: float) -> None:
    torch.manual_seed(3)
    fast_module = module_fn()
    ref_module = module_fn()
    ref_module.load_state_dict(fast_module.state_dict())
    weight = torch.randn(fast_module(x).shape, dtype=x.dtype)
    fast = _step(fast_module, x, weight)
    with _reference():
        ref = _step(ref_module, x, weight)
    assert torch.equal(fast[0], ref[0])  # the levels themselves, bit for bit
    assert fast[0].abs().sum() > 0
    assert fast[1] == pytest.approx(ref[1], rel=1e-6)
    assert ref[2].abs().sum() > 0
    _close(fast[2], ref[2], rel, "input")
    assert fast[3].keys() == ref[3].keys() and any(k.endswith("neuron.theta") for k in ref[3])
    for name, g in ref[3].items():
        assert g.abs().sum() > 0, name
        _close(fast[3][name], g, rel, name)


CASES = [  # levels, current_decay, voltage_decay, v_init, surrogate, alpha, norm
    (4, 1.0, 0.0, 0.5, "ste", 4.0, None),
    (1, 1.0, 0.0, 0.0, "ste", 4.0, True),
    (3, 0.25, 0.125, 0.5, "ste", 4.0, "mean_only"),
    (3, 1.0, 0.0, 0.5, "sigmoid", 4.0, True),
    (2, 0.5, 0.25, 0.0, "sigmoid", 1.5, None),
]


@pytest.mark.parametrize("steps", [1, 8, 16])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"N{c[0]}-{c[4]}-cd{c[1]}-norm{c[6]}")
def test_conv_block_matches_the_step_by_step_loop(case, steps):
    levels, cd, vd, v_init, surrogate, alpha, norm = case
    params = dict(threshold=0.7, levels=levels, current_decay=cd, voltage_decay=vd,
                  v_init=v_init, surrogate=surrogate, alpha=alpha)
    if norm:
        params["norm"] = norm
    x = (torch.rand(3, 2, 6, 5, steps) * 3).round()
    _compare(lambda: block.Conv(params, 2, 4, 3, padding=1), x, rel=1e-5)


@pytest.mark.parametrize("steps", [1, 8, 16])
def test_dense_net_float64_matches_to_rounding(steps):
    """Two layers in float64 (input gradients pass through the second neuron's backward)."""
    p = dict(threshold=0.6, levels=3, current_decay=0.5, voltage_decay=0.25, norm=True)

    def net():
        return torch.nn.Sequential(block.Dense(p, 7, 9), block.Dense(p, 9, 5)).double()

    x = torch.rand(4, 7, steps, dtype=torch.float64) * 2
    _compare(net, x, rel=1e-12)


@settings(max_examples=12, deadline=None)
@given(levels=st.integers(1, 6), steps=st.integers(1, 5), theta=st.sampled_from([0.25, 0.7, 3.0]),
       v_init=st.sampled_from([0.0, 0.5]), cd=st.sampled_from([1.0, 0.5, 0.0]),
       vd=st.sampled_from([0.0, 0.5, 1.0]), surrogate=st.sampled_from(["ste", "sigmoid"]),
       shift_shape=st.sampled_from([(1, 4), (3, 4), (3, 1), (1,)]), seed=st.integers(0, 2 ** 16))
def test_edges_of_the_floor_and_the_clip(levels, steps, theta, v_init, cd, vd, surrogate,
                                         shift_shape, seed):
    """Currents on multiples of theta / 4 put membranes exactly on level edges, on 0 and
    on N * theta (the STE window's closed ends), below 0 and far above N; a bias per
    channel, per neuron, per sample or one for all. In float64, so
    that the threshold's gradient (a sum of terms of both signs) compares tightly."""
    g = torch.Generator().manual_seed(seed)
    x = (torch.randint(-8, 4 * levels + 12, (3, 4, steps), generator=g) * (theta / 4)) \
        .double().requires_grad_()
    shift = (torch.randint(-2, 3, shift_shape, generator=g) * (theta / 4)).double().requires_grad_()
    th = torch.tensor([theta], dtype=torch.float64, requires_grad=True)
    cfg = multilevel.MultiLevelConfig(levels, cd, vd, v_init, surrogate, 2.0)
    w = torch.randn((3, 4, steps), generator=g, dtype=torch.float64)
    # the final state's gradients: one per neuron (the kernels read them as rows)
    wu, wv = (torch.randn((3, 4), generator=g, dtype=torch.float64) for _ in "uv")
    out = []
    for fast in (True, False):
        for t in (x, shift, th):
            t.grad = None
        if fast:
            assert sequence.applies(x, shift, th, cfg, None, None)
            y, mean, (u, v) = sequence.run(x, shift, th, cfg)
        else:
            z, (u, v) = multilevel.dynamics(x, shift, th, cfg)
            y, mean = z * th, z.mean()
        ((y * w).sum() + mean + (v * wv).sum() + (u * wu).sum()).backward()
        out.append((y.detach(), mean.detach(), u.detach(), v.detach(), x.grad, shift.grad,
                    th.grad))
    (fy, *fast), (ry, *ref) = out
    assert torch.equal(fy, ry)
    for a, b, name in zip(fast, ref, ("mean", "u", "v", "x", "shift", "theta")):
        _close(a, b, 1e-9, name)


def test_persistent_state_carries_over_identically():
    def neuron():
        return multilevel.Neuron(threshold=0.5, levels=3, current_decay=0.5, voltage_decay=0.25,
                                 persistent_state=True)

    fast, ref = neuron(), neuron()
    x = torch.rand(2, 6, 4) * 2
    for chunk in (x, x.flip(-1), x * 0.5):
        y = fast(chunk)
        with _reference():
            y_ref = ref(chunk)
        assert torch.equal(y, y_ref) and y.abs().sum() > 0
        assert all(torch.equal(a, b) for a, b in zip(fast.state, ref.state))


def test_what_it_does_not_cover_runs_the_reference_loop(monkeypatch):
    monkeypatch.setattr(sequence, "MIN_NEURONS_ONE_STEP", ONE_STEP)
    cfg = multilevel.MultiLevelConfig(3)
    th = torch.tensor([1.0])
    x = torch.rand(2, 3, 4)
    assert sequence.applies(x, 0.0, th, cfg, None, None)
    assert not sequence.applies(x[..., :1], 0.0, th, cfg, None, None)  # one step, few
    big = torch.rand(2, sequence.MIN_NEURONS_ONE_STEP // 2, 1)
    assert sequence.applies(big, 0.0, th, cfg, None, None)  # one step, many neurons
    assert not sequence.applies(x, 0.0, th, cfg, None, v_quant=lambda v, t: v)
    assert not sequence.applies(x.half(), 0.0, th.half(), cfg, None, None)
    assert not sequence.applies(x.double(), 0.0, th, cfg, None, None)  # mixed dtypes
    assert not sequence.applies(x, torch.zeros(5, 3), th, cfg, None, None)  # broadcasts wider
    assert not sequence.applies(x[..., :0], 0.0, th, cfg, None, None)


def test_a_second_derivative_is_refused():
    th = torch.tensor([0.5], requires_grad=True)
    x = torch.rand(2, 3, 4, requires_grad=True)
    y, _, _ = sequence.run(x, 0.0, th, multilevel.MultiLevelConfig(2, surrogate="sigmoid"))
    (g,) = torch.autograd.grad(y.square().sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="twice|once"):
        g.sum().backward()


@pytest.mark.parametrize("steps", [16, 1])
def test_several_chunks_and_a_partial_last_one(steps):
    """1165 neurons a sample (5 channels of 233) at T = 16: chunks of 512, 512 and 141
    in each sample, a bias per channel whose runs cross chunk boundaries; at T = 1 one
    chunk holds a sample."""
    assert sequence._chunk(16) == 512 and sequence._chunk(1) > 1165
    torch.manual_seed(5)
    cfg = multilevel.MultiLevelConfig(3, 0.5, 0.25, 0.5, "ste")
    x = (torch.randn(3, 5, 233, steps, dtype=torch.float64) * 2).requires_grad_()
    shift = (torch.randn(1, 5, 1, dtype=torch.float64) * 0.3).requires_grad_()
    th = torch.tensor([0.6], dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 5, 233, steps, dtype=torch.float64)
    out = []
    for fast in (True, False):
        for t in (x, shift, th):
            t.grad = None
        if fast:
            y, mean, _ = sequence.run(x, shift, th, cfg, keep_state=False)
        else:
            z, _ = multilevel.dynamics(x, shift, th, cfg)
            y, mean = z * th, z.mean()
        ((y * w).sum() + mean).backward()
        out.append((y.detach(), x.grad, shift.grad, th.grad))
    assert torch.equal(out[0][0], out[1][0]) and out[0][0].abs().sum() > 0
    for a, b, name in zip(out[0][1:], out[1][1:], ("x", "shift", "theta")):
        assert b.abs().sum() > 0, name
        _close(a, b, 1e-11, name)


def test_gradients_repeat_bit_for_bit_whatever_the_thread_count():
    """Training must repeat (and resume) bit for bit: the threshold's gradient, summed
    over many chunks that threads finish in any order, is the same on every run and for
    1 or 2 threads."""
    torch.manual_seed(6)
    cfg = multilevel.MultiLevelConfig(3, 1.0, 0.0, 0.5, "ste")
    x = torch.randn(8, 600, 16) * 2
    w = torch.randn(8, 600, 16)
    grads = []
    old = torch.get_num_threads()
    try:
        for threads in (2, 1, 2, 2):
            torch.set_num_threads(threads)
            xi = x.clone().requires_grad_()
            th = torch.tensor([0.6], requires_grad=True)
            y, mean, _ = sequence.run(xi, torch.zeros(1), th, cfg, keep_state=False)
            ((y * w).sum() + mean).backward()
            grads.append((th.grad.clone(), xi.grad.clone()))
    finally:
        torch.set_num_threads(old)
    assert sequence._chunk(16) * 2 < 8 * 600  # several chunks
    assert grads[0][0].abs().sum() > 0
    for g in grads[1:]:
        assert torch.equal(g[0], grads[0][0]) and torch.equal(g[1], grads[0][1])


def test_the_level_sum_stays_exact_past_float32s_integers():
    """The rate's sum of levels is kept per neuron in float32 (the step loop's SIMD
    width) and moved to float64 before it could pass 2**24: with 2**23 levels, three
    equal steps at a level 4 m + 3 near the top sum to 4 k + 1 above 2**24, which a
    float32 sum rounds down. The forward kernel's float64 total is compared exactly."""
    cfg = multilevel.MultiLevelConfig(2 ** 23, 1.0, 0.0, 0.5, "ste")
    torch.manual_seed(7)
    level = torch.randint(3 * 2 ** 19, 2 ** 21, (2, 1, 70)) * 4 + 3
    x = level.expand(2, 3, 70).float()  # [N, T, K]; w = x + 0.5: z = x
    assert ((x[:, 0] + x[:, 1] + x[:, 2]).double() != x.double().sum(1)).all()
    fwd, _ = sequence._compile()
    zero, half = torch.zeros(1).numpy(), torch.full((1,), 0.5).numpy()
    y, end = torch.empty_like(x), torch.empty(1)
    total = fwd(x.reshape(-1).numpy(), 3, 70, zero, 1, 1, zero, 1, 1, half, 1, 1,
                sequence._consts(cfg, 1.0, torch.float32), True, False, sequence._chunk(3),
                y.reshape(-1).numpy(), end.numpy(), end.numpy())
    assert torch.equal(y, x)
    assert total == float(x.long().sum())


@pytest.mark.parametrize("steps", [1, 3])
def test_a_driven_current_with_its_final_state_in_the_loss(steps):
    """With current_decay = 1 the final current's gradient reaches only the last step's
    input; one value expanded (a sum's backward) is added in the vectorised loop."""
    torch.manual_seed(8)
    cfg = multilevel.MultiLevelConfig(4, 1.0, 0.0, 0.5, "ste")
    x = (torch.randn(4, 3, 50, steps) * 2).requires_grad_()
    th = torch.tensor([0.7], requires_grad=True)
    w = torch.randn(4, 3, 50, steps)
    out = []
    for fast in (True, False):
        x.grad = th.grad = None
        if fast:
            y, mean, (u, v) = sequence.run(x, torch.zeros(1), th, cfg, keep_state=True)
        else:
            z, (u, v) = multilevel.dynamics(x, torch.zeros(1), th, cfg)
            y, mean = z * th, z.mean()
        ((y * w).sum() + 2.0 * u.sum() + v.sum()).backward()
        out.append((y.detach(), x.grad.clone(), th.grad.clone()))
    assert torch.equal(out[0][0], out[1][0]) and out[0][0].abs().sum() > 0
    for a, b, name in zip(out[0][1:], out[1][1:], ("x", "theta")):
        assert b.abs().sum() > 0, name
        _close(a, b, 1e-5, name)


@pytest.mark.parametrize("steps", [1, 4])
@pytest.mark.parametrize("theta_grad", [False, True])
def test_sums_not_wanted_are_not_taken(steps, theta_grad):
    """A fixed threshold (and so a fixed initial membrane) asks the backward for neither
    of its two sums; the input's gradient is the reference's, and with the threshold
    learnt but the initial membrane given (no gradient) only the threshold's sum is
    taken."""
    torch.manual_seed(9)
    cfg = multilevel.MultiLevelConfig(4, 1.0, 0.0, 0.5, "ste")
    x = (torch.randn(3, 4, 40, steps) * 2).requires_grad_()
    th = torch.tensor([0.8], requires_grad=theta_grad)
    state = (torch.zeros(1), torch.full((1,), 0.4))
    w = torch.randn(3, 4, 40, steps)
    out = []
    for fast in (True, False):
        x.grad = th.grad = None
        if fast:
            y, mean, _ = sequence.run(x, torch.zeros(1), th, cfg, state, keep_state=False)
        else:
            z, _ = multilevel.dynamics(x, torch.zeros(1), th, cfg, state)
            y, mean = z * th, z.mean()
        ((y * w).sum() + mean).backward()
        out.append((y.detach(), x.grad.clone(), None if th.grad is None else th.grad.clone()))
    assert torch.equal(out[0][0], out[1][0]) and out[0][0].abs().sum() > 0
    assert out[1][1].abs().sum() > 0
    _close(out[0][1], out[1][1], 1e-5, "x")
    if theta_grad:
        assert out[1][2].abs().sum() > 0
        _close(out[0][2], out[1][2], 1e-5, "theta")
    else:
        assert out[0][2] is None and out[1][2] is None
