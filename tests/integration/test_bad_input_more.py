"""Bad input end to end through `floodsim run` (issue 5), the cases not covered by test_cli.py,
test_scenario_inputs.py and test_io.py: each gives exit code 2, one line naming the file, the field and
the fix, and leaves nothing in the output folder. Also: inputs that look odd but are valid (rectangular
cells, NaN holes in a DEM without a nodata value, layers in another projected CRS) run with the
balance closed, and an output folder holding a link never gets written through.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import Point, Polygon, box

from floodsim.cli import main
from floodsim.errors import ExitCode

X0, Y0 = 500000.0, 6000000.0   # top-left corner of the test DEM, EPSG:32633


def write_dem(path, z, crs="EPSG:32633", res=(2.0, 2.0), nodata=-9999.0):
    with rasterio.open(path, "w", driver="GTiff", width=z.shape[1], height=z.shape[0], count=1, dtype="float32",
                       crs=crs, transform=from_origin(X0, Y0, *res), nodata=nodata) as dst:
        dst.write(z.astype("float32"), 1)
    return path


def slope_dem(ny=20, nx=24):
    yy, xx = np.mgrid[0:ny, 0:nx]
    return 10.0 + 0.02 * yy + 0.01 * xx


SCENARIO = """
name = "bad input"
[domain]
dem = "dem.tif"
[rainfall]
kind = "block"
intensity_mm_h = 60
duration_min = 2
[simulation]
duration_min = 3
output_interval_min = 1
"""


@pytest.fixture
def project(tmp_path):
    write_dem(tmp_path / "dem.tif", slope_dem())
    return tmp_path


def run_cli(project, text, capsys, expect=ExitCode.INPUT, lines=1):
    """Run `floodsim run` on a scenario; check the exit code, a ``lines``-line message (one per problem)
    and, on failure, an output folder with nothing in it. Returns stderr."""
    scenario = project / "s.toml"
    scenario.write_text(text)
    out = project / "out"
    code = main(["run", str(scenario), "--out", str(out), "--quiet"])
    captured = capsys.readouterr()
    assert code == expect, captured.err
    if expect != ExitCode.OK:
        err = captured.err.strip()
        assert len(err.splitlines()) == lines, err
        assert err.startswith("floodsim: error: ") and "Traceback" not in err
        assert not out.exists() or not any(out.iterdir()), list(out.iterdir())
        return err
    return captured.out


def layer(path, geoms, crs="EPSG:32633", **cols):
    gpd.GeoDataFrame({"name": [f"f{k}" for k in range(len(geoms))], **cols}, geometry=list(geoms),
                     crs=crs).to_file(path)
    return path


# ----------------------------------------------------------------------------- DEM and CRS
def test_geographic_crs_dem(project, capsys):
    write_dem(project / "dem.tif", slope_dem(), crs="EPSG:4326", res=(1e-5, 1e-5))
    err = run_cli(project, SCENARIO, capsys)
    assert "dem.tif: the CRS EPSG:4326 is geographic (degrees)" in err and "Reproject the DEM" in err


def test_rectangular_cells_run_with_balance_closed(project, capsys):
    """Non-square cells (2 m × 5 m) are supported: the grid keeps both sizes and volumes use dx·dy."""
    write_dem(project / "dem.tif", slope_dem(), res=(2.0, 5.0))
    run_cli(project, SCENARIO, capsys, expect=ExitCode.OK)
    summary = json.loads((project / "out" / "summary.json").read_text())
    assert summary["cell_size_m"] == [2.0, 5.0]
    rain = summary["volume_balance_m3"]["rain"]
    assert rain == pytest.approx(0.060 * 2 / 60 * 20 * 24 * 2.0 * 5.0, rel=1e-12)   # 60 mm/h for 2 min
    assert abs(summary["volume_balance_m3"]["relative_error"]) < 1e-12


def test_nan_holes_without_nodata_value(project, capsys):
    """NaN cells in a DEM that declares no nodata value are outside the model, like nodata."""
    z = slope_dem()
    z[5:8, 5:9] = np.nan
    write_dem(project / "dem.tif", z, nodata=None)
    run_cli(project, SCENARIO, capsys, expect=ExitCode.OK)
    summary = json.loads((project / "out" / "summary.json").read_text())
    assert summary["volume_balance_m3"]["rain"] == pytest.approx(0.002 * (20 * 24 - 12) * 4.0, rel=1e-12)


def test_layer_without_crs(project, capsys):
    layer(project / "b.shp", [box(X0 + 4, Y0 - 12, X0 + 10, Y0 - 6)], crs=None)      # no .prj
    err = run_cli(project, SCENARIO + '[buildings]\npath = "b.shp"\n', capsys)
    assert "b.shp (buildings): the layer has no CRS; set one" in err


def test_geojson_in_projected_coordinates_without_crs(project, capsys):
    """GeoJSON without a CRS means WGS84 degrees (RFC 7946): UTM metres read that way cannot be placed,
    and the message says to check the layer's CRS."""
    layer(project / "b.geojson", [box(X0 + 4, Y0 - 12, X0 + 10, Y0 - 6)], crs=None)
    err = run_cli(project, SCENARIO + '[buildings]\npath = "b.geojson"\n', capsys)
    assert "b.geojson (buildings): feature 0 lies entirely outside the DEM" in err and "check its CRS" in err


