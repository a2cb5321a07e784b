"""The rest of netx's CUBA vocabulary, against stock netx: Input blocks with their own
neuron, recurrent (``dense_rec``) blocks, dense layers without a neuron group, the
``LOIHI`` alias, 1-D weights and 3-D dense shapes; what netx cannot build is refused
with one line naming the feature."""
import h5py
import numpy as np
import pytest
import torch

from lava_mlsnn.backends.loihi2.report import deployment_notes
from lava_mlsnn.format import read_network, write_network
from lava_mlsnn.format.reader import FormatError

from stock_netx import export_stock
from test_netx_stock import CUBA, compare_with_stock

pytestmark = pytest.mark.lava

import lava.lib.dl.slayer as slayer  # noqa: E402

cuba = slayer.block.cuba


def binary(seed: int, shape, steps: int = 12, batch: int = 2, p: float = 0.4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((batch, steps) + tuple(shape)) < p).astype(np.int64)


@pytest.mark.parametrize("seed", [0, 1])
def test_input_block_with_neuron_matches_stock_netx(tmp_path, seed):
    """netx feeds the network input to the Input block's neuron's a_in, as given: the
    block's weight and bias (the data loader's transform) are not applied."""
    torch.manual_seed(seed)
    path = str(tmp_path / "input.h5")
    export_stock(path, [cuba.Input(CUBA, weight=2.0, bias=0.1),
                        cuba.Dense(CUBA, 20, 16, weight_scale=4),
                        cuba.Dense(CUBA, 16, 5, weight_scale=4)], (20,))
    spec = read_network(path)
    first = spec.layers[0]
    assert first.type == "input" and first.neuron.type == "CUBA" and first.neuron.bias is None
    assert first.input_transform == (128, 6)
    # The input neuron integrates graded input (a_in << 6): counts up to 3.
    x = np.random.default_rng(seed).integers(0, 6, (2, 16, 20))
    compare_with_stock(path, x)
    assert any("transform" in w for w in deployment_notes(spec))


@pytest.mark.parametrize("seed", [0, 1])
def test_recurrent_block_matches_stock_netx(tmp_path, seed):
    torch.manual_seed(seed)
    path = str(tmp_path / "rec.h5")
    export_stock(path, [cuba.Recurrent(CUBA, 20, 16, weight_scale=2),
                        cuba.Dense(CUBA, 16, 5, weight_scale=2)], (20,))
    spec = read_network(path)
    assert spec.layers[0].recurrent is not None
    compare_with_stock(path, binary(seed, (20,)))
    again = str(tmp_path / "again.h5")
    write_network(spec, again)
    assert np.array_equal(read_network(again).layers[0].recurrent.weight,
                          spec.layers[0].recurrent.weight)


def test_recurrence_matters(tmp_path):
    """The recurrent weights change the spikes (the comparison above is not vacuous)."""
    from lava_mlsnn.backends.emulator import emulate

    torch.manual_seed(0)
    path = str(tmp_path / "rec.h5")
    export_stock(path, [cuba.Recurrent(CUBA, 20, 16, weight_scale=2),
                        cuba.Dense(CUBA, 16, 5, weight_scale=2)], (20,))
    spec = read_network(path)
    x = binary(0, (20,))
    with_rec = emulate(spec, x)[0]
    spec.layers[0].recurrent = None
    assert not torch.equal(with_rec, emulate(spec, x)[0])


def test_dense_without_neuron_loihi_alias_1d_weights_3d_shape(tmp_path):
    torch.manual_seed(3)
    path = str(tmp_path / "edited.h5")
    export_stock(path, [cuba.Dense(CUBA, 20, 16, weight_scale=2),
                        cuba.Dense(CUBA, 16, 12, weight_scale=2),
                        cuba.Dense(CUBA, 12, 5, weight_scale=2)], (20,))
    with h5py.File(path, "r+") as f:
        g = f["layer/0/neuron"]
        del g["type"]
        g.create_dataset("type", (1,), "S10", [b"LOIHI"])
        w = f["layer/1/weight"][()]
        del f["layer/1/weight"], f["layer/1/shape"]
        f["layer/1"].create_dataset("weight", data=w.reshape(-1))  # 1-D, as netx allows
        f["layer/1"].create_dataset("shape", data=np.array([12, 1, 1]))
        del f["layer/2/neuron"]  # netx's default: a non-leaky integrator
    spec = read_network(path)
    assert spec.layers[0].neuron.type == "CUBA" and spec.layers[1].shape == (12,)
    p = spec.layers[2].neuron
    assert (p.type, p.i_decay, p.v_decay, p.v_th_mant) == ("CUBA", 0, 4096, 1 << 17)
    # netx's default threshold (2**17 << 6 = 2**23) lies beyond the saturated voltage.
    compare_with_stock(path, binary(4, (20,)), silent=(2,))


