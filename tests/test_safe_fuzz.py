"""Property-based fuzz of the failure contract (DESIGN §7) over the CLI's option space and
the configuration schema: whatever a user types, the command exits 0 or 2, prints one
line on error and no traceback, returns within a bounded time and leaves no temporary
or partial file behind.

The commands run in-process (``cli.main``), with a fixed, derandomized hypothesis budget
(``LAVA_MLSNN_FUZZ_EXAMPLES`` scales it); a few cases run the real entry point in a
subprocess. The inputs are what users hand in: a valid network file and input array,
hostile paths (missing, a directory, a FIFO, ``/dev/null``, empty, a symbolic link) and
hostile numbers (negative, huge, NaN, text).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from lava_mlsnn import cli
from lava_mlsnn.format import write_network
from lava_mlsnn.format.random_net import random_input, random_network
from lava_mlsnn.train import command as train_command, config as C

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCALE = float(os.environ.get("LAVA_MLSNN_FUZZ_EXAMPLES", "1"))
TIME_LIMIT_S = 60  # per command, on a loaded 2-core machine


def _budget(n: int) -> settings:
    return settings(max_examples=max(1, int(n * SCALE)), deadline=None, derandomize=True,
                    database=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The files a user has (a network, its input, a NIR graph) and hostile paths."""
    d = tmp_path_factory.mktemp("fuzz")
    spec = random_network(np.random.default_rng(5), conv=False, input_shape=(4,))
    write_network(spec, str(d / "net.h5"))
    np.save(d / "x.npy", random_input(np.random.default_rng(6), spec, 3, 4))
    np.save(d / "xf.npy", np.full((2, 4, 4), 0.5))
    (d / "text.txt").write_text("not a network\n")
    (d / "empty.h5").write_bytes(b"")
    (d / "adir").mkdir()
    os.mkfifo(d / "fifo")
    os.symlink(d / "net.h5", d / "link.h5")
    (d / "out").mkdir()
    try:
        import nir
        from lava_mlsnn.nir import to_nir
        nir.write(str(d / "g.nir"), to_nir(spec))
    except ImportError:  # without the nir extra, g.nir is a missing path
        pass
    return d


def _path(world, name: str) -> str:
    return {"devnull": os.devnull, "": "", "missing": str(world / "missing.h5")}.get(
        name, str(world / name))


INPUT_PATHS = st.sampled_from(["net.h5", "x.npy", "xf.npy", "text.txt", "empty.h5", "adir",
                               "fifo", "link.h5", "missing", "devnull", "", "g.nir"])
OUT_NAMES = st.sampled_from(["new", "devnull", "adir", "fifo", "link.h5", "", "nodir"])
NUMBERS = st.one_of(st.integers(-3, 40).map(str),
                    st.sampled_from(["0", "-1", "1e309", "nan", "inf", "x", "", "1.5",
                                     "9" * 40, str(10 ** 12), str(2 ** 63), "0x10"]))


def _out(world, name: str, ext: str) -> str:
    if name == "new":
        return str(world / "out" / f"result.{ext}")
    if name == "nodir":
        return str(world / "out" / "no" / "such" / f"result.{ext}")
    return _path(world, name)


