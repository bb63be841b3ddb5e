"""Before a run: the grid size, the memory it will need and a rough time, and whether it fits.

``floodsim validate`` prints :func:`estimate`; ``floodsim run`` refuses (exit 2, with the numbers) a run
whose estimate exceeds the memory available, before anything is simulated or written.

The memory model, per active grid (all cells, nodata included, as the arrays are full-size):

* the solver's arrays: :data:`CORE_BYTES_PER_CELL` (65 B/cell in float64: measured by
  ``benchmarks/bench_core.py`` as ``bytes_per_cell_arrays``, 68.25 at 250k–4M cells, less the sweep's row
  buffers, per thread since 2026-12-03);
* the depth frames are **not** memory: they are written to a scratch file as the run goes and streamed
  into ``results.nc`` one at a time (:mod:`floodsim.run.recorder`), so they count as disk,
  :attr:`Estimate.frames_disk_bytes`: at most 4 B (float32) per cell and output time, compressed on
  disk (usually far less: dry cells compress to almost nothing), once in the scratch file and once in
  ``results.nc``. With ``[output] depth_frames = "auto"`` (the default) a run whose frames would exceed
  :data:`FRAMES_AUTO_LIMIT_BYTES` writes maxima only (:func:`depth_frames_choice`);
* the products written after the run (maxima, hazard, arrival rasters): :data:`PRODUCT_BYTES_PER_CELL`;
* the interpreter and libraries: :data:`FIXED_BYTES`.

The time estimate assumes water about :data:`REFERENCE_DEPTH_M` deep somewhere (the Courant step of the
local-inertial scheme, dt = cfl·dx/√(g·h)) and :data:`REFERENCE_RATE` cell-updates/s (a 2-core machine,
``benchmarks/README.md``); it is an order of magnitude, not a promise.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import sys
from dataclasses import dataclass

#: Solver arrays per cell [B] in float64 (benchmarks/results/bench_core.json, bytes_per_cell_arrays:
#: 68.25 on 2026-12-02). An all-data grid now shares its bed with the solver and needs no mask byte
#: (58.5, 2026-12-03); a grid with nodata, as most clipped catchments are, still holds both (about 67.5),
#: so the estimate keeps the figure that covers it, less the sweep's row buffers (3.5 B/cell), which
#: are per thread since 2026-12-03 (an all-data grid then measured 55.2, bench_core.py --single).
CORE_BYTES_PER_CELL = 68.25 - 3.5
#: The same in single precision (float32 depth, discharges and bed; maxima, masks and scratch unchanged;
#: bench_core.py --single, 2026-12-02: 50.8 B/cell at 1M and 4M cells), less the row buffers (2.25).
CORE_BYTES_PER_CELL_SINGLE = 50.8 - 2.25
#: Products computed after the run per cell [B]: maxima, hazard, arrival, classes (float32/float64 copies).
PRODUCT_BYTES_PER_CELL = 48.0
#: Python, numpy, numba, GDAL and xarray themselves [B].
FIXED_BYTES = 400e6
#: Depth assumed for the time estimate [m].
REFERENCE_DEPTH_M = 1.0
#: Cell updates per second assumed for the time estimate (2 cores, float64; single precision is taken
#: as this, a lower bound: it measured 1.3-1.8x faster).
REFERENCE_RATE = 5.0e7
#: ``[output] depth_frames = "auto"`` keeps the depth frames only up to this size, cells × output times ×
#: 4 B (2 GiB); above it the run writes maxima only, with a warning.
FRAMES_AUTO_LIMIT_BYTES = 2 * 2**30
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
    #: Upper bound of the depth frames on disk [B] (uncompressed size; 0 without frames).
    frames_disk_bytes: float = 0.0
    #: Why the run keeps no depth frames (:func:`depth_frames_choice`), else None.
    frames_note: str | None = None

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
            (f"disk            depth frames up to {self.frames_disk_bytes / 2**30:,.2f} GiB before compression "
             "(scratch file and results.nc)" if self.frames_disk_bytes else
             f"disk            no depth frames: {self.frames_note or 'maxima only'}"),
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


def release_freed_memory() -> None:
    """Give the memory the process has freed back to the system (glibc's ``malloc_trim``; elsewhere
    nothing). Building a city-sized model frees hundreds of MB of temporaries (the DEM tiles as they are
    read, the roof distance transform) that glibc keeps in its heap, resident, for reuse: 80 MB, 3 B/cell,
    at 25M cells (benchmarks/README.md, ``bench_city.py``). Call it once a model is built."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or None (not Linux, or a C library without it, such as musl)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c") if sys.platform.startswith("linux") else None
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None


