"""lava_mlsnn.data: embedded digits DVS set, framing transforms and the framed-tensor cache.

The tonic data sets are tested in test_data_tonic.py.
"""
import json
import os
from dataclasses import dataclass

import numpy as np
import pytest
import tonic
import torch

from lava_mlsnn.data import (
    EVENT_DTYPE,
    Compose,
    DigitsDVS,
    DigitsDVSConfig,
    Downsample,
    EventDataset,
    FramedDataset,
    ToCountFrames,
    ToEventArray,
    framing,
    load_dataset,
    make_events,
    render_digits_dvs,
    to_slayer,
)
from lava_mlsnn.data import dvs_sim


@pytest.fixture(scope="module")
def digits():
    return {s: DigitsDVS(s) for s in ("train", "test")}


# ---------------------------------------------------------------- digits DVS
def test_digits_splits_and_classes(digits):
    train, test = digits["train"], digits["test"]
    assert (len(train), len(test)) == (1438, 359)
    assert not set(train.positions) & set(test.positions)
    assert len(set(train.positions) | set(test.positions)) == 1797
    for ds in (train, test):
        assert ds.sensor_size == (32, 32, 2) and len(ds.classes) == 10
        assert set(np.unique(ds.targets)) == set(range(10))
    # stratified: every class has 20 % (rounded) of its samples in test
    per_class = np.bincount(train.rendered.labels, minlength=10)
    np.testing.assert_array_equal(np.bincount(test.targets, minlength=10),
                                  np.round(0.2 * per_class).astype(int))
    val = DigitsDVS("val", val_fraction=0.1)
    rest = DigitsDVS("train", val_fraction=0.1)
    train_per_class = np.bincount(train.targets, minlength=10)
    assert len(val) == np.round(0.1 * train_per_class).sum() == 143
    assert len(rest) == 1438 - 143
    assert not set(val.positions) & set(rest.positions)
    assert set(val.positions) <= set(train.positions)
    assert set(np.unique(val.targets)) == set(range(10))
    with pytest.raises(ValueError):
        DigitsDVS("val")
    assert len(load_dataset("digits", split="test")) == 359


def test_digits_events_are_valid(digits):
    r = digits["train"].rendered
    n = r.labels.size
    sample = np.repeat(np.arange(n), np.diff(r.offsets))
    assert r.x.min() >= 0 and r.x.max() < 32 and r.y.min() >= 0 and r.y.max() < 32
    assert set(np.unique(r.p)) == {0, 1}
    assert r.t.min() >= 1 and r.t.max() <= 99_000
    key = sample.astype(np.int64) * 10**6 + r.t
    assert np.all(np.diff(key) >= 0)  # each sample sorted by t
    counts = np.diff(r.offsets)
    assert 1000 < counts.mean() < 5000 and counts.min() > 500
    # both polarities in every single sample
    on = np.bincount(sample, weights=r.p, minlength=n)
    assert np.all(on > 0) and np.all(on < counts)
    ev, label = digits["test"][5]
    assert ev.dtype == EVENT_DTYPE and label == digits["test"].targets[5]
    assert np.all(np.diff(ev["t"]) >= 0)
    # events sit on the digit: the ink box is 24x24 centred, moved by at most 1.5 px
    signal = ev[(ev["x"] >= 2) & (ev["x"] < 30) & (ev["y"] >= 2) & (ev["y"] < 30)]
    assert len(signal) > 0.97 * len(ev)


