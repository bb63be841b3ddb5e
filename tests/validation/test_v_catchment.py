"""The tilted V-catchment benchmark.

Di Giammarco, P., Todini, E., Lamberti, P. (1996). A conservative finite elements approach to
overland flow: the control volume finite element formulation. J. Hydrol. 175, 267-291; also used by
Kollet, S.J., Maxwell, R.M. (2006). Integrated surface-groundwater flow modeling: a free-surface
overland flow boundary condition in a parallel groundwater flow model. Adv. Water Resour. 29, 945-958.

Two planes 800 m x 1000 m, slope 0.05 towards a 20 m wide channel and 0.02 along it (n = 0.015),
channel slope 0.02 over 1000 m (n = 0.15), rain 3e-6 m/s (10.8 mm/h) for 90 min, run 180 min.
Grid dx = 20 m: 81 columns x 50 rows, channel one cell wide, outflow (normal depth, slope 0.02)
only at the channel's downstream cell.

Reference, computed in the test (kinematic wave, as in the benchmark literature):
* planes: analytical kinematic-wave outflow per unit width of a 1-D plane (slope 0.05, n = 0.015):
  rising limb alpha (i t)^m, equilibrium i L, recession from equilibrium by the characteristic
  L = alpha h^m / i + m alpha h^(m-1) (t - t_r) (brentq); the 0.02 cross slope is ignored;
* channel: 1-D kinematic wave (wide channel, q = sqrt(S)/n h^(5/3)) with that lateral inflow (both
  planes) plus rain on the channel, solved by a fine explicit upwind scheme (200 cells, dt = 1 s).
Steady outflow: 3e-6 m/s x 1 620 000 m^2 = 4.86 m^3/s.
Tolerances: NSE > 0.9 and peak within 5 %: the model is local-inertial (not kinematic), the planes
are 40 cells with flow partly along the 0.02 cross slope, and the 20 m channel cell receives plane
water over a cell-wide step rather than a line.
"""

import numpy as np
import pytest
from scipy.optimize import brentq

from floodsim import Boundary, Grid, Hyetograph, Simulation, SolverParams
from floodsim.run.recorder import run_simulation
from conftest import nash_sutcliffe, outflow_rate

DX = 20.0
NY, NX, JC = 50, 81, 40
S_PLANE, S_CHAN, N_PLANE, N_CHAN = 0.05, 0.02, 0.015, 0.15
RAIN = 3e-6
T_RAIN, T_END = 90 * 60.0, 180 * 60.0
L_PLANE, L_CHAN, W_CHAN = 800.0, 1000.0, 20.0


def plane_outflow(t):
    """Kinematic-wave unit-width outflow of one plane [m²/s] at times t."""
    a, m, L, i = np.sqrt(S_PLANE) / N_PLANE, 5.0 / 3.0, L_PLANE, RAIN
    t_c = (L / (a * i ** (m - 1))) ** (1 / m)
    assert t_c < T_RAIN
    out = np.empty_like(t, dtype=float)
    for k, tk in enumerate(np.atleast_1d(t)):
        if tk <= T_RAIN:
            out[k] = a * (i * min(tk, t_c)) ** m
        else:
            f = lambda h: a * h ** m / i + m * a * h ** (m - 1) * (tk - T_RAIN) - L  # noqa: E731
            h = brentq(f, 0.0, (i * L / a) ** (1 / m) * 1.0000001, xtol=1e-14)
            out[k] = a * h ** m
    return out


def channel_reference(times, n_cells=200, dt=1.0):
    """Outflow [m³/s] of the 1-D kinematic-wave channel (explicit upwind) at ``times``."""
    dxc = L_CHAN / n_cells
    a = np.sqrt(S_CHAN) / N_CHAN
    h = np.zeros(n_cells)
    t_grid = np.arange(0.0, T_END + dt, dt)
    lateral = 2 * plane_outflow(t_grid + 0.5 * dt)                 # both planes [m²/s per m of channel]
    Q = np.zeros(t_grid.size)
    for k in range(t_grid.size - 1):
        q = a * h ** (5 / 3) * W_CHAN
        assert a * 5 / 3 * np.max(h) ** (2 / 3) * dt / dxc < 1.0     # Courant
        inflow = np.concatenate(([0.0], q[:-1]))
        rain = RAIN * W_CHAN if t_grid[k] < T_RAIN else 0.0
        h += dt * ((inflow - q) / dxc + lateral[k] + rain) / W_CHAN
        Q[k + 1] = a * h[-1] ** (5 / 3) * W_CHAN
    return np.interp(times, t_grid, Q)


def v_catchment_grid():
    x_dist = np.abs(np.arange(NX) - JC) * DX                     # distance from the channel centre
    y_up = (NY - 1 - np.arange(NY))[:, None] * DX                 # distance up the channel from outlet
    z = S_CHAN * y_up + S_PLANE * x_dist[None, :]
    z[:, JC] = S_CHAN * y_up[:, 0]
    return z


def test_v_catchment_hydrograph():
    """Hydrograph at the outlet vs the kinematic-wave reference (runs in ~11 s, so not marked slow)."""
    z = v_catchment_grid()
    manning = np.full((NY, NX), N_PLANE)
    manning[:, JC] = N_CHAN
    outlet = np.zeros((NY, NX), bool)
    outlet[NY - 1, JC] = True
    sim = Simulation(Grid.from_array(z, DX), rainfall=Hyetograph(np.array([0.0]), np.array([RAIN]), T_RAIN),
                     manning=manning, boundaries=[Boundary("south", "free", slope=S_CHAN, cells=outlet)],
                     params=SolverParams(cfl=0.7, theta=0.8, hmin=1e-4, dt_max=5.0))
    ds = run_simulation(sim, T_END, 60.0)
    t, Q = outflow_rate(ds)
    Q_ref = channel_reference(t)
    nse = nash_sutcliffe(Q, Q_ref)
    peak_err = Q.max() / Q_ref.max() - 1
    print(f"V-catchment: peak model {Q.max():.3f} m3/s, reference {Q_ref.max():.3f} m3/s "
          f"(error {peak_err:+.3%}), equilibrium 4.86 m3/s, NSE = {nse:.4f}, "
          f"volume error = {ds.attrs['relative_volume_error']:.2e}, steps = {sim.state.steps}")
    assert 1620 * 1000 * RAIN == pytest.approx(4.86)
    assert abs(ds.attrs["relative_volume_error"]) < 1e-10
    assert Q_ref.max() <= 4.86 * 1.001
    assert nse > 0.9
    assert abs(peak_err) < 0.05
