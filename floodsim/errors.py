"""Typed exceptions. Every message says what is wrong, where (file, field) and how to fix it."""

from __future__ import annotations


class FloodsimError(Exception):
    """Base class of every error floodsim raises on purpose."""


class ScenarioError(FloodsimError):
    """A scenario file or an input it names is invalid."""


class InputDataError(FloodsimError):
    """A raster, vector layer or time series cannot be used as given."""


class GridAlignmentError(InputDataError):
    """An input raster does not line up with the model grid (CRS, extent or cell size)."""


class StabilityError(FloodsimError):
    """The time loop cannot continue: NaN, time step collapse, or an unrepairable state."""


class MassBalanceError(FloodsimError):
    """The volume balance of a run does not close within the requested tolerance."""


class OutputError(FloodsimError):
    """Results cannot be written where asked."""
