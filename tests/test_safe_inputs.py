"""Hostile user input fails in one line with exit 2, before any work: configs, YAML,
``--set``, command-line numbers and output names (DESIGN §7 failure contract)."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from lava_mlsnn import cli
from lava_mlsnn._limits import MAX_YAML_DEPTH, check_budget, load_yaml, short, UnsafeYAMLError
from lava_mlsnn.train import command as train_command
from netfactory import random_files

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _train(argv, capsys):
    """``lava-mlsnn train ARGV --print-config`` in-process: (rc, stderr lines)."""
    rc = cli.main(["train", *argv, "--print-config"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    return rc, err


BAD_SETS = {
    "optim.epochs=0": "optim.epochs", "optim.epochs=-1": "optim.epochs",
    "optim.epochs=true": "optim.epochs", "optim.epochs=ten": "optim.epochs",
    "optim.epochs=1e309": "optim.epochs", "optim.gamma=.nan": "optim.gamma",
    "activity.lambda=.nan": "activity.lambda", "model.width=.nan": "model.width",
    "optim.lr=.nan": "optim.lr", "optim.lr=.inf": "optim.lr",
    "neuron.threshold=.nan": "neuron.threshold",
    "optim.batch_size=100000000000000000000": "optim.batch_size",
    "optim.eval_batch_size=99999999": "optim.eval_batch_size",
    "data.limit=10000000000000000": "data.limit", "model.hidden=10000000": "model.hidden",
    "model.channels=[8,100000000]": "model.channels",
    "optim.epochs=[*a]": "aliases", "optim.epochs": "section.key=value",
    "optim.epochs=" + "9" * 5000: "optim.epochs",
}


@pytest.mark.parametrize("item", sorted(BAD_SETS))
def test_bad_set_value_is_refused_in_one_line(item, capsys):
    rc, err = _train(["--set", item], capsys)
    assert rc == 2 and len(err) == 1, err
    assert BAD_SETS[item] in err[0] and "Traceback" not in err[0]
    assert len(err[0]) < 400  # the huge value is not formatted into the message


def _write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


YAML_FILES = {
    "laughs.yaml": (b'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
                    b'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n',
                    "aliases"),
    "dup.yaml": (b"optim:\n  epochs: 3\n  epochs: 4\n", "duplicate key 'epochs'"),
    "dupsection.yaml": (b"optim:\n  epochs: 3\noptim:\n  lr: 0.1\n", "duplicate key 'optim'"),
    "latin1.yaml": (b"optim:\n  optimizer: \xe9t\xe9\n", "not UTF-8"),
    "deep.yaml": (b"optim: " + b"[" * 5000 + b"]" * 5000 + b"\n", f"deeper than {MAX_YAML_DEPTH}"),
    "huge.yaml": (b"#" * (2 << 20), "limit"),
}


@pytest.mark.parametrize("name", sorted(YAML_FILES))
def test_hostile_yaml_file_is_refused_promptly(name, tmp_path, capsys):
    data, expect = YAML_FILES[name]
    path = _write(tmp_path, name, data)
    t0 = time.monotonic()
    rc, err = _train(["--config", path], capsys)
    assert time.monotonic() - t0 < 10
    assert rc == 2 and len(err) == 1 and expect in err[0] and path in err[0], err


def test_yaml_loader_keeps_plain_documents():
    assert load_yaml(b"optim:\n  epochs: 3\n  lr: 1.0e-3\nmodel: {channels: [8, 16]}\n",
                     "x") == {"optim": {"epochs": 3, "lr": 1e-3}, "model": {"channels": [8, 16]}}
    with pytest.raises(UnsafeYAMLError, match="deeper"):
        load_yaml(b"[" * (MAX_YAML_DEPTH + 1) + b"]" * (MAX_YAML_DEPTH + 1), "x")
    assert load_yaml(b"[" * MAX_YAML_DEPTH + b"]" * MAX_YAML_DEPTH, "x") is not None


def test_folder_keys_naming_a_file_or_proc_are_refused(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    for item, expect in ((f"output.root={afile}", "output.root"),
                         (f"output.dir={afile}", "output.dir"),
                         (f"data.cache_dir={afile}", "data.cache_dir"),
                         ("data.cache_dir=/proc/self/frames", "pseudo file system")):
        rc, err = _train(["--set", item], capsys)
        assert rc == 2 and len(err) == 1 and expect in err[0], (item, err)
    assert afile.read_text() == "x"


def test_short_never_formats_a_huge_value():
    assert len(short("x" * 10 ** 6)) < 100
    assert "bits" in short(10 ** 5000)
    assert short(3) == "3"


def test_memory_budget_refuses_before_allocating():
    check_budget("a", (4, 4), 8, budget=128)
    with pytest.raises(MemoryError, match=r"above the memory budget"):
        check_budget("recorded activity", (10 ** 6, 10 ** 6, 10 ** 6), 4)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    _, net, x = random_files(d, (9, 1), 5, 3, conv=True)
    return net, x


def test_empty_out_is_refused_and_dev_null_is_written(files, tmp_path, capsys):
    net, x = files
    for argv in (["simulate", net, "--input", x, "--out", ""],
                 ["simulate", net, "--input", x, "--out", " "]):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--out is empty" in err[0], err
    assert cli.main(["simulate", net, "--input", x, "--out", os.devnull]) == 0
    assert "wrote /dev/null" in capsys.readouterr().out
    assert os.path.exists(os.devnull) and not os.path.isfile(os.devnull)


@pytest.mark.parametrize("option,value", [("--timesteps", str(10 ** 12)),
                                          ("--input-levels", str(10 ** 11)),
                                          ("--levels", "0"), ("--timesteps", "x"),
                                          ("--timesteps", "9" * 5000)])
def test_nir_import_numbers_are_bounded(option, value, tmp_path, capsys):
    out = tmp_path / "o.h5"
    rc = cli.main(["nir", "import", str(tmp_path / "g.nir"), "-o", str(out), option, value])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err and option in err[-1] and len(err[-1]) < 300, err
    assert not out.exists()


def test_train_module_keeps_its_own_error_prefix(capsys):
    assert train_command.main(["--set", "optim.gamma=.nan", "--print-config"]) == 2
    assert "optim.gamma" in capsys.readouterr().err


def test_subprocess_non_utf8_set_value(tmp_path):
    """A ``--set`` value holding bytes that are not UTF-8 (the shell passes them through)."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-m", "lava_mlsnn.cli", "train", "--set",
                           b"optim.optimizer=\xff\xfe".decode("utf-8", "surrogateescape"),
                           "--print-config"], capture_output=True, cwd=tmp_path, env=env,
                          timeout=120)
    err = proc.stderr.decode(errors="replace").strip().splitlines()
    assert proc.returncode == 2 and len(err) == 1 and "optim.optimizer" in err[0], err


