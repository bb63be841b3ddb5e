"""The ``[sewer]`` table of a scenario: one network form, complete outfall targets, bounded settings."""

from __future__ import annotations

import pytest

from floodsim.errors import ScenarioError
from floodsim.scenario.load import load_scenario

BASE = ('name = "t"\n[domain]\ndem = "dem.tif"\n[simulation]\nduration_min = 5\n[sewer]\n')


@pytest.mark.parametrize("table, message", [
    ('inp = "a.inp"\nlayers = { path = "a.gpkg" }\n', "exactly one of inp"),
    ("coupling_step_s = 1\n", "exactly one of inp"),
    ('inp = "a.inp"\ncoupling_step_s = 0\n', "coupling_step_s"),
    ('inp = "a.inp"\ninlet_area_m2 = -1\n', "inlet_area_m2"),
    ('inp = "a.inp"\noutfalls = [{ node = "O1", to = "cell" }]\n', "needs x and y"),
    ('inp = "a.inp"\noutfalls = [{ node = "O1", to = "level" }]\n', "needs level_m or level_series"),
    ('inp = "a.inp"\noutfalls = [{ node = "O1", level_m = 3.0 }]\n', "only apply to to = 'level'"),
    ('inp = "a.inp"\noutfalls = [{ node = "O1" }, { node = "O1" }]\n', "listed twice"),
    ('layers = { path = "a.gpkg" }\ninlets = "all"\n', "inlets applies to an .inp"),
    ('inp = "a.inp"\npipes = 3\n', "pipes"),
])
def test_bad_sewer_tables_are_refused_with_the_field(tmp_path, table, message):
    path = tmp_path / "s.toml"
    path.write_text(BASE + table)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert message in str(err.value) and "sewer" in str(err.value)


def test_a_good_sewer_table_resolves_paths_against_the_scenario(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(BASE + 'inp = "net/a.inp"\ninlets = ["J1", "J2"]\noutfalls = [{ node = "O1", to = "level", '
                    'level_series = [{ time_min = 0, level_m = 1.0 }, { time_min = 30, level_m = 2.0 }] }]\n')
    sc = load_scenario(path)
    assert sc.sewer.inp == tmp_path / "net" / "a.inp"
    assert sc.sewer.inlets == ("J1", "J2") and sc.sewer.outfalls[0].level_series[1].level_m == 2.0
