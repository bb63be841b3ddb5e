"""The model grid: a regular raster of square or rectangular cells in a projected CRS.

Conventions used by every kernel and array in floodsim
------------------------------------------------------
* Cell ``(i, j)`` is row ``i`` counted from the **north** edge and column ``j`` from the **west**
  edge, as in a GeoTIFF. Cell-centred arrays have shape ``(ny, nx)``.
* ``qx`` has shape ``(ny, nx + 1)``: ``qx[i, j]`` is the unit-width discharge [m²/s] through the
  **west** face of cell ``(i, j)``, **positive towards the east**.
* ``qy`` has shape ``(ny + 1, nx)``: ``qy[i, j]`` is the discharge through the **north** face of cell
  ``(i, j)``, **positive towards the south** (increasing row).
* Depths and levels are in m, bed elevation in m above the DEM's vertical datum, time in s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from affine import Affine

from ..errors import InputDataError


#: Elevations beyond this magnitude [m] are taken for a lost nodata tag (Everest is 8,849 m; the
#: Challenger Deep -10,935 m is not terrain a flood model meets).
MAX_ABS_ELEVATION_M = 1.0e4


@dataclass(frozen=True, eq=False)
class Grid:
    """A regular model grid with its bed elevation.

    Parameters
    ----------
    z : (ny, nx) float32 or float64
        Bed elevation [m]; NaN where the DEM has no data (those cells are outside the model). A float32
        DEM (most LiDAR products) stays float32, half the memory of a city-sized grid; anything else is
        stored as float64. The solver takes its own copy in its precision
        (:attr:`floodsim.core.params.SolverParams.dtype`).
    transform : affine.Affine
        Maps (col, row) of the upper-left cell corner to map coordinates; north-up (no rotation).
    crs : str or pyproj-compatible or None
        Coordinate reference system of the map coordinates. Must be projected (metres).
    source : str
        Where the grid came from, for error messages.
    clipped : bool
        The grid is a cut-out of larger data (a clip polygon, or a mosaic of tiles): vector layers are
        read only inside its extent, and features wholly outside it are skipped rather than refused.
    """

    z: np.ndarray
    transform: Affine
    crs: object = None
    source: str = "<array>"
    clipped: bool = False
    _valid: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        z = np.asarray(self.z)
        z = np.ascontiguousarray(z, dtype=np.float32 if z.dtype == np.float32 else np.float64)
        if z.ndim != 2 or min(z.shape) < 2:
            raise InputDataError(f"{self.source}: the DEM must be a 2-D raster of at least 2×2 cells, "
                                 f"got shape {z.shape}.")
        t = self.transform
        if t.b != 0 or t.d != 0:
            raise InputDataError(f"{self.source}: rotated rasters are not supported (transform {t}); "
                                 "warp the DEM to a north-up grid first (gdalwarp).")
        if not all(math.isfinite(v) for v in (t.a, t.b, t.c, t.d, t.e, t.f)):
            raise InputDataError(f"{self.source}: the grid's transform is not finite ({t}); give a finite "
                                 "cell size and origin.")
        if t.a <= 0 or t.e >= 0:
            raise InputDataError(f"{self.source}: the DEM must be north-up with positive cell width "
                                 f"(transform {t}).")
        z.setflags(write=False)
        object.__setattr__(self, "z", z)
        valid = np.isfinite(z)
        if valid.all():   # a view of one True: no byte per cell for the common all-data rectangle
            valid = np.broadcast_to(np.True_, z.shape)
        else:
            valid.setflags(write=False)
        object.__setattr__(self, "_valid", valid)
        if not valid.any():
            raise InputDataError(f"{self.source}: the DEM has no valid (non-nodata) cell.")
        extreme = valid & (np.abs(np.where(valid, z, 0.0)) > MAX_ABS_ELEVATION_M)
        if extreme.any():
            i, j = (int(v) for v in np.argwhere(extreme)[0])
            raise InputDataError(
                f"{self.source}: {int(extreme.sum())} cell(s) have an elevation beyond ±{MAX_ABS_ELEVATION_M:g} m, "
                f"e.g. {z[i, j]:.6g} m at row {i}, col {j}; this looks like a nodata value the file does not "
                "declare. Declare it (e.g. `gdal_edit.py -a_nodata VALUE dem.tif`) or fix those cells.")

    @classmethod
    def from_array(cls, z, dx: float, dy: float | None = None, x0: float = 0.0, y0: float = 0.0,
                   crs=None) -> "Grid":
        """A grid from an elevation array; ``(x0, y0)`` is the north-west corner [m]."""
        dy = dx if dy is None else dy
        for name, v in (("dx", dx), ("dy", dy), ("x0", x0), ("y0", y0)):
            if not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(v):
                raise InputDataError(f"Grid.from_array: {name} = {v!r} must be a finite number [m].")
        if not (dx > 0 and dy > 0):
            raise InputDataError(f"Grid.from_array: cell size dx = {dx!r}, dy = {dy!r} must be > 0 [m].")
        return cls(np.asarray(z, dtype=np.float64), Affine(dx, 0.0, x0, 0.0, -dy, y0), crs)

    @property
    def shape(self) -> tuple[int, int]:
        """(ny, nx)."""
        return self.z.shape

    @property
    def dx(self) -> float:
        """Cell width, west-east [m]."""
        return float(self.transform.a)

    @property
    def dy(self) -> float:
        """Cell height, north-south [m] (positive)."""
        return float(-self.transform.e)

    @property
    def cell_area(self) -> float:
        """Area of one cell [m²]."""
        return self.dx * self.dy

    @property
    def valid(self) -> np.ndarray:
        """Cells with elevation data (read-only bool array; a broadcast view when every cell has data)."""
        return self._valid

    @property
    def x(self) -> np.ndarray:
        """Map x of the cell centres, west to east [m]."""
        return self.transform.c + self.dx * (np.arange(self.shape[1]) + 0.5)

    @property
    def y(self) -> np.ndarray:
        """Map y of the cell centres, north to south [m]."""
        return self.transform.f - self.dy * (np.arange(self.shape[0]) + 0.5)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) [m]."""
        ny, nx = self.shape
        return (self.transform.c, self.transform.f - ny * self.dy,
                self.transform.c + nx * self.dx, self.transform.f)

    def cell_of(self, x: float, y: float) -> tuple[int, int]:
        """Row and column of the cell containing map point ``(x, y)``; raises if outside."""
        col, row = ~self.transform @ (x, y)
        i, j = int(np.floor(row)), int(np.floor(col))
        if not (0 <= i < self.shape[0] and 0 <= j < self.shape[1]):
            raise InputDataError(f"point ({x}, {y}) lies outside the grid {self.bounds} of {self.source}.")
        return i, j
