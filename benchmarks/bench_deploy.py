"""Deployment speed: emulator vs Lava on the demo network (and the emulator against the
float32 synaptic-sum limit of this machine), and lava-mlsnn's Network Process running a
multi-level network vs stock lava-dl netx running the same-shape CUBA network.

Run: .venv/bin/python benchmarks/bench_deploy.py [--samples N] [--repeats R]
(Trains the demo network for a few epochs first if runs/demo/digits_mlsn.h5 is absent.)
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import publish, table  # noqa: E402

from lava_mlsnn._quiet import import_lava_runtime, quiet_import  # noqa: E402
from lava_mlsnn.fixed import NeuronParams  # noqa: E402
from lava_mlsnn.netx import Network, emulate, read_network, run_lava  # noqa: E402

DEMO = "runs/demo/digits_mlsn.h5"


def _best_rate(fn, n: int, repeats: int) -> float:
    """Samples/s of the fastest of ``repeats`` calls (the machine is shared: the best run
    is the one least disturbed)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n / best


def synaptic_limit(spec, x: np.ndarray, repeats: int) -> tuple:
    """Samples/s of the network's synaptic sums alone, in float32 (the operation the
    emulator cannot avoid: conv / matmul / sum-pool on the recorded payloads), and the
    synaptic operations per sample."""
    from lava_mlsnn.fixed import raw_current
    outs = emulate(spec, x)
    payload = {-1: torch.as_tensor(x)}
    payload.update(outs)
    inputs = []
    ops = 0
    for i, layer in enumerate(spec.layers):
        for br in layer.branches:
            z = payload[br.source][:, 0].to(torch.float32)
            if br.synapse.kind == "conv":  # the fastest layout here (fixed.raw_current)
                z = z.contiguous(memory_format=torch.channels_last)
            inputs.append((br.synapse, z))
            ops += br.synapse.fan_in() * layer.size
    for syn, z in inputs:
        raw_current(syn, z)  # warm-up (weights cached per dtype)

    def run():
        for syn, z in inputs:
            raw_current(syn, z)
    return _best_rate(run, len(x), repeats), ops


def demo_network_vs_emulator(samples: int, repeats: int) -> list:
    if not os.path.exists(DEMO):
        from lava_mlsnn.demo import main as demo
        demo(["--epochs", "3", "--no-progress", "--lava-min-samples", "8"])
    spec = read_network(DEMO)
    from lava_mlsnn.data import DigitsDVS, FramedDataset, framing
    test = DigitsDVS("test")
    framed = FramedDataset(test, framing(test.sensor_size, 1, clip=spec.input_levels))
    x = torch.stack([framed[i][0] for i in range(len(framed))]).numpy()  # [B, T, C, H, W]
    emu = emulate(spec, x)
    t0 = time.perf_counter()
    emu_fused = emulate(spec, x, fused=True)  # compiles: the first-call latency
    first = time.perf_counter() - t0
    same_fused = all(torch.equal(emu[i], emu_fused[i]) for i in emu)
    rates = {False: [], True: []}
    for _ in range(3):  # interleaved A/B rounds (the machine is shared): median of 3 bests
        for fused in rates:
            rates[fused].append(_best_rate(lambda: emulate(spec, x, fused=fused), len(x),
                                           repeats))
    plain_rate, fused_rate = (statistics.median(rates[f]) for f in (False, True))
    t0 = time.perf_counter()
    lava = run_lava(spec, x[:samples])
    lava_rate = samples / (time.perf_counter() - t0)
    same = all(np.array_equal(lava[i], emu[i][:samples].numpy()) for i in lava)
    limit, ops = synaptic_limit(spec, x, repeats)
    name = "demo network (conv16-conv32-pool-dense64-readout, T=1)"
    return [[name, f"{rate:.0f} ({len(x)} samples)", f"{lava_rate:.1f} ({samples} samples)",
             f"{rate / lava_rate:.0f}x", ok, f"{limit:.0f} ({ops / 1e6:.2f} M synaptic ops "
             "/ sample)", f"{100 * rate / limit:.0f} %"]
            for name, rate, ok in [
                (name, plain_rate, "yes" if same else "NO"),
                (f"same, fused=True (first call {first:.1f} s)", fused_rate,
                 "yes" if same and same_fused else "NO")]]


def _stock_file(path: str, kind: str, rng_seed: int = 0):
    slayer = quiet_import("lava.lib.dl.slayer")
    torch.manual_seed(rng_seed)
    params = {"threshold": 1.0, "current_decay": 0.25, "voltage_decay": 0.03,
              "requires_grad": False}
    cuba = slayer.block.cuba
    if kind == "dense":
        sizes = [512, 256, 64, 10]
        blocks = [cuba.Dense(params, a, b, weight_scale=2) for a, b in zip(sizes, sizes[1:])]
        shape = (sizes[0],)
    else:
        blocks = [cuba.Conv(params, 2, 8, 3, padding=1, weight_scale=3),
                  cuba.Conv(params, 8, 8, 3, padding=1, stride=2, weight_scale=3),
                  cuba.Flatten(), cuba.Dense(params, 8 * 8 * 8, 10, weight_scale=2)]
        shape = (2, 16, 16)
    with torch.no_grad():
        s = torch.zeros((1,) + shape + (2,))
        for b in blocks:
            s = b(s)
    with h5py.File(path, "w") as h:
        group = h.create_group("layer")
        for i, b in enumerate(blocks):
            b.export_hdf5(group.create_group(str(i)))
    return shape


