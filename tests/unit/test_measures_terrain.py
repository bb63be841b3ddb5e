"""Terrain measures (floodsim.measures.terrain) against hand-computed references.

References: each test states its own; they are exact cell counts and volumes worked out by hand on
small synthetic grids (cell centres inside a polygon/strip, Σ lowering × cell area), and the
Merewether example layers (gis_data/merewether/measures_terrain.gpkg, PROVENANCE.md).
"""

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError
from shapely.geometry import LineString, Point, box

import floodsim
from floodsim.errors import InputDataError
from floodsim.core.infiltration import GreenAmpt
from floodsim.measures.terrain import (Channel, CloudburstRoad, GreenArea, HardSurfaceLimit, Pond, RainBed,
                                       SurfaceFields, apply_terrain_measures, serpentine_pick)
from floodsim.build.context import BuildContext
from floodsim.build.measures import build_terrain
from floodsim.scenario.measures import MeasureSpec as TerrainMeasureSpec
from floodsim.measures.registry import REGISTRY

TERRAIN_MEASURES = tuple(m.schema for m in REGISTRY.values() if m.phase == "terrain")


def build_terrain_measures(specs, fields, grid):
    """The terrain measures of ``specs`` applied to ``fields`` (through the registry)."""
    fields, entries = build_terrain(specs, BuildContext(grid), fields)
    return fields, [entries[s.name]["report"] for s in specs]

DATA = Path(__file__).resolve().parents[2] / "gis_data" / "merewether"


def _grid(z):
    # 1 m cells, north-west corner at (0, ny): cell (i, j) has centre (j + 0.5, ny - i - 0.5)
    return floodsim.Grid.from_array(z, 1.0, x0=0.0, y0=float(z.shape[0]))


def _fields(grid, ks=1e-6, blocked=None):
    return SurfaceFields.from_inputs(grid, manning=0.04, infiltration=GreenAmpt(ks=ks, psi=0.1, dtheta=0.3),
                                     blocked=blocked)


def test_cloudburst_road_lowers_exactly_the_buffered_cells():
    """Reference: a horizontal line y = 10.3 from x = 2 to 25, width 4 m: the strip holds the cells whose
    centre (x_c, y_c) has |y_c − 10.3| < 2 and 2 < x_c < 25 (flat caps), i.e. rows with y_c in
    {8.5, 9.5, 10.5, 11.5, 12.5} minus 12.5 (|12.5 − 10.3| = 2.2) and 8.5 (1.8 < 2 -> in): 4 rows
    y_c = 8.5..11.5 and columns x_c = 2.5..24.5 (23 columns) = 92 cells, each lowered by 0.3 m."""
    rng = np.random.default_rng(1)
    z = 10.0 + rng.uniform(0, 1, (20, 30))
    grid = _grid(z)
    f0 = _fields(grid)
    road = CloudburstRoad("road", [LineString([(2, 10.3), (25, 10.3)])], width=4.0, depth=0.3, manning=0.015)
    f1, (rep,) = apply_terrain_measures([road], f0, grid)
    xc, yc = np.meshgrid(grid.x, grid.y)
    expect = (np.abs(yc - 10.3) < 2.0) & (xc > 2) & (xc < 25)
    assert expect.sum() == 92
    np.testing.assert_array_equal(f1.z != f0.z, expect)
    np.testing.assert_allclose(f0.z[expect] - f1.z[expect], 0.3, rtol=0, atol=1e-12)
    assert np.all(f1.manning[expect] == 0.015) and np.all(f1.manning[~expect] == 0.04)
    assert rep["cells"] == 92 and rep["area_m2"] == pytest.approx(92.0)
    assert rep["storage_created_m3"] == pytest.approx(92 * 0.3, rel=1e-12)
    assert rep["type"] == "cloudburst_road" and rep["per_feature"][0]["length_m"] == pytest.approx(23.0)


