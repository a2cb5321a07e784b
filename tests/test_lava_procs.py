"""Each lava-mlsnn Process alone, in Lava, on tiny hand-computed cases."""
import subprocess
import sys

import numpy as np
import pytest

from lava_mlsnn import fixed

pytestmark = pytest.mark.lava

from lava.magma.core.run_conditions import RunSteps  # noqa: E402
from lava.magma.core.run_configs import Loihi2SimCfg  # noqa: E402
from lava.proc.io.sink import RingBuffer as Sink  # noqa: E402
from lava.proc.io.source import RingBuffer as Source  # noqa: E402

from lava_mlsnn.proc import (CubaLif, MultiLevelNeuron, Pass, Readout,  # noqa: E402
                             StreamFile, StreamSink, StreamSource, Synapse)



def run_graph(data: np.ndarray, build, tag: str = "fixed_pt"):
    """Feed ``data`` (``(*shape, steps)``) from a RingBuffer into ``build(out_port)``,
    which returns a list of OutPorts to record; return their ``(steps, *shape)`` data."""
    steps = data.shape[-1]
    dtype = np.int32 if tag == "fixed_pt" else np.float64
    src = Source(data=data.astype(dtype))
    outs = build(src.s_out)
    sinks = []
    for port in outs:
        sink = Sink(shape=port.shape, buffer=steps)
        port.connect(sink.a_in)
        sinks.append(sink)
    try:
        src.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag=tag))
        return [np.moveaxis(s.data.get(), -1, 0) for s in sinks]
    finally:
        src.stop()


@pytest.mark.parametrize("tag", ["fixed_pt", "floating_pt"])
def test_multilevel_neuron_levels_residue_vinit_and_reset(tag):
    # th = 40 << 6 = 2560, v_init = 1280, a << 6 = 3200 (a = 50) or 12800 (a = 200);
    # reset before integrating at t = 2 and 6 (t % 4 == 2).
    neuron = MultiLevelNeuron(shape=(2,), vth_mant=40, levels=3, v_init=1280,
                              reset_interval=4, reset_offset=2)
    data = np.array([[50] * 8, [200] * 8])
    (z,) = run_graph(data, lambda p: (p.connect(neuron.a_in), [neuron.s_out])[1], tag)
    # a = 50: v 4480 -> z 1 (v 1920) | reset 4480 -> 1 | 5120 -> 2 (v 0) | 3200 -> 1 ...
    assert z[:, 0].tolist() == [1, 1, 2, 1, 1, 1, 2, 1]
    # a = 200: v // th >= 5 every step -> clipped to levels, the residue piles up
    # (6400, 11520, 16640, ...) until the reset.
    assert z[:, 1].tolist() == [3] * 8


def test_multilevel_neuron_decay_bias_quantization_match_fixed():
    p = fixed.NeuronParams("MLSN", 30, 2, i_decay=1000, v_decay=300, v_init=960, v_bits=8,
                           v_exp=5, bias=np.array([3, -7]))
    a = np.array([[40, -10, 0, 90, 5, 5, -30, 60, 0, 0], [70, 0, 0, 20, 1, 2, 3, 4, 5, 6]])
    neuron = MultiLevelNeuron(shape=(2,), vth_mant=30, levels=2, i_decay=1000, v_decay=300,
                              v_init=960, v_bits=8, v_exp=5, bias=[3, -7], reset_interval=5,
                              reset_offset=1)
    (z,) = run_graph(a, lambda port: (port.connect(neuron.a_in), [neuron.s_out])[1])
    want, state = [], None
    for t in range(a.shape[1]):
        if t % 5 == 0:
            state = fixed.initial_state(p, (2,), a)
        state, out = fixed.neuron_step(state, a[:, t].astype(np.int64), p)
        want.append(out)
    assert np.array_equal(z, np.array(want))
    assert z.sum() > 0


