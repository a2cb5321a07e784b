"""Issue 23 (5): a bias in front of a ``CubaLIF``. In NIR and snnTorch's ``Synaptic`` it
enters the synaptic current (``syn = alpha syn + W x + b``, so it builds up by
``1 / (1 - alpha)``); lava-mlsnn's neurons add a bias to v. Import refuses it in one
line (it was added to v: 4429 vs 1364 spikes); export writes a v bias as the
``CubaLIF``'s ``v_leak`` (it was written as the Affine bias, which snnTorch then fed into
its synaptic current)."""
import warnings

import numpy as np
import pytest
import torch

nir = pytest.importorskip("nir")
snn = pytest.importorskip("snntorch")

from lava_mlsnn.cli import main  # noqa: E402
from lava_mlsnn.fixed import NeuronParams, SynapseSpec  # noqa: E402
from lava_mlsnn.format.spec import Branch, LayerSpec, NetworkSpec  # noqa: E402
from lava_mlsnn.netx import emulate  # noqa: E402
from lava_mlsnn.nir import NIRImportError, read_nir, to_nir  # noqa: E402
from layercheck import assert_layers_active  # noqa: E402

STEPS = 10


def _synaptic_net(alpha: float, bias: bool):
    """Linear -> Synaptic -> Linear -> Synaptic, soft reset at once (imported with
    reset='subtract')."""
    from snntorch.export_nir import export_to_nir
    torch.manual_seed(0)

    def syn(n):
        return snn.Synaptic(alpha=torch.full((n,), alpha), beta=torch.full((n,), 0.9),
                            threshold=torch.ones(n), init_hidden=True,
                            reset_mechanism="subtract", reset_delay=False)
    net = torch.nn.Sequential(torch.nn.Linear(20, 12, bias=bias), syn(12),
                              torch.nn.Linear(12, 4, bias=False), syn(4))
    with torch.no_grad():
        # alpha = 0: no current build-up, larger weights (below 2 theta mostly: there
        # snnTorch's subtract pays theta again at the next step instead of spiking)
        net[0].weight.mul_(0.6 if alpha else 1.2)
        net[2].weight.mul_(0.8 if alpha else 3.0)
        if bias:
            net[0].bias.copy_(torch.linspace(-0.05, 0.15, 12))
    return net, export_to_nir(net, torch.zeros(20))


def _run_snntorch(net, x):
    """snnTorch's own simulation: the spikes of both layers, [B, T, n] each."""
    from snntorch import utils
    utils.reset(net)
    hidden, out = [], []
    with torch.no_grad():
        for t in range(x.shape[1]):
            h = net[1](net[0](x[:, t]))
            hidden.append(h)
            out.append(net[3](net[2](h)))
    return torch.stack(hidden, 1), torch.stack(out, 1)


def _x():
    return torch.from_numpy(np.random.default_rng(0).integers(0, 2, (32, STEPS, 20)))


