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


def test_narrow_integer_input_is_read_as_it_is_and_equals_int64(monkeypatch):
    """uint8 / int8 / int16 / int32 frames (evaluate's stored count frames) give the
    int64 input's integers on the layer-major run, which clips them in their own type
    (no int64 copy), and on the step-major and plain paths, which convert them; a
    network whose input feeds a synapse directly converts them too."""
    import lava_mlsnn.backends.emulator as emulator
    from lava_mlsnn.backends import kernels

    seen = []
    real = kernels.clip_input32
    monkeypatch.setattr(kernels, "clip_input32",
                        lambda x, *a: seen.append(x.dtype) or real(x, *a))
    rng = np.random.default_rng(4)
    spec = _network(rng)
    for steps in (1, 4):
        x = rng.integers(-20, 120, size=(3, steps, 2, 8, 8))
        want = emulate(spec, x)
        assert_layers_active(want)
        for dtype in (np.uint8, np.int8, np.int16, np.int32):
            xs = np.clip(x, np.iinfo(dtype).min, np.iinfo(dtype).max).astype(dtype)
            wide = emulate(spec, xs.astype(np.int64))
            seen.clear()
            got = emulate(spec, xs, narrow=True)
            assert seen and all(d == np.dtype(dtype) for d in seen), (steps, dtype)
            monkeypatch.setattr(emulator, "KERNEL_STEP", False)
            step_major = emulate(spec, xs)
            monkeypatch.setattr(emulator, "KERNEL_STEP", True)
            for i in wide:
                assert torch.equal(got[i].to(torch.int64), wide[i]), (steps, dtype, i)
                assert torch.equal(step_major[i], wide[i]), (steps, dtype, i)
            # the values lie in each type's range, but for uint8's negatives, which the
            # input layer's clip to [0, inputLevels] sends to 0 anyway
            assert all(torch.equal(got[i].to(torch.int64), want[i]) for i in want), dtype
    direct = replace(spec, layers=[replace(la, source=-1) if la.source == 0 else la
                                   for la in spec.layers[1:]])  # no input layer
    direct = replace(direct, layers=[replace(la, branches=[replace(b, source=b.source - 1)
                                                           for b in la.branches],
                                             source=la.source - 1 if la.source > 0 else -1)
                                     for la in direct.layers])
    assert emulator._feeds_synapse(direct)
    x = rng.integers(0, 16, size=(2, 2, 2, 8, 8))
    a, b = emulate(direct, x), emulate(direct, x.astype(np.uint8))
    assert_layers_active(a)
    assert all(torch.equal(a[i], b[i]) for i in a)


class _Compact(_Frames):
    """A FrameSet stand-in with its stored frames (:meth:`FrameSet.compact`)."""

    def __init__(self, x, y, dtype):
        super().__init__(x, y)
        self.dtype = dtype

    def compact(self, i: int):
        return self.x[i].astype(self.dtype), int(self.y[i])


def test_frame_batches_keep_the_stored_integer_type():
    rng = np.random.default_rng(5)
    x = rng.integers(0, 200, size=(4, 2, 2, 3, 3))
    y = rng.integers(0, 5, size=4)
    for dtype, want in ((np.uint8, np.uint8), (np.int16, np.int16), (np.uint16, np.int32),
                        (np.uint32, np.int64), (np.bool_, np.int64), (np.float32, np.int64)):
        got, labels = FrameBatches(_Compact(x, y, dtype)).take(1, 3)
        assert got.dtype == want, dtype
        assert np.array_equal(got, x[1:3].astype(dtype).astype(np.int64)), dtype
        assert np.array_equal(labels, y[1:3])
    got, _ = FrameBatches(_Frames(x, y)).take(0, 4)  # no compact(): int64, as before
    assert got.dtype == np.int64 and np.array_equal(got, x)


def test_frame_batches_of_a_cached_split_are_its_uint8_count_frames():
    from lava_mlsnn.data import DigitsDVS, FramedDataset, framing
    from lava_mlsnn.data.splits import FrameSet
    test = DigitsDVS("test")
    framed = FramedDataset(test, framing(test.sensor_size, 1, clip=7))
    got, labels = FrameBatches(FrameSet(framed, np.arange(3), "test")).take(0, 3)
    want = np.stack([framed[i][0].numpy() for i in range(3)])
    assert got.dtype == np.uint8 and want.dtype == np.int64
    assert np.array_equal(got, want) and want.max() > 0
    assert list(labels) == [framed[i][1] for i in range(3)]


def test_activity_counts_of_a_narrow_input_equal_the_int64_ones():
    """`inspect --energy --dataset` counts the input's own activity from the frames as
    `load_frames` gives them (uint8 for a cached split): the counts of int64 frames."""
    from lava_mlsnn.metrics.energy import count_outputs
    rng = np.random.default_rng(4)
    spec = _network(rng)
    direct = replace(spec, layers=[replace(
        la, source=la.source - 1 if la.source > 0 else -1,
        branches=[replace(b, source=b.source - 1 if b.source > 0 else -1) for b in la.branches])
        for la in spec.layers[1:]])  # the input read by a synapse: its activity counted
    x = rng.integers(0, 16, size=(2, 2, 2, 8, 8))
    wide = count_outputs(direct, emulate(direct, x, narrow=True), x).__dict__
    narrow = count_outputs(direct, emulate(direct, x.astype(np.uint8), narrow=True),
                           x.astype(np.uint8)).__dict__
    assert narrow == wide and wide["payload"][-1] == x.sum() > 255
