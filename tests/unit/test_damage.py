"""Depth–damage curves, damage per building and expected annual damage against hand-computed values.

References: the JRC global flood depth-damage functions (Huizinga, de Moel & Szewczyk 2017) as shipped in
floodsim/data/damage/ (see its PROVENANCE.md); EAD by the trapezoidal rule over p = 1/T.
"""

import csv

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from floodsim.analysis.damage import (DEFAULT_COSTS, DEFAULT_CURVES, DamageCurve, DamageModel, expected_annual_damage,
                             load_curves, max_damage_per_m2, measure_benefit)
from floodsim.errors import InputDataError


def _csv_rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_curves_reproduce_the_shipped_table_at_every_node():
    curves = load_curves()
    rows = _csv_rows(DEFAULT_CURVES)
    assert {r["use"] for r in rows} == set(curves) == {"residential", "commercial"}
    for r in rows:
        want = float(r["damage_factor"])
        assert curves[r["use"]].factor(float(r["depth_m"])) == pytest.approx(want, abs=1e-15)


def test_factor_is_linear_between_nodes_zero_when_dry_and_saturates_beyond_the_table():
    res = load_curves()["residential"]
    # JRC Europe residential: 0.25 at 0.5 m, 0.40 at 1.0 m -> 0.325 at 0.75 m; 0.85 at 4 m, 0.95 at 5 m
    assert res.factor(0.75) == pytest.approx(0.325)
    assert res.factor(4.5) == pytest.approx(0.90)
    assert res.factor(0.1) == pytest.approx(0.05)            # 0 -> 0.25 over the first 0.5 m
    np.testing.assert_array_equal(res.factor([-0.3, 0.0, np.nan]), [0.0, 0.0, 0.0])
    assert res.factor(9.0) == pytest.approx(1.0)


def test_max_damage_follows_the_report_rule_from_construction_cost():
    eu = max_damage_per_m2("EU")
    # EU average construction cost 1333.40006 (residential), 1394.454954 (commercial) EUR2010/m²;
    # structure = cost * 0.6 (depreciated) * (1 - 0.4 undamageable); content 0.5 / 1.0 of structure
    assert eu["residential"] == pytest.approx(1333.40006 * 0.6 * 0.6 * 1.5)
    assert eu["commercial"] == pytest.approx(1394.454954 * 0.6 * 0.6 * 2.0)
    assert max_damage_per_m2("deu")["residential"] == pytest.approx(1450.075218 * 0.36 * 1.5)
    assert max_damage_per_m2("Germany") == max_damage_per_m2("DEU")
    with pytest.raises(InputDataError, match="no construction cost for country 'ATLANTIS'"):
        max_damage_per_m2("ATLANTIS")


def test_shipped_construction_costs_match_the_reports_gdp_regression():
    """cost = a · GDP^b with the report's (a, b) per use: guards the transcription of every row."""
    ab = {"residential": (24.078, 0.3852), "commercial": (33.642, 0.3574), "industrial": (30.824, 0.3249)}
    for row in _csv_rows(DEFAULT_COSTS):
        gdp = float(row["gdp_per_capita_usd2010"])
        for use, (a, b) in ab.items():
            cost = float(row[f"{use}_eur2010_m2"])
            assert cost == pytest.approx(a * gdp ** b, rel=1e-8), (row["country"], use)


def _buildings(uses, depths):
    geoms = [box(0, 0, 10, 10), box(20, 0, 25, 4), box(40, 0, 48, 5)]      # 100, 20, 40 m²
    gdf = gpd.GeoDataFrame({"max_depth_m": depths}, geometry=geoms[: len(depths)], crs="EPSG:28356")
    if uses is not None:
        gdf["use"] = uses
    return gdf


def test_building_damage_is_factor_times_max_damage_times_footprint():
    model = DamageModel(load_curves(), {"residential": 700.0, "commercial": 1000.0})
    out = model.building_damage(_buildings(["residential", "Commercial", None], [0.75, 1.25, 2.0]))
    np.testing.assert_allclose(out["footprint_m2"], [100.0, 20.0, 40.0])
    assert out["use"].tolist() == ["residential", "commercial", "residential"]      # None -> default use
    # residential 0.75 m: 0.325; commercial 1.25 m: (0.30 + 0.45)/2 = 0.375; residential 2.0 m: 0.60
    np.testing.assert_allclose(out["damage_eur"], [0.325 * 700 * 100, 0.375 * 1000 * 20, 0.60 * 700 * 40])
    assert model.event_damage(_buildings(["residential", "Commercial", None], [0.75, 1.25, 2.0])) == \
        pytest.approx(22750 + 7500 + 16800)


