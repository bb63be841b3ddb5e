"""The arrays the time loop works on, allocated once per simulation (nothing is allocated per step).

:class:`State` is the physical state (depths, face discharges, running maxima, cumulative
infiltration); :class:`BandWork` the per-band scratch and reductions of the band scheduler (which
bands of rows are wet, their Courant speeds, buffers shared between neighbouring bands). Both are
saved whole by checkpoints (:meth:`floodsim.core.simulation.Simulation.get_state`).
"""

from __future__ import annotations

import math
import mmap
from dataclasses import dataclass

import numpy as np

from ..kernels._jit import THREAD_SLOTS
from ..kernels.inertial import WORK_ROWS


@dataclass(eq=False)
class State:
    """Every array the time loop touches, allocated once. ``h``, ``qx``, ``qy`` and ``infil_F`` have the
    run's precision (float64, or float32 for ``precision = "single"``); the maxima are float32."""

    h: np.ndarray                 # depth [m] (ny, nx)
    qx: np.ndarray                # [m²/s] (ny, nx+1), positive east (None after Simulation.end_run)
    qy: np.ndarray                # [m²/s] (ny+1, nx), positive south (None after Simulation.end_run)
    h_max: np.ndarray             # float32 [m]
    v2_max: np.ndarray            # float32, maximum squared speed [m²/s²]
    t_hmax: np.ndarray            # float32 [s]
    infil_F: np.ndarray           # cumulative infiltration [m] ((1,1) when no infiltration)
    t: float = 0.0                # [s]
    steps: int = 0

    @classmethod
    def allocate(cls, shape, infiltration: bool, dtype=np.float64) -> "State":
        ny, nx = shape
        return cls(h=np.zeros(shape, dtype), qx=np.zeros((ny, nx + 1), dtype), qy=np.zeros((ny + 1, nx), dtype),
                   h_max=np.zeros(shape, np.float32), v2_max=np.zeros(shape, np.float32),
                   t_hmax=np.full(shape, np.nan, np.float32),
                   infil_F=np.zeros(shape if infiltration else (1, 1), dtype))


def paged_zeros(n: int, dtype) -> np.ndarray:
    """A writable zero array of ``n`` items on memory of its own (an anonymous map): it costs memory only
    where it is written. For the positivity repair's scratch, sized for every cell of the grid but
    written only where depths go negative (a few cells per step): 9 B/cell allocated, almost none used.
    ``np.zeros`` gives that only for sizes above the C library's map threshold (32 MB at most, and it
    moves); below it the array comes from the heap, possibly from memory that is cleared, and so used,
    at once."""
    dtype = np.dtype(dtype)
    size = max(n, 1) * dtype.itemsize
    # private (POSIX): its pages are the process's own, and released ones read as zeros again
    # (:func:`release_pages`); Python's default, a shared map, would keep them in shared memory
    private = {"flags": mmap.MAP_PRIVATE} if hasattr(mmap, "MAP_PRIVATE") else {}
    return np.frombuffer(mmap.mmap(-1, size, **private), dtype)[:n]


def release_pages(a: np.ndarray) -> bool:
    """Give the memory of a :func:`paged_zeros` array back to the system (``madvise(MADV_DONTNEED)``):
    it reads as zeros again and costs nothing until written. Returns whether it could (False for
    another array, or where the system has no such call)."""
    obj = a
    while obj is not None and not isinstance(obj, mmap.mmap):
        obj = obj.obj if isinstance(obj, memoryview) else getattr(obj, "base", None)
    if obj is None or not hasattr(obj, "madvise") or not hasattr(mmap, "MADV_DONTNEED"):
        return False
    obj.madvise(mmap.MADV_DONTNEED)
    return True


@dataclass(eq=False)
class BandWork:
    """Per-band scratch and reductions."""

    start: np.ndarray
    edge_above: np.ndarray
    edge_below: np.ndarray
    rows: np.ndarray           # the flux sweep's row buffers per thread (discharges' dtype)
    rain: np.ndarray           # the depth update's scratch rows per thread (float64): rain, rounding
    wet: np.ndarray
    wave: np.ndarray
    infil: np.ndarray
    round: np.ndarray          # depth added by the float32 rounding of new depths, per band [m] (single)
    negative: np.ndarray       # count of negative depths per row (not per band)
    always: np.ndarray
    need_prev: np.ndarray
    stack: np.ndarray          # scratch of the positivity repair
    touched: np.ndarray
    visits: np.ndarray

    @classmethod
    def allocate(cls, shape, band_rows, dtype=np.float64):
        """Scratch for a grid of ``shape``; the band edges (copies of ``qy`` rows) have the state's ``dtype``.

        The row buffers of the sweep (``rows``, ``rain``) are per thread, not per band: a thread sweeps
        one band at a time and they carry nothing from one band, or step, to the next. Per band they
        took 2.25 B/cell in float32 (3.5 in float64), 54 MB of a 25M-cell city; per thread they are a few
        rows each (:data:`~floodsim.kernels._jit.THREAD_SLOTS`)."""
        ny, nx = shape
        start = np.append(np.arange(0, ny, band_rows), ny).astype(np.int64)
        nb = start.size - 1
        return cls(start, np.zeros((nb, nx), dtype), np.zeros((nb, nx), dtype),
                   np.zeros((THREAD_SLOTS, WORK_ROWS, nx + 1), dtype), np.zeros((THREAD_SLOTS, 2, nx + 1)),
                   np.zeros(nb, np.uint8), np.zeros(nb), np.zeros(nb), np.zeros(nb), np.zeros(ny, np.int64),
                   np.zeros(nb, bool), np.ones(nb, bool), paged_zeros(ny * nx + 8, np.int32),
                   paged_zeros(ny * nx + 8, np.int32), paged_zeros(ny * nx, np.uint8))

    def release_repair_scratch(self) -> None:
        """Give back the memory the positivity repair wrote in its scratch (:func:`release_pages`).
        ``visits`` is indexed by cell, so repairs at scattered cells over a long run would otherwise make
        it resident page by page (up to 1 B/cell); between calls it is all zero, as released pages
        read, and ``stack`` and ``touched`` are written before they are read."""
        for a in (self.stack, self.touched, self.visits):
            release_pages(a)

    def band_of_rows(self, rows):
        """Band index of each row in ``rows``."""
        return np.searchsorted(self.start, rows, side="right") - 1

    def mark_always(self, rows) -> None:
        """Compute the bands of ``rows`` every step, dry or not (water can enter them from outside:
        level boundaries, inflows, measures)."""
        rows = np.asarray(rows, np.int64)
        if rows.size:
            self.always[np.unique(self.band_of_rows(rows))] = True

    def prime(self, h, hmin: float, g: float) -> None:
        """Wet flags and wave speeds of every band from depths ``h`` [m] (before the first step)."""
        for b in range(self.start.size - 1):
            deepest = float(h[self.start[b]:self.start[b + 1]].max())
            self.wet[b] = deepest > hmin
            self.wave[b] = math.sqrt(g * deepest) if deepest > hmin else 0.0

    def select(self) -> np.ndarray:
        """Bands to compute this step (bool per band): the wet ones, their neighbours (water can flow
        in) and the always-active ones, plus those selected last step (their faces must be brought
        back to rest)."""
        wet = self.wet.astype(bool)
        need = wet | self.always
        need[1:] |= wet[:-1]
        need[:-1] |= wet[1:]
        computed = need | self.need_prev
        self.need_prev = need
        return computed


