"""The Loihi 2 core estimate held to the compiler's published allocations.

Published cores per layer (input -> output) from the lava-dl notebooks, transcribed in
``shared/lava-dl-nets/loihi2_allocations.md``.  The layers are read straight from the users'
netx files with h5py (independent of our reader), so the test runs on what users have.
Tolerance: total within 15 %, each layer within one core or 20 %, whichever larger.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from lava_mlsnn.backends.loihi2.mapping import estimate_file, map_conv, map_dense

h5py = pytest.importorskip("h5py")
NETS = Path(os.environ.get("LAVA_MLSNN_NETS",
                           Path(__file__).resolve().parents[1].parent / "shared" / "lava-dl-nets"))

PUBLISHED = {  # the input layer is listed where it ran on chip (PilotNet SNN's LIF input)
    "tut_netx_pilotnet_sdnn_network.net": ([25, 13, 3, 3, 2, 12, 1, 1, 1], 61),
    "test_netx_gts_pilotnet_lif_network.net": ([13, 25, 13, 3, 3, 2, 12, 1, 1, 1], 74),
    "tut_netx_mnist_trained_mnist_network.net": ([3, 1, 1], 5),
}


def _estimate(path: Path) -> list[int]:
    rows = estimate_file(path)
    assert all(m.neurons_per_core > 0 for _, m in rows)
    return [m.cores for _, m in rows]


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_estimate_matches_published_allocation(name):
    path = NETS / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    per_layer, total = PUBLISHED[name]
    got = _estimate(path)
    assert len(got) == len(per_layer)
    assert abs(sum(got) - total) <= 0.15 * total, (got, per_layer)
    for g, p in zip(got, per_layer):
        assert abs(g - p) <= max(1, 0.2 * p), (got, per_layer)


def test_conv_tiles_are_the_compiler_labels():
    # The compiler names each conv layer by its per-core tile, e.g. Conv(4, 32, 24).
    assert map_conv((99, 32, 24)).neurons_per_core == 4 * 32 * 24
    assert map_conv((49, 15, 36)).neurons_per_core == 4 * 15 * 36
    assert map_conv((20, 2, 64)).neurons_per_core == 16 * 2 * 64
    assert map_conv((200, 66, 3), is_input=True).neurons_per_core == 16 * 66 * 3


def test_dense_binding_limits():
    wide = map_dense(100, 2560, 0.395)  # PilotNet 2560 -> 100: published 12 cores
    assert (wide.cores, wide.binds) == (10, "synapses") and wide.syn_words_per_core <= 8192
    small = map_dense(10, 50, 0.92)
    assert (small.cores, small.binds, small.neurons_per_core) == (1, "neurons", 10)


@pytest.mark.parametrize("bad", [(0, 10, 1.0), (10, 0, 1.0), (10, 10, 0.0), (10, 10, 1.5)])
def test_bad_dense_refused(bad):
    with pytest.raises(ValueError):
        map_dense(*bad)


def test_bad_conv_refused():
    with pytest.raises(ValueError):
        map_conv((4, 0, 3))

def test_tall_columns_split_along_height_then_channels():
    # 64 x 64 columns exceed the 3072-neuron tile: 32 rows of 64 channels per core.
    assert (map_conv((4, 64, 64)).neurons_per_core, map_conv((4, 64, 64)).cores) == (2048, 8)
    big = map_conv((2, 2, 5000))
    assert (big.neurons_per_core, big.cores) == (3072, 2 * 2 * 2)


def test_fan_in_beyond_one_core_refused():
    with pytest.raises(ValueError, match="not modelled"):
        map_dense(10, 6000)


def test_pilotnet_sdnn_file_has_no_bias_exponent_warning():
    # The file ran on Loihi 2 (lava-dl's pilotnet_sdnn benchmark notebook).
    from lava_mlsnn.backends.loihi2.report import deployment_warnings
    from lava_mlsnn.format import read_network

    path = NETS / "tut_netx_pilotnet_sdnn_network.net"
    if not path.exists():
        pytest.skip(f"{path} not present")
    assert not [w for w in deployment_warnings(read_network(path)) if "biasExp" in w]


def test_inspect_prints_the_calibrated_mapping(capsys):
    from lava_mlsnn.cli import main

    path = NETS / "tut_netx_mnist_trained_mnist_network.net"
    if not path.exists():
        pytest.skip(f"{path} not present")
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "dense 784 -> 128" in out and "5 cores, 1 chip (fits one chip)" in out
    assert "8,192 neurons per core" not in out and out.count("Loihi 2 resources") == 1


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(w=st.integers(1, 4096), h=st.integers(1, 256), c=st.integers(1, 8192),
       is_input=st.booleans())
def test_conv_tiles_hold_every_neuron_within_the_cap(w, h, c, is_input):
    m = map_conv((w, h, c), is_input=is_input)
    cap = 4096 if is_input else 3072
    assert 1 <= m.neurons_per_core <= cap and m.cores * m.neurons_per_core >= w * h * c
    assert m.binds == "neurons"


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 20000), fan_in=st.integers(1, 4700))
def test_dense_cores_hold_every_neuron_within_synaptic_memory(n, fan_in):
    # One neuron of fan-in F takes (1.608 + 0.1531) F words: F <= 4651 fits a core.
    if fan_in > 4651:
        with pytest.raises(ValueError, match="not modelled"):
            map_dense(n, fan_in)
        return
    m = map_dense(n, fan_in)
    assert m.cores * m.neurons_per_core >= n and m.neurons_per_core <= 8192
    assert m.syn_words_per_core <= 8192 and m.axon_in == fan_in
    fewer = math.ceil(n / (m.cores - 1)) if m.cores > 1 else None
    if fewer is not None:  # one core fewer would overflow the binding limit
        words = 1.608 * fan_in + 0.1531 * fewer * fan_in
        assert words > 8192 or fewer > 8192
