"""The CUDA backend computes what the CPU backend computes, to round-off, in float64.

Each case runs the same model with ``backend="cpu"`` and ``backend="cuda"`` (the CUDA kernels in numba's
simulator, see conftest.py) through the output loop (:func:`floodsim.run.recorder.run_simulation`), and
compares every state array, the volume balance and the recorded depth frames: equal within 1e-12 of
their largest value (measured: ~1e-15; the compilers fuse different multiply-adds and the device's cube
root differs from the CPU's in the last bits). The cases are small versions of the analytic suite
(tests/validation) and a coarsened Merewether, so every path of the step is taken: rain (uniform and a
raster), Green–Ampt and Horton infiltration, buildings with roof rain to the ground and drained, an
inflow hydrograph, free (normal depth), critical and water-level boundaries, the positivity repair, and
a measure acting during the run (operators on a host copy of the depths). The cases take a ``precision``
(default ``"double"``, what these tests compare); test_cuda_single.py runs them in ``"single"``.
"""

from __future__ import annotations

import numpy as np
import pytest

from floodsim import (Boundary, GreenAmpt, Grid, Horton, Hyetograph, Inflow, RainfallRaster, Simulation,
                      SolverParams, TimeSeries)
from floodsim.run.recorder import run_simulation

from .conftest import assert_same_state

SHAPE = (14, 16)


def _params(backend, precision="double", **kw):
    return SolverParams(cfl=0.7, theta=0.8, hmin=0.001, dt_max=5.0, band_rows=5, backend=backend,
                        precision=precision, **kw)


def _basin(seed=5, shape=SHAPE):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:shape[0], 0:shape[1]]
    return 0.002 * ((x - shape[1] / 2) ** 2 + (y - shape[0] / 2) ** 2) + rng.uniform(0.0, 0.3, shape)


def _buildings():
    blocked = np.zeros(SHAPE, bool)
    blocked[3:5, 4:7] = True
    blocked[9, 10:13] = True
    return blocked


def rain_basin(backend, precision="double"):
    """Closed basin, 120 mm/h for 10 min (tests/validation/test_closed_basin_balance.py, smaller)."""
    return Simulation(Grid.from_array(_basin(), 4.0), rainfall=Hyetograph.block(120.0, 600.0), manning=0.04,
                      params=_params(backend, precision)), 450.0, 150.0


def green_ampt_buildings_inflow(backend, precision="double"):
    """Green–Ampt, buildings whose roofs drain to the nearest ground cell, a triangular inflow."""
    cells = np.zeros(SHAPE, bool)
    cells[1:3, 1:3] = True
    inflow = Inflow("culvert", cells=cells, discharge=TimeSeries([0, 200, 400], [0.0, 0.2, 0.0]))
    return Simulation(Grid.from_array(_basin(), 4.0), rainfall=Hyetograph.block(200.0, 600.0), manning=0.04,
                      infiltration=GreenAmpt(ks=5e-6, psi=0.11, dtheta=0.3), blocked=_buildings(),
                      inflows=[inflow], params=_params(backend, precision)), 600.0, 300.0


def horton_raster_drained_roofs(backend, precision="double"):
    """Horton infiltration with a sealed strip, a moving rain raster, roofs drained, Manning per cell,
    free outflow south."""
    ny, nx = SHAPE
    frames = np.zeros((3, ny, nx))
    frames[0, :, : nx // 2] = 150.0 / 3.6e6
    frames[1, :, nx // 2:] = 250.0 / 3.6e6
    frames[2] = 40.0 / 3.6e6
    rain = RainfallRaster(np.array([0.0, 200.0, 400.0]), frames, end=600.0)
    impervious = np.zeros(SHAPE, bool)
    impervious[:, 7:9] = True
    manning = np.where(impervious, 0.015, 0.05)
    z = _basin(7) + 0.01 * np.arange(ny)[::-1, None]
    return Simulation(Grid.from_array(z, 3.0), rainfall=rain, manning=manning,
                      infiltration=Horton(f0=40.0 / 3.6e6, fc=5.0 / 3.6e6, k=2e-3), impervious=impervious,
                      blocked=_buildings(), roof_rain="drain", boundaries=[Boundary("south", "free", slope=0.01)],
                      params=_params(backend, precision)), 500.0, 250.0


def dam_break(backend, precision="double"):
    """A 1 m water column released on a flat frictional bed; free outflow east, critical north (the
    front's outflows overdraw cells: the positivity repair acts in most steps)."""
    h0 = np.zeros((12, 30))
    h0[:, :10] = 1.0
    return Simulation(Grid.from_array(np.zeros((12, 30)), 2.0), manning=0.02, initial_depth=h0,
                      boundaries=[Boundary("east", "free", slope=0.01), Boundary("north", "critical")],
                      params=_params(backend, precision)), 30.0, 10.0


def lake_with_tide(backend, precision="double"):
    """Still water over rough terrain with islands (tests/validation/test_lake_at_rest.py) and a west
    water-level boundary that rises and falls."""
    rng = np.random.default_rng(11)
    z = rng.uniform(0.0, 1.6, (12, 15))
    z[rng.random(z.shape) < 0.08] = 2.5
    z = np.round(z * 1024) / 1024
    level = TimeSeries([0.0, 100.0, 200.0], [1.0, 1.2, 0.9])
    return Simulation(Grid.from_array(z, 5.0), manning=0.03, initial_depth=np.maximum(1.0 - z, 0.0),
                      boundaries=[Boundary("west", "level", level=level)], params=_params(backend, precision)), 200.0, 100.0


CASES = [rain_basin, green_ampt_buildings_inflow, horton_raster_drained_roofs, dam_break, lake_with_tide]


def _run_both(make, precision="double"):
    runs = {}
    for backend in ("cpu", "cuda"):
        sim, duration, interval = make(backend, precision)
        runs[backend] = (sim, run_simulation(sim, duration, interval))
    return runs


@pytest.mark.parametrize("make", CASES, ids=[c.__name__ for c in CASES])
def test_cuda_matches_cpu(make):
    runs = _run_both(make)
    (cpu, ds_cpu), (gpu, ds_gpu) = runs["cpu"], runs["cuda"]
    diffs = assert_same_state(cpu, gpu)
    depth_cpu, depth_gpu = ds_cpu["depth"].values, ds_gpu["depth"].values
    np.testing.assert_allclose(depth_gpu, depth_cpu, rtol=0, atol=2.0 ** -22 * float(np.nanmax(depth_cpu)))
    for name in ("volume_rain", "volume_boundary_out", "volume_infiltration", "volume_stored"):
        if name in ds_cpu:
            np.testing.assert_allclose(ds_gpu[name].values, ds_cpu[name].values, rtol=1e-12, atol=1e-12)
    print(f"{make.__name__}: {cpu.state.steps} steps, repairs on the device {gpu._device.repairs}, "
          + ", ".join(f"{k} {v[0]:.1e}/{v[1]:.1e}" if isinstance(v, tuple) else f"{k} {v:.3g}"
                      for k, v in diffs.items()))
    assert cpu.state.steps > 50
    if make is dam_break:
        assert gpu._device.repairs > 0   # the device repair was exercised and matched
