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


#: PilotNet SDNN conv layers (benchmarks/bench_stock.py): (C_in, H, W, C_out, stride,
#: padding, name), at the densities of its sigma-delta payloads
CONVS = ((3, 33, 100, 24, (2, 2), (0, 0), "conv1 3x33x100 -> 24"),
         (24, 16, 49, 36, (2, 2), (0, 0), "conv2 24x16x49 -> 36"),
         (36, 7, 24, 64, (2, 1), (1, 0), "conv3 36x7x24 -> 64"),
         (64, 4, 22, 64, (1, 1), (0, 0), "conv4 64x4x22 -> 64"))
CONV_DENSITIES = (0.01, 0.02, 0.05, 0.13, 0.36)


def _conv_scatter():
    from numba import njit

    @njit(cache=False)
    def scatter(z, wt, sy, sx, py, px, out):
        # z [F, H, W, C] channels-last payloads; wt [KH, KW, C, O]; out [F, OH, OW, O]
        nf, h, w, c = z.shape
        kh, kw, _, o = wt.shape
        oh, ow = out.shape[1], out.shape[2]
        for f in range(nf):
            out[f] = 0
            for y in range(h):
                for x in range(w):
                    for ci in range(c):
                        v = z[f, y, x, ci]
                        if v == 0:
                            continue
                        for ky in range(kh):
                            ny = y + py - ky
                            if ny < 0 or ny % sy or ny // sy >= oh:
                                continue
                            for kx in range(kw):
                                nx = x + px - kx
                                if nx < 0 or nx % sx or nx // sx >= ow:
                                    continue
                                row, wr = out[f, ny // sy, nx // sx], wt[ky, kx, ci]
                                for k in range(o):
                                    row[k] += v * wr[k]
    return scatter


def conv_table(repeats: int, frames: int = 48) -> None:
    """Dense conv vs the event scatter on the PilotNet SDNN layers (1 thread)."""
    import torch.nn.functional as F
    scatter = _conv_scatter()
    print("\n| conv layer (frames) | nonzero payloads | dense conv (ms) | event scatter (ms) | "
          "faster | identical |")
    print("|---|---|---|---|---|---|")
    for c_in, h, w, c_out, stride, pad, name in CONVS:
        wgt = torch.randint(-60, 61, (c_out, c_in, 3, 3)).float()
        wt = wgt.permute(2, 3, 1, 0).contiguous().numpy()
        for density in CONV_DENSITIES:
            z = ((torch.rand(frames, c_in, h, w) < density)
                 * torch.randint(-300, 301, (frames, c_in, h, w))).float()
            z = z.contiguous(memory_format=torch.channels_last)
            want = F.conv2d(z, wgt, stride=stride, padding=pad)
            out = torch.empty(want.shape, dtype=torch.float32,
                              memory_format=torch.channels_last)
            zn, on = z.permute(0, 2, 3, 1).numpy(), out.permute(0, 2, 3, 1).numpy()
            run = lambda: scatter(zn, wt, *stride, *pad, on)  # noqa: E731
            run()  # compile
            same = torch.equal(out, want)
            times = {"dense": _best_ms(lambda: F.conv2d(z, wgt, stride=stride, padding=pad),
                                       repeats), "scatter": _best_ms(run, repeats)}
            print(f"| {name} ({frames}) | {100 * density:.0f} % | {times['dense']:.2f} | "
                  f"{times['scatter']:.2f} | {min(times, key=times.get)} | "
                  f"{'yes' if same else 'NO'} |")


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
    conv_table(a.repeats)


if __name__ == "__main__":
    main()
