"""Differential conformance with the NIR peers: networks drawn
at random over each framework's parameter space (thresholds, reset modes, biases, decays
and time constants, levels, conv geometry, pooling, graded input), built and simulated in
snnTorch, Norse and Sinabs, exported to NIR by the peer, imported by lava-mlsnn and run in
the emulator (and, for a few draws, in Lava); every neuron layer is compared with the peer's own, every compared layer
active (``tests/conformkit.py`` builds them).

Weights lie on the grid the import folds exactly (``q * theta / 2**m``, DESIGN §10), so
what is left is what the import states: integrate-and-fire nets are identical, leaky ones
differ only by Loihi's decay rounded toward zero (one state unit a step) and decays
quantised to 1/4096; snnTorch's ``subtract`` is imported with its own rule
(``reset='snntorch'`` / ``'snntorch_delay'``, ``reset_delay`` drawn) and held to the same
bound. Random float
weights add their 8-bit quantization on top (``tests/test_nir_peers.py`` measures that on
trained nets). A draw the import cannot carry must be refused in one line. More draws, and
Lava runs beyond one draw per peer, with ``LAVA_MLSNN_SLOW=1``."""
import os

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, Phase, assume, given, settings

pytest.importorskip("nir")

import conformkit as ck  # noqa: E402
from conformkit import norse_cases, sinabs_cases, snntorch_cases  # noqa: E402
from lava_mlsnn.nir import NIRImportError  # noqa: E402

