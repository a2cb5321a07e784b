"""Energy models (memory-aware, SOP, ANN) and NeuroBench figures against hand computation.

The hand network: input (3 values, payloads 0..3) -> dense 2 (MLSN, binary out, bias)
-> dense 1 (READOUT, leaky), T = 2. Every expected value below is written out from the
formulas of ``lava_mlsnn.metrics.energy`` with the default constants.
"""
from __future__ import annotations

import numpy as np
import pytest

from lava_mlsnn import cli
from lava_mlsnn.fixed import NeuronParams, SynapseSpec
from lava_mlsnn.backends.evaluate import count_run
from lava_mlsnn.metrics import EnergyConstants, count_outputs, energy_report, neurobench_metrics
from lava_mlsnn.metrics.activity import layer_activity
from lava_mlsnn.metrics.energy import geometry
from lava_mlsnn.netx import emulate, write_network
from lava_mlsnn.format.random_net import random_input, random_network
from lava_mlsnn.format.spec import Branch, LayerSpec, NetworkSpec

E_ADD, E_MUL, E_MAC = 0.1, 3.1, 3.2
E_FIFO = 1.09e-5 * 1024 * 32 + 13.2


def e_ram(words: int) -> float:
    return 1.09e-5 * words * 32 + 13.2


def hand_net() -> NetworkSpec:
    w1 = np.array([[2, 1, 1], [1, 1, 0]])
    return NetworkSpec([
        LayerSpec("input", (3,), -1, [], NeuronParams("INPUT", input_levels=3)),
        LayerSpec("dense", (2,), 0, [Branch(0, SynapseSpec("dense", w1))],
                  NeuronParams("MLSN", v_th_mant=4, levels=1, bias=np.array([1, 0]))),
        LayerSpec("dense", (1,), 1, [Branch(1, SynapseSpec("dense", np.array([[3, -2]])))],
                  NeuronParams("READOUT", v_decay=100)),
    ], input_shape=(3,), input_levels=3, timesteps=2)


X = np.array([[[3, 0, 1], [0, 0, 0]]])  # [B=1, T=2, 3]: two input events, one of payload 3


def _report(spec=None, x=X, constants=None):
    spec = spec or hand_net()
    out = emulate(spec, x)
    counts = count_outputs(spec, out, x)
    return spec, out, counts, energy_report(spec, counts, constants)


def test_hand_network_dynamics():
    # layer 1: step 0 a = [7, 3] (+ bias 1 on neuron 0): v = [8, 3] x 64 >= th = 4 x 64 only
    # for neuron 0 -> z = [1, 0], v0 = 4 x 64; step 1: v0 = 5 x 64 -> z = [1, 0].
    _, out, counts, _ = _report()
    assert out[1].tolist() == [[[1, 0], [1, 0]]]
    assert counts.events == {-1: 2.0, 0: 2.0, 1: 2.0}
    assert counts.binary == {-1: False, 0: False, 1: True}


def test_memory_aware_model_term_by_term():
    _, _, _, rep = _report()
    l1, l2 = rep.layers
    # layer 1: Hybrid (graded input), theta_in = 2, theta_out = 2, N_in 3, N_out 2, T = 2,
    # dense fan-out F = N_out = 2, 6 weights, bias of 2 words.
    assert (l1.model, l1.theta_in, l1.theta_out) == ("Hybrid", 2.0, 2.0)
    assert l1.mac == pytest.approx(2 * 2)                    # theta * dense MACs / N_in
    assert l1.acc == pytest.approx(2 * 2 + 2)                # T*N_out updates + theta_out resets
    assert l1.ops == pytest.approx(4 * E_MAC + 6 * E_ADD)
    assert l1.weights == pytest.approx(2 * 2 * e_ram(6))
    assert l1.potentials == pytest.approx((2 * 2 * 2 + 2 * 2 * 2) * e_ram(2))
    assert l1.bias == pytest.approx(2 * 2 * e_ram(2))
    assert l1.io == pytest.approx((2 + 2) * E_FIFO)
    assert l1.addressing == pytest.approx(2 * 2 * E_ADD)    # theta * N_out ACCs (Eq. 17.2)
    # layer 2: READOUT, binary input theta_in = 2, no spikes out, one leaky state.
    assert (l2.model, l2.theta_in, l2.theta_out) == ("SNN", 2.0, 0.0)
    assert l2.acc == pytest.approx(2 * 1 + 2 * 1)             # theta * F_acc + T*N_out
    assert l2.mac == pytest.approx(2 * 1)                     # leak: T*N_out
    assert l2.ops == pytest.approx(2 * E_MAC + 4 * E_ADD)
    assert l2.weights == pytest.approx(2 * 1 * e_ram(2))
    assert l2.potentials == pytest.approx((2 * 2 * 1 + 2 * 2 * 1) * e_ram(1))
    assert l2.bias == 0.0
    assert l2.io == pytest.approx(2 * E_FIFO)
    assert l2.addressing == pytest.approx(2 * 1 * E_ADD)
    assert rep.total_pj == pytest.approx(l1.total + l2.total)
    assert rep.total_pj == pytest.approx(  # the six terms, summed by hand
        (4 * E_MAC + 6 * E_ADD) + 16 * e_ram(2) + 4 * e_ram(6) + 4 * e_ram(2) + 4 * E_FIFO
        + 0.4 + (2 * E_MAC + 4 * E_ADD) + 8 * e_ram(1) + 2 * e_ram(2) + 2 * E_FIFO + 0.2)
    assert rep.breakdown()["weights"] == pytest.approx(4 * e_ram(6) + 2 * e_ram(2))