def test_layer_in_another_projected_crs_is_reprojected(project, capsys):
    """A buildings layer in UTM 33N stored as EPSG:3857 lands on the same cells after reprojection."""
    poly = box(X0 + 4, Y0 - 12, X0 + 10, Y0 - 6)
    gpd.GeoDataFrame({"name": ["a"]}, geometry=[poly], crs="EPSG:32633").to_crs("EPSG:3857").to_file(
        project / "b.gpkg")
    text = run_cli(project, SCENARIO + '[buildings]\npath = "b.gpkg"\n', capsys, expect=ExitCode.OK)
    assert "continuity error" in text


def test_layer_labelled_with_wrong_crs_lies_outside(project, capsys):
    """Projected coordinates labelled as degrees (a common mistake) cannot be placed: the message says
    the feature lies outside the DEM and to check its CRS."""
    layer(project / "b.gpkg", [Point(10.5, 59.9).buffer(0.0001)], crs="EPSG:4326")
    err = run_cli(project, SCENARIO + '[buildings]\npath = "b.gpkg"\n', capsys)
    assert "b.gpkg (buildings): feature 0 lies entirely outside the DEM" in err and "check its CRS" in err


# ----------------------------------------------------------------------------- geometries
def test_empty_geometry(project, capsys):
    layer(project / "b.gpkg", [box(X0 + 4, Y0 - 12, X0 + 10, Y0 - 6), Polygon()])
    err = run_cli(project, SCENARIO + '[buildings]\npath = "b.gpkg"\n', capsys)
    assert "b.gpkg (buildings): feature 1 has an empty geometry; delete it or draw it" in err


def test_invalid_geometry(project, capsys):
    bowtie = Polygon([(X0 + 2, Y0 - 2), (X0 + 20, Y0 - 20), (X0 + 20, Y0 - 2), (X0 + 2, Y0 - 20)])
    layer(project / "b.gpkg", [bowtie])
    err = run_cli(project, SCENARIO + '[buildings]\npath = "b.gpkg"\n', capsys)
    assert "b.gpkg (buildings): feature 0 has an invalid geometry (Self-intersection" in err
    assert "Fix geometries" in err


def test_storage_measure_layer_outside_the_dem(project, capsys):
    layer(project / "inlets.gpkg", [Point(X0 + 5000, Y0 - 5000)])
    err = run_cli(project, SCENARIO + """
[[measures]]
type = "tank"
name = "tank A"
inlets = { path = "inlets.gpkg" }
inflow_capacity_m3_s = 0.1
volume_m3 = 100
""", capsys)
    assert "inlets.gpkg" in err and "lies entirely outside the DEM" in err


def test_pond_outside_the_dem(project, capsys):
    layer(project / "ponds.gpkg", [box(X0 + 5000, Y0 - 5020, X0 + 5020, Y0 - 5000)])
    err = run_cli(project, SCENARIO + """
[[measures]]
type = "pond"
name = "pond A"
layer = { path = "ponds.gpkg" }
bottom_level_m = 9.0
""", capsys)
    assert "ponds.gpkg" in err and "lies entirely outside the DEM" in err


