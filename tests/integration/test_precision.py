"""Single precision (``[simulation] precision = "single"``) against double, on the analytic suite and on
the real Merewether catchment.

What single precision is (``floodsim.core.params.SolverParams``): depths, discharges and the bed stored in
float32 and the face fluxes computed in float32; the depth update, every volume, the Courant reduction
and the balance in float64. Storing a new depth in float32 rounds it; the kernels measure that rounding
cell by cell and the balance keeps it as its own term (``rounding``), so the closure error still means
"water the scheme lost track of", and the rounding itself is reported and bounded.

Measured here (2026-12-02) and asserted with margin:

==============================  ===============  ================  ==================
case                            max |Δ h_max|    closure (rel.)    rounding (rel.)
==============================  ===============  ================  ==================
lake at rest (dyadic bed)       0 (exact rest)   0                 0
tilted plane, 100 cells         8e-8 m           5e-15             3e-7
Hunter wave front, 200 cells    8e-8 m           2e-16             -1e-8
closed basin, rain + G–A        9e-5 m           2e-12             -1e-8
  the same with buildings       5e-8 m           2e-12             5e-9
Merewether cloudburst, 1 m      0.19 mm          9e-11             (see the test)
==============================  ===============  ================  ==================
"""

from __future__ import annotations

import numpy as np
import pytest

from floodsim import Boundary, Grid, Hyetograph, Simulation, SolverParams, TimeSeries
from floodsim.build.model import build_model
from floodsim.core.infiltration import GreenAmpt
from floodsim.run.recorder import run_simulation
from floodsim.run.runner import run_scenario

from .conftest import SCENARIOS, coarsened

PRECISIONS = ("double", "single")


def _both(make, duration, interval):
    """Run ``make(params_kwargs)`` in double and single precision; return {precision: (sim, ds)}."""
    out = {}
    for precision in PRECISIONS:
        sim = make(precision)
        ds = run_simulation(sim, duration, interval)
        out[precision] = (sim, ds)
    return out


def _closure_and_rounding(sim):
    total = sim.total_volume()
    return sim.balance.relative_error(total), sim.balance.relative_rounding(total)


def test_single_precision_stores_float32_and_halves_the_state():
    """The state a step streams through (depth, discharges, bed) is float32: half of double's bytes."""
    z = np.random.default_rng(3).uniform(0.0, 1.0, (40, 50))
    sims = {p: Simulation(Grid.from_array(z, 1.0), rainfall=Hyetograph.block(50.0, 60.0),
                          params=SolverParams(precision=p)) for p in PRECISIONS}
    for name in ("h", "qx", "qy"):
        assert getattr(sims["single"].state, name).dtype == np.float32
        assert getattr(sims["double"].state, name).dtype == np.float64
    assert sims["single"].z.dtype == np.float32
    nbytes = {p: sum(a.nbytes for a in (s.state.h, s.state.qx, s.state.qy, s.z)) for p, s in sims.items()}
    assert nbytes["single"] / nbytes["double"] == pytest.approx(0.5)
    for sim in sims.values():   # and it runs: rain on a bumpy field, no boundary (closed)
        sim.advance_to(60.0)
        assert sim.state.h.dtype == (np.float32 if sim is sims["single"] else np.float64)
    closure, rounding = _closure_and_rounding(sims["single"])
    assert abs(closure) < 1e-12 and rounding != 0.0    # the rounding is measured, not assumed away


def test_lake_at_rest_single_precision_stays_exactly_at_rest():
    """Dyadic bed levels are exact in float32 too: still water must stay still, bit for bit."""
    rng = np.random.default_rng(11)
    z = np.round(rng.uniform(0.0, 1.6, (24, 30)) * 1024) / 1024
    z[rng.random(z.shape) < 0.08] = 2.5
    h0 = np.maximum(1.0 - z, 0.0)
    sim = Simulation(Grid.from_array(z, 5.0), manning=0.03, initial_depth=h0,
                     params=SolverParams(cfl=0.7, hmin=0.001, band_rows=5, precision="single"))
    run_simulation(sim, 600.0, 300.0)
    assert sim.state.steps > 100
    assert max(np.abs(sim.state.qx).max(), np.abs(sim.state.qy).max()) == 0.0
    assert np.array_equal(sim.state.h, h0.astype(np.float32))
    assert sim.balance.rounding == 0.0


def test_tilted_plane_single_matches_double_and_kinematic_wave():
    """Eagleson's plane (tests/validation/test_tilted_plane.py): the steady outflow i L within 1 % in
    single precision too, and the depths within 1e-5 m of double."""
    n_cells, dx, slope, n, rain = 100, 2.0, 0.01, 0.03, 50.0
    x = (np.arange(n_cells) + 0.5) * dx
    z = np.tile(slope * (n_cells * dx - x), (3, 1))

    def make(precision):
        return Simulation(Grid.from_array(z, dx), rainfall=Hyetograph.block(rain, 4000.0), manning=n,
                          boundaries=[Boundary("east", "free", slope=slope)],
                          params=SolverParams(cfl=0.7, hmin=1e-4, precision=precision))

    runs = _both(make, 3000.0, 100.0)
    (sd, _), (ss, dss) = runs["double"], runs["single"]
    steady = rain / 3.6e6 * n_cells * dx * 3 * dx            # i L × width [m³/s]
    q_out = np.diff(dss["volume_boundary_out"].values[-3:]) / 100.0
    assert np.all(np.abs(q_out / steady - 1) < 0.01)
    dh = float(np.max(np.abs(ss.state.h_max.astype(np.float64) - sd.state.h_max)))
    closure, rounding = _closure_and_rounding(ss)
    print(f"tilted plane: max |dh_max| {dh:.2e} m, closure {closure:.1e}, rounding {rounding:.1e}")
    assert dh < 1e-5
    assert abs(closure) < 1e-9
    assert abs(rounding) < 1e-6


