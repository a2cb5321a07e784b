"""Random stock netx networks: stock ``netx.hdf5.Network`` and lava-mlsnn agree per layer.

Chains in lava-dl's netx layout (CUBA or sigma-delta; dense and conv with stride,
padding, dilation per axis and groups; random sizes, thresholds, decays, biases,
weights; graded input through an Input block with a neuron or one without), drawn by
hypothesis with a small fixed budget (25 draws with ``LAVA_MLSNN_SLOW=1``), run in the
emulator and, for three fixed draws (every draw with ``LAVA_MLSNN_SLOW=1``), in
lava-mlsnn's Lava backend too. Stock netx
builds no pool layer (``create_pool`` raises NotImplementedError), so pooling is not in its
parameter space. Both run stock netx's pipelined timing; every layer must
give the same integers at every step and be active.
"""
import itertools
import os

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from lava_mlsnn.backends.pipelined import emulate_pipelined, run_lava_pipelined
from lava_mlsnn.format import read_network

from stock_netx import run_stock_netx
from test_netx_differences import _layer

pytestmark = pytest.mark.lava
_FILES = itertools.count()


def _write(path: str, seed: int, sdnn: bool, conv: bool, n_dense: int) -> tuple:
    rng = np.random.default_rng(seed)
    if sdnn:
        neuron = lambda: {"type": "SDNN", "activation": "relu",  # noqa: E731
                          "vThMant": int(rng.integers(0, 8))}
    else:
        neuron = lambda: {"type": "CUBA", "iDecay": int(rng.integers(0, 4097)),  # noqa: E731
                          "vDecay": int(rng.integers(0, 4097)),
                          "vThMant": int(rng.integers(1, 60)), "refDelay": 1,
                          "gradedSpike": False}
    with h5py.File(path, "w") as f:
        i = 0
        if conv:  # conv geometry drawn per axis (y, x), as the file stores it
            _layer(f, 0, "input", [2, 7, 6], neuron())
            groups = int(rng.integers(1, 3))
            c = groups * int(rng.integers(1, 3))
            k = int(rng.integers(1, 4))
            stride, padding, dilation = (rng.integers(lo, hi, 2).tolist()
                                         for lo, hi in ((1, 3), (0, 2), (1, 3)))
            hw = [(n + 2 * p - d * (k - 1) - 1) // s + 1
                  for n, s, p, d in zip((7, 6), stride, padding, dilation)]
            g = _layer(f, 1, "conv", [c] + hw, neuron(),
                       weight=rng.integers(-30, 60, (c, 2 // groups, k, k)).astype(np.float32),
                       bias=rng.integers(-20, 20, c).astype(np.float32))
            for key, v in (("stride", stride), ("padding", padding), ("dilation", dilation),
                           ("groups", groups)):
                g.create_dataset(key, data=np.asarray(v, dtype=np.int64))
            _layer(f, 2, "flatten", [c * hw[0] * hw[1]])
            n_in, i = c * hw[0] * hw[1], 3
            in_shape = (2, 7, 6)
        else:
            n_in = int(rng.integers(4, 16))
            in_shape = (n_in,)
            _layer(f, 0, "input", [n_in])
            i = 1
        for _ in range(n_dense):
            n = int(rng.integers(2, 12))
            _layer(f, i, "dense", [n], neuron(),
                   weight=rng.integers(-40, 80, (n, n_in)).astype(np.float32),
                   bias=rng.integers(-10, 30, n).astype(np.float32))
            n_in, i = n, i + 1
    return in_shape


SLOW = os.environ.get("LAVA_MLSNN_SLOW", "") not in ("", "0")


def _check(path: str, seed: int, sdnn: bool, conv: bool, n_dense: int, lava: bool) -> list:
    """Stock netx against the emulator (and lava-mlsnn in Lava with ``lava``): every
    block equal at every step of stock netx's pipelined timing. Returns the blocks
    that are silent in stock netx (they compare nothing)."""
    in_shape = _write(path, seed, sdnn, conv, n_dense)
    spec = read_network(path)
    rng = np.random.default_rng(seed + 1)
    steps = 5
    x = rng.integers(0, 200 if (sdnn or conv) else 6, (1, steps) + in_shape)
    runs = {"emulator": emulate_pipelined(spec, x)}
    if lava:
        runs["Lava"] = run_lava_pipelined(spec, x)
    x_whc = x[0].T if x.ndim == 3 else x[0].transpose(3, 2, 1, 0)
    whc = tuple(x_whc.shape[:-1]) if x.ndim == 5 else None
    per_block, _, _ = run_stock_netx(path, x_whc, steps, input_shape=whc,
                                     input_message_bits=8)
    blocks = [k for k, la in enumerate(spec.layers) if la.type != "flatten"
              and not (la.type == "input" and la.neuron.type == "PASS")]
    assert len(per_block) == len(blocks)
    for backend, ours in runs.items():
        total = ours[blocks[0]].shape[1]
        for k, s in zip(blocks, per_block):
            g = np.moveaxis(s, -1, 0)[:total]
            want = g.transpose(0, 3, 2, 1) if g.ndim == 4 else g
            got = np.asarray(ours[k][0])
            bad = np.argwhere(got != want)
            assert bad.size == 0, \
                f"{backend}: layer {k} differs from stock netx at {bad[0].tolist()}"
    return [k for k, s in zip(blocks, per_block) if not np.any(s)]


@settings(max_examples=25 if SLOW else 6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])
@given(seed=st.integers(0, 2**16), sdnn=st.booleans(), conv=st.booleans(),
       n_dense=st.integers(1, 2))
def test_random_stock_networks_match_stock_netx(tmp_path, seed, sdnn, conv, n_dense):
    """Random chains: the emulator on every draw, lava-mlsnn in Lava too with
    ``LAVA_MLSNN_SLOW=1``."""
    silent = _check(str(tmp_path / f"r{next(_FILES)}.net"),  # netx keeps a file it read open
                    seed, sdnn, conv, n_dense, lava=SLOW)
    assume(not silent)  # a draw with a silent block (negative weights) is not counted


@pytest.mark.parametrize("seed, sdnn, conv, n_dense", [(11, True, True, 1), (13, False, True, 2),
                                                       (14, False, False, 2)])
def test_lava_runs_random_stock_networks_as_stock_netx(tmp_path, seed, sdnn, conv, n_dense):
    """Fixed draws (sigma-delta conv, CUBA conv, CUBA dense) in lava-mlsnn's Lava
    backend as well as the emulator: both equal stock netx on every block."""
    silent = _check(str(tmp_path / f"l{next(_FILES)}.net"), seed, sdnn, conv, n_dense, lava=True)
    assert not silent, f"blocks {silent} are silent: they compare nothing"
