"""Reading DEMs and layers: formats, CRS checks, reprojection and rasterisation rules."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import LineString, Point, Polygon, box

from floodsim.errors import InputDataError
from floodsim.core.grid import Grid
from floodsim.io.raster import read_dem
from floodsim.io.vector import rasterize_geometries, read_layer


def write_tif(path, z, crs="EPSG:32633", nodata=-9999.0, res=(2.0, 2.0)):
    with rasterio.open(path, "w", driver="GTiff", width=z.shape[1], height=z.shape[0], count=1,
                       dtype="float32", crs=crs, transform=from_origin(500000, 6000000, *res),
                       nodata=nodata) as dst:
        dst.write(z.astype("float32"), 1)
    return path


def test_read_geotiff_with_nodata(tmp_path):
    z = np.arange(20.0).reshape(4, 5)
    z[1, 2] = -9999
    grid = read_dem(write_tif(tmp_path / "d.tif", z))
    assert grid.shape == (4, 5) and grid.dx == 2.0
    assert np.isnan(grid.z[1, 2]) and grid.valid.sum() == 19


def test_read_esri_ascii_with_prj(tmp_path):
    asc = tmp_path / "d.asc"
    asc.write_text("ncols 3\nnrows 2\nxllcorner 1000\nyllcorner 2000\ncellsize 5\nNODATA_value -9999\n"
                   "1 2 3\n4 -9999 6\n")
    from pyproj import CRS

    (tmp_path / "d.prj").write_text(CRS.from_epsg(28356).to_wkt("WKT1_ESRI"))
    grid = read_dem(asc)
    assert grid.shape == (2, 3) and grid.dx == 5.0 and grid.bounds == (1000, 2000, 1015, 2010)
    assert np.isnan(grid.z[1, 1])


def test_geographic_crs_refused(tmp_path):
    path = write_tif(tmp_path / "geo.tif", np.ones((3, 3)), crs="EPSG:4326", res=(0.001, 0.001))
    with pytest.raises(InputDataError, match="geographic.*Reproject"):
        read_dem(path)


def test_missing_crs_refused_unless_given(tmp_path):
    path = write_tif(tmp_path / "nocrs.tif", np.ones((3, 3)), crs=None)
    with pytest.raises(InputDataError, match="no coordinate reference system"):
        read_dem(path)
    assert read_dem(path, crs="EPSG:32633").crs.to_epsg() == 32633


def test_layer_is_reprojected_and_checked(tmp_path):
    grid = Grid.from_array(np.zeros((10, 10)), 10.0, x0=500000, y0=6000100, crs="EPSG:32633")
    poly = box(500020, 6000020, 500060, 6000060)
    gdf = gpd.GeoDataFrame({"name": ["a"]}, geometry=[poly], crs="EPSG:32633").to_crs("EPSG:4326")
    gdf.to_file(tmp_path / "l.gpkg", layer="ponds")
    back = read_layer(tmp_path / "l.gpkg", "ponds", grid, required=("name",))
    assert back.crs.to_epsg() == 32633
    assert back.geometry.iloc[0].equals_exact(poly, tolerance=1e-3)
    with pytest.raises(InputDataError, match="missing attribute 'depth'"):
        read_layer(tmp_path / "l.gpkg", "ponds", grid, required=("depth",))


def test_invalid_and_outside_geometries_named(tmp_path):
    grid = Grid.from_array(np.zeros((10, 10)), 10.0, x0=0, y0=100, crs="EPSG:32633")
    bowtie = Polygon([(10, 10), (50, 50), (50, 10), (10, 50)])
    far = box(1000, 1000, 1010, 1010)
    gpd.GeoDataFrame({"pid": ["ok", "bad"]}, geometry=[box(10, 10, 20, 20), bowtie],
                     crs="EPSG:32633").to_file(tmp_path / "a.gpkg")
    with pytest.raises(InputDataError, match="pid='bad' has an invalid geometry"):
        read_layer(tmp_path / "a.gpkg", None, grid, id_field="pid")
    gpd.GeoDataFrame({"pid": ["far"]}, geometry=[far], crs="EPSG:32633").to_file(tmp_path / "b.gpkg")
    with pytest.raises(InputDataError, match="pid='far' lies entirely outside the DEM"):
        read_layer(tmp_path / "b.gpkg", None, grid, id_field="pid")


def test_rasterisation_rules():
    grid = Grid.from_array(np.zeros((10, 10)), 1.0, x0=0, y0=10)
    # polygon: cells whose centre is inside (2x2 block)
    assert rasterize_geometries([box(2, 2, 4, 4)], grid).sum() == 4
    # tiny polygon covering no centre still takes one cell
    assert rasterize_geometries([box(2.1, 2.1, 2.3, 2.3)], grid).sum() == 1
    # line: every touched cell (continuous)
    line = rasterize_geometries([LineString([(0.5, 0.5), (9.5, 9.5)])], grid)
    assert line.sum() >= 10 and line[0, 9] and line[9, 0]
    # point: its cell (row 0 is north)
    pt = rasterize_geometries([Point(3.5, 9.5)], grid)
    assert pt.sum() == 1 and pt[0, 3]