def test_narrow_channel_stays_four_connected():
    """Reference: a 0.5 m wide diagonal channel covers no cell centre continuously, but the centre line's
    touched cells are taken too, so the lowered cells form one 4-connected set."""
    from scipy import ndimage

    grid = _grid(np.full((20, 20), 5.0))
    ch = Channel("swale", [LineString([(1.2, 1.3), (18.7, 17.9)])], width=0.5, depth=0.2)
    f1, (rep,) = apply_terrain_measures([ch], _fields(grid), grid)
    lowered = f1.z < 5.0
    assert ndimage.label(lowered)[1] == 1 and rep["type"] == "channel"


def test_overlapping_road_features_lowered_once():
    """Reference: two crossing lines of one measure: the crossing cells are lowered by the deeper depth,
    not twice (max over features)."""
    grid = _grid(np.full((20, 20), 5.0))
    road = CloudburstRoad("x", [LineString([(0.5, 10), (19.5, 10)]), LineString([(10, 0.5), (10, 19.5)])],
                          width=[3.0, 3.0], depth=[0.2, 0.4])
    f1, (rep,) = apply_terrain_measures([road], _fields(grid), grid)
    assert set(np.round(5.0 - f1.z[f1.z < 5.0], 12)) == {0.2, 0.4}
    assert rep["max_lowering_m"] == pytest.approx(0.4)


def test_pond_storage_equals_hand_computation():
    """Reference: ground 10 m with a 4×4 pond (cells rows 3-6, cols 3-6; polygon x 3..7, y 13..17 on a
    20-row grid), one pond cell already at 8.5 m; one ring cell at 9.8 m sets the rim (lowest ground on
    the boundary ring). Bottom 9.0 m:
    created below ground = 15 × 1.0 m³ (the 8.5 m cell is not raised);
    below rim = 15 × (9.8 − 9.0) + 1 × (9.8 − 8.5) = 12.0 + 1.3 = 13.3 m³."""
    z = np.full((20, 20), 10.0)
    z[4, 4] = 8.5
    z[2, 5] = 9.8       # ring cell north of the pond
    z[10, 10] = 7.0     # far away, not on the ring
    grid = _grid(z)
    pond = Pond("p", [box(3, 13, 7, 17)], feature_names=["basin A"], bottom_level=9.0)
    f1, (rep,) = apply_terrain_measures([pond], _fields(grid), grid)
    assert rep["cells"] == 16
    assert rep["storage_created_m3"] == pytest.approx(15.0, rel=1e-12)
    pf = rep["per_feature"][0]
    assert pf["rim_level_m"] == 9.8
    assert pf["storage_below_rim_m3"] == pytest.approx(13.3, rel=1e-12)
    assert rep["storage_below_rim_m3"] == pytest.approx(13.3, rel=1e-12)
    assert pf["storage_below_rim_before_m3"] == pytest.approx(1.3, rel=1e-12)
    assert f1.z[4, 4] == 8.5 and f1.z[3, 3] == 9.0


def test_pond_bottom_above_ground_is_an_error_naming_the_feature():
    grid = _grid(np.full((10, 10), 10.0))
    pond = Pond("p", [box(2, 2, 6, 6)], feature_names=["basin B"], bottom_level=10.5)
    with pytest.raises(InputDataError, match="basin B.*not below the existing ground"):
        apply_terrain_measures([pond], _fields(grid), grid)
    with pytest.raises(InputDataError, match="finite"):
        apply_terrain_measures([Pond("p", [box(2, 2, 6, 6)], bottom_level=np.nan)], _fields(grid), grid)


