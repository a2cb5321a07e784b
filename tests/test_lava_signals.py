"""Lava runs never hang and never leak (DESIGN §7): watchdog, SIGTERM/SIGINT/SIGKILL.

A failing ProcessModel becomes one :class:`LavaRunError` line within seconds; a
signalled ``lava-mlsnn simulate --backend lava`` leaves no process of its process
group and no scratch directory; children of a SIGKILLed run die with it and its
scratch directory is removed by the next run (with ``LAVA_MLSNN_SLOW=1``).
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from lava_mlsnn.fixed import NeuronParams, SynapseSpec
from lava_mlsnn.format.spec import Branch, LayerSpec, NetworkSpec
from lava_mlsnn.lifecycle import SCRATCH_ENV, ScratchDir
from netfactory import random_files

pytestmark = pytest.mark.lava
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _group(pgid: int):
    """Live (non-zombie) processes of process group ``pgid``."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append(int(pid))
    return out


def _wait_until(cond, timeout: float, step: float = 0.2) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return cond()


@pytest.fixture(scope="module")
def long_run(tmp_path_factory):
    """A dense network and an input long enough to be interrupted mid-run."""
    d = tmp_path_factory.mktemp("sig")
    _, net, x = random_files(d, (5, 6), 3000, 8, conv=False)
    return net, x