@st.composite
def argvs(draw, world):
    """One command line of validate / inspect / simulate / evaluate / nir / export; each
    value is the right one three times in four, so that the commands also run deep."""
    def p(valid: str) -> str:
        return _path(world, valid if draw(st.integers(0, 3)) else draw(INPUT_PATHS))

    def n(valid: str) -> str:
        return valid if draw(st.integers(0, 3)) else draw(NUMBERS)

    def out(ext: str) -> str:
        return _out(world, "new" if draw(st.integers(0, 2)) else draw(OUT_NAMES), ext)

    cmd = draw(st.sampled_from(["validate", "inspect", "simulate", "evaluate", "nir-import",
                                "nir-export", "export", "junk"]))
    if cmd == "validate":
        return ["validate", p("net.h5")]
    if cmd == "inspect":
        argv = ["inspect", p("net.h5")]
        if draw(st.booleans()):
            argv += ["--energy", "--input", p("x.npy"), "--samples", n("2")]
        return argv
    if cmd == "simulate":
        argv = ["simulate", p("net.h5"), "--input", p("x.npy"), "--backend",
                "emulator" if draw(st.integers(0, 3)) else draw(st.sampled_from(["loihi2",
                                                                                 "gpu", ""]))]
        if draw(st.booleans()):
            argv += ["--out", out("npz")]
        if draw(st.booleans()):
            argv += ["--batch-size", n(str(draw(st.integers(1, 5))))]
        return argv
    if cmd == "evaluate":  # the tiny network takes (4,) inputs: refused as not frames
        return ["evaluate", p("net.h5"), "--dataset", draw(st.sampled_from(["digits", "nope"])),
                "--samples", n("3"), "--batch-size", n("2"),
                "--split", draw(st.sampled_from(["test", "val", "x"]))]
    if cmd == "nir-import":
        return ["nir", "import", p("g.nir"), "-o", out("h5"),
                "--timesteps", n(str(draw(st.integers(1, 8)))),
                "--input-levels", n(str(draw(st.integers(1, 7)))),
                "--levels", n(str(draw(st.integers(1, 4)))),
                "--reset", draw(st.sampled_from(["zero", "subtract", "snntorch_delay", "x"])),
                "--dt", n(draw(st.sampled_from(["1e-4", "1e-3", "0.5"])))]
    if cmd == "nir-export":
        return ["nir", "export", p("net.h5"), "-o", out("nir")]
    if cmd == "export":
        return ["export", p("adir"), "--out", out("h5"), "--samples", n("2")]
    return [draw(st.sampled_from(["", "-x", "frobnicate", "--version=1"]))]


def _leftovers(world) -> list:
    """Temporary files anywhere, and anything in the output folder."""
    tmp = [os.path.join(r, f) for r, _, fs in os.walk(world) for f in fs
           if f.endswith(".tmp") or f.startswith(".lava-mlsnn-")]
    return tmp + [os.path.join(r, f) for r, _, fs in os.walk(world / "out") for f in fs]


def _check_contract(rc, err: str, took: float, argv) -> None:
    assert rc in (0, 2), (argv, rc, err[-2000:])
    assert "Traceback" not in err, (argv, err[-2000:])
    lines = [line for line in err.strip().splitlines() if "warning:" not in line]
    if rc != 0:
        assert len(lines) == 1 and len(lines[0]) < 600, (argv, lines)
    assert took < TIME_LIMIT_S, (argv, took)


def test_cli_option_space(world, capsys):
    known = set(os.listdir(world))

    @_budget(120)
    @given(argv=argvs(world))
    def run(argv):
        t0 = time.monotonic()
        rc = cli.main(list(argv))
        took = time.monotonic() - t0
        err = capsys.readouterr().err
        _check_contract(rc, err, took, argv)
        written = _leftovers(world)
        try:
            if rc != 0:
                assert not written, (argv, written)  # no partial output
            else:
                assert all(not w.endswith(".tmp") for w in written), (argv, written)
        finally:
            shutil.rmtree(world / "out")
            (world / "out").mkdir()
        assert set(os.listdir(world)) == known, argv  # nothing written beside the inputs
        assert os.path.exists(world / "fifo") and not os.path.isfile(os.devnull)

    run()


# --------------------------------------------------------------------------- config schema
KEYS = [(s, k) for s in C.DEFAULTS for k in C.DEFAULTS[s]]
# No subnormal draws: a library loaded earlier in the suite may set flush-to-zero, and
# hypothesis then refuses to draw them (the denormal --dt case has its own test).
YAML_VALUES = st.one_of(
    st.integers(-2 ** 70, 2 ** 70),
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=False),
    st.booleans(), st.none(), st.text(max_size=12),
    st.lists(st.integers(-5, 70000), max_size=4),
    st.sampled_from(["digits", "cpu", "adam", "cosine", "convnet", "l1", "sparse", "ste"]))
RAW_VALUES = st.sampled_from([
    "&a [1, 2]", "*a", "[" * 40 + "]" * 40, "{a: 1, a: 2}", ".nan", "-.inf", "1e309",
    "9" * 5000, "!!python/object:os.system ls", "'", "{", "\t", "0o17", "0x1F", "1_000",
    "yes", "~", "[1, [2, [3]]]", "{x: 1}", "\x00", "é", "--", "=", "a=b"])


def _near(default):
    """Values of a key's own kind near its default (most accepted, some just past a limit)."""
    if isinstance(default, bool) or default is None:
        return st.sampled_from([True, False, None])
    if isinstance(default, int):
        return st.integers(-2, 3).map(lambda d: default + d) | st.integers(-3, 10 ** 6)
    if isinstance(default, float):
        return (st.floats(-0.5, 2.0, allow_subnormal=False)
                | st.sampled_from([default, 0.0, 1.0, 1e-9]))
    if isinstance(default, list):
        return st.lists(st.integers(0, 130), min_size=len(default), max_size=len(default))
    return st.just(default)


