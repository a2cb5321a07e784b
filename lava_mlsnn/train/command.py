"""Train a multi-level spiking network on DVS count frames, resumably, on one or K processes.

Usage (``lava-mlsnn train``, or the wrapper ``python training/train_dvs.py``)::

    lava-mlsnn train                                               # embedded digits, CPU, minutes
    lava-mlsnn train --config dvsgesture --set data.root=/data --set optim.epochs=40
    lava-mlsnn train --resume runs/digits-convnet-20250101-120000
    lava-mlsnn train --resume runs/digits-convnet-20250101-120000 --epochs 30   # extend a run
    lava-mlsnn train --config papers/qsnn_vgg11_cifar10dvs --set data.root=/data
    torchrun --nproc_per_node=2 training/train_dvs.py --set train.device=cpu

Configuration: the defaults (``lava_mlsnn/configs/default.yaml``), then each
``--config FILE`` in order (a file, or the name of a configuration shipped in
``lava_mlsnn/configs``: ``digits``, ``dvsgesture``, ``nmnist``, ``cifar10dvs``,
``papers/...``; ``lava-mlsnn configs`` lists them), then each ``--set
section.key=value`` (value parsed as YAML). ``--resume RUN_DIR --epochs N`` (or ``--set
optim.epochs=N``) extends a run, finished or not, to N epochs. The run directory gets the resolved ``config.yaml``, ``metrics.csv``,
``curves.png``, ``activity.png``, ``checkpoints/{last,best}.pt`` and
``summary.json``; export it with ``lava-mlsnn export RUN_DIR``.

Exit status: 0 done (or stopped by ``--stop-after-epochs``), 2 bad configuration,
missing or unreadable data set, or run directory problem -- no usable checkpoint
included (one line on stderr), 1 unexpected failure (``LAVA_MLSNN_DEBUG=1`` shows
the traceback), 130 / 143 / 129 on SIGINT / SIGTERM / SIGHUP (the last completed
epoch stays in ``checkpoints/last.pt``; DataLoader workers end with the script).
A run directory without a checkpoint (killed during its first epoch) can be
given to ``--resume``: the run starts over with its configuration.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import time
from typing import Optional, Sequence

DEFAULT_PROG = "lava-mlsnn train"
PROG = DEFAULT_PROG  # error lines start with it (the script wrapper says train_dvs)
RESUME_MAY_CHANGE = ("train.device", "data.workers", "optim.epochs")


def _error(message: str) -> None:
    print(f"{PROG}: error: {' '.join(str(message).split())}", file=sys.stderr)


class UsageError(Exception):
    """Exit 2 with this one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not argparse's usage block
        _error(f"{message} (see --help)")
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                epilog="Config keys: see lava_mlsnn/configs/default.yaml.")
    p.add_argument("--config", action="append", default=[], metavar="FILE.yaml",
                   help="YAML configuration, a file or a shipped name (repeatable; later "
                   "files win; 'lava-mlsnn configs' lists the shipped ones)")
    p.add_argument("--set", action="append", default=[], dest="overrides",
                   metavar="SECTION.KEY=VALUE", help="override one key (repeatable)")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue the run in RUN_DIR from its last checkpoint")
    p.add_argument("--epochs", type=int, metavar="N", help="train to N epochs in all "
                   "(same as --set optim.epochs=N; with --resume, extends the run)")
    p.add_argument("--stop-after-epochs", type=int, metavar="K",
                   help="stop (as if killed) after K epochs of this invocation")
    p.add_argument("--print-config", action="store_true",
                   help="print the resolved configuration and exit")
    p.add_argument("--no-progress", action="store_true", help="one line per epoch, no bars "
                   "(bars are drawn only on a terminal)")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log lines")
    p.add_argument("-q", "--quiet", action="count", default=0, help="warnings only")
    return p


