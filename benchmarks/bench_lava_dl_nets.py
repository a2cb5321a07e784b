"""The trained netx files lava-dl ships: identical to stock netx, and how fast.

Per file of ``/work/shared/lava-dl-nets``: netx blocks; blocks whose every output at
every Lava step equals stock ``netx.hdf5.Network``'s (Lava fixed_pt), for lava-mlsnn's
emulator and for its Lava backend, both in stock netx's pipelined timing
(:mod:`lava_mlsnn.backends.pipelined`); and the time of one sample (``T`` input steps
plus the pipeline's depth) in stock netx and in the emulator, best of several on both
sides, with the build (netx: Network + Lava compile; ours: reading the file, and the
first calls that compile the time loops) apart; batched, with int64 and narrow records.
The input conventions are those of ``tests/test_lava_dl_nets.py``.

Run: .venv/bin/python benchmarks/bench_lava_dl_nets.py [--steps 2] [--repeat 3] [--batch 64]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import h5py
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # this checkout's lava_mlsnn
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
from _report import publish, table  # noqa: E402
from test_lava_dl_nets import DENSITY, FILES, NETS, _sample  # noqa: E402  (the same inputs)

from lava_mlsnn._quiet import quiet_import  # noqa: E402
from lava_mlsnn.backends.pipelined import emulate_pipelined, run_lava_pipelined  # noqa: E402
from lava_mlsnn.format import read_network  # noqa: E402


def stock_run(path: str, x: np.ndarray, total: int) -> tuple:
    """One sample ``[T, *CHW]`` in stock netx: (run s, build s, per-block ``[steps, *CHW]``)."""
    netx = quiet_import("lava.lib.dl.netx")
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    t = time.perf_counter()
    x_whc = x.T if x.ndim == 2 else x.transpose(3, 2, 1, 0)
    whc = tuple(x_whc.shape[:-1]) if x.ndim == 4 else None
    net = netx.hdf5.Network(net_config=path, input_shape=whc)
    data = np.concatenate([x_whc, np.zeros(x_whc.shape[:-1] + (total - x.shape[0],))], -1)
    src = Source(data=data.astype(np.int32))
    first = net.layers[0]
    src.s_out.connect(first.neuron.a_in if type(first).__name__ == "Input" else net.inp)
    sinks = []
    for layer in net.layers:
        sinks.append(Sink(shape=layer.out.shape, buffer=total))
        layer.out.connect(sinks[-1].a_in)
    try:
        src.create_runtime(run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        build_s = time.perf_counter() - t
        t = time.perf_counter()
        src.run(condition=RunSteps(num_steps=total))
        run_s = time.perf_counter() - t
        got = []
        for s in sinks:
            g = np.moveaxis(s.data.get(), -1, 0)
            got.append(g.transpose(0, 3, 2, 1) if g.ndim == 4 else g)
    finally:
        src.stop()
    return run_s, build_s, got


def bench(name: str, steps: int, repeat: int, batch: int) -> list:
    path = os.path.join(NETS, name)
    t = time.perf_counter()
    spec = read_network(path)
    read_s = time.perf_counter() - t
    x = _sample(spec, steps, DENSITY.get(name, 0.3))
    total = steps + max(spec.depths())
    with h5py.File(path, "r") as f:
        blocks = [i for i, la in enumerate(spec.layers) if la.type != "flatten"
                  and not (la.type == "input" and "neuron" not in f[f"layer/{i}"])]
    t = time.perf_counter()
    emulate_pipelined(spec, x)  # compiles (or loads from numba's cache) the time loops
    emulate_pipelined(spec, x, narrow=True)
    first_s = time.perf_counter() - t
    emu_s, ours = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        ours = emulate_pipelined(spec, x)
        emu_s.append(time.perf_counter() - t)
    xb = np.repeat(x, batch, axis=0)  # the same sample, a batch of them
    batch_s = []
    for _ in range(repeat):
        t = time.perf_counter()
        ours_b = emulate_pipelined(spec, xb)
        batch_s.append(time.perf_counter() - t)
    assert all(torch.equal(ours_b[i], ours[i].expand_as(ours_b[i])) for i in ours)
    narrow_s = []
    for _ in range(repeat):
        t = time.perf_counter()
        ours_n = emulate_pipelined(spec, xb, narrow=True)
        narrow_s.append(time.perf_counter() - t)
    assert all(torch.equal(ours_n[i].to(torch.int64), ours_b[i]) for i in ours)
    lava = run_lava_pipelined(spec, x)
    stock_s, build_s, stock = [], [], None
    for _ in range(max(1, repeat - 1)):  # each stock run costs a Lava build
        run_s, b_s, stock = stock_run(path, x[0], total)
        stock_s.append(run_s)
        build_s.append(b_s)
    assert len(stock) == len(blocks)
    same_emu = sum(np.array_equal(ours[i][0].numpy(), s) for i, s in zip(blocks, stock))
    same_lava = sum(np.array_equal(lava[i][0], s) for i, s in zip(blocks, stock))
    active = sum(bool(np.count_nonzero(s)) for s in stock)
    best_stock, best_emu = min(stock_s), min(emu_s)
    print(f"{name}: {same_emu}/{len(blocks)} emulator, {same_lava}/{len(blocks)} Lava, "
          f"stock {best_stock:.2f} s, emulator {best_emu * 1e3:.1f} ms", flush=True)
    return [name, len(blocks), active, f"{same_emu}/{len(blocks)}", f"{same_lava}/{len(blocks)}",
            f"{steps} + {total - steps}", f"{best_stock * 1e3:,.0f}", f"{best_emu * 1e3:,.1f}",
            f"{best_stock / best_emu:,.0f}x", f"{min(batch_s) / batch * 1e3:,.2f}",
            f"{best_stock * batch / min(batch_s):,.0f}x", f"{min(narrow_s) / batch * 1e3:,.2f}",
            f"{best_stock * batch / min(narrow_s):,.0f}x", f"{min(build_s):.1f}",
            f"{read_s * 1e3:.0f}", f"{first_s:.2f}"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=2, help="input steps per sample")
    ap.add_argument("--repeat", type=int, default=3, help="emulator runs (stock: one fewer)")
    ap.add_argument("--batch", type=int, default=64, help="samples of the batched emulator run")
    ap.add_argument("--files", nargs="*", default=list(FILES))
    args = ap.parse_args()
    rows = [bench(name, args.steps, args.repeat, args.batch) for name in args.files]
    body = table(["file", "blocks", "active", "identical (emulator)", "identical (Lava)",
                  "Lava steps (T + fill)", "stock netx run (ms)", "emulator run (ms)",
                  "speed-up", f"emulator, batch of {args.batch} (ms per sample)",
                  "batched speed-up (target >= 150x)", "narrow records, batch (ms per sample)",
                  "narrow batched speed-up", "stock build (s)", "our read (ms)",
                  "our first calls (s)"],
                 rows)
    body += ("\n\nPipelined timing (stock netx's), one sample, best of "
             f"{args.repeat} emulator / {max(1, args.repeat - 1)} stock runs; identical = "
             "every output of the block at every Lava step equals stock netx's. Batched: "
             f"{args.batch} copies of the sample in one emulator run (stock netx runs one "
             "sample per Lava run), its time per sample; narrow: the same run with "
             "narrow=True (each layer recorded in the narrowest type that holds its bound). "
             "Our first calls: the first int64 and narrow runs of one sample in the process "
             "(numba compiles or loads the time loops), not in the best-of figures. "
             "Measured on a shared 2-core "
             f"machine under load, torch threads: {torch.get_num_threads()}.")
    publish("Trained lava-dl netx files: identical to stock netx, speed",
            f"python benchmarks/bench_lava_dl_nets.py --steps {args.steps} "
            f"--repeat {args.repeat} --batch {args.batch}", body)


if __name__ == "__main__":
    main()