def _start(long_run, tmp_path):
    net, x = long_run
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1", **{SCRATCH_ENV: str(scratch)})
    env.pop("LAVA_MLSNN_DEBUG", None)
    out = tmp_path / "out.npz"
    # A job started in the background of a non-interactive shell inherits SIGINT ignored
    # (as this test process may have): give the command the default handler a terminal has.
    launch = ("import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler);"
              " sys.argv[0] = 'lava-mlsnn'; runpy.run_module('lava_mlsnn.cli', run_name='__main__')")
    proc = subprocess.Popen([sys.executable, "-c", launch, "simulate", net,
                             "--input", x, "--backend", "lava", "--out", str(out)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    # running: the scratch dir holds its stream files and the runtime's processes exist
    running = _wait_until(lambda: any(os.listdir(scratch / s) for s in os.listdir(scratch))
                          and len(_group(proc.pid)) >= 5, timeout=180)
    if not running:
        proc.kill()
        pytest.fail(f"the Lava run did not start: {proc.communicate()[1][-2000:]}")
    time.sleep(1.0)
    return proc, scratch, out


@pytest.mark.parametrize("sig, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_during_lava_run_leaves_nothing(long_run, tmp_path, sig, status):
    proc, scratch, out = _start(long_run, tmp_path)
    assert proc.poll() is None, "the run ended before the signal"
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lava-mlsnn: error: "), err
    assert _wait_until(lambda: not _group(proc.pid), timeout=15), _group(proc.pid)
    assert os.listdir(scratch) == []
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("LAVA_MLSNN_SLOW", "") in ("", "0"),
                    reason="set LAVA_MLSNN_SLOW=1")
def test_sigkilled_run_leaves_no_orphans_and_its_scratch_goes_next_time(long_run, tmp_path,
                                                                          monkeypatch):
    proc, scratch, out = _start(long_run, tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert _wait_until(lambda: not _group(proc.pid), timeout=15), _group(proc.pid)
    stale = os.listdir(scratch)
    assert len(stale) == 1 and stale[0].startswith(f"lava-mlsnn-{proc.pid}-")
    monkeypatch.setenv(SCRATCH_ENV, str(scratch))
    with ScratchDir() as fresh:  # the next run removes the dead run's directory
        assert os.listdir(scratch) == [os.path.basename(fresh.path)]
    assert os.listdir(scratch) == []


def test_failing_process_model_is_one_error_within_seconds(tmp_path, monkeypatch):
    """Pool padding beyond half the kernel (the reader refuses it; built here by hand)
    makes a ProcessModel raise: once a hang of the run and of ``stop()``."""
    from lava_mlsnn.backends.lava_runner import run_lava
    from lava_mlsnn.backends.lava_watchdog import LavaRunError
    monkeypatch.setenv(SCRATCH_ENV, str(tmp_path))
    inp = LayerSpec("input", (1, 6, 6), -1, neuron=NeuronParams("INPUT", input_levels=3))
    pool = SynapseSpec("pool", np.array(5), 0, stride=(2, 2), padding=(2, 2), kernel=(2, 2))
    layer = LayerSpec("pool", (1, 5, 5), 0, [Branch(0, pool)], NeuronParams("MLSN", 10, 3))
    spec = NetworkSpec([inp, layer], input_shape=(1, 6, 6), input_levels=3, timesteps=2)
    t0 = time.monotonic()
    with pytest.raises(LavaRunError, match="layer1.branch0 .* pad should be at most half"):
        run_lava(spec, np.ones((2, 2, 1, 6, 6), dtype=np.int64))
    assert time.monotonic() - t0 < 90
    assert multiprocessing.active_children() == []
    assert os.listdir(tmp_path) == []


def test_stale_scratch_goes_only_when_its_lock_is_free(tmp_path, monkeypatch):
    """Ownership is the lock, not the pid in the name: a folder named after a dead pid
    whose lock a live process holds (another PID namespace) is kept; an unlocked one
    goes; one without a lock file is not judged."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    ended = tmp_path / f"lava-mlsnn-{dead.pid}-abc"
    ended.mkdir()
    (ended / ".lock").write_bytes(b"")
    (ended / "layer1.npy").write_bytes(b"x")
    alive = tmp_path / f"lava-mlsnn-{dead.pid}-other-namespace"
    alive.mkdir()
    (alive / ".lock").write_bytes(b"")
    (alive / "layer2.npy").write_bytes(b"x")
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl,os,sys,time;"
                               "fd=os.open(sys.argv[1],os.O_RDONLY);"
                               "fcntl.flock(fd,fcntl.LOCK_EX);print('ok',flush=True);"
                               "time.sleep(60)", str(alive / ".lock")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ok"
        (tmp_path / "lava-mlsnn-nolock").mkdir()
        monkeypatch.setenv(SCRATCH_ENV, str(tmp_path))
        with ScratchDir() as fresh:
            names = sorted(os.listdir(tmp_path))
            assert names == sorted([os.path.basename(fresh.path), alive.name,
                                    "lava-mlsnn-nolock"])
            assert (alive / "layer2.npy").exists()
            # and the fresh one is itself locked: a second cleaner keeps it
            with ScratchDir() as other:
                assert os.path.isdir(fresh.path) and os.path.isdir(other.path)
    finally:
        holder.kill()
        holder.wait()
    with ScratchDir():  # the holder is gone: its folder goes now
        assert not alive.exists()


def _stall_source_once(monkeypatch, flag):
    """The input Process's model sleeps for an hour the first time it finds ``flag``
    (forked Lava processes inherit the patch): a runtime that makes no progress
    while every process is alive, as Lava's own deadlocks do."""
    from lava_mlsnn.proc.stream import models
    run_spk = models.AbstractPyStreamSourceModel.run_spk

    def stalling(self):
        if os.path.exists(flag):
            os.remove(flag)
            time.sleep(3600)
        run_spk(self)

    monkeypatch.setattr(models.AbstractPyStreamSourceModel, "run_spk", stalling)


def test_stalled_lava_run_is_rerun_on_a_fresh_runtime(tmp_path, monkeypatch, caplog):
    from lava_mlsnn.backends.emulator import emulate
    from lava_mlsnn.backends.lava_runner import LavaNetwork
    from lava_mlsnn.backends.streamed import STALL_ENV
    spec, _, x = random_files(tmp_path, (4, 5), 6, 3, conv=False)
    x = np.load(x)
    flag = tmp_path / "stall-once"
    flag.touch()
    _stall_source_once(monkeypatch, str(flag))
    monkeypatch.setenv(STALL_ENV, "3")
    monkeypatch.setattr(LavaNetwork, "stall_per_step_s", 0.1)
    t0 = time.monotonic()
    with caplog.at_level("WARNING"), LavaNetwork(spec, steps=3, batch=3) as net:
        out = net.run(x)
    assert time.monotonic() - t0 < 120
    assert not flag.exists()  # the first runtime did stall
    assert "a Lava run of" in caplog.text and "fresh Lava runtime" in caplog.text
    emu = emulate(spec, x)
    assert sorted(out) == sorted(emu)
    for i in out:
        assert np.array_equal(out[i], emu[i].numpy()), f"layer {i}"
    assert multiprocessing.active_children() == []


def test_lava_run_that_always_stalls_is_one_error(tmp_path, monkeypatch):
    from lava_mlsnn.backends.lava_runner import run_lava
    from lava_mlsnn.backends.lava_watchdog import LavaStalled
    from lava_mlsnn.backends.streamed import STALL_ENV
    spec, _, x = random_files(tmp_path, (4, 5), 2, 2, conv=False)
    x = np.load(x)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv(SCRATCH_ENV, str(scratch))
    monkeypatch.setenv(STALL_ENV, "2")
    from lava_mlsnn.backends.lava_runner import LavaNetwork
    from lava_mlsnn.proc.stream import models
    monkeypatch.setattr(LavaNetwork, "stall_per_step_s", 0.1)

    def stalling(self):
        time.sleep(3600)

    monkeypatch.setattr(models.AbstractPyStreamSourceModel, "run_spk", stalling)
    t0 = time.monotonic()
    with pytest.raises(LavaStalled, match=r"a Lava run of \d+ steps did not finish within"):
        run_lava(spec, x)
    assert time.monotonic() - t0 < 120
    assert multiprocessing.active_children() == []
    assert os.listdir(scratch) == []
