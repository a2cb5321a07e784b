"""CUBA's current past 24 bits: Lava's ``LIF`` keeps ``u`` and ``v`` in int32 and wraps ``u``
into 24 bits only once per step, so a large current with a slow current decay drives ``u``
toward 2**31, where LIF's numpy int32 sums wrap (DESIGN §5, ``CUBA``). Stock ``LIF`` fixed_pt
is the reference; every CUBA implementation of the project (numpy and torch steps, int64 and
int32 states, the emulator's layer-major loops and plain step, the pipelined run's loops and
step-major run) must give its integers."""
import numpy as np
import pytest
import torch

import lava_mlsnn.backends.emulator as emulator
from lava_mlsnn.backends import kernels
from lava_mlsnn import fixed
from lava_mlsnn.backends.pipelined import emulate_pipelined
from lava_mlsnn.fixed import NeuronParams, SynapseSpec
from lava_mlsnn.format.spec import Branch, LayerSpec, NetworkSpec

STEPS = 9
#: per neuron: current a (constant each step), iDecay, vDecay, vThMant, bias
CASES = [(127 << 16, 1, 4096, 2 ** 17 - 1, 0),       # u passes 2**31 at step 5
         (-128 << 16, 1, 4096, 2 ** 17 - 1, 0),      # and -2**31
         (127 << 16, 1, 0, 2 ** 17 - 1, 2000),       # v integrates the wrapped u
         (3_000_000, 1, 100, 1000, -50),
         (2 ** 23 - 1, 4096, 0, 2 ** 17 - 1, 0),     # no current persistence: no wrap
         (12345, 1, 2048, 300, 7)]


def _params(k):
    a, di, dv, th, bias = CASES[k]
    return NeuronParams("CUBA", th, 1, di, dv, bias=np.array([bias]))


def _stock_lif():
    """``(u, v, spikes)`` ``[STEPS, n]`` of stock ``LIF`` fixed_pt fed the currents, with
    netx's mapping (``du = iDecay - 1``, ``bias_exp = 6``)."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.lif.process import LIF

    n = len(CASES)
    a = np.array([c[0] for c in CASES], dtype=np.int32)
    src = Source(data=np.repeat(a[:, None], STEPS, axis=1))
    lif = LIF(shape=(n,), du=np.array([c[1] - 1 for c in CASES]), dv=np.array([c[2] for c in CASES]),
              vth=np.array([c[3] for c in CASES]), bias_mant=np.array([c[4] for c in CASES]),
              bias_exp=6)
    sink = Sink(shape=(n,), buffer=STEPS)
    src.s_out.connect(lif.a_in)
    lif.s_out.connect(sink.a_in)
    us, vs = [], []
    try:
        for _ in range(STEPS):
            src.run(condition=RunSteps(num_steps=1), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
            us.append(lif.u.get().astype(np.int64))
            vs.append(lif.v.get().astype(np.int64))
        spikes = sink.data.get().T.astype(np.int64)
    finally:
        src.stop()
    return np.array(us), np.array(vs), spikes


@pytest.fixture(scope="module")
def stock():
    return _stock_lif()


def test_the_cases_leave_24_and_32_bits(stock):
    u, _, spikes = stock
    assert np.abs(u[:, 0]).max() > 2 ** 30 and (np.diff(np.sign(u[:, 0])) != 0).any()
    assert spikes.sum() > 0 and (spikes.sum(axis=0) < STEPS).any()


@pytest.mark.parametrize("kind", ["numpy", "torch int64", "torch int32"])
def test_steps_equal_stock_lif(stock, kind):
    u_ref, v_ref, s_ref = stock
    for k, case in enumerate(CASES):
        p = _params(k)
        if kind == "numpy":
            u, v, a = np.zeros(1, np.int64), np.zeros(1, np.int64), np.array([case[0]])
        else:
            dt = torch.int32 if kind == "torch int32" else torch.int64
            u, v = torch.zeros(1, dtype=dt), torch.zeros(1, dtype=dt)
            a = torch.tensor([case[0]], dtype=dt)
        for t in range(STEPS):
            u, v, z = fixed.cuba_step(u, v, a, p)
            got = [int(u[0]), int(v[0]), int(z[0])]
            assert got == [u_ref[t, k], v_ref[t, k], s_ref[t, k]], (kind, k, t)


def _spec(k):
    """input -> dense CUBA neuron whose current is the case's ``a`` each step (an 8-bit
    weight, weightExp 16)."""
    syn = SynapseSpec("dense", np.array([[CASES[k][0] >> 16]]), 16)
    layers = [LayerSpec("input", (1,), -1, neuron=NeuronParams("INPUT", input_levels=1)),
              LayerSpec("dense", (1,), 0, [Branch(0, syn)], _params(k))]
    return NetworkSpec(layers, (1,), 1, STEPS)


@pytest.mark.parametrize("k", [0, 1, 2])
def test_emulator_and_pipelined_runs_equal_stock_lif(stock, monkeypatch, k):
    _, _, s_ref = stock
    spec = _spec(k)
    x = np.ones((3, STEPS, 1), dtype=np.int64)
    a = fixed.synapse_current(spec.layers[1].branches[0].synapse, np.ones((1, 1), np.int64))
    assert int(a[0, 0]) == CASES[k][0]  # the synapse gives the case's current
    want = np.broadcast_to(s_ref[:, k], (3, STEPS))
    calls = []
    real = kernels.run_layer
    monkeypatch.setattr(kernels, "run_layer", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    runs = {"layer-major": emulator.emulate(spec, x)[1]}
    assert calls  # the compiled loop ran
    monkeypatch.setattr(emulator, "KERNEL_STEP", False)
    runs["step-major"] = emulator.emulate(spec, x)[1]
    for layer_major in (True, False):  # the input layer passes on at once: depth 1
        rec = emulate_pipelined(spec, x, steps=STEPS + 1, layer_major=layer_major)[1]
        runs[f"pipelined, layer_major={layer_major}"] = np.asarray(rec)[:, 1:]
    for name, got in runs.items():
        assert np.array_equal(np.asarray(got)[..., 0], want), name
