"""One synaptic-operation count: evaluate, inspect --energy (and its NeuroBench-style
block) and the training summary report the same number for the same run."""
import numpy as np
import pytest
import torch

from lava_mlsnn.backends.evaluate import accumulate_activity, per_sample_activity
from lava_mlsnn.format.random_net import random_input, random_network
from lava_mlsnn.metrics import count_outputs, energy_lines, energy_report, neurobench_metrics
from lava_mlsnn.netx import emulate


@pytest.mark.parametrize("seed,conv", [(0, True), (1, False), (3, True)])
def test_evaluate_and_inspect_count_the_same_synops(seed, conv):
    spec = random_network(seed, levels=3, conv=conv)
    x = torch.from_numpy(random_input(seed, spec, 16, 3))
    outs = emulate(spec, x)
    acc = {}
    accumulate_activity(spec, {i: v.numpy() for i, v in outs.items()}, acc)
    layers, tot = per_sample_activity(acc, len(x))
    counts = count_outputs(spec, outs, x)
    nb = neurobench_metrics(spec, counts)
    exact = sum(counts.branch_synops.values()) / len(x)
    assert tot["synops"] == pytest.approx(exact, rel=1e-12)
    assert nb["synops"] == pytest.approx(exact, rel=1e-12)
    # the input layer's events cause operations (counted) but are not network activity
    assert layers[0]["neuron"] == "INPUT" and layers[0]["synops"] > 0
    assert tot["events"] == pytest.approx(sum(r["events"] for r in layers[1:]))
    text = "\n".join(energy_lines(energy_report(spec, counts), nb))
    assert f"synaptic operations {nb['synops']:,.0f}" in text
    assert np.isfinite(nb["synops_unary"]) and nb["synops_unary"] >= nb["synops"]
