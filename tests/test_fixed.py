"""The integer contract of DESIGN §5 on hand-computed cases, numpy and torch alike."""
import numpy as np
import pytest
import torch

from lava_mlsnn import fixed


@pytest.mark.parametrize("kind", [np.array, torch.tensor])
def test_decay_rounds_toward_zero(kind):
    x = kind([1000, -1000, 4095, -4095, 0])
    out = fixed.decay(x, 1)  # * 4095 / 4096
    assert list(np.asarray(out)) == [999, -999, 4094, -4094, 0]
    assert list(np.asarray(fixed.decay(x, 4096))) == [0, 0, 0, 0, 0]


def test_sat24_and_shift():
    assert fixed.sat24(np.array([2 ** 30, -(2 ** 30), 5])).tolist() == [2 ** 23 - 1, -(2 ** 23), 5]
    assert fixed.shift(np.array([-5, 5]), -1).tolist() == [-3, 2]  # floor
    assert fixed.shift(np.array([3]), 2).tolist() == [12]


def test_mlsn_step_hand_case():
    p = fixed.NeuronParams("MLSN", v_th_mant=10, levels=3, i_decay=4096, v_decay=0, v_init=320)
    u, v = fixed.initial_state(p, (1,), np.zeros(1))
    zs = []
    for a in [15, 15, 100, -50]:
        u, v, z = fixed.mlsn_step(u, v, np.array([a]), p)
        zs.append((int(z[0]), int(v[0])))
    th = 640
    # v = 320 + 960 = 1280 -> z=2, v=0; v=960 -> 1, 320; v=320+6400 -> 3 (clipped), 6720-1920;
    assert zs[0] == (2, 0)
    assert zs[1] == (1, 320)
    assert zs[2] == (3, 320 + 6400 - 3 * th)
    assert zs[3] == (2, 4800 - 3200 - 2 * th)  # v carried 4800; the current does not persist


def test_membrane_quantization():
    p = fixed.NeuronParams("MLSN", v_th_mant=100, levels=1, v_bits=4, v_exp=6)
    u, v, z = fixed.mlsn_step(np.zeros(3, np.int64), np.zeros(3, np.int64),
                              np.array([50, -300, 30]), p)
    # v = a<<6 = 3200, -19200, 1920 ; >>6 = 50, -300, 30 ; clip to [-8, 7] ; <<6
    assert v.tolist() == [7 << 6, -8 << 6, 7 << 6]


def test_cuba_matches_lava_lif_wrap():
    p = fixed.NeuronParams("CUBA", v_th_mant=10, i_decay=4096, v_decay=0)
    u, v, z = fixed.cuba_step(np.zeros(2, np.int64), np.zeros(2, np.int64),
                              np.array([2 ** 17 + 1, 11]), p)
    assert u.tolist() == [(2 ** 23 + 64) - 2 ** 24, 11 * 64]
    assert z.tolist() == [0, 1] and v.tolist()[1] == 0


def test_synapse_ops_match_torch():
    rng = np.random.default_rng(0)
    z = rng.integers(0, 4, size=(2, 4, 7, 7))
    w = rng.integers(-256, 255, size=(6, 2, 3, 3))
    spec = fixed.SynapseSpec("conv", w, weight_exp=-2, stride=(2, 2), padding=(1, 1), groups=2)
    a = fixed.synapse_current(spec, z)
    ref = torch.nn.functional.conv2d(torch.tensor(z), torch.tensor(w), stride=2, padding=1,
                                     groups=2).numpy() >> 2
    assert np.array_equal(a, ref)
    pool = fixed.SynapseSpec("pool", np.array(3), 0, stride=(2, 2), kernel=(2, 2))
    ap = fixed.synapse_current(pool, z)
    assert ap[0, 0, 0, 0] == 3 * z[0, 0, :2, :2].sum()


@pytest.mark.parametrize("near_log2", [20, 24, 30])
def test_synapse_sums_exact_on_both_float_paths(near_log2):
    """float32 is used only below 2**24 partial sums, float64 above: both exact integers."""
    rng = np.random.default_rng(near_log2)
    for _ in range(40):
        cin, cout, k = int(rng.integers(1, 17)), int(rng.integers(1, 17)), int(rng.choice([1, 3]))
        zmax = max(1, (1 << near_log2) // (256 * cin * k * k) - 1)
        z = rng.integers(0, zmax + 1, size=(3, cin, 9, 9))
        w = rng.integers(-256, 255, size=(cout, cin, k, k))
        spec = fixed.SynapseSpec("conv", w, 0, padding=(k // 2, k // 2))
        expect = torch.float32 if near_log2 <= 24 else torch.float64
        assert fixed.sum_dtype(spec, zmax) == expect
        ref = torch.nn.functional.conv2d(torch.tensor(z), torch.tensor(w), padding=k // 2).numpy()
        assert np.array_equal(fixed.synapse_current(spec, z), np.clip(ref, -2 ** 23, 2 ** 23 - 1))


def test_exact_sum_guard_and_unknown_kinds():
    """float64 sums are exact below 2**52: the guard refuses exactly beyond that."""
    w = np.array([[256, 0, 0, 0]])
    spec = fixed.SynapseSpec("dense", w)
    assert spec.fan_in() == 4
    fixed.check_exact_sum(spec, (1 << 52) // (256 * 4) - 1)  # bound just below: fine
    with pytest.raises(ValueError, match="2\\*\\*52"):
        fixed.check_exact_sum(spec, (1 << 52) // (256 * 4))
    assert fixed.SynapseSpec("pool", np.array(2), kernel=(3, 2)).fan_in() == 6
    assert fixed.SynapseSpec("identity", np.array(2)).fan_in() == 1
    with pytest.raises(ValueError, match="unknown synapse kind"):
        fixed.synapse_current(fixed.SynapseSpec("bogus", np.array(1)), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="unknown neuron type"):
        fixed.neuron_step((0, 0), np.zeros(1), fixed.NeuronParams("BOGUS"))
