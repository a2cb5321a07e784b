"""Writes that meet a full disk: one line, exit 1, the old file kept, no temp file, no
crash. Tested on a real size-limited file system: a 256 KiB tmpfs mounted for the test
(needs root; skipped otherwise -- tests/test_safe_io.py covers RLIMIT_FSIZE)."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid

import numpy as np
import pytest

from netfactory import random_files

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZE = 256 << 10


@pytest.fixture
def full_disk(tmp_path):
    """A tmpfs of 256 KiB holding ``old.h5`` and filled to the last few KiB."""
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(mnt)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        (mnt / "old.h5").write_bytes(b"old contents")
        free = os.statvfs(mnt).f_bavail * os.statvfs(mnt).f_frsize
        (mnt / "filler").write_bytes(os.urandom(max(0, free - 4096)))
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    d = tmp_path_factory.mktemp("big")
    spec, net, x = random_files(d, (64, 64, 1), 32, 3, conv=False)
    # inputs within the input layer's range (no clipping warning), random enough that the
    # compressed outputs cannot fit in the few KiB the full disk leaves
    levels = spec.layers[0].neuron.input_levels
    np.save(x, np.random.default_rng(7).integers(0, levels + 1, size=np.load(x).shape))
    return net, x


def _cli(*argv, cwd=None):
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("LAVA_MLSNN_DEBUG", None)
    proc = subprocess.run([sys.executable, "-m", "lava_mlsnn.cli", *argv], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=300)
    return proc.returncode, proc.stderr.strip().splitlines()


def _assert_clean_failure(rc, err, mnt, target):
    assert rc == 1, (rc, err)
    assert len(err) == 1 and "no space left" in err[0] and target in err[0], err
    assert sorted(os.listdir(mnt)) == ["filler", "old.h5"]  # no temp file left
    assert (mnt / "old.h5").read_bytes() == b"old contents"


@pytest.mark.parametrize("command", ["nir-export", "simulate-out", "write-network"])
def test_full_disk_keeps_the_old_file_and_says_so(command, full_disk, big):
    net, x = big
    target = str(full_disk / "old.h5")
    if command == "nir-export":
        pytest.importorskip("nir")
        rc, err = _cli("nir", "export", net, "-o", target)
    elif command == "simulate-out":
        rc, err = _cli("simulate", net, "--input", x, "--out", target)
    else:  # the writer behind `export` and `nir import`, in its own process (a crash shows)
        code = ("import sys; from lava_mlsnn.format import read_network, write_network\n"
                "from lava_mlsnn._io import write_error_line\n"
                f"try:\n    write_network(read_network({net!r}), {target!r})\n"
                "except OSError as e:\n    print(write_error_line(e.filename, e), "
                "file=sys.stderr); sys.exit(1)\n")
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=dict(os.environ, PYTHONPATH=ROOT), timeout=300)
        rc, err = proc.returncode, proc.stderr.strip().splitlines()
    _assert_clean_failure(rc, err, full_disk, target)


def test_train_on_a_full_disk_is_one_line_and_leaves_no_run_dir(full_disk):
    run = full_disk / f"run-{uuid.uuid4().hex[:6]}"
    rc, err = _cli("train", "--set", f"output.dir={run}", "--set", "optim.epochs=1",
                   "--set", "data.limit=8", "--set", "train.device=cpu", "--no-progress")
    assert rc == 1 and err and "no space left" in err[-1], err
    assert not any("Traceback" in line for line in err)
    assert not run.exists() and sorted(os.listdir(full_disk)) == ["filler", "old.h5"]


def test_dev_null_accepts_every_writer(big, tmp_path):
    net, x = big
    assert _cli("simulate", net, "--input", x, "--out", os.devnull)[0] == 0
    pytest.importorskip("nir")
    assert _cli("nir", "export", net, "-o", os.devnull)[0] == 0
    assert os.path.exists(os.devnull) and not os.path.isfile(os.devnull)
