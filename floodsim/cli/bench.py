"""``floodsim bench``: a short solver throughput benchmark on a synthetic DEM (cell-updates per second).

The terrain, storm and set-up are those of :mod:`floodsim.run.bench`, shared with
``benchmarks/bench_core.py``, so the numbers are comparable with ``benchmarks/README.md``. For the full
benchmark (Landlab peer, memory, Merewether end to end) run ``python benchmarks/bench_core.py``.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import ExitCode


def cmd_bench(args) -> int:
    # The OpenMP wait policy is left as `floodsim run` gets it, so the figure is what a run sees. On a
    # machine that other processes load, OMP_WAIT_POLICY=passive can be faster (benchmarks/README.md).
    if any(n < 40 for n in args.sizes) or args.duration <= 0:
        print("floodsim: error: bench: --sizes must be ≥ 40 and --duration > 0.", file=sys.stderr)
        return ExitCode.INPUT
    from ..run.bench import format_bench, run_bench

    result = run_bench(tuple(args.sizes), args.duration)
    print(json.dumps(result, indent=2) if args.json else format_bench(result))
    return ExitCode.OK


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("bench", help="short solver throughput benchmark (cell-updates per second)",
                       description=__doc__.split("\n\n")[0] + " See benchmarks/README.md for the full suite.")
    p.add_argument("--sizes", type=int, nargs="+", default=[500], metavar="N",
                   help="grid sizes N (N × N cells of 1 m; default 500)")
    p.add_argument("--duration", type=float, default=300.0, metavar="SECONDS",
                   help="simulated time per size [s] (default 300)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_bench)
    return p