# ----------------------------------------------------------------------------- rainfall tables
HYETO = SCENARIO.replace('kind = "block"\nintensity_mm_h = 60\nduration_min = 2', 'kind = "hyetograph"\ncsv = "storm.csv"')


@pytest.mark.parametrize("rows, expected", [
    ("0,10\n5,-3\n10,0\n", ("storm.csv: hyetograph: intensity 1 is -3.0 mm/h; rainfall must be finite "
                            "and non-negative")),
    ("0,10\n10,20\n5,0\n", "storm.csv: hyetograph"),
    ("0,10\n5,20\n5,0\n", "storm.csv: hyetograph"),
    ("0,10\n5,\n10,0\n", "storm.csv (hyetograph): row 3 has an empty value; fill the gap"),
])
def test_bad_hyetograph(project, capsys, rows, expected):
    (project / "storm.csv").write_text("time_min,intensity_mm_h\n" + rows)
    err = run_cli(project, HYETO, capsys)
    assert expected in err


def test_unsorted_hyetograph_message_says_how_to_fix(project, capsys):
    (project / "storm.csv").write_text("time_min,intensity_mm_h\n0,10\n10,20\n5,0\n")
    err = run_cli(project, HYETO, capsys)
    assert "must increase strictly; entry 2 (300.0 s) does not come after entry 1 (600.0 s)" in err
    assert "Sort the series" in err


# ----------------------------------------------------------------------------- keys, files
@pytest.mark.parametrize("edit, expected", [
    (("[simulation]", "[simulaton]"), ["simulation: required but missing — add it",
                                       "simulaton: unknown key 'simulaton' — check its spelling"]),
    (("duration_min = 3", "duration_min = 3\ncoarsn = 2"), ["simulation.coarsn: unknown key 'coarsn'"]),
    (("[rainfall]", "[rainfall]\nintensity_mm_hr = 5"), ["rainfall.intensity_mm_hr: unknown key"]),
])
def test_unknown_keys(project, capsys, edit, expected):
    """Typos: one line per problem, each naming the file and the key."""
    err = run_cli(project, SCENARIO.replace(*edit), capsys, lines=len(expected))
    for line, want in zip(err.splitlines(), expected):
        assert str(project / "s.toml") in line and want in line


@pytest.mark.parametrize("extra, expected", [
    ('[buildings]\npath = "nothere.gpkg"\n', "nothere.gpkg (buildings): file not found. Check the path"),
    ('[surface]\nmanning_raster = "n.tif"\n', "n.tif: raster file not found"),
])
def test_missing_files(project, capsys, extra, expected):
    err = run_cli(project, SCENARIO + extra, capsys)
    assert expected in err


def test_missing_hyetograph_file(project, capsys):
    err = run_cli(project, HYETO, capsys)
    assert "storm.csv (hyetograph): file not found" in err


# ----------------------------------------------------------------------------- outputs
def test_output_folder_is_a_file(project, capsys):
    (project / "out").write_text("not a folder")
    scenario = project / "s.toml"
    scenario.write_text(SCENARIO)
    assert main(["run", str(scenario), "--out", str(project / "out"), "--quiet"]) == ExitCode.INPUT
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "out: output folder is not writable" in err and "--out" in err
    assert (project / "out").read_text() == "not a folder"


def test_links_in_the_output_folder_are_replaced_not_written_through(project, capsys):
    """A result name that is a symbolic link to a file outside the output folder: the run replaces the
    link with its own file (atomic rename) and never writes to the link's target."""
    victim = project / "elsewhere.nc"
    victim.write_text("precious")
    out = project / "out"
    out.mkdir()
    (out / "results.nc").symlink_to(victim)
    (out / "summary.json").symlink_to(project / "elsewhere.json")
    run_cli(project, SCENARIO, capsys, expect=ExitCode.OK)
    assert victim.read_text() == "precious" and not (project / "elsewhere.json").exists()
    assert not (out / "results.nc").is_symlink() and (out / "results.nc").stat().st_size > 1000
    assert not (out / "summary.json").is_symlink()
