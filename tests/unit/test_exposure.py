"""Building exposure on a hand-built 6 × 6 grid of 1 m cells (row 0 is the north edge, y = 5.5)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rioxarray  # noqa: F401
import xarray as xr
from affine import Affine
from shapely.geometry import box

from floodsim.analysis.exposure import building_exposure, count_by_class
from floodsim.analysis.hazard import hazard_rating

CRS = "EPSG:28356"


def cell_box(i0, i1, j0, j1):
    """Polygon covering rows i0..i1 and columns j0..j1 (inclusive) of the 6 × 6 grid."""
    return box(j0, 6 - (i1 + 1), j1 + 1, 6 - i0)


def dataset(depth, speed):
    coords = {"y": np.arange(5.5, 0, -1.0), "x": np.arange(0.5, 6, 1.0)}
    ds = xr.Dataset({"max_depth": (("y", "x"), depth), "max_speed": (("y", "x"), speed),
                     "elevation": (("y", "x"), np.zeros((6, 6)))}, coords=coords)
    return ds.rio.write_crs(CRS).rio.write_transform(Affine(1, 0, 0, 0, -1, 6))


@pytest.fixture
def case():
    depth = np.full((6, 6), 0.05)
    speed = np.zeros((6, 6))
    depth[0, 0] = 5.0          # two cells away from A: not adjacent
    depth[2, 2] = 9.0          # under A (blocked): never counts
    depth[3, 4] = 0.8          # under B (blocked): not ground for A
    depth[1, 1] = 0.4          # diagonal neighbour of A
    depth[4, 3], speed[4, 3] = 0.3, 1.0   # south neighbour of A, fast
    depth[4, 5] = 0.12         # neighbour of the tiny building C only
    depth[5, 2] = np.nan       # outside the model
    buildings = gpd.GeoDataFrame({"bid": ["A", "B", "C"]}, geometry=[
        cell_box(2, 3, 2, 3),                       # A: 2 × 2 cells
        cell_box(2, 3, 4, 4),                       # B: 2 × 1 cells, touching A's east side
        box(5.4, 0.4, 5.6, 0.6),                    # C: smaller than a cell, in cell (5, 5)
    ], crs=CRS)
    return dataset(depth, speed), buildings


def test_adjacent_maxima_by_hand(case):
    ds, buildings = case
    e = building_exposure(ds, buildings, "bid", threshold_m=0.1)
    assert list(e.columns) == ["bid", "max_depth_m", "max_speed_m_s", "max_hazard_rating", "hazard_code",
                               "hazard_class", "flooded", "geometry"]
    a, b, c = (e.iloc[k] for k in range(3))
    # A: ring rows 1-4, cols 1-4 minus its own cells and B's -> max depth 0.4 at (1, 1)
    assert a.max_depth_m == pytest.approx(0.4)
    assert a.max_speed_m_s == pytest.approx(1.0)
    # HR is the max per cell: 0.3 (1.0 + 0.5) + 1 = 1.45 at (4, 3) beats 0.4 (0 + 0.5) + 1 = 1.2 at (1, 1)
    assert a.max_hazard_rating == pytest.approx(0.3 * 1.5 + 1.0)
    assert (a.hazard_code, a.hazard_class, a.flooded) == (3, "significant", True)
    # B: ring rows 1-4, cols 3-5 -> (4, 3) with 0.3 m is its deepest ground cell; 0.8 under B is blocked
    assert b.max_depth_m == pytest.approx(0.3)
    # C: cell (5, 5); neighbours (4, 4), (4, 5), (5, 4) -> 0.12 m, HR 0.12 * 0.5 = 0.06 -> low
    assert c.max_depth_m == pytest.approx(0.12)
    assert c.max_hazard_rating == pytest.approx(float(hazard_rating(0.12, 0.0)))
    assert (c.hazard_code, c.hazard_class, c.flooded) == (1, "low", True)
    assert count_by_class(e) == {"none": 0, "low": 1, "moderate": 0, "significant": 2, "extreme": 0}


def test_dry_surroundings_are_class_none(case):
    ds, buildings = case
    ds = ds.assign(max_depth=ds["max_depth"].where(False, 0.05))
    e = building_exposure(ds, buildings, "bid", threshold_m=0.1)
    assert (e["hazard_code"] == 0).all() and not e["flooded"].any()
    np.testing.assert_allclose(e["max_depth_m"], 0.05)


def test_enclosed_building_has_no_adjacent_cells():
    depth = np.full((6, 6), 0.5)
    ds = dataset(depth, np.zeros((6, 6)))
    ring = cell_box(0, 5, 0, 5).difference(cell_box(2, 3, 2, 3))   # everything but the middle
    buildings = gpd.GeoDataFrame({"bid": [1, 2]}, geometry=[cell_box(2, 3, 2, 3), ring], crs=CRS)
    e = building_exposure(ds, buildings, "bid")
    assert np.isnan(e.iloc[0].max_depth_m) and e.iloc[0].hazard_code == 0 and not e.iloc[0].flooded


def test_missing_id_field_is_a_clear_error(case):
    from floodsim.errors import InputDataError

    ds, buildings = case
    with pytest.raises(InputDataError, match="id_field"):
        building_exposure(ds, buildings, "building_id")


def test_without_id_field_buildings_are_numbered(case):
    ds, buildings = case
    e = building_exposure(ds, buildings.drop(columns="bid"), None)
    assert e.columns[0] == "building" and e["building"].tolist() == [0, 1, 2]
    assert e.iloc[0].max_depth_m == pytest.approx(0.4)