def test_hard_surface_limit_converts_the_right_share():
    """Reference: 10×8 = 80 sealed cells inside the polygon (ks = 0) and 20 pervious ones; share 0.25
    converts round(0.25 × 80) = 20 sealed cells, share 1 converts all 80; the pervious cells are not
    counted. The pick is spread: every row of the sealed block gets 2 cells (8 rows × 2 = 16 ... see
    below) and the same on every call."""
    grid = _grid(np.full((20, 20), 1.0))
    f0 = _fields(grid, ks=2e-6)
    ks = f0.ks.copy()
    ks[2:12, 2:10] = 0.0          # sealed block: 10 rows × 8 cols = 80 cells
    f0.ks = ks
    poly = box(2, 6, 12, 18)      # cols 2-11, rows 2-13 -> 120 cells, 80 sealed
    limit = HardSurfaceLimit("desealing", [poly], soil="sandy loam", share=0.25)
    f1, (rep,) = apply_terrain_measures([limit], f0, grid)
    conv = (f0.ks == 0) & (f1.ks > 0)
    assert rep["sealed_cells"] == 80 and rep["cells_converted"] == 20 == conv.sum()
    assert rep["area_converted_m2"] == pytest.approx(20.0) and rep["share_converted"] == 0.25
    assert rep["area_made_pervious_m2"] == pytest.approx(20.0)
    assert np.all(conv.sum(axis=1)[2:12] == 2)              # two per row of the sealed block: spread
    assert f1.ks[conv][0] == pytest.approx(GreenAmpt.from_texture("sandy loam").ks)
    again, _ = apply_terrain_measures([limit], f0, grid)
    np.testing.assert_array_equal(again.ks, f1.ks)
    full, (rep1,) = apply_terrain_measures([HardSurfaceLimit("all", [poly], soil="loam", share=1.0)], f0, grid)
    assert rep1["cells_converted"] == 80 and not np.any(full.ks[2:12, 2:10] == 0)


@pytest.mark.parametrize("n, share", [(1, 0.5), (7, 0.3), (80, 0.25), (101, 0.999), (50, 0.0)])
def test_serpentine_pick_count(n, share):
    """Reference: exactly floor(n·share + 1/2) cells (Bresenham error diffusion)."""
    m = np.zeros(200, bool)
    m[:n] = True
    assert serpentine_pick(m.reshape(10, 20), share).sum() == int(np.floor(n * share + 0.5))


def test_rain_bed_and_green_area_fields():
    """Reference: a rain bed 0.25 m deep with Ks 100 mm/h (2.7778e-5 m/s) and loamy-sand psi/dtheta
    (Rawls et al. 1983: 6.13 cm, 0.401 × (1 − 0.3)); a green area with 5 mm depression storage."""
    grid = _grid(np.full((20, 20), 3.0))
    bed = RainBed("bed", [box(2, 2, 6, 5)], storage_depth=0.25, ks=100.0 / 3.6e6, soil="loamy sand")
    green = GreenArea("green", [box(10, 10, 15, 14)], soil="loam", manning=0.1, depression_storage=0.005)
    f1, (rb, ga) = apply_terrain_measures([bed, green], _fields(grid, ks=0.0), grid)
    cells = rb["cells"]
    assert cells == 12 and rb["storage_created_m3"] == pytest.approx(12 * 0.25)
    assert rb["infiltration_capacity_change_m3_s"] == pytest.approx(12 * 100.0 / 3.6e6)
    inbed = f1.z < 2.9
    assert np.allclose(f1.psi[inbed], 0.0613) and np.allclose(f1.dtheta[inbed], 0.401 * 0.7)
    assert ga["cells"] == 20 and ga["storage_created_m3"] == pytest.approx(20 * 0.005)
    assert ga["area_made_pervious_m2"] == pytest.approx(20.0) and ga["manning_changed_cells"] == 20


