"""The ``lava-mlsnn`` command as a new user meets it: --version, named configurations,
the --root flag, how to resume an interrupted run (through the real command)."""
from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
import torch

import lava_mlsnn
from lava_mlsnn import block
from lava_mlsnn.cli import main
from lava_mlsnn.train import config as C
from trainkit import PY, shared_cache, subprocess_env, tiny

CLI = [PY, "-m", "lava_mlsnn.cli"]


def test_version_through_the_command():
    r = subprocess.run(CLI + ["--version"], capture_output=True, text=True, timeout=120,
                       env=subprocess_env())
    assert r.returncode == 0 and r.stdout == f"lava-mlsnn {lava_mlsnn.__version__}\n"


def test_configs_lists_every_shipped_configuration(capsys):
    assert main(["configs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines]
    shipped = sorted(os.path.relpath(os.path.join(d, f), C.CONFIG_DIR)[:-5]
                     for d, _, fs in os.walk(C.CONFIG_DIR) for f in fs if f.endswith(".yaml"))
    assert sorted(names) == shipped and len(names) >= 18
    row = lines[names.index("papers/qsnn_vgg11_cifar10dvs")]
    assert "Q-SNN's DVS-CIFAR10 row" in row


def test_train_takes_a_paper_config_by_name(capsys):
    from lava_mlsnn.train.command import main as train
    assert train(["--config", "papers/qsnn_vgg11_cifar10dvs", "--set", "data.root=/data",
                  "--print-config"], prog="lava-mlsnn train") == 0
    cfg = capsys.readouterr().out
    assert "dataset: cifar10dvs" in cfg and "timesteps: 10" in cfg
    assert train(["--config", "papers/no_such_paper", "--print-config"],
                 prog="lava-mlsnn train") == 2
    err = capsys.readouterr().err.strip()
    assert err == ("lava-mlsnn train: error: papers/no_such_paper: no such config file or "
                   "shipped configuration (the shipped ones: lava-mlsnn configs)")
    assert C.config_file("../../pyproject") == "../../pyproject"  # never outside the folder


@pytest.fixture(scope="module")
def net_file(tmp_path_factory):
    torch.manual_seed(0)
    net = block.Network([block.Input((2, 34, 34)), block.Pool({"threshold": 0.5}, 2),
                         block.Flatten(), block.Readout({}, 2 * 17 * 17, 10)], timesteps=2)
    path = str(tmp_path_factory.mktemp("net") / "n.h5")
    net.export_hdf5(path)
    return path


@pytest.mark.parametrize("command", [["evaluate"], ["inspect", "--energy"]])
def test_dataset_without_root_names_the_flag(net_file, capsys, command):
    assert main(command + [net_file, "--dataset", "nmnist"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["lava-mlsnn: error: --dataset nmnist needs --root DIR, the folder holding "
                   "tonic's data set folders (the network file's metadata names none)"]


def test_sigint_says_how_to_resume(tmp_path_factory, tmp_path):
    cache = shared_cache(tmp_path_factory)
    run = tmp_path / "run"
    proc = subprocess.Popen(CLI + ["train", *tiny(cache, epochs=200), "--set",
                                   f"output.dir={run}"], env=subprocess_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    last = run / "checkpoints" / "last.pt"
    deadline = time.time() + 240
    while not last.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert err.strip().splitlines()[-1] == (
        f"lava-mlsnn train: error: interrupted (the last completed epoch is in "
        f"{run / 'checkpoints' / 'last.pt'}; continue with lava-mlsnn train --resume {run})")


def test_interruption_before_the_first_checkpoint_says_so(tmp_path, monkeypatch):
    from lava_mlsnn.train import command
    monkeypatch.setattr(command, "PROG", "lava-mlsnn train")
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    assert command._how_to_resume(str(run)) == ""  # not a run directory yet
    (run / "config.yaml").write_text("{}\n")
    assert command._how_to_resume(str(run)) == (
        f" (no epoch completed yet; start the run again with lava-mlsnn train --resume {run})")
