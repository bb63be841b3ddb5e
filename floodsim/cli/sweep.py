"""``floodsim sweep SWEEP.toml``: run a design sweep on Dask and print the ranked comparison."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..errors import ExitCode


def _quiet_dask(record: logging.LogRecord) -> bool:
    return not (record.name.startswith("distributed") and record.levelno < logging.WARNING)


def cmd_sweep(args) -> int:
    from ..sweep import format_ranking, load_sweep, run_sweep

    if not getattr(args, "verbose", False):   # Dask logs its cluster's life at INFO; keep the output clean
        for handler in logging.getLogger().handlers:
            handler.addFilter(_quiet_dask)
    spec = load_sweep(args.sweep)
    if args.rank_by:
        spec = spec.model_copy(update={"rank_by": args.rank_by})
    result = run_sweep(spec, out_dir=args.out, scheduler=args.scheduler, workers=args.workers,
                       progress=not args.quiet)
    table = result.table
    status = table["status"].astype(str)
    reran = status.str.startswith("rerun").sum()
    print(f"sweep           {args.sweep}: {len(table)} member(s) in {result.wall_s:.1f} s wall "
          f"({(status == 'ok').sum() + reran} run"
          + (f", {reran} of them again as their inputs changed" if reran else "")
          + f", {status.str.startswith('skipped').sum()} already complete, {(status == 'failed').sum()} "
          f"failed)")
    print(f"ranked by       {spec.rank_by}")
    print(format_ranking(table, spec.rank_by))
    if result.ead is not None:
        print("expected annual damage (EUR 2010 / year) per design; benefit against the first design:")
        money = {c: (lambda v: f"{v:,.0f}") for c in ("ead_eur_per_yr", "benefit_eur_per_yr")}
        print(result.ead.to_string(index=False, formatters=money))
    for line in result.notes or []:
        print(line)
    print(f"written         {', '.join(str(p) for p in result.files.values())}")
    return exit_code_of_table(table)


def exit_code_of_table(table) -> ExitCode:
    """0 when no member failed, else the worst failure's code: 1 a bug, 3 unstable, 2 bad input."""
    failed = table["status"] == "failed"
    if not failed.any():
        return ExitCode.OK
    kinds = set(table.loc[failed, "error_kind"]) if "error_kind" in table.columns else {"bug"}
    if not kinds <= {"input", "unstable"}:     # a bug, or a failure of unknown kind
        return ExitCode.BUG
    return ExitCode.UNSTABLE if "unstable" in kinds else ExitCode.INPUT


def add_parser(sub) -> argparse.ArgumentParser:
    """Register ``floodsim sweep`` on the subparsers ``sub``."""
    p = sub.add_parser("sweep", help="run many variants of a scenario on Dask and compare them",
                       description="Run every member of a sweep file on a Dask cluster (a local one by "
                                   "default), resume where a killed sweep stopped, and print the ranked "
                                   "comparison. Exit code 0 when every member ran; otherwise that of the "
                                   "worst failure (2 input, 3 unstable, 1 bug).")
    p.add_argument("sweep", type=Path, help="sweep file (.toml)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: start a "
                        "local cluster)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes of the local cluster (default: one per core, at most one per "
                        "member)")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder (default: outputs/<sweep file name>)")
    p.add_argument("--rank-by", default=None, metavar="METRIC",
                   help="metric to rank by (default: the file's rank_by, else damage_eur)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sweep)
    return p

