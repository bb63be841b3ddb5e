"""Run a Merewether-like grid for a number of steps and save the full solver state (helper process).

Used by ``tests/unit/test_kernel_targets.py`` in fresh processes, one per kernel code form
(``FLOODSIM_KERNEL_FORM``), compile target (``NUMBA_CPU_NAME``) or ``NUMBA_DISABLE_JIT``, which numba
and floodsim read at import. Usage::

    python tests/unit/kernel_state_run.py OUT.npz [--n 48] [--steps 120]

The grid is an urban block of the benchmark terrain: a street grid and closed depressions, building
footprints (blocked cells), a nodata corner, Manning's n per cell, Green-Ampt infiltration, a storm
that varies in space (rainfall raster) and a free outflow edge, so every branch of the flux sweep,
the depth update, the infiltration and the running maxima is taken. The state saved is everything
``Simulation.get_state`` returns (depths, face discharges, maxima and their times, infiltration,
band flags, balance), plus the form and target the kernels were compiled in.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def build(n: int):
    """The Merewether-like test simulation on an ``n`` x ``n`` grid, dx = 2 m."""
    from floodsim.core import Boundary, GreenAmpt, Grid, RainfallRaster, Simulation, SolverParams
    from floodsim.run.bench import make_terrain

    z = make_terrain(n) - 0.4 * np.exp(-(((np.arange(n)[:, None] - n / 2) ** 2
                                         + (np.arange(n)[None, :] - n / 3) ** 2) / (0.05 * n * n)))
    z[: n // 8, : n // 8] = np.nan                                 # nodata corner
    blocked = np.zeros((n, n), bool)
    for i0 in range(n // 6, n - 6, 12):                          # building footprints
        for j0 in range(n // 5, n - 6, 14):
            blocked[i0:i0 + 5, j0:j0 + 7] = True
    rng = np.random.default_rng(7)
    manning = np.where(rng.random((n, n)) < 0.3, 0.05, 0.016)     # grass and asphalt
    y = np.linspace(0.5, 1.5, n)[:, None] * np.ones((1, n))
    frames = np.stack([150.0 * y, 250.0 * y[::-1], 40.0 * y]) / 1000.0 / 3600.0    # mm/h -> m/s
    rain = RainfallRaster(times=np.array([0.0, 120.0, 300.0]), intensity=frames, end=600.0)
    return Simulation(Grid.from_array(z, dx=2.0), rainfall=rain, manning=manning, blocked=blocked,
                      infiltration=GreenAmpt.from_texture("sandy loam", 0.3),
                      boundaries=[Boundary("south", "free", slope=0.005)], params=SolverParams())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--n", type=int, default=48)
    ap.add_argument("--steps", type=int, default=120)
    args = ap.parse_args(argv)
    sim = build(args.n)
    for _ in range(args.steps):
        sim.step()
    state = sim.get_state()
    from floodsim.kernels._jit import JIT_DISABLED, KERNEL_FORM, compile_target

    arrays = {f"arrays.{k}": v for k, v in state["arrays"].items()}
    arrays.update({f"bands.{k}": v for k, v in state["bands"].items()})
    meta = {"t": state["t"], "steps": state["steps"], "balance": state["balance"], "form": KERNEL_FORM,
            "jit_disabled": JIT_DISABLED, "target": compile_target()["cpu"]}
    np.savez(args.out, meta=np.array(json.dumps(meta)), **arrays)
    return 0


if __name__ == "__main__":
    sys.exit(main())
