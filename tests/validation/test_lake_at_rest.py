"""Lake at rest (well-balancedness, "C-property"; Bermúdez & Vázquez 1994, Comput. Fluids 23,
1049-1071; the standard still-water test of Audusse et al. 2004, SIAM J. Sci. Comput. 25, 2050):
a flat water surface over rough terrain with emerged islands must stay exactly at rest. Reference:
the exact steady solution u = 0, eta = const.
"""

import numpy as np
import pytest

from floodsim import Boundary, Grid, Simulation, SolverParams
from floodsim.run.recorder import run_simulation


def _terrain(seed=11, shape=(24, 30)):
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.0, 1.6, shape)
    # a few high islands well above the water surface, and spikes just above it
    z[rng.random(shape) < 0.08] = 2.5
    z[rng.random(shape) < 0.05] = 1.0 + 1.0 / 1024
    # dyadic bed levels make z + (eta - z) == eta exact, so any flux is a scheme defect
    return np.round(z * 1024) / 1024


@pytest.mark.parametrize("with_level_boundary", [False, True])
def test_lake_at_rest(with_level_boundary):
    """600 s of still water at eta = 1 m over random terrain (islands, band_rows=5 so band edges
    cut through the lake): max |q| < 1e-10 m²/s, depth unchanged to 1e-12 m, volume error < 1e-12.
    Also with a west water-level boundary held at the same level (no exchange expected)."""
    z = _terrain()
    eta = 1.0
    h0 = np.maximum(eta - z, 0.0)
    assert (h0 == 0).mean() > 0.1 and (h0 > 0).mean() > 0.5
    bounds = [Boundary("west", "level", level=eta)] if with_level_boundary else []
    sim = Simulation(Grid.from_array(z, 5.0), manning=0.03, initial_depth=h0, boundaries=bounds,
                     params=SolverParams(cfl=0.7, theta=0.8, hmin=0.001, dt_max=5.0, band_rows=5))
    ds = run_simulation(sim, 600.0, 300.0)
    qmax = max(np.abs(sim.state.qx).max(), np.abs(sim.state.qy).max())
    dh = np.abs(sim.state.h - h0).max()
    print(f"lake at rest: max|q| = {qmax:.3e} m2/s, max|dh| = {dh:.3e} m, "
          f"rel. volume error = {ds.attrs['relative_volume_error']:.3e}, steps = {sim.state.steps}")
    assert sim.state.steps > 100
    assert qmax < 1e-10
    assert dh < 1e-12
    assert abs(ds.attrs["relative_volume_error"]) < 1e-12
    assert float(np.nanmax(ds["max_speed"])) < 1e-9