def test_import_refuses_a_bias_into_the_synaptic_current(tmp_path, capsys):
    net, g = _synaptic_net(alpha=0.8, bias=True)
    with pytest.raises(NIRImportError, match=r"bias of 0 enters the synaptic current of a "
                       r"CubaLIF \(alpha = 0\.8.*1/\(1 - alpha\) = 5.*bias=False"):
        read_nir(g, reset="subtract", timesteps=STEPS)
    with pytest.raises(NIRImportError, match="enters the synaptic current"):
        read_nir(g, reset="zero", timesteps=STEPS)
    path = tmp_path / "g.nir"
    nir.write(str(path), g)
    assert main(["nir", "import", str(path), "-o", str(tmp_path / "n.h5"),
                 "--reset", "subtract"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "synaptic current" in err[0]
    assert not (tmp_path / "n.h5").exists()


@pytest.mark.parametrize("alpha, bias", [(0.8, False), (0.0, True)])
def test_what_is_imported_runs_as_snntorch(alpha, bias):
    """Without the bias (what the refusal asks for), or with a current that does not
    persist (alpha = 0: tau_syn = dt, the bias reaches v as it is), the import gives
    snnTorch's spikes on both layers."""
    net, g = _synaptic_net(alpha, bias)
    spec = read_nir(g, reset="subtract", timesteps=STEPS)
    assert spec.layers[1].neuron.i_decay == round(4096 * (1 - alpha))
    assert (spec.layers[1].neuron.bias is not None and np.any(spec.layers[1].neuron.bias)) \
        == bias
    x = _x()
    emu = emulate(spec, x)
    assert_layers_active(emu)
    theirs = _run_snntorch(net, x.float())
    for i, ref in zip((1, 2), theirs):
        assert int(ref.sum()) > 0
        match = float((emu[i].float() == ref).float().mean())
        assert match >= 0.98, (i, match)
        assert abs(int(emu[i].sum()) - int(ref.sum())) <= 0.05 * int(ref.sum()) + 2


def _cuba_bias_net():
    rng = np.random.default_rng(1)
    layers = [LayerSpec("input", (20,), -1, neuron=NeuronParams("INPUT", input_levels=1)),
              LayerSpec("dense", (12,), 0, [Branch(0, SynapseSpec(
                  "dense", rng.integers(-50, 50, (12, 20)) * 2))],
                  NeuronParams("CUBA", 400, 1, 1024, 410,
                               bias=rng.integers(-10, 30, 12))),
              LayerSpec("dense", (4,), 1, [Branch(1, SynapseSpec(
                  "dense", rng.integers(-60, 100, (4, 12)) * 2))],
                  NeuronParams("CUBA", 200, 1, 1024, 410))]
    return NetworkSpec(layers, (20,), 1, STEPS)


def _nir_cubalif(g, x):
    """A plain transcription of NIR's CubaLIF with forward Euler at dt (the definition,
    nothing from the package): tau_syn dI = -I + w_in W z, tau_mem dv = v_leak - v + r I,
    then v > v_th spikes and v = v_reset. Returns the spikes of every neuron node."""
    dt = 1e-4
    names = [n for n in g.nodes if n.endswith("_neuron")]
    z, outs = x.double(), {}
    for name in names:
        syn = g.nodes[name.replace("_neuron", "")]
        c = g.nodes[name]
        f = lambda a: torch.from_numpy(np.asarray(a, dtype=np.float64))  # noqa: E731
        w, b = f(syn.weight), f(syn.bias)
        cur = torch.zeros(z.shape[0], w.shape[0], dtype=torch.float64)
        v, spikes = torch.zeros_like(cur), []
        for t in range(z.shape[1]):
            cur = cur + dt / f(c.tau_syn) * (-cur + f(c.w_in) * (z[:, t] @ w.T + b))
            v = v + dt / f(c.tau_mem) * (f(c.v_leak) - v + f(c.r) * cur)
            s = (v > f(c.v_threshold)).double()
            v = torch.where(s > 0, f(c.v_reset).expand_as(v), v)
            spikes.append(s)
        z = torch.stack(spikes, 1)
        outs[name] = z
    return [outs[n] for n in names]


def test_export_writes_the_v_bias_as_v_leak():
    """The plain graph of a CUBA layer with a current and a v bias: NIR's own CubaLIF
    dynamics give the emulator's spikes; snnTorch, which has
    no v bias, refuses the graph instead of computing something else; read back, the
    plain nodes give the file's integers."""
    from snntorch.import_nir import import_from_nir
    spec = _cuba_bias_net()
    x = _x()
    emu = emulate(spec, x)
    assert_layers_active(emu)
    with pytest.warns(UserWarning, match="layer 1: its bias is written as the CubaLIF's "
                      "v_leak"):
        g = to_nir(spec, extension=False)
    assert not np.any(np.asarray(g.nodes["l1"].bias))
    assert np.any(np.asarray(g.nodes["l1_neuron"].v_leak))
    for i, ref in zip((1, 2), _nir_cubalif(g, x)):
        match = float((emu[i].double() == ref).double().mean())
        assert match >= 0.99, (i, match)  # measured 1.0, 0.998 (the Affine bias: 0.958)
    with pytest.raises(AssertionError, match="v_leak not supported"):
        import_from_nir(g)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = read_nir(to_nir(spec, extension=False), reset="subtract", timesteps=STEPS)
    assert np.any(back.layers[1].neuron.bias)  # v_leak read back as the bias on v


def test_norse_lifcell_current_jumps():
    """Norse 1.1's LIFCell adds its input to the current at once (``i += x``) and writes a
    plain CubaLIF, which NIR reads as ``dt/tau_syn * x`` a step (measured 43 vs Norse's
    822 hidden spikes at dt tau_syn_inv = 0.1): ``current='jump'`` imports it exactly."""
    nt = pytest.importorskip("norse.torch")
    import conformkit as ck
    case = dict(seed=1, input_levels=1, n_in=10, hidden=8, out=4, conv=None, th=[1.0, 1.0],
                mean_q=30.0, bias=False, neuron="LIFCell", d=[0.25, 0.25], ds=[0.125, 0.25])
    simulate, graph, options, shape = ck.build_norse(case)
    x = ck.inputs(case, shape)
    theirs = simulate(x)
    for current, exact in (("jump", True), ("nir", False)):
        spec = read_nir(graph, **dict(options, current=current), timesteps=ck.STEPS)
        emu = emulate(spec, x.long())
        same = [bool(torch.equal(emu[i].float(), ref)) for i, ref in zip((1, 2), theirs)]
        assert all(same) == exact, (current, same)
        if exact:
            assert_layers_active(emu)
    with pytest.raises(NIRImportError, match="current must be one of nir, jump"):
        read_nir(graph, **dict(options, current="delta"))
    del nt


def test_cli_current_jump(tmp_path, capsys):
    pytest.importorskip("norse.torch")
    import conformkit as ck
    from lava_mlsnn.format import read_network
    from lava_mlsnn.nir import write_nir
    case = dict(seed=2, input_levels=1, n_in=6, hidden=4, out=2, conv=None, th=[1.0, 1.0],
                mean_q=30.0, bias=False, neuron="LIFCell", d=[0.5, 0.5], ds=[0.25, 0.25])
    _, graph, _, _ = ck.build_norse(case)
    path = tmp_path / "g.nir"
    write_nir(graph, str(path))
    for current in ("nir", "jump"):
        out = tmp_path / f"{current}.h5"
        assert main(["nir", "import", str(path), "-o", str(out), "--dt", "1e-6",
                     "--current", current]) == 0
        assert read_network(str(out)).layers[1].neuron.i_decay == 1024  # ds = 0.25
    # the threshold fold absorbs a uniform gain: the current's scale shows in vThMant
    assert read_network(str(tmp_path / "jump.h5")).layers[1].neuron.v_th_mant != \
        read_network(str(tmp_path / "nir.h5")).layers[1].neuron.v_th_mant
    capsys.readouterr()
