"""Building exposure: the depth, speed and hazard next to each building.

Buildings are blocked cells in floodsim: they hold no water, so a building's exposure is read from the
ground around it. **Adjacent cells** of a building are the cells within one cell of its footprint (the
8-neighbourhood, i.e. Chebyshev distance 1 in cells) that are inside the model and not blocked by any
building. The footprint follows floodsim's rasterisation rule (cells whose centre lies inside the polygon;
a polygon that takes no cell centre takes the cell holding its representative point; see
:mod:`floodsim.io.vector`).

Per building the maxima over its adjacent cells are taken of the run maxima ``max_depth`` [m],
``max_speed`` [m/s], the hazard rating computed from them (:func:`floodsim.analysis.hazard.hazard_rating`) and the
hazard class code per cell (so a building's class is the worst class of a ground cell at its wall). A
building with no adjacent ground cell (enclosed by other buildings or by the model edge) gets NaN values,
class 0 and ``flooded = False``.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
from rasterio import features as rio_features

from ..errors import InputDataError
from ..core.grid import Grid
from .flooding import flood_depth, storage_depth_of
from .hazard import HAZARD_CLASSES, hazard_class, hazard_rating
from ..io.vector import rasterize_geometries

_NEIGHBOURS = [(di, dj) for di in (-1, 0, 1) for dj in (-1, 0, 1) if (di, dj) != (0, 0)]


def grid_of_dataset(ds: xr.Dataset) -> Grid:
    """The :class:`~floodsim.core.grid.Grid` of a results dataset (from its CRS and transform)."""
    import rioxarray  # noqa: F401

    z = ds["elevation"].values if "elevation" in ds else np.zeros((ds.sizes["y"], ds.sizes["x"]))
    return Grid(np.asarray(z, dtype=np.float64), ds.rio.transform(recalc=False), ds.rio.crs,
                source="results")


def footprint_cells(geoms, grid: Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells of each footprint as flat arrays ``(building index, row, col)``.

    One ``rasterize`` call labels every footprint; only buildings that got no cell from it (smaller than
    a cell, or covered by a later, overlapping building) are rasterised one by one.
    """
    geoms = list(geoms)
    n = len(geoms)
    if n == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    labels = rio_features.rasterize(((g, k + 1) for k, g in enumerate(geoms) if g is not None and not g.is_empty),
                                    out_shape=grid.shape, transform=grid.transform, fill=0,
                                    all_touched=False, dtype="int32")
    ii, jj = np.nonzero(labels)
    bb = labels[ii, jj].astype(np.int64) - 1
    missing = np.setdiff1d(np.arange(n), bb)
    extra_b, extra_i, extra_j = [], [], []
    for k in missing:
        g = geoms[k]
        if g is None or g.is_empty:
            continue
        mi, mj = np.nonzero(rasterize_geometries([g], grid))
        extra_b.append(np.full(mi.size, k))
        extra_i.append(mi)
        extra_j.append(mj)
    if extra_b:
        bb = np.concatenate([bb, *extra_b])
        ii = np.concatenate([ii, *extra_i])
        jj = np.concatenate([jj, *extra_j])
    return bb, ii.astype(np.int64), jj.astype(np.int64)


def adjacent_maxima(bb, ii, jj, blocked: np.ndarray, fields: dict[str, np.ndarray], n: int) -> dict:
    """Per building, the max of each field over the unblocked, finite cells around its footprint.

    ``fields`` maps a name to a (ny, nx) array; cells where a field is NaN (outside the model) are
    skipped. Returns name -> float64 array of length ``n`` (NaN for a building with no such cell), plus
    ``"n_adjacent"`` (number of footprint-neighbour pairs used, > 0 when any adjacent cell exists).
    """
    ny, nx = blocked.shape
    out = {name: np.full(n, -np.inf) for name in fields}
    count = np.zeros(n, np.int64)
    for di, dj in _NEIGHBOURS:
        ni, nj = ii + di, jj + dj
        inside = (ni >= 0) & (ni < ny) & (nj >= 0) & (nj < nx)
        b, ni, nj = bb[inside], ni[inside], nj[inside]
        ground = ~blocked[ni, nj]
        first = next(iter(fields.values()))
        ground &= np.isfinite(first[ni, nj])
        b, ni, nj = b[ground], ni[ground], nj[ground]
        np.add.at(count, b, 1)
        for name, arr in fields.items():
            np.maximum.at(out[name], b, np.nan_to_num(arr[ni, nj], nan=-np.inf))
    for values in out.values():
        values[~np.isfinite(values)] = np.nan
    out["n_adjacent"] = count
    return out