SLOW = os.environ.get("LAVA_MLSNN_SLOW", "") not in ("", "0")
# no shrinking: a failing draw is printed as drawn (shrinking one took minutes)
BUDGET = settings(max_examples=150 if SLOW else 20, deadline=None, derandomize=True,
                  phases=[Phase.explicit, Phase.reuse, Phase.generate],
                  suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
def _check(peer: str, case: dict) -> None:
    refused = ck.refusal(peer, case)
    if refused:
        with pytest.raises(NIRImportError, match=refused):
            ck.compare(peer, case)
        return
    layers = ck.compare(peer, case)
    assume(all(d["theirs"] > 0 for d in layers))  # a silent peer layer proves nothing
    bound = ck.bound(peer, case)
    for d in layers:
        assert d["ours"] > 0, d
        assert d["agree"] >= bound, (peer, case, layers)
        assert abs(d["ours"] - d["theirs"]) <= (1 - bound) * d["theirs"] + 2, (case, layers)


@BUDGET
@given(case=snntorch_cases)
def test_snntorch(case):
    pytest.importorskip("snntorch")
    _check("snntorch", case)


@BUDGET
@given(case=norse_cases)
def test_norse(case):
    pytest.importorskip("norse")
    _check("norse", case)


@BUDGET
@given(case=sinabs_cases)
def test_sinabs(case):
    pytest.importorskip("sinabs")
    _check("sinabs", case)


@pytest.mark.parametrize("kind", ["RLeaky", "RSynaptic"])
def test_recurrent_snntorch_is_refused_naming_the_cycle(kind):
    """Recurrent layers (snnTorch writes a LIF/CubaLIF with a weight back to itself) are
    refused in one line that names the cycle."""
    snn = pytest.importorskip("snntorch")
    from snntorch.export_nir import export_to_nir
    from lava_mlsnn.nir import read_nir
    kw = dict(linear_features=4, init_hidden=True, reset_mechanism="zero", beta=0.9)
    cell = snn.RLeaky(**kw) if kind == "RLeaky" else snn.RSynaptic(alpha=0.5, **kw)
    graph = export_to_nir(torch.nn.Sequential(torch.nn.Linear(6, 4), cell), torch.zeros(6))
    with pytest.raises(NIRImportError, match=r"nodes 1\.lif -> 1\.w_rec -> 1\.lif form a "
                       "cycle .*recurrent graphs are not supported"):
        read_nir(graph)


#: Draws run in Lava as well (fixed_pt, every layer equal to the emulator): one per peer in
#: ``make test``, more with ``LAVA_MLSNN_SLOW=1``.
LAVA_CASES = [
    ("snntorch", dict(seed=3, input_levels=2, n_in=12, hidden=8, out=4, conv=None,
                      th=[0.5, 1.5], mean_q=30.0, neuron="Leaky", reset="subtract",
                      delay=True, bias=True, beta=[0.875, 0.75], alpha=[0.5, 0.5])),
    ("norse", dict(seed=4, input_levels=1, n_in=10, hidden=8, out=3, th=[1.0, 0.5],
                   mean_q=45.0, neuron="LIFBoxCell", bias=False, d=[0.25, 0.5],
                   conv=dict(channels=3, size=6, kernel=3, stride=1, padding=1,
                             pool=False))),
    ("sinabs", dict(seed=5, input_levels=3, n_in=10, hidden=8, out=4, th=[2.0, 1.0],
                    mean_q=25.0, neuron="IAF", bias=True, levels=3, tau=5.0,
                    conv=dict(channels=3, size=8, kernel=3, stride=1, padding=1,
                              pool=True)))]
LAVA_SLOW_CASES = [
    ("snntorch", dict(seed=6, input_levels=1, n_in=12, hidden=8, out=4, conv=None,
                      th=[1.0, 0.75], mean_q=30.0, neuron="Synaptic", reset="zero",
                      bias=True, beta=[0.875, 0.75], alpha=[0.75, 0.5])),  # a current bias
    ("snntorch", dict(seed=7, input_levels=1, n_in=12, hidden=8, out=4, conv=None,
                      th=[2.0, 1.0], mean_q=30.0, neuron="Synaptic", reset="subtract",
                      delay=False, bias=True, beta=[0.875, 0.75], alpha=[0.75, 0.5])),
    ("norse", dict(seed=8, input_levels=2, n_in=10, hidden=8, out=3, th=[1.0, 0.5],
                   mean_q=45.0, neuron="LIFCell", bias=True, d=[0.25, 0.5], ds=[0.5, 0.25],
                   conv=None)),
    ("sinabs", dict(seed=9, input_levels=2, n_in=10, hidden=8, out=4, th=[0.5, 0.25],
                    mean_q=45.0, neuron="LIF", bias=False, levels=1,
                    tau=-1 / np.log(1 - 8 / 64), conv=None))]


@pytest.mark.lava
@pytest.mark.parametrize("peer, case", LAVA_CASES + [
    pytest.param(*c, marks=pytest.mark.skipif(not SLOW, reason="set LAVA_MLSNN_SLOW=1"))
    for c in LAVA_SLOW_CASES])
def test_lava_runs_the_import_as_the_emulator(peer, case):
    """The imported networks in Lava (fixed_pt): every layer equal to the emulator, which
    agrees with the peer within the draw's bound."""
    from lava_mlsnn.netx import emulate, run_lava
    from lava_mlsnn.nir import read_nir
    pytest.importorskip(peer)
    layers = ck.compare(peer, case)
    assert all(d["ours"] > 0 and d["theirs"] > 0 for d in layers), layers
    assert all(d["agree"] >= ck.bound(peer, case) for d in layers), layers
    _, graph, options, shape = ck.BUILDERS[peer](case)
    spec = read_nir(graph, input_levels=case["input_levels"], timesteps=ck.STEPS,
                    allow_clipping=True, **options)
    x = ck.inputs(case, tuple(shape)).long()[:4]
    emu, lava = emulate(spec, x), run_lava(spec, x.numpy())
    neurons = [i for i, layer in enumerate(spec.layers)
               if layer.neuron is not None and layer.neuron.type not in ("INPUT", "PASS")]
    assert neurons and all(emu[i].any() for i in neurons), "a compared layer is silent"
    for i in emu:
        assert np.array_equal(lava[i], emu[i].numpy()), (peer, i)
