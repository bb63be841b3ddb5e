"""Command line: ``floodsim run | validate | compare | plot | map | map-assets | publish | sweep | bench``.

One module per verb (thin: parse, call, print); ``floodsim COMMAND --help`` describes each.

Exit codes (:class:`floodsim.errors.ExitCode`): 0 success; 2 bad input (scenario, data, output folder,
a checkpoint in the way); 3 the simulation became unstable; 130 interrupted (Ctrl-C), 143 terminated
(SIGTERM): ``floodsim run`` then leaves its output folder as it was; 1 anything unexpected (a bug:
please report it with the traceback printed).

Printing never fails a command whose work is done: a console that cannot encode "×", "²" or "Δ" gets
``\\xd7``-style escapes, and a closed pipe (``floodsim run … | head``) ends the command quietly with
exit 0.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading

from ..errors import ExitCode, FloodsimError, exit_code_of
from . import bench, compare, map, plot, publish, run, sweep, validate

#: The verbs, in the order ``floodsim --help`` lists them.
COMMANDS = (run, validate, compare, plot, map, publish, sweep, bench)

#: Characters the summaries print; a stream that cannot encode them is switched to escapes.
_SAMPLE = "×²³−Δ≥→…"


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that clean-ups (``finally``) run as for Ctrl-C."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="floodsim", description="2-D flood and stormwater scenario simulator.")
    parser.add_argument("-v", "--verbose", action="store_true", help="more log lines")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def _tolerate_unencodable_output() -> None:
    """Switch stdout/stderr to ``errors="backslashreplace"`` where their encoding lacks our characters."""
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None)
        if not encoding or getattr(stream, "errors", "strict") != "strict":
            continue
        try:
            _SAMPLE.encode(encoding)
        except UnicodeEncodeError:
            with contextlib.suppress(AttributeError, ValueError, OSError):
                stream.reconfigure(errors="backslashreplace")
        except LookupError:
            pass


def _stdout_to_devnull() -> None:
    """After a closed pipe: send what is still buffered for stdout to /dev/null (Python docs, SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, AttributeError, ValueError):   # not a real file (captured): nothing will flush to a pipe
        pass


def _say(message: str) -> None:
    """A line on stderr that cannot fail (a closed or unencodable stderr is ignored)."""
    with contextlib.suppress(OSError, ValueError, UnicodeError):
        print(message, file=sys.stderr)


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """While a command runs: SIGTERM raises :class:`Terminated` (when SIGTERM has its default action
    and this is the main thread), so a run cleans up its temporary folder as for Ctrl-C."""
    previous = None
    if threading.current_thread() is threading.main_thread():
        with contextlib.suppress(ValueError, OSError):
            if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
                def handler(signum, frame):
                    raise Terminated()
                previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def main(argv=None) -> int:
    _tolerate_unencodable_output()
    try:
        args = build_parser().parse_args(argv)
    except SystemExit:
        with contextlib.suppress(BrokenPipeError):     # `floodsim --help | head -1`
            sys.stdout.flush()
        raise
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="floodsim: %(message)s")
    with _sigterm_as_interrupt():
        try:
            code = int(args.func(args))
            sys.stdout.flush()
            return code
        except BrokenPipeError:
            # the reader of stdout went away (`floodsim run … | head`): the work is done, only the
            # rest of the report is lost
            _stdout_to_devnull()
            return int(ExitCode.OK)
        except FloodsimError as exc:
            _say(f"floodsim: error: {exc}")
            return int(exit_code_of(exc))
        except KeyboardInterrupt as exc:
            what = "terminated" if isinstance(exc, Terminated) else "interrupted"
            notes = getattr(exc, "__notes__", None)
            if notes:
                _say(f"floodsim: {what}; {notes[-1]}.")
            elif args.command == "run" and (args.checkpoint_every or args.checkpoint_every_sim):
                _say(f"floodsim: {what}; the output folder was left as it was, apart from its checkpoint "
                     "(continue with --resume).")
            elif args.command == "run":
                _say(f"floodsim: {what}; the output folder was left as it was.")
            else:
                _say(f"floodsim: {what}.")
            return int(ExitCode.TERMINATED if isinstance(exc, Terminated) else ExitCode.INTERRUPTED)


if __name__ == "__main__":
    sys.exit(main())
