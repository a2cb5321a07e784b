"""Deployment rules agree with the chip: every shipped file a lava-dl notebook ran on Loihi 2
passes the real ``inspect`` command without a deployment warning; each rule names its source."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from lava_mlsnn.backends.loihi2.report import SOURCES, deployment_checks, deployment_notes
from lava_mlsnn.cli import main
from lava_mlsnn.format import read_network

NETS = Path(os.environ.get("LAVA_MLSNN_NETS",
                           Path(__file__).resolve().parents[1].parent / "shared" / "lava-dl-nets"))

#: Files here that lava-dl's notebooks (snapshot d825ac5) ran on Loihi 2 hardware, with the
#: notebook that shows it (its output names the Loihi partition and the compiler's table).
RAN_ON_LOIHI2 = {
    "tut_netx_pilotnet_sdnn_network.net": "netx/pilotnet_sdnn/benchmark.ipynb",
    "test_netx_gts_pilotnet_lif_network.net": "netx/pilotnet_snn/benchmark.ipynb",
    "tut_netx_mnist_trained_mnist_network.net": "netx/mnist/run.ipynb",
    "tut_netx_oxford_Trained_network.net": "netx/oxford/run.ipynb",
}


@pytest.mark.parametrize("name", sorted(RAN_ON_LOIHI2))
def test_files_that_ran_on_loihi2_get_no_deployment_warning(name, capsys):
    path = NETS / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "deployment warnings: none" in out
    # The layers are checked, not skipped: every file carries weights the rules read.
    spec = read_network(path)
    assert any(np.count_nonzero(b.synapse.weight) for layer in spec.layers
               for b in layer.branches)


def test_pilotnet_sdnn_notes_say_they_are_stock_netx_timing(capsys):
    path = NETS / "tut_netx_pilotnet_sdnn_network.net"
    if not path.exists():
        pytest.skip(f"{path} not present")
    notes = deployment_notes(read_network(path))
    assert len(notes) == 8 and all("stock netx cannot reset" in n for n in notes)
    assert main(["inspect", str(path)]) == 0
    assert "notes, not Loihi 2 limits (8):" in capsys.readouterr().out


def test_every_warning_names_its_rule_source(tmp_path, capsys):
    from lava_mlsnn.fixed import NeuronParams, SynapseSpec
    from lava_mlsnn.format.spec import Branch, LayerSpec, NetworkSpec
    from lava_mlsnn.netx import write_network

    w = np.array([[253, -1], [300, 0]], dtype=np.int64)      # odd and out of range
    inp = LayerSpec("input", (2,), -1, neuron=NeuronParams("INPUT", input_levels=3))
    params = NeuronParams("CUBA", 1 << 17, 1, 4096, 0, bias=np.array([5000, 0]), bias_exp=9)
    dense = LayerSpec("dense", (2,), 0, [Branch(0, SynapseSpec("dense", w))], params)
    path = str(tmp_path / "bad.h5")
    write_network(NetworkSpec([inp, dense], (2,), 3, 1), path)
    checks = deployment_checks(read_network(path))
    assert {s for _, s in checks} >= {SOURCES["weights"], SOURCES["vth"], SOURCES["bias"],
                                      SOURCES["bias_exp"]}
    assert main(["inspect", path]) == 0
    out = capsys.readouterr().out.split("deployment warnings (")[1].split("\n\n")[0]
    lines = out.splitlines()[1:]
    warn = [k for k, line in enumerate(lines) if line.startswith("  - ")]
    assert len(warn) == len(checks) >= 4
    assert all(lines[k + 1].startswith("    (rule: ") for k in warn)
    assert main(["inspect", path, "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["deployment_warnings"]
    assert got == [{"warning": m, "rule": s} for m, s in checks]