def _stock_netx_step(path: str, x: np.ndarray, shape) -> float:
    """Seconds per step of stock netx (fixed_pt) streaming ``x`` [N, *shape]."""
    import_lava_runtime()
    netx = quiet_import("lava.lib.dl.netx")
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer
    lava_shape = tuple(reversed(shape)) if len(shape) == 3 else shape
    net = netx.hdf5.Network(net_config=path, input_shape=lava_shape if len(shape) == 3 else None)
    data = x.reshape(len(x), -1).T if len(shape) == 1 else x.transpose(3, 2, 1, 0)
    src = RingBuffer(data=np.ascontiguousarray(data).astype(np.int32))
    sink = Sink(shape=net.out.shape, buffer=len(x))
    src.s_out.connect(net.inp)
    net.out.connect(sink.a_in)
    try:
        src.run(condition=RunSteps(num_steps=5), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        t0 = time.perf_counter()
        src.run(condition=RunSteps(num_steps=len(x) - 5))
        return (time.perf_counter() - t0) / (len(x) - 5)
    finally:
        src.stop()


def _ours_step(spec, x: np.ndarray) -> float:
    """Seconds per step of lava-mlsnn's Network Process, wired exactly as stock netx is
    above (stock RingBuffer source -> net.inp, net.out -> stock RingBuffer sink)."""
    import_lava_runtime()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer
    net = Network(net_config=spec, input_shape=x.shape[1:])
    src = RingBuffer(data=np.ascontiguousarray(np.moveaxis(x, 0, -1)).astype(np.int32))
    sink = Sink(shape=net.out.shape, buffer=len(x))
    src.s_out.connect(net.inp)
    net.out.connect(sink.a_in)
    try:
        src.run(condition=RunSteps(num_steps=5), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        t0 = time.perf_counter()
        src.run(condition=RunSteps(num_steps=len(x) - 5))
        return (time.perf_counter() - t0) / (len(x) - 5)
    finally:
        src.stop()


def mlsn_vs_stock_cuba(steps: int) -> list:
    rows = []
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("dense", "conv"):
            path = os.path.join(tmp, f"{kind}.h5")
            shape = _stock_file(path, kind)
            spec = read_network(path)
            mlsn = replace(spec, layers=[replace(layer, neuron=NeuronParams("MLSN", 64, 3))
                                         if layer.neuron is not None else layer
                                         for layer in spec.layers])
            x = (rng.random((steps, 1) + shape) < 0.3).astype(np.int64)
            times = {"stock": [], "mlsn": []}
            for _ in range(3):
                times["stock"].append(_stock_netx_step(path, x[:, 0], shape))
                times["mlsn"].append(_ours_step(mlsn, x[:, 0]))
            t_stock = statistics.median(times["stock"])
            t_mlsn = statistics.median(times["mlsn"])
            name = "dense 512-256-64-10" if kind == "dense" else \
                "conv 2x16x16 -> 8 -> 8 (stride 2) -> dense 10"
            rows.append([name, f"{1e3 * t_mlsn:.2f}", f"{1e3 * t_stock:.2f}",
                         f"{t_mlsn / t_stock:.2f}x"])
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=128, help="Lava samples (demo network)")
    parser.add_argument("--steps", type=int, default=300, help="steps per timing run")
    parser.add_argument("--repeats", type=int, default=7, help="emulator runs (best taken)")
    args = parser.parse_args(argv)
    rows = demo_network_vs_emulator(args.samples, args.repeats)
    part1 = table(["network", "emulator samples/s", "Lava fixed_pt samples/s",
                   "emulator / Lava (target >= 100x)", "identical outputs",
                   "limit: float32 synaptic sums alone, samples/s", "emulator / limit"], rows)
    part2 = table(["network (same shape)", "lava-mlsnn Network Process MLSN (ms/step)",
                   "stock netx CUBA (ms/step)", "ratio (target <= 1.5x)"],
                  mlsn_vs_stock_cuba(args.steps))
    body = (part1 + f"\n\nEmulator: median of 3 interleaved rounds (plain, fused) of the best "
            f"of {args.repeats} runs over the whole test split (the machine is shared); "
            "fused=True: each single-branch layer's rounding, saturation and neuron step "
            "compiled by torch.compile (inductor) into one kernel, its first call including "
            f"the compilation; limit: best of {args.repeats} runs; Lava: one streamed run "
            "(build included, as a user runs it). The limit times only the conv / matmul / "
            "sum-pool of every synapse in float32 on the recorded payloads, which the emulator "
            "computes too.\n\n"
            "Lava time per step, median of 3 runs of " + f"{args.steps} steps; both wired the "
            "same way (stock RingBuffer source into net.inp, net.out into a stock RingBuffer "
            "sink):\n\n" + part2)
    publish("Deployment: emulator vs Lava, and MLSN in Lava vs stock netx CUBA",
            ".venv/bin/python benchmarks/bench_deploy.py", body)


if __name__ == "__main__":
    main()
