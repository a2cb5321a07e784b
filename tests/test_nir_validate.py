"""A NIR graph is checked as a graph before import. Each hostile example
is refused with one line (NIRImportError in the API; exit 2 and one line from the CLI)
and the CLI writes nothing."""
import subprocess
import sys

import numpy as np
import pytest

nir = pytest.importorskip("nir")

from lava_mlsnn.nir import NIRImportError, read_nir  # noqa: E402


def _graph(w=None, tau=1e-3, th=1.0, shape=(3,), edges=None):
    w = np.full((2, 3), 0.5, dtype=np.float32) if w is None else w
    nodes = {"input": nir.Input(input_type={"input": np.array(shape)}),
             "fc": nir.Affine(weight=w, bias=np.zeros(2, dtype=np.float32)),
             "lif": nir.LIF(tau=np.full(2, tau), r=np.ones(2), v_leak=np.zeros(2),
                            v_threshold=np.full(2, th), v_reset=np.zeros(2)),
             "output": nir.Output(output_type={"output": np.array([2])})}
    edges = edges or [("input", "fc"), ("fc", "lif"), ("lif", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


CASES = {
    "missing node": (lambda: _graph(edges=[("input", "fc"), ("fc", "lif"), ("lif", "out2")]),
                     {}, "missing node"),
    "self edge": (lambda: _graph(edges=[("input", "fc"), ("fc", "lif"), ("lif", "lif"),
                                        ("lif", "output")]), {}, "recurrent"),
    "nan weight": (lambda: _graph(w=np.full((2, 3), np.nan, dtype=np.float32)), {},
                   "non-finite"),
    "inf threshold": (lambda: _graph(th=np.inf), {}, "non-finite"),
    "tau zero": (lambda: _graph(tau=0.0), {}, "must be > 0"),
    "tau negative": (lambda: _graph(tau=-1e-3), {}, "must be > 0"),
    "tau below dt": (lambda: _graph(tau=1e-5), {}, "below the step"),
    "denormal dt": (lambda: _graph(), {"dt": 5e-324}, "dt = "),
    "empty shape": (lambda: _graph(shape=()), {}, "input shape"),
    "huge shape": (lambda: _graph(shape=(100000, 100000)), {}, "exceeds"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_graph_refused(case):
    make, opts, words = CASES[case]
    with pytest.raises(NIRImportError, match=words):
        read_nir(make(), **opts)


def test_valid_graph_imports():
    spec = read_nir(_graph(), timesteps=4)
    assert spec.layers[1].neuron.v_decay == 410  # dt / tau = 0.1 of 4096, rounded


def test_cycle_refused():
    g = _graph()
    g.nodes["fc2"] = nir.Affine(weight=np.ones((2, 2), dtype=np.float32),
                                bias=np.zeros(2, dtype=np.float32))
    g.edges.extend([("lif", "fc2"), ("fc2", "lif")])
    with pytest.raises(NIRImportError, match="branches|cycle|recurrent"):
        read_nir(g)


@pytest.mark.parametrize("case", ["missing node", "nan weight", "tau zero", "tau below dt",
                                  "empty shape"])
def test_cli_exit_2_one_line_nothing_written(case, tmp_path):
    make, opts, _ = CASES[case]
    src = tmp_path / "g.nir"
    nir.write(str(src), make())
    out = tmp_path / "net.h5"
    r = subprocess.run([sys.executable, "-m", "lava_mlsnn.cli", "nir", "import", str(src),
                        "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert not out.exists()
    assert not list(tmp_path.glob("*.tmp"))


def test_cli_denormal_dt(tmp_path):
    src = tmp_path / "g.nir"
    nir.write(str(src), _graph())
    r = subprocess.run([sys.executable, "-m", "lava_mlsnn.cli", "nir", "import", str(src),
                        "-o", str(tmp_path / "n.h5"), "--dt", "5e-324"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "n.h5").exists()


def test_norse_graph_written_and_imported_by_cli(tmp_path):
    """``nir.write`` refuses Norse's graphs (0-d tensors); write_nir writes
    them, the CLI imports the file, and it deploys the same integers as the in-memory
    graph."""
    nt = pytest.importorskip("norse.torch")
    import torch
    from lava_mlsnn.format.reader import read_network
    from lava_mlsnn.nir import write_nir
    torch.manual_seed(0)
    p = nt.LIFBoxParameters(tau_mem_inv=torch.tensor(200.0))
    net = nt.SequentialState(torch.nn.Linear(6, 4, bias=False), nt.LIFBoxCell(p, dt=1e-3))
    g = nt.to_nir(net, torch.zeros(1, 6))
    with pytest.raises(TypeError):
        nir.write(str(tmp_path / "raw.nir"), g)
    write_nir(g, str(tmp_path / "g.nir"))
    out = tmp_path / "net.h5"
    r = subprocess.run([sys.executable, "-m", "lava_mlsnn.cli", "nir", "import",
                        str(tmp_path / "g.nir"), "-o", str(out), "--dt", "1e-6"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    ours = read_network(str(out))
    mem = read_nir(g, dt=1e-6)
    assert ours.layers[1].neuron.v_decay == mem.layers[1].neuron.v_decay == 819
    w = ours.layers[1].branches[0].synapse.weight
    assert np.any(w != 0)
    assert np.array_equal(w, mem.layers[1].branches[0].synapse.weight)


def test_edited_graph_with_extension_refused():
    """A graph written by to_nir and edited with the nir API (a weight
    negated) is refused instead of importing as the original; unedited it reads back."""
    from test_nir_peers import _binary_net
    from lava_mlsnn.nir import to_nir
    spec, _ = _binary_net(0)
    g = to_nir(spec)
    back = read_nir(g)
    assert np.array_equal(back.layers[1].branches[0].synapse.weight,
                          spec.layers[1].branches[0].synapse.weight)
    g.nodes["l1"].weight = -np.asarray(g.nodes["l1"].weight)
    with pytest.raises(NIRImportError, match="l1.weight differs"):
        read_nir(g)
    g2 = to_nir(spec)
    g2.edges.remove(("l2_neuron", "output"))
    with pytest.raises(NIRImportError):
        read_nir(g2)


def test_dt_the_help_names_for_norse_gives_norses_decay():
    """Difference 8: ``nir import --help`` names the --dt for a Norse graph (its cells' dt
    times to_nir's, 1e-3 by default); read at that dt a LIFBoxCell graph gets Norse's own
    decay dt * tau_mem_inv, for the default step and others (the help once said 1e-3: 66 %
    of Norse's spikes instead of 99.5 %)."""
    import re
    nt = pytest.importorskip("norse.torch")
    import torch
    r = subprocess.run([sys.executable, "-m", "lava_mlsnn.cli", "nir", "import", "--help"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    m = re.search(r"([0-9.e-]+) for Norse's default ([0-9.e-]+)", text)
    assert m, text
    named, default = float(m.group(1)), float(m.group(2))
    assert default == 1e-3 and named == pytest.approx(default ** 2)
    assert "its cells' dt times the dt given to Norse's to_nir" in text
    for dt in (default, 5e-4, 1e-4):
        p = nt.LIFBoxParameters(tau_mem_inv=torch.tensor(0.2 / dt))  # dt * tau_mem_inv = 0.2
        net = nt.SequentialState(torch.nn.Linear(6, 4, bias=False), nt.LIFBoxCell(p, dt=dt))
        g = nt.to_nir(net, torch.zeros(1, 6))
        assert read_nir(g, dt=dt * default).layers[1].neuron.v_decay == round(4096 * 0.2)
        if dt != default:  # the square of the cells' dt is not Norse's step
            assert read_nir(g, dt=dt ** 2).layers[1].neuron.v_decay != round(4096 * 0.2)
