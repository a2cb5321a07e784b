"""``lava-mlsnn nir import|export``: NIR graphs <-> deployed HDF5 files (DESIGN §7, §10)."""
from __future__ import annotations

import argparse

from ._common import CliError, _check_out, _int_in, _load_network, _one_line, _write


def add_parser(sub) -> None:
    """Register ``nir`` and its two sub-commands on the main command's subparsers."""
    p = sub.add_parser("nir", help="import a NIR graph to HDF5, or export HDF5 to NIR")
    nsub = p.add_subparsers(dest="nir_command", metavar="ACTION", required=True)
    q = nsub.add_parser("import", help="NIR graph -> deployed HDF5 network")
    q.add_argument("graph", metavar="G.nir")
    q.add_argument("-o", "--out", required=True, metavar="NET.h5")
    q.add_argument("--dt", type=float, default=None, help="step (s) at which NIR time "
                   "constants are discretised (default 1e-4, snnTorch's; a Norse graph: its cells' dt "
                   "times the dt given to Norse's to_nir, 1e-6 for Norse's default 1e-3 in "
                   "both, since Norse writes tau = to_nir's dt / tau_mem_inv)")
    q.add_argument("--reset", choices=("zero", "subtract", "snntorch", "snntorch_delay",
                                       "snntorch_zero_delay"), default="zero",
                   help="spike reset: NIR's v = 0 (binary CUBA, default), subtract the "
                   "threshold (multi-level neurons; Sinabs), or snnTorch's own "
                   "reset_mechanism='subtract' with reset_delay=False (snntorch) or True "
                   "(snntorch_delay, snnTorch's default); snntorch_zero_delay: its "
                   "Synaptic reset to zero with reset_delay=True")
    q.add_argument("--levels", type=_int_in(1, 255), default=1, help="levels of multi-level "
                   "neurons "
                   "(with --reset subtract; default 1)")
    q.add_argument("--current", choices=("nir", "jump"), default="nir",
                   help="how a CubaLIF's input enters its synaptic current: NIR's "
                   "dt/tau_syn * w_in * x a step (default) or a jump of w_in * x (Norse's "
                   "LIFCell)")
    q.add_argument("--input-levels", type=_int_in(1, 2 ** 23 - 1), default=1, metavar="N",
                   help="largest input count per pixel and step (default 1)")
    q.add_argument("--timesteps", type=_int_in(1, 1 << 20), default=1, metavar="T",
                   help="steps per sample written to the file (default 1)")
    q.add_argument("--allow-clipping", action="store_true", help="fold even where a "
                   "threshold clips or weights saturate (a warning instead of exit 2)")
    q.set_defaults(func=cmd_import)
    q = nsub.add_parser("export", help="deployed HDF5 network -> NIR graph")
    q.add_argument("net", metavar="NET.h5")
    q.add_argument("-o", "--out", required=True, metavar="G.nir")
    q.add_argument("--dt", type=float, default=None, help="step (s) for NIR time constants "
                   "(default 1e-4)")
    q.add_argument("--plain", action="store_true", help="plain NIR nodes only (no "
                   "lava-mlsnn extension: multi-level layers then lose their exactness)")
    q.add_argument("--pool", choices=("sum", "avg"), default="sum", help="node a pooling "
                   "layer becomes: SumPool2d (Norse, Sinabs; default) or AvgPool2d (snnTorch)")
    q.set_defaults(func=cmd_export)


def _nir_module():
    try:
        from .. import nir as lnir
        import nir  # noqa: F401
    except ImportError as err:
        raise CliError(f"NIR support needs the 'nir' package ({err}); install "
                       "lava-mlsnn[peers]") from None
    return lnir


def cmd_import(args: argparse.Namespace) -> int:
    from ..block.base import FoldError
    from .._io import UnsafePathError, check_input_file
    lnir = _nir_module()
    try:
        check_input_file(args.graph)
    except (FileNotFoundError, UnsafePathError) as err:
        raise CliError(str(err)) from None
    _check_out(args.out)
    if args.levels < 1 or args.input_levels < 1 or args.timesteps < 1:
        raise CliError("--levels, --input-levels and --timesteps must be >= 1")
    if args.dt is not None and not args.dt > 0:
        raise CliError(f"--dt must be > 0, got {args.dt}")
    try:
        import nir
        graph = nir.read(args.graph, type_check=False)
    except Exception as err:  # noqa: BLE001 -- h5py/nir raise many kinds for a bad file
        raise CliError(f"{args.graph}: not a readable NIR file ({_one_line(err)})") from None
    opts = dict(reset=args.reset, levels=args.levels, input_levels=args.input_levels,
                timesteps=args.timesteps, current=args.current)
    if args.dt is not None:
        opts["dt"] = args.dt
    try:
        spec = lnir.read_nir(graph, allow_clipping=args.allow_clipping, **opts)
    except (lnir.NIRImportError, FoldError) as err:
        raise CliError(f"{args.graph}: {_one_line(err)}") from None
    from ..format.reader import FormatError
    from ..format.writer import write_checked_network
    try:
        _write(args.out, lambda: write_checked_network(spec, args.out))
    except FormatError as err:  # the graph's values do not fit the format: nothing written
        raise CliError(f"{args.graph}: imports as a network that does not validate: "
                       f"{_one_line(err.problems[0])}") from None
    print(f"{args.out}: {len(spec.layers)} layers from {args.graph}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    lnir = _nir_module()
    import nir
    spec = _load_network(args.net)
    _check_out(args.out)
    try:
        graph = lnir.to_nir(spec, dt=args.dt or lnir.DEFAULT_DT, extension=not args.plain,
                            pool=args.pool)
    except ValueError as err:
        raise CliError(f"{args.net}: {err}") from None
    from .._io import atomic_write_path
    _write(args.out, lambda: atomic_write_path(args.out, lambda buf: nir.write(buf, graph)))
    print(f"{args.out}: {len(graph.nodes)} NIR nodes from {args.net}")
    return 0
