"""Peer framework -> NIR -> lava-mlsnn: snnTorch, Norse and Sinabs nets trained on the
embedded digits (2x8x8, T=6), written by each framework's own NIR exporter, imported,
folded to integers and run. Columns: the peer's float test accuracy, the deployed integer
net's (emulator), prediction agreement, emulator == Lava on every layer, and the time of
the conversion (peer export + import + fold + HDF5 write).

Run: .venv/bin/python benchmarks/bench_nir.py [--steps N] [--lava-samples N]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))  # the peer nets of the tests
import peerkit as pk  # noqa: E402
from _report import publish, table  # noqa: E402

from lava_mlsnn.format import write_network  # noqa: E402
from lava_mlsnn.netx import emulate, run_lava  # noqa: E402
from lava_mlsnn.nir import read_nir  # noqa: E402


def _peers(steps: int):
    """(name, forward, params, export() -> graph, read_nir options, flat input, train steps)."""
    import norse.torch as nt
    import sinabs
    import snntorch as snn
    from snntorch import utils as snn_utils
    from snntorch.export_nir import export_to_nir

    s_net = pk.snntorch_net(snn)

    def s_fwd(x):
        snn_utils.reset(s_net)
        return sum(s_net(x[:, t].reshape(len(x), -1))[0] for t in range(x.shape[1]))

    n_net = pk.norse_net(nt)

    def n_fwd(x):
        state, total = None, 0
        for t in range(x.shape[1]):
            z, state = n_net(x[:, t].reshape(len(x), -1), state)
            total = total + z
        return total

    b_net, b_fwd = pk.sinabs_net(sinabs)
    return [
        (f"snnTorch {snn.__version__} (Leaky, reset zero)", s_fwd, s_net,
         lambda: export_to_nir(s_net, torch.zeros(pk.N_IN)), dict(reset="zero"), True, steps),
        ("Norse 1.1.0 (LIFBoxCell)", n_fwd, n_net,
         lambda: nt.to_nir(n_net, torch.zeros(1, pk.N_IN)),
         dict(reset="zero", dt=pk.NORSE_DT ** 2), True, steps),
        (f"Sinabs {sinabs.__version__} (IAF MaxSpike {pk.SINABS_LEVELS}, conv+sumpool)", b_fwd,
         b_net, lambda: sinabs.to_nir(b_net, torch.zeros(pk.T, 2, *pk.SIZE)),
         dict(reset="subtract", levels=pk.SINABS_LEVELS), False, max(steps // 2, 1)),
    ]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300, help="Adam steps per peer (batch 32)")
    ap.add_argument("--lava-samples", type=int, default=64)
    args = ap.parse_args(argv)
    (xtr, ytr), (xte, yte) = pk.digits("train", 1438), pk.digits("test", 359)
    rows = []
    out_dir = tempfile.mkdtemp(prefix="bench-nir-")
    for name, fwd, net, export, opts, flat, steps in _peers(args.steps):
        train_s = pk.train(fwd, net.parameters(), xtr, ytr, steps=steps)
        with torch.no_grad():
            counts = fwd(torch.from_numpy(xte).float())
        t0 = time.perf_counter()
        spec = read_nir(export(), timesteps=pk.T, **opts)
        write_network(spec, os.path.join(out_dir, "net.h5"))
        convert_s = time.perf_counter() - t0
        x = xte.reshape(len(xte), pk.T, -1) if flat else xte
        emu = emulate(spec, torch.from_numpy(x))
        a = pk.agreement(spec, emu, counts, yte)
        n = min(args.lava_samples, len(x))
        lava = run_lava(spec, x[:n])
        same = all(np.array_equal(lava[i], emu[i][:n].numpy()) for i in emu)
        rows.append([name, f"{steps} ({train_s:.0f} s)", f"{a['acc_float']:.3f}",
                     f"{a['acc_int']:.3f}", f"{a['agree']:.3f}",
                     f"{'yes' if same else 'NO'} ({n} samples, all layers)",
                     f"{convert_s:.2f}"])
    body = table(["peer -> NIR -> lava-mlsnn", "train steps", "float acc (peer)",
                  "integer acc (deployed)", "prediction agreement", "emulator == Lava",
                  "conversion s"], rows)
    body += ("\n\nDigits test split (359 samples), 2x8x8 binary input, T = 6. Conversion = "
             "the peer's NIR export + `read_nir` (import, fold to integers) + HDF5 write. "
             "The agreement is the quantization error measured end to end: 8-bit weights, "
             "decays on the 1/4096 grid rounded toward zero, and (snnTorch, Norse) NIR's "
             "`v > th` on integers.")
    publish("NIR: peer frameworks -> lava-mlsnn", "python benchmarks/bench_nir.py", body)


if __name__ == "__main__":
    main()
