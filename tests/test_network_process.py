"""The ``Network`` Process wired to stock Lava I/O equals the emulator.

Each case builds ``lava_mlsnn.netx.Network`` as a user would build
``lava.lib.dl.netx.hdf5.Network``: a stock ``lava.proc.io.source.RingBuffer`` into
``net.inp``, stock ``lava.proc.io.sink.RingBuffer`` sinks on ``net.out`` and on every
layer's ``layer_out(i)``, ``net.run`` and ``net.stop``. Several samples stream
back to back through one build, so the default per-sample reset is exercised.
"""

import numpy as np
import pytest
import torch

from lava_mlsnn import block, quant
from lava_mlsnn.block import to_emulator_layout
from lava_mlsnn.format import write_network
from lava_mlsnn.format.random_net import random_input, random_network
from lava_mlsnn.models import dvs_convnet
from lava_mlsnn.netx import emulate

pytestmark = pytest.mark.lava

from lava.magma.core.run_conditions import RunSteps  # noqa: E402
from lava.magma.core.run_configs import Loihi2SimCfg  # noqa: E402
from lava.proc.io.sink import RingBuffer as Sink  # noqa: E402
from lava.proc.io.source import RingBuffer as Source  # noqa: E402

from lava_mlsnn.netx import Network  # noqa: E402
from layercheck import assert_layers_active  # noqa: E402
from netfactory import join_network, nudge  # noqa: E402