def test_building_damage_without_use_attribute_takes_the_default_use():
    model = DamageModel(load_curves(), {"residential": 700.0, "commercial": 1000.0}, default_use="commercial")
    out = model.building_damage(_buildings(None, [1.0, 0.0]))
    np.testing.assert_allclose(out["damage_eur"], [0.30 * 1000 * 100, 0.0])


def test_building_damage_refuses_unknown_uses_and_geographic_crs():
    model = DamageModel.jrc_europe()
    with pytest.raises(InputDataError, match="no depth-damage curve or maximum damage for use.*hospital"):
        model.building_damage(_buildings(["hospital", "residential"], [1.0, 1.0]))
    with pytest.raises(InputDataError, match="projected CRS"):
        model.building_damage(_buildings(["residential"], [1.0]).set_crs("EPSG:4326", allow_override=True))
    with pytest.raises(InputDataError, match="no column 'depth'"):
        model.building_damage(_buildings(["residential"], [1.0]), depth_column="depth")


def test_expected_annual_damage_trapezoid_and_tails_by_hand():
    t, d = [5, 20, 100], [100.0, 400.0, 1000.0]          # p = 0.2, 0.05, 0.01
    inner = (100 + 400) / 2 * 0.15 + (400 + 1000) / 2 * 0.04          # 37.5 + 28 = 65.5
    assert expected_annual_damage(t, d, rare_tail="none") == pytest.approx(inner)
    assert expected_annual_damage(t, d) == pytest.approx(inner + 0.01 * 1000)          # rare tail constant
    assert expected_annual_damage(t, d, zero_damage_return_period_yr=2) == pytest.approx(
        inner + 10 + 0.5 * 100 * (0.5 - 0.2))                                          # triangle to T = 2
    assert expected_annual_damage([100, 5, 20], [1000.0, 100.0, 400.0]) == pytest.approx(inner + 10)  # order
    assert expected_annual_damage([50], [200.0]) == pytest.approx(200.0 / 50)          # one event: tail only


def test_measure_benefit_is_the_reduction_of_ead():
    t = [5, 20, 100]
    base, measure = [100.0, 400.0, 1000.0], [0.0, 200.0, 800.0]
    ead_measure = 200 / 2 * 0.15 + (200 + 800) / 2 * 0.04 + 0.01 * 800                # 15 + 20 + 8
    assert measure_benefit(t, base, measure) == pytest.approx(75.5 - ead_measure)


@pytest.mark.parametrize("kwargs, match", [
    (dict(return_periods_yr=[5, 5], damages=[1.0, 2.0]), "distinct"),
    (dict(return_periods_yr=[5, 10], damages=[1.0]), "one damage per return period"),
    (dict(return_periods_yr=[5, 10], damages=[1.0, 2.0], zero_damage_return_period_yr=5), "shorter"),
    (dict(return_periods_yr=[5, 10], damages=[1.0, 2.0], rare_tail="linear"), "rare_tail"),
])
def test_expected_annual_damage_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        expected_annual_damage(**kwargs)


def test_load_curves_rejects_a_decreasing_curve(tmp_path):
    bad = tmp_path / "curves.csv"
    bad.write_text("region,use,depth_m,damage_factor\neurope,x,0,0\neurope,x,1,0.5\neurope,x,2,0.4\n")
    with pytest.raises(InputDataError, match="must not decrease"):
        load_curves(bad)
    with pytest.raises(InputDataError, match="no curves for region 'asia'"):
        load_curves(DEFAULT_CURVES, "asia")


def test_curve_factor_doc_example():
    c = DamageCurve("x", np.array([0.0, 1.0, 2.0]), np.array([0.0, 0.4, 0.6]))
    np.testing.assert_allclose(c.factor([0.5, 1.5]), [0.2, 0.5])
