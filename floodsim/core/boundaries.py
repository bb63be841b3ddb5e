"""Boundary conditions on the edges of the model domain.

A boundary applies to the outward faces of the domain on one ``side`` (north, south, east, west):
for each row (east/west) or column (north/south), the face beyond the outermost active cell on that
side, when that cell is next to the grid edge or to a nodata cell. An optional ``cells`` mask limits
it to a stretch of the edge. Every edge not given a condition is a closed wall.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from ..errors import InputDataError
from .forcing import TimeSeries
from ..kernels.boundary import CRITICAL, EAST, FREE_NORMAL, LEVEL, NORTH, SOUTH, WEST


class Side(StrEnum):
    NORTH = "north"
    SOUTH = "south"
    EAST = "east"
    WEST = "west"


class BoundaryKind(StrEnum):
    CLOSED = "closed"
    FREE = "free"          # normal depth for a given energy slope
    CRITICAL = "critical"  # free overfall at critical depth
    LEVEL = "level"        # fixed or time-varying water level (sea, river, fjord)


_SIDE_CODE = {Side.WEST: WEST, Side.EAST: EAST, Side.NORTH: NORTH, Side.SOUTH: SOUTH}
_KIND_CODE = {BoundaryKind.FREE: FREE_NORMAL, BoundaryKind.CRITICAL: CRITICAL, BoundaryKind.LEVEL: LEVEL}


@dataclass(frozen=True, eq=False)
class Boundary:
    """One boundary condition.

    Parameters
    ----------
    side : Side or str
        Edge of the domain.
    kind : BoundaryKind or str
        ``free`` (normal depth, needs ``slope``), ``critical``, ``level`` (needs ``level``) or ``closed``.
    slope : float
        Energy slope beyond the edge for ``free`` [-].
    level : TimeSeries or float or None
        Water level outside [m] for ``level``.
    cells : (ny, nx) bool array or None
        Restrict to edge cells where this is True (e.g. a rasterised polygon).
    """

    side: Side
    kind: BoundaryKind
    slope: float = 0.001
    level: TimeSeries | None = None
    cells: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self):
        for name, enum in (("side", Side), ("kind", BoundaryKind)):
            try:
                object.__setattr__(self, name, enum(getattr(self, name)))
            except ValueError:
                raise InputDataError(f"boundary: {name} {str(getattr(self, name))[:40]!r} is not one of "
                                     f"{', '.join(e.value for e in enum)}.") from None
        if not isinstance(self.slope, (int, float)) or not math.isfinite(self.slope):
            raise InputDataError(f"boundary {self.side}: slope must be a finite number, got {self.slope!r}.")
        if self.kind == BoundaryKind.FREE and not (self.slope > 0):
            raise InputDataError(f"boundary {self.side}: a free (normal depth) boundary needs slope > 0, "
                                 f"got {self.slope}.")
        if self.kind == BoundaryKind.LEVEL:
            if self.level is None:
                raise InputDataError(f"boundary {self.side}: a level boundary needs a water level.")
            if not isinstance(self.level, TimeSeries):
                object.__setattr__(self, "level", TimeSeries.constant(float(self.level),
                                                                      f"boundary {self.side} level"))


def edge_cells(active: np.ndarray, side: Side) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the outermost active cell on ``side`` in each row/column.

    Only cells whose neighbour beyond them is outside the grid or inactive are returned (which is
    always the case for the outermost active cell).
    """
    ny, nx = active.shape
    if side in (Side.WEST, Side.EAST):
        rows = np.flatnonzero(active.any(axis=1))
        sub = active[rows]
        cols = np.argmax(sub, axis=1) if side == Side.WEST else nx - 1 - np.argmax(sub[:, ::-1], axis=1)
        return rows.astype(np.int64), cols.astype(np.int64)
    cols = np.flatnonzero(active.any(axis=0))
    sub = active[:, cols]
    rows = np.argmax(sub, axis=0) if side == Side.NORTH else ny - 1 - np.argmax(sub[::-1, :], axis=0)
    return rows.astype(np.int64), cols.astype(np.int64)


@dataclass(frozen=True, eq=False)
class BoundaryFaces:
    """Flat arrays describing every open boundary face, as the boundary kernel wants them."""

    cell_i: np.ndarray
    cell_j: np.ndarray
    side: np.ndarray
    kind: np.ndarray
    slope: np.ndarray
    level: np.ndarray          # updated in place each step for level boundaries
    groups: tuple               # (slice, TimeSeries) per level boundary

    @classmethod
    def build(cls, boundaries, active: np.ndarray) -> "BoundaryFaces":
        ci, cj, sd, kd, sl, groups = [], [], [], [], [], []
        taken: dict[tuple[int, int, int], str] = {}
        start = 0
        for b in boundaries:
            if b.kind == BoundaryKind.CLOSED:
                continue
            i, j = edge_cells(active, b.side)
            if b.cells is not None:
                if b.cells.shape != active.shape:
                    raise InputDataError(f"boundary {b.side}: the cells mask has shape {b.cells.shape}, "
                                         f"the grid {active.shape}.")
                keep = b.cells[i, j]
                i, j = i[keep], j[keep]
            if i.size == 0:
                raise InputDataError(f"boundary {b.side} ({b.kind}): no active edge cell lies on that "
                                     "side (or inside its area); check the side and the area polygon.")
            code = _SIDE_CODE[b.side]
            for a, c in zip(i.tolist(), j.tolist()):
                if (a, c, code) in taken:
                    raise InputDataError(f"boundary {b.side} ({b.kind}) overlaps boundary "
                                         f"{taken[(a, c, code)]} at cell ({a}, {c}); give each stretch "
                                         "of edge one condition.")
                taken[(a, c, code)] = f"{b.side} ({b.kind})"
            ci.append(i)
            cj.append(j)
            sd.append(np.full(i.size, code, np.int64))
            kd.append(np.full(i.size, _KIND_CODE[b.kind], np.int64))
            sl.append(np.full(i.size, b.slope, np.float64))
            if b.kind == BoundaryKind.LEVEL:
                groups.append((slice(start, start + i.size), b.level))
            start += i.size
        cat = (lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt))
        return cls(cat(ci, np.int64), cat(cj, np.int64), cat(sd, np.int64), cat(kd, np.int64),
                   cat(sl, np.float64), np.zeros(start, np.float64), tuple(groups))

    def set_time(self, t: float) -> None:
        """Update the outside water levels to time ``t``."""
        for sl, series in self.groups:
            self.level[sl] = series(t)

    def next_change(self, t: float) -> float:
        """Next knot of any level series after ``t`` (so steps do not straddle a kink)."""
        nxt = np.inf
        for _, series in self.groups:
            k = np.searchsorted(series.times, t, side="right")
            if k < series.times.size:
                nxt = min(nxt, float(series.times[k]))
        return nxt