@pytest.mark.parametrize("kind,words", [
    ("average", "average (spatial mean) layers are not supported"),
    ("convT", "transposed conv (convT) layers are not supported"),
    ("unpool", "unpool layers are not supported"),
    ("concat", "concat layers are not supported"),
])
def test_what_netx_cannot_build_is_refused_by_name(tmp_path, kind, words):
    path = str(tmp_path / "bad.h5")
    torch.manual_seed(0)
    export_stock(path, [cuba.Dense(CUBA, 8, 6), cuba.Dense(CUBA, 6, 4)], (8,))
    with h5py.File(path, "r+") as f:
        del f["layer/1/type"]
        f["layer/1"].create_dataset("type", (1,), "S10", [kind.encode()])
    with pytest.raises(FormatError) as err:
        read_network(path)
    assert err.value.problems == [f"layer/1/type: {words} (stock netx cannot build them "
                                  "either)"]


def test_rf_neurons_are_refused_by_name(tmp_path):
    path = str(tmp_path / "rf.h5")
    torch.manual_seed(0)
    export_stock(path, [cuba.Dense(CUBA, 8, 6)], (8,))
    with h5py.File(path, "r+") as f:
        del f["layer/0/neuron/type"]
        f["layer/0/neuron"].create_dataset("type", (1,), "S10", [b"RF_PHASE"])
    with pytest.raises(FormatError, match=r"resonate-and-fire \(RF_PHASE\) neurons are not "):
        read_network(path)


def test_validate_reports_every_problem_in_one_pass(tmp_path, capsys):
    """A value problem in one layer no longer hides a shape problem in another."""
    from lava_mlsnn.cli import main

    path = str(tmp_path / "two.h5")
    torch.manual_seed(0)
    export_stock(path, [cuba.Dense(CUBA, 8, 6), cuba.Dense(CUBA, 6, 5), cuba.Dense(CUBA, 5, 4)],
                 (8,))
    with h5py.File(path, "r+") as f:
        f["layer/0/neuron/vThMant"][()] = 0
        del f["layer/2/weight"], f["layer/2/inFeatures"]
        f["layer/2"].create_dataset("weight", data=np.zeros((4, 7), dtype=np.float32))
        del f["layer/1/type"]
        f["layer/1"].create_dataset("type", (1,), "S10", [b"unpool"])
    assert main(["validate", path]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert [line.split(path + ": ", 1)[1] for line in err] == [
        "layer/0/neuron/vThMant: must lie in [1, 8388607], got 0",
        "layer/1/type: unpool layers are not supported (stock netx cannot build them either)"]
    with h5py.File(path, "r+") as f:  # with layer 1 readable, layer 2's shape is checked too
        del f["layer/1/type"]
        f["layer/1"].create_dataset("type", (1,), "S10", [b"dense"])
    assert main(["validate", path]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "layer/2" in err[1] and "inputs" in err[1]


def test_recurrent_and_input_neurons_outside_the_lava_backend_say_so(tmp_path):
    """The Loihi 2 runner and the energy model do not cover them: one clear refusal."""
    from lava_mlsnn.backends.loihi2.runner import run_loihi2
    from lava_mlsnn.backends.evaluate import count_run

    torch.manual_seed(0)
    path = str(tmp_path / "rec.h5")
    export_stock(path, [cuba.Recurrent(CUBA, 8, 6), cuba.Dense(CUBA, 6, 4)], (8,))
    spec = read_network(path)
    x = binary(0, (8,), steps=4, batch=1)
    with pytest.raises(ValueError, match="energy model does not count recurrent"):
        count_run(spec, x)
    with pytest.raises(ValueError, match=r"layer 0: recurrent \(dense_rec\) .* loihi2 backend"):
        run_loihi2(spec, x, dry_run=True)
    from lava_mlsnn.backends.loihi2.report import layer_synapses
    assert layer_synapses(spec, 0) == 8 * 6 + 6 * 6


def test_recurrent_synapses_are_counted(tmp_path):
    from lava_mlsnn.metrics.activity import fanout_map
    from lava_mlsnn.metrics.memory import layer_footprint

    torch.manual_seed(0)
    path = str(tmp_path / "rec.h5")
    export_stock(path, [cuba.Recurrent(CUBA, 8, 6), cuba.Dense(CUBA, 6, 4)], (8,))
    spec = read_network(path)
    rec = spec.layers[0].recurrent.weight
    want = (spec.layers[1].branches[0].synapse.weight != 0).sum(0) + (rec != 0).sum(0)
    assert np.array_equal(fanout_map(spec, 0).numpy(), want)
    assert layer_footprint(spec.layers[0])["weights"] == 8 * 6 + 6 * 6
