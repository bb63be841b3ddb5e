"""The bundled real-city scenarios run end to end, write their products and close their balance."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
import xarray as xr

from floodsim.run.runner import run_scenario

from .conftest import SCENARIOS, coarsened


def test_cloudburst_runs_writes_and_balances(tmp_path):
    sc = coarsened(SCENARIOS / "merewether_cloudburst.toml", 4, duration_min=40.0, output_interval_min=10.0)
    out = run_scenario(sc, out_dir=tmp_path)
    s = out.summary.to_dict()
    vb = s["volume_balance_m3"]
    # rain volume: 60 mm over every DEM cell (ground + roofs)
    cell_area = s["cell_size_m"][0] * s["cell_size_m"][1]
    ds = out.dataset
    n_cells = int(np.isfinite(ds["elevation"]).sum())
    assert vb["rain"] == pytest.approx(0.060 * n_cells * cell_area, rel=1e-12)
    assert abs(vb["relative_error"]) < 1e-10
    assert vb["infiltration"] > 0 and vb["boundary_out"] > 0
    assert s["max_depth_m"] > 0.1
    # products exist and are complete
    names = {p.name for p in tmp_path.iterdir()}
    assert {"results.nc", "max_depth.tif", "max_speed.tif", "time_of_max_depth.tif", "summary.json"} <= names
    assert not [n for n in names if n.endswith(".part")]
    assert json.loads((tmp_path / "summary.json").read_text())["scenario"] == sc.name
    with rasterio.open(tmp_path / "max_depth.tif") as src:
        assert src.crs.to_epsg() == 28356
        assert src.shape == ds["max_depth"].shape
        np.testing.assert_allclose(src.read(1, masked=True).filled(np.nan), ds["max_depth"].values,
                                   equal_nan=True)
    back = xr.open_dataset(tmp_path / "results.nc")
    assert back["depth"].attrs["units"] == "m"
    assert back["depth"].sizes["time"] == 5
    back.close()
    assert set(s["gauges"]) == {"G1 upstream", "G2 main road", "G3 side street", "G4 cross street",
                                "G5 downstream"}


def test_steady_inflow_reaches_steady_state(tmp_path):
    """ARR Project 15 Merewether test: 19.7 m³/s in, run to steady state: outflow -> inflow."""
    sc = coarsened(SCENARIOS / "merewether_steady.toml", 3, duration_min=25.0, output_interval_min=1.0)
    out = run_scenario(sc, out_dir=tmp_path, write=False)
    ds = out.dataset
    t = ds["time"].values
    assert out.summary.volume_balance_m3["inflow"] == pytest.approx(19.7 * t[-1], rel=1e-9)
    # mean outflow over the last 5 minutes, and storage no longer changing
    last = ds.sel(time=slice(t[-1] - 300.0, None))
    q_out = float(np.diff(last["volume_boundary_out"].values[[0, -1]])[0]) / 300.0
    assert q_out == pytest.approx(19.7, rel=0.01)
    stored = last["volume_stored"].values
    assert abs(stored[-1] - stored[0]) / stored[-1] < 0.005
    assert abs(out.summary.volume_balance_m3["relative_error"]) < 1e-10
