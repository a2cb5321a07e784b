"""Export a training run's best checkpoint to a DESIGN §6 network file, validate it, check it.

Usage (``lava-mlsnn export``, or the wrapper ``python netx_export/export.py``)::

    lava-mlsnn export RUN_DIR [--out NET.h5] [--samples K]

1. rebuilds the model from ``RUN_DIR/config.yaml`` and loads
   ``RUN_DIR/checkpoints/best.pt`` (the best-validation epoch);
2. writes the file (default ``RUN_DIR/network.h5``) with the training framing,
   configuration and results in its metadata (``lava-mlsnn evaluate`` reads them);
3. validates it (``read_network`` and the Loihi 2 deployment warnings) and prints
   the ``lava-mlsnn inspect`` report;
4. runs the training-side quantized forward and the batched emulator on the
   run's test split and compares them integer for integer, layer by layer, step by
   step: both accuracies and the share of samples that agree everywhere.

Exit status: 0 when every test sample agrees, 1 when the deployment is not
bit-exact (or on an unexpected failure), 2 for a bad run directory or a missing
data set (one line on stderr).
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Dict, List, Optional, Sequence

PROG = "lava-mlsnn export"  # error lines start with it (the script wrapper says export)


class ExportError(Exception):
    """Exit 2 with this one line."""


def _error(message: str) -> None:
    print(f"{PROG}: error: {' '.join(str(message).split())}", file=sys.stderr)


def load_run(run_dir: str):
    """``(config, best checkpoint)`` of a run directory (raises :class:`ExportError`)."""
    from lava_mlsnn.train import config as C
    from lava_mlsnn.train.checkpoint import CheckpointError, load_checkpoint
    from lava_mlsnn.train.runner import CHECKPOINT_FORMAT
    cfg = os.path.join(run_dir, "config.yaml")
    best = os.path.join(run_dir, "checkpoints", "best.pt")
    if not os.path.isdir(run_dir):
        raise ExportError(f"{run_dir}: no such run directory")
    if not os.path.isfile(cfg) or not os.path.isfile(best):
        raise ExportError(f"{run_dir}: not a finished training run (needs config.yaml and "
                          "checkpoints/best.pt)")
    try:
        config = C.load_resolved(cfg)
    except C.ConfigError as err:
        raise ExportError(f"{cfg}: {err}") from None
    # weights_only, checksum and finite values verified; best.prev.pt if corrupt
    try:
        state, _ = load_checkpoint(best, CHECKPOINT_FORMAT, on_fallback=lambda m: print(
            f"{PROG}: warning: {' '.join(m.split())}", file=sys.stderr))
    except CheckpointError as err:
        raise ExportError(str(err)) from None
    return config, state


def compare(net, spec, test, batch_size: int) -> Dict[str, Any]:
    """Quantized training forward vs emulator on every sample of ``test`` (a FrameSet),
    in one pass."""
    import numpy as np
    import torch

    from lava_mlsnn.classify import classify_spec
    from lava_mlsnn.netx import emulate
    from lava_mlsnn.backends.evaluate import accumulate_activity, per_sample_activity
    from lava_mlsnn.train.loop import run_evaluation
    same: List[np.ndarray] = []
    pred_emu: List[torch.Tensor] = []
    acc: Dict[int, Dict[str, float]] = {}
    out_i = spec.output_index

    def against_emulator(x, y, record, pred) -> None:  # x: SLAYER layout [B, C, H, W, T]
        emu = emulate(spec, x.movedim(-1, 1).to(torch.int64))
        ok = torch.ones(len(y), dtype=torch.bool)
        for i, r in enumerate(record):
            ok &= (r.movedim(-1, 1).to(torch.int64) == emu[i]).reshape(len(y), -1).all(1)
        same.append(ok.numpy())
        pred_emu.append(classify_spec(spec, emu[out_i]))
        accumulate_activity(spec, {i: v.numpy() for i, v in emu.items()}, acc)

    loader = torch.utils.data.DataLoader(test, batch_size=batch_size, shuffle=False)
    ev = run_evaluation(net, loader, quantized=True, time_first=True,
                        on_batch=against_emulator)
    lab, p_t, p_e = ev.labels, ev.predictions, torch.cat(pred_emu)
    _, activity = per_sample_activity(acc, len(lab))
    return {"samples": len(lab), "acc_train_quantized": ev.accuracy,
            "acc_emulator": float((p_e == lab).float().mean()),
            "agreement": float(np.concatenate(same).mean()),
            "prediction_agreement": float((p_t == p_e).float().mean()), "activity": activity}


def main(argv: Optional[Sequence[str]] = None, prog: Optional[str] = None) -> int:
    """Run the command; ``prog`` names it in its messages (default ``lava-mlsnn export``)."""
    global PROG
    if prog:
        PROG = prog
    from lava_mlsnn.cli._common import OneLineParser
    parser = OneLineParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--out", metavar="NET.h5", help="output file (default RUN_DIR/network.h5)")
    parser.add_argument("--samples", type=int, metavar="K",
                        help="compare on K test samples only (default: the run's test split)")
    parser.add_argument("--batch-size", type=int, default=128, metavar="N")
    parser.add_argument("--no-inspect", action="store_true", help="skip the inspect report")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log lines")
    parser.add_argument("-q", "--quiet", action="count", default=0, help="warnings only")
    try:
        args = parser.parse_args(argv)
    except SystemExit as ex:  # --help (0) and usage errors (2, one line already printed)
        return ex.code if isinstance(ex.code, int) else 2
    from lava_mlsnn import _log
    _log.configure(args.verbose - args.quiet)
    debug = os.environ.get("LAVA_MLSNN_DEBUG", "") not in ("", "0")
    try:
        return _export(args)
    except ExportError as err:
        _error(err)
        return 2
    except Exception as err:  # noqa: BLE001
        from lava_mlsnn._limits import is_memory_failure, memory_error_line, memory_exit_status
        if is_memory_failure(err):  # the budget refused a size (2) or memory ran out (1)
            _error(memory_error_line(err))
            return memory_exit_status(err)
        from lava_mlsnn._io import UnsafePathError
        from lava_mlsnn.data import DatasetNotFoundError
        from lava_mlsnn.data.splits import DataError
        if isinstance(err, (DatasetNotFoundError, DataError, UnsafePathError)):
            _error(err)
            return 2
        if debug:
            raise
        _error(f"unexpected {type(err).__name__}: {err} (set LAVA_MLSNN_DEBUG=1 for a "
               "traceback)")
        return 1


def _export(args: argparse.Namespace) -> int:
    import json
    import tempfile

    from lava_mlsnn._io import is_devnull
    from lava_mlsnn.data.splits import build_data, default_cache_dir
    from lava_mlsnn.train.models import build_model

    run_dir = os.path.abspath(args.run_dir)
    if args.out is not None and not args.out.strip():
        raise ExportError("--out is empty; give a file name")
    config, state = load_run(run_dir)
    out = os.path.abspath(args.out or os.path.join(run_dir, "network.h5"))
    data = build_data(config, default_cache_dir(run_dir, config["data"]["cache_dir"]))
    net = build_model(config, data.input_shape, len(data.classes), data.classes)
    net.load_state_dict(state["model"])
    summary_path = os.path.join(run_dir, "summary.json")
    results: Dict[str, Any] = {}
    if os.path.isfile(summary_path):
        with open(summary_path) as f:
            results = json.load(f)
    metadata = {"framing": data.framing, "config": config, "run_dir": run_dir,
                "best_epoch": state.get("epoch"), "best_val_acc": state.get("val_acc"),
                "test_acc_float": results.get("test_acc_float"),
                "test_acc_quantized": results.get("test_acc_quantized")}
    with tempfile.TemporaryDirectory(prefix="lava-mlsnn-export-") as scratch:
        # /dev/null keeps nothing to read back: the file is written to a private copy,
        # checked from there and discarded with it
        written = os.path.join(scratch, "network.h5") if is_devnull(out) else out
        try:
            net.export_hdf5(written, metadata=metadata)
        except OSError as err:
            from lava_mlsnn._io import UnsafePathError, write_error_line
            if isinstance(err, UnsafePathError):
                raise ExportError(str(err)) from None
            _error(write_error_line(out, err))
            return 1
        return _check_written(args, config, state, net, data, run_dir, out, written)


def _check_written(args: argparse.Namespace, config, state, net, data, run_dir: str,
                   out: str, written: str) -> int:
    """Validate, inspect and compare the file at ``written`` (which ``out`` names)."""
    from lava_mlsnn import cli
    from lava_mlsnn.netx import read_network
    from lava_mlsnn.format.reader import FormatError
    from lava_mlsnn.backends.loihi2.report import deployment_warnings
    from lava_mlsnn.data.splits import FrameSet, subset_indices
    try:
        spec = read_network(written)
    except FormatError as err:
        _error(f"{out}: the exported file does not validate: {'; '.join(err.problems)}")
        return 1
    warnings_ = deployment_warnings(spec)
    print(f"wrote {out} from {os.path.join(run_dir, 'checkpoints', 'best.pt')} "
          f"(epoch {state.get('epoch')}); validates, {len(warnings_)} deployment warning"
          f"{'' if len(warnings_) == 1 else 's'}")
    if not args.no_inspect:
        print()
        cli.main(["inspect", written])
    test = data.test
    if args.samples is not None:
        test = FrameSet(test.framed, test.indices[subset_indices(len(test), args.samples)],
                        test.name)
    res = compare(net, spec, test, args.batch_size)
    n, agree = res["samples"], res["agreement"]
    print()
    print("=" * 72)
    print(f" test split            {n} samples of {config['data']['dataset']}")
    print(f" quantized (training)  {res['acc_train_quantized']:7.2%}   accuracy")
    print(f" emulator (file)       {res['acc_emulator']:7.2%}   accuracy")
    print(f" agreement             {agree:7.2%}   of samples identical in every layer and step "
          f"({round(agree * n)}/{n}); predictions {res['prediction_agreement']:.2%}")
    a = res["activity"]
    print(f" activity              {a['events']:,.0f} events, {a['payload']:,.0f} payload, "
          f"{a['synops']:,.0f} synops per sample")
    print("=" * 72)
    dataset = config["data"]["dataset"]
    root = f" --root {config['data']['root']}" if config["data"]["root"] else ""
    print(f"next: lava-mlsnn evaluate {out} --dataset {dataset}{root} --backend lava "
          "--samples 32")
    if agree < 1.0 or res["acc_train_quantized"] != res["acc_emulator"]:
        _error("the exported file does not reproduce the training-side integers")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
