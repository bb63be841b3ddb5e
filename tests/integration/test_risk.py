"""From events to risk (issue 11): likelihood bands, the first return period that floods a building, EAD
per building, design storms in words, the designs × return periods matrix, readable member labels,
service goals; the functions on tiny arrays and one small sweep (3 return periods × 1 design, bundled
city coarsened 8×, 20 minutes)."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from floodsim.analysis import risk
from floodsim.build.storms import IDFCurve

ROOT = Path(__file__).resolve().parents[2]
IDF = ROOT / "gis_data" / "idf" / "dahlstrom2010_sherman.toml"
BASE = ROOT / "scenarios" / "sweeps" / "merewether_chicago.toml"


def test_bands_from_aep_follow_the_environment_agency_edges():
    aep = [1 / 5, 1 / 30, 1 / 31, 1 / 100, 1 / 101, 1 / 1000, 1 / 1001, np.nan, 0.0]
    assert risk.band_of_aep(aep).tolist() == [4, 4, 3, 3, 2, 2, 1, 0, 0]
    assert risk.BANDS[4] == "high" and risk.BANDS[1] == "very low"


def test_lowest_return_period_and_bands_of_a_stack():
    t = [5.0, 20.0, 100.0]
    flooded = np.array([[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0]], bool)
    first = risk.lowest_return_period(flooded, t)
    np.testing.assert_array_equal(first[:3], [5, 20, 100])
    assert np.isnan(first[3])
    # the order of the events does not matter
    np.testing.assert_array_equal(risk.lowest_return_period(flooded[::-1], t[::-1])[:3], [5, 20, 100])
    depth = np.array([[[0.3, 0.0, 0.0, 0.0, np.nan]],
                      [[0.5, 0.2, 0.0, 0.0, np.nan]],
                      [[0.9, 0.4, 0.1, 0.05, np.nan]]])
    bands = risk.likelihood_bands(depth, t, 0.1)
    assert bands.dtype == np.int8
    assert bands[0].tolist() == [4, 4, 3, 0, risk.BAND_NODATA]     # 5 and 20 yr: high; 100 yr: medium


def test_ead_per_building_by_hand():
    t = [5.0, 20.0, 100.0]
    damages = np.array([[0.0, 10.0], [100.0, 10.0], [1000.0, 10.0]])
    got = risk.ead_per_item(t, damages)
    # trapezoids over AEP 0.2 → 0.05 → 0.01, plus the rare tail 0.01 · D(100)
    a = 0.5 * (0 + 100) * (0.2 - 0.05) + 0.5 * (100 + 1000) * (0.05 - 0.01) + 1000 * 0.01
    b = 10 * (0.2 - 0.01) + 10 * 0.01
    np.testing.assert_allclose(got, [a, b])
    assert a == pytest.approx(39.5)
    np.testing.assert_allclose(risk.ead_per_item(t, damages, rare_tail="none"), [29.5, 1.9])


def test_describe_storm_against_the_bundled_idf_by_hand():
    idf = IDFCurve.from_file(IDF)
    i20 = 791.137145 / (30 + 4.209860) ** 0.768840          # mm/h, the 20-year curve
    i50 = 1107.330198 / (30 + 4.387656) ** 0.777300
    d20 = i20 * 0.5
    assert risk.describe_storm(idf, 20, 30, 1.0) == f"{d20:.0f} mm in 30 min ≈ a 1-in-20-year rain today"
    # ×1.3 lies between the 20- and 50-year curves: linear in ln T
    w = (1.3 * i20 - i20) / (i50 - i20)
    m = 20 * 2.5 ** w
    text = risk.describe_storm(idf, 20, 30, 1.3)
    assert text.startswith(f"{d20:.0f} mm in 30 min ≈ a 1-in-20-year rain today")
    assert f"climate factor 1.3: {1.3 * d20:.0f} mm, ≈ 1-in-{m:.3g}-year today" in text
    assert risk.equivalent_return_period(idf, 30, 1.3 * d20) == pytest.approx(m, rel=1e-6)
    assert "rarer than 1-in-100-year" in risk.describe_storm(idf, 100, 30, 1.3)


def test_readable_labels_and_parameters_from_the_base(tmp_path):
    from floodsim.sweep import expand_members, load_sweep

    f = tmp_path / "s.toml"
    f.write_text(f'base = "{(ROOT / "scenarios" / "sweeps" / "merewether_pond_chicago.toml").as_posix()}"\n'
                 '[[members]]\nlabel = "no pond"\nmeasures = []\n[[members]]\nlabel = "pond 0.2 m pipe"\n'
                 '[[members]]\nlabel = "pond 0.3 m pipe"\n"measures.1.orifice_area_m2" = 0.0707\n'
                 '[grid]\n"rainfall.return_period_yr" = [5, 20]\n')
    ms = expand_members(load_sweep(f))
    assert [m.label for m in ms][:3] == ["no pond · 5-yr", "no pond · 20-yr", "pond 0.2 m pipe · 5-yr"]
    assert ms[0].design == "no pond" and not ms[0].has_measures and ms[2].has_measures
    key = "measures.1.orifice_area_m2"
    assert ms[2].params[key] == pytest.approx(0.0314)       # not set by the member: the base's value
    assert ms[0].params[key] == "n/a"                       # no such measure in "no pond"


def test_matrix_compares_within_a_return_period():
    from floodsim.sweep.tables import matrix_table

    rp = "param rainfall.return_period_yr"
    table = pd.DataFrame({"member": list("abcd"), "label": ["none · 5-yr", "none · 20-yr", "pond · 5-yr",
                                                            "pond · 20-yr"],
                          "design": ["none", "none", "pond", "pond"], rp: [5, 20, 5, 20],
                          "status": "ok", "damage_eur": [100.0, 400.0, 50.0, 300.0]})
    members = [SimpleNamespace(id=i, has_measures=i in "cd") for i in "abcd"]
    m, note = matrix_table(table, members)
    assert "same return period" in note
    got = m.set_index("member")["damage_eur change_%"]
    assert got["c"] == pytest.approx(-50.0) and got["d"] == pytest.approx(-25.0) and got["a"] == 0.0
    assert m["return_period_yr"].tolist() == [5, 5, 20, 20]
    m2, note2 = matrix_table(table, [SimpleNamespace(id=i, has_measures=True) for i in "abcd"])
    assert "no member without measures" in note2 and not any("change_%" in c for c in m2.columns)


SWEEP = f"""
name = "risk test"
base = "{BASE.as_posix()}"
rank_by = "damage_eur"

