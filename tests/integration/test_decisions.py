"""Numbers a design decision can rest on (issue 11): measures are not flooding, fine hydrographs at
gauges and at the outflow, storage-measure performance, and the engineering figures.

The buffer pond scenario (Merewether, coarsened by 4) runs with its baseline. References: the pond's
water below its rim is storage by design (``floodsim.analysis.flooding``), so flooded and hazard
areas with the pond must not exceed the baseline's where the pond only stores; the outflow
hydrograph integrates to the balance's boundary outflow (conservation); a gauge that stays below the
wet threshold is "dry".
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from floodsim.run.runner import run_scenario

from .conftest import SCENARIOS, coarsened


@pytest.fixture(scope="module")
def pond(tmp_path_factory):
    out = tmp_path_factory.mktemp("pond") / "run"
    sc = coarsened(SCENARIOS / "merewether_pond.toml", 4, duration_min=40.0, output_interval_min=10.0)
    return run_scenario(sc, out_dir=out), out


def test_pond_water_is_storage_not_flooding(pond):
    result, out = pond
    s, b = result.summary, result.baseline.summary
    ds = result.dataset
    assert "measure_storage_depth" in ds and float(ds["measure_storage_depth"].max()) > 0.5
    assert "measure_storage_depth" not in result.baseline.dataset
    # where the pond only stores, it must not add flooded or hazardous area
    assert s.max_extent_area_m2 <= b.max_extent_area_m2
    assert s.peak_flooded_area_m2 <= b.peak_flooded_area_m2
    hazard = sum(v for k, v in s.hazard_area_m2_by_class.items() if k != "low")
    base_hazard = sum(v for k, v in b.hazard_area_m2_by_class.items() if k != "low")
    assert hazard <= base_hazard
    deep = s.flooded_area_m2_by_depth_class["> 1.00 m"]
    assert deep <= b.flooded_area_m2_by_depth_class["> 1.00 m"]
    # the water it held is reported as stored in measures
    pond_store = s.storage_measures["Park buffer pond"]
    assert pond_store["kind"] == "surface store" and pond_store["peak_volume_m3"] > 10.0
    assert np.isfinite(pond_store["freeboard_m"])
    assert json.loads((out / "summary.json").read_text())["storage_measures"]["Park buffer pond"]["peak_volume_m3"] \
        == pytest.approx(pond_store["peak_volume_m3"])


def test_fine_series_at_gauges_and_outflow(pond):
    result, out = pond
    with xr.open_dataset(out / "results.nc") as ds:
        t = ds["series_time"].values
        assert np.allclose(np.diff(t), 10.0) and t[-1] == pytest.approx(2400.0)
        assert ds["gauge_depth"].dims == ("gauge", "series_time") and ds["gauge_depth"].attrs["units"] == "m"
        assert ds["outflow_total"].attrs["units"] == "m3 s-1"
        for name in ds.data_vars:
            assert " " not in name and "/" not in name
        volume = np.trapezoid(ds["outflow_total"].values, t)
    vb = result.summary.volume_balance_m3["boundary_out"]
    assert volume == pytest.approx(vb, rel=0.02)          # the hydrograph carries the balance's outflow
    gauges = result.summary.gauges
    for g in gauges.values():
        assert g == "dry" or g["max_depth_m"] > 0.01


def test_plots_are_written_from_results(pond, tmp_path):
    from floodsim.cli import main
    from floodsim.plots import plot_run

    result, out = pond
    assert main(["plot", str(out), "--out", str(tmp_path / "png")]) == 0
    names = {p.name for p in (tmp_path / "png").iterdir()}
    assert {"plot_hydrographs.png", "plot_outflow.png", "plot_volume_balance.png", "plot_storage.png",
            "plot_depth_duration.png"} <= names
    with xr.open_dataset(out / "results.nc") as ds:
        figs = plot_run(ds.load())
        line = figs["outflow"].axes[0].lines[0]
        np.testing.assert_allclose(line.get_ydata(), ds["outflow_total"].values)
        np.testing.assert_allclose(line.get_xdata(), ds["series_time"].values / 60.0)
