"""Measures in scenario files: names are unique, terrain measures need Green–Ampt or no infiltration,
and the error says which measure and what to change."""

from __future__ import annotations

import pytest

from floodsim.errors import ScenarioError
from floodsim.build.model import build_model
from floodsim.scenario.load import load_scenario

from .conftest import SCENARIOS

POND = """
[[measures]]
type = "pond"
name = "{name}"
layer = {{ path = "{root}/gis_data/merewether/measures_terrain.gpkg", layer = "pond" }}
"""


def _write(tmp_path, text):
    p = tmp_path / "s.toml"
    p.write_text(f'extends = "{SCENARIOS / "merewether_cloudburst.toml"}"\nname = "t"\n' + text)
    return p


def test_two_measures_with_one_name_are_refused(tmp_path):
    root = SCENARIOS.parent
    p = _write(tmp_path, POND.format(name="A", root=root) + POND.format(name="A", root=root))
    with pytest.raises(ScenarioError, match=r"measures\[1\].*'A'.*unique"):
        load_scenario(p)


def test_terrain_measures_with_horton_name_the_fix(tmp_path):
    root = SCENARIOS.parent
    p = _write(tmp_path, POND.format(name="Pond", root=root)
               + '\n[infiltration]\nmodel = "horton"\nf0_mm_h = 50.0\nfc_mm_h = 5.0\nk_per_h = 2.0\n')
    with pytest.raises(ScenarioError, match="green-ampt"):
        build_model(load_scenario(p))


def test_features_pick_named_polygons(tmp_path):
    root = SCENARIOS.parent
    text = f"""
[[measures]]
type = "green_area"
name = "Meadow"
layer = {{ path = "{root}/gis_data/merewether/measures_terrain.gpkg", layer = "green_areas" }}
features = ["Upstream meadow"]
soil = "sandy loam"
"""
    sc = load_scenario(_write(tmp_path, text))
    sc = sc.model_copy(update={"simulation": sc.simulation.model_copy(update={"coarsen": 4})})
    model = build_model(sc)
    (m,) = model.measures
    assert list(m["gdf"]["name"]) == ["Upstream meadow"] and m["report"]["features"] == 1
    bad = load_scenario(_write(tmp_path, text.replace('["Upstream meadow"]', '["Nowhere park"]')))
    with pytest.raises(ScenarioError, match="Nowhere park"):
        build_model(bad)