class _Foreign:
    def __reduce__(self):
        return (print, ("never run",))


def test_export_refuses_a_foreign_best_checkpoint_without_falling_back(tmp_path, capsys):
    import torch
    from lava_mlsnn.train import config as C
    from lava_mlsnn.train.checkpoint import previous_path, save_checkpoint
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    C.dump(C.resolve(), str(run / "config.yaml"))
    best = str(run / "checkpoints" / "best.pt")
    save_checkpoint({"format": "x", "epoch": 1, "model": {}}, previous_path(best),
                    keep_previous=False)  # a usable fallback: it must not be taken
    torch.save({"format": "x", "model": {}, "payload": _Foreign()}, best)
    rc = cli.main(["export", str(run), "--out", str(tmp_path / "net.h5")])
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "best.pt" in err[0] and "weights-only" in err[0], err
    assert "never run" not in captured.out and not (tmp_path / "net.h5").exists()


def test_nir_import_never_writes_a_file_that_does_not_validate(tmp_path, capsys):
    """Weights of 1e30 fold to a threshold mantissa of 0, which the format forbids: the
    import is refused in one line naming the problem, and no file is written."""
    nir = pytest.importorskip("nir")
    import numpy as np
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([3])}),
               "fc": nir.Affine(weight=np.full((2, 3), 1e30, dtype=np.float32),
                                bias=np.zeros(2, dtype=np.float32)),
               "lif": nir.LIF(tau=np.full(2, 1e-3), r=np.ones(2), v_leak=np.zeros(2),
                              v_threshold=np.ones(2), v_reset=np.zeros(2)),
               "output": nir.Output(output_type={"output": np.array([2])})},
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")], type_check=False)
    src, out = tmp_path / "g.nir", tmp_path / "net.h5"
    nir.write(str(src), graph)
    rc = cli.main(["nir", "import", str(src), "-o", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "does not validate" in err[0] and "vThMant" in err[0]
    assert sorted(os.listdir(tmp_path)) == ["g.nir"]
