"""The Loihi 2 path without hardware: the refusal contract and the plug-in interface.

No lava-loihi here, so three things are checked: the command refuses in one line
(exit 2, no traceback, no output file); the registry becomes a ``Loihi2HwCfg``
whose ``exception_proc_model_map`` forces the registered models; and the
Loihi 2 graph itself (host clipping, adapters, sinks, reset offsets, adapter
latency) runs under ``Loihi2HwCfg`` with CPU stand-in models and gives the
emulator's integers, through the library and through the command.
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from lava_mlsnn import cli
from lava_mlsnn.backends import loihi2
from lava_mlsnn.backends.loihi2 import detect
from lava_mlsnn.netx import emulate, write_network
from lava_mlsnn.format.random_net import random_input, random_network
from netfactory import random_files

needs_no_lava_loihi = pytest.mark.skipif(loihi2.lava_loihi_available(),
                                         reason="lava-loihi is installed here")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("loihi2")
    spec, net, x = random_files(d, (4, 5), 3, 2, levels=3, conv=True, timesteps=2)
    return {"spec": spec, "net": net, "x": x, "dir": d}


@pytest.fixture
def plugged(monkeypatch):
    """lava-loihi 'present' and the global registry filled with CPU stand-in models."""
    standin = loihi2.cpu_standin_registry()
    monkeypatch.setattr(detect, "lava_loihi_available", lambda: True)
    monkeypatch.setattr(loihi2.REGISTRY, "_models", dict(standin.registered))
    monkeypatch.setattr(loihi2.REGISTRY, "io", standin.io)
    monkeypatch.delenv(loihi2.PLUGIN_ENV, raising=False)
    return loihi2.REGISTRY


# --------------------------------------------------------------------------- refusal
@needs_no_lava_loihi
def test_open_source_lava_lacks_the_neurocore_modules():
    import importlib.util
    assert importlib.util.find_spec("lava.magma.core.run_configs") is not None
    assert not any(detect._has_module(m) for m in loihi2.LAVA_LOIHI_MODULES)
    spec = random_network(np.random.default_rng(0), conv=False)
    with pytest.raises(loihi2.Loihi2Unavailable, match="lava-loihi"):
        loihi2.run_loihi2(spec, random_input(np.random.default_rng(0), spec, 1, 2))


@needs_no_lava_loihi
def test_simulate_loihi2_without_lava_loihi_exits_2_in_one_line(files):
    out = files["dir"] / "out.npz"
    env = {k: v for k, v in os.environ.items() if k != "LAVA_MLSNN_DEBUG"}
    proc = subprocess.run([sys.executable, "-m", "lava_mlsnn.cli", "simulate", files["net"],
                           "--input", files["x"], "--backend", "loihi2", "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "lava-loihi" in lines[0] and "INRC" in lines[0] and "--backend lava" in lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not out.exists() and not list(files["dir"].glob(".lava-mlsnn-*"))


@needs_no_lava_loihi
def test_evaluate_loihi2_refuses_before_loading_data(files, capsys):
    assert cli.main(["evaluate", files["net"], "--dataset", "digits", "--backend", "loihi2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lava-loihi" in err[0]


def test_missing_models_are_named_in_one_line(files, monkeypatch, capsys):
    monkeypatch.setattr(detect, "lava_loihi_available", lambda: True)
    monkeypatch.setattr(loihi2.REGISTRY, "_models", {})
    monkeypatch.delenv(loihi2.PLUGIN_ENV, raising=False)
    out = files["dir"] / "missing.npz"
    rc = cli.main(["simulate", files["net"], "--input", files["x"], "--backend", "loihi2",
                   "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and not out.exists()
    assert "MultiLevelNeuron (layers 1, 2, 3, 5)" in err[0] and "Readout (layer 6)" in err[0]
    assert "Synapse" in err[0] and "register_model" in err[0]


# --------------------------------------------------------------------------- interface
class FakeNcMultiLevel:
    """Stands for an INRC member's NcProcessModel (never instantiated here)."""


class FakeNcSynapse:
    pass


def test_run_config_maps_our_processes_to_the_registered_models(files):
    from lava.magma.core.run_configs import Loihi2HwCfg

    from lava_mlsnn.proc import MultiLevelNeuron, StreamSource, Synapse
    from lava_mlsnn.proc.stream.models import PyStreamSourceModelFixed

    spec = files["spec"]
    reg = loihi2.ModelRegistry({"MultiLevelNeuron": FakeNcMultiLevel, Synapse: FakeNcSynapse})
    assert reg.missing(spec) == {"Readout": [6]}
    with pytest.raises(loihi2.Loihi2Unavailable, match=r"Readout \(layer 6\)"):
        loihi2.hw_run_config(spec, reg)
    reg.register("Readout", FakeNcSynapse)
    cfg = loihi2.hw_run_config(spec, reg, select_tag="fixed_pt")
    assert isinstance(cfg, Loihi2HwCfg) and cfg.select_tag == "fixed_pt"
    emap = cfg.exception_proc_model_map
    assert emap[MultiLevelNeuron] is FakeNcMultiLevel and emap[Synapse] is FakeNcSynapse
    assert emap[StreamSource] is PyStreamSourceModelFixed  # the host side stays on the CPU
    from lava_mlsnn.proc.multilevel.models import PyMultiLevelNeuronModelFixed
    neuron = MultiLevelNeuron(shape=(2,), vth_mant=3)
    # Lava's override: chosen over the CPU model the compiler would otherwise find.
    assert cfg.select(neuron, [PyMultiLevelNeuronModelFixed]) is FakeNcMultiLevel
    with pytest.raises(ValueError, match="not a lava-mlsnn chip Process"):
        reg.register("LIF", FakeNcSynapse)
    assert loihi2.required_processes(spec) == {"MultiLevelNeuron": [1, 2, 3, 5],
                                               "Synapse": [1, 2, 3, 5, 6], "Readout": [6]}


