"""Sizes and memory fail safely: every array a user's values size is checked
against the memory budget before it is allocated (one line naming the array and the
budget, exit 2); an allocation that fails under ``ulimit -v`` says it met a memory limit
(exit 1); API misuse (reversed views, empty batches in Lava) is copied or refused."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from lava_mlsnn import cli
from lava_mlsnn._io import ArrayHeaderError, check_npy_file
from lava_mlsnn._limits import MEMORY_BUDGET_ENV, BudgetError, check_budget, memory_budget
from lava_mlsnn.format import write_network
from lava_mlsnn.format.random_net import random_input, random_network
from lava_mlsnn.netx import emulate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def tiny():
    """A 4 -> 17 -> 15 -> 2 dense network (38 neurons in all)."""
    spec = random_network(np.random.default_rng(0), conv=False, input_shape=(4,))
    assert [int(np.prod(layer.shape)) for layer in spec.layers] == [4, 17, 15, 2]
    return spec


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in text, lines
    return lines[0]


def _write_npy_header(path, shape, descr="<i8", payload=64):
    from numpy.lib import format as npy_format
    with open(path, "wb") as f:
        npy_format.write_array_header_1_0(f, {"descr": descr, "fortran_order": False,
                                              "shape": shape})
        f.write(b"\0" * payload)


# ------------------------------------------------------------------ the budget itself
def test_check_budget_counts_in_python_integers_and_says_the_limit():
    check_budget("a [N]", (1 << 20,), 8, budget=8 << 20)  # exactly the budget: accepted
    with pytest.raises(BudgetError, match=r"a \[N\] of 1048577 would take 8.0 MiB, above the "
                                          r"memory budget of 8.0 MiB.*; fewer"):
        check_budget("a [N]", (1 << 20 | 1,), 8, budget=8 << 20, hint="fewer")
    with pytest.raises(BudgetError, match=r"2\*\*\d+ bytes"):  # no float overflow
        check_budget("b", (10 ** 40, 10 ** 40), 8)


def test_budget_follows_the_environment_and_an_address_space_limit(monkeypatch):
    monkeypatch.setenv(MEMORY_BUDGET_ENV, "12345")
    assert memory_budget() == 12345
    monkeypatch.delenv(MEMORY_BUDGET_ENV)
    code = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30));"
            "from lava_mlsnn._limits import memory_budget; print(memory_budget())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=ROOT), timeout=60)
    assert 0 < int(out.stdout) < 6 << 30, out  # what is left of 6 GiB, not 8 GiB


# ------------------------------------------------------------------ emulate / run_lava
def test_emulate_t_100000_recording_every_layer_is_refused_before_any_work(tiny):
    """3000 samples x 100,000 steps x 38 neurons = 85 GiB of int64 records: refused at
    once (the input is a zero-cost view, so any pass over it would show in the time)."""
    x = torch.zeros(1, 1, 4, dtype=torch.int64).expand(3000, 100_000, 4)
    t0 = time.monotonic()
    with pytest.raises(BudgetError) as info:
        emulate(tiny, x)
    assert time.monotonic() - t0 < 1.0
    msg = str(info.value)
    assert "\n" not in msg and "recorded outputs of 4 layers" in msg
    assert "3000 x 100000 x 38" in msg and "84.9 GiB" in msg and "record fewer layers" in msg


def test_emulate_records_only_what_fits(tiny, monkeypatch):
    """Under a 1 MiB budget, 5000 steps of every layer (1.4 MiB) are refused; the output
    layer alone (78 KiB) runs and equals the full run's output layer."""
    x = random_input(np.random.default_rng(1), tiny, 1, 5000)
    full = emulate(tiny, x)[3]
    assert int(full.abs().sum()) > 0  # the output layer is active
    monkeypatch.setenv(MEMORY_BUDGET_ENV, str(1 << 20))
    with pytest.raises(BudgetError, match="1.4 MiB, above the memory budget of 1.0 MiB"):
        emulate(tiny, x)
    assert torch.equal(emulate(tiny, x, record=[3])[3], full)


def test_emulate_copies_a_reversed_view(tiny):
    x = random_input(np.random.default_rng(2), tiny, 3, 6)
    rev = x[::-1]
    assert any(s < 0 for s in rev.strides)
    got, want = emulate(tiny, rev), emulate(tiny, np.ascontiguousarray(rev))
    for i in want:
        assert int(want[i].abs().sum()) > 0 and torch.equal(got[i], want[i])
    assert torch.equal(emulate(tiny, x[:, ::-2])[3],
                       emulate(tiny, np.ascontiguousarray(x[:, ::-2]))[3])