def _new_run_dir(config: dict) -> str:
    out = config["output"]
    if out["dir"]:
        run_dir = os.path.abspath(out["dir"])
        if os.path.exists(os.path.join(run_dir, "config.yaml")):
            raise UsageError(f"{run_dir} already holds a run: continue it with --resume {run_dir} "
                         "or choose another output.dir")
        return run_dir
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = os.path.join(os.path.abspath(out["root"]),
                        f"{config['data']['dataset']}-{config['model']['arch']}-{stamp}")
    run_dir, k = base, 2
    while os.path.exists(run_dir):
        run_dir, k = f"{base}-{k}", k + 1
    return run_dir


def _resolve(args: argparse.Namespace):
    from lava_mlsnn.train import config as C
    if args.epochs is not None:
        args.overrides = list(args.overrides) + [f"optim.epochs={args.epochs}"]
    if args.resume:
        cfg_path = os.path.join(args.resume, "config.yaml")
        if not os.path.isfile(cfg_path):  # no checkpoint yet: the run starts over
            raise UsageError(f"{args.resume}: not a run directory (no config.yaml)")
        if args.config:
            raise UsageError("--resume takes the run's own config.yaml; drop --config")
        bad = [k for k in C.override_keys(args.overrides) if k not in RESUME_MAY_CHANGE]
        if bad:
            raise UsageError(f"--set {bad[0]} cannot change on --resume (only "
                         f"{', '.join(RESUME_MAY_CHANGE)} may)")
        return C.resolve([cfg_path], args.overrides)
    config = C.resolve([C.config_file(c) for c in args.config], args.overrides)
    # Absolute paths in config.yaml and the exported file's metadata: a run read from
    # another directory (evaluate, export, --resume) finds the same data and cache.
    for key in ("root", "cache_dir"):
        if config["data"][key]:
            config["data"][key] = os.path.abspath(os.path.expanduser(config["data"][key]))
    return config


def _how_to_resume(run_dir: Optional[str]) -> str:
    """The tail of an interruption message: where the run stands, how to continue it."""
    if not run_dir or not os.path.isfile(os.path.join(run_dir, "config.yaml")):
        return ""
    from lava_mlsnn.train.runner import has_checkpoint
    if not has_checkpoint(run_dir):
        return (f" (no epoch completed yet; start the run again with {_again()} --resume "
                f"{run_dir})")
    return (f" (the last completed epoch is in {os.path.join(run_dir, 'checkpoints', 'last.pt')}"
            f"; continue with {_again()} --resume {run_dir})")


def _again() -> str:
    """The command that continues a run (the script wrapper names itself)."""
    return PROG if PROG.startswith("lava-mlsnn") else "python training/train_dvs.py"


def _discard(run_dir: Optional[str]) -> None:
    """Remove a run directory made by this invocation that holds no checkpoint yet."""
    from lava_mlsnn.train.runner import has_checkpoint
    if run_dir and not has_checkpoint(run_dir):
        shutil.rmtree(run_dir, ignore_errors=True)


def _unexpected(err: Exception, debug: bool, created: Optional[str]) -> int:
    """One line for a failure that is not the configuration's fault (the traceback with
    ``LAVA_MLSNN_DEBUG=1``); a memory failure says which limit it met."""
    from lava_mlsnn._limits import is_memory_failure, memory_error_line, memory_exit_status
    if is_memory_failure(err):  # the budget refused a size (2) or memory ran out (1)
        _error(memory_error_line(err))
        _discard(created)
        return memory_exit_status(err)
    if debug:
        raise err
    _error(f"unexpected {type(err).__name__}: {err} (set LAVA_MLSNN_DEBUG=1 for a traceback)")
    return 1


