"""``lava-mlsnn simulate`` for scripts, through the real command: per-sample predictions in a
CSV file, ``--labels`` to score one's own arrays, and a warning counting the input values an
``input`` layer clips."""
import csv
import subprocess
import sys

import numpy as np
import pytest

from lava_mlsnn.backends.emulator import emulate
from lava_mlsnn.cli import main
from lava_mlsnn.format import read_network, write_network
from lava_mlsnn.format.random_net import random_network
from trainkit import ROOT, subprocess_env

CLI = [sys.executable, "-m", "lava_mlsnn.cli"]


def _cli(args, cwd):
    env = dict(subprocess_env(), PYTHONPATH=ROOT)
    return subprocess.run(CLI + args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("simulate")
    spec = random_network(np.random.default_rng(0), conv=False)
    assert spec.layers[0].neuron.type == "INPUT" and spec.layers[-1].neuron.type == "READOUT"
    write_network(spec, str(d / "net.h5"))
    levels = spec.layers[0].neuron.input_levels
    x = np.random.default_rng(1).integers(-2, levels + 3, size=(7, 4, *spec.input_shape))
    y = np.array([0, 1, 1, 0, 1, 0, 0])
    np.save(d / "x.npy", x)
    np.save(d / "y.npy", y)
    np.save(d / "y_short.npy", y[:5])
    np.save(d / "y_big.npy", np.array([0, 1, 2, 0, 1, 0, 0]))
    return d, x, y, levels


def test_predictions_file_labels_and_clip_warning(files):
    d, x, y, levels = files
    r = _cli(["simulate", "net.h5", "--input", "x.npy", "--predictions", "pred.csv",
              "--labels", "y.npy"], d)
    assert r.returncode == 0, r.stderr
    # independent of the command: the emulator's READOUT v at the last step, numpy argmax
    v_last = emulate(read_network(str(d / "net.h5")), x)[3].numpy()[:, -1]
    assert np.any(v_last != 0)  # the output layer is active
    pred = np.argmax(v_last, axis=1)
    with open(d / "pred.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["sample", "predicted", "label", "correct", "score_0", "score_1"]
    assert [int(r_["sample"]) for r_ in rows] == list(range(7))
    assert [int(r_["predicted"]) for r_ in rows] == pred.tolist()
    assert [int(r_["label"]) for r_ in rows] == y.tolist()
    assert [int(r_["correct"]) for r_ in rows] == (pred == y).astype(int).tolist()
    assert [[int(r_["score_0"]), int(r_["score_1"])] for r_ in rows] == v_last.tolist()
    right = int((pred == y).sum())
    assert f"accuracy {100 * right / 7:.2f} % ({right} of 7 samples, labels y.npy)" in r.stdout
    low, high = int((x < 0).sum()), int((x > levels).sum())
    assert low and high
    assert (f"warning: {low + high} of {x.size} input values were clipped to the input layer's "
            f"range [0, {levels}] ({low} negative, {high} above {levels})") in r.stderr


def test_no_warning_for_inputs_in_range(files):
    d, x, _, levels = files
    np.save(d / "x_ok.npy", np.clip(x, 0, levels))
    r = _cli(["simulate", "net.h5", "--input", "x_ok.npy", "--predictions", "ok.csv"], d)
    assert r.returncode == 0, r.stderr
    assert "clipped" not in r.stderr and "warning" not in r.stderr
    with open(d / "ok.csv", newline="") as f:
        assert next(csv.reader(f)) == ["sample", "predicted", "score_0", "score_1"]


@pytest.mark.parametrize("labels, needle", [
    ("y_short.npy", "labels (5,) do not match the input's 7 samples"),
    ("y_big.npy", "labels [0, 2] leave the output layer's classes [0, 1]"),
    ("x.npy", "labels (7, 4, 26) do not match"),
    ("missing.npy", "missing.npy"),
])
def test_bad_labels_exit_2_in_one_line_and_write_nothing(files, labels, needle, capsys):
    d = files[0]
    rc = main(["simulate", str(d / "net.h5"), "--input", str(d / "x.npy"), "--predictions",
               str(d / f"bad_{labels}.csv"), "--labels", str(d / labels)])
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], err
    assert not (d / f"bad_{labels}.csv").exists()


def test_predictions_of_a_network_without_a_class_output_are_refused(tmp_path, capsys):
    from dataclasses import replace
    spec = random_network(np.random.default_rng(2), conv=True)
    spec = replace(spec, layers=spec.layers[:2])  # input -> conv: a [C, H, W] output
    write_network(spec, str(tmp_path / "conv.h5"))
    np.save(tmp_path / "x.npy", np.ones((2, 2, *spec.input_shape), np.int64))
    rc = main(["simulate", str(tmp_path / "conv.h5"), "--input", str(tmp_path / "x.npy"),
               "--predictions", str(tmp_path / "p.csv")])
    out, err = capsys.readouterr()
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "--predictions needs a network whose output layer is 1-D" in err
    assert not (tmp_path / "p.csv").exists()
