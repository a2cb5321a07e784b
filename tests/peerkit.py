"""Small networks trained briefly in the peer frameworks on the embedded digits, and the
comparisons the NIR tests and ``benchmarks/bench_nir.py`` share."""
from __future__ import annotations

import os
import tempfile
import time
from typing import Callable, Dict, Tuple

import numpy as np
import torch

from lava_mlsnn.classify import argmax_lowest, classify_spec
from lava_mlsnn.data import DigitsDVS, framing

T = 6  # steps per sample
SIZE = (8, 8)  # digits downsampled to 2 x 8 x 8, counts clipped to 1 (binary input)
N_IN = 2 * SIZE[0] * SIZE[1]


def digits(split: str, n: int, cache_dir: str | None = None) -> Tuple[np.ndarray, np.ndarray]:
    """``n`` samples of a split: int64 ``[n, T, 2, 8, 8]`` in {0, 1} and their labels."""
    cache_dir = cache_dir or os.path.join(tempfile.gettempdir(), "lava-mlsnn-peer-digits")
    ds = DigitsDVS(split, cache_dir=cache_dir)
    frames = framing(ds.sensor_size, n_time_bins=T, clip=1, target_size=SIZE)
    idx = np.random.default_rng(0).permutation(len(ds))[:n]
    x = np.stack([frames(ds._events(int(i))) for i in idx]).astype(np.int64)
    return x, ds.targets[idx].astype(np.int64)


def train(step: Callable[[torch.Tensor], torch.Tensor], params, x: np.ndarray, y: np.ndarray,
          steps: int = 80, batch: int = 32, lr: float = 1e-2, seed: int = 0) -> float:
    """A few Adam steps on the cross-entropy of output spike counts; returns seconds.

    ``step(x [B, T, ...] float) -> counts [B, classes]`` is the framework's forward."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(params, lr=lr)
    t0 = time.perf_counter()
    for _ in range(steps):
        i = rng.integers(0, len(x), batch)
        loss = torch.nn.functional.cross_entropy(step(torch.from_numpy(x[i]).float()),
                                                 torch.from_numpy(y[i]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def agreement(spec, emu: Dict[int, torch.Tensor], peer_counts: torch.Tensor,
              y: np.ndarray) -> dict:
    """Deployed-integer predictions against the peer's float forward on the same data."""
    ours = np.asarray(classify_spec(spec, emu[len(spec.layers) - 1]))
    theirs = np.asarray(argmax_lowest(peer_counts.detach().numpy()))
    return {"agree": float((ours == theirs).mean()), "acc_int": float((ours == y).mean()),
            "acc_float": float((theirs == y).mean())}


HIDDEN = 32
NORSE_DT = 1e-3  # Norse's default step
SINABS_LEVELS = 3


def snntorch_net(snn):
    """Linear -> Leaky -> Linear -> Leaky, hard reset at once (NIR's LIF)."""
    torch.manual_seed(0)

    def leaky(n, **kw):
        return snn.Leaky(beta=torch.full((n,), 0.9), threshold=torch.ones(n), init_hidden=True,
                         reset_mechanism="zero", reset_delay=False, learn_beta=False, **kw)
    return torch.nn.Sequential(torch.nn.Linear(N_IN, HIDDEN, bias=False), leaky(HIDDEN),
                               torch.nn.Linear(HIDDEN, 10, bias=False), leaky(10, output=True))


def norse_net(nt):
    """Linear -> LIFBoxCell -> Linear -> LIFBoxCell (tau_mem_inv 200/s, dt 1 ms)."""
    torch.manual_seed(0)
    p = nt.LIFBoxParameters(tau_mem_inv=torch.tensor(200.0))
    net = nt.SequentialState(torch.nn.Linear(N_IN, HIDDEN, bias=False), nt.LIFBoxCell(p, dt=NORSE_DT),
                             torch.nn.Linear(HIDDEN, 10, bias=False), nt.LIFBoxCell(p, dt=NORSE_DT))
    with torch.no_grad():  # the box cell scales its input by dt * tau_mem_inv = 0.2
        for layer in (net[0], net[2]):
            layer.weight.mul_(8)
    return net


def sinabs_net(sinabs):
    """Conv -> IAF (MaxSpike 3) -> SumPool -> Flatten -> Linear -> IAF, and its forward."""
    import sinabs.layers as sl
    from sinabs.activation import MaxSpike
    torch.manual_seed(0)
    iaf = lambda: sl.IAFSqueeze(num_timesteps=T, spike_fn=MaxSpike(SINABS_LEVELS))  # noqa: E731
    net = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1, bias=False), iaf(),
                              sl.SumPool2d(2), torch.nn.Flatten(),
                              torch.nn.Linear(4 * (SIZE[0] // 2) * (SIZE[1] // 2), 10, bias=False),
                              iaf())

    def forward(x):
        for layer in net:
            if isinstance(layer, sl.IAFSqueeze):
                layer.reset_states()
        return net(x.reshape((len(x) * T, 2) + SIZE)).reshape(len(x), T, -1).sum(1)
    return net, forward
