"""Roof rain routed with per-ground-cell counts (uniform rain) is the pair-by-pair routing, bit for bit.

A run with uniform rain keeps only the ground cells that take roof rain and how many roofs drain to each
(:func:`floodsim.kernels.sources.route_uniform_roof_rain`), not a (roof, ground) pair per roof cell (two
int64 per roof: a quarter of a city's cells). Same additions, same order per cell, and the same fused
multiply-add as the pair kernel's contracted ``h + rate·dt``: the depths must be identical.
"""

from __future__ import annotations

import numpy as np
import pytest

from floodsim import Grid, Hyetograph, Simulation
from floodsim.core import SolverParams
from floodsim.kernels.sources import route_roof_rain, route_uniform_roof_rain


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_counts_route_as_pairs(dtype):
    rng = np.random.default_rng(3)
    ny, nx = 80, 90
    src = np.sort(rng.choice(ny * nx, 2000, replace=False)).astype(np.int64)
    dst = rng.integers(0, ny * nx, 2000).astype(np.int64)
    cells, counts = np.unique(dst, return_counts=True)
    for _ in range(10):
        h0 = (rng.random((ny, nx)) * 0.1).astype(dtype)
        h0[rng.random((ny, nx)) < 0.5] = 0.0
        rate, dt = float(rng.random() * 3e-5), float(rng.random() * 0.5)
        pairs, counted = h0.copy(), h0.copy()
        r_pairs = route_roof_rain(pairs, src, dst, rate, np.zeros((1, 1)), dt)
        r_counted = route_uniform_roof_rain(counted, cells, counts, rate, dt)
        np.testing.assert_array_equal(counted, pairs)
        assert r_counted == pytest.approx(r_pairs, rel=1e-9, abs=1e-18)   # (summed in another order)
        assert (r_pairs == 0.0) == (dtype == np.float64)


def test_simulation_keeps_counts_not_pairs():
    z = np.fromfunction(lambda i, j: 0.01 * i + 0.003 * j, (60, 50))
    blocked = np.zeros(z.shape, bool)
    blocked[10:20, 10:25] = True
    blocked[30:40, 5:9] = True
    sim = Simulation(Grid.from_array(z, dx=1.0), rainfall=Hyetograph.block(60.0, 600.0), blocked=blocked,
                     params=SolverParams())
    assert sim._roof_pairs is None and sim.roof_cells == int(blocked.sum())
    src, dst = sim.roof_pairs()
    assert src.size == sim.roof_cells
    np.testing.assert_array_equal(np.unique(dst, return_counts=True), (sim.roof_dst_cells, sim.roof_count))
    sim.advance_to(600.0)
    # all the rain, roofs included, is on the ground or gone: the balance closes
    balance = sim.balance.as_dict(sim.total_volume())
    assert abs(balance["relative_error"]) < 1e-12
    assert sim.state.h[blocked].max() == 0.0