def main(argv: Optional[Sequence[str]] = None, prog: Optional[str] = None) -> int:
    """Run the command; ``prog`` names it in its messages (default ``lava-mlsnn train``)."""
    global PROG
    PROG = prog or DEFAULT_PROG  # per call: an earlier call's name does not stick
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as ex:  # --help (0) and usage errors (2, one line already printed)
        return ex.code if isinstance(ex.code, int) else 2
    debug = os.environ.get("LAVA_MLSNN_DEBUG", "") not in ("", "0")
    from lava_mlsnn import _log, lifecycle
    _log.configure(args.verbose - args.quiet)
    # DataLoader workers die with this process; a torchrun rank ends with its launcher;
    # a file-size limit fails a write (one line) instead of killing the process.
    lifecycle.arm_die_with_parent()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        lifecycle.exit_with_parent()
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    with lifecycle.terminate_on_signals():
        try:
            return _main(args, debug)
        except lifecycle.Terminated as err:  # outside the run (configuration, set-up)
            _error(str(err))
            return err.exit_status


def _main(args: argparse.Namespace, debug: bool) -> int:
    from lava_mlsnn.lifecycle import Terminated
    if args.stop_after_epochs is not None and args.stop_after_epochs < 1:
        _error("--stop-after-epochs must be >= 1")
        return 2
    from lava_mlsnn.train import config as C  # light: a bad configuration fails at once
    try:
        config = _resolve(args)
    except (UsageError, C.ConfigError) as err:
        _error(err)
        return 2
    if args.print_config:
        import yaml
        print(yaml.safe_dump(config, sort_keys=False), end="")
        return 0
    from lava_mlsnn.data import DatasetNotFoundError
    from lava_mlsnn.train import distributed as D
    from lava_mlsnn.data.splits import DataError
    from lava_mlsnn.train.runner import RunError, RunOptions, run
    from lava_mlsnn._limits import is_memory_failure
    d = None
    created = None  # a run directory this invocation made, removed again if it fails early
    run_dir: Optional[str] = None
    try:
        try:
            d = D.setup(config["train"]["device"])
        except RuntimeError as err:
            raise UsageError(str(err)) from None
        run_dir = os.path.abspath(args.resume) if args.resume else None
        if run_dir is None:
            run_dir = D.broadcast_object(d, _new_run_dir(config) if d.main else None)
        if d.main:
            created = None if os.path.exists(run_dir) else run_dir
            os.makedirs(os.path.join(run_dir, "checkpoints"), exist_ok=True)
            if not args.resume:
                C.dump(config, os.path.join(run_dir, "config.yaml"))
            print(f"{PROG}: run directory {run_dir} ({d.world} process"
                  f"{'es' if d.world > 1 else ''}, {d.device})", flush=True)
        opts = RunOptions(run_dir, resume=bool(args.resume),
                          stop_after_epochs=args.stop_after_epochs,
                          progress=not args.no_progress)
        result = run(config, opts, d)
        if result.get("stopped") and d.main:
            print(f"{PROG}: stopped after epoch {result['epoch']}; continue with "
                  f"{_again()} --resume {run_dir}", flush=True)
        return 0
    except (UsageError, C.ConfigError, DatasetNotFoundError, DataError, RunError,
            ImportError) as err:  # ImportError: e.g. CIFAR10-DVS without the aedat package
        if isinstance(err, ImportError) and is_memory_failure(err):  # no room to map it
            return _unexpected(err, debug, created)
        _error(err)
        _discard(created)
        return 2
    except KeyboardInterrupt:
        _error(f"interrupted{_how_to_resume(run_dir)}")
        return 130
    except Terminated as err:  # SIGTERM/SIGHUP: DataLoader workers and ranks end with us
        _error(f"{err}{_how_to_resume(run_dir)}")
        return err.exit_status
    except OSError as err:
        from lava_mlsnn._io import is_disk_full, write_error_line
        if debug or not is_disk_full(err):
            return _unexpected(err, debug, created)
        # disk full / file too large: the last complete checkpoint is still in place
        _error(write_error_line(err.filename or run_dir or "the run directory", err))
        _discard(created)
        return 1
    except Exception as err:  # noqa: BLE001 -- one line unless debugging
        return _unexpected(err, debug, created)
    finally:
        if d is not None:
            D.teardown(d)


if __name__ == "__main__":
    sys.exit(main())
