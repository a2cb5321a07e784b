"""tonic data sets read offline from small files written here in each data set's own format.

The writers below produce the bytes the real releases contain (N-MNIST's 40-bit
events, tonic's DVS Gesture .npy columns, AEDAT4 for CIFAR10-DVS), so the
real tonic classes and readers decode them.
"""
import os
import pickle
import struct
import urllib.request

import numpy as np
import pytest
import torch

import tonic.datasets

from lava_mlsnn.data import (
    EVENT_DTYPE,
    DatasetNotFoundError,
    FramedDataset,
    ToCountFrames,
    load_dataset,
    make_events,
)


# ---------------------------------------------------------------- format writers
def write_nmnist_bin(path, ev):
    """N-MNIST: 5 bytes per event: x, y, then p in the top bit and t (us, 23 bits) in the rest."""
    assert ev["t"].max() < 1 << 23
    t = ev["t"].astype(np.uint32)
    raw = np.stack([ev["x"], ev["y"], (ev["p"] << 7) | (t >> 16), (t >> 8) & 0xFF, t & 0xFF], 1)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    raw.astype(np.uint8).tofile(path)


def write_dvsgesture_npy(path, ev):
    """tonic's DVS Gesture release: int columns x, y, p, t with t in milliseconds."""
    assert np.all(ev["t"] % 1000 == 0)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, np.stack([ev["x"], ev["y"], ev["p"], ev["t"] // 1000], 1).astype(np.int64))


def _flatbuffer_events(ev):
    """Size-prefixed flatbuffer 'EVTS' EventPacket { elements: [Event{t:i64,x:i16,y:i16,on:bool}] }."""
    n = len(ev)
    body = bytearray()
    body += struct.pack("<I", 16)  # root table at 4 + 16 = 20
    body += b"EVTS"
    body += struct.pack("<HHH", 6, 8, 4)  # vtable at 12: 1 field at table offset 4
    body += b"\0\0"
    body += struct.pack("<iI", 20 - 12, 4)  # table at 20: vtable 8 bytes back; vector 4 ahead
    body += struct.pack("<I", n)  # vector length at 28, elements 8-aligned at 32
    rec = np.zeros(n, dtype=[("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("on", "u1"), ("pad", "V3")])
    rec["t"], rec["x"], rec["y"], rec["on"] = ev["t"], ev["x"], ev["y"], ev["p"]
    body += rec.tobytes()
    return struct.pack("<I", len(body)) + bytes(body)


def _flatbuffer_ioheader(description):
    """Flatbuffer 'IOHE' Ioheader with only `description` set (no compression, no data table)."""
    text = description.encode() + b"\0"
    buf = struct.pack("<I", 20) + b"IOHE" + struct.pack("<HHHHH", 10, 8, 0, 0, 4) + b"\0\0"
    buf += struct.pack("<iI", 20 - 8, 4) + struct.pack("<I", len(text) - 1) + text
    return buf + b"\0" * (-len(buf) % 4)


def write_aedat4(path, ev, width=128, height=128, packet_size=7):
    """AEDAT4 file with one event stream (id 0), uncompressed, several packets."""
    xml = ('<dv version="2.0"><node name="outInfo" path="/outInfo/"><node name="0" path="/outInfo/0/">'
           '<attr key="compression" type="string">NONE</attr>'
           '<attr key="typeIdentifier" type="string">EVTS</attr>'
           '<node name="info" path="/outInfo/0/info/">'
           f'<attr key="sizeX" type="int">{width}</attr><attr key="sizeY" type="int">{height}</attr>'
           '<attr key="source" type="string">DVS128</attr></node></node></node></dv>')
    header = _flatbuffer_ioheader(xml)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"#!AER-DAT4.0\r\n" + struct.pack("<I", len(header)) + header)
        for a in range(0, len(ev), packet_size):
            packet = _flatbuffer_events(ev[a:a + packet_size])
            f.write(struct.pack("<iI", 0, len(packet)) + packet)


def random_events(seed, n, w, h, t_unit=1):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.choice(np.arange(1, 200_000 // t_unit), size=n, replace=False)) * t_unit
    return make_events(rng.integers(0, w, n), rng.integers(0, h, n), t, rng.integers(0, 2, n))


def expected_counts(ev, sensor, n_bins):
    out = np.zeros((n_bins, sensor[2], sensor[1], sensor[0]), dtype=np.int64)
    t0, span = ev["t"].min(), ev["t"].max() - ev["t"].min() + 1
    np.add.at(out, ((ev["t"] - t0) * n_bins // span, ev["p"], ev["y"], ev["x"]), 1)
    return out


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(tonic.dataset, "download_and_extract_archive", refuse)


def assert_same_events(got, want):
    assert got.dtype == EVENT_DTYPE
    for field in "xytp":
        np.testing.assert_array_equal(got[field], want[field])


# ---------------------------------------------------------------- N-MNIST
def test_nmnist_reads_bin_files_through_tonic(tmp_path):
    written = {}
    for i, (split, label) in enumerate([("Train", 3), ("Train", 0), ("Train", 3), ("Test", 7)]):
        ev = random_events(i, 40 + i, 34, 34)
        write_nmnist_bin(tmp_path / "NMNIST" / split / str(label) / f"{i:05d}.bin", ev)
        written[i] = ev
    train = load_dataset("nmnist", str(tmp_path), "train")
    assert isinstance(train._tonic, tonic.datasets.NMNIST)
    assert train.sensor_size == (34, 34, 2) and len(train.classes) == 10
    assert len(train) == 3 and list(train.targets) == [0, 3, 3]  # natural path order
    ev, label = train[0]
    assert label == 0
    assert_same_events(ev, written[1])
    assert_same_events(train[2][0], written[2])
    test = load_dataset("N-MNIST", str(tmp_path), "test")
    assert len(test) == 1 and test.targets[0] == 7
    assert_same_events(test[0][0], written[3])

    clone = pickle.loads(pickle.dumps(train))  # DataLoader workers under 'spawn' pickle it
    assert_same_events(clone[0][0], written[1])

    framed = FramedDataset(train, ToCountFrames((34, 34, 2), n_time_bins=3))
    frames, label = framed[1]
    assert frames.dtype == torch.int64 and tuple(frames.shape) == (3, 2, 34, 34)
    np.testing.assert_array_equal(frames.numpy(), expected_counts(written[0], (34, 34, 2), 3))
    assert int(frames.sum()) == len(written[0]) and label == 3


# ---------------------------------------------------------------- DVS Gesture
def test_dvsgesture_reads_npy_layout_through_tonic(tmp_path):
    files = {("ibmGestureTrain", "user01_fluorescent", 0): 0,
             ("ibmGestureTrain", "user01_fluorescent", 10): 1,
             ("ibmGestureTrain", "user02_led", 4): 2,
             ("ibmGestureTest", "user24_led", 9): 3}
    written = {}
    for (folder, user, label), seed in files.items():
        ev = random_events(seed, 60, 128, 128, t_unit=1000)
        write_dvsgesture_npy(tmp_path / "DVSGesture" / folder / user / f"{label}.npy", ev)
        written[seed] = ev
    train = load_dataset("dvsgesture", str(tmp_path), "train")
    assert isinstance(train._tonic, tonic.datasets.DVSGesture)
    assert train.sensor_size == (128, 128, 2) and len(train.classes) == 11
    assert list(train.targets) == [0, 10, 4]  # user01/0, user01/10, user02/4
    for i, seed in enumerate([0, 1, 2]):
        assert_same_events(train[i][0], written[seed])  # ms -> us by tonic
    test = load_dataset("DVS-Gesture", str(tmp_path), "test")
    assert list(test.targets) == [9]

    frames = ToCountFrames((128, 128, 2), 1)(test[0][0])
    np.testing.assert_array_equal(frames, expected_counts(written[3], (128, 128, 2), 1))


def test_validation_split_is_carved_from_train(tmp_path):
    for label in range(2):
        for i in range(10):
            write_nmnist_bin(tmp_path / "NMNIST" / "Train" / str(label) / f"{i:05d}.bin",
                             random_events(i, 5, 34, 34))
    full = load_dataset("nmnist", str(tmp_path), "train")
    train = load_dataset("nmnist", str(tmp_path), "train", val_fraction=0.2)
    val = load_dataset("nmnist", str(tmp_path), "val", val_fraction=0.2)
    assert (len(full), len(train), len(val)) == (20, 16, 4)
    assert sorted(val.targets) == [0, 0, 1, 1]
    assert not set(train.files) & set(val.files)
    assert set(train.files) | set(val.files) == set(full.files)
    again = load_dataset("nmnist", str(tmp_path), "val", val_fraction=0.2)
    assert again.files == val.files
    with pytest.raises(ValueError, match="val_fraction"):
        load_dataset("nmnist", str(tmp_path), "val")


# ---------------------------------------------------------------- CIFAR10-DVS
def test_cifar10dvs_reads_aedat4_through_tonic(tmp_path):
    import aedat  # noqa: F401  (a declared dependency: tonic reads AEDAT4 with it)
    written = {}
    for label, cls in [(0, "airplane"), (9, "truck")]:
        for i in range(11):
            ev = random_events(100 * label + i, 20 + i, 128, 128)
            write_aedat4(tmp_path / "CIFAR10DVS" / cls / f"cifar10_{cls}_{i}.aedat4", ev)
            written[(label, i)] = ev
    train = load_dataset("cifar10dvs", str(tmp_path), "train")
    test = load_dataset("cifar10-dvs", str(tmp_path), "test")
    assert isinstance(train._tonic, tonic.datasets.CIFAR10DVS)
    assert train.classes[0] == "airplane" and train.classes[9] == "truck"
    # per class, natural name order: _0.._9 train, _10 (the last one) test
    assert len(train) == 20 and len(test) == 2
    assert [os.path.basename(f) for f in test.files] == [
        "cifar10_airplane_10.aedat4", "cifar10_truck_10.aedat4"]
    assert list(test.targets) == [0, 9]
    assert_same_events(test[1][0], written[(9, 10)])
    assert_same_events(train[3][0], written[(0, 3)])
    framed = FramedDataset(test, ToCountFrames((128, 128, 2), 2, clip=1))
    np.testing.assert_array_equal(
        framed[0][0].numpy(), np.minimum(expected_counts(written[(0, 10)], (128, 128, 2), 2), 1))


def test_cifar10dvs_without_aedat_says_what_to_install(tmp_path, monkeypatch):
    write_aedat4(tmp_path / "CIFAR10DVS" / "cat" / "a_0.aedat4", random_events(0, 3, 128, 128))
    import lava_mlsnn.data.tonic_sets as tonic_sets
    monkeypatch.setattr(tonic_sets, "_have_aedat", lambda: False)
    with pytest.raises(ImportError, match="pip install aedat"):
        load_dataset("cifar10dvs", str(tmp_path), "test")


# ---------------------------------------------------------------- missing data
@pytest.mark.parametrize("name,expected", [
    ("dvsgesture", os.path.join("DVSGesture", "ibmGestureTrain")),
    ("nmnist", os.path.join("NMNIST", "Train")),
    ("cifar10dvs", "CIFAR10DVS"),
])
def test_missing_dataset_raises_clear_error(tmp_path, name, expected):
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset(name, str(tmp_path / "nowhere"), "train")
    err = info.value
    assert isinstance(err, FileNotFoundError)
    assert err.expected_path == str(tmp_path / "nowhere" / expected)
    assert err.expected_path in str(err) and "tonic's layout" in str(err)
    assert "\n" not in str(err)


def test_empty_folder_counts_as_missing(tmp_path):
    (tmp_path / "NMNIST" / "Test" / "3").mkdir(parents=True)
    with pytest.raises(DatasetNotFoundError, match="no .bin files"):
        load_dataset("nmnist", str(tmp_path), "test")


def test_unknown_name_and_missing_root():
    with pytest.raises(ValueError, match="unknown data set"):
        load_dataset("imagenet", "/tmp")
    with pytest.raises(ValueError, match="needs root"):
        load_dataset("nmnist")
