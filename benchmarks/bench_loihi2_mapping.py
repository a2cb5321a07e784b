"""Loihi 2 compiler cores (published, lava-dl notebooks) vs lava-mlsnn's estimate, per layer.

Run: python benchmarks/bench_loihi2_mapping.py [NETS_DIR]
"""
from __future__ import annotations

import sys
from pathlib import Path

from lava_mlsnn.backends.loihi2.mapping import estimate_file

#: Published cores per layer, input side first (shared/lava-dl-nets/loihi2_allocations.md).
PUBLISHED = {
    "tut_netx_pilotnet_sdnn_network.net": ([25, 13, 3, 3, 2, 12, 1, 1, 1], False),
    "test_netx_gts_pilotnet_lif_network.net": ([13, 25, 13, 3, 3, 2, 12, 1, 1, 1], True),
    "tut_netx_mnist_trained_mnist_network.net": ([3, 1, 1], False),
}


def main() -> None:
    nets = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / \
        "shared" / "lava-dl-nets"
    for name, (published, count_input) in PUBLISHED.items():
        rows = estimate_file(nets / name, count_input=count_input)
        print(f"\n{name}\n| layer | compiler cores | estimate cores | est. neurons/core | "
              "est. syn words/core | binds |\n|---|---|---|---|---|---|")
        for (label, m), p in zip(rows, published):
            print(f"| {label} | {p} | {m.cores} | {m.neurons_per_core} | "
                  f"{m.syn_words_per_core} | {m.binds} |")
        print(f"| **total** | **{sum(published)}** | **{sum(m.cores for _, m in rows)}** | | | |")


if __name__ == "__main__":
    main()
