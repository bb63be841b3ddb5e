"""Numerical settings of the time loop: the only home of the solver's numeric defaults and bounds.

Scenario fields (:mod:`floodsim.scenario.models`) carry their own defaults for what users set; every
setting below that users cannot set lives only here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..errors import InputDataError

#: Steps between checks that every depth is finite (one sum over the grid; ~0.5 % of a step's cost).
#: The Courant condition catches a blow-up before NaN appears; this catches NaN from anywhere else.
NAN_CHECK_STEPS = 16

#: Negative depths shallower than this are round-off, set to zero by the positivity repair [m].
REPAIR_TOLERANCE_M = 1e-15


class RoofRain(StrEnum):
    """What happens to rain falling on a building footprint."""

    GROUND = "ground"  # runs off to the nearest ground cell (downpipes discharge at the wall)
    DRAIN = "drain"    # leaves through the piped system; reported as 'roof_drainage'


@dataclass(frozen=True)
class SolverParams:
    """Numerical settings (SI). Defaults follow de Almeida et al. (2012) (θ) and Bates et al. (2010), with a smaller Courant number.

    Parameters
    ----------
    cfl : float
        Courant number α in ``dt = α min(dx,dy) / (sqrt(g h_max) + u_max)``. Default 0.6: Bates et
        al. (2010) use up to 0.7, which leaves deep still water (ponds, flooded basins) with an
        undamped 2Δx oscillation in this scheme (see the module docstring).
    theta : float
        de Almeida θ-weighting; 1 is the original Bates et al. scheme, 0.7–0.9 damps oscillations.
    hmin : float
        Depth [m] below which a face carries no flow and a cell counts as dry.
    dt_max : float
        Largest time step [s] (the first steps on a dry grid would otherwise be absurd).
    dt_min : float
        Floor of the Courant step [s]: ``stall_steps`` consecutive steps below it stop the run with a
        diagnosis (:class:`StabilityError`: time, cell, depth, speed, hint).
    stall_steps : int
        Consecutive steps with a Courant step below ``dt_min`` that count as a stall (1 = the first).
    g : float
        Gravitational acceleration [m/s²].
    band_rows : int
        Rows per band, the unit of parallel work and of skipping dry areas.
    """

    cfl: float = 0.6
    theta: float = 0.8
    hmin: float = 0.001
    dt_max: float = 5.0
    dt_min: float = 1e-4
    g: float = 9.80665
    band_rows: int = 16
    stall_steps: int = 3

    def __post_init__(self):
        checks = {"cfl": 0 < self.cfl <= 1, "theta": 0 <= self.theta <= 1, "hmin": self.hmin > 0,
                  "dt_max": self.dt_max > 0, "dt_min": 0 < self.dt_min < self.dt_max, "g": self.g > 0,
                  "band_rows": self.band_rows >= 1, "stall_steps": self.stall_steps >= 1}
        for name, ok in checks.items():
            if not ok:
                raise InputDataError(f"solver parameter {name}={getattr(self, name)} is out of range.")


