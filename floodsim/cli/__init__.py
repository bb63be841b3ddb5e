"""Command line: ``floodsim run | validate | compare | map | map-assets | sweep | bench``.

One module per verb (thin: parse, call, print); ``floodsim COMMAND --help`` describes each.

Exit codes (:class:`floodsim.errors.ExitCode`): 0 success; 2 bad input (scenario, data, output folder);
3 the simulation became unstable; 1 anything unexpected (a bug: please report it with the traceback
printed).
"""

from __future__ import annotations

import argparse
import logging
import sys

from ..errors import ExitCode, FloodsimError, exit_code_of
from . import bench, compare, map, run, sweep, validate

#: The verbs, in the order ``floodsim --help`` lists them.
COMMANDS = (run, validate, compare, map, sweep, bench)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="floodsim", description="2-D flood and stormwater scenario simulator.")
    parser.add_argument("-v", "--verbose", action="store_true", help="more log lines")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="floodsim: %(message)s")
    try:
        return int(args.func(args))
    except FloodsimError as exc:
        print(f"floodsim: error: {exc}", file=sys.stderr)
        return int(exit_code_of(exc))
    except KeyboardInterrupt:
        print("floodsim: interrupted; no partial results were written.", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)


if __name__ == "__main__":
    sys.exit(main())