[grid]
"rainfall.return_period_yr" = [5, 20, 100]
simulation.coarsen = [8]
simulation.duration_min = [20.0]
simulation.output_interval_min = [5.0]

[service_goal]
max_depth_m = 0.10
return_period_yr = 100
"""


@pytest.fixture(scope="module")
def risk_sweep(tmp_path_factory):
    from floodsim.sweep import load_sweep, run_sweep

    folder = tmp_path_factory.mktemp("risk")
    (folder / "sweep.toml").write_text(SWEEP)
    spec = load_sweep(folder / "sweep.toml")
    out = folder / "out"
    return run_sweep(spec, out, workers=1, progress=False), out


def test_risk_products_of_a_small_sweep(risk_sweep):
    import geopandas as gpd
    import rasterio

    result, out = risk_sweep
    table = result.table
    assert (table["status"] == "ok").all()
    assert table["label"].tolist() == ["5-yr", "20-yr", "100-yr"]
    assert table["storm"].str.contains("1-in-20-year").any()
    design = table["design"].iloc[0]
    name = "base_scenario"
    assert design == "base scenario"
    gpkg, tif = out / f"risk_{name}.gpkg", out / f"likelihood_{name}.tif"
    assert gpkg.is_file() and tif.is_file() and (out / "service_goal.csv").is_file()
    assert (out / f"service_goal_{name}.tif").is_file() and (out / "matrix.csv").is_file()

    b = gpd.read_file(gpkg, layer="buildings_first_flooding")
    assert (b["design"] == design).all()
    flooded = {}
    for t, run_dir in zip(table["param rainfall.return_period_yr"], table["run_dir"]):
        flooded[t] = gpd.read_file(Path(run_dir) / "flood.gpkg", layer="buildings")["flooded"].to_numpy(bool)
    at5 = flooded[5]
    assert at5.any()
    assert (b.loc[at5, "first_flooding_yr"] == 5).all()
    never = ~(flooded[5] | flooded[20] | flooded[100])
    assert b.loc[never, "first_flooding_yr"].isna().all()
    assert (b.loc[never, "first_flooding"] == "not flooded").all()
    # the buildings' EADs add up to the EAD of the design's summed damage (same rule)
    assert b["ead_eur_per_yr"].sum() == pytest.approx(result.ead["ead_eur_per_yr"].iloc[0], rel=1e-9)

    with rasterio.open(tif) as src:
        bands = src.read(1)
        assert src.nodata == risk.BAND_NODATA and src.dtypes[0] == "int8"
        cell = abs(src.transform.a * src.transform.e)
    # monotone: a cell flooded by the 5-year storm is "high", whatever the rarer storms do
    import xarray as xr

    from floodsim.analysis.flooding import flood_depth, storage_depth_of

    with xr.open_dataset(Path(table["run_dir"].iloc[0]) / "results.nc") as ds:
        d5 = flood_depth(ds["max_depth"].values, storage_depth_of(ds))
    wet5 = np.nan_to_num(d5, nan=-1) >= 0.1
    assert wet5.any() and (bands[wet5] == 4).all()
    assert set(np.unique(bands)) <= {-1, 0, 3, 4}           # 5 and 20 yr: high; 100 yr: medium
    areas = {risk.BANDS[k]: float((bands == k).sum() * cell) for k in (4, 3)}
    goal = pd.read_csv(out / "service_goal.csv")
    assert goal["result"].iloc[0] in ("pass", "fail") and goal["area_breaking_goal_m2"].iloc[0] >= 0
    counts = b["first_flooding"].value_counts().to_dict()
    print(f"\nfirst flooding: {counts}; band areas m²: {areas}; service goal: {goal.to_dict('records')}")
    print("\n".join(result.notes))
    assert math.isfinite(result.ead["ead_eur_per_yr"].iloc[0])
