"""The training script's DataLoader workers end with it: on SIGTERM and on SIGKILL.

About a minute: runs with ``LAVA_MLSNN_SLOW=1`` only.
"""
from __future__ import annotations

import os
import signal
import subprocess

import pytest

from test_lava_signals import _group, _wait_until
from trainkit import PY, TRAIN_SCRIPT, shared_cache, subprocess_env, tiny

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    os.environ.get("LAVA_MLSNN_SLOW", "") in ("", "0"), reason="set LAVA_MLSNN_SLOW=1")]


def _start(tmp_path_factory, tmp_path):
    cache = shared_cache(tmp_path_factory)
    args = tiny(cache, epochs=200) + ["--set", "data.workers=2", "--set",
                                      f"output.dir={tmp_path / 'run'}"]
    proc = subprocess.Popen([PY, TRAIN_SCRIPT, *args], env=subprocess_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    last = tmp_path / "run" / "checkpoints" / "last.pt"
    # training: a first checkpoint exists and the two workers run beside the script
    if not _wait_until(lambda: last.exists() and len(_group(proc.pid)) >= 3, timeout=240):
        proc.kill()
        pytest.fail(f"training did not start: {proc.communicate()[1][-2000:]}")
    return proc


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_dataloader_workers_end_with_the_script(tmp_path_factory, tmp_path, sig):
    proc = _start(tmp_path_factory, tmp_path)
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    if sig == signal.SIGTERM:
        lines = err.strip().splitlines()
        assert proc.returncode == 143, err
        assert len(lines) == 1 and "terminated by SIGTERM" in lines[0], err
    else:
        assert proc.returncode == -signal.SIGKILL
    assert _wait_until(lambda: not _group(proc.pid), timeout=15), _group(proc.pid)
