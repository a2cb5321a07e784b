"""Safe outputs and inputs: refused targets stay untouched, failed writes leave no file."""
from __future__ import annotations

import os
import resource
import signal
import stat
import subprocess
import sys

import numpy as np
import pytest

from lava_mlsnn import cli
from lava_mlsnn._io import UnsafePathError, atomic_write
from lava_mlsnn.format import read_network, write_network
from lava_mlsnn.format.random_net import random_network
from netfactory import random_files

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("io")
    _, net, x = random_files(d, (9, 1), 5, 3, conv=True)
    return net, x


def _targets(tmp_path):
    """A symlink, a FIFO and (where permitted) a character device, in ``tmp_path``."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    link = tmp_path / "link.npz"
    link.symlink_to(victim)
    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)
    out = {"symlink": link, "fifo": fifo}
    dev = tmp_path / "null.npz"
    try:
        os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        out["chardev"] = dev
    except (PermissionError, OSError):
        pass
    return victim, out


def _snapshot(path):
    st = os.lstat(path)
    return stat.S_IFMT(st.st_mode), st.st_ino, st.st_rdev


def test_out_to_symlink_fifo_or_device_is_refused_and_unchanged(files, tmp_path, capsys):
    net, x = files
    victim, targets = _targets(tmp_path)
    before = {k: _snapshot(p) for k, p in targets.items()}
    for kind, path in targets.items():
        rc = cli.main(["simulate", net, "--input", x, "--out", str(path)])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and "refusing to replace it" in err[0], (kind, err)
        assert _snapshot(path) == before[kind], kind
    assert os.readlink(targets["symlink"]) == str(victim)
    assert victim.read_text() == "precious"
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".lava-mlsnn-")]
    with pytest.raises(UnsafePathError):
        write_network(random_network(np.random.default_rng(0)), str(targets["symlink"]))
    assert victim.read_text() == "precious"


def test_fifo_or_device_as_input_is_refused_without_blocking(files, tmp_path, capsys):
    net, _ = files
    fifo = tmp_path / "x.npy"
    os.mkfifo(fifo)
    signal.alarm(60)  # a regression would block on the FIFO forever
    try:
        for path in (str(fifo), "/dev/zero"):
            assert cli.main(["simulate", net, "--input", path]) == 2
            err = capsys.readouterr().err
            assert "expected a regular file" in err, err
    finally:
        signal.alarm(0)


def test_atomic_write_failure_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def boom(f):
        f.write(b"partial")
        raise OSError(28, "No space left on device")
    with pytest.raises(OSError):
        atomic_write(str(target), boom)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_file_too_large_is_one_line_and_no_partial_file(files, tmp_path):
    net, x = files
    out = tmp_path / "out.npz"
    out.write_bytes(b"old")

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
    env.pop("LAVA_MLSNN_DEBUG", None)
    big = tmp_path / "big.npy"
    levels = read_network(net).layers[0].neuron.input_levels
    # random inputs within the input range: outputs far above 4 KiB even when compressed
    np.save(big, np.random.default_rng(3).integers(0, levels + 1,
                                                   size=(400,) + np.load(x).shape[1:]))
    r = subprocess.run([sys.executable, "-m", "lava_mlsnn.cli", "simulate", net, "--input",
                        str(big), "--out", str(out)], capture_output=True, text=True, env=env,
                       preexec_fn=limit, timeout=300)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1, r.stderr
    assert "file too large" in lines[0] and "nothing was written" in lines[0]
    assert out.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["big.npy", "out.npz"]
