"""The real NeuroBench (extra ``neurobench``) on deployed networks: its activation
sparsity, synaptic operations (effective MACs / ACs, dense) and footprint equal
lava-mlsnn's figures where the definitions coincide (lava_mlsnn.metrics.neurobench)."""
import pytest
import torch

pytest.importorskip("neurobench")

from neurobench.benchmarks import Benchmark  # noqa: E402
from neurobench.metrics.static import ConnectionSparsity, Footprint  # noqa: E402
from neurobench.metrics.workload import ActivationSparsity, SynapticOperations  # noqa: E402
from neurobench.models import TorchModel  # noqa: E402

from lava_mlsnn.format.random_net import random_input, random_network  # noqa: E402
from lava_mlsnn.backends.evaluate import count_run  # noqa: E402
from lava_mlsnn.metrics.neurobench import neurobench_metrics  # noqa: E402
from lava_mlsnn.metrics.neurobench_model import DeployedModule, Payload  # noqa: E402
from lava_mlsnn.netx import emulate  # noqa: E402


@pytest.mark.parametrize("seed,conv,levels,input_levels", [(0, True, 3, 3), (1, False, 1, 1),
                                                           (2, True, 1, 1), (5, False, 4, 2)])
def test_neurobench_figures_equal_ours(seed, conv, levels, input_levels):
    spec = random_network(seed, levels=levels, conv=conv, input_levels=input_levels,
                          timesteps=3)
    x = torch.from_numpy(random_input(seed, spec, 24, 3))
    module = DeployedModule(spec)
    emu = emulate(spec, x)
    assert torch.equal(module(x), emu[len(spec.layers) - 1])  # the module is the network
    ours = neurobench_metrics(spec, count_run(spec, x))

    model = TorchModel(module)
    model.add_activation_module(Payload)
    data = torch.utils.data.TensorDataset(x, torch.zeros(len(x)))
    batches = torch.utils.data.DataLoader(data, batch_size=8)
    bench = Benchmark(model, batches, [], [lambda out: out],
                      [[Footprint, ConnectionSparsity], [ActivationSparsity,
                                                         SynapticOperations]])
    theirs = bench.run(quiet=True)
    syn = theirs["SynapticOperations"]
    assert syn["Effective_MACs"] == pytest.approx(ours["effective_macs"], rel=1e-12)
    assert syn["Effective_ACs"] == pytest.approx(ours["effective_acs"], rel=1e-12)
    assert syn["Dense"] == pytest.approx(ours["dense_ops"], rel=1e-12)
    assert syn["Effective_MACs"] + syn["Effective_ACs"] > 0
    assert theirs["ActivationSparsity"] == pytest.approx(ours["activation_sparsity"], rel=1e-9)
    assert 0 < ours["activation_sparsity"] < 1
    assert theirs["Footprint"] == ours["footprint_neurobench_bytes"]
    assert theirs["ConnectionSparsity"] == pytest.approx(ours["connection_sparsity"], abs=5e-5)  # rounded
    if levels == 1 and input_levels == 1:  # binary everywhere: NeuroBench counts only ACs
        assert ours["effective_macs"] == 0
