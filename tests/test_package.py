"""The package as a user gets it: the wheel holds the library, its configurations, the
type marker and the licence; installed (without re-downloading its dependencies) into a
fresh environment, ``lava-mlsnn train`` and ``lava-mlsnn export`` run from outside the
source tree."""
import os
import site
import subprocess
import sys
import zipfile

import pytest

import lava_mlsnn
from trainkit import ROOT, subprocess_env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                        "--no-build-isolation", "-q", "-w", str(out), ROOT],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    (path,) = out.glob("lava_mlsnn-*.whl")
    return path


def test_wheel_contents(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert f"lava_mlsnn-{lava_mlsnn.__version__}.dist-info/METADATA" in names
    for need in ("lava_mlsnn/py.typed", "lava_mlsnn/configs/default.yaml",
                 "lava_mlsnn/configs/digits.yaml", "lava_mlsnn/train/command.py",
                 "lava_mlsnn/nir/importer.py"):
        assert need in names, need
    assert any(n.endswith(".dist-info/LICENSE") or "/licenses/LICENSE" in n for n in names)
    assert not any(n.startswith(("tests/", "training/", "benchmarks/")) for n in names)
    meta = zipfile.ZipFile(wheel).read(
        f"lava_mlsnn-{lava_mlsnn.__version__}.dist-info/METADATA").decode()
    runtime = [line for line in meta.splitlines()
               if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert not any("pytest" in line or "hypothesis" in line for line in runtime), runtime


def test_installed_wheel_trains_and_exports_outside_the_tree(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    py = venv / "bin" / "python"
    env = subprocess_env()
    env.pop("PYTHONPATH", None)  # the tests' own lava_mlsnn (a source tree) stays out of it
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q",
                        "--no-deps", str(wheel)], capture_output=True, text=True, timeout=300,
                       env=env)
    assert r.returncode == 0, r.stderr
    # The heavy dependencies come from this environment (added only now, so that pip sees
    # no lava-mlsnn to keep): its site-packages as a plain path, whose own .pth files
    # (an editable lava-mlsnn) stay inactive there.
    ours = [p for p in site.getsitepackages() if p.endswith("site-packages")][0]
    target = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()"
                             "['purelib'])"], capture_output=True, text=True,
                            check=True).stdout.strip()
    with open(os.path.join(target, "project-deps.pth"), "w") as f:
        f.write(ours + "\n")
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = subprocess.run([str(py), "-c", "import lava_mlsnn; print(lava_mlsnn.__file__)"],
                           cwd=work, env=env, capture_output=True, text=True, check=True)
    assert where.stdout.startswith(target), where.stdout
    cli = str(venv / "bin" / "lava-mlsnn")
    r = subprocess.run([cli, "--version"], cwd=work, env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and r.stdout == f"lava-mlsnn {lava_mlsnn.__version__}\n"
    r = subprocess.run([cli, "configs"], cwd=work, env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and "papers/qsnn_vgg11_cifar10dvs " in r.stdout, r.stderr
    r = subprocess.run([cli, "train", "--config", "papers/qsnn_vgg11_cifar10dvs", "--set",
                        "data.root=/data", "--print-config"], cwd=work, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "dataset: cifar10dvs" in r.stdout, r.stderr
    run_dir = work / "run"
    sets = [f"data.cache_dir={work / 'cache'}", "data.limit=16", "model.channels=[2,4]",
            "model.hidden=8", "optim.epochs=1", "optim.batch_size=16", "train.device=cpu",
            f"output.dir={run_dir}"]
    r = subprocess.run([cli, "train", "--config", "digits", "--no-progress"]
                       + [a for s in sets for a in ("--set", s)],
                       cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (run_dir / "checkpoints" / "best.pt").exists()
    r = subprocess.run([cli, "export", str(run_dir), "--samples", "8", "--no-inspect"],
                       cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert (run_dir / "network.h5").exists()  # validated and checked by export itself
    assert "lava-mlsnn export: error" not in r.stderr
