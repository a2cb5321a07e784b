"""training/train_dvs.py: configuration contract, run directory, model selection, resume."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import numpy as np
import pytest
import torch
import yaml

from trainkit import (PY, ROOT, TRAIN_SCRIPT, checkpoint_tensors, load_script, shared_cache,
                      subprocess_env, tiny)
from lava_mlsnn.train import config as C
from lava_mlsnn.train.runlog import read_metrics

TIMING = {"epoch_s", "samples_per_s"}


@pytest.fixture(scope="module")
def train():
    return load_script(TRAIN_SCRIPT, "train_dvs_under_test")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return shared_cache(tmp_path_factory)


@pytest.fixture(scope="module")
def reference(train, cache, tmp_path_factory):
    """An uninterrupted 3-epoch run."""
    out = str(tmp_path_factory.mktemp("ref") / "run")
    assert train.main(tiny(cache, epochs=3) + ["--set", f"output.dir={out}"]) == 0
    return out


def _one_line_error(capsys, rc, expected=2):
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == expected
    assert len(err) == 1 and err[0].startswith("train_dvs: error: "), err
    return err[0]


# ---------------------------------------------------------------- configuration contract
def test_default_yaml_lists_every_default():
    with open(os.path.join(ROOT, "training", "configs", "default.yaml")) as f:
        assert yaml.safe_load(f) == C.DEFAULTS
    for name in ("digits", "dvsgesture", "nmnist", "cifar10dvs"):
        cfg = C.resolve([os.path.join(ROOT, "training", "configs", f"{name}.yaml")],
                        ["data.root=/data"])
        assert cfg["data"]["dataset"] == name
    gesture = C.resolve([os.path.join(ROOT, "training", "configs", "dvsgesture.yaml")],
                        ["data.root=/data"])
    assert gesture["data"]["timesteps"] == 1 and gesture["data"]["size"] == [64, 64]


def test_unknown_key_in_a_real_process_is_one_line_exit_2(tmp_path):
    r = subprocess.run([PY, TRAIN_SCRIPT, "--set", "optim.epoch=3"], capture_output=True,
                       text=True, env=subprocess_env(), cwd=tmp_path, timeout=120)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [
        "train_dvs: error: --set optim.epoch: unknown key optim.epoch (did you mean 'epochs'?); "
        "optim has optimizer, lr, weight_decay, momentum, schedule, step_size, gamma, epochs, "
        "batch_size, eval_batch_size"]
    assert not os.path.exists(tmp_path / "runs")


@pytest.mark.parametrize("args, needle", [
    (["--set", "data.timesteps=0"], "data.timesteps must be an integer in 1..1024, got 0"),
    (["--set", "quant.weight_bits=3"], "quant.weight_bits must be one of None, 1, 2, 4, 8, got 3"),
    (["--set", "model.arch=resnet"], "model.arch must be one of convnet, sparse_resnet"),
    (["--set", "neuron.threshold=-1"], "neuron.threshold must be a number in (0.0"),
    (["--set", "model.channels=[4]"], "model.channels must hold 2 widths for the convnet"),
    (["--set", "data.dataset=nmnist"], "data.root is required for data.dataset=nmnist"),
    (["--set", "epochs=3"], "expected section.key=value"),
    (["--set", "optimizer.lr=1"], "unknown section 'optimizer' (did you mean 'optim'?)"),
    (["--set", "model.arch=spiking_resnet", "--set", "quant.weight_bits=1"],
     "not supported for spiking_resnet"),
    (["--config", "/no/such.yaml"], "/no/such.yaml: no such config file"),
    (["--stop-after-epochs", "0"], "--stop-after-epochs must be >= 1"),
    (["--resume", "/no/such/run"], "/no/such/run: not a run directory (no config.yaml)"),
    (["--bogus"], "unrecognized arguments: --bogus"),
])
def test_bad_configuration_exits_2(train, capsys, args, needle):
    assert needle in _one_line_error(capsys, train.main(args))


def test_bad_yaml_files_exit_2(train, capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  dataset: digits\n   timesteps: [\n")
    assert "not valid YAML at line" in _one_line_error(capsys, train.main(["--config", str(bad)]))
    typo = tmp_path / "typo.yaml"
    typo.write_text("data:\n  timestep: 2\n")
    line = _one_line_error(capsys, train.main(["--config", str(typo)]))
    assert "unknown key data.timestep (did you mean 'timesteps'?)" in line


def test_missing_dataset_names_the_folder(train, capsys, tmp_path):
    rc = train.main(["--set", "data.dataset=nmnist", "--set", f"data.root={tmp_path}",
                     "--set", f"output.dir={tmp_path / 'run'}", "--no-progress"])
    line = _one_line_error(capsys, rc)
    assert f"no .bin files under {tmp_path}/NMNIST/Train" in line
    assert "never downloads" in line
    assert not (tmp_path / "run").exists()  # no half-made run directory is left behind


def test_corrupt_dataset_exits_2(train, capsys, tmp_path):
    for folder, user in (("ibmGestureTrain", "user01_led"), ("ibmGestureTest", "user24_led")):
        for label in range(2):
            path = tmp_path / "DVSGesture" / folder / user / f"{label}.npy"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"this is not a numpy file")
    rc = train.main(["--set", "data.dataset=dvsgesture", "--set", f"data.root={tmp_path}",
                     "--set", "data.val_fraction=0", "--set", f"output.dir={tmp_path / 'run'}",
                     "--no-progress"])
    line = _one_line_error(capsys, rc)
    assert "dvsgesture train sample 0" in line and "cannot be read or framed" in line
    assert not (tmp_path / "run").exists()


def test_existing_run_directory_is_not_overwritten(train, capsys, reference):
    line = _one_line_error(capsys, train.main(["--set", f"output.dir={reference}"]))
    assert f"{reference} already holds a run: continue it with --resume {reference}" in line
    line = _one_line_error(capsys, train.main(["--resume", reference, "--set",
                                               "optim.lr=0.5"]))
    assert "--set optim.lr cannot change on --resume" in line
    line = _one_line_error(capsys, train.main(["--resume", reference, "--epochs", "2"]))
    assert line.endswith(f"optim.epochs=2: the run in {reference} has already done 3 epochs")
    assert C.load_resolved(os.path.join(reference, "config.yaml"))["optim"]["epochs"] == 3


# ---------------------------------------------------------------- run directory
def test_run_directory_and_selection_on_validation(reference, capsys):
    files = set(os.listdir(reference))
    assert {"config.yaml", "metrics.csv", "curves.png", "activity.png", "summary.json",
            "checkpoints"} <= files
    for png in ("curves.png", "activity.png"):
        with open(os.path.join(reference, png), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    cfg = C.load_resolved(os.path.join(reference, "config.yaml"))
    assert cfg["optim"]["epochs"] == 3 and cfg["data"]["limit"] == 48
    rows = read_metrics(os.path.join(reference, "metrics.csv"))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert {"loss", "train_acc", "val_acc", "train_events", "events/1.conv",
            "events/5.dense"} <= set(rows[0])
    assert all(float(r["train_events"]) > 0 for r in rows)
    val = [float(r["val_acc"]) for r in rows]
    with open(os.path.join(reference, "summary.json")) as f:
        s = json.load(f)
    assert s["best_epoch"] == int(np.argmax(val)) + 1  # first epoch with the best val accuracy
    assert s["best_val_acc"] == pytest.approx(max(val))
    assert s["samples"] == {"train": 48, "val": 48, "test": 48}
    best = torch.load(os.path.join(reference, "checkpoints", "best.pt"))
    assert best["epoch"] == s["best_epoch"]
    # the reported test accuracy is the selected checkpoint's, recomputed here
    from lava_mlsnn.train.data import build_data, eval_loader
    from lava_mlsnn.train.loop import evaluate
    from lava_mlsnn.train.models import build_model
    data = build_data(cfg, cfg["data"]["cache_dir"])  # the shared cache of these tests
    net = build_model(cfg, data.input_shape, len(data.classes), data.classes)
    net.load_state_dict(best["model"])
    loader = [(x.movedim(1, -1), y) for x, y in eval_loader(data.test, 64)]
    assert evaluate(net, loader) == pytest.approx(s["test_acc_float"])
    assert evaluate(net, loader, quantized=True) == pytest.approx(s["test_acc_quantized"])
    assert s["activity"]["events"] > 0 and s["activity"]["synops"] > s["activity"]["events"]


# ---------------------------------------------------------------- resume determinism
def _same_run(a: str, b: str) -> None:
    ta = checkpoint_tensors(os.path.join(a, "checkpoints", "last.pt"))
    tb = checkpoint_tensors(os.path.join(b, "checkpoints", "last.pt"))
    assert ta.keys() == tb.keys()
    different = [k for k in ta if not torch.equal(ta[k], tb[k])]
    assert not different, different
    ra, rb = (read_metrics(os.path.join(d, "metrics.csv")) for d in (a, b))
    assert [{k: v for k, v in r.items() if k not in TIMING} for r in ra] == \
        [{k: v for k, v in r.items() if k not in TIMING} for r in rb]
    sa, sb = (json.load(open(os.path.join(d, "summary.json"))) for d in (a, b))
    for key in ("best_epoch", "best_val_acc", "test_acc_float", "test_acc_quantized",
                "final_state_hash"):
        assert sa[key] == sb[key], key


def test_stop_and_resume_ends_with_the_same_weights(train, cache, reference, tmp_path, capsys):
    out = str(tmp_path / "run")
    assert train.main(tiny(cache, epochs=3) + ["--set", f"output.dir={out}",
                                                "--stop-after-epochs", "1"]) == 0
    assert "stopped after epoch 1; continue with" in capsys.readouterr().out
    assert torch.load(os.path.join(out, "checkpoints", "last.pt"))["epoch"] == 1
    assert not os.path.exists(os.path.join(out, "summary.json"))
    assert train.main(["--resume", out, "--no-progress", "--stop-after-epochs", "1"]) == 0
    assert train.main(["--resume", out, "--no-progress"]) == 0
    _same_run(reference, out)


def test_killed_run_resumes_to_the_same_weights(train, cache, reference, tmp_path):
    out = str(tmp_path / "run")
    proc = subprocess.Popen([PY, TRAIN_SCRIPT, *tiny(cache, epochs=3), "--set",
                             f"output.dir={out}"], env=subprocess_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    last = os.path.join(out, "checkpoints", "last.pt")
    deadline = time.time() + 120
    while not os.path.exists(last) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
    assert torch.load(last)["epoch"] < 3  # killed mid-run; the checkpoint is whole
    assert train.main(["--resume", out, "--no-progress"]) == 0
    _same_run(reference, out)


def test_one_epoch_on_a_tonic_dataset_without_the_cache(train, capsys, tmp_path):
    from test_data_tonic import random_events, write_nmnist_bin
    for split, per_class in (("Train", 2), ("Test", 1)):
        for label in range(10):
            for k in range(per_class):
                ev = random_events(100 * label + 10 * k + (split == "Test"), 300, 34, 34)
                write_nmnist_bin(str(tmp_path / "NMNIST" / split / str(label) / f"{k}.bin"), ev)
    out = tmp_path / "run"
    rc = train.main(["--no-progress", "--set", "data.dataset=nmnist", "--set",
                     f"data.root={tmp_path}", "--set", "data.val_fraction=0.5", "--set",
                     "data.cache=false", "--set", "optim.epochs=1", "--set",
                     "model.channels=[4,8]", "--set", f"output.dir={out}"])
    assert rc == 0, capsys.readouterr().err
    with open(out / "summary.json") as f:
        s = json.load(f)
    assert s["samples"] == {"train": 10, "val": 10, "test": 10}
    assert s["input_shape"] == [2, 34, 34] and len(s["classes"]) == 10
    assert not (out / "frames").exists()  # data.cache=false: framed on every access


def test_finished_run_extended_equals_the_longer_run(train, cache, tmp_path, capsys):
    """A finished 2-epoch run, extended to 3 (--resume --epochs 3), ends with the weights,
    metrics and summary of a 3-epoch run (a schedule that does not depend on the total)."""
    const = ["--set", "optim.schedule=constant"]
    straight, extended = str(tmp_path / "straight"), str(tmp_path / "extended")
    assert train.main(tiny(cache, epochs=3) + const + ["--set", f"output.dir={straight}"]) == 0
    assert train.main(tiny(cache, epochs=2) + const + ["--set", f"output.dir={extended}"]) == 0
    assert json.load(open(os.path.join(extended, "summary.json")))["epochs"] == 2
    capsys.readouterr()
    assert train.main(["--resume", extended, "--no-progress", "--epochs", "3"]) == 0
    said = capsys.readouterr()
    assert "note: extending the run from 2 to 3 epochs\n" in said.out + said.err
    assert C.load_resolved(os.path.join(extended, "config.yaml"))["optim"]["epochs"] == 3
    _same_run(straight, extended)
