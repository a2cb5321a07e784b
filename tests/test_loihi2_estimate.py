"""The one Loihi 2 estimate through the real ``inspect`` command: one weight-bits definition,
the JSON form, and frames/s and energy beside the published PilotNet measurements."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from lava_mlsnn.cli import main
from lava_mlsnn.fixed import NeuronParams, SynapseSpec
from lava_mlsnn.format.spec import Branch, LayerSpec, NetworkSpec
from lava_mlsnn.netx import write_network

NETS = Path(os.environ.get("LAVA_MLSNN_NETS",
                           Path(__file__).resolve().parents[1].parent / "shared" / "lava-dl-nets"))


def _tiny_file(tmp_path, weight: np.ndarray) -> str:
    inp = LayerSpec("input", (weight.shape[1],), -1, neuron=NeuronParams("INPUT", input_levels=3))
    dense = LayerSpec("dense", (weight.shape[0],), 0, [Branch(0, SynapseSpec("dense", weight))],
                      NeuronParams("MLSN", 40, 3, 4096, 0))
    path = str(tmp_path / "tiny.h5")
    write_network(NetworkSpec([inp, dense], (weight.shape[1],), 3, 2), path)
    return path


def _column(out: str, head: str, name: str, layer: str) -> str:
    """One cell of a text table of ``out`` (columns from its dash line)."""
    import re
    table = out.split(head)[1].split("\n\n")[0].splitlines()
    dash = next(k for k, line in enumerate(table) if line.startswith("-"))
    spans = [m.span() for m in re.finditer(r"-+", table[dash])]
    cells = {table[dash - 1][a:b].strip(): a for a, b in spans}
    a, b = next(sp for sp in spans if sp[0] == cells[name])
    row = next(line for line in table[dash + 1:] if line[:spans[0][1]].strip() == layer)
    return row[a:b].strip()


def _wbits_columns(out: str) -> list[str]:
    """wbits of layer 1 in the layer table, the Loihi 2 table and the memory table."""
    return [_column(out, head, "wbits", "1")
            for head in ("\nlayers\n", "\nLoihi 2 resources", "\nmemory footprint")]


@pytest.mark.parametrize("weights,bits", [([[254, -254], [2, 0]], "8"),    # 2 x [-127, 127]
                                          ([[254, -254], [3, 0]], "9"),    # an odd weight
                                          ([[1, -1], [1, 0]], "2")])
def test_one_weight_bits_definition_in_every_inspect_table(tmp_path, capsys, weights, bits):
    path = _tiny_file(tmp_path, np.array(weights, dtype=np.int64))
    assert main(["inspect", path]) == 0
    assert _wbits_columns(capsys.readouterr().out) == [bits, bits, bits]


def test_inspect_json_parses_with_cores_chips_limits_and_figures(tmp_path, capsys):
    path = _tiny_file(tmp_path, np.arange(-6, 6, dtype=np.int64).reshape(3, 4) * 2)
    assert main(["inspect", path, "--json", "--activity", "0.5"]) == 0
    report = json.loads(capsys.readouterr().out)
    est = report["loihi2"]
    (row,) = est["layers"]
    assert (row["layer"], row["label"], row["neurons"], row["cores"], row["binds"]) == \
        (1, "dense 4 -> 3", 3, 1, "neurons")
    assert (row["axon_in"], row["weight_bits"], row["synapses"]) == (4, 4, 12)
    assert (est["cores"], est["chips"], est["fits_one_chip"]) == (1, 1, True)
    perf = est["performance"]
    assert perf["activity"] == 0.5 and perf["steps"] == 2 and perf["bound"] == "host input"
    assert math.isclose(perf["fps"], 1 / (2 * perf["step_s"]))
    assert math.isclose(perf["energy_j"], perf["static_j"] + perf["dynamic_j"])
    assert perf["dynamic_j"] > 0 and report["deployment_warnings"] == []
    assert report["memory"]["total_bytes"] > 0


@pytest.mark.parametrize("argv,msg", [(["--activity", "1.5"], "fraction in [0, 1]"),
                                      (["--activity", "nan"], "fraction in [0, 1]"),
                                      (["--steps", "0"], "--steps"),
                                      (["--json", "--energy"], "does not include")])
def test_bad_estimate_options_exit_2_in_one_line(tmp_path, capsys, argv, msg):
    path = _tiny_file(tmp_path, np.ones((2, 2), dtype=np.int64))
    assert main(["inspect", path, *argv]) == 2
    err = capsys.readouterr().err
    assert msg in err.strip().splitlines()[-1] and "Traceback" not in err
