"""``floodsim compare RUN_A RUN_B [RUN_C …] --out DIR``: differences between finished runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ExitCode


def cmd_compare(args) -> int:
    from ..analysis.compare import compare_runs, format_table

    result = compare_runs(args.runs, args.out, png=not args.no_png)
    print(format_table(result))
    print(f"written         {Path(args.out)}/ ({', '.join(p.name for p in result.files.values())})")
    return ExitCode.OK


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "compare", help="compare finished runs: difference rasters, summaries side by side, changed buildings",
        description="Compare run folders written by `floodsim run`. The first run is the reference A; "
                    "differences are B − A (positive = deeper / more hazardous in B). Runs must share the "
                    "grid (shape, transform, CRS); others are refused with exit code 2.")
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run folders (A B [C …])")
    p.add_argument("--out", type=Path, required=True, help="folder for the comparison products")
    p.add_argument("--no-png", action="store_true", help="skip the static PNG map")
    p.set_defaults(func=cmd_compare)
    return p
