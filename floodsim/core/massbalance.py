"""Volume accounting of a run: every way water enters, leaves or is held, and the closure error.

Sign convention: all terms but ``rounding`` are non-negative volumes [m³]; ``net_in = rain + inflow +
boundary_in - boundary_out - infiltration - roof_drainage - measure_outflow + rounding``. ``rounding``
(signed; zero in double precision) is the water that storing the depths in float32 added (positive) or
lost (negative) by rounding each new depth once (``[simulation] precision = "single"``): it is measured
cell by cell, every step, by the kernels that round (:func:`floodsim.kernels.continuity.update_depth`,
:mod:`floodsim.kernels.sources`), so the closure error keeps its meaning, and is reported and bounded on
its own (:data:`floodsim.core.params.SolverParams.max_relative_rounding`). ``stored`` is the water on the
surface plus the water held by measures (tanks, tunnels; :mod:`floodsim.core.operator`). The continuity
error is ``stored - initial - net_in``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class VolumeBalance:
    """Cumulative volumes [m³] since the start of the run."""

    initial: float
    rain: float = 0.0
    inflow: float = 0.0
    boundary_in: float = 0.0
    boundary_out: float = 0.0
    infiltration: float = 0.0
    roof_drainage: float = 0.0
    measure_outflow: float = 0.0
    rounding: float = 0.0

    def add_step(self, *, rain, inflow, boundary_in, boundary_out, infiltration, roof_drainage,
                 measure_outflow=0.0, rounding=0.0):
        self.rain += rain
        self.inflow += inflow
        self.boundary_in += boundary_in
        self.boundary_out += boundary_out
        self.infiltration += infiltration
        self.roof_drainage += roof_drainage
        self.measure_outflow += measure_outflow
        self.rounding += rounding

    @property
    def net_in(self) -> float:
        return (self.rain + self.inflow + self.boundary_in - self.boundary_out - self.infiltration
                - self.roof_drainage - self.measure_outflow + self.rounding)

    def error(self, stored: float) -> float:
        """Continuity error [m³]: water present minus water accounted for."""
        return stored - self.initial - self.net_in

    def scale(self, stored: float) -> float:
        """The largest volume that passed through the system [m³] (what relative errors refer to)."""
        return max(self.initial + self.rain + self.inflow + self.boundary_in, stored, 1e-300)

    def relative_error(self, stored: float) -> float:
        """Continuity error relative to the largest volume that passed through the system."""
        return self.error(stored) / self.scale(stored)

    def relative_rounding(self, stored: float) -> float:
        """The float32 rounding volume relative to the same scale (0 in double precision)."""
        return self.rounding / self.scale(stored)

    def as_dict(self, stored: float) -> dict:
        d = asdict(self)
        d.update(stored=stored, error=self.error(stored), relative_error=self.relative_error(stored))
        return d
