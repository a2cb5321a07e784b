"""Data-set folders and frame caches fail safely: non-regular files refused by name before
any is opened, caches of the wrong shape or dtype rebuilt, bad cache folders refused."""
from __future__ import annotations

import os
import stat
import time

import numpy as np
import pytest

from lava_mlsnn import cli
from lava_mlsnn.data import FramedDataset, ToCountFrames, load_dataset
from lava_mlsnn.data.cache import CacheDirError
from lava_mlsnn.data.tonic_sets import DatasetFileError
from test_data_tonic import random_events, write_nmnist_bin


def _nmnist(root):
    for i, label in enumerate([3, 0, 3]):
        write_nmnist_bin(root / "NMNIST" / "Train" / str(label) / f"{i:05d}.bin",
                         random_events(i, 40 + i, 34, 34))
    write_nmnist_bin(root / "NMNIST" / "Test" / "7" / "00009.bin", random_events(9, 30, 34, 34))
    return root / "NMNIST" / "Train" / "3"


def _fifo(p):
    os.mkfifo(p)


def _loop(p):
    os.symlink(p.name, p)  # points at itself


def _dangling(p):
    os.symlink(p.parent / "gone.bin", p)


def _directory(p):
    p.mkdir()
    (p / "x").write_bytes(b"")


@pytest.mark.parametrize("make,expect", [(_fifo, "a FIFO"), (_loop, "symbolic link loop"),
                                         (_dangling, "dangling symbolic link")])
def test_non_regular_sample_file_is_refused_by_name(tmp_path, make, expect):
    folder = _nmnist(tmp_path)
    bad = folder / "00099.bin"
    make(bad)
    t0 = time.monotonic()
    with pytest.raises(DatasetFileError) as info:
        load_dataset("nmnist", str(tmp_path), "train")
    assert time.monotonic() - t0 < 20  # the FIFO is never opened
    assert str(bad) in str(info.value) and expect in str(info.value)


def test_fifo_in_folder_is_one_line_exit_2_through_evaluate(tmp_path, capsys):
    from netfactory import random_files
    folder = _nmnist(tmp_path / "data")
    os.mkfifo(folder.parent.parent / "Test" / "7" / "00010.bin")
    _, net, _ = random_files(tmp_path, (9, 1), 5, 3, conv=True)
    t0 = time.monotonic()
    rc = cli.main(["evaluate", net, "--dataset", "nmnist", "--root", str(tmp_path / "data")])
    err = capsys.readouterr().err.strip().splitlines()
    assert time.monotonic() - t0 < 60
    assert rc == 2 and len(err) == 1 and "00010.bin" in err[0] and "FIFO" in err[0], err


class _Source:
    """Three fixed samples (a deterministic events -> frames pipeline stand-in)."""

    def __len__(self):
        return 3

    def __getitem__(self, i):
        return random_events(i, 50, 8, 8), i


FRAMING = ToCountFrames((8, 8, 2), n_time_bins=2)


def test_cached_file_of_wrong_shape_or_dtype_is_rebuilt(tmp_path):
    ds = FramedDataset(_Source(), FRAMING, str(tmp_path), dataset_id="src")
    want = [ds.get_compact(i) for i in range(3)]
    assert all(int(f.sum()) == 50 for f, _ in want)  # real frames
    bad = {0: dict(frames=np.zeros((2, 2, 4, 4), np.uint8), label=np.int64(0)),
           1: dict(frames=np.zeros((2, 2, 8, 8), np.float32), label=np.int64(1)),
           2: dict(frames=want[2][0], label=np.array([2, 2]))}
    for i, arrays in bad.items():
        np.savez(os.path.join(ds.cache_path, f"{i}.npz"), **arrays)
    fresh = FramedDataset(_Source(), FRAMING, str(tmp_path), dataset_id="src")
    for i in range(3):
        frames, label = fresh.get_compact(i)
        np.testing.assert_array_equal(frames, want[i][0])
        assert label == want[i][1]
    with np.load(os.path.join(ds.cache_path, "0.npz")) as z:  # rewritten on disk
        assert z["frames"].shape == want[0][0].shape


def test_cache_folder_that_is_a_file_or_under_proc_is_refused(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    for bad in (str(afile), str(afile / "sub"), "/proc/self/cache"):
        with pytest.raises(CacheDirError, match="cache folder"):
            FramedDataset(_Source(), FRAMING, bad, dataset_id="src")
    assert afile.read_text() == "x"
