"""The ``lava-mlsnn`` command (DESIGN §7): validate, inspect, simulate, evaluate, demo.

Error contract (DESIGN §7; scripts and tests outside the project rely on it): a
bad input (missing or corrupt file, a value the format forbids, a wrong input
array, an output target that is not a regular file) exits with status 2 and
exactly one line on stderr naming the problem -- ``validate`` prints every problem
of a network file, one per line -- with no traceback and no partial output file.
A failed write (disk full, file too large) or an unexpected failure prints one
line and exits 1 (``LAVA_MLSNN_DEBUG=1`` shows the traceback instead). SIGTERM and
SIGHUP stop the run like SIGINT: the Lava runtime ends, its processes and scratch
files go, and the command exits with ``128 + signal``.
"""
from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import warnings
from typing import Optional, Sequence

from .._limits import is_memory_failure, memory_error_line, memory_exit_status
from ..lifecycle import Terminated, terminate_on_signals
from ._common import DEBUG_ENV, EXIT_FAILURE, EXIT_USAGE, PROG, CliError, OneLineParser, \
    _dataset_name, _error, _one_line, _positive_int
from .inspection import activity_fraction, cmd_inspect, cmd_validate
from .nir_commands import add_parser as add_nir_parser
from .running import add_simulate_outputs, cmd_evaluate, cmd_simulate

FORWARDED = {"train": "lava_mlsnn.train.command", "export": "lava_mlsnn.train.export_command"}
VERBOSITY = {"-v": 1, "--verbose": 1, "-q": -1, "--quiet": -1}
__all__ = ["CliError", "build_parser", "main"]


def cmd_configs(args: argparse.Namespace) -> int:
    """List the configurations shipped with the package (``train --config NAME``)."""
    from ..train.config import shipped_configs
    rows = shipped_configs()
    width = max(len(name) for name, _ in rows)
    print("\n".join(f"{name:<{width}}  {about}".rstrip() for name, about in rows))
    return 0


def cmd_demo(argv: Sequence[str]) -> int:
    try:
        demo = importlib.import_module("lava_mlsnn.demo")
    except ModuleNotFoundError as err:
        if err.name != "lava_mlsnn.demo":  # a missing dependency of the demo: a real bug
            raise
        raise CliError("the demo is not available in this installation "
                       "(lava_mlsnn.demo is missing)", EXIT_FAILURE) from None
    try:
        rc = demo.main(list(argv))
    except SystemExit as ex:  # the demo's own argparse
        rc = ex.code
    return rc if isinstance(rc, int) else (0 if rc is None else EXIT_FAILURE)


