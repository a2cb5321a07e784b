"""train -> netx_export/export.py -> ``lava-mlsnn evaluate``, end to end on the embedded digits.

The run uses T = 2 and 32x32 -> 16x16 downsampling, so ``evaluate`` must rebuild
the framing from the file's attributes alone to reproduce the training numbers.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess

import pytest

from test_safe_disk import full_disk  # noqa: F401 -- a fixture
from trainkit import (EXPORT_SCRIPT, PY, TRAIN_SCRIPT, load_script, shared_cache,
                      subprocess_env, tiny)
from lava_mlsnn import cli
from lava_mlsnn.netx import read_network
from lava_mlsnn.backends.loihi2.report import deployment_warnings

SAMPLES = 40


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("export") / "run")
    train = load_script(TRAIN_SCRIPT, "train_dvs_for_export")
    args = tiny(shared_cache(tmp_path_factory), epochs=2, limit=SAMPLES) + [
        "--set", f"output.dir={out}", "--set", "data.timesteps=2", "--set", "data.size=[16,16]"]
    assert train.main(args) == 0
    with open(os.path.join(out, "summary.json")) as f:
        return out, json.load(f)


@pytest.fixture(scope="module")
def exported(run, tmp_path_factory):
    """``(file, export's stdout, export's main)``."""
    run_dir, _ = run
    path = str(tmp_path_factory.mktemp("net") / "digits.h5")
    main = load_script(EXPORT_SCRIPT, "export_under_test").main
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main([run_dir, "--out", path])
    assert rc == 0, buf.getvalue()[-3000:]
    return path, buf.getvalue(), main


def test_export_validates_and_reproduces_training_integers(run, exported):
    run_dir, summary = run
    path, out, _ = exported
    assert f"wrote {path} from {run_dir}/checkpoints/best.pt (epoch {summary['best_epoch']})" in out
    assert "Loihi 2 resources (estimate)" in out  # the inspect report
    spec = read_network(path)
    assert spec.timesteps == 2 and spec.input_shape == (2, 16, 16) and spec.input_levels == 7
    assert isinstance(deployment_warnings(spec), list)
    assert spec.metadata["framing"]["target_size"] == [16, 16]
    assert spec.metadata["best_epoch"] == summary["best_epoch"]
    q = summary["test_acc_quantized"]
    assert re.search(rf"quantized \(training\)\s+{q:7.2%}", out)
    assert re.search(rf"emulator \(file\)\s+{q:7.2%}", out)
    assert f"100.00%   of samples identical in every layer and step ({SAMPLES}/{SAMPLES})" in out


def _value(text: str, label: str) -> str:
    return re.search(rf"^{label}\s+(.*)$", text, re.M).group(1)


def test_evaluate_command_reproduces_the_run(run, exported):
    run_dir, summary = run
    path, _, _ = exported
    r = subprocess.run([PY, "-m", "lava_mlsnn.cli", "evaluate", path, "--samples",
                        str(SAMPLES)], capture_output=True, text=True, env=subprocess_env(),
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"digits test split, {SAMPLES} samples framed as T=2 x 2x16x16" in r.stdout
    correct = round(summary["test_acc_quantized"] * SAMPLES)
    assert _value(r.stdout, "accuracy").endswith(f"({correct}/{SAMPLES})")
    events = float(_value(r.stdout, "activity").split(" events")[0].replace(",", ""))
    assert events == pytest.approx(summary["activity"]["events"], abs=0.05)
    assert "samples/s" in _value(r.stdout, "throughput")


def test_lava_backend_agrees_with_the_emulator(exported, capsys):
    path, _, _ = exported
    reports = {}
    for backend in ("emulator", "lava"):
        assert cli.main(["evaluate", path, "--backend", backend, "--samples", "6"]) == 0
        reports[backend] = capsys.readouterr().out
    emu, lava = reports["emulator"], reports["lava"]
    assert _value(lava, "backend") == "lava (fixed_pt)"
    assert _value(lava, "accuracy") == _value(emu, "accuracy")
    assert _value(lava, "activity") == _value(emu, "activity")
    assert emu.split("per layer")[1] == lava.split("per layer")[1]


def test_error_contract(run, exported, capsys, tmp_path):
    run_dir, _ = run
    path, _, main = exported
    cases = [
        (["evaluate", str(tmp_path / "none.h5")], "none.h5: no such file"),
        (["evaluate", path, "--dataset", "nmnist", "--root", str(tmp_path)],
         "N-MNIST (test split) not found"),
        (["evaluate", path, "--dataset", "dvsgesture"], "--dataset dvsgesture needs --root DIR"),
    ]
    for argv, needle in cases:
        assert cli.main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0], err
    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"export: error: {tmp_path}: not a finished training run (needs config.yaml "
                   "and checkpoints/best.pt)"]


def test_export_to_dev_null_checks_the_file_and_keeps_nothing(run, exported, capsys):
    """``export --out /dev/null``: the file is still validated and compared (from a private
    copy, since /dev/null reads back empty), and nothing lands in the run folder."""
    run_dir, _ = run
    before = sorted(os.listdir(run_dir))
    rc = cli.main(["export", run_dir, "--out", os.devnull, "--samples", "4", "--no-inspect"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert f"wrote {os.devnull} from {run_dir}/checkpoints/best.pt" in captured.out
    assert "agreement             100.00%" in captured.out
    assert sorted(os.listdir(run_dir)) == before


def test_export_on_a_full_disk_is_one_line_and_keeps_the_old_file(run, full_disk):
    """``lava-mlsnn export --out`` on a nearly full file system (a 256 KiB tmpfs): exit 1,
    one line naming the target and the full disk, the old file and nothing else left."""
    run_dir, _ = run
    target = str(full_disk / "old.h5")
    proc = subprocess.run([PY, "-m", "lava_mlsnn.cli", "export", run_dir, "--out", target,
                           "--no-inspect"], capture_output=True, text=True,
                          env=subprocess_env(), timeout=600)
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(err) == 1, (proc.returncode, err)
    assert "no space left" in err[0] and target in err[0] and "Traceback" not in proc.stderr
    assert sorted(os.listdir(full_disk)) == ["filler", "old.h5"]
    assert (full_disk / "old.h5").read_bytes() == b"old contents"