def test_inputs_never_mutated_and_buildings_skipped():
    """Reference: identity. Every input array is unchanged after all measure types; building cells keep
    their elevation (a building stays a building) and are counted as skipped."""
    rng = np.random.default_rng(3)
    z = 10.0 + rng.uniform(0, 1, (30, 30))
    z[0, :3] = np.nan
    blocked = np.zeros((30, 30), bool)
    blocked[12:15, 5:8] = True
    grid = _grid(z)
    f0 = _fields(grid, blocked=blocked)
    f0.ks[20:25, 20:25] = 0.0
    before = {k: np.array(getattr(f0, k), copy=True) for k in ("z", "manning", "ks", "psi", "dtheta", "blocked")}
    measures = [CloudburstRoad("r", [LineString([(1, 16), (29, 16)])], width=4.0, depth=0.3),
                RainBed("b", [box(1, 1, 4, 4)], storage_depth=0.2, ks=3e-5),
                GreenArea("g", [box(10, 1, 14, 5)], soil="sand", depression_storage=0.004),
                HardSurfaceLimit("h", [box(20, 5, 25, 10)], soil="loam", share=0.5),
                Pond("p", [box(24, 20, 29, 26)], bottom_level=9.0)]
    f1, reports = apply_terrain_measures(measures, f0, grid)
    for k, a in before.items():
        np.testing.assert_array_equal(getattr(f0, k), a, err_msg=k)
        assert getattr(f1, k) is not getattr(f0, k)
    np.testing.assert_array_equal(f1.z[blocked], z[blocked])
    assert reports[0]["cells_skipped_blocked_or_nodata"] == 9
    assert np.isnan(f1.z[0, 0])
    assert [r["type"] for r in reports] == ["cloudburst_road", "rain_bed", "green_area", "hard_surface_limit", "pond"]


def test_geometry_type_mismatch_and_bad_values():
    grid = _grid(np.full((10, 10), 1.0))
    f = _fields(grid)
    with pytest.raises(InputDataError, match="cloudburst_road 'r'.*Polygon.*lines"):
        apply_terrain_measures([CloudburstRoad("r", [box(1, 1, 3, 3)], width=2, depth=0.2)], f, grid)
    with pytest.raises(InputDataError, match="pond 'p'.*LineString.*polygons"):
        apply_terrain_measures([Pond("p", [LineString([(1, 1), (5, 5)])], bottom_level=0.0)], f, grid)
    with pytest.raises(InputDataError, match="lane 2.*depth"):
        apply_terrain_measures([CloudburstRoad("r", [LineString([(1, 1), (5, 5)])] * 2, width=2,
                                               depth=[0.2, -0.1], feature_names=["lane 1", "lane 2"])], f, grid)
    with pytest.raises(InputDataError, match="covers no cell"):
        apply_terrain_measures([GreenArea("g", [box(50, 50, 60, 60)], soil="loam")], f, grid)
    with pytest.raises(InputDataError, match="unknown soil texture"):
        apply_terrain_measures([GreenArea("g", [box(1, 1, 4, 4)], soil="peat")], f, grid)


def test_scenario_specs_schema():
    """Discriminated union on `type`, unknown keys rejected, units in names, ranges checked."""
    ta = TypeAdapter(TerrainMeasureSpec)
    spec = ta.validate_python({"type": "rain_bed", "name": "b", "layer": {"path": "x.gpkg", "layer": "beds"},
                               "storage_depth_m": 0.2, "ks_mm_h": 150})
    assert type(spec).__name__ == "RainBedSpec" and spec.ks_mm_h == 150
    assert len(TERRAIN_MEASURES) == 6
    for bad in ({"type": "pond", "name": "p", "layer": {"path": "x"}, "bottom_m": 1.0},
                {"type": "channel", "name": "c", "layer": {"path": "x"}, "depth_m": 0.0},
                {"type": "green_area", "name": "g", "layer": {"path": "x"}, "soil": "peat"},
                {"type": "hard_surface_limit", "name": "h", "layer": {"path": "x"}, "soil": "loam", "share": 1.5},
                {"type": "pond", "name": "p", "layer": {"path": "x"}, "bottom_level_m": float("inf")},
                {"type": "sewer", "name": "s", "layer": {"path": "x"}}):
        with pytest.raises(ValidationError):
            ta.validate_python(bad)