@pytest.mark.parametrize("shape", [(0, 5, 4), (2, 0, 4)])
def test_run_lava_refuses_no_samples_or_no_steps(tiny, shape):
    from lava_mlsnn.backends.lava_runner import run_lava
    with pytest.raises(ValueError, match=r"no samples \(B = 0\) or no steps \(T = 0\)"):
        run_lava(tiny, np.zeros(shape, dtype=np.int64))


def test_simulate_t_100000_through_the_cli_is_one_line_exit_2(tiny, tmp_path, capsys,
                                                               monkeypatch):
    net, x = tmp_path / "net.h5", tmp_path / "x.npy"
    write_network(tiny, str(net))
    np.save(x, random_input(np.random.default_rng(3), tiny, 2, 100_000).astype(np.int8))
    monkeypatch.setenv(MEMORY_BUDGET_ENV, str(8 << 20))  # the records need 58 MiB
    t0 = time.monotonic()
    rc = cli.main(["simulate", str(net), "--input", str(x), "--out", str(tmp_path / "o.npz")])
    line = _one_line(capsys.readouterr().err)
    assert rc == 2 and "recorded outputs of 4 layers" in line and "memory budget" in line
    assert time.monotonic() - t0 < 10 and not (tmp_path / "o.npz").exists()


# ------------------------------------------------------------------ declared shapes
def test_npy_header_declaring_a_huge_shape_is_refused_before_allocation(tmp_path, capsys,
                                                                         tiny):
    """The issue's 9 TiB ask: a 200-byte file whose header declares (10**3,)*4 int64."""
    bad = tmp_path / "x.npy"
    _write_npy_header(bad, (1000, 1000, 1000, 1000))
    with pytest.raises(ArrayHeaderError, match=r"declares shape \(1000, 1000, 1000, 1000\) "
                                               r"\(8,000,000,000,000 bytes\) but the file "
                                               r"holds 64 bytes"):
        check_npy_file(str(bad))
    net = tmp_path / "net.h5"
    write_network(tiny, str(net))
    assert cli.main(["simulate", str(net), "--input", str(bad)]) == 2
    assert "8,000,000,000,000 bytes" in _one_line(capsys.readouterr().err)


def test_npz_member_header_is_checked_and_objects_refused(tmp_path):
    import zipfile
    ok = tmp_path / "ok.npz"
    np.savez_compressed(ok, a=np.arange(6).reshape(2, 3))
    check_npy_file(str(ok))
    member = tmp_path / "frames.npy"
    _write_npy_header(member, (10 ** 6, 10 ** 6))
    bad = tmp_path / "bad.npz"
    with zipfile.ZipFile(bad, "w") as z:
        z.write(member, "frames.npy")
    with pytest.raises(ArrayHeaderError, match=r"bad.npz:frames.npy: header declares"):
        check_npy_file(str(bad))
    obj = tmp_path / "obj.npy"
    np.save(obj, np.array([None, 1], dtype=object), allow_pickle=True)
    with pytest.raises(ArrayHeaderError, match="Python objects"):
        check_npy_file(str(obj))


def test_frame_cache_with_a_huge_declared_shape_is_rebuilt(tmp_path):
    import zipfile
    from test_safe_data import FRAMING, _Source
    from lava_mlsnn.data import FramedDataset
    ds = FramedDataset(_Source(), FRAMING, str(tmp_path), dataset_id="src")
    want = ds.get_compact(0)
    assert int(want[0].sum()) == 50
    member = tmp_path / "frames.npy"
    _write_npy_header(member, (10 ** 6,) * 4, descr="|u1")
    with zipfile.ZipFile(os.path.join(ds.cache_path, "0.npz"), "w") as z:
        z.write(member, "frames.npy")
    fresh = FramedDataset(_Source(), FRAMING, str(tmp_path), dataset_id="src")
    frames, label = fresh.get_compact(0)
    np.testing.assert_array_equal(frames, want[0])
    assert label == want[1]


def test_train_with_a_huge_frame_size_is_refused_before_framing(tmp_path, capsys):
    run = tmp_path / "run"
    rc = cli.main(["train", "--set", f"output.dir={run}", "--set", "data.size=[65536,65536]",
                   "--set", "optim.epochs=1", "--set", "data.limit=8", "--set",
                   "train.device=cpu", "--no-progress"])
    line = _one_line(capsys.readouterr().err)
    assert rc == 2 and "frames of one sample [T, C, H, W] of 1 x 2 x 65536 x 65536" in line
    assert "64.0 GiB" in line and "data.size" in line and not run.exists()


