"""benchmarks/run_cuda.py: without a GPU it measures nothing and says so; its steps run
end to end on the CPU at tiny sizes (the code a GPU run goes through)."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "run_cuda.py")


def _module():
    spec = importlib.util.spec_from_file_location("run_cuda", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _benchmarks_md() -> str:
    path = os.path.join(ROOT, "BENCHMARKS.md")
    return open(path).read() if os.path.exists(path) else ""


def test_finds_the_tests_that_skip_without_cuda():
    assert "tests/test_gpu_exact.py" in _module().gpu_test_files()


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here: the script measures")
def test_without_a_gpu_it_prints_the_plan_and_writes_nothing():
    before = _benchmarks_md()
    out = subprocess.run([sys.executable, SCRIPT], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": ROOT}, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "no CUDA device here; the CUDA column of BENCHMARKS.md stays unmeasured" in out.stdout
    assert "tests/test_gpu_exact.py" in out.stdout and "cuba.Conv" in out.stdout
    assert _benchmarks_md() == before


def test_every_step_runs_on_the_cpu(capsys):
    before = _benchmarks_md()
    assert _module().main(["--device", "cpu", "--smoke", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "GPU exactness tests (test_gpu_exact.py)" in out
    assert "skipped" in out or "passed" in out
    rows = [r for r in out.splitlines() if r.startswith("| emulator samples/s")]
    assert rows and all(r.split("|")[-2].strip() == "yes" for r in rows), rows
    assert sum("training step ms" in r for r in out.splitlines()) == 6
    assert "failed" not in "".join(r for r in out.splitlines() if "training step" in r)
    assert _benchmarks_md() == before


def test_an_unknown_device_is_refused(capsys):
    assert _module().main(["--device", "tpu"]) == 2
    assert capsys.readouterr().err.strip() == "run_cuda: error: unknown device 'tpu' (cuda or cpu)"
