"""Numerical settings of the time loop: the only home of the solver's numeric defaults and bounds.

Scenario fields (:mod:`floodsim.scenario.models`) carry their own defaults for what users set; every
setting below that users cannot set lives only here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from ..errors import InputDataError

#: Solver parameters a scenario sets, and their scenario keys (for messages).
_SCENARIO_KEYS = {"cfl": "cfl", "theta": "theta", "hmin": "hmin_m", "dt_max": "dt_max_s"}

#: Steps between checks that every depth is finite (one sum over the grid; ~0.5 % of a step's cost).
#: The Courant condition catches a blow-up before NaN appears; this catches NaN from anywhere else.
NAN_CHECK_STEPS = 16

#: Steps between giving back the memory the positivity repair wrote in its scratch (when it ran since
#: the last time): one system call; see :meth:`floodsim.core.state.BandWork.release_repair_scratch`.
REPAIR_SCRATCH_RELEASE_STEPS = 512

#: Most output times a run may record (each holds a depth frame).
MAX_OUTPUT_TIMES = 100_000

#: Negative depths shallower than this are round-off, set to zero by the positivity repair [m].
REPAIR_TOLERANCE_M = 1e-15


#: Where the time loop runs: "cpu" (numba kernels) or "cuda" (an NVIDIA GPU, floodsim.core.cuda_backend).
BACKENDS = ("cpu", "cuda")

#: Floating point of the state arrays: "double" (float64) or "single" (float32), see SolverParams.
PRECISIONS = {"double": "float64", "single": "float32"}


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
    max_speed : float
        A flow speed above this [m/s] is beyond physical sense: faster than free fall from any terrain
        on Earth (√(2 g · 9,000 m) ≈ 420 m/s). Checked at every output time, it stops the run
        (:class:`StabilityError`). It is a blow-up detector, not a realism check: a thin film falling
        over a DEM cliff can show 100+ m/s (depth-averaged speed of a 1 cm sheet) in a valid run.
    max_depth : float
        A depth above this [m] stops the run the same way (a lost nodata value in a pit, an inflow on
        far too few cells).
    max_relative_balance_error : float
        The run stops (:class:`MassBalanceError`) when the volume balance's relative closure error
        exceeds this at an output time; round-off is ~1e-15.
    max_relative_rounding : float
        Single precision only: the run stops the same way when the water that the float32 storage of
        depths added or lost by rounding (the balance's ``rounding`` term) exceeds this share of the
        volume. Measured: ~2e-6 on Merewether, ~1e-8 on the benchmark terrain; deep still water (a
        high DEM does not matter: depths, not levels, are stored) raises it.
    g : float
        Gravitational acceleration [m/s²].
    band_rows : int
        Rows per band, the unit of parallel work and of skipping dry areas.
    backend : str
        ``"cpu"`` (default: the numba kernels of :mod:`floodsim.kernels`) or ``"cuda"`` (the same step on
        an NVIDIA GPU, :mod:`floodsim.core.cuda_backend`; needs ``pip install "floodsim[cuda]"``).
    precision : str
        ``"double"`` (default) keeps the state (depth, discharges, bed) in float64; ``"single"`` stores it
        in float32, about half the memory and memory traffic. Every kernel still computes in float64
        (loads are widened, results rounded once when stored), and the volume accounting, the
        Courant reductions and the balance stay float64; the only change is the rounding of the stored
        state (``tests/integration/test_precision.py`` states the differences).
    """

    cfl: float = 0.6
    theta: float = 0.8
    hmin: float = 0.001
    dt_max: float = 5.0
    dt_min: float = 1e-4
    g: float = 9.80665
    band_rows: int = 16
    stall_steps: int = 3
    max_speed: float = 500.0
    max_depth: float = 1000.0
    max_relative_balance_error: float = 1e-6
    max_relative_rounding: float = 1e-4
    backend: str = "cpu"
    precision: str = "double"

    @property
    def dtype(self):
        """numpy dtype of the state arrays (float64 or float32)."""
        return np.dtype(PRECISIONS[self.precision])

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise InputDataError(f"solver parameter precision={self.precision!r} ([simulation] precision in a "
                                 f"scenario) is not one of {', '.join(map(repr, PRECISIONS))}.")
        if self.backend not in BACKENDS:
            raise InputDataError(f"solver parameter backend={self.backend!r} ([simulation] backend in a scenario) "
                                 f"is not one of {', '.join(map(repr, BACKENDS))}.")
        checks = {"cfl": 0 < self.cfl <= 1, "theta": 0 <= self.theta <= 1, "hmin": 0 < self.hmin < 10,
                  "dt_max": self.dt_max > self.dt_min, "dt_min": 0 < self.dt_min, "g": self.g > 0,
                  "band_rows": self.band_rows >= 1, "stall_steps": self.stall_steps >= 1,
                  "max_speed": self.max_speed > 0, "max_depth": self.max_depth > 0,
                  "max_relative_balance_error": self.max_relative_balance_error > 0,
                  "max_relative_rounding": self.max_relative_rounding > 0}
        for name, ok in checks.items():
            value = getattr(self, name)
            if not ok or not math.isfinite(value):
                extra = f" (it must exceed dt_min = {self.dt_min:g} s)" if name == "dt_max" else ""
                scenario = _SCENARIO_KEYS.get(name)
                where = f" ([simulation] {scenario} in a scenario)" if scenario else ""
                raise InputDataError(f"solver parameter {name}={value!r}{where} is out of range{extra}.")
