"""Stock lava-dl files: samples/s of stock netx in Lava vs lava-mlsnn's emulator.

Two networks built from lava-dl's own blocks and exported with lava-dl's
``export_hdf5``: a CUBA conv net (DVS-sized input) and a sigma-delta (SDNN) net of
PilotNet's shape (lava-dl's ``pilotnet_sdnn`` tutorial). Stock ``netx.hdf5.Network``
runs each sample in Lava fixed_pt (one sample per run: netx cannot reset SDNN
neurons; the build and compile are not counted); the emulator runs a batch of the
same file. Every layer of the stock run is compared with the emulator's.

Run: .venv/bin/python benchmarks/bench_stock.py [--stock-samples 2] [--batch 64]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # this checkout's lava_mlsnn
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
from _report import publish, table  # noqa: E402
from stock_netx import aligned, export_stock  # noqa: E402  (the tests' stock-netx driver)

from lava_mlsnn._quiet import quiet_import  # noqa: E402
import lava_mlsnn.backends.emulator as emulator  # noqa: E402
from lava_mlsnn.netx import emulate, read_network  # noqa: E402

slayer = quiet_import("lava.lib.dl.slayer")
CUBA = {"threshold": 1.0, "current_decay": 0.25, "voltage_decay": 0.03, "requires_grad": False}
SDNN = {"threshold": 0.1, "activation": F.relu, "tau_grad": 0.5, "scale_grad": 1,
        "requires_grad": False, "shared_param": True}


def cuba_conv(path: str) -> tuple:
    c = slayer.block.cuba
    torch.manual_seed(0)
    blocks = [c.Conv(CUBA, 2, 16, 3, stride=2, padding=1, weight_scale=3),
              c.Conv(CUBA, 16, 32, 3, stride=2, padding=1, weight_scale=3), c.Flatten(),
              c.Dense(CUBA, 32 * 8 * 8, 64, weight_scale=4), c.Dense(CUBA, 64, 10, weight_scale=4)]
    export_stock(path, blocks, (2, 32, 32))
    return (2, 32, 32), lambda rng, b, t: (rng.random((b, t, 2, 32, 32)) < 0.15).astype(np.int64)


def sdnn_pilotnet(path: str) -> tuple:
    s = slayer.block.sigma_delta
    torch.manual_seed(0)
    blocks = [s.Input(SDNN),
              s.Conv(SDNN, 3, 24, 3, padding=0, stride=2, weight_scale=2),
              s.Conv(SDNN, 24, 36, 3, padding=0, stride=2, weight_scale=2),
              s.Conv(SDNN, 36, 64, 3, padding=(1, 0), stride=(2, 1), weight_scale=2),
              s.Conv(SDNN, 64, 64, 3, padding=0, stride=1, weight_scale=2), s.Flatten(),
              s.Dense(SDNN, 64 * 40, 100, weight_scale=2), s.Dense(SDNN, 100, 50, weight_scale=2),
              s.Dense(SDNN, 50, 10, weight_scale=2), s.Output(SDNN, 10, 1)]
    export_stock(path, blocks, (3, 33, 100))

    def frames(rng, b, t):  # a slowly changing image, as from a dash camera
        base = rng.integers(0, 120, (b, 1, 3, 33, 100))
        return np.clip(base + np.cumsum(rng.integers(-4, 5, (b, t, 3, 33, 100)), 1), 0, 127)
    return (3, 33, 100), frames


def stock_run(path: str, x: np.ndarray, in_chw) -> tuple:
    """One sample ``[T, *CHW]`` in stock netx; (run s, build + compile s, per-block outputs)."""
    netx = quiet_import("lava.lib.dl.netx")
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    whc = tuple(in_chw[::-1])
    net = netx.hdf5.Network(net_config=path, input_shape=whc)
    depth, steps = len(net.layers), x.shape[0]
    data = np.concatenate([x.transpose(3, 2, 1, 0), np.zeros(whc + (depth,))], -1)
    src = Source(data=data.astype(np.int32))
    first = net.layers[0]
    src.s_out.connect(first.neuron.a_in if type(first).__name__ == "Input" else net.inp)
    sinks = []
    for layer in net.layers:
        sinks.append(Sink(shape=layer.out.shape, buffer=steps + depth))
        layer.out.connect(sinks[-1].a_in)
    try:
        cfg = Loihi2SimCfg(select_tag="fixed_pt")
        t = time.perf_counter()
        src.create_runtime(run_cfg=cfg)  # build + compile: reported apart
        build_s = time.perf_counter() - t
        t = time.perf_counter()
        src.run(condition=RunSteps(num_steps=steps + depth))
        run_s = time.perf_counter() - t
        got = [s.data.get() for s in sinks]
    finally:
        src.stop()
    return run_s, build_s, got


def synaptic_limit(spec, x: np.ndarray, outs: dict, repeats: int) -> float:
    """Seconds of the network's synapse sums alone (best of ``repeats``): every branch's
    conv / matmul / sum-pool at every step on the recorded payloads, in the float type
    the emulator picks for that step (float64 only where the step's payloads need it)
    -- the work no emulator step can avoid."""
    from lava_mlsnn.fixed import payload_max, raw_current, sum_dtype
    payload = {-1: torch.as_tensor(x)}
    payload.update(outs)
    work = []
    for layer in spec.layers:
        for br in layer.branches:
            z = payload[br.source]
            for t in range(z.shape[1]):
                zt = z[:, t].to(sum_dtype(br.synapse, payload_max(z[:, t])))
                if br.synapse.kind == "conv":
                    zt = zt.contiguous(memory_format=torch.channels_last)
                work.append((br.synapse, zt))
    for syn, z in work[:len(spec.layers)]:
        raw_current(syn, z)  # warm-up (weights cached per dtype)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        for syn, z in work:
            raw_current(syn, z)
        best = min(best, time.perf_counter() - t)
    return best


def _best_s(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def bench(name: str, make, stock_samples: int, batch: int, steps: int, repeats: int) -> list:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "net.h5")
        in_shape, frames = make(path)
        spec = read_network(path)
        rng = np.random.default_rng(1)
        x = frames(rng, batch, steps)
        t0 = time.perf_counter()
        emulate(spec, x[:2])  # warm-up (weight caches, torch kernels, the layer kernels'
        first_s = time.perf_counter() - t0  # compile or numba cache load)
        ref = emulate(spec, x)
        narrow = emulate(spec, x, narrow=True)
        # the frames as a camera or an event sensor gives them (uint8: the same values)
        x8 = x.astype(np.uint8)
        assert np.array_equal(x8, x)
        narrow8 = emulate(spec, x8, narrow=True)
        emulator.KERNEL_STEP = False  # the step-major loop: the baseline
        step_narrow = emulate(spec, x, narrow=True)
        emulator.KERNEL_STEP = True
        same_narrow = all(torch.equal(narrow[i].to(torch.int64), ref[i]) and
                          torch.equal(narrow8[i], narrow[i]) and
                          torch.equal(step_narrow[i], narrow[i]) for i in ref)
        emu_s, narrow_s, step_s, u8_s = (float("inf"),) * 4
        for _ in range(repeats):  # interleaved: the machine's load moves between runs
            emu_s = min(emu_s, _best_s(lambda: emulate(spec, x), 1))
            narrow_s = min(narrow_s, _best_s(lambda: emulate(spec, x, narrow=True), 1))
            u8_s = min(u8_s, _best_s(lambda: emulate(spec, x8, narrow=True), 1))
            emulator.KERNEL_STEP = False
            step_s = min(step_s, _best_s(lambda: emulate(spec, x, narrow=True), 1))
            emulator.KERNEL_STEP = True
        limit_s = synaptic_limit(spec, x, ref, repeats)
        blocks = [i for i, la in enumerate(spec.layers) if la.type != "flatten"
                  and not (la.type == "input" and la.neuron.type == "INPUT")]
        depths = spec.depths()
        times, builds, same = [], [], True
        for k in range(stock_samples):
            run_s, build_s, got = stock_run(path, x[k], in_shape)
            times.append(run_s)
            builds.append(build_s)
            same &= all(np.array_equal(aligned(g, depths[i], steps), ref[i][k].numpy())
                        for i, g in zip(blocks, got))
        active = all(bool(ref[i][:stock_samples].abs().sum()) for i in blocks)
    stock_sps = 1 / min(times)
    emu_sps, narrow_sps = batch / emu_s, batch / narrow_s
    return [name, f"{len(spec.layers)}", steps, f"{stock_sps:.3f}", f"{emu_sps:.1f}",
            f"{narrow_sps:.1f}", f"{emu_sps / stock_sps:.0f}x / {narrow_sps / stock_sps:.0f}x",
            f"{batch / limit_s:.1f}", f"{narrow_s / limit_s:.2f}x",
            f"{batch / u8_s:.1f} ({u8_s / limit_s:.2f}x, {batch / u8_s / stock_sps:.0f}x)",
            f"{batch / step_s:.1f} ({step_s / limit_s:.2f}x)", f"{first_s:.1f}",
            f"{min(builds):.1f}",
            "yes" if same and active and same_narrow else "NO"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stock-samples", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=5, help="emulator runs (best taken)")
    a = ap.parse_args()
    rows = [bench("lava-dl CUBA conv (2x32x32, conv16-conv32-fc64-fc10)", cuba_conv,
                  a.stock_samples, a.batch, a.steps, a.repeats),
            bench("lava-dl SDNN PilotNet (3x33x100, 4 conv + 4 dense)", sdnn_pilotnet,
                  a.stock_samples, a.batch, a.steps, a.repeats)]
    body = table(["network", "layers", "T", "stock netx (samples/s)", "emulator (samples/s)",
                  "emulator, narrow records (samples/s)", "speed-up (target >= 150x)",
                  "limit: synapse sums alone (samples/s)", "narrow / limit per step "
                  "(target <= 1.5x)", "narrow, uint8 frames (samples/s, / limit, "
                  "vs stock)", "step-major, narrow (samples/s, / limit)",
                  "emulator first call (s)", "stock build + compile (s)",
                  "every layer identical"],
                 rows)
    body += (f"\n\nStock netx: one sample per Lava run (T + depth steps), the fastest of "
             f"{a.stock_samples} samples; its build and compile, paid once per file, in its "
             f"own column. Emulator: one batch of {a.batch} samples, every layer recorded "
             f"(int64, or narrow: emulate(narrow=True), as evaluate runs), best of "
             f"{a.repeats} runs interleaved with the same frames as uint8 (narrow records; "
             "the emulator reads a narrow integer input as it is) and with the step-major loop "
             "(emulator.KERNEL_STEP = False, the baseline); its first call (2 samples: "
             "the layer kernels' compile, or their load from numba's cache) in its own "
             "column. Limit: every synapse's conv / matmul / sum-pool at every "
             "step on the recorded payloads in the emulator's float type for that step, "
             "best of "
             f"{a.repeats}. Identical: every stock block's output at every step equals the "
             "emulator's (int64 and narrow), and every compared layer is active. "
             f"torch threads: {torch.get_num_threads()}.\n")
    publish("Stock lava-dl files: stock netx vs the emulator",
            f".venv/bin/python benchmarks/bench_stock.py --stock-samples {a.stock_samples} "
            f"--batch {a.batch} --steps {a.steps}", body)


if __name__ == "__main__":
    main()
