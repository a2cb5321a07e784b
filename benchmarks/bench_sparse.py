"""Where an event-driven (sparse) synapse would pay on the CPU: a dense synapse's float
sum as torch computes it in the emulator (``z @ W.T``) vs the same sum from the events
alone -- a CSR payload times the weights, and a gather of the weight columns of the
nonzero payloads -- at the activity densities of binary nets (93 % zeros at T >= 8) and
above. Every variant gives the same integers (checked); the table says which is faster.

Run: .venv/bin/python benchmarks/bench_sparse.py [--repeats R]
"""
from __future__ import annotations

import argparse
import warnings

import torch

SHAPES = ((64, 784, 128, "MNIST fc (784-128)"), (64, 2048, 64, "CUBA conv net fc (2048-64)"),
          (64, 2560, 100, "PilotNet fc (2560-100)"), (256, 4096, 512, "wide fc (4096-512)"))
DENSITIES = (0.02, 0.07, 0.2, 0.5)


def _best_ms(fn, repeats: int) -> float:
    import time
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1e3


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=20)
    a = ap.parse_args(argv)
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
    torch.manual_seed(0)
    print("| layer (batch) | nonzero payloads | dense sum (ms) | CSR events (ms) | "
          "gathered events (ms) | faster | identical |")
    print("|---|---|---|---|---|---|---|")
    for batch, n_in, n_out, name in SHAPES:
        w = torch.randint(-127, 128, (n_out, n_in)).float()
        wt = w.T.contiguous()
        for density in DENSITIES:
            z = (torch.rand(batch, n_in) < density).float() * torch.randint(1, 8, (batch, n_in))

            def csr():
                return z.to_sparse_csr() @ wt

            def gather():
                b, j = z.nonzero(as_tuple=True)
                return torch.zeros(batch, n_out).index_add_(0, b, wt[j] * z[b, j, None])
            want = z @ w.T
            same = torch.equal(csr(), want) and torch.equal(gather(), want)
            times = {"dense": _best_ms(lambda: z @ w.T, a.repeats),
                     "CSR": _best_ms(csr, a.repeats), "gather": _best_ms(gather, a.repeats)}
            print(f"| {name} ({batch}) | {100 * density:.0f} % | {times['dense']:.3f} | "
                  f"{times['CSR']:.3f} | {times['gather']:.3f} | {min(times, key=times.get)} | "
                  f"{'yes' if same else 'NO'} |")
    print(f"\ntorch {torch.__version__}, {torch.get_num_threads()} threads; best of "
          f"{a.repeats} runs. Sums below 2**24: float32 is exact in any order.")


if __name__ == "__main__":
    main()