def run_with_stock_io(net, x: np.ndarray):
    """Stream ``x [B, T, *inputShape]`` through ``net`` with stock RingBuffers.

    Returns ``(layers, out)``: every probed layer and ``net.out``, re-aligned by the
    documented latency to ``[B, T, *shape]``.
    """
    b, steps = x.shape[:2]
    n = b * steps + net.latency  # the last `latency` steps flush the pipeline
    data = np.zeros(tuple(net.inp.shape) + (n,), np.int32)
    data[..., :b * steps] = np.moveaxis(x.reshape((b * steps,) + tuple(net.inp.shape)), 0, -1)
    source = Source(data=data)
    source.s_out.connect(net.inp)
    sinks = {}
    for i in range(len(net)):
        if net.producer(i) >= 0:  # layers that do more than pass the input on
            sinks[i] = Sink(shape=net.layer_out(i).shape, buffer=n)
            net.layer_out(i).connect(sinks[i].a_in)
    out_sink = Sink(shape=net.out.shape, buffer=n)
    net.out.connect(out_sink.a_in)
    try:
        net.run(condition=RunSteps(num_steps=n), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        raw = {i: s.data.get() for i, s in sinks.items()}
        raw_out = out_sink.data.get()
    finally:
        net.stop()

    def align(buf, depth, shape):
        return np.moveaxis(buf[..., depth:depth + b * steps], -1, 0).astype(np.int64) \
            .reshape((b, steps) + tuple(shape))

    layers = {i: align(v, net.depths[i], net.spec.layers[i].shape) for i, v in raw.items()}
    return layers, align(raw_out, net.latency, net.spec.layers[-1].shape)


def assert_equals_emulator(net, x):
    ref = {i: v.numpy() for i, v in emulate(net.spec, x).items()}
    layers, out = run_with_stock_io(net, x)
    assert len(layers) >= len(net) - 1  # every layer but a leading input is probed
    assert_layers_active(ref, layers)
    for i, got in layers.items():
        bad = np.argwhere(got != ref[i])
        assert bad.size == 0, (f"layer {i} ({net.spec.layers[i].type}) differs at [sample, "
                               f"step, ...] {bad[0].tolist()}: Network {got[tuple(bad[0])]}, "
                               f"emulator {ref[i][tuple(bad[0])]}")
    assert np.array_equal(out, ref[len(net) - 1])
    return ref


@pytest.mark.parametrize("conv,levels,neuron,steps,seed", [
    (False, 3, "MLSN", 3, 1), (True, 15, "MLSN", 2, 3), (True, 1, "MLSN", 3, 0),
    (False, 1, "CUBA", 4, 11)])
def test_random_file_equals_emulator(tmp_path, conv, levels, neuron, steps, seed):
    rng = np.random.default_rng(seed)
    spec = random_network(rng, levels=levels, conv=conv, neuron=neuron, timesteps=steps)
    path = str(tmp_path / "net.h5")
    write_network(spec, path)
    net = Network(net_config=path)  # the reset interval defaults to the file's timesteps
    assert net.reset_interval == steps and net.latency == spec.depths()[-1]
    ref = assert_equals_emulator(net, random_input(rng, spec, batch=3, steps=steps))
    if levels > 1:
        assert max(int(ref[i].max()) for i, la in enumerate(spec.layers)
                   if la.neuron is not None and la.neuron.type == "MLSN") > 1


def test_joins_skip_delays_and_raw_input_equal_emulator():
    rng = np.random.default_rng(5)
    spec = join_network(rng)
    net = Network(net_config=spec)
    assert [len(net.synapses[i]) for i in (3, 5)] == [2, 2] and net.layers[4] is None
    ref = assert_equals_emulator(net, random_input(rng, spec, batch=3, steps=3))
    assert np.abs(ref[5]).max() > 3  # the PASS join carries sums


def test_trained_residual_network_equals_emulator():
    torch.manual_seed(3)
    p = dict(threshold=0.7, levels=3, voltage_decay=0.1)
    net = block.Network([block.Input((2, 8, 8), 3), block.Conv({**p, "norm": True}, 2, 4, 3,
                                                               padding=1),
                         block.ResidualBlock("sparse", p, 4, 4),
                         block.ResidualBlock("sew", p, 4, 6, stride=2),
                         block.Flatten(), block.Readout({}, 6 * 16, 3)], timesteps=3)
    x = torch.randint(0, 5, (3, 2, 8, 8, 3)).float()
    spec = nudge(net, x).export_spec(allow_clipping=True)
    assert sum(layer.type == "join" for layer in spec.layers) == 2
    assert_equals_emulator(Network(net_config=spec), to_emulator_layout(x).long().numpy())


def test_quantized_network_equals_emulator():
    torch.manual_seed(1)
    net = dvs_convnet((2, 10, 10), 3, levels=3, channels=(4, 6), hidden=12, weight_bits=1,
                      membrane_bits=4, timesteps=2)
    x = torch.randint(0, 8, (3, 2, 10, 10, 2)).float()
    spec = nudge(net, x, regularizer=quant.SpikeEntropy()).export_spec()
    assert any(layer.weight_bits == 1 for layer in spec.layers)
    assert any(la.neuron is not None and la.neuron.v_bits for la in spec.layers)
    assert_equals_emulator(Network(net_config=spec), to_emulator_layout(x).long().numpy())


def test_reset_interval_and_offset_follow_netx():
    """``reset_interval=0`` never resets (state carries over from sample to sample),
    and ``reset_offset=1`` meets a source that sends one step of silence first."""
    rng = np.random.default_rng(1)
    spec = random_network(rng, levels=3, conv=False, timesteps=3)
    x = random_input(rng, spec, batch=3, steps=3)
    flat = x.reshape((1, 9) + x.shape[2:])
    ref = {i: v.numpy().reshape((1, 9) + v.shape[2:]) for i, v in emulate(spec, x).items()}
    whole = emulate(spec, flat)  # one long sample: nothing resets
    layers, _ = run_with_stock_io(Network(net_config=spec, reset_interval=0), x)
    for i in layers:
        assert np.array_equal(layers[i].reshape(whole[i].shape), whole[i].numpy()), i
    assert any(not np.array_equal(whole[i].numpy(), ref[i]) for i in layers)  # reset matters
    late = np.concatenate([np.zeros_like(flat[:, :1]), flat[:, :-1]], axis=1)
    layers, _ = run_with_stock_io(Network(net_config=spec, reset_offset=1),
                                  late.reshape(x.shape))
    for i in layers:  # step 0 is the silence; sample k starts at step 1 + 3k
        got = layers[i].reshape((1, 9) + ref[i].shape[2:])[:, 1:]
        assert np.array_equal(got, ref[i][:, :8]), i


def test_bad_files_are_refused_before_any_process(tmp_path):
    from lava_mlsnn.format import FormatError
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(FormatError):
        Network(net_config=str(bad))
    spec = random_network(np.random.default_rng(0), conv=False)
    with pytest.raises(ValueError, match="reset_interval"):
        Network(net_config=spec, reset_interval=-1)


def _stock_file(kind: str, path: str) -> tuple:
    """A lava-dl export of netx's wider vocabulary and an input for it."""
    import lava.lib.dl.slayer as slayer
    from stock_netx import export_stock
    from test_netx_stock import CUBA
    from test_sigma_delta import graded_input, sdnn_conv_file

    torch.manual_seed(0)
    cuba = slayer.block.cuba
    rng = np.random.default_rng(0)
    if kind == "sigma-delta":
        sdnn_conv_file(path, 0)
        return graded_input(0, (2, 8, 8), steps=6, batch=2)
    if kind == "input-neuron":
        export_stock(path, [cuba.Input(CUBA, weight=2.0, bias=0.1),
                            cuba.Dense(CUBA, 20, 16, weight_scale=4),
                            cuba.Dense(CUBA, 16, 5, weight_scale=4)], (20,))
        return rng.integers(0, 6, (2, 8, 20))
    export_stock(path, [cuba.Recurrent(CUBA, 20, 16, weight_scale=2),
                        cuba.Dense(CUBA, 16, 5, weight_scale=2)], (20,))
    return (rng.random((2, 8, 20)) < 0.4).astype(np.int64)


@pytest.mark.parametrize("kind", ["sigma-delta", "input-neuron", "recurrent"])
def test_stock_lava_dl_files_equal_emulator(tmp_path, kind):
    """Sigma-delta, Input blocks with a neuron and dense_rec layers, streamed with the
    reset every T steps (a stock file gives no timesteps: reset_interval=T)."""
    path = str(tmp_path / "stock.h5")
    x = _stock_file(kind, path)
    net = Network(net_config=path, reset_interval=x.shape[1], input_shape=x.shape[2:])
    assert_equals_emulator(net, x)