#: The columns :func:`building_exposure` adds to each building (every other column is an attribute).
EXPOSURE_COLUMNS = ("max_depth_m", "max_speed_m_s", "max_hazard_rating", "hazard_code", "hazard_class", "flooded")

#: Id column used when the scenario names no ``[buildings] id_field``: the row number (0-based).
ROW_ID = "building"


def building_exposure(ds: xr.Dataset, buildings: gpd.GeoDataFrame, id_field: str | None,
                      threshold_m: float = 0.1, debris_factor: float | None = None) -> gpd.GeoDataFrame:
    """Max depth, speed and hazard next to each building (see the module docstring for "adjacent").

    Parameters
    ----------
    ds : xarray.Dataset
        Run results with ``max_depth`` [m] and ``max_speed`` [m/s] on (y, x), with CRS and transform
        (as written by :class:`floodsim.run.recorder.Recorder`).
    buildings : geopandas.GeoDataFrame
        Footprint polygons in the grid CRS (``Model.buildings``).
    id_field : str or None
        Column identifying a building (``scenario.buildings.id_field``); None numbers the buildings
        in a column ``"building"`` (row order, from 0).
    threshold_m : float
        Depth counted as flooded [m].
    debris_factor : float, optional
        Passed to :func:`floodsim.analysis.hazard.hazard_rating` (None: FD2321 depth rule, urban).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``[id_field (or "building"), "max_depth_m", "max_speed_m_s", "max_hazard_rating", "hazard_code",
        "hazard_class", "flooded", "geometry"]``, one row per building, in the input order and CRS.
    """
    if id_field is None:
        id_field = ROW_ID
        buildings = buildings.assign(**{ROW_ID: np.arange(len(buildings))})
    if id_field not in buildings.columns:
        raise InputDataError(f"buildings layer: id field {id_field!r} not found; the layer has "
                             f"{', '.join(c for c in buildings.columns if c != 'geometry')}. Set "
                             "[buildings] id_field in the scenario.")
    grid = grid_of_dataset(ds)
    depth = flood_depth(ds["max_depth"].values, storage_depth_of(ds))   # water held by measures is not flooding
    speed = np.asarray(ds["max_speed"].values, dtype=np.float64)
    if ds.rio.crs is not None and buildings.crs is not None and not buildings.crs.equals(ds.rio.crs):
        buildings = buildings.to_crs(ds.rio.crs)
    geoms = list(buildings.geometry)
    n = len(geoms)
    hr = hazard_rating(depth, speed, debris_factor)
    codes = hazard_class(hr, depth, threshold_m).astype(np.float64)
    codes[~np.isfinite(depth)] = np.nan
    bb, ii, jj = footprint_cells(geoms, grid)
    blocked = np.zeros(grid.shape, bool)
    blocked[ii, jj] = True
    m = adjacent_maxima(bb, ii, jj, blocked, {"depth": depth, "speed": speed, "hr": hr, "code": codes}, n)
    code = np.nan_to_num(m["code"], nan=0.0).astype(np.int8)
    names = np.array([c.name for c in HAZARD_CLASSES], dtype=object)
    max_depth = m["depth"]
    values = (max_depth, m["speed"], m["hr"], code, names[code], np.nan_to_num(max_depth, nan=-1.0) >= threshold_m)
    out = gpd.GeoDataFrame({id_field: buildings[id_field].to_numpy(), **dict(zip(EXPOSURE_COLUMNS, values))},
                           geometry=buildings.geometry.to_numpy(), crs=buildings.crs, index=buildings.index)
    out["hazard_class"] = out["hazard_class"].astype(str)
    return out


def count_by_class(exposure: pd.DataFrame) -> dict[str, int]:
    """Number of buildings per hazard class name (every class present, 0 when none)."""
    counts = exposure["hazard_code"].value_counts()
    return {c.name: int(counts.get(c.code, 0)) for c in HAZARD_CLASSES}