def frames_bytes(cells: int, output_times: int) -> float:
    """Size of a run's depth frames, uncompressed [B]: cells × output times × 4 B (float32)."""
    return 4.0 * cells * output_times


def depth_frames_choice(mode: str, cells: int, output_times: int) -> tuple[bool, str | None]:
    """Whether a run keeps its depth frames (``[output] depth_frames``), and why not.

    ``"all"``: always; ``"none"``: never; ``"auto"``: unless :func:`frames_bytes` exceeds
    :data:`FRAMES_AUTO_LIMIT_BYTES` (2 GiB). Returns ``(keep, reason)``, ``reason`` None when kept.

    Examples
    --------
    >>> depth_frames_choice("auto", 25_000_000, 61)[0]
    False
    >>> depth_frames_choice("auto", 1_000_000, 61)
    (True, None)
    """
    if mode == "all":
        return True, None
    if mode == "none":
        return False, 'the scenario sets [output] depth_frames = "none" (maxima only)'
    size = frames_bytes(cells, output_times)
    if size <= FRAMES_AUTO_LIMIT_BYTES:
        return True, None
    return False, (f"the depth frames would take {size / 2**30:,.1f} GiB ({cells:,} cells × {output_times} output "
                   f"times × 4 B), over the {FRAMES_AUTO_LIMIT_BYTES / 2**30:,.0f} GiB of depth_frames = \"auto\": "
                   "maxima only. Set [output] depth_frames = \"all\" to write them anyway (or write fewer output "
                   "times: [simulation] output_interval_min)")


def estimate(cells: int, active_cells: int, dx: float, duration_s: float, output_times: int, cfl: float,
             available: float | None = None, frames: bool = True, precision: str = "double") -> Estimate:
    """The memory and time a run of ``cells`` cells of ``dx`` m for ``duration_s`` s will need.

    ``available`` defaults to :func:`available_memory`. The depth frames (``frames``) count as disk, not
    memory (module docstring). ``precision`` is the solver's (``"double"`` or ``"single"``).
    """
    core = CORE_BYTES_PER_CELL_SINGLE if precision == "single" else CORE_BYTES_PER_CELL
    memory = FIXED_BYTES + cells * (core + PRODUCT_BYTES_PER_CELL)
    dt = cfl * dx / math.sqrt(GRAVITY * REFERENCE_DEPTH_M)
    steps = int(math.ceil(duration_s / dt)) if duration_s > 0 else 0
    seconds = steps * cells / REFERENCE_RATE
    return Estimate(cells, active_cells, output_times, memory,
                    available_memory() if available is None else available, steps, seconds,
                    frames_bytes(cells, output_times) if frames else 0.0)


def estimate_model(model, duration_s: float, interval_s: float | None, available: float | None = None):
    """:func:`estimate` for a built :class:`floodsim.build.model.Model`."""
    sim = model.simulation
    ny, nx = sim.grid.shape
    times = len(sim.output_times(0.0, duration_s, interval_s))
    sc = getattr(model, "scenario", None)
    mode = getattr(getattr(sc, "output", None), "depth_frames", "all")
    frames, why = depth_frames_choice(mode, ny * nx, times)
    est = estimate(ny * nx, int(sim.active.sum()), min(sim.grid.dx, sim.grid.dy), duration_s, times,
                   sim.params.cfl, available, frames, sim.params.precision)
    return dataclasses.replace(est, frames_note=why)


def refusal(est: Estimate, where: str) -> str:
    """The message refusing a run that does not fit (names the numbers and the fixes)."""
    return (f"{where}: this run needs about {est.memory_bytes / 2**30:,.1f} GiB of memory "
            f"({est.cells:,} cells, {est.output_times} output times) but only "
            f"{est.available_bytes / 2**30:,.1f} GiB is available. Clip the domain ([domain] clip), coarsen "
            "it ([simulation] coarsen).")
