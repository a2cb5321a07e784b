"""The in-process cases of ``benchmarks/hostile_inputs.py``: NIR graphs, configurations and
data-set folders, each a command line with the files it needs made under a folder."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

OLD = b"old contents"  # what an output file held before a write that must fail


@dataclass
class Case:
    """One command line and what a clean result of it looks like."""

    category: str
    name: str
    argv: List[str]
    expect: Tuple[int, ...] = (0, 2)
    out: Optional[str] = None            # a file the command may write
    keep: Optional[str] = None           # a file holding OLD that must survive a failure
    own_process: bool = False
    rlimit_as: Optional[int] = None      # bytes of address space for the process
    env: Dict[str, str] = field(default_factory=dict)
    prepare: Optional[Callable[[], None]] = None


def _out(d: str, name: str) -> str:
    path = os.path.join(d, "out", name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.exists(path):
        os.unlink(path)
    return path


def _quiet(argv: List[str]) -> int:
    """``cli.main(argv)`` with its output discarded (a step that prepares a case)."""
    import contextlib
    import io

    from lava_mlsnn import cli
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return cli.main(argv)


# --------------------------------------------------------------------------- NIR graphs
def _graph(w=None, b=None, tau=1e-3, th=1.0, shape=(3,), edges=None, r=1.0, extra=None):
    import nir
    w = np.full((2, 3), 0.5, dtype=np.float32) if w is None else np.asarray(w, np.float32)
    b = np.zeros(2, dtype=np.float32) if b is None else np.asarray(b, np.float32)
    nodes = {"input": nir.Input(input_type={"input": np.array(shape)}),
             "fc": nir.Affine(weight=w, bias=b),
             "lif": nir.LIF(tau=np.broadcast_to(np.asarray(tau, float), (2,)).copy(),
                            r=np.full(2, r), v_leak=np.zeros(2),
                            v_threshold=np.broadcast_to(np.asarray(th, float), (2,)).copy(),
                            v_reset=np.zeros(2)),
             "output": nir.Output(output_type={"output": np.array([2])})}
    nodes.update(extra or {})
    edges = edges or [("input", "fc"), ("fc", "lif"), ("lif", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def _one(value, n=2, at=1, base=1.0):
    a = np.full(n, base)
    a[at] = value
    return a


def _nir_graphs() -> Dict[str, Callable]:
    import nir
    nan, inf = float("nan"), float("inf")
    w_one_nan = np.full((2, 3), 0.5)
    w_one_nan[1, 2] = nan
    fc2 = {"fc2": nir.Affine(weight=np.ones((2, 2), np.float32), bias=np.zeros(2, np.float32))}
    return {
        "valid": lambda: _graph(),
        "valid, per-neuron tau": lambda: _graph(tau=[1e-3, 2e-3]),
        "edge to a missing node": lambda: _graph(edges=[("input", "fc"), ("fc", "lif"),
                                                        ("lif", "out2")]),
        "edge from a missing node": lambda: _graph(edges=[("in2", "fc"), ("fc", "lif"),
                                                          ("lif", "output")]),
        "self edge (recurrent)": lambda: _graph(edges=[("input", "fc"), ("fc", "lif"),
                                                       ("lif", "lif"), ("lif", "output")]),
        "cycle through a second affine": lambda: _graph(extra=fc2, edges=[
            ("input", "fc"), ("fc", "lif"), ("lif", "fc2"), ("fc2", "lif"), ("lif", "output")]),
        "no edges": lambda: _graph(edges=[("input", "input")]),
        "NaN weights": lambda: _graph(w=np.full((2, 3), nan)),
        "one NaN weight": lambda: _graph(w=w_one_nan),
        "infinite weights": lambda: _graph(w=np.full((2, 3), inf)),
        "NaN bias": lambda: _graph(b=[nan, 0.0]),
        "NaN threshold": lambda: _graph(th=nan),
        "one NaN threshold": lambda: _graph(th=_one(nan)),
        "infinite threshold": lambda: _graph(th=inf),
        "zero threshold": lambda: _graph(th=0.0),
        "negative threshold": lambda: _graph(th=-1.0),
        "NaN tau": lambda: _graph(tau=nan),
        "one NaN tau": lambda: _graph(tau=_one(nan, base=1e-3)),
        "tau = 0": lambda: _graph(tau=0.0),
        "negative tau": lambda: _graph(tau=-1e-3),
        "tau below dt": lambda: _graph(tau=1e-5),
        "infinite tau": lambda: _graph(tau=inf),
        "NaN r": lambda: _graph(r=nan),
        "empty input shape": lambda: _graph(shape=()),
        "zero in input shape": lambda: _graph(shape=(0,)),
        "huge input shape": lambda: _graph(shape=(100000, 100000)),
        "weight / input size mismatch": lambda: _graph(shape=(5,)),
        "1e30 weights": lambda: _graph(w=np.full((2, 3), 1e30)),
    }


def nir_cases(d: str, w: Dict[str, str]) -> List[Case]:
    """``nir import`` of hostile graphs, files, options and outputs."""
    try:
        import nir
    except ImportError:
        return []
    folder = os.path.join(d, "nir")
    os.makedirs(folder, exist_ok=True)
    cases: List[Case] = []
    for name, make in _nir_graphs().items():
        path = os.path.join(folder, f"{len(cases)}.nir")
        try:
            nir.write(path, make())
        except Exception:  # noqa: BLE001 -- nir cannot even write it: not a user's file
            continue
        out = _out(d, f"nir{len(cases)}.h5")
        cases.append(Case("nir", name, ["nir", "import", path, "-o", out], out=out))
    good = os.path.join(folder, "good.nir")
    nir.write(good, _graph())
    exported = os.path.join(folder, "exported.nir")
    _quiet(["nir", "export", w["net.h5"], "-o", exported])
    with open(good, "rb") as f:
        data = f.read()
    files = {"truncated file": data[: len(data) // 2], "empty file": b"",
             "text file": b"not a graph\n"}
    for name, content in files.items():
        path = os.path.join(folder, name.replace(" ", "_") + ".nir")
        with open(path, "wb") as f:
            f.write(content)
        out = _out(d, f"f-{name[:5]}.h5")
        cases.append(Case("nir", name, ["nir", "import", path, "-o", out], out=out))
    fifo = os.path.join(folder, "fifo.nir")
    os.mkfifo(fifo)
    os.symlink(os.path.join(folder, "gone.nir"), os.path.join(folder, "dangling.nir"))
    for name, path in (("a directory", folder), ("a FIFO", fifo), ("a missing file",
                       os.path.join(folder, "missing.nir")),
                       ("a dangling link", os.path.join(folder, "dangling.nir")),
                       ("an exported graph", exported)):
        out = _out(d, f"p-{name[2:7]}.h5")
        cases.append(Case("nir", name, ["nir", "import", path, "-o", out], out=out))
    options = {"--dt 5e-324": ["--dt", "5e-324"], "--dt -1": ["--dt", "-1"],
               "--dt nan": ["--dt", "nan"], "--dt inf": ["--dt", "inf"],
               "--timesteps 10**12": ["--timesteps", str(10 ** 12)],
               "--input-levels 10**11": ["--input-levels", str(10 ** 11)],
               "--levels 0": ["--levels", "0"], "--levels 3 --reset subtract":
               ["--levels", "3", "--reset", "subtract"], "--timesteps 16": ["--timesteps", "16"]}
    for name, extra in options.items():
        out = _out(d, f"o-{len(cases)}.h5")
        cases.append(Case("nir", name, ["nir", "import", good, "-o", out, *extra], out=out))
    link = os.path.join(d, "link.h5")
    os.symlink(w["net.h5"], link)
    for name, out in (("-o ''", ""), ("-o a directory", folder), ("-o a symbolic link", link),
                      ("-o /dev/null", os.devnull)):
        cases.append(Case("nir", name, ["nir", "import", good, "-o", out]))
    return cases


# --------------------------------------------------------------------------- configs
SETS = ["optim.epochs=0", "optim.epochs=-1", "optim.epochs=true", "optim.epochs=ten",
        "optim.epochs=1e309", "optim.gamma=.nan", "activity.lambda=.nan", "model.width=.nan",
        "optim.lr=.nan", "optim.lr=.inf", "neuron.threshold=.nan", "neuron.threshold=0",
        "optim.batch_size=100000000000000000000", "optim.eval_batch_size=99999999",
        "data.limit=10000000000000000", "model.hidden=10000000", "model.channels=[8,100000000]",
        "model.channels=[]", "data.size=[0,0]", "data.timesteps=100000",
        "optim.epochs=[*a]", "optim.epochs=&a [1]", "optim.epochs", "optim.epochs=",
        "=3", "nope.x=1", "optim.epochz=1", "optim.epochs=" + "9" * 5000,
        "optim.optimizer={a: 1, a: 2}", "optim.optimizer=" + "[" * 5000,
        "output.root=/proc/self", "data.cache_dir=/proc/x", "train.device=tpu",
        "data.dataset=nmnist", "optim.epochs=3", "model.width=0.5", "data.size=[16,16]"]


def config_cases(d: str, w: Dict[str, str]) -> List[Case]:
    """``train --print-config`` with hostile ``--set`` items and ``--config`` files."""
    cases = [Case("config", f"--set {s[:40]}", ["train", "--set", s, "--print-config"])
             for s in SETS]
    afile = os.path.join(d, "afile")
    with open(afile, "w") as f:
        f.write("x")
    cases += [Case("config", f"--set {k} naming a file", ["train", "--set", f"{k}={afile}",
                                                          "--print-config"])
              for k in ("output.root", "data.cache_dir", "data.root")]
    files = {
        "billion laughs": b'a: &a ["x","x","x","x"]\nb: &b [*a,*a,*a,*a]\nc: [*b,*b,*b,*b]\n',
        "duplicate key": b"optim:\n  epochs: 3\n  epochs: 4\n",
        "duplicate section": b"optim:\n  epochs: 3\noptim:\n  lr: 0.1\n",
        "latin-1 bytes": b"optim:\n  optimizer: \xe9t\xe9\n",
        "nested 5000 deep": b"optim: " + b"[" * 5000 + b"]" * 5000 + b"\n",
        "2 MiB of comments": b"#" * (2 << 20), "a list document": b"- 1\n- 2\n",
        "a scalar document": b"3\n", "python tag": b"optim: !!python/object/apply:os.system [ls]\n",
        "empty document": b"", "valid": b"optim:\n  epochs: 2\n",
        "NaN learning rate": b"optim: {lr: .nan}\n", "unknown section": b"optimm: {lr: 1}\n",
    }
    folder = os.path.join(d, "configs")
    os.makedirs(folder, exist_ok=True)
    for name, data in files.items():
        path = os.path.join(folder, name.replace(" ", "_") + ".yaml")
        with open(path, "wb") as f:
            f.write(data)
        cases.append(Case("config", f"--config {name}", ["train", "--config", path,
                                                          "--print-config"]))
    fifo = os.path.join(folder, "fifo.yaml")
    os.mkfifo(fifo)
    for name, path in (("a FIFO", fifo), ("a directory", folder), ("/dev/null", os.devnull),
                       ("a missing file", os.path.join(folder, "none.yaml"))):
        cases.append(Case("config", f"--config {name}", ["train", "--config", path,
                                                          "--print-config"]))
    return cases


# --------------------------------------------------------------------------- data sets
def _write_nmnist(path: str, seed: int, n: int = 40, x_max: int = 34) -> None:
    """N-MNIST's binary format: x, y, then polarity in the top bit and 23 bits of time."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.choice(np.arange(1, 200_000), size=n, replace=False)).astype(np.uint32)
    x, y, p = rng.integers(0, x_max, n), rng.integers(0, 34, n), rng.integers(0, 2, n)
    raw = np.stack([x, y, (p << 7) | (t >> 16), (t >> 8) & 0xFF, t & 0xFF], 1)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    raw.astype(np.uint8).tofile(path)


