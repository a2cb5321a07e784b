"""Stock lava-dl / netx as the reference: export lava-dl blocks, run stock netx.

Everything that drives lava-dl's own exporter and stock ``netx.hdf5.Network`` for
the comparison tests lives here, so each test states only its network and input.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch


def export_stock(path: str, blocks: Sequence[torch.nn.Module], in_shape: Tuple[int, ...]
                 ) -> None:
    """Export lava-dl blocks the stock way (h5py ``layer/<i>`` groups, lava_apis.md §3.6).

    One forward pass first: it sets the neurons' shapes (and the delays' sizes) that
    ``export_hdf5`` needs.
    """
    import h5py

    with torch.no_grad():
        z = torch.zeros((1,) + tuple(in_shape) + (2,))
        for b in blocks:
            z = b(z)
    with h5py.File(path, "w") as f:
        layer = f.create_group("layer")
        for i, b in enumerate(blocks):
            b.export_hdf5(layer.create_group(f"{i}"))


def randomize_delays(blocks: Sequence[torch.nn.Module], rng: np.random.Generator,
                     max_delay: int) -> None:
    """Random integer axonal delays in ``[0, max_delay]`` for every block with ``delay=True``
    (after the forward pass of :func:`export_stock` has sized them, so call it on blocks
    that have run once)."""
    with torch.no_grad():
        for b in blocks:
            d = getattr(b, "delay", None)
            if d is not None and getattr(d, "delay", None) is not None:
                d.delay.copy_(torch.from_numpy(
                    rng.integers(0, max_delay + 1, size=tuple(d.delay.shape))).float())


def size_blocks(blocks: Sequence[torch.nn.Module], in_shape: Tuple[int, ...]) -> None:
    """One forward pass: sets the neurons' shapes and the delays' sizes."""
    with torch.no_grad():
        z = torch.zeros((1,) + tuple(in_shape) + (2,))
        for b in blocks:
            z = b(z)


def run_stock_netx(path: str, x_whc: np.ndarray, steps: int,
                   input_shape: Optional[Tuple[int, ...]] = None, extra: int = 0,
                   input_message_bits: int = 0, **netx_args
                   ) -> Tuple[List[np.ndarray], np.ndarray, int]:
    """Stock netx in Lava fixed_pt: RingBuffer -> net.inp; a sink on every block and on
    net.out; no reset. ``x_whc`` is one sample ``(*shape_WHC, T)``.

    When the first block is a stock ``Input`` block (a neuron of its own), whose
    ``inp`` netx leaves unwired, the source drives that neuron's ``a_in``.

    Runs ``steps + len(net.layers) + extra`` steps (``extra``: room for delays).
    ``netx_args`` go to ``netx.hdf5.Network`` (e.g. ``num_layers``).
    Returns ``([per-block (*shape_WHC, time)], out (*shape, time), number of blocks)``.
    """
    from lava.lib.dl import netx
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    net = netx.hdf5.Network(net_config=path, input_shape=input_shape,
                            input_message_bits=input_message_bits, **netx_args)
    depth = len(net.layers)  # stock latency: one step per synapse
    total = steps + depth + extra
    pad = np.zeros(x_whc.shape[:-1] + (total - steps,))
    src = Source(data=np.concatenate([x_whc, pad], -1).astype(np.int32))
    first = net.layers[0]
    if type(first).__name__ == "Input":
        src.s_out.connect(first.neuron.a_in)
    else:
        src.s_out.connect(net.inp)
    sinks = []
    for port in [layer.out for layer in net.layers] + [net.out]:
        sinks.append(Sink(shape=port.shape, buffer=total))
        port.connect(sinks[-1].a_in)
    try:
        src.run(condition=RunSteps(num_steps=total),
                run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        got = [s.data.get() for s in sinks]
    finally:
        src.stop()
    return got[:-1], got[-1], depth


def aligned(stock: np.ndarray, depth: int, steps: int) -> np.ndarray:
    """A block's stock output ``(*WHC, time)`` as aligned ``[T, *CHW]``: a block behind
    ``depth`` synapses sends sample step ``s`` at sink slot ``s + depth``."""
    g = np.moveaxis(stock, -1, 0)[depth:depth + steps]
    return g.transpose(0, 3, 2, 1) if g.ndim == 4 else g
