"""Every kind of scenario input, end to end on a small synthetic city (no network, seconds).

Each case checks the volume it must deliver exactly: the rain of a hyetograph CSV, the volume of an
inflow hydrograph CSV, the rain of a NetCDF radar-like raster, and that soil zones and Horton change
infiltration where they should; the balance closes in every case.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import xarray as xr
from rasterio.transform import from_origin
from shapely.geometry import box

from floodsim.errors import ScenarioError
from floodsim.run.runner import run_scenario
from floodsim.scenario.load import load_scenario

CRS = "EPSG:32632"
X0, Y0, DX, NY, NX = 500000.0, 6200000.0, 2.0, 30, 40


@pytest.fixture
def city(tmp_path):
    """A 30×40 DEM of 2 m cells tilted to the east, a layer file with soils, an inflow area."""
    z = 10.0 - 0.01 * DX * np.arange(NX)[None, :] + np.zeros((NY, 1))
    with rasterio.open(tmp_path / "dem.tif", "w", driver="GTiff", width=NX, height=NY, count=1,
                       dtype="float64", crs=CRS, transform=from_origin(X0, Y0, DX, DX)) as dst:
        dst.write(z, 1)
    west, north = X0, Y0
    soils = gpd.GeoDataFrame({"texture": ["sand", "clay"]},
                             geometry=[box(west, north - 60, west + 40, north),
                                       box(west + 40, north - 60, west + 80, north)], crs=CRS)
    soils.to_file(tmp_path / "layers.gpkg", layer="soils")
    gpd.GeoDataFrame({"name": ["culvert"]}, geometry=[box(west + 2, north - 32, west + 6, north - 28)],
                     crs=CRS).to_file(tmp_path / "layers.gpkg", layer="inflow")
    return tmp_path


def scenario(tmp_path, body, name="s.toml"):
    text = f"""
name = "case"
[domain]
dem = "dem.tif"
[simulation]
duration_min = 20
output_interval_min = 5
dt_max_s = 2.0
{body}
"""
    path = tmp_path / name
    path.write_text(text)
    return path


def area():
    return NY * NX * DX * DX


def test_hyetograph_csv(city):
    (city / "storm.csv").write_text("time_min,intensity_mm_h\n0,30\n5,90\n10,0\n")
    path = scenario(city, '[rainfall]\nkind = "hyetograph"\ncsv = "storm.csv"')
    out = run_scenario(path, write=False)
    vb = out.summary.volume_balance_m3
    # 30 mm/h for 5 min + 90 mm/h for 5 min = 2.5 + 7.5 mm; the last interval (0 mm/h) runs 5 min
    assert vb["rain"] == pytest.approx(0.010 * area(), rel=1e-12)
    assert abs(vb["relative_error"]) < 1e-10


def test_hyetograph_with_gap_is_refused(city):
    (city / "storm.csv").write_text("time_min,intensity_mm_h\n0,30\n5,\n10,0\n")
    path = scenario(city, '[rainfall]\nkind = "hyetograph"\ncsv = "storm.csv"')
    with pytest.raises(ScenarioError, match="storm.csv.*row 3 has an empty value"):
        run_scenario(path, write=False)


def test_inflow_hydrograph_csv_and_level_series(city):
    (city / "q.csv").write_text("time_min,discharge_m3_s\n0,0\n5,0.5\n10,0\n")
    path = scenario(city, """