@st.composite
def overrides(draw):
    section, key = draw(st.sampled_from(KEYS + [("optim", "epochz"), ("nope", "x")]))
    if draw(st.integers(0, 2)):
        value = draw(_near(C.DEFAULTS.get(section, {}).get(key)) if draw(st.booleans())
                     else YAML_VALUES)
        raw = yaml.safe_dump(value, default_flow_style=True).strip()
        if raw.endswith("..."):  # a bare scalar document
            raw = raw[:-3].strip()
        return f"{section}.{key}={raw}", (section, key, value)
    form = draw(st.sampled_from(["raw", "no-value", "no-key", "empty"]))
    if form == "raw":
        return f"{section}.{key}={draw(RAW_VALUES)}", None
    return {"no-value": f"{section}.{key}", "no-key": f"={section}", "empty": ""}[form], None


def test_config_schema(capsys):
    """``train --print-config --set ...``: refused in one line, or accepted and honoured
    (the printed configuration holds the value as YAML parsed it)."""

    @_budget(150)
    @given(items=st.lists(overrides(), min_size=1, max_size=3))
    def run(items):
        argv = ["--print-config"]
        for item, _ in items:
            argv += ["--set", item]
        t0 = time.monotonic()
        rc = train_command.main(argv)
        out, err = capsys.readouterr()
        _check_contract(rc, err, time.monotonic() - t0, argv)
        if rc == 0:
            printed = yaml.safe_load(out)
            last = {}
            for _, parsed in items:
                if parsed is not None:
                    last[parsed[:2]] = parsed[2]
            for (section, key), value in last.items():
                got = printed[section][key]
                if isinstance(value, float) and value != value:
                    raise AssertionError(f"NaN accepted for {section}.{key}")
                if key in ("root", "cache_dir", "dir") and isinstance(value, str):
                    continue  # made absolute
                assert got == value or (isinstance(value, list) and list(got) == value), \
                    (section, key, value, got)
        else:
            assert err.startswith("lava-mlsnn train: error:"), err

    run()


def test_config_files(tmp_path, capsys):
    """``--config FILE`` holding arbitrary bytes or YAML structures."""
    docs = st.one_of(
        st.binary(max_size=64),
        st.recursive(YAML_VALUES, lambda c: st.one_of(
            st.lists(c, max_size=3), st.dictionaries(st.sampled_from(
                list(C.DEFAULTS) + ["epochs", "lr", "x"]), c, max_size=3)),
            max_leaves=8).map(lambda v: yaml.safe_dump(v).encode()),
        st.sampled_from([b"a: &x [1]\nb: *x\n", b"optim:\n  epochs: 1\n  epochs: 2\n",
                         b"[" * 5000, b"\xff\xfe", b"optim: {lr: .nan}\n",
                         b"data: {size: [65536, 65536]}\n"]))
    path = tmp_path / "c.yaml"

    @_budget(60)
    @given(doc=docs)
    def run(doc):
        path.write_bytes(doc)
        t0 = time.monotonic()
        rc = train_command.main(["--print-config", "--config", str(path)])
        _check_contract(rc, capsys.readouterr().err, time.monotonic() - t0, doc[:80])

    run()


# --------------------------------------------------------------------------- real processes
@pytest.mark.parametrize("argv", [
    ["simulate", "{net}", "--input", "{fifo}", "--out", "{out}/r.npz"],
    ["train", "--set", "optim.epochs=1e309", "--print-config"],
    ["nir", "import", "{missing}", "-o", "", "--timesteps", str(10 ** 12)],
    ["validate", "{adir}"],
])
def test_entry_point_keeps_the_contract(world, argv):
    fill = {"net": world / "net.h5", "fifo": world / "fifo", "out": world / "out",
            "missing": world / "missing.nir", "adir": world / "adir"}
    argv = [a.format(**fill) for a in argv]
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("LAVA_MLSNN_DEBUG", None)
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "lava_mlsnn.cli", *argv], capture_output=True,
                          text=True, env=env, timeout=120)
    _check_contract(proc.returncode, proc.stderr, time.monotonic() - t0, argv)
    assert proc.returncode == 2 and not _leftovers(world)