def test_evaluate_refuses_a_split_beyond_the_budget(tiny, tmp_path, capsys, monkeypatch):
    spec = random_network(np.random.default_rng(1), conv=True, input_shape=(2, 32, 32))
    net = tmp_path / "conv.h5"
    write_network(spec, str(net))
    monkeypatch.setenv(MEMORY_BUDGET_ENV, str(1 << 20))
    rc = cli.main(["evaluate", str(net), "--dataset", "digits", "--cache-dir",
                   str(tmp_path / "cache")])
    # evaluate streams the split batch by batch: what meets the budget is one batch's records
    line = _one_line(capsys.readouterr().err)
    assert rc == 2 and "of 256 x 2 x " in line and "above the memory budget of 1.0 MiB" in line
    assert "record fewer layers" in line


def test_an_in_memory_split_beyond_the_budget_is_refused_before_it_is_read(tmp_path,
                                                                           monkeypatch):
    from lava_mlsnn._limits import BudgetError
    from lava_mlsnn.backends.evaluate import load_frames
    spec = random_network(np.random.default_rng(1), conv=True, input_shape=(2, 32, 32))
    monkeypatch.setenv(MEMORY_BUDGET_ENV, str(1 << 20))  # 359 samples need 2.8 MiB
    with pytest.raises(BudgetError, match="frames of digits test .* of 359 x 2 x 2 x 32 x 32"):
        load_frames(spec, "digits", None, cache_dir=str(tmp_path / "cache"))


# ------------------------------------------------------------------ real memory limits
def _under_rlimit_as(argv, limit, cwd, timeout=120):
    """The real entry point started under ``RLIMIT_AS = limit`` (as ``ulimit -v`` does)."""
    import resource
    env = dict(os.environ, PYTHONPATH=ROOT, PYTHONFAULTHANDLER="1")
    for var in ("LAVA_MLSNN_DEBUG", "OPENBLAS_NUM_THREADS"):
        env.pop(var, None)
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "lava_mlsnn.cli", *argv], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=timeout,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS,
                                                                (limit, limit)))
    return proc.returncode, proc.stderr, time.monotonic() - t0


def test_evaluate_under_a_3_gb_address_space_limit_reports_promptly(tmp_path):
    spec = random_network(np.random.default_rng(1), conv=True, input_shape=(2, 32, 32))
    net = tmp_path / "conv.h5"
    write_network(spec, str(net))
    rc, err, took = _under_rlimit_as(["evaluate", str(net), "--dataset", "digits",
                                      "--cache-dir", str(tmp_path / "c")], 3 << 30, tmp_path)
    assert took < 60  # it hung in OpenBLAS's start-up with one buffer per core
    if rc == 0:
        pytest.skip("evaluate fits in 3 GiB of address space on this machine")
    line = _one_line(err)
    assert rc == 1 and "memory limit (RLIMIT_AS = 3.0 GiB)" in line, line


def test_an_allocation_failure_under_rlimit_as_says_it_is_a_memory_limit():
    """The allocation itself fails under RLIMIT_AS (no budget involved): the line names
    the limit; the CLI's handlers print this line with exit 1."""
    code = ("import resource, os, numpy as np\n"
            "from lava_mlsnn._limits import memory_error_line, memory_exit_status\n"
            "used = int(open('/proc/self/statm').read().split()[0]) * os.sysconf('SC_PAGESIZE')\n"
            "resource.setrlimit(resource.RLIMIT_AS, (used + (256 << 20),) * 2)\n"
            "try:\n    np.ones(1 << 31)\n"
            "except MemoryError as e:\n    print(memory_exit_status(e), memory_error_line(e))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=ROOT), timeout=60)
    line = _one_line(proc.stdout)
    assert line.startswith("1 out of memory under the process's memory limit (RLIMIT_AS = ")
    assert "Unable to allocate 16.0 GiB" in line


# ------------------------------------------------------------------ messages
@pytest.mark.parametrize("param", ["v_threshold", "tau"])
def test_nan_threshold_and_tau_are_named_as_nan(param):
    nir = pytest.importorskip("nir")
    from lava_mlsnn.nir import NIRImportError, read_nir
    lif = nir.LIF(tau=np.full(2, 1e-3), r=np.ones(2), v_leak=np.zeros(2),
                  v_threshold=np.ones(2), v_reset=np.zeros(2))
    getattr(lif, param)[1] = np.nan  # one neuron: not "values that vary within a channel"
    g = nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([3])}),
                            "fc": nir.Affine(weight=np.full((2, 3), .5, dtype=np.float32),
                                             bias=np.zeros(2, dtype=np.float32)),
                            "lif": lif, "output": nir.Output(output_type={"output": np.array([2])})},
                     edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")], type_check=False)
    with pytest.raises(NIRImportError) as info:
        read_nir(g)
    msg = str(info.value)
    assert f"lif.{param}" in msg and "NaN" in msg
    assert "vary" not in msg and "per-neuron" not in msg
