"""``lava_mlsnn.netx.Network`` as a drop-in for ``lava.lib.dl.netx.hdf5.Network``.

Built with netx's arguments, wired as lava-dl's tests wire netx (data at
``in_layer.neuron.a_in`` for an Input block, else at ``inp``; a sink on each block's
``out``), it gives stock netx's integers at every step.
"""
import os

import numpy as np
import pytest

from lava_mlsnn.netx import Network
from lava_mlsnn.proc.synapse.process import Synapse

from stock_netx import run_stock_netx

pytestmark = pytest.mark.lava

NETS = os.environ.get("LAVA_MLSNN_NETS", "/work/shared/lava-dl-nets")
needs_nets = pytest.mark.skipif(not os.path.isdir(NETS), reason=f"{NETS} not present")


def _run_as_netx(net, x_chw_t: np.ndarray, total: int) -> list:
    """Drive the drop-in as netx is driven; per block ``[total, *shape]`` (torch order)."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    pad = np.zeros(x_chw_t.shape[:-1] + (total - x_chw_t.shape[-1],))
    src = Source(data=np.concatenate([x_chw_t, pad], -1).astype(np.int32))
    src.s_out.connect(net.in_layer.neuron.a_in if net.in_layer.synapse is None else net.inp)
    blocks = [b for b in net.layers if b is not None]
    sinks = [Sink(shape=b.out.shape, buffer=total) for b in blocks]
    for b, s in zip(blocks, sinks):
        b.out.connect(s.a_in)
    try:
        src.run(condition=RunSteps(num_steps=total), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        return [np.moveaxis(s.data.get(), -1, 0) for s in sinks]
    finally:
        src.stop()


def _stock(path, x_chw_t, steps, **netx_args):
    x_whc = x_chw_t.transpose(2, 1, 0, 3) if x_chw_t.ndim == 4 else x_chw_t
    whc = tuple(x_whc.shape[:-1]) if x_chw_t.ndim == 4 else None
    per_block, _, depth = run_stock_netx(path, x_whc, steps, input_shape=whc, **netx_args)
    return [np.moveaxis(b, -1, 0).transpose(0, 3, 2, 1) if b.ndim == 4
            else np.moveaxis(b, -1, 0) for b in per_block], steps + depth


@needs_nets
def test_access_paths_and_num_layers():
    net = Network(net_config=os.path.join(NETS, "test_netx_gts_pilotnet_lif_network.net"),
                  num_layers=3)
    assert len(net) == 3 and net.in_layer is net.layers[0] and net.out_layer is net.layers[2]
    assert net.in_layer.synapse is None and type(net.in_layer.neuron).__name__ == "CubaLif"
    assert isinstance(net.layers[1].synapse, Synapse) and net.layers[1].inp is \
        net.layers[1].synapse.s_in
    assert net.out_layer.out is net.out_layer.neuron.s_out
    assert tuple(net.layers[2].out.shape) == (36, 15, 49)


@needs_nets
@pytest.mark.parametrize("name,args,steps", [
    ("test_netx_mnist.net", {}, 4),
    ("tut_netx_mnist_trained_mnist_network.net", {"skip_layers": 1}, 5),
    ("test_netx_gts_pilotnet_sdnn_square_network.net", {"num_layers": 3, "spike_exp": 4}, 2),
])
def test_drop_in_equals_stock_netx_every_block_every_step(name, args, steps):
    path = os.path.join(NETS, name)
    rng = np.random.default_rng(1)
    net = Network(net_config=path, **args)
    shape = tuple(net.inp.shape)
    graded = len(shape) == 3 or net.in_layer.synapse is None
    x = rng.integers(0, 256, shape + (steps,)) if graded else \
        (rng.random(shape + (steps,)) < 0.3).astype(np.int64)
    want, total = _stock(path, x, steps, **args)
    got = _run_as_netx(net, x, total)
    assert len(got) == len(want)
    active = 0
    for k, (g, w) in enumerate(zip(got, want)):
        assert np.array_equal(g, w[:total]), f"{name} block {k} differs from stock netx"
        active += bool(np.count_nonzero(w))
    assert active >= len(want) - 1


@needs_nets
def test_what_does_not_apply_is_refused_by_name():
    path = os.path.join(NETS, "tut_netx_mnist_trained_mnist_network.net")
    for kwargs, words in [({"skip_layers": 3}, "skip_layers=3"),
                          ({"num_layers": 0}, "num_layers=0"),
                          ({"input_message_bits": 30}, "input_message_bits=30"),
                          ({"spike_exp": 40}, "spike_exp=40")]:
        with pytest.raises(ValueError, match=words):
            Network(net_config=path, **kwargs)


@needs_nets
def test_input_shape_in_netx_order():
    """A file that does not give its input shape (a conv first): netx's (x, y, f)."""
    from dataclasses import replace

    from lava_mlsnn.netx.compat import _cut
    from lava_mlsnn.format import read_network

    spec = read_network(os.path.join(NETS, "test_netx_gts_pilotnet_sdnn_square_network.net"))
    conv_first = replace(_cut(spec, 3, 1), input_shape=None)
    net = Network(net_config=conv_first, input_shape=(33, 33, 3), xyf=True)
    assert tuple(net.inp.shape) == (3, 33, 33)
    with pytest.raises(ValueError, match="input channels"):  # read as (C, H, W) = (33, 33, 3)
        Network(net_config=conv_first, input_shape=(33, 33, 3))
