"""Hostile network files: each is refused with exit 2 and one line naming the path in the file.

The cases are the corruptions that used to hang, allocate gigabytes, exit 1 or be
read silently; the fuzz test at the end runs ``benchmarks/fuzz_reader.py`` (random
structural corruption by hypothesis, byte-flip and truncation sweeps) in a
subprocess under a heap limit.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

from lava_mlsnn import cli
from lava_mlsnn.backends.emulator import check_input, emulate
from lava_mlsnn.format import read_network, write_network
from lava_mlsnn.format.random_net import random_input, random_network

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    spec = random_network(np.random.default_rng(3), conv=True)
    spec.classes = [f"c{i}" for i in range(spec.layers[-1].shape[0])]
    path = str(d / "net.h5")
    write_network(spec, path)
    return path


def _edit(base: str, tmp_path, edit) -> str:
    path = str(tmp_path / "edited.h5")
    shutil.copy(base, path)
    with h5py.File(path, "r+") as f:
        edit(f)
    return path


def _set(f, key, value):
    if key.startswith("@"):
        f.attrs[key[1:]] = value
        return
    if key in f:
        del f[key]
    f[key] = value


def _conv_layer(f) -> str:
    return next(k for k in f["layer"] if f[f"layer/{k}/type"][()][0] == b"conv")


def _pool_layer(f) -> str:
    return next(k for k in f["layer"] if f[f"layer/{k}/type"][()][0] == b"pool")


def _dense_layer(f) -> str:
    return next(k for k in f["layer"] if f[f"layer/{k}/type"][()][0] == b"dense")


CASES = {
    # name: (edit, phrase in the one line)
    "nan_attr": (lambda f: _set(f, "@timesteps", np.nan), "timesteps: values must be finite"),
    "inf_dataset": (lambda f: _set(f, "layer/1/neuron/vThMant", np.inf), "vThMant: values must"),
    "string_value": (lambda f: _set(f, "layer/1/neuron/levels", "three"), "expected integers"),
    "complex_value": (lambda f: _set(f, "layer/1/neuron/iDecay", 1 + 2j), "complex"),
    "list_value": (lambda f: _set(f, "layer/1/neuron/vDecay", [1, 2]), "expected one integer"),
    "stride0": (lambda f: _set(f, f"layer/{_conv_layer(f)}/stride", [0, 0]), "stride: must lie"),
    "weight_exp_huge": (lambda f: _set(f, "layer/1/weightExp", 1e9), "weightExp: must lie"),
    "weights_1e30": (lambda f: f[f"layer/{_dense_layer(f)}/weight"].__setitem__(
        (0, 0), 1e30), "weight: must lie"),
    "input_levels_missing": (lambda f: f.attrs.__delitem__("inputLevels"),
                             "inputLevels: required root attribute"),
    "input_levels_negative": (lambda f: _set(f, "@inputLevels", -3), "inputLevels: must lie"),
    "fractional_shape": (lambda f: _set(f, "layer/1/shape", np.array([4.5, 3, 3])),
                         "shape: values must be integers"),
    "groups0": (lambda f: _set(f, f"layer/{_conv_layer(f)}/groups", 0), "groups: must lie"),
    "in_features_contradict": (lambda f: _set(f, f"layer/{_dense_layer(f)}/inFeatures", 7777),
                               "inFeatures: 7777 contradicts"),
    "pool_padding": (lambda f: _set(f, f"layer/{_pool_layer(f)}/padding", [2, 2]),
                     "pool padding 2 exceeds half the kernel"),
    "external_link": (lambda f: f["layer/1"].__setitem__(
        "bias", h5py.ExternalLink("/etc/hostname", "/")), "external link"),
    "unknown_object": (lambda f: f["layer/1"].create_dataset("delayz", data=[1]),
                       "layer/1/delayz: unknown object"),
    "input_shape_huge": (lambda f: _set(f, "@inputShape", np.array([2, 40000, 40000])),
                         "inputShape: 2x40000x40000 = 3,200,000,000 neurons exceed"),
    "unwritten_weight": (lambda f: (f[f"layer/{_dense_layer(f)}"].__delitem__("weight"),
                                    f[f"layer/{_dense_layer(f)}"].create_dataset(
                                        "weight", shape=(100_000, 100_000), dtype="f4",
                                        chunks=(64, 64))),
                         "above the reader's limit"),
    "bad_utf8_class": (lambda f: _set(f, "@classes", np.array([b"\xff\xfe", b"b"])),
                       "classes: text is not valid UTF-8"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_file_exits_2_with_one_line(base, tmp_path, capsys, name):
    edit, phrase = CASES[name]
    path = _edit(base, tmp_path, edit)
    for command in ("validate", "simulate"):
        argv = [command, path] + (["--input", path] if command == "simulate" else [])
        rc = cli.main(argv)
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2, (command, err)
        assert err and all(line.startswith("lava-mlsnn: error: ") for line in err)
        assert phrase in "\n".join(err), err
        if command == "simulate":
            assert len(err) == 1, err


def test_unicode_class_names_are_read(base, tmp_path):
    names = ["zéro", "один", "二", "3", "4", "5", "6", "7", "8", "9"]
    path = _edit(base, tmp_path, lambda f: _set(f, "@classes", np.array(
        [n.encode() for n in names[:len(f.attrs["classes"])]])))
    spec = read_network(path)
    assert spec.classes == names[:len(spec.classes)] and len(spec.classes) >= 2


def test_fifo_network_file_is_refused_without_blocking(tmp_path, capsys):
    fifo = str(tmp_path / "net.h5")
    os.mkfifo(fifo)
    assert cli.main(["validate", fifo]) == 2
    assert "is a FIFO" in capsys.readouterr().err


def test_stock_input_shape_must_fit_the_data(base):
    spec = read_network(base)
    spec.input_shape = None  # as a stock conv file that does not say it
    good = random_input(np.random.default_rng(0), read_network(base), 2, 2)
    emulate(spec, good)
    with pytest.raises(ValueError, match="does not fit the network"):
        check_input(spec, good[:, :, :, 1:])


def test_inputs_out_of_range_are_treated_alike(base):
    """An input layer clips any integer (beyond int32 too); a synapse reading the
    network input directly refuses payloads outside 24 bits -- in every backend,
    because both call the one ``check_input``."""
    spec = read_network(base)
    x = random_input(np.random.default_rng(0), spec, 1, 2)
    x[0, 0, 0, 0, 0] = 1 << 40
    assert check_input(spec, x).max() == 1 << 40  # the input layer clips it later
    direct = read_network(base)
    direct.layers = direct.layers[1:]
    for layer in direct.layers:  # drop the input layer: sources shift down by one
        layer.source -= 1
        layer.branches = [type(b)(b.source - 1, b.synapse) for b in layer.branches]
    with pytest.raises(ValueError, match="24-bit payload range"):
        check_input(direct, x)


def test_fuzz_every_case_is_valid_or_one_clean_refusal():
    seconds = os.environ.get("LAVA_MLSNN_FUZZ_SECONDS", "2")
    sweep = "400" if "LAVA_MLSNN_FUZZ_SECONDS" in os.environ else "16"
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    res = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "fuzz_reader.py"),
                          "--seconds", seconds, "--sweep", sweep, "--json",
                          "--memory-mib", "512"],
                         capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode in (0, 1), res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["failures"] == [], out["failures"][:5]
    cats = out["categories"]
    for c in ("byteflip", "truncate"):
        assert sum(cats[c].values()) == int(sweep)
    assert cats["truncate"].get("refused") == int(sweep)  # a cut file never validates
    assert sum(sum(v.values()) for v in cats.values()) > 2 * int(sweep)
