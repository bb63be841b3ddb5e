"""The bundled measure scenarios run end to end against their baseline and show what they changed.

Each scenario is coarsened by 8 (8 m cells) and run for 40 minutes, twice (with and without its
measures, by ``run_scenario``). Asserted per measure: the volume balance closes with the measure's
store in it, the measure's limits hold (a tank holds at most its volume; a tunnel at most its segments'
volume and its outfall at most its capacity), and the effect has the sign physics gives it (a pond or a
tunnel holds water that no longer leaves over the edge; green areas infiltrate more; a cloudburst road
deepens the flow along itself). The Vejle compound case is compared with the plain cloudburst.
"""

from __future__ import annotations

import json

import pytest

from floodsim.run.runner import run_scenario

from .conftest import SCENARIOS, coarsened

DURATION_MIN = 40.0


def _run(name, tmp_path_factory, duration_min=DURATION_MIN):
    sc = coarsened(SCENARIOS / f"merewether_{name}.toml", 8, duration_min=duration_min, output_interval_min=5.0)
    return run_scenario(sc, out_dir=tmp_path_factory.mktemp(name))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    cache = {}

    def get(name, **kw):
        if name not in cache:
            cache[name] = _run(name, tmp_path_factory, **kw)
        return cache[name]

    return get


def _effects(out):
    e = out.summary.against_baseline
    assert abs(out.summary.volume_balance_m3["relative_error"]) < 1e-10
    assert abs(out.baseline.summary.volume_balance_m3["relative_error"]) < 1e-10
    # the baseline is the same scenario without measures, on the same grid and storm
    assert out.baseline.summary.cells == out.summary.cells
    assert out.baseline.summary.volume_balance_m3["rain"] == pytest.approx(out.summary.volume_balance_m3["rain"],
                                                                              rel=1e-12)
    return e, {m["name"]: m for m in e["measures"]}


def test_tank_holds_at_most_its_volume_and_empties_by_its_pump(runs):
    out = runs("tank", duration_min=50.0)     # the pump starts at minute 45
    e, m = _effects(out)
    tank = m["Main road tank"]
    assert 0.0 < tank["peak_stored_m3"] <= 800.0
    pumped = out.summary.volume_balance_m3["measure_outflow"]
    assert 0.0 < pumped <= 0.05 * (50.0 - 45.0) * 60.0 + 1e-9
    assert e["boundary_out_m3"]["change"] < 0.0          # what the tank holds does not leave over the edge


def test_tunnel_respects_capacities_and_reduces_outflow(runs):
    out = runs("tunnel")
    e, m = _effects(out)
    tunnel = m["Storm tunnel"]
    assert 0.0 < tunnel["peak_stored_m3"] <= 5 * 600.0 + 1e-9
    outfall = out.summary.volume_balance_m3["measure_outflow"]
    assert 0.0 < outfall <= 0.4 * DURATION_MIN * 60.0 + 1e-9
    assert e["boundary_out_m3"]["change"] < 0.0
    assert e["peak_volume_in_measures_m3"]["with_measures"] > 0.0


def test_pond_stores_water_and_its_outlets_drain_it(runs):
    out = runs("pond")
    e, m = _effects(out)
    pond = m["Park buffer pond"]
    assert pond["storage_created_m3"] > 0.0 and pond["peak_surface_volume_m3"] > 0.0
    assert pond["peak_surface_volume_m3"] <= pond["storage_created_m3"] + 1e-6 or pond["storage_below_rim_m3"] > 0
    assert m["Pond outlet pipe"]["moved_m3"] > 0.0
    assert e["boundary_out_m3"]["change"] < 0.0
    summary = json.loads((out.files["summary"]).read_text())
    assert "against_baseline" in summary and (out.files["summary"].parent / "baseline" / "summary.json").exists()


def test_green_areas_infiltrate_more(runs):
    e, m = _effects(runs("green"))
    assert e["infiltration_m3"]["change"] > 0.0
    assert m["Rain beds on the main road"]["storage_created_m3"] > 0.0


def test_cloudburst_road_leads_water_along_itself(runs):
    e, m = _effects(runs("cloudburst_road"))
    assert m["Skybrudsvej G1-G5"]["storage_created_m3"] > 0.0
    # G5 lies on the road downstream: the lowered road gathers the street's water there
    assert e["gauges"]["G5 downstream"]["max_depth_m"]["change"] > 0.0


def test_compound_surge_backs_water_up_against_the_rain_only_case(runs):
    surge = runs("compound_surge")
    base = runs("cloudburst")
    vs, vb = surge.summary.volume_balance_m3, base.summary.volume_balance_m3
    assert abs(vs["relative_error"]) < 1e-10
    assert vs["boundary_in"] > 0.0 and vb["boundary_in"] == 0.0   # the sea comes in over the edge
    assert vs["boundary_out"] < vb["boundary_out"]                # and the rain cannot leave as freely
    assert surge.summary.max_extent_area_m2 > base.summary.max_extent_area_m2
    assert surge.summary.against_baseline is None                # no measures, nothing to compare
