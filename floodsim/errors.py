"""Typed exceptions and the exit-code contract of the command line.

Every message says what is wrong, where (file, field) and how to fix it. The command line maps each
exception class to one exit code (:func:`exit_code_of`): 0 success, 2 bad input (the user can fix it),
3 a valid input whose simulation became unstable, 1 anything else (a bug: please report it).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of ``floodsim`` commands."""

    OK = 0
    BUG = 1
    INPUT = 2
    UNSTABLE = 3
    INTERRUPTED = 130   # Ctrl-C (SIGINT)
    TERMINATED = 143    # SIGTERM


class FloodsimError(Exception):
    """Base class of every error floodsim raises on purpose."""

    exit_code: ExitCode = ExitCode.INPUT


class ScenarioError(FloodsimError):
    """A scenario file or an input it names is invalid."""


class InputDataError(FloodsimError):
    """A raster, vector layer or time series cannot be used as given."""


class GridAlignmentError(InputDataError):
    """An input raster does not line up with the model grid (CRS, extent or cell size)."""


class StabilityError(FloodsimError):
    """The time loop cannot continue: NaN, time step collapse, or an unrepairable state."""

    exit_code = ExitCode.UNSTABLE


class MassBalanceError(FloodsimError):
    """The volume balance of a run does not close within the requested tolerance."""

    exit_code = ExitCode.UNSTABLE


class OutputError(FloodsimError):
    """Results cannot be written where asked."""


def exit_code_of(exc: BaseException) -> ExitCode:
    """The exit code a command returns for ``exc`` (:class:`ExitCode.BUG` for anything unexpected)."""
    return exc.exit_code if isinstance(exc, FloodsimError) else ExitCode.BUG
