"""Blocks show their real parameters (help, inspect, Sphinx) and document them."""
import inspect
import pydoc

import pytest

from lava_mlsnn import block
from lava_mlsnn.block import cuba, sigma_delta

BLOCKS = [block.Dense, block.Readout, block.Conv, block.Pool, cuba.Dense, cuba.Conv,
          sigma_delta.Dense, sigma_delta.Conv]


@pytest.mark.parametrize("cls", BLOCKS, ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_signature_names_the_real_parameters(cls):
    params = list(inspect.signature(cls).parameters)
    assert params[0] == "neuron_params"
    assert "args" not in params
    text = pydoc.plain(pydoc.render_doc(cls))
    assert f"{cls.__name__}(neuron_params" in text  # help()'s header line
    assert "__init__(self, *args" not in text
    doc = inspect.getdoc(cls)
    assert "Parameters\n----------" in doc and "neuron_params" in doc


def test_lava_dl_argument_names_and_aligned_default():
    assert list(inspect.signature(block.Dense).parameters)[:3] == \
        ["neuron_params", "in_neurons", "out_neurons"]
    conv = inspect.signature(block.Conv).parameters
    assert list(conv)[:4] == ["neuron_params", "in_features", "out_features", "kernel_size"]
    assert conv["stride"].default == 1 and conv["delay_shift"].default is False
    assert inspect.signature(cuba.Dense).parameters["delay_shift"].default is False


def test_decorated_init_still_runs_and_binds_by_name():
    d = block.Dense({"threshold": 0.5}, in_neurons=4, out_neurons=3, weight_scale=1)
    assert tuple(d.synapse.weight.shape[:2]) == (3, 4)
    c = block.Conv({}, 2, 5, kernel_size=3, padding=1)
    assert c.synapse.out_channels == 5 and tuple(c.synapse.padding[:2]) == (1, 1)


def test_neuron_keys_documented_where_the_blocks_are():
    from lava_mlsnn.neuron import lava_dl
    for key in ("tau_grad", "scale_grad", "requires_grad", "shared_param", "graded_spike",
                "norm", "dropout", "persistent_state"):
        assert f"``{key}``" in lava_dl.__doc__
    assert "lava_mlsnn.neuron.lava_dl" in inspect.getdoc(block.Dense)
