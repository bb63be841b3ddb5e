"""Green–Ampt infiltration under deep ponding in a flat closed basin.

Reference: ponded Green–Ampt from t = 0 (Green & Ampt 1911; Chow, Maidment & Mays 1988, eq. 4.3.8),
Ks t = F - S ln(1 + F/S), S = psi dtheta, solved with scipy brentq; soil "sandy loam" of Rawls,
Brakensiek & Miller (1983) via GreenAmpt.from_texture. With 0.5 m of water the soil is ponded
throughout, so volume_infiltration(t) = ncells × cell_area × F(t).
"""

import numpy as np
import pytest
from scipy.optimize import brentq

from floodsim import GreenAmpt, Grid, Simulation, SolverParams
from floodsim.run.recorder import run_simulation


def green_ampt_F(t, ks, S):
    if t == 0:
        return 0.0
    return brentq(lambda F: F - S * np.log1p(F / S) - ks * t, 0.0, ks * t + np.sqrt(2 * S * ks * t) + 2 * ks * t,
                  xtol=1e-16, rtol=4 * np.finfo(float).eps, maxiter=500)


def test_green_ampt_ponded_flat_basin():
    soil = GreenAmpt.from_texture("sandy loam", initial_saturation=0.3)
    ks, S = float(soil.ks), float(soil.psi) * float(soil.dtheta)
    shape, dx = (12, 15), 10.0
    sim = Simulation(Grid.from_array(np.zeros(shape), dx), infiltration=soil, initial_depth=0.5,
                     params=SolverParams(cfl=0.7, theta=0.8, hmin=0.001, dt_max=5.0))
    ds = run_simulation(sim, 7200.0, 600.0)
    area = shape[0] * shape[1] * dx * dx
    expected = np.array([area * green_ampt_F(t, ks, S) for t in ds["time"].values])
    got = ds["volume_infiltration"].values
    rel = np.max(np.abs(got[1:] - expected[1:]) / expected[1:])
    print(f"Green-Ampt ponded: F(2 h) = {expected[-1] / area * 1000:.3f} mm, max rel. error = {rel:.3e}, "
          f"volume error = {ds.attrs['relative_volume_error']:.3e}")
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-12)
    assert abs(ds.attrs["relative_volume_error"]) < 1e-10
    # still flat: uniform depth equal to 0.5 - F
    np.testing.assert_allclose(sim.state.h, 0.5 - expected[-1] / area, rtol=1e-9)