def test_sop_model_and_ann_reference():
    _, _, _, rep = _report()
    l1, l2 = rep.layers
    # exact synops: input 0 (payload 3) reaches 2 nonzero weights, input 2 reaches 1 (W1[1,2]
    # = 0); graded -> E_MAC each. Layer 2: 2 binary events x 1 synapse -> E_AC.
    assert l1.sop == pytest.approx(3 * 4.6)
    assert l2.sop == pytest.approx(2 * 0.9)
    assert rep.sop_pj == pytest.approx(3 * 4.6 + 2 * 0.9)
    a1, a2 = rep.ann
    assert (a1.mac, a1.acc, a2.mac, a2.acc) == (6, 2, 2, 1)
    assert a1.ops == pytest.approx(6 * E_MAC + 2 * E_ADD)
    assert a1.weights == pytest.approx(6 * e_ram(6))
    assert a1.bias == pytest.approx(2 * e_ram(2))
    assert a1.io == pytest.approx(3 * e_ram(3) + 2 * e_ram(2))    # N_in reads, N_out writes
    assert a1.addressing == pytest.approx(6 * E_ADD)
    assert a2.ops == pytest.approx(2 * E_MAC + 1 * E_ADD)
    assert a2.io == pytest.approx(2 * e_ram(2) + 1 * e_ram(1))
    assert (a1.potentials, a2.bias) == (0.0, 0.0)
    assert rep.ann_sop_pj == pytest.approx((6 + 2) * 4.6)


def test_graded_payload_is_one_event_and_three_unary_ops():
    spec = hand_net()
    spec.timesteps = 1
    _, _, c3, r3 = _report(spec, np.array([[[3, 0, 0]]]))
    _, _, c1, r1 = _report(spec, np.array([[[1, 0, 0]]]))
    g, b = r3.layers[0], r1.layers[0]
    assert (g.model, b.model) == ("Hybrid", "SNN")
    # one event either way: same FIFO read, weight reads and potential updates
    for term in ("weights", "potentials", "addressing"):
        assert getattr(g, term) == pytest.approx(getattr(b, term))
    assert g.weights == pytest.approx(1 * 2 * e_ram(6))
    # ... but one MAC per fan-out when graded, one ACC per fan-out when binary
    assert g.mac == pytest.approx(2) and b.mac == 0
    # ACCs: T*N_out neuron updates + resets (graded: 1 spike out; binary: none) + the binary
    # input's 2 synaptic ACCs
    assert (g.theta_out, b.theta_out) == (1.0, 0.0)
    assert (g.acc, b.acc) == (2 + 1, 2 + 0 + 2)
    # per event: 1 x 2 synapses either way; per unit of payload (sinabs / I-LIF): 3 x 2 vs 1 x 2
    assert c3.branch_synops[(1, 0)] == c1.branch_synops[(1, 0)] == 2.0
    assert (c3.branch_unary[(1, 0)], c1.branch_unary[(1, 0)]) == (6.0, 2.0)
    # NeuroBench: a non-binary layer input is counted as MACs, a binary one as ACs
    n3, n1 = neurobench_metrics(spec, c3), neurobench_metrics(spec, c1)
    assert (n3["effective_macs"], n1["effective_macs"]) == (2.0, 0.0)
    # ACs: the readout's binary input (1 spike x 1 synapse when graded, none when binary),
    # plus the layer-1 input when binary
    assert (n3["effective_acs"], n1["effective_acs"]) == (1.0, 2.0)


def test_neurobench_figures_hand_network():
    spec, _, counts, _ = _report()
    nb = neurobench_metrics(spec, counts)
    assert nb["activation_sparsity"] == pytest.approx(1 - 2 / (2 * 2))  # MLSN layer only
    assert nb["effective_macs"] == 3.0 and nb["effective_acs"] == 2.0
    assert nb["dense_ops"] == 2 * (6 + 2)
    assert nb["synops_unary"] == 3 * 2 + 1 * 1 + 2 * 1
    assert nb["footprint_neurobench_bytes"] == 4 * (6 + 2 + 2)
    assert nb["connection_sparsity"] == pytest.approx(1 / 8)


