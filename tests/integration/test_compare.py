"""`floodsim compare` on two coarsened Merewether runs (baseline and park pond), and refusals."""

from __future__ import annotations

import json

import shutil

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr
from affine import Affine

from floodsim.cli import main
from floodsim.errors import ExitCode
from floodsim.analysis.compare import compare_runs
from floodsim.errors import GridAlignmentError, InputDataError
from floodsim.analysis.flooding import flood_depth, storage_depth_of
from floodsim.analysis.hazard import hazard_rating
from floodsim.run.runner import run_scenario

from .conftest import SCENARIOS, coarsened


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    for name, file in (("baseline", "merewether_cloudburst.toml"), ("pond", "merewether_pond.toml")):
        sc = coarsened(SCENARIOS / file, 4, duration_min=10.0, output_interval_min=5.0)
        run_scenario(sc, out_dir=root / name)
    return root / "baseline", root / "pond"


def _max(path, var):
    with xr.open_dataset(path / "results.nc") as ds:
        return ds[var].values.astype(np.float64)


def test_difference_rasters_sign_and_values(runs, tmp_path):
    a, b = runs
    cmp = compare_runs([a, b], tmp_path / "cmp")
    with rasterio.open(tmp_path / "cmp" / "max_depth_diff.tif") as src:
        diff = src.read(1, masked=True)
        assert src.crs.to_epsg() == 28356
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
    expected = _max(b, "max_depth") - _max(a, "max_depth")
    valid = np.isfinite(expected)
    np.testing.assert_allclose(diff.data[valid], expected[valid], atol=1e-6)
    assert diff.data[valid].max() > 0.1          # the pond is dug into the park: deeper in B
    with rasterio.open(tmp_path / "cmp" / "hazard_rating_diff.tif") as src:
        dhr = src.read(1, masked=True)
    def hr(p):   # hazard from the flood depth: water a pond holds by design is not flooding
        with xr.open_dataset(p / "results.nc") as ds:
            storage = storage_depth_of(ds)
        return hazard_rating(flood_depth(_max(p, "max_depth"), storage), _max(p, "max_speed"))

    np.testing.assert_allclose(dhr.data[valid], (hr(b) - hr(a))[valid], atol=1e-5)
    assert (tmp_path / "cmp" / "depth_diff.png").stat().st_size > 10_000
    assert set(cmp.files) >= {"max_depth_diff", "hazard_rating_diff", "comparison_csv", "depth_diff_png"}


def test_side_by_side_table_and_changed_buildings(runs, tmp_path):
    a, b = runs
    cmp = compare_runs([a, b], tmp_path)
    table = pd.read_csv(tmp_path / "comparison.csv")
    assert list(table.columns) == ["metric", "unit", "baseline", "pond", "pond − baseline"]
    row = table.set_index("metric").loc["max_depth_m"]
    exact = [json.loads((p / "summary.json").read_text())["max_depth_m"] for p in (a, b)]
    # one number per cell, to 4 significant digits; the difference is taken before rounding
    assert float(row["baseline"]) == float(f"{exact[0]:.4g}") and float(row["pond"]) == float(f"{exact[1]:.4g}")
    assert float(row["pond − baseline"]) == float(f"{exact[1] - exact[0]:.4g}")
    assert not table.astype(str).apply(lambda c: c.str.startswith("{")).any().any()   # no dicts in cells
    assert any(m.startswith("gauges.") for m in table["metric"])
    # changed buildings = those whose class differs between the two buildings layers
    la = gpd.read_file(a / "flood.gpkg", layer="buildings").set_index("building_id")
    lb = gpd.read_file(b / "flood.gpkg", layer="buildings").set_index("building_id")
    expected = set(la.index[la["hazard_code"] != lb.loc[la.index, "hazard_code"]])
    assert set(cmp.changed["building_id"]) == expected
    if expected:
        csv = pd.read_csv(tmp_path / "changed_buildings.csv")
        assert set(csv["building_id"]) == expected
        assert set(csv["change"]) <= {"worse", "better"}
        assert len(gpd.read_file(tmp_path / "changed_buildings.gpkg")) == len(expected)


def _altered_copy(src, dst, change):
    shutil.copytree(src, dst)
    with xr.open_dataset(src / "results.nc", decode_coords="all") as ds:
        ds = change(ds.load())
    (dst / "results.nc").unlink()
    ds.to_netcdf(dst / "results.nc")
    return dst


def _shift(ds):
    t = ds.rio.transform(recalc=False)
    shifted = ds.assign_coords(x=ds.x + 2.0)
    return shifted.rio.write_transform(Affine(t.a, t.b, t.c + 2.0, t.d, t.e, t.f))


@pytest.mark.parametrize("change, what", [
    (lambda ds: ds.isel(x=slice(0, -1)), "grid"),
    (_shift, "origin"),
    (lambda ds: ds.rio.write_crs("EPSG:32756"), "CRS"),
])
def test_mismatched_grids_are_refused(runs, tmp_path, change, what, capsys):
    a, _ = runs
    other = _altered_copy(a, tmp_path / "other", change)
    with pytest.raises(GridAlignmentError, match=what):
        compare_runs([a, other], tmp_path / "cmp")
    assert not (tmp_path / "cmp").exists() or not any((tmp_path / "cmp").iterdir())
    assert main(["compare", str(a), str(other), "--out", str(tmp_path / "cmp2")]) == ExitCode.INPUT
    assert what in capsys.readouterr().err


def test_cli_compare_and_bad_folder(runs, tmp_path, capsys):
    a, b = runs
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "c"), "--no-png"]) == ExitCode.OK
    printed = capsys.readouterr().out
    assert "pond − baseline" in printed and "max_depth_m" in printed
    assert not (tmp_path / "c" / "depth_diff.png").exists()
    with pytest.raises(InputDataError, match="results.nc"):
        compare_runs([a, tmp_path], tmp_path / "d")


def test_cli_bench_json(capsys):
    import json

    assert main(["bench", "--sizes", "48", "--duration", "30", "--json"]) == ExitCode.OK
    result = json.loads(capsys.readouterr().out)
    row = result["rows"][0]
    assert row["cells"] == 48 * 48 and row["steps"] > 0
    assert row["cell_updates_per_s"] == pytest.approx(row["cells"] * row["steps"] / row["wall_s"])


def test_missing_buildings_layer_is_stated_not_counted_as_zero(runs, tmp_path):
    """Issue 10 item 11: without flood.gpkg, compare says the buildings were not compared."""
    from floodsim.analysis.compare import format_table

    a, b = runs
    bare = tmp_path / "bare"
    shutil.copytree(b, bare)
    (bare / "flood.gpkg").unlink()
    text = format_table(compare_runs([a, bare], tmp_path / "cmp"))
    assert "not compared" in text and "bare" in text and "changing hazard class: 0" not in text
