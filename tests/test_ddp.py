"""``torchrun --nproc_per_node=2 training/train_dvs.py`` on CPU (gloo): one run directory,
identical weights on both ranks, and the checkpoint holds exactly those weights."""
from __future__ import annotations

import json
import os
import signal
import subprocess

import torch

from trainkit import ROOT, TRAIN_SCRIPT, shared_cache, subprocess_env, tiny
from lava_mlsnn.train.distributed import state_hash
from lava_mlsnn.train.runlog import read_metrics

TORCHRUN = os.path.join(os.path.dirname(os.path.realpath(__file__)), os.pardir, ".venv", "bin",
                        "torchrun")


def _run(cmd, env, timeout=240) -> subprocess.CompletedProcess:
    """Run ``cmd`` in its own process group; on a timeout the whole group is killed."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=ROOT, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"torchrun timed out:\n{out[-2000:]}\n{err[-3000:]}") from None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def test_two_gloo_processes_hold_identical_weights(tmp_path, tmp_path_factory):
    root = tmp_path / "runs"
    torchrun = TORCHRUN if os.path.exists(TORCHRUN) else "torchrun"
    env = subprocess_env()
    env["OMP_NUM_THREADS"] = "1"
    r = _run([torchrun, "--standalone", "--nproc_per_node=2", TRAIN_SCRIPT,
              *tiny(shared_cache(tmp_path_factory), epochs=2),
              "--set", f"output.root={root}", "--set", "quant.weight_bits=2"], env)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    runs = os.listdir(root)
    assert len(runs) == 1, runs  # only rank 0 writes
    run_dir = root / runs[0]
    assert r.stdout.count("run directory") == 2  # rank 0's start line and summary, once each
    with open(run_dir / "summary.json") as f:
        s = json.load(f)
    assert s["world_size"] == 2 and s["device"] == "cpu"
    assert s["ranks_identical"] is True
    assert len(s["state_hashes"]) == 2 and len(set(s["state_hashes"])) == 1
    last = torch.load(run_dir / "checkpoints" / "last.pt")
    assert last["world_size"] == 2 and last["epoch"] == 2
    assert state_hash(last["model"]) == s["state_hashes"][0] == s["final_state_hash"]
    # both shards of every epoch were counted: 48 training samples in 2 x 24
    assert [int(r["epoch"]) for r in read_metrics(run_dir / "metrics.csv")] == [1, 2]
    assert s["samples"]["train"] == 48
    assert 0.0 <= s["test_acc_quantized"] <= 1.0
