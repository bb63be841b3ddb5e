"""The coupled run: conservation, sub-stepping, checkpoint/resume, bad networks at validate, and the
bundled Merewether sewer scenario (coarsened) with its comparison against the surface-only run."""

from __future__ import annotations

import json

import numpy as np
import pytest
from swmm_api.input_file.sections import Conduit, CrossSection, Junction, Outfall, Storage

from floodsim import Grid, Hyetograph, Simulation
from floodsim.errors import ExitCode
from floodsim.sewer.coupling import OutfallTarget, SewerCoupling
from floodsim.sewer.network import Inlet, read_inp

from .conftest import cell_xy, make_inp

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


DX = 4.0


def _bowl(n=16):
    """A grid of 4 m cells sloping towards its centre (a street sag), 10 m at the low point."""
    i, j = np.mgrid[0:n, 0:n]
    return Grid.from_array(10.0 + 0.08 * (np.abs(i - n // 2) + np.abs(j - n // 2)), dx=DX)


def _box_network(tmp_path, n=16):
    """Rain → inlets J1 (the sag) and J2 → pipes → a storage unit T1 (sealed), whose overflow weir to an
    outfall onto a grid cell is never reached: nothing leaves the model."""
    from swmm_api.input_file.sections import Weir

    c = n // 2
    return make_inp(tmp_path / "box.inp",
                    [(Junction("J1", 8.0, 2.0), cell_xy(c, c, DX)), (Junction("J2", 8.3, 2.0), cell_xy(c - 4, c, DX)),
                     (Storage("T1", 6.0, 4.0, 0.0, "FUNCTIONAL", 0.0, 0.0, 120.0), cell_xy(c + 3, c + 3, DX)),
                     (Outfall("O1", 5.9, "FREE"), cell_xy(1, 1, DX))],
                    [Conduit("C1", "J2", "J1", 40.0, 0.013), Conduit("C2", "J1", "T1", 80.0, 0.013),
                     Weir("W1", "T1", "O1", "TRANSVERSE", 3.5, 1.84)],
                    {"C1": CrossSection("C1", "CIRCULAR", 0.45), "C2": CrossSection("C2", "CIRCULAR", 0.45),
                     "W1": CrossSection("W1", "RECT_OPEN", 1.0, 1.0)})


def _box_run(tmp_path, step_s, duration=1200.0):
    grid = _bowl()
    net = read_inp(_box_network(tmp_path), inlets={"J1": Inlet(0.1, 1.2), "J2": Inlet(0.1, 1.2)})
    op = SewerCoupling(net, duration_s=duration, step_s=step_s, outfalls={"O1": OutfallTarget("cell", xy=cell_xy(1, 1, DX))},
                       folder=tmp_path / f"swmm{step_s:g}")
    sim = Simulation(grid, rainfall=Hyetograph.block(80.0, 900.0), operators=[op])   # closed walls
    sim.advance_to(duration)
    return sim, op


def test_closed_box_rain_inlets_pipes_storage_conserves_volume(tmp_path):
    """Reference: conservation in a closed box (walls all round; the outfall discharges back onto a
    cell). Rain is the only input. The surface balance, with the exchange as an exact term, closes to
    round-off; surface + the water SWMM holds differs from the rain by exactly the network's continuity
    error (what SWMM holds against what it was given), and that error is SWMM's own: its continuity
    report gives the same figure, so the coupling adds nothing. (SWMM's dynamic wave loses about 2 % on
    this tiny network filling a storage unit, its report naming node T1; the bundled Merewether networks
    stay below 0.5 %, tested below.)"""
    sim, op = _box_run(tmp_path, 1.0)
    try:
        rain = sim.balance.rain
        assert rain == pytest.approx(80.0 / 3.6e6 * 900.0 * 256.0 * DX * DX, rel=1e-12)
        assert sim.balance.boundary_out == 0 and sim.balance.measure_outflow == 0
        assert abs(sim.balance.error(sim.total_volume())) < 1e-9 * rain
        report = op.report()
        assert report["from_surface"] > 0.5 * rain                  # the pipes did take the water
        assert report["outfall"] == 0 and report["left_domain"] == 0
        # the water in the model: surface + what SWMM holds (+ the last coupling step's exchange, not yet
        # given to SWMM) against the rain; the difference is the network's continuity error
        total = sim.stored_volume() + report["network_volume_m3"] + report["in_transit_m3"] - op.initial_volume
        assert total - rain == pytest.approx(report["network_continuity_error_m3"], abs=1e-9 * rain)
        # ... and that error is SWMM's own: its report says the same (sign: SWMM counts what it lost)
        assert report["network_continuity_error_pct"] == pytest.approx(-report["flow_routing_continuity_error_pct"],
                                                                       abs=0.1)
        assert abs(total - rain) < 0.05 * rain
    finally:
        op.close()


def test_coupling_step_changes_the_network_balance_only_within_swmm_precision(tmp_path):
    """Sub-stepping: SWMM's step = the coupling step (0.5, 1, 2 and 5 s). The surface balance closes to
    round-off at every step length (the exchange is exact by construction); the network's continuity
    error (SWMM's water against the ledger) and SWMM's own report stay below 0.5 % at every step
    length over these 10 minutes of rain (the closed box above runs on to 20 minutes, as its storage
    unit fills, where SWMM's own error grows to about 2 %);
    the water taken by the inlets changes by less than 5 % (measured: 35.44, 36.24, 36.55, 36.76 m³ at
    0.5, 1, 2, 5 s: a longer step holds the node heads of its start for longer, and the inlets take a
    little more while the pipes fill)."""
    taken, errors = {}, {}
    for step in (0.5, 1.0, 2.0, 5.0):
        sim, op = _box_run(tmp_path, step, duration=600.0)
        try:
            assert abs(sim.balance.relative_error(sim.total_volume())) < 1e-12
            r = op.report()
            assert abs(r["network_continuity_error_pct"]) < 0.5, (step, r)
            assert abs(r["flow_routing_continuity_error_pct"]) < 0.5, (step, r)
            taken[step] = r["from_surface"]
            errors[step] = r["network_continuity_error_pct"]
        finally:
            op.close()
    ref = taken[0.5]
    for step, v in taken.items():
        assert v == pytest.approx(ref, rel=0.05), taken
    assert max(errors.values()) - min(errors.values()) < 1.0, errors


def test_checkpoint_resume_with_a_network(tmp_path):
    """What "correctly" means: the run saved at 600 s and resumed (a new model, SWMM restarted from its
    hotstart file at 600 s) ends with the same volume balance terms (to 1e-9 relative: the ledger
    continues), surface depths within 2 mm and node heads within 2 cm of the uninterrupted run (SWMM
    restarts its previous-step memory from the hotstart file's depths and flows, so the two runs are not
    bit for bit equal)."""
    grid = _bowl()
    inp = _box_network(tmp_path)

    def model(tag):
        net = read_inp(inp, inlets={"J1": Inlet(0.1, 1.2), "J2": Inlet(0.1, 1.2)})
        op = SewerCoupling(net, duration_s=1200.0, step_s=1.0, folder=tmp_path / tag,
                           outfalls={"O1": OutfallTarget("cell", xy=cell_xy(1, 1, DX))})
        return Simulation(grid, rainfall=Hyetograph.block(80.0, 900.0), operators=[op]), op

    # SWMM runs one model per process: the three runs one after the other
    whole, op_whole = model("whole")
    whole.advance_to(1200.0)
    whole_h, whole_head, whole_taken = whole.state.h.copy(), op_whole._head.copy(), op_whole.volumes["from_surface"]
    op_whole.close()
    first, op_first = model("first")
    first.advance_to(600.0)
    state = first.get_state()
    op_first.close()
    resumed, op_resumed = model("resumed")
    try:
        resumed.set_state(state)
        resumed.advance_to(1200.0)
        assert resumed.balance.rain == pytest.approx(whole.balance.rain, rel=1e-12)
        assert abs(resumed.balance.error(resumed.total_volume())) < 1e-9 * whole.balance.rain
        np.testing.assert_allclose(resumed.state.h, whole_h, atol=2e-3)
        np.testing.assert_allclose(op_resumed._head, whole_head, atol=0.02)
        assert op_resumed.volumes["from_surface"] == pytest.approx(whole_taken, rel=0.01)
        t_series = op_resumed.series_t
        assert t_series[0] == 0.0 and t_series[-1] >= 1190.0 and np.allclose(np.diff(t_series), 10.0)
    finally:
        op_resumed.close()


# ---------------------------------------------------------------------------------------- bad networks
def _project(tmp_path, sewer_toml: str, buildings=None):
    """A scenario on a 1 m DEM (EPSG:28356) with ``[sewer]``."""
    import rasterio
    from rasterio.transform import from_origin

    dem = tmp_path / "dem.tif"
    z = np.full((20, 20), 10.0, np.float32)
    with rasterio.open(dem, "w", driver="GTiff", width=20, height=20, count=1, dtype="float32", crs="EPSG:28356",
                       transform=from_origin(1000.0, 2000.0, 1.0, 1.0)) as dst:
        dst.write(z, 1)
    extra = ""
    if buildings is not None:
        import geopandas as gpd

        gpd.GeoDataFrame({"id": [1]}, geometry=[buildings], crs="EPSG:28356").to_file(tmp_path / "b.gpkg")
        extra = '[buildings]\npath = "b.gpkg"\n'
    sc = tmp_path / "s.toml"
    sc.write_text(f'name = "t"\n[domain]\ndem = "dem.tif"\n{extra}[rainfall]\nkind = "block"\nintensity_mm_h = 50\n'
                  f'duration_min = 5\n[simulation]\nduration_min = 5\n[sewer]\n{sewer_toml}\n')
    return sc


def _layers(tmp_path, junction_xy=(1010.5, 1989.5), rim=10.0, crs="EPSG:28356"):
    import geopandas as gpd
    from shapely.geometry import LineString, Point

    path = tmp_path / "net.gpkg"
    gpd.GeoDataFrame({"name": ["J1"], "invert_m": [8.0], "rim_m": [rim], "inlet": [1]},
                     geometry=[Point(junction_xy)], crs=crs).to_file(path, layer="junctions")
    gpd.GeoDataFrame({"name": ["O1"], "invert_m": [7.0], "stage": ["free"]},
                     geometry=[Point(1018.5, 1981.5)], crs=crs).to_file(path, layer="outfalls")
    gpd.GeoDataFrame({"name": ["C1"], "from_node": ["J1"], "to_node": ["O1"], "shape": ["circular"],
                      "height_m": [0.3], "manning_n": [0.013], "length_m": [30.0]},
                     geometry=[LineString([junction_xy, (1018.5, 1981.5)])], crs=crs).to_file(path, layer="conduits")
    return path


@pytest.mark.parametrize("case, expect", [
    ("outside", "node 'J1' at (1050.50, 1989.50) is outside the DEM"),
    ("crs", "is not the DEM's"),
    ("building", "inlet node 'J1'"),
    ("rim", "node 'J1' has its rim at 9.00 m, 1.00 m below the ground"),
])
def test_a_bad_network_is_exit_2_at_validate_naming_the_feature(tmp_path, capsys, case, expect):
    from shapely.geometry import box

    from floodsim.cli import main

    kw, buildings = {}, None
    if case == "outside":
        kw["junction_xy"] = (1050.5, 1989.5)
    elif case == "crs":
        kw["crs"] = "EPSG:32756"
    elif case == "rim":
        kw["rim"] = 9.0
    else:
        buildings = box(1008.0, 1987.0, 1013.0, 1992.0)
    _layers(tmp_path, **kw)
    sc = _project(tmp_path, 'layers = { path = "net.gpkg" }', buildings)
    assert main(["validate", str(sc)]) == ExitCode.INPUT
    err = capsys.readouterr().err
    assert expect in err and "net.gpkg" in err


def test_an_inp_swmm_rejects_is_exit_2_with_its_code_and_nothing_written(tmp_path, capsys):
    from floodsim.cli import main

    inp = make_inp(tmp_path / "bad.inp",
                   [(Junction("J1", 8.0, 2.0), (1010.5, 1989.5)), (Outfall("O1", 7.0, "FREE"), (1018.5, 1981.5))],
                   [Conduit("C1", "J1", "O1", 30.0, 0.013)])
    inp.write_text(inp.read_text().replace("C1 CIRCULAR 0.3", "C1 CIRCULAR -0.3"))
    sc = _project(tmp_path, 'inp = "bad.inp"')
    out = tmp_path / "out"
    assert main(["run", str(sc), "--out", str(out), "--quiet"]) == ExitCode.INPUT
    err = capsys.readouterr().err
    assert "bad.inp" in err and "ERROR" in err and "line" in err
    assert not out.exists()


# ---------------------------------------------------------------------------------------- Merewether
def test_merewether_sewer_scenario_coarsened_runs_balances_and_compares(tmp_path):
    """The bundled dual-drainage scenario, coarsened ×8, the whole hour (storm and recession): results.nc
    has the node and link series, flood.gpkg the network layers, the summary the combined balance
    (surface closure at round-off, SWMM continuity < 0.5 %: the issue's bound for the bundled scenarios),
    and `floodsim compare` against the surface-only run works."""
    import geopandas as gpd
    import xarray as xr

    from floodsim.cli import main
    from floodsim.run.runner import run_scenario
    from floodsim.scenario.load import load_scenario

    def coarse(name, **sewer):
        sc = load_scenario(ROOT / "scenarios" / name)
        sim = sc.simulation.model_copy(update={"coarsen": 8, "output_interval_min": 10.0})
        update = {"simulation": sim}
        if sc.sewer is not None:    # an 8 m cell averages the ground around a manhole
            update["sewer"] = sc.sewer.model_copy(update={"rim_tolerance_m": 3.0, **sewer})
        return sc.model_copy(update=update)

    surface = run_scenario(coarse("merewether_cloudburst.toml"), tmp_path / "surface")
    dual = run_scenario(coarse("merewether_sewer.toml"), tmp_path / "sewer")
    s = dual.summary.sewer
    assert s["nodes"] == 31 and s["links"] == 30 and s["coupled_nodes"] == 30
    assert abs(dual.summary.volume_balance_m3["relative_error"]) < 1e-12
    assert abs(s["balance_m3"]["swmm_flow_routing_continuity_error_pct"]) < 0.5
    assert s["balance_m3"]["from_surface_m3"] > 100.0
    with xr.open_dataset(tmp_path / "sewer" / "results.nc") as ds:
        assert ds["node_head"].dims == ("node", "sewer_time") and ds["link_flow"].dims == ("link", "sewer_time")
        assert ds["node_depth"].attrs["units"] == "m" and ds.sizes["sewer_time"] >= 100
    pipes = gpd.read_file(tmp_path / "sewer" / "flood.gpkg", layer="sewer_pipes")
    nodes = gpd.read_file(tmp_path / "sewer" / "flood.gpkg", layer="sewer_nodes")
    assert len(pipes) == 30 and pipes["peak_capacity_used"].max() > 0 and len(nodes) == 31
    assert dual.summary.peak_flooded_area_m2 <= surface.summary.peak_flooded_area_m2
    assert main(["compare", str(tmp_path / "surface"), str(tmp_path / "sewer"), "--out",
                 str(tmp_path / "cmp")]) == ExitCode.OK
    summary = json.loads((tmp_path / "sewer" / "summary.json").read_text())
    assert summary["sewer"]["combined_balance_m3"]["surface_closure_error_m3"] == pytest.approx(0.0, abs=1e-6)

    # the network on the planner map: pipes by peak capacity used, manholes, a legend bound to the layer
    from floodsim.maps.planner import planner_map
    from floodsim.maps.publish import render_html
    from floodsim.maps.rundata import map_run

    run = map_run(tmp_path / "sewer")
    assert len(run.sewer_pipes) == 30 and len(run.sewer_nodes) == 31
    assert map_run(tmp_path / "surface").sewer_pipes is None
    page = render_html(planner_map([map_run(tmp_path / "surface"), run], offline=True))
    assert page.count("peak capacity used:") == 30 and page.count("peak head:") == 31
    assert "floodsim-legend-sewer" in page and "full or over (surcharged)" in page


def test_checkpoint_file_with_a_network_resumes_through_the_run_machinery(tmp_path):
    """The checkpoint file (floodsim.run.checkpoint: fingerprint, npz, restore) carries the network: the
    fingerprint is the same for two builds (SWMM's working folders differ), a run stopped at step 150 and
    restored into a fresh model ends with the balance closed and node depths within 2 cm of the
    uninterrupted run (SWMM restarts from its hotstart file; see the test above for "correctly")."""
    from floodsim.run import checkpoint
    from floodsim.run.recorder import Recorder, run_simulation

    grid = _bowl()
    inp = _box_network(tmp_path)
    duration, interval = 900.0, 300.0

    def model(tag):
        net = read_inp(inp, inlets={"J1": Inlet(0.1, 1.2), "J2": Inlet(0.1, 1.2)})
        op = SewerCoupling(net, duration_s=duration, step_s=1.0, folder=tmp_path / tag,
                           outfalls={"O1": OutfallTarget("cell", xy=cell_xy(1, 1, DX))})
        return Simulation(grid, rainfall=Hyetograph.block(80.0, 900.0), operators=[op]), op

    whole_sim, _ = model("whole")
    fp = checkpoint.fingerprint(whole_sim, duration, interval)
    whole = run_simulation(whole_sim, duration, interval)          # closes SWMM at the end
    sim, op = model("first")
    assert checkpoint.fingerprint(sim, duration, interval) == fp
    rec, path = Recorder(sim), tmp_path / "c.npz"

    class Stop(Exception):
        pass

    def after_step():
        if sim.state.steps == 150:
            checkpoint.save(path, sim, rec, fp, duration, interval)
            raise Stop

    with pytest.raises(Stop):
        run_simulation(sim, duration, interval, recorder=rec, after_step=after_step)
    op.close()
    fresh, op2 = model("fresh")
    rec2 = Recorder(fresh)
    meta = checkpoint.restore(path, fresh, rec2, checkpoint.fingerprint(fresh, duration, interval), duration,
                              interval)
    assert meta["steps"] == 150
    resumed = run_simulation(fresh, duration, interval, recorder=rec2)
    assert abs(resumed.attrs["relative_volume_error"]) < 1e-12
    assert resumed.sizes["sewer_time"] == whole.sizes["sewer_time"]
    np.testing.assert_allclose(resumed["node_depth"].values, whole["node_depth"].values, atol=0.02)
    np.testing.assert_allclose(resumed["depth"].values, whole["depth"].values, atol=2e-3)