# --------------------------------------------------------------------------- entry point
def build_parser() -> argparse.ArgumentParser:
    """The command's argument parser (``demo`` arguments are forwarded untouched)."""
    parser = OneLineParser(
        prog=PROG, description="Multi-level spiking networks for Loihi 2: check, inspect and "
        f"run NetX-style HDF5 networks. Set {DEBUG_ENV}=1 to see tracebacks.")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log lines from the library (before COMMAND)")
    parser.add_argument("-q", "--quiet", action="count", default=0,
                        help="library warnings only (before COMMAND)")
    from .. import __version__
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("validate", help="check a network file: summary, or every problem")
    p.add_argument("net", metavar="NET.h5")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("inspect", help="layer table, Loihi 2 constraints/resources, memory")
    p.add_argument("net", metavar="NET.h5")
    p.add_argument("--energy", action="store_true",
                   help="add the per-layer energy breakdown (memory-aware and SOP models, ANN "
                   "reference) and NeuroBench-style figures of an emulator run")
    p.add_argument("--input", metavar="X.npy", help="input activity for --energy: integer "
                   "array [B, T, *inputShape] (default: the embedded digits test split)")
    p.add_argument("--dataset", type=_dataset_name, metavar="NAME", help="input activity for "
                   "--energy: that data set's test split framed per the file (default: the "
                   "embedded digits); digits, dvsgesture, nmnist, cifar10dvs or any tonic set")
    p.add_argument("--root", metavar="DIR", help="folder holding tonic's data set folders "
                   "(for --dataset; default: the one in the file's metadata)")
    p.add_argument("--samples", type=_positive_int, default=64, metavar="N",
                   help="data set samples to run for --energy (default 64)")
    p.add_argument("--json", action="store_true", help="print one JSON object for scripts "
                   "(Loihi 2 cores per layer and in total, chips, binding limits, frames/s, "
                   "energy, warnings, memory) instead of the text report")
    p.add_argument("--activity", type=activity_fraction, metavar="R", help="fraction of each "
                   "layer's sources that send per step, for the Loihi 2 frames/s and energy "
                   "estimate (default 0.1)")
    p.add_argument("--steps", type=_positive_int, metavar="T", help="steps per inference for "
                   "that estimate (default: the file's timesteps, else 1)")
    p.set_defaults(func=cmd_inspect)
    p = sub.add_parser("simulate", help="run a network on an input array")
    p.add_argument("net", metavar="NET.h5")
    p.add_argument("--input", required=True, metavar="X.npy",
                   help="integer array [B, T, *inputShape] (torch order)")
    p.add_argument("--backend", choices=("emulator", "lava", "loihi2"), default="emulator",
                   help="batched integer emulator (default), Lava's CPU simulator (fixed_pt) "
                   "or Loihi 2 hardware (Loihi2HwCfg; needs INRC's lava-loihi, see "
                   "lava_mlsnn/loihi2)")
    p.add_argument("--out", metavar="OUT.npz",
                   help="write layer_<i> [B, T, *shape] and output arrays here")
    p.add_argument("--batch-size", type=_positive_int, default=256, metavar="N",
                   help="samples per emulator batch (default 256)")
    add_simulate_outputs(p)
    p.set_defaults(func=cmd_simulate)
    p = sub.add_parser("evaluate", help="accuracy, activity and throughput on a data set")
    p.add_argument("net", metavar="NET.h5")
    p.add_argument("--dataset", type=_dataset_name, metavar="NAME",
                   help="digits, motion_digits, dvsgesture, nmnist, cifar10dvs, a registered "
                   "name or any tonic data set (default: the one named in the file's metadata)")
    p.add_argument("--root", metavar="DIR", help="folder holding tonic's data set folders")
    p.add_argument("--split", choices=("train", "val", "test"), default="test")
    p.add_argument("--backend", choices=("emulator", "lava", "loihi2"), default="emulator",
                   help="emulator (default), lava (CPU, fixed_pt) or loihi2 (hardware, needs "
                   "INRC's lava-loihi)")
    p.add_argument("--samples", type=_positive_int, metavar="K",
                   help="evaluate a fixed subset of K samples (default: the whole split)")
    p.add_argument("--batch-size", type=_positive_int, default=256, metavar="N")
    p.add_argument("--cache-dir", metavar="DIR", help="framed-tensor cache folder")
    p.set_defaults(func=cmd_evaluate)
    add_nir_parser(sub)
    p = sub.add_parser("configs", help=f"list the configurations shipped with the package "
                       f"('{PROG} train --config NAME')")
    p.set_defaults(func=cmd_configs)
    sub.add_parser("train", help="train a network from a YAML configuration (see "
                   f"'{PROG} train --help')", add_help=False)
    sub.add_parser("export", help="export a training run to a network file, validated and "
                   f"checked (see '{PROG} export --help')", add_help=False)
    sub.add_parser("demo", help="train, export and run the embedded DVS demo "
                   f"(see '{PROG} demo --help')", add_help=False)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command; returns the exit status (0 ok, 2 bad input, 1 failure)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = os.environ.get(DEBUG_ENV, "") not in ("", "0")
    verbosity = 0
    while argv and argv[0] in VERBOSITY:  # global -v / -q, before the command
        verbosity += VERBOSITY[argv.pop(0)]
    from .._log import configure
    configure(verbosity)
    # A file-size limit must fail the write (EFBIG, one line), not kill the process.
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    # Library warnings would break the one-line error contract: collect them and
    # print lava-mlsnn's own only after a successful run.
    with warnings.catch_warnings(record=True) as caught, terminate_on_signals():
        warnings.simplefilter("default")
        try:
            if argv and argv[0] == "demo":
                rc = cmd_demo(argv[1:])
            elif argv and argv[0] in FORWARDED:  # own parsers, exit codes and messages
                rc = importlib.import_module(FORWARDED[argv[0]]).main(
                    argv[1:], prog=f"{PROG} {argv[0]}")
            else:
                parser = build_parser()
                try:
                    args = parser.parse_args(argv)
                except SystemExit as ex:  # usage errors (2) and --help (0)
                    return ex.code if isinstance(ex.code, int) else EXIT_USAGE
                if args.command is None:
                    parser.print_help(sys.stderr)
                    return EXIT_USAGE
                rc = args.func(args)
        except CliError as err:
            _error(err.message)
            return err.code
        except KeyboardInterrupt:
            _error("interrupted")
            return 130
        except Terminated as err:
            _error(str(err))
            return err.exit_status
        except Exception as err:  # noqa: BLE001 -- the one-line contract holds for bugs too
            if is_memory_failure(err):  # refused by the budget (2) or out of memory (1)
                _error(memory_error_line(err))
                return memory_exit_status(err)
            if debug:
                raise
            _error(f"unexpected {type(err).__name__}: {_one_line(err)} "
                   f"(set {DEBUG_ENV}=1 for a traceback)")
            return EXIT_FAILURE
    for w in caught:  # third-party chatter (Lava, torch) only in debug mode
        if debug or f"{os.sep}lava_mlsnn{os.sep}" in str(w.filename):
            print(f"{PROG}: warning: {_one_line(w.message)}", file=sys.stderr)
    return rc