def test_wave_front_single_matches_double():
    """Hunter et al. (2005) moving front (tests/validation/test_wave_front.py), shortened to 1200 s: the
    single-precision profile is within 0.2 mm of double's."""
    n_cells, dx, n_man = 200, 25.0, 0.01
    knots = np.arange(0.0, 1210.0, 10.0)
    arg = 7.0 / 3.0 * n_man ** 2 * (knots + 0.5 * dx)
    level = TimeSeries(knots, np.maximum(arg, 0.0) ** (3.0 / 7.0), name="inlet level")

    def make(precision):
        return Simulation(Grid.from_array(np.zeros((3, n_cells)), dx), manning=n_man,
                          boundaries=[Boundary("west", "level", level=level)],
                          params=SolverParams(cfl=0.7, hmin=0.001, precision=precision))

    runs = _both(make, 1200.0, 600.0)
    hd, hs = runs["double"][0].state.h, runs["single"][0].state.h.astype(np.float64)
    assert hd.max() > 0.5
    dh = float(np.max(np.abs(hs - hd)))
    closure, rounding = _closure_and_rounding(runs["single"][0])
    print(f"wave front: max |dh| {dh:.2e} m, closure {closure:.1e}, rounding {rounding:.1e}")
    assert dh < 2e-4
    assert abs(closure) < 1e-9
    assert abs(rounding) < 1e-6


@pytest.mark.parametrize("buildings", [False, True])
def test_closed_basin_rain_infiltration_roofs_single(buildings):
    """A closed basin under rain with Green–Ampt infiltration (and buildings whose roof rain runs to the
    ground): every drop is accounted for in single precision (closure < 1e-9 with the rounding term),
    and the maximum depths stay within 1 mm of double (measured 0.09 mm: a wet/dry front cell)."""
    rng = np.random.default_rng(5)
    z = np.cumsum(rng.normal(0, 0.05, (30, 36)), axis=1)
    blocked = (rng.random(z.shape) < 0.05) if buildings else None

    def make(precision):
        return Simulation(Grid.from_array(z, 2.0), rainfall=Hyetograph.block(80.0, 900.0), blocked=blocked,
                          infiltration=GreenAmpt(ks=5e-6, psi=0.1, dtheta=0.3),
                          params=SolverParams(band_rows=7, precision=precision))

    runs = _both(make, 1200.0, 600.0)
    (sd, _), (ss, _) = runs["double"], runs["single"]
    dh = float(np.max(np.abs(ss.state.h_max.astype(np.float64) - sd.state.h_max)))
    closure, rounding = _closure_and_rounding(ss)
    print(f"closed basin (buildings={buildings}): max |dh_max| {dh:.2e} m, closure {closure:.1e}, "
          f"rounding {rounding:.1e}")
    assert ss.balance.infiltration == pytest.approx(sd.balance.infiltration, rel=1e-5)
    assert dh < 1e-3
    assert abs(closure) < 1e-9
    assert abs(rounding) < 1e-5


def test_merewether_cloudburst_single_vs_double_at_the_gauges():
    """The bundled cloudburst on the real 1 m Merewether grid (133,463 cells), both precisions end to
    end: the gauges' maximum depths agree within 5 mm (measured: < 0.2 mm everywhere), the balance
    closes (< 1e-6; measured 9e-11) and the float32 rounding stays small (measured ~2e-6)."""
    sc = coarsened(SCENARIOS / "merewether_cloudburst.toml", 1)
    out = {}
    for precision in PRECISIONS:
        s = sc.model_copy(update={"simulation": sc.simulation.model_copy(update={"precision": precision})})
        out[precision] = run_scenario(s, write=False, compare_to_baseline=False)
    gd, gs = out["double"].summary.gauges, out["single"].summary.gauges
    assert gd and set(gd) == set(gs)
    for name in gd:
        if gd[name] == "dry":
            assert gs[name] == "dry" or gs[name]["max_depth_m"] < 0.01
            continue
        assert abs(gs[name]["max_depth_m"] - gd[name]["max_depth_m"]) < 0.005, name
    md, ms = out["double"].dataset["max_depth"].values, out["single"].dataset["max_depth"].values
    diff = float(np.nanmax(np.abs(ms - md)))
    bs = out["single"].summary.volume_balance_m3
    print(f"Merewether: max |dh_max| {diff * 1000:.3f} mm over the grid, closure {bs['relative_error']:.1e}, "
          f"rounding {bs.get('rounding', float('nan')):.3g} m³")
    assert diff < 0.005
    assert abs(bs["relative_error"]) < 1e-6
    assert out["single"].summary.steps == pytest.approx(out["double"].summary.steps, rel=0.01)


def test_single_precision_rounding_limit_stops_the_run():
    """A rounding share beyond ``max_relative_rounding`` stops the run with the fix in the message."""
    from floodsim.errors import MassBalanceError

    z = np.full((20, 20), 0.0)
    sim = Simulation(Grid.from_array(z, 1.0), rainfall=Hyetograph.block(1.0, 600.0), initial_depth=30.0,
                     params=SolverParams(precision="single", max_relative_rounding=1e-12))
    with pytest.raises(MassBalanceError, match='precision = "double"'):
        run_simulation(sim, 600.0, 300.0)


def test_coarse_merewether_model_builds_single():
    """``[simulation] precision`` reaches the solver through the scenario (build_model)."""
    sc = coarsened(SCENARIOS / "merewether_cloudburst.toml", 8, precision="single")
    sim = build_model(sc).simulation
    assert sim.params.precision == "single" and sim.state.h.dtype == np.float32