def test_plugins_from_the_environment(tmp_path, monkeypatch):
    (tmp_path / "my_nc_models.py").write_text(
        "class NcMultiLevel:\n    pass\n\n"
        "def register_models(registry):\n"
        "    registry.register('MultiLevelNeuron', NcMultiLevel)\n")
    (tmp_path / "broken_models.py").write_text("raise ImportError('no nxcore here')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = loihi2.ModelRegistry()
    monkeypatch.setenv(loihi2.PLUGIN_ENV, "my_nc_models")
    assert loihi2.load_plugins(reg) == ["my_nc_models"]
    assert reg.model("MultiLevelNeuron").__name__ == "NcMultiLevel"
    assert loihi2.load_plugins(reg) == []  # once per registry
    monkeypatch.setenv(loihi2.PLUGIN_ENV, "broken_models")
    with pytest.raises(loihi2.Loihi2Unavailable, match="broken_models failed: ImportError"):
        loihi2.load_plugins(reg)


# --------------------------------------------------------------------------- the graph
def _same(got, ref) -> bool:
    return set(got) == set(ref) and all(np.array_equal(got[i], ref[i].numpy()) for i in ref)


@pytest.mark.lava
def test_dry_run_of_the_loihi2_graph_matches_the_emulator():
    rng = np.random.default_rng(9)
    spec = random_network(rng, levels=3, conv=True, timesteps=3)
    x = random_input(rng, spec, 5, 3)
    ref = emulate(spec, x)
    assert _same(loihi2.run_loihi2(spec, x, dry_run=True), ref)

    # Adapters with one step of latency each (a unit identity Synapse): resets and
    # read-outs shift with them; several runs of one build keep the phase.
    from lava_mlsnn.fixed import SynapseSpec
    from lava_mlsnn.proc import Synapse

    def delayed(shape, bits):
        s = Synapse.from_spec(SynapseSpec("identity", np.array(1)), shape, shape)
        return s, s.s_in, s.a_out

    reg = loihi2.cpu_standin_registry()
    reg.io = loihi2.Loihi2IO(delayed, delayed, in_latency=1, out_latency=1)
    last = len(spec.layers) - 1
    with loihi2.Loihi2Network(spec, batch=2, record=[0, last], registry=reg,
                              dry_run=True) as net:
        parts = [net.run(x[:3]), net.run(x[3:])]
    for i in (0, last):
        assert np.array_equal(np.concatenate([p[i] for p in parts]), ref[i].numpy())


@pytest.mark.lava
def test_simulate_loihi2_runs_with_plugged_in_models(files, plugged, capsys):
    out = files["dir"] / "hw.npz"
    rc = cli.main(["simulate", files["net"], "--input", files["x"], "--backend", "loihi2",
                   "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    assert "with the loihi2 backend" in capsys.readouterr().out
    ref = emulate(files["spec"], np.load(files["x"]))
    with np.load(out) as z:
        assert all(np.array_equal(z[f"layer_{i}"], ref[i].numpy()) for i in ref)


@pytest.mark.lava
def test_evaluate_loihi2_runs_with_plugged_in_models(tmp_path, plugged, capsys):
    # A digits-shaped file (2 x 32 x 32 count frames, T = 1): evaluate frames the data
    # set per the file, runs it through the Loihi 2 graph and must equal the emulator.
    spec = random_network(np.random.default_rng(6), levels=3, conv=True,
                          input_shape=(2, 32, 32), input_levels=7, timesteps=1)
    net = str(tmp_path / "digits.h5")
    write_network(spec, net)
    args = ["evaluate", net, "--dataset", "digits", "--samples", "6"]
    assert cli.main(args + ["--backend", "emulator"]) == 0
    emulated = capsys.readouterr().out
    assert cli.main(args + ["--backend", "loihi2"]) == 0
    on_chip = capsys.readouterr().out
    assert "backend      loihi2" in on_chip

    def figures(text):  # accuracy and activity lines, without the backend and throughput
        return [ln for ln in text.splitlines() if ln.startswith(("accuracy", "activity"))]
    assert figures(on_chip) == figures(emulated) and figures(on_chip)
