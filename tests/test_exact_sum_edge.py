"""The float32 bound of :func:`lava_mlsnn.fixed.sum_dtype` at its edge (2**24).

float32 holds every integer up to 2**24 exactly, and only every second one above it.
A synapse whose partial sums can pass 2**24 must be summed in float64: here one sum is
17,000,003 (float32: 17,000,004), and the current ``sum >> 2`` tells the two apart.
Raising the bound to 2**25 (which the bound 18,000,009 of this synapse lies under)
makes these tests fail.
"""
import numpy as np
import torch

from lava_mlsnn import fixed
from lava_mlsnn.format.params import SynapseSpec

W = np.array([[6_000_003, 6_000_000, 5_000_000], [1, 2, 3]], dtype=np.int64)


def _spec(kind: str = "dense") -> SynapseSpec:
    if kind == "conv":  # the same sum as a 1x3 convolution over one channel
        return SynapseSpec("conv", W.reshape(2, 1, 1, 3), weight_exp=-2)
    return SynapseSpec("dense", W, weight_exp=-2)


def test_the_edge_case_is_just_above_2_to_the_24():
    bound = _spec().weight_abs_max * 1 * _spec().fan_in()
    assert (1 << 24) < 17_000_003 <= bound < (1 << 25)
    assert float(np.float32(17_000_003)) == 17_000_004.0  # what float32 would give


def test_partial_sums_above_2_to_the_24_stay_exact_dense():
    z = np.ones((1, 3), dtype=np.int64)
    a = fixed.synapse_current(_spec(), z)  # the payload bound is scanned: 1
    assert fixed.sum_dtype(_spec(), 1.0) == torch.float64
    assert a.tolist() == [[17_000_003 >> 2, 6 >> 2]]  # [4250000, 1]; float32: 4250001


def test_partial_sums_above_2_to_the_24_stay_exact_conv():
    z = torch.ones((1, 1, 1, 3), dtype=torch.int64)
    a = fixed.synapse_current(_spec("conv"), z, max_payload=1.0)
    assert a.reshape(-1).tolist() == [17_000_003 >> 2, 6 >> 2]


def test_just_below_the_edge_float32_is_used_and_exact():
    w = np.array([[8_388_607, 8_388_600]], dtype=np.int64)  # bound 16,777,214 < 2**24
    spec = SynapseSpec("dense", w, weight_exp=-1)
    assert fixed.sum_dtype(spec, 1.0) == torch.float32
    assert fixed.synapse_current(spec, np.ones((1, 2), dtype=np.int64)).tolist() == \
        [[16_777_207 >> 1]]