@pytest.mark.parametrize("tag", ["fixed_pt", "floating_pt"])
def test_readout_leaky_integration_and_reset(tag):
    # v = decay(v, 2048) + (a << 6) + (bias << 6); reset at t = 1, 4 (t % 3 == 1).
    ro = Readout(shape=(2,), v_decay=2048, bias=[1, 0], reset_interval=3, reset_offset=1)
    data = np.array([[10] * 6, [-10] * 6])
    (v,) = run_graph(data, lambda p: (p.connect(ro.a_in), [ro.s_out])[1], tag)
    assert v[:, 0].tolist() == [704, 1056, 1232] * 2
    assert v[:, 1].tolist() == [-640, -960, -1120] * 2  # decay rounds toward zero


def test_pass_clips_without_latency():
    inp = Pass(shape=(1,), lo=0, hi=4)  # an input layer with inputLevels = 4
    add = Pass(shape=(1,))  # PASS: sat24
    data = np.array([[-5, 3, 10, 4, 1 << 24]])

    def build(port):
        port.connect(inp.a_in)
        port.connect(add.a_in)
        return [inp.s_out, add.s_out]

    clipped, sat = run_graph(data, build)
    assert clipped[:, 0].tolist() == [0, 3, 4, 4, 4]
    assert sat[:, 0].tolist() == [-5, 3, 10, 4, (1 << 23) - 1]


def test_cuba_lif_matches_hand_case_and_stock_lif():
    from lava.proc.lif.process import LIF

    # i_decay 4096: u = a << 6 = 256; v += 256 per step, spike when v > 640.
    cuba = CubaLif(shape=(2,), vth_mant=10, i_decay=4096, v_decay=0)
    rng = np.random.default_rng(3)
    data = np.concatenate([np.full((1, 9), 4), rng.integers(-20, 40, (1, 9))])
    # netx's mapping of the same neuron onto Lava's LIF, for a second random input.
    cuba2 = CubaLif(shape=(2,), vth_mant=25, i_decay=700, v_decay=300, bias=[2, -1])
    lif = LIF(shape=(2,), vth=25, du=700 - 1, dv=300, bias_mant=np.array([2, -1]), bias_exp=6)

    def build(port):
        for proc in (cuba, cuba2, lif):
            port.connect(proc.a_in)
        return [cuba.s_out, cuba2.s_out, lif.s_out]

    s, s2, s_lif = run_graph(data, build)
    assert s[:, 0].tolist() == [0, 0, 1] * 3
    assert np.array_equal(s2, s_lif) and s_lif.sum() > 0


@pytest.mark.parametrize("tag", ["fixed_pt", "floating_pt"])
def test_synapse_latency_floor_shift_fan_in_and_sat24(tag):
    w = [[1, 2], [3, -5]]
    s1 = Synapse(in_shape=(2,), out_shape=(2,), kind="dense", weight=w, weight_exp=-1)
    s2 = Synapse(in_shape=(2,), out_shape=(2,), kind="dense", weight=w, weight_exp=-1,
                 extra_delay=2)
    s3 = Synapse(in_shape=(2,), out_shape=(2,), kind="identity", weight=100, weight_exp=20)
    one, fan, big = Pass(shape=(2,)), Pass(shape=(2,)), Pass(shape=(2,))
    data = np.array([[3, 1, 1, 0, 0, 0], [1, 2, 0, 0, 0, 0]])

    def build(port):
        for syn in (s1, s2, s3):
            port.connect(syn.s_in)
        s1.a_out.connect(one.a_in)
        s1.a_out.connect(fan.a_in)
        s2.a_out.connect(fan.a_in)  # Lava sums the fan-in
        s3.a_out.connect(big.a_in)
        return [one.s_out, fan.s_out, big.s_out]

    a1, a_fan, a_big = run_graph(data, build, tag)
    if tag == "fixed_pt":
        # raw sums [5, 4], [5, -7], [1, 3] >> 1 (floor) arrive one step later.
        assert a1.tolist() == [[0, 0], [2, 2], [2, -4], [0, 1], [0, 0], [0, 0]]
        assert a_fan.tolist() == [[0, 0], [2, 2], [2, -4], [2, 3], [2, -4], [0, 1]]
        assert a_big[1].tolist() == [(1 << 23) - 1, (1 << 23) - 1]  # 100 << 20 saturates
    else:  # float: the same sums times 2**-1, no floor
        assert a1.tolist() == [[0, 0], [2.5, 2], [2.5, -3.5], [0.5, 1.5], [0, 0], [0, 0]]
        assert a_fan[3].tolist() == [3.0, 3.5]


