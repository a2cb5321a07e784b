"""The trained netx files lava-dl ships (``/work/shared/lava-dl-nets``) run as stock netx runs them.

Every block of each file, at every Lava step, against stock ``netx.hdf5.Network``
(Lava fixed_pt) with the input conventions of lava-dl's own tests: a file whose first
layer is an Input block with a neuron gets its data at that neuron's ``a_in``, others
at ``net.inp``. lava-mlsnn runs stock netx's pipelined timing here
(:mod:`lava_mlsnn.backends.pipelined`), in the emulator and in Lava. The big PilotNet
files run whole with ``LAVA_MLSNN_SLOW=1``; by default their first blocks run (netx's
own ``num_layers``), which covers their conv, Input block and neuron vocabulary.
"""
import functools
import os
from dataclasses import replace

import h5py
import numpy as np
import pytest

from lava_mlsnn.backends.pipelined import emulate_pipelined, run_lava_pipelined
from lava_mlsnn.format import read_network

from stock_netx import run_stock_netx

pytestmark = pytest.mark.lava

NETS = os.environ.get("LAVA_MLSNN_NETS", "/work/shared/lava-dl-nets")
SLOW = os.environ.get("LAVA_MLSNN_SLOW", "") not in ("", "0")
#: file -> (input steps, layers built by default (None: all), layers that may stay silent)
FILES = {
    "tut_netx_mnist_trained_mnist_network.net": (6, None, ()),
    "tut_netx_oxford_Trained_network.net": (6, None, ()),
    "test_netx_mnist.net": (4, None, (3,)),
    "test_netx_gts_pilotnet_lif_network.net": (2, 3, (10,)),
    "tut_netx_pilotnet_sdnn_network.net": (2, 3, ()),
    "test_netx_gts_pilotnet_sdnn_network.net": (2, 3, ()),
    "test_netx_gts_pilotnet_sdnn_square_network.net": (2, None, ()),
}

#: spike density of the binary input (the Oxford net's weights sum negative on dense input)
DENSITY = {"tut_netx_oxford_Trained_network.net": 0.05}
needs_nets = pytest.mark.skipif(not os.path.isdir(NETS), reason=f"{NETS} not present")


def _path(name: str) -> str:
    return os.path.join(NETS, name)


def _sample(spec, steps: int, density: float = 0.3) -> np.ndarray:
    """One sample ``[1, T, *CHW]``: frames 0..255 for image nets and Input blocks (what
    their tests feed), binary spikes for the plain dense nets."""
    rng = np.random.default_rng(0)
    shape = tuple(spec.input_shape)
    if len(shape) == 3 or spec.layers[0].type == "input":
        return rng.integers(0, 256, (1, steps) + shape)
    return (rng.random((1, steps) + shape) < density).astype(np.int64)


@functools.lru_cache(maxsize=None)
def _case(name: str, full: bool):
    """(spec cut to the layers built, input, {layer: stock output [steps, *CHW]})."""
    steps, first, _ = FILES[name]
    num_layers = None if full else first
    spec = read_network(_path(name))
    if num_layers is not None:
        spec = replace(spec, layers=spec.layers[:num_layers])
    x = _sample(spec, steps, DENSITY.get(name, 0.3))
    x_whc = x[0].T if x.ndim == 3 else x[0].transpose(3, 2, 1, 0)
    whc = tuple(x_whc.shape[:-1]) if x.ndim == 5 else None
    with h5py.File(_path(name), "r") as f:  # netx builds a block per layer but these
        blocks = [i for i, la in enumerate(spec.layers) if la.type != "flatten"
                  and not (la.type == "input" and "neuron" not in f[f"layer/{i}"])]
    per_block, _, _ = run_stock_netx(_path(name), x_whc, steps, input_shape=whc,
                                     num_layers=num_layers)
    total = steps + max(spec.depths())
    stock = {}
    for i, s in zip(blocks, per_block):
        g = np.moveaxis(s, -1, 0)[:total]
        stock[i] = g.transpose(0, 3, 2, 1) if g.ndim == 4 else g
    assert len(per_block) == len(blocks)
    return spec, x, stock


def _params(slow_all: bool):
    out = []
    for name in FILES:
        out.append(pytest.param(name, False, id=name))
        if FILES[name][1] is not None:
            out.append(pytest.param(name, True, id=name + "-whole", marks=pytest.mark.skipif(
                not SLOW, reason="set LAVA_MLSNN_SLOW=1")))
    return out


@needs_nets
@pytest.mark.parametrize("name", list(FILES))
def test_every_shared_file_loads_and_says_what_it_ignores(name, capsys):
    from lava_mlsnn.cli import main

    spec = read_network(_path(name))
    assert spec.stock and len(spec.layers) >= 2
    assert main(["inspect", _path(name)]) == 0
    out = capsys.readouterr().out
    with h5py.File(_path(name), "r") as f:
        if "simulation" in f:
            assert "ignored    simulation (netx never reads it)" in out
        if any("theta" in f[f"layer/{i}"].get("neuron", {}) for i in range(len(f["layer"]))):
            for key in ("theta", "wgtExp", "scaleRho", "tauRho"):
                assert f"ignored    neuron/{key} (netx reads past it): layers 0, 1" in out


@needs_nets
@pytest.mark.parametrize("name,full", _params(True))
def test_emulator_matches_stock_netx_every_block_every_step(name, full):
    spec, x, stock = _case(name, full)
    ours = emulate_pipelined(spec, x)
    silent = FILES[name][2]
    for i, want in stock.items():
        got = ours[i][0].numpy()
        bad = np.argwhere(got != want)
        assert bad.size == 0, f"{name} layer {i} differs from stock netx at {bad[0].tolist()}"
        if i not in silent:
            assert np.count_nonzero(want) > 0, f"{name} layer {i} is silent: compares nothing"


@needs_nets
@pytest.mark.parametrize("name,full", _params(True))
def test_lava_backend_matches_stock_netx_every_block_every_step(name, full):
    if name.startswith("tut_netx_pilotnet") and not full and not SLOW:
        pytest.skip("the emulator case and the gts files cover it; set LAVA_MLSNN_SLOW=1")
    spec, x, stock = _case(name, full)
    ours = run_lava_pipelined(spec, x)
    for i, want in stock.items():
        assert np.array_equal(ours[i][0], want), f"{name} layer {i}: Lava != stock netx"
