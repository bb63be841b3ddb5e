"""Run products on the bundled Merewether pond scenario (coarsened ×4, 10 simulated minutes)."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
import xarray as xr

from floodsim.errors import OutputError
from floodsim.analysis.flooding import flood_depth, storage_depth_of
from floodsim.analysis.hazard import HAZARD_CLASSES, hazard_class, hazard_rating
from floodsim.analysis.products import flatten_summary, write_products
from floodsim.run.runner import run_scenario
from floodsim.build.model import build_model

from .conftest import SCENARIOS, coarsened


@pytest.fixture(scope="module")
def pond_run(tmp_path_factory):
    sc = coarsened(SCENARIOS / "merewether_pond.toml", 4, duration_min=10.0, output_interval_min=2.5)
    out = tmp_path_factory.mktemp("pond")
    result = run_scenario(sc, out_dir=out)
    return sc, out, result


def _read(path):
    with rasterio.open(path) as src:
        return src.read(1, masked=True), src.profile, src.tags(ns="IMAGE_STRUCTURE")


def test_rasters_are_cogs_with_crs_and_nodata(pond_run):
    _, out, _ = pond_run
    for name in ("max_depth", "max_speed", "time_of_max_depth", "hazard_rating", "hazard_class",
                 "arrival_time"):
        _, profile, structure = _read(out / f"{name}.tif")
        assert structure.get("LAYOUT") == "COG", name
        assert profile["crs"].to_epsg() == 28356 and profile["nodata"] is not None, name


def test_hazard_raster_matches_the_method(pond_run):
    sc, out, result = pond_run
    ds = result.dataset
    hr, _, _ = _read(out / "hazard_rating.tif")
    flood = flood_depth(ds["max_depth"].values, storage_depth_of(ds))   # the pond's stored water is not flooding
    expected = hazard_rating(flood, ds["max_speed"].values)
    valid = np.isfinite(ds["max_depth"].values)
    assert np.array_equal(~hr.mask, valid)
    np.testing.assert_allclose(hr.data[valid], expected[valid], rtol=1e-6, atol=1e-6)
    codes, _, _ = _read(out / "hazard_class.tif")
    thr = sc.output.flood_threshold_m
    np.testing.assert_array_equal(codes.data[valid], hazard_class(expected, flood, thr)[valid])
    assert codes.data[valid].max() >= 2          # the storm makes some moderate hazard somewhere


def test_arrival_time_is_consistent_with_depths(pond_run):
    sc, out, result = pond_run
    ds = result.dataset
    thr = sc.output.flood_threshold_m
    arrival, _, _ = _read(out / "arrival_time.tif")
    a = arrival.filled(np.nan)
    storage = storage_depth_of(ds)
    flooded = np.nan_to_num(flood_depth(ds["max_depth"].values, storage), nan=-1) >= thr
    assert np.array_equal(np.isfinite(a), flooded)
    t_max = ds["time_of_max_depth"].values
    assert np.all(a[flooded] <= t_max[flooded] + 1e-3) and np.all(a[flooded] >= 0)
    depth = flood_depth(ds["depth"].values, storage)
    times = ds["time"].values
    for k, t in enumerate(times):                 # wet at output k -> arrived by t_k
        wet = np.nan_to_num(depth[k], nan=0) >= thr
        assert np.all(a[wet] <= t + 1e-3)


def test_geopackage_layers(pond_run):
    sc, out, result = pond_run
    ds = result.dataset
    layers = dict(pyogrio.list_layers(out / "flood.gpkg"))
    assert set(layers) == {"flood_extent", "buildings", "measures"}
    extent = gpd.read_file(out / "flood.gpkg", layer="flood_extent")
    assert extent["depth_class"].iloc[0].startswith("0.10")
    cell_area = float(ds.attrs["dx_m"]) * float(ds.attrs["dy_m"])
    assert extent["area_m2"].sum() == pytest.approx(result.summary.max_extent_area_m2, rel=1e-9)
    # simplified by half a cell, the polygons keep the raster area within a few per cent
    assert extent.geometry.area.sum() == pytest.approx(extent["area_m2"].sum(), rel=0.1)
    assert extent["area_m2"].min() >= cell_area
    buildings = gpd.read_file(out / "flood.gpkg", layer="buildings")
    model = build_model(sc)
    assert len(buildings) == len(model.buildings)
    assert list(buildings.columns) == [sc.buildings.id_field, "max_depth_m", "max_speed_m_s",
                                       "max_hazard_rating", "hazard_code", "hazard_class", "flooded", "geometry"]
    measures = gpd.read_file(out / "flood.gpkg", layer="measures")
    assert set(measures["name"]) == {m["name"] for m in model.measures}
    pond = measures.set_index("name").loc["Park buffer pond"]
    assert pond["peak_stored_m3"] > 0


def test_summary_keys_and_csv(pond_run):
    _, out, result = pond_run
    ds = result.dataset
    s = json.loads((out / "summary.json").read_text())
    assert sum(s["buildings_by_hazard_class"].values()) == s["buildings"]
    assert s["buildings_flooded"] <= s["buildings"]
    assert [c.name for c in HAZARD_CLASSES] == list(s["buildings_by_hazard_class"])
    assert sum(s["flooded_area_m2_by_depth_class"].values()) == pytest.approx(s["max_extent_area_m2"])
    # peak outflow × one interval cannot exceed the total that left
    interval = float(np.diff(ds["time"].values).max())
    assert 0 < s["peak_boundary_outflow_m3_s"] * interval <= s["volume_balance_m3"]["boundary_out"] + 1e-9
    assert s["peak_volume_m3_by_store"]["surface"] == pytest.approx(float(ds["volume_stored"].max()))
    rows = (out / "summary.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0] == "metric,value,unit"
    assert len(rows) - 1 == len(flatten_summary(s))
    assert any(r.startswith("flooded_area_m2_by_depth_class.0.10") and r.endswith(",m2") for r in rows)


def test_netcdf_cf_attributes(pond_run):
    _, out, _ = pond_run
    with xr.open_dataset(out / "results.nc", decode_coords="all") as ds:
        assert ds.rio.crs.to_epsg() == 28356
        assert ds["max_depth"].encoding.get("grid_mapping") == "spatial_ref"
        assert ds["max_depth"].attrs["cell_methods"] == "time: maximum"
        assert ds["x"].attrs["standard_name"] == "projection_x_coordinate"


def test_failed_write_leaves_no_half_file(pond_run, tmp_path, monkeypatch):
    sc, _, result = pond_run
    model = build_model(sc)

    def broken_to_file(self, path, *args, **kwargs):
        path.write_bytes(b"half a geopackage")
        raise OSError("disk full")

    monkeypatch.setattr(gpd.GeoDataFrame, "to_file", broken_to_file)
    with pytest.raises(OSError, match="disk full"):
        write_products(result.dataset, model, tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "flood.gpkg" not in names
    assert not [n for n in names if n.endswith(".part")]
    # what was written before the failure is complete
    assert {"hazard_rating.tif", "arrival_time.tif"} <= set(names)
    _read(tmp_path / "hazard_rating.tif")


def test_unwritable_folder_is_an_output_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    from floodsim.analysis.products import write_summary_csv

    with pytest.raises(OutputError):
        write_summary_csv({"a": 1}, blocker / "summary.csv")
