"""Big inputs: DEMs made of tiles (list, glob, VRT), a catchment clip, layers read inside it, and the
memory/time estimate that refuses a run that will not fit (issue 14, "Big inputs").

References: the mosaic of the bundled DEM cut into tiles must equal the DEM cell for cell (a mosaic
adds nothing and loses nothing); a clip keeps exactly the cells whose centres are inside the polygon.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.windows import Window
from shapely.geometry import Point, box

from floodsim.build.model import build_model
from floodsim.errors import FloodsimError
from floodsim.io.raster import read_dem
from floodsim.run import budget
from floodsim.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parents[2]
DEM = ROOT / "gis_data" / "merewether" / "dem.tif"
GPKG = ROOT / "gis_data" / "merewether" / "merewether.gpkg"


def cut_tiles(folder: Path, rows: int = 2, cols: int = 2, crs_of=None) -> list[Path]:
    """Cut the bundled DEM into rows × cols GeoTIFF tiles (``crs_of(k)`` may relabel a tile's CRS)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    with rasterio.open(DEM) as src:
        h, w = src.height, src.width
        for r in range(rows):
            for c in range(cols):
                r0, r1 = r * h // rows, (r + 1) * h // rows
                c0, c1 = c * w // cols, (c + 1) * w // cols
                win = Window(c0, r0, c1 - c0, r1 - r0)
                prof = src.profile | {"height": r1 - r0, "width": c1 - c0,
                                      "transform": src.window_transform(win), "tiled": False}
                prof.pop("blockxsize", None), prof.pop("blockysize", None)
                path = folder / f"tile_{r}_{c}.tif"
                with rasterio.open(path, "w", **prof) as dst:
                    dst.write(src.read(1, window=win), 1)
                out.append(path)
    return out


def test_a_glob_of_tiles_mosaics_to_the_dem_cell_for_cell(tmp_path):
    cut_tiles(tmp_path / "tiles")
    whole = read_dem(DEM)
    mosaic = read_dem(tmp_path / "tiles" / "*.tif")
    assert mosaic.shape == whole.shape
    assert mosaic.transform.almost_equals(whole.transform)
    np.testing.assert_array_equal(mosaic.z, whole.z)        # NaN where the DEM has nodata, equal elsewhere
    assert mosaic.clipped and not whole.clipped


def _write_vrt(vrt: Path, tiles: list[Path]) -> None:
    """A mosaic VRT of ``tiles`` written by hand (GDAL's VRT XML; no gdalbuildvrt needed)."""
    with rasterio.open(DEM) as ref:
        t, w, h, crs = ref.transform, ref.width, ref.height, ref.crs.to_wkt()
    parts = []
    for path in tiles:
        with rasterio.open(path) as src:
            col = round((src.transform.c - t.c) / t.a)
            row = round((src.transform.f - t.f) / t.e)
            parts.append(
                f"<SimpleSource><SourceFilename relativeToVRT='0'>{path}</SourceFilename>"
                f"<SourceBand>1</SourceBand><SrcRect xOff='0' yOff='0' xSize='{src.width}' ySize='{src.height}'/>"
                f"<DstRect xOff='{col}' yOff='{row}' xSize='{src.width}' ySize='{src.height}'/></SimpleSource>")
    vrt.write_text(
        f"<VRTDataset rasterXSize='{w}' rasterYSize='{h}'><SRS>{crs.replace('<', '&lt;')}</SRS>"
        f"<GeoTransform>{t.c}, {t.a}, 0, {t.f}, 0, {t.e}</GeoTransform>"
        f"<VRTRasterBand dataType='Float32' band='1'><NoDataValue>-9999</NoDataValue>{''.join(parts)}"
        "</VRTRasterBand></VRTDataset>")


def test_a_list_of_tiles_and_a_vrt_of_them_read_like_the_dem(tmp_path):
    tiles = cut_tiles(tmp_path / "tiles")
    whole = read_dem(DEM)
    np.testing.assert_array_equal(read_dem([str(t) for t in reversed(tiles)]).z, whole.z)
    vrt = tmp_path / "dem.vrt"
    _write_vrt(vrt, tiles)
    np.testing.assert_array_equal(read_dem(vrt).z, whole.z)


def test_a_tile_in_another_crs_is_reprojected(tmp_path):
    tiles = cut_tiles(tmp_path / "tiles", 1, 2)
    moved = tmp_path / "tiles" / "tile_0_1_utm.tif"
    # the east tile reprojected to WGS 84 / UTM 56S (EPSG:32756): same projection, another datum
    from rasterio.warp import calculate_default_transform, reproject, Resampling

    with rasterio.open(tiles[1]) as src:
        tr, w, h = calculate_default_transform(src.crs, "EPSG:32756", src.width, src.height, *src.bounds)
        prof = src.profile | {"crs": "EPSG:32756", "transform": tr, "width": w, "height": h}
        with rasterio.open(moved, "w", **prof) as dst:
            reproject(rasterio.band(src, 1), rasterio.band(dst, 1), resampling=Resampling.bilinear)
    tiles[1].unlink()
    whole = read_dem(DEM)
    mosaic = read_dem([tiles[0], moved])
    assert str(mosaic.crs) == str(whole.crs)
    both = np.isfinite(mosaic.z[:, : whole.shape[1]]) & np.isfinite(whole.z[:, : mosaic.shape[1]])
    diff = np.abs(mosaic.z[:, : whole.shape[1]] - whole.z[:, : mosaic.shape[1]])[both]
    # the datum shift is well under a cell here: the east half matches the DEM within its local relief
    assert both.sum() > 0.9 * np.isfinite(whole.z).sum()
    assert np.median(diff) < 0.25


def test_overlapping_tiles_respect_nodata(tmp_path):
    """Where the first tile has nodata, the next tile's data fills the hole."""
    tiles = cut_tiles(tmp_path / "tiles", 1, 1)
    holed = tmp_path / "holed.tif"
    with rasterio.open(tiles[0]) as src:
        data, prof = src.read(1), src.profile
    data[100:150, 100:150] = prof["nodata"]
    with rasterio.open(holed, "w", **prof) as dst:
        dst.write(data, 1)
    mosaic = read_dem([holed, tiles[0]])
    np.testing.assert_array_equal(mosaic.z, read_dem(DEM).z)


def test_a_clip_polygon_keeps_the_cells_inside_and_layers_are_read_inside_it(tmp_path):
    whole = read_dem(DEM)
    x0, y0 = 382380.0, 6354400.0
    circle = Point(x0, y0).buffer(80.0)
    clip = tmp_path / "clip.gpkg"
    gpd.GeoDataFrame({"name": ["catchment"]}, geometry=[circle], crs=whole.crs).to_file(clip, layer="c")
    grid = read_dem(DEM, clip=([circle], whole.crs))
    assert grid.clipped
    assert grid.shape[0] <= 162 and grid.shape[1] <= 162
    xs, ys = np.meshgrid(grid.x, grid.y)
    inside = np.hypot(xs - x0, ys - y0) <= 80.0
    assert np.isnan(grid.z[~inside]).all()
    assert np.isfinite(grid.z[inside]).mean() > 0.99

    scenario = tmp_path / "clipped.toml"
    scenario.write_text(f"""
name = "clipped"
[domain]
dem = ["{DEM.parent}/dem*.tif"]
clip = {{ path = "clip.gpkg", layer = "c" }}
[buildings]
path = "{GPKG}"
layer = "buildings"
id_field = "building_id"
[rainfall]
kind = "block"
depth_mm = 10.0
duration_min = 5.0
[simulation]
duration_min = 1.0
""")
    model = build_model(load_scenario(scenario))
    n_all = len(gpd.read_file(GPKG, layer="buildings"))
    assert 0 < len(model.buildings) < n_all                  # outside buildings skipped, not refused
    assert model.buildings.geometry.intersects(box(*model.simulation.grid.bounds)).all()


def test_without_a_clip_a_building_outside_the_dem_is_still_refused(tmp_path):
    gdf = gpd.read_file(GPKG, layer="buildings").iloc[:2].copy()
    gdf.loc[gdf.index[1], "geometry"] = box(0, 0, 10, 10)
    layer = tmp_path / "b.gpkg"
    gdf.to_file(layer, layer="buildings")
    scenario = tmp_path / "s.toml"
    scenario.write_text(f"""
name = "s"
[domain]
dem = "{DEM}"
[buildings]
path = "b.gpkg"
layer = "buildings"
[simulation]
duration_min = 1.0
""")
    with pytest.raises(FloodsimError, match="entirely outside the DEM"):
        build_model(load_scenario(scenario))


@pytest.mark.parametrize("dem, clip, match", [
    ('"nowhere/*.tif"', None, r"nowhere/\*\.tif: the DEM pattern matches no file"),
    ('["DEMFILE", "missing.tif"]', None, r"missing\.tif: DEM file not found"),
    ('"DEMFILE"', "far", r"clip polygon does not overlap the DEM"),
])
def test_bad_tiles_and_clips_exit_2_naming_the_file(tmp_path, dem, clip, match):
    far = tmp_path / "far.gpkg"
    gpd.GeoDataFrame(geometry=[box(0, 0, 100, 100)], crs="EPSG:28356").to_file(far, layer="far")
    clip_line = 'clip = { path = "far.gpkg", layer = "far" }' if clip else ""
    scenario = tmp_path / "bad.toml"
    scenario.write_text(f'name = "bad"\n[domain]\ndem = {dem.replace("DEMFILE", str(DEM))}\n{clip_line}\n'
                        "[simulation]\nduration_min = 1.0\n")
    r = subprocess.run([sys.executable, "-m", "floodsim", "validate", str(scenario)], capture_output=True,
                       text=True, cwd=tmp_path, timeout=300)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    import re

    assert re.search(match, r.stderr), r.stderr


def test_the_estimate_counts_cells_frames_and_steps():
    est = budget.estimate(cells=1_000_000, active_cells=900_000, dx=1.0, duration_s=3600.0, output_times=13,
                          cfl=0.7, available=64e9)
    per_cell = budget.CORE_BYTES_PER_CELL + budget.PRODUCT_BYTES_PER_CELL   # the frames are on disk
    assert est.memory_bytes == pytest.approx(budget.FIXED_BYTES + 1e6 * per_cell)
    assert est.frames_disk_bytes == 4.0 * 1e6 * 13
    assert budget.estimate(1_000_000, 1, 1.0, 60.0, 500, 0.7, available=64e9).memory_bytes == est.memory_bytes
    assert budget.estimate(1_000_000, 1, 1.0, 60.0, 13, 0.7, available=64e9, frames=False).frames_disk_bytes == 0
    dt = 0.7 * 1.0 / np.sqrt(9.81 * budget.REFERENCE_DEPTH_M)
    assert est.steps == int(np.ceil(3600.0 / dt))
    assert est.seconds == pytest.approx(est.steps * 1e6 / budget.REFERENCE_RATE)
    assert est.fits
    assert not budget.estimate(1_000_000, 1, 1.0, 60.0, 2, 0.7, available=1e8).fits
    single = budget.estimate(1_000_000, 1, 1.0, 3600.0, 13, 0.7, available=64e9, precision="single")
    assert est.memory_bytes - single.memory_bytes == pytest.approx(
        1e6 * (budget.CORE_BYTES_PER_CELL - budget.CORE_BYTES_PER_CELL_SINGLE))


def test_the_estimate_follows_the_scenarios_precision():
    """``[simulation] precision = "single"`` reaches the estimate that validate prints and run enforces,
    and matches the arrays a single-precision simulation holds (bench_core's bytes_per_cell_arrays)."""
    from tests.integration.conftest import SCENARIOS, coarsened

    for precision, per_cell in (("double", budget.CORE_BYTES_PER_CELL),
                                ("single", budget.CORE_BYTES_PER_CELL_SINGLE)):
        model = build_model(coarsened(SCENARIOS / "merewether_cloudburst.toml", 4, precision=precision))
        est = budget.estimate_model(model, 600.0, 300.0, available=64e9)
        cells = est.cells
        assert est.memory_bytes == pytest.approx(
            budget.FIXED_BYTES + cells * (per_cell + budget.PRODUCT_BYTES_PER_CELL))


def test_a_run_that_will_not_fit_is_refused_with_the_numbers_and_nothing_written(tmp_path):
    code = (
        "import sys; from floodsim.run import budget; budget.available_memory = lambda: 2.0e8; "
        "from floodsim.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    out = tmp_path / "out"
    for verb in (["validate"], ["run", "--out", str(out)]):
        r = subprocess.run([sys.executable, "-c", code, *verb[:1], str(ROOT / "scenarios" /
                            "merewether_cloudburst.toml"), *verb[1:]],
                           capture_output=True, text=True, cwd=tmp_path, timeout=300)
        assert r.returncode == 2, r.stderr
        assert "GiB of memory" in r.stderr and "0.2 GiB is available" in r.stderr
        assert "[domain] clip" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


def test_results_nc_is_chunked_by_area_and_frame_and_compressed(tmp_path):
    import netCDF4
    import xarray as xr

    from floodsim.io.raster import NETCDF_CHUNK, write_netcdf

    ds = xr.Dataset({"depth": (("time", "y", "x"), np.zeros((3, 600, 300), np.float32)),
                     "max_depth": (("y", "x"), np.zeros((600, 300), np.float32)),
                     "volume": (("time",), np.zeros(3))},
                    coords={"time": [0.0, 1.0, 2.0], "y": np.arange(600.0), "x": np.arange(300.0)})
    path = write_netcdf(ds, tmp_path / "r.nc")
    with netCDF4.Dataset(path) as nc:
        assert nc["depth"].chunking() == [1, NETCDF_CHUNK, NETCDF_CHUNK]
        assert nc["max_depth"].chunking() == [NETCDF_CHUNK, NETCDF_CHUNK]
        assert nc["depth"].filters()["zlib"] and nc["max_depth"].filters()["zlib"]
    assert path.stat().st_size < 0.05 * ds["depth"].nbytes     # zeros compress: the file is not raw
