"""Scenario files that extend a baseline, and the Chicago design storm end to end.

Reference: the merge rules in floodsim/scenario/load.py (tables merge key by key, arrays of tables
are replaced whole, each file's relative paths resolve against its own folder, name is not
inherited); the Chicago storm's rain volume is the IDF depth for its duration × the DEM area
(Keifer & Chu 1957, exact block integration), times the climate factor.
"""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from floodsim import units
from floodsim.errors import ScenarioError
from floodsim.run.runner import run_scenario
from floodsim.scenario.load import load_scenario
from floodsim.build.storms import IDFCurve

from .conftest import SCENARIOS

IDF = SCENARIOS.parent / "gis_data" / "idf" / "dahlstrom2010_sherman.toml"
GIS = SCENARIOS.parent / "gis_data" / "merewether"

BASELINE = """
name = "baseline"
description = "today"
[domain]
dem = "dem.tif"
[rainfall]
kind = "block"
depth_mm = 60.0
duration_min = 30.0
[infiltration]
model = "horton"
f0_mm_h = 50
fc_mm_h = 5
k_per_h = 2
[[boundaries]]
side = "east"
kind = "free"
slope = 0.01
[[boundaries]]
side = "north"
kind = "critical"
[simulation]
duration_min = 60
output_interval_min = 10
dt_max_s = 2.0
[output]
dir = "out_base"
flood_threshold_m = 0.05
"""


@pytest.fixture
def project(tmp_path):
    """baseline.toml and dem.tif at the top; variants/ holds the children."""
    z = 10.0 - 0.02 * np.arange(12)[None, :] + np.zeros((10, 1))
    with rasterio.open(tmp_path / "dem.tif", "w", driver="GTiff", width=12, height=10, count=1, dtype="float64",
                       crs="EPSG:32632", transform=from_origin(500000.0, 6200000.0, 2.0, 2.0)) as dst:
        dst.write(z, 1)
    (tmp_path / "baseline.toml").write_text(BASELINE)
    (tmp_path / "variants").mkdir()
    return tmp_path


def write(path, text):
    path.write_text(text)
    return path


def test_child_changes_only_the_rainfall(project):
    child = write(project / "variants" / "cloudburst100.toml", f"""
extends = "../baseline.toml"
name = "100-year cloudburst, 2100"
[rainfall]
kind = "chicago"
idf = "{IDF.as_posix()}"
return_period_yr = 100
duration_min = 60
climate_factor = 1.3
""")
    base = load_scenario(project / "baseline.toml")
    sc = load_scenario(child)
    assert sc.name == "100-year cloudburst, 2100" and sc.description == ""
    assert sc.source == child.resolve() and sc.extends == (project / "baseline.toml").resolve()
    # the base's relative DEM path resolves against the base's folder, not the child's
    assert sc.domain.dem == (project / "dem.tif").resolve()
    # kind changed: the rainfall table is the child's alone (no depth_mm from the base)
    assert sc.rainfall.kind == "chicago" and sc.rainfall.depth_mm is None
    assert sc.rainfall.idf == IDF and sc.rainfall.climate_factor == 1.3 and sc.rainfall.peak_position == 0.4
    # everything else is the base's, except output.dir (never inherited)
    assert sc.boundaries == base.boundaries and sc.infiltration == base.infiltration
    assert sc.simulation == base.simulation
    assert sc.output.dir is None and sc.output.flood_threshold_m == 0.05
    assert base.output.dir == (project / "out_base").resolve()
    expected = base.model_copy(update={"name": sc.name, "description": "", "rainfall": sc.rainfall,
                                       "output": base.output.model_copy(update={"dir": None}),
                                       "source": sc.source, "extends": sc.extends})
    assert sc == expected


def test_tables_merge_key_by_key_and_arrays_are_replaced(project):
    (project / "variants" / "storm.csv").write_text("time_min,intensity_mm_h\n0,30\n10,0\n")
    mid = write(project / "variants" / "mid.toml", """
extends = "../baseline.toml"
name = "sea wall"
[simulation]
duration_min = 30
[rainfall]
depth_mm = 80.0
[[boundaries]]
side = "west"
kind = "level"
level_m = 9.5
""")
    sc = load_scenario(mid)
    assert sc.simulation.duration_min == 30 and sc.simulation.output_interval_min == 10
    assert sc.simulation.dt_max_s == 2.0
    assert sc.rainfall.kind == "block" and sc.rainfall.depth_mm == 80.0 and sc.rainfall.duration_min == 30.0
    assert [b.side for b in sc.boundaries] == ["west"]
    # a grandchild in the same folder: its CSV resolves against its own folder; boundaries = [] drops them
    leaf = write(project / "variants" / "leaf.toml", """
extends = "mid.toml"
name = "leaf"
boundaries = []
[rainfall]
kind = "hyetograph"
csv = "storm.csv"
""")
    sc = load_scenario(leaf)
    assert sc.boundaries == () and sc.simulation.duration_min == 30
    assert sc.rainfall.csv == (project / "variants" / "storm.csv").resolve() and sc.rainfall.depth_mm is None