def dataset_cases(d: str, w: Dict[str, str]) -> List[Case]:
    """``evaluate --dataset nmnist --root R`` on folders holding hostile files, and
    hostile cache folders and cache files."""
    def folder(name: str, edit=None) -> str:
        root = os.path.join(d, "data", name)
        for i, label in enumerate([3, 0]):
            _write_nmnist(os.path.join(root, "NMNIST", "Train", str(label), f"{i:05d}.bin"), i)
        test = os.path.join(root, "NMNIST", "Test", "7")
        _write_nmnist(os.path.join(test, "00009.bin"), 9)
        _write_nmnist(os.path.join(test, "00010.bin"), 10)
        if edit:
            edit(os.path.join(test, "00011.bin"))
        return root

    def file_with(data: bytes):
        def edit(p):
            with open(p, "wb") as f:
                f.write(data)
        return edit

    edits = {
        "valid folder": None, "a FIFO sample": os.mkfifo,
        "a symbolic link loop": lambda p: os.symlink(os.path.basename(p), p),
        "a dangling link": lambda p: os.symlink(p + ".gone", p),
        "a directory as a sample": os.mkdir, "an empty sample": file_with(b""),
        "a truncated sample (4 bytes)": file_with(b"\x01\x02\x03\x04"),
        "events off the sensor": lambda p: _write_nmnist(p, 11, x_max=250),
        "random bytes": file_with(bytes(range(256)) * 3),
    }
    cases = []
    for name, edit in edits.items():
        root = folder(name.replace(" ", "_"), edit)
        cases.append(Case("dataset", name, ["evaluate", w["nmnist.h5"], "--dataset", "nmnist",
                                            "--root", root]))
    good = folder("good")
    afile = os.path.join(d, "afile-data")
    with open(afile, "w") as f:
        f.write("x")
    ev = ["evaluate", w["nmnist.h5"], "--dataset", "nmnist", "--root", good]
    cases += [Case("dataset", "--root missing", ev[:-1] + [os.path.join(d, "nothing")]),
              Case("dataset", "--root a file", ev[:-1] + [afile]),
              Case("dataset", "--cache-dir a file", ev + ["--cache-dir", afile]),
              Case("dataset", "--cache-dir under /proc", ev + ["--cache-dir", "/proc/self/c"])]
    cache = os.path.join(d, "cache-dg")

    def spoil(content: Callable[[str], None]) -> Callable[[], None]:
        def prepare() -> None:  # fill the cache, then spoil every frame file in it
            _quiet(["evaluate", w["digits.h5"], "--dataset", "digits", "--samples", "4",
                    "--cache-dir", cache])
            for r, _, fs in os.walk(cache):
                for f in fs:
                    if f.endswith(".npz") and f[0].isdigit():
                        content(os.path.join(r, f))
        return prepare

    def wrong_shape(p):
        np.savez(p, frames=np.zeros((2, 2, 4, 4), np.uint8), label=np.int64(0))

    def huge_header(p):
        import zipfile
        from numpy.lib import format as npy_format
        buf = __import__("io").BytesIO()
        npy_format.write_array_header_1_0(buf, {"descr": "|u1", "fortran_order": False,
                                                "shape": (10 ** 6,) * 4})
        with zipfile.ZipFile(p, "w") as z:
            z.writestr("frames.npy", buf.getvalue() + b"\0" * 64)
            z.writestr("label.npy", b"")

    def garbage(p):
        with open(p, "wb") as f:
            f.write(b"PK\x03\x04 not a zip")
    dg = ["evaluate", w["digits.h5"], "--dataset", "digits", "--samples", "4", "--cache-dir",
          cache]
    for name, how in (("cache file of the wrong shape", wrong_shape),
                      ("cache file declaring 1e24 bytes", huge_header),
                      ("cache file of garbage", garbage)):
        cases.append(Case("dataset", name, dg, (0,), prepare=spoil(how)))
    return cases
