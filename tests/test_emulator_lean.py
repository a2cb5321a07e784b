"""The emulator's lean MLSN step (float32 from synapse to synapse, backends/lean.py)
against the plain integer step (:func:`lava_mlsnn.fixed.mlsn_step` after
:func:`lava_mlsnn.fixed.current_of_sum`) and the independent scalar reference, at the
numeric edges: sums at +-2**24, weight exponents both ways, states at +-2**23, decays
0/1/4095/4096, biases near the int32 bound, membrane quantization, T = 1 and T > 1."""
import numpy as np
import torch
from hypothesis import given, settings, strategies as st

import lava_mlsnn.backends.emulator as emulator
from layercheck import assert_layers_active
from lava_mlsnn import fixed
from lava_mlsnn.backends.lean import lean_layers, lean_ok, lean_params, lean_step
from lava_mlsnn.backends.loihi2.report import payload_bounds
from reference_plain import run_reference
from test_emulator_fused import _network

P = fixed.NeuronParams
SAT = fixed.SAT_MAX
_edge_states = st.sampled_from([0, 1, -1, SAT, -SAT - 1, SAT - 1, 4095, -4096])
_states = st.one_of(_edge_states, st.integers(-SAT - 1, SAT))
_sums = st.one_of(st.sampled_from([0, 1, -1, 2 ** 24 - 1, -(2 ** 24) + 1, 2 ** 17, -(2 ** 17)]),
                  st.integers(-(2 ** 24) + 1, 2 ** 24 - 1))
_decays = st.sampled_from([0, 1, 7, 2048, 4095, 4096])


@settings(max_examples=300, deadline=None)
@given(sums=st.lists(_sums, min_size=4, max_size=4), us=st.lists(_states, min_size=4, max_size=4),
       vs=st.lists(_states, min_size=4, max_size=4), weight_exp=st.integers(-8, 8),
       i_decay=_decays, v_decay=_decays, th=st.integers(1, (1 << 18) - 1),
       levels=st.integers(1, 127), bias=st.one_of(st.none(), st.integers(-4096, 4095)),
       bias_exp=st.integers(0, 16), v_bits=st.sampled_from([0, 3, 8]),
       v_exp=st.integers(0, 6), last=st.booleans())
def test_lean_step_equals_the_integer_step(sums, us, vs, weight_exp, i_decay, v_decay, th,
                                            levels, bias, bias_exp, v_bits, v_exp, last):
    p = P("MLSN", v_th_mant=th, levels=levels, i_decay=i_decay, v_decay=v_decay,
          bias=None if bias is None else np.full(4, bias), bias_exp=bias_exp,
          v_bits=v_bits, v_exp=v_exp)
    syn = fixed.SynapseSpec("dense", np.ones((4, 1), dtype=np.int64), weight_exp)
    if not lean_ok(p, syn, 1.0):  # bias << biasExp past the bound: the plain step's case
        assert bias is not None and abs(bias) << bias_exp > (1 << 29)
        return
    s = torch.tensor(sums, dtype=torch.float32)
    u, v = torch.tensor(us), torch.tensor(vs)
    a = fixed.current_of_sum(s.clone(), weight_exp, False, torch.int64)
    want_u, want_v, want_z = fixed.mlsn_step(u, v, a, p)
    got_u, got_v, got_z = lean_step(s.clone(), u.float(), v.float(), p,
                                    lean_params(p, s), weight_exp, keep_state=not last)
    assert torch.equal(got_z.to(torch.int64), want_z)
    assert torch.equal(got_u.to(torch.int64), want_u)
    if not last:  # the last step skips the reset nobody reads
        assert torch.equal(got_v.to(torch.int64), want_v)


def test_lean_emulator_equals_plain_and_reference(monkeypatch):
    for seed, steps in ((0, 4), (1, 4), (2, 1)):  # T = 1: the broadcast reset states
        rng = np.random.default_rng(seed)
        spec = _network(rng)
        x = rng.integers(0, 16, size=(3, steps, 2, 8, 8))
        x[0] = 15  # all-max payloads: the saturating sums
        bounds = {i: b + 1 for i, b in payload_bounds(spec, input_bound=15).items()}
        plain_layers = {i for i, layer in enumerate(spec.layers) if layer.branches}
        lean = lean_layers(spec, plain_layers, bounds)
        assert {1, 4, 5, 6, 7} <= lean  # the MLSN layers take the lean step
        monkeypatch.setattr(emulator, "KERNEL_STEP", False)  # step-major: the lean step
        monkeypatch.setattr(emulator, "LEAN_STEP", True)
        got = emulator.emulate(spec, x)
        monkeypatch.setattr(emulator, "LEAN_STEP", False)
        plain = emulator.emulate(spec, x)
        ref = run_reference(spec, x)
        assert_layers_active(ref, what=f"seed {seed}: ")
        for i in ref:
            assert got[i].dtype == torch.int64
            assert torch.equal(got[i], plain[i]), f"seed {seed}, layer {i}"
            assert np.array_equal(got[i].numpy(), ref[i]), f"seed {seed}, layer {i}"