[[inflows]]
name = "culvert"
area = { path = "layers.gpkg", layer = "inflow" }
hydrograph_csv = "q.csv"
[[boundaries]]
side = "east"
kind = "level"
level_series = [{ time_min = 0, level_m = 9.0 }, { time_min = 20, level_m = 9.5 }]
""")
    out = run_scenario(path, write=False)
    vb = out.summary.volume_balance_m3
    assert vb["inflow"] == pytest.approx(0.5 * 600 / 2, rel=1e-12)   # triangle: 0.5 m³/s peak over 10 min
    assert vb["boundary_in"] > 0                                      # the rising level pushes water in
    assert abs(vb["relative_error"]) < 1e-10


def test_rainfall_raster_netcdf(city):
    # 3 frames, 5 min apart, on a coarser 10 m grid in the same CRS; west half wet, east half dry
    x = X0 + 5 + 10 * np.arange(8)
    y = Y0 - 5 - 10 * np.arange(6)
    frames = np.zeros((3, 6, 8))
    frames[:, :, :4] = [[[60.0]], [[120.0]], [[0.0]]]
    da = xr.DataArray(frames, dims=("time", "y", "x"), coords={"time": [0.0, 300.0, 600.0], "y": y, "x": x},
                      name="rain").rio.write_crs(CRS)
    da.to_dataset().to_netcdf(city / "radar.nc")
    path = scenario(city, '[rainfall]\nkind = "raster"\nnetcdf = "radar.nc"\nvariable = "rain"')
    out = run_scenario(path, write=False)
    vb = out.summary.volume_balance_m3
    # west half (x < 40 m) of the grid: 60 mm/h and 120 mm/h for 5 min each = 15 mm; bilinear
    # resampling blurs the edge symmetrically, so the total is that over exactly half the area
    assert vb["rain"] == pytest.approx(0.015 * area() / 2, rel=0.02)
    assert abs(vb["relative_error"]) < 1e-10
    # the frames were regridded onto the 2 m model grid: west columns get the rain, east ones none
    from floodsim import units
    from floodsim.build.model import build_model

    frames = build_model(load_scenario(path)).simulation.rainfall.intensity
    assert frames.shape == (3, NY, NX)
    np.testing.assert_allclose(units.m_s_to_mm_h(frames[1, :, :15]), 120.0, rtol=1e-9)
    np.testing.assert_allclose(frames[1, :, 25:], 0.0, atol=1e-15)


def test_soil_zones_and_horton(city):
    rain = '[rainfall]\nkind = "block"\nintensity_mm_h = 40\nduration_min = 20\n'
    zones = scenario(city, rain + """
[infiltration]
model = "green-ampt"
soil = "loam"
zones = [{ path = "layers.gpkg", layer = "soils", field = "texture" }]
""", "zones.toml")
    sim_zones = run_scenario(zones, write=False)
    ds = sim_zones.dataset
    # sand (west) soaks up the 40 mm/h storm, clay (east) does not: more water stands in the east
    west = float(ds["depth"].isel(time=-1, x=slice(0, 15)).mean())
    east = float(ds["depth"].isel(time=-1, x=slice(25, 40)).mean())
    assert west < 1e-4 < east
    assert abs(sim_zones.summary.volume_balance_m3["relative_error"]) < 1e-10
    horton = scenario(city, rain + """
[infiltration]
model = "horton"
f0_mm_h = 60
fc_mm_h = 10
k_per_h = 4
""", "horton.toml")
    vb = run_scenario(horton, write=False).summary.volume_balance_m3
    assert 0 < vb["infiltration"] <= vb["rain"]
    assert abs(vb["relative_error"]) < 1e-10


def test_zone_with_unknown_texture_names_feature(city):
    gpd.GeoDataFrame({"texture": ["sand", "moon dust"]},
                     geometry=[box(X0, Y0 - 60, X0 + 40, Y0), box(X0 + 40, Y0 - 60, X0 + 80, Y0)],
                     crs=CRS).to_file(city / "bad.gpkg", layer="soils")
    path = scenario(city, """
[infiltration]
model = "green-ampt"
soil = "loam"
zones = [{ path = "bad.gpkg", layer = "soils", field = "texture" }]
""")
    with pytest.raises(ScenarioError, match="layer 'soils'.*feature 1.*unknown soil texture 'moon dust'"):
        run_scenario(path, write=False)


def test_zones_need_green_ampt(city):
    path = scenario(city, """
[infiltration]
model = "horton"
f0_mm_h = 60
fc_mm_h = 10
k_per_h = 4
zones = [{ path = "layers.gpkg", layer = "soils", soil = "sand" }]
""")
    with pytest.raises(ScenarioError, match="zones .* apply to model = 'green-ampt'"):
        load_scenario(path)