def test_sew_add_join_costed_as_add_layer():
    ident = lambda src: Branch(src, SynapseSpec("identity", np.array(1)))  # noqa: E731
    spec = NetworkSpec([
        LayerSpec("input", (4,), -1, [], NeuronParams("INPUT", input_levels=1)),
        LayerSpec("dense", (4,), 0, [Branch(0, SynapseSpec("dense", np.eye(4, dtype=np.int64)))],
                  NeuronParams("MLSN", v_th_mant=1, levels=2)),
        LayerSpec("join", (4,), 1, [ident(1), ident(0)], NeuronParams("PASS")),
    ], input_shape=(4,), input_levels=1, timesteps=1)
    x = np.array([[[1, 1, 0, 0]]])
    _, out, _, rep = _report(spec, x)
    assert out[2].tolist() == [[[2, 2, 0, 0]]]
    add = rep.layers[1]
    # 2 + 2 input events land on 2 outputs: 2 adds, 4 reads + 2 writes, 2 address ACCs
    assert (add.model, add.theta_in, add.theta_out, add.acc) == ("Add", 4.0, 2.0, 2.0)
    assert add.io == pytest.approx(6 * E_FIFO)
    assert add.ops == pytest.approx(2 * E_ADD) and add.addressing == pytest.approx(2 * E_ADD)
    assert add.potentials == add.weights == add.bias == 0.0
    # the ANN reference of the join is the Add layer: 2 x 4 reads, 4 writes, 4 adds
    assert rep.ann[1].acc == 4 and rep.ann[1].io == pytest.approx(12 * e_ram(4))


def test_conv_and_pool_geometry():
    conv = SynapseSpec("conv", np.ones((8, 2, 3, 3), np.int64), stride=(2, 2), padding=(1, 1))
    g = geometry(conv, (4, 10, 10), (8, 5, 5))
    assert (g.fan, g.fan_acc, g.addr_mac, g.addr_acc) == (72, 32, 2, 9)
    assert g.dense_macs == 2 * 9 * 200 and g.fan_mac == pytest.approx(3600 / 400)
    pool = SynapseSpec("pool", np.array(1), stride=(2, 2), kernel=(2, 2))
    g = geometry(pool, (4, 8, 8), (4, 4, 4))
    assert (g.fan, g.fan_acc, g.fan_mac, g.weight_words) == (4, 1, 1.0, 1)


def test_branch_synops_match_activity_and_batches_merge():
    spec = random_network(np.random.default_rng(3), conv=True)
    x = random_input(np.random.default_rng(4), spec, 6, 3)
    out = emulate(spec, x)
    counts = count_outputs(spec, out, x)
    per_source = sum(a.synops for a in layer_activity(spec, out))
    assert sum(counts.branch_synops.values()) / 6 == pytest.approx(per_source)
    merged = count_run(spec, x, batch_size=4)  # 4 + 2 samples
    assert merged.samples == 6 and merged.events == pytest.approx(counts.events)
    assert energy_report(spec, merged).total_pj == pytest.approx(
        energy_report(spec, counts).total_pj)


def test_constants_table_overrides():
    c = EnergyConstants(e_mul=1.0, sram_mode="new")
    assert c.e_mac == pytest.approx(1.1) and c.e_ram(10 ** 6) == pytest.approx(5.0)
    _, _, _, rep = _report(constants=c)
    assert rep.layers[0].weights == pytest.approx(2 * 2 * 5.0)
    with pytest.raises(ValueError):
        EnergyConstants(sram_mode="bogus")


def test_inspect_energy_prints_table(tmp_path, capsys):
    net, xp = str(tmp_path / "hand.h5"), str(tmp_path / "x.npy")
    write_network(hand_net(), net)
    np.save(xp, X)
    assert cli.main(["inspect", net, "--energy", "--input", xp]) == 0
    text = capsys.readouterr().out
    total = _report()[3].total_pj
    assert "energy per inference (nJ), T=2, mean over 1 sample" in text
    assert "potentials" in text and "addressing" in text and "Hybrid" in text
    assert f"{total / 1e3:,.3f} nJ" in text
    assert "effective MACs 3.0, effective ACs 2.0, dense 16.0" in text
    # no usable default input for a 3-value network: one line, exit 2
    assert cli.main(["inspect", net, "--energy"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--input X.npy" in err[0]


def test_inspect_energy_on_embedded_digits(tmp_path, capsys):
    spec = random_network(np.random.default_rng(5), conv=True, input_shape=(2, 16, 16),
                          input_levels=3, timesteps=2)
    net = str(tmp_path / "dvs.h5")
    write_network(spec, net)
    assert cli.main(["inspect", net, "--energy", "--samples", "4"]) == 0
    text = capsys.readouterr().out
    assert "embedded digits test split (4 samples, T=2)" in text
    assert "ANN ref" in text and "activation sparsity" in text
