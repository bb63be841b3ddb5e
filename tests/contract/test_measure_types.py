"""Contract of every registered measure type (as Landlab tests every component).

For each entry of :data:`floodsim.measures.registry.REGISTRY`: its schema validates an example, the
registry builds it on the real Merewether grid (coarsened), a short run with rain closes its volume
balance to round-off, and the run's state survives a get_state / set_state round trip into a freshly
built model bit for bit. A type added to the registry without an example here fails this test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from floodsim.build.model import build_model
from floodsim.core.infiltration import RAWLS_1983
from floodsim.measures.registry import REGISTRY
from floodsim.scenario.load import load_scenario
from floodsim.scenario.measures import MEASURE_SCHEMAS, SOIL_TEXTURES, measure_type_of

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "gis_data" / "merewether"
TERRAIN = {"path": str(DATA / "measures_terrain.gpkg")}
STORAGE = {"path": str(DATA / "measures_storage.gpkg")}

#: One example per measure type, on the bundled Merewether layers.
EXAMPLES = {
    "cloudburst_road": dict(layer={**TERRAIN, "layer": "cloudburst_road"}, manning=0.015),
    "channel": dict(layer={**TERRAIN, "layer": "cloudburst_road"}, width_m=2.0, depth_m=0.4),
    "rain_bed": dict(layer={**TERRAIN, "layer": "rain_beds"}, ks_mm_h=150.0, soil="loamy sand"),
    "green_area": dict(layer={**TERRAIN, "layer": "green_areas"}, soil="sandy loam", depression_storage_mm=5.0),
    "hard_surface_limit": dict(layer={**TERRAIN, "layer": "hard_surface_limit"}, soil="sandy loam", share=0.5),
    "pond": dict(layer={**TERRAIN, "layer": "pond"}),
    "tank": dict(inlets={**STORAGE, "layer": "tank_inlets"}, inflow_capacity_m3_s=0.6, volume_m3=50.0,
                 pump_rate_m3_s=0.05, pump_start_min=2.0),
    "tunnel": dict(intakes={**STORAGE, "layer": "tunnel_intakes"}, segment_volumes_m3=[20.0] * 5,
                   conveyance_m3_s=0.2, outfall_capacity_m3_s=0.1, outfall_invert_m=16.0, outfall_level_m=15.0,
                   target="surface", target_layer={**STORAGE, "layer": "tunnel_outfall"}),
    "pond_outlet": dict(outlet={**STORAGE, "layer": "pond_outlet"}, weir_cw=1.7, weir_length_m=2.0,
                        weir_crest_m=0.0),
    "controlled_structure": dict(kind="pump", source={**STORAGE, "layer": "pond_outlet"},
                                 time_rules=[dict(start_min=1.0, end_min=4.0, rate_m3_s=0.02)]),
}


def test_every_schema_has_one_registry_entry_and_an_example():
    schema_types = [measure_type_of(s) for s in MEASURE_SCHEMAS]
    assert sorted(schema_types) == sorted(REGISTRY)
    assert all(REGISTRY[t].schema is s for t, s in zip(schema_types, MEASURE_SCHEMAS))
    assert set(EXAMPLES) == set(REGISTRY)
    assert set(SOIL_TEXTURES) == set(RAWLS_1983)     # the schema's textures are the physics' table


def _scenario(kind: str):
    base = load_scenario(ROOT / "scenarios" / "merewether_cloudburst.toml")
    spec = REGISTRY[kind].schema.model_validate({"type": kind, "name": f"{kind} example", **EXAMPLES[kind]})
    sim = base.simulation.model_copy(update={"coarsen": 4, "duration_min": 6.0, "output_interval_min": 3.0})
    return base.model_copy(update={"measures": (spec,), "simulation": sim})


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_measure_builds_runs_balanced_and_round_trips_its_state(kind):
    entry = REGISTRY[kind]
    sc = _scenario(kind)
    model = build_model(sc)
    sim = model.simulation
    assert [m["type"] for m in model.measures] == [kind]
    assert len(model.measures[0]["gdf"]) >= 1                  # its features, for maps and flood.gpkg
    assert (len(sim.operators) == 1) == (entry.phase == "operator")
    sim.advance_to(180.0)
    state = sim.get_state()
    sim.advance_to(360.0)
    total = sim.total_volume()
    rel = sim.balance.relative_error(total)
    assert abs(rel) < 1e-12, f"{kind}: balance {rel:.2e}"
    assert sim.balance.rain > 0
    fresh = build_model(sc).simulation
    fresh.set_state(state)
    fresh.advance_to(360.0)
    np.testing.assert_array_equal(fresh.state.h, sim.state.h)
    assert fresh.measures_volume() == sim.measures_volume()
    for a, b in zip(fresh.operators, sim.operators):
        assert a.stored_volume == b.stored_volume
