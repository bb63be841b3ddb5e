"""``floodsim bench``: a short solver throughput benchmark on a synthetic DEM (cell-updates per second).

Throughput = cells × solver time steps / wall seconds, with Numba compilation excluded (every kernel is
compiled on a 40 × 40 grid first). When run from a source checkout, the terrain, storm and set-up are
those of ``benchmarks/bench_core.py`` (a tilted, undulating urban-ish plane with a street grid, 100 mm/h
rain, free outflow south), so the numbers are comparable with ``benchmarks/README.md``; otherwise a
self-contained copy of that set-up is used. For the full benchmark (Landlab peer, memory, Merewether
end to end) run ``python benchmarks/bench_core.py``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path

from .cli import EXIT_INPUT, EXIT_OK

_BENCH_CORE = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_core.py"


def _bench_core():
    """benchmarks/bench_core.py as a module, or None outside a source checkout."""
    if not _BENCH_CORE.exists():
        return None
    try:
        spec = importlib.util.spec_from_file_location("floodsim_bench_core", _BENCH_CORE)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        mod.make_terrain, mod.build_simulation  # noqa: B018  (the two functions we use)
        return mod
    except Exception:  # noqa: BLE001  a broken or changed script must not break the CLI: fall back
        return None


def _make_terrain(n: int):
    """Self-contained copy of the bench_core terrain: 0.5 % plane to the south, undulation, streets."""
    import numpy as np
    from scipy import ndimage

    rng = np.random.default_rng(20260101 + n)
    i = np.arange(n, dtype=np.float64)[:, None]
    j = np.arange(n, dtype=np.float64)[None, :]
    z = 20.0 + 0.005 * (n - i) + 0.001 * (n - j)
    coarse = ndimage.gaussian_filter(rng.standard_normal((n, n)), sigma=20.0, mode="wrap")
    fine = ndimage.gaussian_filter(rng.standard_normal((n, n)), sigma=5.0, mode="wrap")
    z += 0.30 * coarse / coarse.std() + 0.05 * fine / fine.std()
    street = (np.arange(n) % 60) < 8
    z -= 0.15 * (street[:, None] | street[None, :])
    return np.ascontiguousarray(z)


def _build_simulation(z):
    from . import Boundary, Grid, Hyetograph, Simulation

    return Simulation(Grid.from_array(z, dx=1.0), rainfall=Hyetograph.block(100.0, 1800.0), manning=0.03,
                      boundaries=[Boundary("south", "free", slope=0.005)])


def run_bench(sizes=(500,), duration_s: float = 300.0) -> dict:
    """Time the solver on N × N synthetic grids; returns a JSON-ready dict (rows per size)."""
    core = _bench_core()
    make_terrain = core.make_terrain if core else _make_terrain
    build = core.build_simulation if core else _build_simulation
    t0 = time.perf_counter()
    warm = build(make_terrain(40))
    warm.advance_to(120.0)
    compile_s = time.perf_counter() - t0
    rows = []
    for n in sizes:
        sim = build(make_terrain(n))
        t0 = time.perf_counter()
        sim.advance_to(duration_s)
        wall = time.perf_counter() - t0
        sim.check_finite()
        steps = sim.state.steps
        rows.append({"n": n, "cells": n * n, "simulated_s": duration_s, "steps": steps, "wall_s": wall,
                     "cell_updates_per_s": n * n * steps / wall})
    import numba

    return {"benchmark": "floodsim bench", "setup": "benchmarks/bench_core.py" if core else "built-in copy",
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


def cmd_bench(args) -> int:
    # The OpenMP wait policy is left as `floodsim run` gets it, so the figure is what a run sees. On a
    # machine that other processes load, OMP_WAIT_POLICY=passive can be faster (benchmarks/README.md).
    if any(n < 40 for n in args.sizes) or args.duration <= 0:
        print("floodsim: error: bench: --sizes must be ≥ 40 and --duration > 0.", file=sys.stderr)
        return EXIT_INPUT
    result = run_bench(tuple(args.sizes), args.duration)
    print(json.dumps(result, indent=2) if args.json else format_bench(result))
    return EXIT_OK


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("bench", help="short solver throughput benchmark (cell-updates per second)",
                       description=__doc__.split("\n\n")[0] + " See benchmarks/README.md for the full suite.")
    p.add_argument("--sizes", type=int, nargs="+", default=[500], metavar="N",
                   help="grid sizes N (N × N cells of 1 m; default 500)")
    p.add_argument("--duration", type=float, default=300.0, metavar="SECONDS",
                   help="simulated time per size [s] (default 300)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_bench)
    return p
