"""Inflows: water entering the domain over a set of cells (a river, a culvert, an inflow area)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputDataError
from .forcing import TimeSeries


@dataclass(frozen=True, eq=False)
class Inflow:
    """Water entering the domain over a set of cells (a river, a culvert, an inflow area).

    Parameters
    ----------
    name : str
        For reports and errors.
    cells : (ny, nx) bool array
        Where the water enters; the discharge is spread evenly over these cells.
    discharge : TimeSeries or float
        Discharge [m³/s] (non-negative).
    """

    name: str
    cells: np.ndarray = field(repr=False)
    discharge: TimeSeries | float = 0.0

    def __post_init__(self):
        if not isinstance(self.discharge, TimeSeries):
            object.__setattr__(self, "discharge", TimeSeries.constant(float(self.discharge),
                                                                      f"inflow {self.name}"))
        if np.any(self.discharge.values < 0):
            raise InputDataError(f"inflow {self.name}: discharge must be non-negative (m³/s).")
        if not np.any(self.cells):
            raise InputDataError(f"inflow {self.name}: its area covers no active model cell; check that "
                                 "the polygon lies inside the DEM and not under a building.")
