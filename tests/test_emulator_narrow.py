"""Narrow recorded outputs (``emulate(..., narrow=True)``) and the streamed evaluation
(:class:`lava_mlsnn.backends.evaluate.FrameBatches`): the same integers as the int64
records and the in-memory evaluation, in the narrowest type that holds each layer's
bound (int8 for levels <= 127, int16, int32 for a READOUT's 24-bit ``v``, int64 for
sigma-delta payloads, which nothing bounds)."""
from dataclasses import replace

import numpy as np
import torch

from layercheck import assert_layers_active
from lava_mlsnn.backends.emulator import emulate, record_dtype
from lava_mlsnn.backends.evaluate import FrameBatches, evaluate_file
from reference_plain import run_reference
from test_emulator_fused import _network


def test_narrow_records_equal_int64_records_and_the_reference():
    rng = np.random.default_rng(0)
    spec = _network(rng)
    # levels 200 (int16) on one MLSN layer; the saturating conv layer keeps levels 15
    spec.layers[5] = replace(spec.layers[5], neuron=replace(spec.layers[5].neuron, levels=200))
    x = rng.integers(0, 16, size=(3, 4, 2, 8, 8))
    x[0] = 15
    wide = emulate(spec, x)
    narrow = emulate(spec, x, narrow=True)
    ref = run_reference(spec, x)
    assert_layers_active(ref)
    want = {0: torch.int8, 1: torch.int8, 2: torch.int8, 3: torch.int8, 4: torch.int8,
            5: torch.int16, 6: torch.int8, 7: torch.int8, 8: torch.int32}
    assert {i: v.dtype for i, v in narrow.items()} == want
    assert narrow[8].abs().max() > 127  # the READOUT's v needs its wider type
    for i in wide:
        assert wide[i].dtype == torch.int64
        assert torch.equal(narrow[i].to(torch.int64), wide[i]), f"layer {i}"
        assert np.array_equal(narrow[i].numpy(), ref[i]), f"layer {i}"


def test_only_the_layers_asked_for_are_recorded():
    rng = np.random.default_rng(1)
    spec = _network(rng)
    x = rng.integers(0, 16, size=(2, 3, 2, 8, 8))
    got = emulate(spec, x, record=[1, 8], narrow=True)
    assert sorted(got) == [1, 8]
    assert torch.equal(got[8].to(torch.int64), emulate(spec, x)[8])


def test_record_dtype_follows_the_input_bound_and_keeps_int64_without_a_bound():
    spec = _network(np.random.default_rng(2))
    assert record_dtype(spec, 1, 15) == torch.int8
    sdnn = replace(spec.layers[1], neuron=replace(spec.layers[1].neuron, type="SDNN"))
    layers = list(spec.layers)
    layers[1] = sdnn
    assert record_dtype(replace(spec, layers=layers), 1, 15) == torch.int64
    # a flatten of the network input: the batch's own bound
    flat = replace(spec, layers=[replace(spec.layers[3], source=-1)] + list(spec.layers[1:]))
    assert record_dtype(flat, 0, 127) == torch.int8
    assert record_dtype(flat, 0, 128) == torch.int16
    assert record_dtype(flat, 0, 1 << 20) == torch.int32


class _Frames:
    """A FrameSet stand-in: ``(float32 frames [T, C, H, W], label)`` per sample."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return torch.from_numpy(self.x[i].astype(np.float32)), int(self.y[i])


def test_streamed_evaluation_equals_the_in_memory_one():
    rng = np.random.default_rng(3)
    spec = _network(rng)
    x = rng.integers(0, 16, size=(7, 4, 2, 8, 8))
    y = rng.integers(0, 5, size=7)
    whole, outs = evaluate_file(spec, x, y, batch_size=256, keep_outputs=True)
    streamed, outs_s = evaluate_file(spec, FrameBatches(_Frames(x, y)), None, batch_size=3,
                                     keep_outputs=True)
    assert np.array_equal(whole.predictions, streamed.predictions)
    assert whole.accuracy == streamed.accuracy and whole.samples == streamed.samples == 7
    assert whole.activity == streamed.activity and whole.activity["events"] > 0
    for i in outs:
        assert np.array_equal(outs[i], outs_s[i]), f"layer {i}"
    assert FrameBatches(_Frames(x, y)).shape == (7, 4, 2, 8, 8)