def test_cycle_is_detected_naming_both_files(project):
    a = project / "variants" / "a.toml"
    b = project / "variants" / "b.toml"
    write(a, 'extends = "b.toml"\nname = "a"\n')
    write(b, 'extends = "a.toml"\nname = "b"\n')
    with pytest.raises(ScenarioError, match="cycle") as err:
        load_scenario(a)
    assert "a.toml" in str(err.value) and "b.toml" in str(err.value)
    write(a, 'extends = "a.toml"\nname = "a"\n')
    with pytest.raises(ScenarioError, match="a.toml.*cycle"):
        load_scenario(a)


def test_errors_name_the_file_they_are_in(project):
    (project / "baseline.toml").write_text(BASELINE.replace("slope = 0.01", "slop = 0.01"))
    child = write(project / "variants" / "c.toml", 'extends = "../baseline.toml"\nname = "c"\n')
    with pytest.raises(ScenarioError) as err:
        load_scenario(child)
    msg = str(err.value)
    assert msg.startswith(str(project / "baseline.toml")) and "boundaries[0].slop: unknown key" in msg
    (project / "baseline.toml").write_text(BASELINE)
    # an error in the child names the child
    write(child, 'extends = "../baseline.toml"\nname = "c"\n[rainfall]\nkind = "chicago"\nduration_min = 60\n')
    with pytest.raises(ScenarioError, match=r"c.toml: rainfall: a chicago storm needs idf, return_period_yr"):
        load_scenario(child)
    # a missing base, and a missing name
    write(child, 'extends = "../nothere.toml"\nname = "c"\n')
    with pytest.raises(ScenarioError, match=r"c.toml: extends = '../nothere.toml': base scenario .*not found"):
        load_scenario(child)
    write(child, 'extends = "../baseline.toml"\n')
    with pytest.raises(ScenarioError, match=r"c.toml: name: required but missing .* must give its own name"):
        load_scenario(child)


def test_chicago_fields_are_checked(project):
    child = project / "variants" / "c.toml"
    write(child, 'extends = "../baseline.toml"\nname = "c"\n[rainfall]\nreturn_period_yr = 10\n')
    with pytest.raises(ScenarioError, match="return_period_yr only apply to kind = 'chicago'"):
        load_scenario(child)
    write(child, f'extends = "../baseline.toml"\nname = "c"\n[rainfall]\nkind = "chicago"\nidf = "{IDF.as_posix()}"'
                 '\nreturn_period_yr = 10\nduration_min = 60\npeak_position = 1.2\n')
    with pytest.raises(ScenarioError, match="rainfall.peak_position: Input should be less than or equal to 1"):
        load_scenario(child)


def test_chicago_storm_runs_on_merewether(tmp_path):
    """A 10-year, 30-minute Chicago storm (5-min blocks, climate factor 1.2) on the bundled city,
    coarsened ×8: the rain volume is 1.2 × D(30 min, 10 yr) × the DEM area, and the balance closes."""
    path = write(tmp_path / "chicago.toml", f"""
name = "Merewether CDS 10 yr"
[domain]
dem = "{(GIS / 'dem.tif').as_posix()}"
[rainfall]
kind = "chicago"
idf = "{IDF.as_posix()}"
return_period_yr = 10
duration_min = 30
step_min = 5
peak_position = 0.4
climate_factor = 1.2
[[boundaries]]
side = "north"
kind = "free"
slope = 0.02
[simulation]
duration_min = 40
output_interval_min = 10
coarsen = 8
""")
    sc = load_scenario(path)
    out = run_scenario(sc, out_dir=tmp_path / "out", write=False)
    s = out.summary.to_dict()
    vb = s["volume_balance_m3"]
    ds = out.dataset
    area = int(np.isfinite(ds["elevation"]).sum()) * s["cell_size_m"][0] * s["cell_size_m"][1]
    depth_m = units.mm_to_m(IDFCurve.from_file(IDF).depth_mm(30.0, 10))
    assert vb["rain"] == pytest.approx(1.2 * depth_m * area, rel=1e-10)
    assert abs(vb["relative_error"]) < 1e-10
    assert s["max_depth_m"] > 0.0