def test_merewether_example_layers():
    """Reference: gis_data/merewether/PROVENANCE.md (measures_terrain.gpkg): every layer reads, no
    building cell is changed, the pond is dug 1.2 m (and a bit) below its lowest ground."""
    grid = floodsim.read_dem(DATA / "dem.tif")
    b = gpd.read_file(DATA / "merewether.gpkg", layer="buildings")
    from floodsim.io.vector import rasterize_geometries

    blocked = rasterize_geometries(b.geometry, grid)
    roads = rasterize_geometries(gpd.read_file(DATA / "merewether.gpkg", layer="roads").geometry, grid)
    f0 = SurfaceFields.from_inputs(grid, 0.04, GreenAmpt.from_texture("sandy loam"), impervious=roads,
                                   blocked=blocked)
    ta = TypeAdapter(TerrainMeasureSpec)
    gpkg = str(DATA / "measures_terrain.gpkg")
    specs = [ta.validate_python(d) for d in (
        {"type": "cloudburst_road", "name": "road", "layer": {"path": gpkg, "layer": "cloudburst_road"}},
        {"type": "rain_bed", "name": "beds", "layer": {"path": gpkg, "layer": "rain_beds"}, "soil": "loamy sand"},
        {"type": "green_area", "name": "green", "layer": {"path": gpkg, "layer": "green_areas"}, "soil": "loam",
         "depression_storage_mm": 5.0},
        {"type": "hard_surface_limit", "name": "hs", "layer": {"path": gpkg, "layer": "hard_surface_limit"},
         "soil": "sandy loam", "share": 0.5},
        {"type": "pond", "name": "pond", "layer": {"path": gpkg, "layer": "pond"}})]
    f1, reports = build_terrain_measures(specs, f0, grid)
    for r in reports:
        print(r["type"], r["cells"], round(r["area_m2"], 1), round(r["storage_created_m3"], 1),
              r["cells_skipped_blocked_or_nodata"])
        assert r["cells"] > 0 and r["cells_skipped_blocked_or_nodata"] == 0
    np.testing.assert_array_equal(f1.z[blocked], f0.z[blocked])
    road, beds, green, hs, pond = reports
    assert 2500 < road["area_m2"] < 3800 and road["storage_created_m3"] == pytest.approx(0.3 * road["area_m2"])
    assert beds["features"] == 4 and all(20 <= p["area_m2"] <= 60 for p in beds["per_feature"])
    assert 400 <= pond["area_m2"] <= 1500
    assert hs["share_converted"] == pytest.approx(0.5, abs=0.01) and hs["area_converted_m2"] > 300
    assert pond["per_feature"][0]["ground_min_m"] - pond["per_feature"][0]["bottom_level_m"] >= 1.2


def test_layer_outside_dem_and_wrong_geometry(tmp_path):
    grid = floodsim.Grid.from_array(np.zeros((10, 10)), 1.0, x0=1000.0, y0=2010.0, crs="EPSG:28356")
    f0 = SurfaceFields.from_inputs(grid)
    path = tmp_path / "m.gpkg"
    gpd.GeoDataFrame({"name": ["far pond"], "bottom_level_m": [-1.0]}, geometry=[box(0, 0, 5, 5)],
                     crs="EPSG:28356").to_file(path, layer="pond")
    gpd.GeoDataFrame({"name": ["a point"]}, geometry=[Point(1005, 2005)], crs="EPSG:28356").to_file(path, layer="pts")
    ta = TypeAdapter(TerrainMeasureSpec)
    spec = ta.validate_python({"type": "pond", "name": "p", "layer": {"path": str(path), "layer": "pond"}})
    with pytest.raises(InputDataError, match="far pond.*outside the DEM"):
        build_terrain_measures([spec], f0, grid)
    spec = ta.validate_python({"type": "green_area", "name": "g", "layer": {"path": str(path), "layer": "pts"},
                               "soil": "loam"})
    with pytest.raises(InputDataError, match="a point.*Point.*polygons"):
        build_terrain_measures([spec], f0, grid)
    spec = ta.validate_python({"type": "rain_bed", "name": "b", "layer": {"path": str(path), "layer": "pts"}})
    with pytest.raises(InputDataError, match="storage_depth_m"):
        build_terrain_measures([spec], f0, grid)
