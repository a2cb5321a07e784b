"""WS-DR study on motion digits: Q-SNN's weight-spike dual regulation at 1-bit weights, each
half ablated, and the per-channel scale of Q-SNN's code.

Binary spikes, T = 4, the convnet with 1-bit hidden weights (first and last layers 8-bit);
WS-DR = per-channel weight standardization before sign (weight half) + the spike-entropy
term ``5e-3 * mean_l (r_l - 0.5)^2`` over the hidden layers (spike half), exactly as
``paper_qsnn.md`` gives them. The same variants (but the channel scale, bit-identical to
one scale per layer) also run at five times the budget (20 epochs, names ending in
``_e20``), to tell a budget effect from the method's. ``w1_weight_half_raw_unit`` tests why
the weight half hurts: the signs of the standardized weights with the power-of-two unit of
the raw weights (``BinaryWeight(unit='raw')``; standardization alone sets the unit to 1,
2^5-2^6 times the raw one at initialization). Resumable (``benchmarks/results/wsdr.json``).
Run: nice -n 10 .venv/bin/python benchmarks/study_wsdr.py [--epochs 4] [--seeds 0 1 2]
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _study import SIZE, study_main  # noqa: E402
from _study_report import wsdr_report  # noqa: E402

from lava_mlsnn.models import dvs_convnet  # noqa: E402
from lava_mlsnn.quant import (BinaryWeight, SpikeEntropy,  # noqa: E402
                              configure_binary_weights)

T, LONG = 4, 20
VARIANTS = {  # name -> (weight bits, standardize, spike term, 1-bit unit)
    "w8": (None, False, False, "layer"),
    "w1_plain": (1, False, False, "layer"),
    "w1_weight_half": (1, True, False, "layer"),
    "w1_spike_half": (1, False, True, "layer"),
    "w1_wsdr": (1, True, True, "layer"),
    "w1_wsdr_channel_scale": (1, True, True, "channel"),
    "w1_weight_half_raw_unit": (1, True, False, "raw"),
}


def _build(bits, standardize, unit):
    def build(seed):
        net = dvs_convnet((2, SIZE, SIZE), 20, levels=1, timesteps=T, weight_bits=bits,
                          standardize=standardize)
        if unit == "channel":
            for m in net.modules():
                if isinstance(m, BinaryWeight):
                    m.scale = "channel"
        elif unit == "raw":
            configure_binary_weights(net, standardize=True, unit="raw")
        return net
    return build


def variants(epochs: int):
    def run(bits, std, spike, unit, n_epochs):
        return dict(timesteps=T, epochs=n_epochs, build=_build(bits, std, unit),
                    regularizer=SpikeEntropy(5e-3) if spike else None)
    out = {name: run(*v, epochs) for name, v in VARIANTS.items()}
    out.update({f"{name}_e{LONG}": run(*v, LONG) for name, v in VARIANTS.items()
                if not name.endswith("channel_scale")})
    return out


def main(argv=None):
    study_main("wsdr", variants, wsdr_report, epochs=4, argv=argv)


if __name__ == "__main__":
    main()
