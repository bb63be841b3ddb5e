"""Before a run: the grid size, the memory it will need and a rough time, and whether it fits.

``floodsim validate`` prints :func:`estimate`; ``floodsim run`` refuses (exit 2, with the numbers) a run
whose estimate exceeds the memory available, before anything is simulated or written.

The memory model, per active grid (all cells, nodata included, as the arrays are full-size):

* the solver's arrays: :data:`CORE_BYTES_PER_CELL` (68 B/cell in float64: measured by
  ``benchmarks/bench_core.py`` as ``bytes_per_cell_arrays``, 68.25 at 250k–4M cells);
* the depth frames kept for ``results.nc``: 4 B (float32) per cell and output time, twice (the frames
  and the array written from them);
* the products written after the run (maxima, hazard, arrival rasters): :data:`PRODUCT_BYTES_PER_CELL`;
* the interpreter and libraries: :data:`FIXED_BYTES`.

The time estimate assumes water about :data:`REFERENCE_DEPTH_M` deep somewhere (the Courant step of the
local-inertial scheme, dt = cfl·dx/√(g·h)) and :data:`REFERENCE_RATE` cell-updates/s (a 2-core machine,
``benchmarks/README.md``); it is an order of magnitude, not a promise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Solver arrays per cell [B] in float64 (benchmarks/results/bench_core.json, bytes_per_cell_arrays).
CORE_BYTES_PER_CELL = 68.25
#: Products computed after the run per cell [B]: maxima, hazard, arrival, classes (float32/float64 copies).
PRODUCT_BYTES_PER_CELL = 48.0
#: Python, numpy, numba, GDAL and xarray themselves [B].
FIXED_BYTES = 400e6
#: Depth assumed for the time estimate [m].
REFERENCE_DEPTH_M = 1.0
#: Cell updates per second assumed for the time estimate (2 cores, float64).
REFERENCE_RATE = 5.0e7
#: Share of the available memory a run may plan to use.
MEMORY_SHARE = 0.9
GRAVITY = 9.81


@dataclass(frozen=True)
class Estimate:
    """What a run will need. Bytes and seconds."""

    cells: int
    active_cells: int
    output_times: int
    memory_bytes: float
    available_bytes: float | None
    steps: int
    seconds: float

    @property
    def fits(self) -> bool:
        """True when the memory estimate is within :data:`MEMORY_SHARE` of what is available (or
        availability is unknown)."""
        return self.available_bytes is None or self.memory_bytes <= MEMORY_SHARE * self.available_bytes

    def lines(self) -> list[str]:
        """Plain-text lines for the terminal."""
        avail = ("unknown" if self.available_bytes is None
                 else f"{self.available_bytes / 2**30:,.1f} GiB available")
        return [
            f"grid            {self.cells:,} cells ({self.active_cells:,} active), {self.output_times} output "
            "times",
            f"memory          about {self.memory_bytes / 2**30:,.2f} GiB needed ({avail})",
            f"time            roughly {_duration(self.seconds)} ({self.steps:,} steps at "
            f"{REFERENCE_RATE:.0e} cell-updates/s; depends on the depths reached)",
        ]


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def available_memory() -> float | None:
    """Memory available to a new run [B]: ``MemAvailable`` of /proc/meminfo (Linux), else None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        return None
    return None


def estimate(cells: int, active_cells: int, dx: float, duration_s: float, output_times: int, cfl: float,
             available: float | None = None) -> Estimate:
    """The memory and time a run of ``cells`` cells of ``dx`` m for ``duration_s`` s will need.

    ``available`` defaults to :func:`available_memory`.
    """
    memory = (FIXED_BYTES + cells * (CORE_BYTES_PER_CELL + PRODUCT_BYTES_PER_CELL)
              + 2 * 4.0 * cells * output_times)
    dt = cfl * dx / math.sqrt(GRAVITY * REFERENCE_DEPTH_M)
    steps = int(math.ceil(duration_s / dt)) if duration_s > 0 else 0
    seconds = steps * cells / REFERENCE_RATE
    return Estimate(cells, active_cells, output_times, memory,
                    available_memory() if available is None else available, steps, seconds)


def estimate_model(model, duration_s: float, interval_s: float | None, available: float | None = None):
    """:func:`estimate` for a built :class:`floodsim.build.model.Model`."""
    sim = model.simulation
    ny, nx = sim.grid.shape
    times = len(sim.output_times(0.0, duration_s, interval_s))
    return estimate(ny * nx, int(sim.active.sum()), min(sim.grid.dx, sim.grid.dy), duration_s, times,
                    sim.params.cfl, available)


def refusal(est: Estimate, where: str) -> str:
    """The message refusing a run that does not fit (names the numbers and the fixes)."""
    return (f"{where}: this run needs about {est.memory_bytes / 2**30:,.1f} GiB of memory "
            f"({est.cells:,} cells, {est.output_times} output times) but only "
            f"{est.available_bytes / 2**30:,.1f} GiB is available. Clip the domain ([domain] clip), coarsen "
            "it ([simulation] coarsen), or write fewer output times ([simulation] output_interval_min).")
