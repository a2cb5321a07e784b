"""The current bias of DESIGN §5 (``NeuronParams.current_bias``, neuron key ``currentBias``).

Checked against a plain transcription of the §5 rule written here (Python integers, one
neuron at a time, nothing from the package): ``fixed``'s numpy and torch steps at the
24-bit edges (hypothesis), the emulator on a small network (which must leave its lean
and fused paths for the plain step), Lava fixed_pt, the HDF5 vocabulary and the NIR
extension (byte-identical round trip).
"""
import h5py
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from lava_mlsnn import fixed
from lava_mlsnn.backends import emulator, kernels
from lava_mlsnn.fixed import NeuronParams, SynapseSpec
from lava_mlsnn.format import FormatError, read_network, write_network
from lava_mlsnn.format.random_net import random_input, random_network
from lava_mlsnn.format.spec import Branch, LayerSpec, NetworkSpec
from lava_mlsnn.netx import emulate
from layercheck import assert_layers_active

LO, HI = -(2 ** 23), 2 ** 23 - 1


# ----------------------------------------------------------------- the §5 rule, transcribed
def _decay(x, d):
    mag = (abs(x) * (4096 - d)) // 4096
    return -mag if x < 0 else mag


def _sat(x):
    return min(max(x, LO), HI)


def ref_mlsn(u, v, a, cb, th, levels, di, dv, bias=0):
    """``u = sat24(decay(u, iDecay) + ((a + currentBias) << 6))``, then §5's MLSN."""
    u = _sat(_decay(u, di) + (a + cb) * 64)
    v = _sat(_decay(v, dv) + u + bias * 64)
    z = 0 if v < th * 64 else min(levels, v // (th * 64))
    return u, v - z * th * 64, z


def ref_cuba(u, v, a, cb, th, di, dv, bias=0):
    """CUBA: the current bias enters before LIF's 24-bit wrap (once, as Lava's)."""
    u = _decay(u, di) + (a + cb) * 64
    u = (u + 2 ** 31) % 2 ** 32 - 2 ** 31  # LIF's int32 sum
    if u > 2 ** 23:
        u -= 2 ** 24
    elif u <= -(2 ** 23):
        u += 2 ** 24
    v = _decay(v, dv) + u + bias * 64
    v = min(max((v + 2 ** 31) % 2 ** 32 - 2 ** 31, -HI), HI)
    s = 1 if v > th * 64 else 0
    return u, 0 if s else v, s


def _steps(kind, p, states, currents):
    """``fixed.neuron_step`` over the rows of ``currents`` in numpy int64, torch int64 and
    (where ``state_dtype`` allows it) torch int32; returns each one's last triple."""
    out = []
    for lib, dtype in (("np", np.int64), ("torch", torch.int64), ("torch", torch.int32)):
        if lib == "torch" and dtype == torch.int32 and fixed.state_dtype(p) != torch.int32:
            continue
        u, v = (np.asarray(s, dtype=np.int64) for s in states)
        if lib == "torch":
            u, v = torch.as_tensor(u).to(dtype), torch.as_tensor(v).to(dtype)
        for a in currents:
            a = np.asarray(a, dtype=np.int64)
            a = torch.as_tensor(a).to(dtype) if lib == "torch" else a
            (u, v), z = fixed.neuron_step((u, v), a, p)
        out.append([np.asarray(x, dtype=np.int64).tolist() for x in (u, v, z)])
    return out


EDGE = st.one_of(st.integers(LO, HI), st.sampled_from([LO, LO + 1, -1, 0, 1, HI - 1, HI]))


@settings(max_examples=60, deadline=None)
@given(u=st.lists(EDGE, min_size=3, max_size=3), v=st.lists(EDGE, min_size=3, max_size=3),
       a=st.lists(st.lists(EDGE, min_size=3, max_size=3), min_size=1, max_size=3),
       cb=st.lists(EDGE, min_size=3, max_size=3), th=st.integers(1, 2 ** 17 - 1),
       levels=st.integers(1, 40), di=st.sampled_from([0, 1, 819, 4095, 4096]),
       dv=st.sampled_from([0, 1, 410, 4095, 4096]), cuba=st.booleans())
def test_step_equals_the_rule_at_the_edges(u, v, a, cb, th, levels, di, dv, cuba):
    kind = "CUBA" if cuba else "MLSN"
    p = NeuronParams(kind, th, 1 if cuba else levels, di, dv, current_bias=np.array(cb))
    u0 = [min(max(x, -HI), HI) for x in u] if cuba else u  # a CUBA current after its wrap
    want_u, want_v, want_z = list(u0), list(v), None
    for step in a:
        res = [ref_cuba(want_u[n], want_v[n], step[n], cb[n], th, di, dv) if cuba else
               ref_mlsn(want_u[n], want_v[n], step[n], cb[n], th, levels, di, dv)
               for n in range(3)]
        want_u, want_v, want_z = (list(r) for r in zip(*res))
    for got in _steps(kind, p, (u0, v), a):
        assert got == [want_u, want_v, want_z]


def test_a_current_bias_builds_up_as_the_current():
    """The point of it: with iDecay d the bias alone drives the current to about
    ``cb * 4096 / d`` (NIR's 1/(1 - alpha)), where a bias on v adds ``cb`` a step."""
    p = NeuronParams("MLSN", 10 ** 5, 1, 1024, 4096, current_bias=np.array([100]))
    state = fixed.initial_state(p, (1,), np.zeros(1))
    for _ in range(60):
        state, _ = fixed.neuron_step(state, np.zeros(1, np.int64), p)
    assert 399 * 64 <= int(state[0][0]) <= 400 * 64  # 100 / (1 - 0.75)


@pytest.mark.parametrize("kind", ["READOUT", "PASS", "SDNN"])
def test_other_neurons_refuse_it(kind):
    p = NeuronParams(kind, 1, 1, current_bias=np.array([1]))
    with pytest.raises(ValueError, match=f"current bias .* on a {kind} neuron is not supported"):
        fixed.neuron_step(fixed.initial_state(p, (1,), np.zeros(1)), np.zeros(1, np.int64), p)


# ----------------------------------------------------------------- a small network
def _net(steps=6):
    rng = np.random.default_rng(3)
    layers = [LayerSpec("input", (12,), -1, neuron=NeuronParams("INPUT", input_levels=1)),
              LayerSpec("dense", (8,), 0, [Branch(0, SynapseSpec(
                  "dense", rng.integers(-40, 60, (8, 12)) * 2))],
                  NeuronParams("MLSN", 150, 3, 1024, 300, current_bias=rng.integers(-30, 40, 8))),
              LayerSpec("dense", (5,), 1, [Branch(1, SynapseSpec(
                  "dense", rng.integers(-60, 90, (5, 8)) * 2))],
                  NeuronParams("CUBA", 200, 1, 2048, 410, bias=rng.integers(-5, 5, 5),
                               current_bias=rng.integers(-20, 60, 5)))]
    return NetworkSpec(layers, (12,), 1, steps)


def _reference(spec, x):
    """The network with the rules above: dense sums, then one neuron at a time."""
    out = {}
    z = x.tolist()
    for i, layer in enumerate(spec.layers):
        if i == 0:
            z = [[[min(max(v, 0), 1) for v in row] for row in sample] for sample in z]
            out[i] = z
            continue
        w = np.asarray(layer.branches[0].synapse.weight).tolist()
        p = layer.neuron
        cb = np.broadcast_to(p.current_bias, layer.shape).tolist()
        bias = [0] * layer.shape[0] if p.bias is None else \
            np.broadcast_to(p.bias, layer.shape).tolist()
        res = []
        for sample in z:
            u, v, rows = [0] * layer.shape[0], [p.v_init] * layer.shape[0], []
            for zt in sample:
                row = []
                for n in range(layer.shape[0]):
                    a = _sat(sum(wi * zi for wi, zi in zip(w[n], zt)))
                    if p.type == "MLSN":
                        u[n], v[n], s = ref_mlsn(u[n], v[n], a, cb[n], p.v_th_mant, p.levels,
                                                 p.i_decay, p.v_decay, bias[n])
                    else:
                        u[n], v[n], s = ref_cuba(u[n], v[n], a, cb[n], p.v_th_mant,
                                                 p.i_decay, p.v_decay, bias[n])
                    row.append(s)
                rows.append(row)
            res.append(rows)
        out[i] = z = res
    return {i: np.asarray(v, dtype=np.int64) for i, v in out.items()}


def _x(spec, batch=5):
    return torch.from_numpy(np.random.default_rng(4).integers(
        0, 2, (batch, spec.timesteps) + spec.input_shape))


def test_emulator_equals_the_rule_and_leaves_its_fast_paths(monkeypatch):
    spec = _net()
    x = _x(spec)
    want = _reference(spec, x)
    assert_layers_active(want)
    no_bias = NetworkSpec(spec.layers[:2], spec.input_shape, 1, spec.timesteps)
    no_bias.layers[1] = LayerSpec("dense", (8,), 0, spec.layers[1].branches,
                                  NeuronParams("MLSN", 150, 3, 1024, 300))
    bounds = emulator.sum_bounds(spec, 1)
    assert emulator.lean_layers(spec, {1}, bounds) == set()  # the explicit check
    assert emulator.lean_layers(no_bias, {1}, emulator.sum_bounds(no_bias, 1)) == {1}

    def refused(*args, **kwargs):
        raise AssertionError("a fast path ran")
    monkeypatch.setattr(kernels, "run_layer", refused)
    with pytest.raises(AssertionError, match="a fast path ran"):
        emulate(no_bias, x)  # the control takes the compiled layer-major loop
    monkeypatch.setattr(emulator, "KERNEL_STEP", False)
    monkeypatch.setattr(emulator, "lean_step", refused)
    monkeypatch.setattr(emulator, "_fused_step", lambda: refused)
    with pytest.raises(AssertionError, match="a fast path ran"):
        emulate(no_bias, x)  # step-major, the control takes the lean path
    with pytest.raises(AssertionError, match="a fast path ran"):
        emulate(no_bias, x, fused=True)
    for fused in (False, True):
        got = emulate(spec, x, fused=fused)
        for i in want:
            assert np.array_equal(got[i].numpy(), want[i]), (fused, i)
    monkeypatch.setattr(emulator, "KERNEL_STEP", True)  # layer-major: the plain step
    got = emulate(spec, x)
    for i in want:
        assert np.array_equal(got[i].numpy(), want[i]), i


def test_random_networks_keep_it_on_every_path(monkeypatch):
    """Conv, pool and dense layers with current biases: the default emulator equals its
    plain step everywhere, and differs from the same network without them."""
    for seed, conv in ((0, True), (1, False)):
        spec = random_network(seed, levels=3, conv=conv, current_bias=True, timesteps=3)
        x = torch.from_numpy(random_input(seed, spec, 3, 3))
        fast = emulate(spec, x)
        with monkeypatch.context() as m:
            m.setattr(emulator, "LEAN_STEP", False)
            plain = emulate(spec, x)
        assert_layers_active(fast, [1])
        assert all(torch.equal(fast[k], plain[k]) for k in fast)
        other = emulate(random_network(seed, levels=3, conv=conv, timesteps=3), x)
        assert any(not torch.equal(fast[k], other[k]) for k in fast)  # it is not ignored


@pytest.mark.lava
def test_lava_fixed_pt_equals_the_emulator():
    from lava_mlsnn.backends.lava_runner import run_lava
    spec = _net(steps=4)
    x = _x(spec, batch=2)
    want = _reference(spec, x)
    got = run_lava(spec, x)
    assert_layers_active(got)
    for i in want:
        assert np.array_equal(got[i], want[i]), i
    spec = random_network(7, levels=3, conv=True, current_bias=True, timesteps=3)
    x = random_input(7, spec, 2, 3)
    ref, got = emulate(spec, x), run_lava(spec, x)
    assert_layers_active(ref, [1])
    assert all(np.array_equal(got[i], ref[i].numpy()) for i in ref)


# ----------------------------------------------------------------- HDF5 and NIR
def test_hdf5_round_trip_and_refusals(tmp_path):
    spec = _net()
    path = tmp_path / "n.h5"
    write_network(spec, str(path))
    back = read_network(str(path))
    for i in (1, 2):
        assert np.array_equal(np.broadcast_to(back.layers[i].neuron.current_bias, (8, 5)[i - 1:i]),
                              np.broadcast_to(spec.layers[i].neuron.current_bias,
                                              (8, 5)[i - 1:i]))
    x = _x(spec)
    assert all(torch.equal(a, b) for a, b in zip(emulate(spec, x).values(),
                                                 emulate(back, x).values()))

    def edited(name, change):
        p = tmp_path / name
        write_network(spec, str(p))
        with h5py.File(p, "a") as f:
            change(f)
        return str(p)

    def drop_attrs(f):  # a stock file: netx would run the layer without it
        for k in list(f.attrs):
            del f.attrs[k]
    with pytest.raises(FormatError, match=r"layer/1/neuron/currentBias: a lava-mlsnn current "
                       r"bias in a file without lava-mlsnn's root attributes"):
        read_network(edited("stock.h5", drop_attrs))

    def big(f):
        del f["layer/1/neuron/currentBias"]
        f["layer/1/neuron/currentBias"] = np.full(8, 2 ** 23, np.int64)
    with pytest.raises(FormatError, match="layer/1/neuron/currentBias"):
        read_network(edited("big.h5", big))

    def shape(f):
        del f["layer/1/neuron/currentBias"]
        f["layer/1/neuron/currentBias"] = np.ones(3, np.int32)
    with pytest.raises(FormatError, match=r"layer/1/neuron/currentBias: shape \(3,\) fits "
                       "neither"):
        read_network(edited("shape.h5", shape))


def test_readout_file_refuses_it(tmp_path):
    spec = _net()
    path = tmp_path / "r.h5"
    write_network(NetworkSpec(spec.layers[:2] + [LayerSpec(
        "dense", (5,), 1, spec.layers[2].branches, NeuronParams("READOUT", 1, 1, 4096, 0))],
        (12,), 1, 6), str(path))
    with h5py.File(path, "a") as f:
        f["layer/2/neuron/currentBias"] = np.ones(5, np.int32)
    with pytest.raises(FormatError, match="layer/2/neuron.*currentBias"):
        read_network(str(path))


def test_nir_extension_round_trip_is_byte_identical(tmp_path):
    nir = pytest.importorskip("nir")
    from lava_mlsnn.nir import read_nir, to_nir
    from test_nir import _dump
    for k, spec in enumerate([_net(), random_network(5, conv=True, current_bias=True)]):
        a, g, b = tmp_path / f"a{k}.h5", tmp_path / f"g{k}.nir", tmp_path / f"b{k}.h5"
        write_network(spec, str(a))
        with h5py.File(a) as f:
            assert any("currentBias" in f[f"layer/{i}/neuron"] for i in f["layer"]
                       if "neuron" in f[f"layer/{i}"])
        nir.write(str(g), to_nir(read_network(str(a))))
        write_network(read_nir(str(g)), str(b))
        assert _dump(a) == _dump(b)