def test_synapse_conv_pool_and_flattened_identity_match_fixed():
    rng = np.random.default_rng(0)
    conv = fixed.SynapseSpec("conv", rng.integers(-256, 255, (4, 1, 3, 3)), -2, stride=(2, 1),
                             padding=(1, 0), dilation=(1, 2), groups=2)
    pool = fixed.SynapseSpec("pool", np.array(7), 1, stride=(2, 2), kernel=(2, 2))
    shape, steps = (2, 6, 7), 5
    data = rng.integers(0, 4, shape + (steps,))
    cs = Synapse.from_spec(conv, shape, (4, 3, 3))
    ps = Synapse.from_spec(pool, shape, (2, 3, 3), extra_delay=1)
    ident = Synapse(in_shape=shape, out_shape=(84,), kind="identity", weight=-3,
                    view_shape=(84,))  # reads the (C, H, W) sender as a flatten layer
    outs = [Pass(shape=(4, 3, 3)), Pass(shape=(2, 3, 3)), Pass(shape=(84,))]

    def build(port):
        for syn, out in zip((cs, ps, ident), outs):
            port.connect(syn.s_in)
            syn.a_out.connect(out.a_in)
        return [o.s_out for o in outs]

    got_c, got_p, got_i = run_graph(data, build)
    z = np.moveaxis(data, -1, 0)
    assert np.array_equal(got_c[1:], fixed.synapse_current(conv, z)[:-1])
    assert np.array_equal(got_p[2:], fixed.synapse_current(pool, z)[:-2])
    assert np.array_equal(got_i[1:], -3 * z[:-1].reshape(steps - 1, -1))
    assert not got_c[0].any() and not got_p[:2].any()


def test_stream_source_and_sink_roundtrip(tmp_path):
    data = np.arange(12, dtype=np.int32).reshape(4, 3) - 5
    src_file = StreamFile(str(tmp_path / "in.npy"), 4)
    buf = StreamFile.create(src_file.path, 4, (3,))
    buf[:] = data
    out_file = StreamFile(str(tmp_path / "out.npy"), 4)
    out = StreamFile.create(out_file.path, 4, (3,))
    src = StreamSource(shape=(3,), stream=src_file)
    sink = StreamSink(shape=(3,), stream=out_file)
    src.s_out.connect(sink.a_in)
    try:
        src.run(condition=RunSteps(num_steps=4), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        assert np.array_equal(out, data)
        buf[:] = -data  # new data between runs of the live network
        src.run(condition=RunSteps(num_steps=4))
        assert np.array_equal(out, -data)
    finally:
        src.stop()


def test_processes_refuse_bad_parameters():
    with pytest.raises(ValueError, match="vth_mant"):
        MultiLevelNeuron(shape=(3,), vth_mant=0)
    with pytest.raises(ValueError, match="levels"):
        MultiLevelNeuron(shape=(3,), vth_mant=5, levels=0)
    with pytest.raises(ValueError, match="v_decay"):
        Readout(shape=(3,), v_decay=5000)
    with pytest.raises(ValueError, match="bias"):
        CubaLif(shape=(3,), vth_mant=5, bias=[1, 2])
    with pytest.raises(ValueError, match="lo"):
        Pass(shape=(3,), lo=5, hi=1)
    with pytest.raises(ValueError, match="out_shape"):
        Synapse(in_shape=(4,), out_shape=(3,), kind="dense", weight=np.ones((2, 4)))
    with pytest.raises(ValueError, match="kind"):
        Synapse(in_shape=(4,), out_shape=(4,), kind="avg", weight=1)


def test_proc_package_import_is_light():
    code = ("import sys, lava_mlsnn.proc as p; assert 'lava' not in sys.modules; "
            "p.Pass; assert 'lava.magma.core.process.process' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
