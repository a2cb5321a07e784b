"""The ``lava-mlsnn`` command, run as a real process (DESIGN §7 contract).

Each CLI start imports torch (~3 s), so one fixture runs every case up front: two
as separate processes (the console script and ``python -m lava_mlsnn.cli``), the
rest in forked children of one interpreter (see ``DRIVER``); the tests check them.
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from typing import Dict

import h5py
import numpy as np
import pytest

from lava_mlsnn.fixed import NeuronParams, SynapseSpec
from lava_mlsnn.metrics.memory import memory_footprint
from lava_mlsnn.netx import emulate, read_network, write_network
from lava_mlsnn.format.random_net import random_input, random_network
from lava_mlsnn.backends.loihi2.report import (deployment_warnings, resource_estimate,
                                               synapse_count, weight_rescale)
from lava_mlsnn.format.spec import Branch, LayerSpec, NetworkSpec

CLI = [sys.executable, "-m", "lava_mlsnn.cli"]
SCRIPT = os.path.join(os.path.dirname(sys.executable), "lava-mlsnn")
BATCH, STEPS = 5, 3


def _env() -> Dict[str, str]:
    env = dict(os.environ)
    env.pop("LAVA_MLSNN_DEBUG", None)
    return env


def _set(group: h5py.Group, key: str, value) -> None:
    del group[key]
    group[key] = value


def _edited(src: str, dst: str, edit) -> str:
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        edit(f)
    return dst


def _make_files(d: str) -> Dict[str, str]:
    """A valid network and input, and one broken variant per error case."""
    spec = random_network(np.random.default_rng(7), conv=True)
    p = {"net": os.path.join(d, "net.h5"), "x": os.path.join(d, "x.npy")}
    write_network(spec, p["net"])
    x = random_input(np.random.default_rng(8), spec, BATCH, STEPS)
    np.save(p["x"], x)
    p["text"] = os.path.join(d, "text.h5")
    with open(p["text"], "w") as f:
        f.write("this is not an HDF5 file\n")
    p["trunc"] = os.path.join(d, "trunc.h5")
    data = open(p["net"], "rb").read()
    with open(p["trunc"], "wb") as f:
        f.write(data[: len(data) // 2])
    j = os.path.join
    p["layer_type"] = _edited(p["net"], j(d, "lt.h5"), lambda f: _set(
        f["layer/1"], "type", np.array([b"bogus"], dtype="S10")))
    p["neuron_type"] = _edited(p["net"], j(d, "nt.h5"),
                               lambda f: _set(f["layer/1/neuron"], "type", "LIF9"))
    p["levels0"] = _edited(p["net"], j(d, "lev.h5"),
                           lambda f: _set(f["layer/1/neuron"], "levels", 0))
    p["vth0"] = _edited(p["net"], j(d, "vth.h5"),
                        lambda f: _set(f["layer/3/neuron"], "vThMant", 0))

    def two(f):
        _set(f["layer/1/neuron"], "levels", 0)
        _set(f["layer/3/neuron"], "vThMant", 0)
    p["two"] = _edited(p["net"], j(d, "two.h5"), two)

    def w300(f):
        w = f["layer/5/weight"][()]
        w[0, 0] = 300
        _set(f["layer/5"], "weight", w)
    p["w300"] = _edited(p["net"], j(d, "w300.h5"), w300)
    p["x_shape"] = j(d, "x_shape.npy")
    np.save(p["x_shape"], x[..., :-1])
    p["x_float"] = j(d, "x_float.npy")
    np.save(p["x_float"], x.astype(np.float32) + 0.5)
    p["x_corrupt"] = j(d, "x_corrupt.npy")
    with open(p["x_corrupt"], "wb") as f:
        f.write(open(p["x"], "rb").read()[:100])
    p["x_missing"] = j(d, "no_such_input.npy")
    return p


# name -> (argv, expected exit status, phrase expected in the one stderr line)
def _cases(p: Dict[str, str], d: str) -> Dict[str, tuple]:
    def sim(net, x="x"):
        tag = os.path.splitext(os.path.basename(p.get(net, net)))[0]
        return ["simulate", p.get(net, net), "--input", p.get(x, x), "--out",
                os.path.join(d, f"out_{tag}_{x}.npz")]
    bad_nets = {"missing": (os.path.join(d, "nope.h5"), "no such file"),
                "text": (p["text"], "not a readable HDF5"),
                "trunc": (p["trunc"], "truncated"),
                "layer_type": (p["layer_type"], "unknown layer type 'bogus'"),
                "neuron_type": (p["neuron_type"], "unknown neuron type 'LIF9'"),
                "levels0": (p["levels0"], "levels: must lie in [1, 8388607], got 0"),
                "vth0": (p["vth0"], "vThMant: must lie in [1, 8388607], got 0")}
    cases = {}
    for name, (path, phrase) in bad_nets.items():
        cases[f"validate_{name}"] = (["validate", path], 2, phrase)
        cases[f"simulate_{name}"] = (sim(path), 2, phrase)
    cases.update({
        "simulate_x_shape": (sim("net", "x_shape"), 2, "does not match [B, T, "),
        "simulate_x_float": (sim("net", "x_float"), 2, "must hold integers"),
        "simulate_x_missing": (sim("net", "x_missing"), 2, "no_such_input.npy: no such file"),
        "simulate_x_corrupt": (sim("net", "x_corrupt"), 2, "not a readable .npy"),
        "validate_two": (["validate", p["two"]], 2, None),
        "validate_ok": (["validate", p["net"]], 0, None),
        "inspect_ok": (["inspect", p["net"]], 0, None),
        "simulate_ok": (sim("net") + ["--batch-size", "2"], 0, None),
        "validate_w300": (["validate", p["w300"]], 0, None),
        "simulate_w300": (sim("w300"), 0, None),
        "usage": (["simulate", p["net"]], 2, None),
    })
    return cases


# Runs the CLI's main() in forked children of one interpreter: each child gets the
# real process treatment (its own fds 1 and 2, exit status, uncaught exceptions
# printed as the interpreter would) without paying torch's import (~3 s) again.
DRIVER = r"""
import json, os, sys, traceback
from lava_mlsnn.cli import main
cases, outdir = json.load(open(sys.argv[1])), sys.argv[2]
status = {}
for name, argv in cases.items():
    pid = os.fork()
    if pid == 0:
        for fd, ext in ((1, ".out"), (2, ".err")):
            os.dup2(os.open(os.path.join(outdir, name + ext),
                            os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
        sys.argv = ["lava-mlsnn"] + argv
        try:
            rc = main(argv)
        except SystemExit as ex:
            rc = ex.code if isinstance(ex.code, int) else 1
        except BaseException:
            traceback.print_exc()
            rc = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc)
    status[name] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
json.dump(status, open(os.path.join(outdir, "status.json"), "w"))
"""
# Cases run as separate processes: the console script and ``python -m`` entry points.
REAL = {"validate_ok": [SCRIPT] if os.path.exists(SCRIPT) else CLI, "simulate_x_missing": CLI}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run every CLI case; return files, cases and ``{name: (rc, stdout, stderr)}``."""
    d = str(tmp_path_factory.mktemp("cli"))
    p = _make_files(d)
    cases = _cases(p, d)
    real = {name: subprocess.Popen(REAL[name] + cases[name][0], cwd=d, env=_env(),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for name in REAL}
    forked = {n: c[0] for n, c in cases.items() if n not in REAL}
    logs = os.path.join(d, "logs")
    os.makedirs(logs)
    with open(os.path.join(logs, "cases.json"), "w") as f:
        json.dump(forked, f)
    if hasattr(os, "fork"):
        subprocess.run([sys.executable, "-c", DRIVER, os.path.join(logs, "cases.json"), logs],
                       cwd=d, env=_env(), check=True, timeout=300)
        with open(os.path.join(logs, "status.json")) as f:
            status = json.load(f)
        done = {n: (status[n], open(os.path.join(logs, n + ".out")).read(),
                    open(os.path.join(logs, n + ".err")).read()) for n in forked}
    else:  # no fork: one process per case (slower)
        done = {}
        for n, argv in forked.items():
            r = subprocess.run(CLI + argv, cwd=d, env=_env(), capture_output=True, text=True)
            done[n] = (r.returncode, r.stdout, r.stderr)
    for name, proc in real.items():
        out, err = proc.communicate(timeout=120)
        done[name] = (proc.returncode, out, err)
    return {"dir": d, "paths": p, "cases": cases, "done": done}


BAD = [f"{cmd}_{n}" for n in ("missing", "text", "trunc", "layer_type", "neuron_type",
                              "levels0", "vth0") for cmd in ("validate", "simulate")] + \
      [f"simulate_{n}" for n in ("x_shape", "x_float", "x_missing", "x_corrupt")]


@pytest.mark.parametrize("name", BAD)
def test_bad_input_exits_2_with_one_line(runs, name):
    argv, code, phrase = runs["cases"][name]
    rc, out, err = runs["done"][name]
    lines = err.splitlines()
    assert rc == code, (rc, err)
    assert len(lines) == 1, err
    assert lines[0].startswith("lava-mlsnn: error: ") and phrase in lines[0], lines[0]
    assert "Traceback" not in err + out
    if "--out" in argv:
        assert not os.path.exists(argv[argv.index("--out") + 1])
    assert not glob.glob(os.path.join(runs["dir"], ".lava-mlsnn-*"))  # no temp file left


def test_validate_lists_every_problem(runs):
    rc, out, err = runs["done"]["validate_two"]
    lines = err.splitlines()
    assert rc == 2 and len(lines) == 2, err
    assert "layer/1/neuron/levels: must lie in [1, 8388607], got 0" in lines[0]
    assert "layer/3/neuron/vThMant: must lie in [1, 8388607], got 0" in lines[1]
    assert "Traceback" not in err


def test_usage_error_is_exit_2(runs):
    rc, _, err = runs["done"]["usage"]
    assert rc == 2 and "--input" in err and "Traceback" not in err


def test_validate_summary(runs):
    rc, out, err = runs["done"]["validate_ok"]
    assert rc == 0, err
    spec = read_network(runs["paths"]["net"])
    assert "valid lava-mlsnn network" in out
    types = ", ".join(layer.type for layer in spec.layers)
    assert f"layers     {len(spec.layers)}: {types}" in out
    neurons = sum(layer.size for layer in spec.layers[1:] if layer.type != "flatten")
    assert f"neurons    {neurons:,}" in out
    assert f"input      {'x'.join(map(str, spec.input_shape))}, payload 0..3" in out
    assert "timesteps  2" in out and "deployment warnings" in out


def test_inspect_tables(runs):
    rc, out, err = runs["done"]["inspect_ok"]
    assert rc == 0, err
    spec = read_network(runs["paths"]["net"])
    table = out.split("\nlayers\n")[1].split("\n\n")[0].splitlines()[2:]
    rows = [line.split() for line in table if line and line[0].isdigit()]
    assert [int(r[0]) for r in rows] == list(range(len(spec.layers)))
    for r, layer in zip(rows, spec.layers):
        assert r[1] == layer.type and r[3] == "x".join(map(str, layer.shape))
        assert r[-3] == f"{layer.size:,}"
    res = resource_estimate(spec)
    assert f"total: {res['neurons']:,} neurons, {res['synapses']:,} synapses" in out
    assert "Loihi 2 neuron support" in out and "memory footprint" in out
    assert "FP32" in out and "assumption:" in out


def test_simulate_emulator_equals_emulate(runs):
    argv, _, _ = runs["cases"]["simulate_ok"]
    rc, out, err = runs["done"]["simulate_ok"]
    assert rc == 0, err
    spec = read_network(runs["paths"]["net"])
    ref = emulate(spec, np.load(runs["paths"]["x"]))
    with np.load(argv[argv.index("--out") + 1]) as z:
        assert sorted(z.files) == sorted([f"layer_{i}" for i in ref] + ["output"])
        for i, v in ref.items():
            assert z[f"layer_{i}"].dtype.kind == "i"
            np.testing.assert_array_equal(z[f"layer_{i}"], v.numpy())
        np.testing.assert_array_equal(z["output"], ref[len(spec.layers) - 1].numpy())
    assert f"simulated {BATCH} samples x {STEPS} steps with the emulator" in out
    pred = np.bincount(ref[len(spec.layers) - 1][:, -1].argmax(-1).numpy(),
                       minlength=spec.layers[-1].shape[0])
    assert "predicted classes" in out
    hist = [line.split() for line in out.split("predicted classes")[1].splitlines()[3:]]
    assert [int(h[-1]) for h in hist if h and h[0].isdigit()] == pred.tolist()


def test_weight_300_warns_but_simulates(runs):
    rc, out, err = runs["done"]["validate_w300"]
    assert rc == 0, err
    assert "layer 5 (dense): 1 of" in out and "outside Loihi 2's [-256, 254]" in out
    assert "max 300" in out
    rc, out, err = runs["done"]["simulate_w300"]
    argv = runs["cases"]["simulate_w300"][0]
    assert rc == 0, err
    spec = read_network(runs["paths"]["w300"])
    with np.load(argv[argv.index("--out") + 1]) as z:
        np.testing.assert_array_equal(
            z["output"], emulate(spec, np.load(runs["paths"]["x"]))[len(spec.layers) - 1])


@pytest.mark.lava
def test_simulate_lava_equals_emulator(tmp_path):
    import lava_mlsnn.backends.lava_runner  # noqa: F401  (a hard dependency: fail, never skip)
    spec = random_network(np.random.default_rng(3), conv=False)
    net, xp, outp = tmp_path / "tiny.h5", tmp_path / "x.npy", tmp_path / "out.npz"
    write_network(spec, str(net))
    x = random_input(np.random.default_rng(4), spec, 3, 2)
    np.save(xp, x)
    res = subprocess.run(CLI + ["simulate", str(net), "--input", str(xp), "--backend", "lava",
                                "--out", str(outp)], env=_env(), capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    ref = emulate(read_network(str(net)), x)
    with np.load(outp) as z:
        for i, v in ref.items():
            np.testing.assert_array_equal(z[f"layer_{i}"], v.numpy())


# --------------------------------------------------------------------------- report, in-process
def _tiny(weight: np.ndarray, **layer_kw) -> NetworkSpec:
    inp = LayerSpec("input", (weight.shape[1],), -1, neuron=NeuronParams("INPUT", input_levels=3))
    dense = LayerSpec("dense", (weight.shape[0],), 0, [Branch(0, SynapseSpec("dense", weight))],
                      NeuronParams("MLSN", 40, 3, 4096, 0), **layer_kw)
    return NetworkSpec([inp, dense], (weight.shape[1],), 3, 1)


def test_weight_rescale_and_grid_warnings():
    assert weight_rescale(np.array([254, -256, 2])) == 0
    assert weight_rescale(np.array([300, -12])) == -1    # 150, -6: even, in range
    assert weight_rescale(np.array([3, -5])) == 1        # 6, -10 with weightExp - 1
    assert weight_rescale(np.array([255, 3])) == 0       # single sign: 0..255
    assert weight_rescale(np.array([253, -1])) is None   # needs 9 bits
    assert deployment_warnings(_tiny(np.array([[2, -2], [2, 2]]), weight_bits=1,
                                     weight_scale=2)) == []
    warns = deployment_warnings(_tiny(np.array([[4, -2], [0, 2]]), weight_bits=1,
                                      weight_scale=2))
    assert len(warns) == 1 and "2 of 4 weights are not q * weightScale (2)" in warns[0]
    warns = deployment_warnings(_tiny(np.array([[253, -1]])))
    assert len(warns) == 1 and "not an 8-bit mantissa" in warns[0]


def test_neuron_and_bias_warnings():
    spec = _tiny(np.array([[2, 2]]))
    spec.layers[1].neuron = replace(spec.layers[1].neuron, v_th_mant=1 << 17, v_decay=4096,
                                    bias=np.array([5000]))
    text = "\n".join(deployment_warnings(spec))
    assert "vThMant 131072 exceeds 17 bits" in text
    assert "vDecay 4096 exceeds 12 bits" in text
    assert "bias in [5000, 5000] exceeds the 13-bit" in text


def test_synapse_count_and_memory():
    conv = SynapseSpec("conv", np.ones((4, 2, 3, 3), dtype=np.int64), padding=(1, 1))
    # 5x5 output, padding 1: taps per pixel 9 inside, 6 on edges, 4 in corners.
    assert synapse_count(conv, (2, 5, 5)) == 4 * 2 * (9 * 9 + 12 * 6 + 4 * 4)
    spec = _tiny(np.ones((3, 4), dtype=np.int64), weight_bits=2, weight_scale=1)
    mem = memory_footprint(spec)
    row = mem["layers"][1]
    assert (row["weight_bytes"], row["scale_bytes"], row["state"], row["state_bytes"]) == \
        (3, 4, ["v"], 9)                              # 12 x 2 bits, one int32 scale, 3 x 24 bits
    assert mem["fp32_total_bytes"] == 4 * (12 + 3)    # weights + v, 4 bytes each
    assert mem["total_bytes"] == 3 + 4 + 9