def test_digits_deterministic_for_a_seed():
    from sklearn.datasets import load_digits

    d = load_digits()
    imgs, labels = d.images[:30] / 16.0, d.target[:30]
    a = render_digits_dvs(DigitsDVSConfig(), 3, imgs, labels, n_threads=1)
    b = render_digits_dvs(DigitsDVSConfig(), 3, imgs, labels, n_threads=3)
    c = render_digits_dvs(DigitsDVSConfig(), 4, imgs, labels)
    for f in ("offsets", "x", "y", "t", "p"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert not np.array_equal(a.offsets, c.offsets)
    # the instances share one render per (config, seed)
    assert DigitsDVS("test").rendered is DigitsDVS("train").rendered


def test_digits_disk_cache_is_reused(tmp_path, monkeypatch):
    from lava_mlsnn.data import digits_dvs

    cfg = DigitsDVSConfig(sensor_size=[12, 12], digit_size=8, n_saccades=2, saccade_us=3000)
    first = DigitsDVS("test", config=cfg, seed=5, cache_dir=str(tmp_path))
    assert [f.name for f in tmp_path.iterdir()] == [
        os.path.basename(digits_dvs._cache_file(str(tmp_path), cfg, 5))]
    assert DigitsDVS("test", config=cfg, seed=6).cache_identity() != first.cache_identity()
    del digits_dvs._MEMORY[(cfg, 5)]  # as in a new process

    def no_render(*args, **kwargs):
        raise AssertionError("rendered again despite the disk cache")
    monkeypatch.setattr(digits_dvs, "render_digits_dvs", no_render)
    again = DigitsDVS("test", config=cfg, seed=5, cache_dir=str(tmp_path))
    assert again.sensor_size == (12, 12, 2) and len(again) == 359
    for i in (0, 100, 358):
        np.testing.assert_array_equal(again[i][0], first[i][0])
    assert again.cache_identity() == first.cache_identity()


def test_digits_match_a_per_pixel_reference_camera():
    """The vectorised renderer against a plain per-pixel loop of the DVS model."""
    cfg = DigitsDVSConfig(sensor_size=(12, 10), digit_size=8, n_saccades=2, saccade_us=5000,
                          noise_rate_hz=0.0)
    rng = np.random.default_rng(7)
    imgs = rng.random((3, 8, 8)) * (rng.random((3, 8, 8)) > 0.4)
    got = render_digits_dvs(cfg, seed=11, images=imgs, labels=np.arange(3))

    ref_rng = np.random.default_rng(11)
    mismatch = 1.0 + cfg.threshold_sigma * ref_rng.standard_normal((10, 12))
    c = np.rint(cfg.threshold * np.maximum(mismatch, 0.1) * 65536).astype(np.int64)
    phase = (ref_rng.random(3 * 120) - 0.5).reshape(3, 10, 12)
    frames = [f.reshape(3, 10, 12).astype(np.int64)
              for f in dvs_sim._log_frames(imgs, cfg, dvs_sim.saccade_path(cfg))]
    expected = []
    for s in range(3):
        for y in range(10):
            for x in range(12):
                ref = frames[0][s, y, x] + int(np.floor(phase[s, y, x] * c[y, x]))
                for k in range(1, len(frames)):
                    level = frames[k][s, y, x]
                    while level - ref >= c[y, x]:
                        ref += c[y, x]
                        expected.append((s, x, y, 1, k))
                    while ref - level >= c[y, x]:
                        ref -= c[y, x]
                        expected.append((s, x, y, 0, k))
    sample = np.repeat(np.arange(3), np.diff(got.offsets))
    step = (got.t.astype(np.int64) - 1) // cfg.step_us + 1  # event in ((k-1) ms, k ms]
    actual = sorted(zip(sample.tolist(), got.x.tolist(), got.y.tolist(), got.p.tolist(),
                        step.tolist()))
    assert len(expected) > 50
    assert actual == sorted(expected)


# ---------------------------------------------------------------- framing
SENSOR = (4, 3, 2)  # W=4, H=3


def ev(rows):
    x, y, t, p = zip(*rows) if rows else ((), (), (), ())
    return make_events(list(x), list(y), list(t), list(p))


def test_count_frames_single_bin_exact():
    e = ev([(0, 0, 10, 1), (0, 0, 20, 1), (3, 2, 30, 0), (1, 2, 40, 1), (0, 0, 50, 0)])
    f = ToCountFrames(SENSOR, n_time_bins=1)(e)
    assert f.dtype == np.int64 and f.shape == (1, 2, 3, 4)
    want = np.zeros((1, 2, 3, 4), dtype=np.int64)
    want[0, 1, 0, 0] = 2  # ON at (x=0, y=0)
    want[0, 0, 2, 3] = 1
    want[0, 1, 2, 1] = 1
    want[0, 0, 0, 0] = 1
    np.testing.assert_array_equal(f, want)


def test_count_frames_time_bins_keep_every_event():
    # span [100, 399]: D = 300 us, 3 bins of 100 us; t=399 (t_max) is in the last bin
    e = ev([(1, 1, 100, 1), (1, 1, 199, 1), (2, 0, 200, 0), (2, 0, 299, 1), (3, 2, 300, 1),
            (3, 2, 399, 1)])
    f = ToCountFrames(SENSOR, n_time_bins=3)(e)
    assert f.shape == (3, 2, 3, 4) and f.sum() == 6
    assert f[0, 1, 1, 1] == 2
    assert f[1, 0, 0, 2] == 1 and f[1, 1, 0, 2] == 1
    assert f[2, 1, 2, 3] == 2
    # unsorted input and tonic's DVS Gesture dtype (int16 x/y, bool p) give the same counts
    shuffled = e[[5, 0, 3, 1, 4, 2]]
    tonic_like = np.empty(6, dtype=tonic.datasets.DVSGesture.dtype)
    for name in "xytp":
        tonic_like[name] = e[name]
    np.testing.assert_array_equal(ToCountFrames(SENSOR, 3)(shuffled), f)
    np.testing.assert_array_equal(ToCountFrames(SENSOR, 3)(tonic_like), f)
    # tonic's ToFrame drops the event at t_max; ours keeps it
    assert tonic.transforms.ToFrame(sensor_size=SENSOR, n_time_bins=3)(e.copy()).sum() < 6


def test_count_frames_empty_single_clip_merge():
    for t in (1, 4):
        f = ToCountFrames(SENSOR, n_time_bins=t)(ev([]))
        assert f.shape == (t, 2, 3, 4) and f.dtype == np.int64 and f.sum() == 0
    f = ToCountFrames(SENSOR, n_time_bins=5)(ev([(2, 1, 777, 0)]))
    assert f.sum() == 1 and f[0, 0, 1, 2] == 1
    many = ev([(1, 0, t, 1) for t in range(10)] + [(2, 0, 5, 1), (3, 0, 5, 0)])
    clipped = ToCountFrames(SENSOR, 1, clip=3)(many)
    assert clipped[0, 1, 0, 1] == 3 and clipped[0, 1, 0, 2] == 1 and clipped[0, 0, 0, 3] == 1
    merged = ToCountFrames((4, 3, 1), 1)(many)
    assert merged.shape == (1, 1, 3, 4) and merged[0, 0, 0, 3] == 1 and merged.sum() == 12
    with pytest.raises(ValueError, match="outside the sensor"):
        ToCountFrames(SENSOR, 1)(ev([(4, 0, 1, 1)]))
    with pytest.raises(ValueError):
        ToCountFrames(SENSOR, 0)


def test_downsample_and_pipeline():
    e = ev([(0, 0, 1, 1), (127, 127, 2, 0), (64, 3, 3, 1), (85, 42, 4, 1)])
    half = Downsample(spatial_factor=2)(e)
    assert list(half["x"]) == [0, 63, 32, 42] and list(half["y"]) == [0, 63, 1, 21]
    assert list(half["t"]) == [1, 2, 3, 4] and list(half["p"]) == [1, 0, 1, 1]
    to48 = Downsample(sensor_size=(128, 128, 2), target_size=(48, 48))
    d = to48(e)
    assert list(d["x"]) == [0, 47, 24, 31] and list(d["y"]) == [0, 47, 1, 15]
    assert to48.output_sensor_size() == (48, 48, 2)
    assert Downsample(spatial_factor=3).output_sensor_size((128, 128, 2)) == (43, 43, 2)
    pipe = framing((128, 128, 2), n_time_bins=2, clip=1, target_size=(48, 48))
    f = pipe(e)
    assert f.shape == (2, 2, 48, 48) and f.sum() == 4 and f[1, 1, 15, 31] == 1
    # unlike tonic's Compose, ours frames an empty sample
    assert pipe(e[:0]).shape == (2, 2, 48, 48)
    with pytest.raises(ValueError):
        Downsample()
    with pytest.raises(ValueError):
        Downsample(target_size=(48, 48))


def test_event_array_conversion_and_layout():
    raw = np.zeros(3, dtype=tonic.datasets.CIFAR10DVS.dtype)  # t first, uint, bool p
    raw["t"], raw["x"], raw["y"], raw["p"] = [30, 10, 20], [1, 2, 3], [4, 5, 6], [True, False, True]
    e = ToEventArray()(raw)
    assert e.dtype == EVENT_DTYPE
    assert list(e["t"]) == [10, 20, 30] and list(e["x"]) == [2, 3, 1] and list(e["p"]) == [0, 1, 1]
    frames = np.arange(3 * 2 * 4 * 5).reshape(3, 2, 4, 5)
    s = to_slayer(frames)
    assert tuple(s.shape) == (2, 4, 5, 3) and s[1, 2, 3, 0] == frames[0, 1, 2, 3]
    assert tuple(to_slayer(torch.zeros(7, 3, 2, 4, 5)).shape) == (7, 2, 4, 5, 3)
    assert Compose([ToEventArray(), ToCountFrames((4, 7, 2), 1)]) == \
        Compose((ToEventArray(), ToCountFrames((4, 7, 2), 1)))


# ---------------------------------------------------------------- cache
class Toy(EventDataset):
    name = "toy"
    sensor_size = (4, 3, 2)
    classes = ("a", "b")

    def __init__(self, tag="v1", transform=None):
        super().__init__(transform)
        self.tag = tag
        self.samples = [ev([(0, 0, 1, 1), (1, 2, 5, 0), (1, 2, 9, 0)]),
                        ev([(3, 1, 2, 1)] * 7), ev([])]
        self.targets = np.array([1, 0, 1])

    def _events(self, i):
        return self.samples[i]

    def _identity_parts(self):
        return [self.tag]


@dataclass(frozen=True)
class Counting:
    inner: ToCountFrames
    calls: list  # a shared list lets the frozen transform count its calls

    def __call__(self, events):
        self.calls.append(1)
        return self.inner(events)

    def __repr__(self):
        return f"Counting({self.inner!r})"


def test_cache_frames_once_in_memory_and_on_disk(tmp_path):
    calls = []
    tr = Counting(ToCountFrames((4, 3, 2), 2), calls)
    fd = FramedDataset(Toy(), tr, cache_dir=str(tmp_path))
    x, y = fd[0]
    assert x.dtype == torch.int64 and tuple(x.shape) == (2, 2, 3, 4) and y == 1
    # t = 1, 5, 9 over D = 9 us in 2 bins: bins 0, 0, 1
    assert x[0, 1, 0, 0] == 1 and x[0, 0, 2, 1] == 1 and x[1, 0, 2, 1] == 1 and int(x.sum()) == 3
    x2, _ = fd[0]
    assert len(calls) == 1 and torch.equal(x, x2)
    assert int(fd[2][0].sum()) == 0 and len(calls) == 2  # empty sample frames fine
    folder = tmp_path / fd.key
    assert sorted(os.listdir(folder)) == ["0.npz", "2.npz", "meta.json", "shape.json"]  # no temp files left
    meta = json.loads((folder / "meta.json").read_text())
    assert "ToCountFrames" in meta["transform"] and meta["dataset"].startswith("toy|v1")
    # a new process (new object) with the same settings reads the disk, not the transform
    fresh = FramedDataset(Toy(), tr, cache_dir=str(tmp_path), in_memory=False)
    assert torch.equal(fresh[0][0], x) and len(calls) == 2
    fresh[1], fresh[1]
    assert len(calls) == 3  # no memory cache: second read came from disk
    assert fresh[1][0].sum() == 7


def test_cache_key_follows_every_setting(tmp_path):
    base = FramedDataset(Toy(), ToCountFrames((4, 3, 2), 1), cache_dir=str(tmp_path))
    keys = {base.key}
    for other in (FramedDataset(Toy(), ToCountFrames((4, 3, 2), 2), cache_dir=str(tmp_path)),
                  FramedDataset(Toy(), ToCountFrames((4, 3, 2), 1, clip=2), cache_dir=str(tmp_path)),
                  FramedDataset(Toy("v2"), ToCountFrames((4, 3, 2), 1), cache_dir=str(tmp_path)),
                  FramedDataset(Toy(transform=ToEventArray()), ToCountFrames((4, 3, 2), 1),
                                cache_dir=str(tmp_path))):
        keys.add(other.key)
    assert len(keys) == 5
    assert FramedDataset(Toy(), ToCountFrames((4, 3, 2), 1)).key == base.key
    assert base[1][0][0, 1, 1, 3] == 7
    clipped = FramedDataset(Toy(), ToCountFrames((4, 3, 2), 1, clip=2), cache_dir=str(tmp_path))
    assert clipped[1][0][0, 1, 1, 3] == 2  # not the stale unclipped frame


def test_cache_rejects_bad_use(tmp_path):
    with pytest.raises(TypeError, match="integer"):
        FramedDataset(Toy(), lambda e: np.zeros((1, 2, 3, 4), np.float32))[0]
    with pytest.raises(ValueError, match="dataset_id"):
        FramedDataset([(ev([]), 0)], ToCountFrames((4, 3, 2)), cache_dir=str(tmp_path))
    plain = FramedDataset([(ev([(1, 1, 1, 1)]), 3)], ToCountFrames((4, 3, 2)),
                          cache_dir=str(tmp_path), dataset_id="list-of-one")
    assert plain[0][1] == 3 and plain[-1][0].sum() == 1
    with pytest.raises(IndexError):
        plain[1]


def test_framed_digits_end_to_end(tmp_path, digits):
    test = digits["test"]
    fd = FramedDataset(test, framing(test.sensor_size, n_time_bins=1, clip=15),
                       cache_dir=str(tmp_path))
    x, y = fd[0]
    events, label = test[0]
    assert tuple(x.shape) == (1, 2, 32, 32) and y == label
    assert int(x.max()) <= 15 and int(x.sum()) <= len(events)
    raw = FramedDataset(test, ToCountFrames(test.sensor_size, 4))[0][0]
    assert int(raw.sum()) == len(events)
    loader = torch.utils.data.DataLoader(fd, batch_size=8)
    xb, yb = next(iter(loader))
    assert xb.dtype == torch.int64 and tuple(xb.shape) == (8, 1, 2, 32, 32)
    assert yb.tolist() == [int(t) for t in test.targets[:8]]
