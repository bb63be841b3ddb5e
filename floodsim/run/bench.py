"""The benchmark set-up: one synthetic urban-ish terrain and storm, shared by ``floodsim bench`` and the
scripts in ``benchmarks/`` (so their figures are comparable).

Throughput = cells × solver time steps / wall seconds, with Numba compilation excluded (every kernel is
compiled on a 40 × 40 grid first).
"""

from __future__ import annotations

import os
import platform
import time

import numpy as np
from scipy import ndimage

RAIN_MM_H = 100.0
STORM_S = 1800.0
QUICK_S = 300.0
MANNING = 0.03
DX = 1.0
PLANE_SLOPE = 0.005      # north-to-south tilt [-]; the south edge is the lowest
CROSS_SLOPE = 0.001      # slight west-to-east tilt [-]
SEED = 20260101


def make_terrain(n: int, seed: int = SEED) -> np.ndarray:
    """Synthetic urban-ish DEM (n, n) [m], dx = 1 m, row 0 = north.

    A plane falling 0.5 % to the south (and 0.1 % to the east), smooth random undulation (two scales,
    correlation ~20 m and ~5 m, std ~0.3 m and ~0.05 m) that creates closed depressions where water
    ponds, and a street grid (8 m wide streets every 60 m, 0.15 m below the blocks) that carries the
    runoff. Seeded, so every run on a given size sees the same terrain.
    """
    rng = np.random.default_rng(seed + n)
    i = np.arange(n, dtype=np.float64)[:, None] * DX
    j = np.arange(n, dtype=np.float64)[None, :] * DX
    z = 20.0 + PLANE_SLOPE * (n * DX - i) + CROSS_SLOPE * (n * DX - j)
    coarse = ndimage.gaussian_filter(rng.standard_normal((n, n)), sigma=20.0 / DX, mode="wrap")
    fine = ndimage.gaussian_filter(rng.standard_normal((n, n)), sigma=5.0 / DX, mode="wrap")
    z += 0.30 * coarse / coarse.std() + 0.05 * fine / fine.std()
    street = ((np.arange(n) % 60) < 8)
    z -= 0.15 * (street[:, None] | street[None, :])
    return np.ascontiguousarray(z)


def build_simulation(z: np.ndarray, **solver_overrides):
    """The benchmark simulation on terrain ``z``: a 100 mm/h block storm for 30 min, Manning n 0.03, free
    outflow (normal depth) on the south edge; ``solver_overrides`` go to :class:`SolverParams`."""
    from ..core import Boundary, Grid, Hyetograph, Simulation, SolverParams

    grid = Grid.from_array(z, dx=DX)
    return Simulation(grid, rainfall=Hyetograph.block(RAIN_MM_H, STORM_S), manning=MANNING,
                      boundaries=[Boundary("south", "free", slope=PLANE_SLOPE)],
                      params=SolverParams(**solver_overrides))


def run_bench(sizes=(500,), duration_s: float = 300.0) -> dict:
    """Time the solver on N × N synthetic grids; returns a JSON-ready dict (rows per size)."""
    t0 = time.perf_counter()
    warm = build_simulation(make_terrain(40))
    warm.advance_to(120.0)
    compile_s = time.perf_counter() - t0
    rows = []
    for n in sizes:
        sim = build_simulation(make_terrain(n))
        t0 = time.perf_counter()
        sim.advance_to(duration_s)
        wall = time.perf_counter() - t0
        sim.check_finite()
        steps = sim.state.steps
        rows.append({"n": n, "cells": n * n, "simulated_s": duration_s, "steps": steps, "wall_s": wall,
                     "cell_updates_per_s": n * n * steps / wall})
    import numba

    return {"benchmark": "floodsim bench", "setup": "floodsim.run.bench (as benchmarks/bench_core.py)",
            "compile_s": compile_s, "threads": numba.get_num_threads(), "cpu_count": os.cpu_count(),
            "machine": platform.platform(), "loadavg_1min": os.getloadavg()[0], "rows": rows}


def format_bench(result: dict) -> str:
    lines = [(f"floodsim bench ({result['setup']}; {result['threads']} threads, "
              f"load {result['loadavg_1min']:.2f}; compile {result['compile_s']:.1f} s excluded)"),
             f"{'grid':>10} {'cells':>12} {'steps':>8} {'wall s':>9} {'cell-updates/s':>16}"]
    for r in result["rows"]:
        lines.append(f"{r['n']:>5}×{r['n']:<4} {r['cells']:>12,} {r['steps']:>8,} {r['wall_s']:>9.2f} "
                     f"{r['cell_updates_per_s']:>16.3e}")
    if result["loadavg_1min"] > 0.5 * (result["cpu_count"] or 1):
        lines.append("note: the machine is busy (1-min load above half its cores); these are lower bounds.")
    return "\n".join(lines)
