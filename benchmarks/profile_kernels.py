"""Where a floodsim step spends its time: each kernel timed on its own vs a full ``Simulation.step``.

Usage::

    python benchmarks/profile_kernels.py [--sizes 1000 2000] [--prep 120] [--reps 15] [--dt-max 1]

For each size the bench_core terrain and storm are run to ``--prep`` simulated seconds (so the grid is
wet and flowing), the state is saved, and then every kernel is called ``--reps`` times with the step's
own arguments, restoring h/qx/qy/maxima before each call (outside the timer). Reported: median ms per
call, ns per cell, and the effective memory bandwidth from a minimum-traffic byte model (compulsory
reads + writes per cell, float64 state, float32 maxima) against the ≈30 GB/s the 2-core machine
reaches (design/performance.md). ``step - sum(kernels)`` is the per-step Python overhead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # see bench_core.py

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_core as bc  # noqa: E402

from floodsim.kernels.boundary import apply_boundary_fluxes  # noqa: E402
from floodsim.kernels.continuity import update_depth  # noqa: E402
from floodsim.kernels.inertial import compute_face_fluxes, snapshot_band_edges  # noqa: E402
from floodsim.kernels.positivity import repair_negative_depths  # noqa: E402

BANDWIDTH = 30e9  # bytes/s, 2 threads, design/performance.md

# compulsory bytes per cell (reads + writes), float64 state, uint8 active, float32 maxima
BYTES = {
    "snapshot_band_edges": None,          # filled in per band_rows: 2 rows read + 2 written per band
    "compute_face_fluxes": 8 + 8 + 1 + 16 + 16,   # z, h, active read; qx, qy read+write
    "update_depth": 16 + 8 + 8 + 1 + 8 + 8 + 8,   # h r/w; qx, qy, active; h_max r/w; v_max r/w; t_hmax w
}


def _median_ms(fn, reps, restore):
    ts = []
    for _ in range(reps):
        restore()
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts)) * 1e3, float(np.min(ts)) * 1e3


def profile_size(n: int, prep: float, reps: int) -> dict:
    sim = bc.build_simulation(bc.make_terrain(n))
    sim.advance_to(prep)
    p, s, bw, f = sim.params, sim.state, sim.bands, sim.faces
    cells = n * n
    saved = {k: getattr(s, k).copy() for k in ("h", "qx", "qy", "h_max", "v_max", "t_hmax")}
    t_saved, steps_saved = s.t, s.steps

    def restore():
        for k, v in saved.items():
            getattr(s, k)[...] = v

    dt = sim.courant_dt()
    t = s.t
    z, h, qx, qy = sim.z, s.h, s.qx, s.qy
    bands = np.arange(bw.start.size - 1, dtype=np.int64)
    computed = np.ones(bands.size, np.uint8)
    rate, field_, _ = sim._rain_now(t)
    model, p1, p2, p3 = sim._infil
    wet_bands = int(bw.wet.sum())
    # update_depth grew a scratch argument in 29e3456; pass the band rows if it wants one
    import inspect
    extra = (bw.rows,) if "work" in inspect.signature(update_depth.py_func).parameters else ()

    calls = {
        "snapshot_band_edges": lambda: snapshot_band_edges(qy, bw.start, bw.edge_above, bw.edge_below),
        "compute_face_fluxes": lambda: compute_face_fluxes(
            z, h, sim.active, sim.manning, qx, qy, bands, bw.start, bw.edge_above, bw.edge_below, bw.rows,
            dt, 1.0, 1.0, p.g, p.theta, p.hmin),
        "apply_boundary_fluxes": lambda: apply_boundary_fluxes(
            z, h, sim.manning, qx, qy, f.cell_i, f.cell_j, f.side, f.kind, f.slope, f.level, dt, 1.0, 1.0,
            p.g, p.hmin),
        "update_depth": lambda: update_depth(
            h, qx, qy, sim.active, bw.start, computed, rate, field_, model, s.infil_F, p1, p2, p3, dt, 1.0,
            1.0, t + dt, p.g, p.hmin, s.h_max, s.v_max, s.t_hmax, bw.wet, bw.wave, bw.infil,
            bw.negative, *extra),
    }
    # repair: the state after one flux + depth update, as the step would see it
    restore()
    calls["snapshot_band_edges"]()
    calls["compute_face_fluxes"]()
    calls["apply_boundary_fluxes"]()
    calls["update_depth"]()
    neg_state = {k: getattr(s, k).copy() for k in ("h", "qx", "qy")}
    negative = bw.negative.copy()
    n_negative = int(negative.sum())

    def restore_neg():
        for k, v in neg_state.items():
            getattr(s, k)[...] = v

    calls_repair = lambda: repair_negative_depths(h, qx, qy, sim.active, bw.start, negative, dt, 1.0, 1.0,
                                                  bw.stack)

    out = {"n": n, "cells": cells, "prep_s": prep, "dt": dt, "wet_bands": wet_bands, "bands": int(bands.size),
           "threads": numba.get_num_threads(), "kernels": {}}
    BYTES["snapshot_band_edges"] = 4 * 8 / p.band_rows
    total = 0.0
    for name, fn in calls.items():
        med, best = _median_ms(fn, reps, restore)
        total += med
        row = {"ms": med, "best_ms": best, "ns_per_cell": med * 1e6 / cells}
        if BYTES.get(name):
            row["bytes_per_cell"] = BYTES[name]
            row["GB_s"] = BYTES[name] * cells / (med * 1e-3) / 1e9
            row["fraction_of_30GB_s"] = row["GB_s"] * 1e9 / BANDWIDTH
        out["kernels"][name] = row
    med, best = _median_ms(calls_repair, reps, restore_neg)
    out["kernels"]["repair_negative_depths"] = {"ms": med, "best_ms": best, "ns_per_cell": med * 1e6 / cells,
                                               "negative_cells": n_negative}
    total += med if n_negative else 0.0

    # single-thread numbers for the two parallel kernels
    numba.set_num_threads(1)
    for name in ("compute_face_fluxes", "update_depth"):
        med, _ = _median_ms(calls[name], reps, restore)
        out["kernels"][name]["ms_1thread"] = med
        out["kernels"][name]["speedup_2_vs_1"] = med / out["kernels"][name]["ms"]
    numba.set_num_threads(out["threads"])

    # the full step, from the same state
    def restore_full():
        restore()
        s.t, s.steps = t_saved, steps_saved
    step_med, step_best = _median_ms(lambda: sim.step(), reps, restore_full)
    out["step_ms"] = step_med
    out["step_ns_per_cell"] = step_med * 1e6 / cells
    out["kernels_sum_ms"] = total
    out["python_overhead_ms"] = step_med - total
    # pieces of the Python overhead that scale with the grid
    t0 = time.perf_counter()
    for _ in range(reps):
        sim._rain_now(t)
    out["rain_now_ms"] = (time.perf_counter() - t0) / reps * 1e3
    return out


def tiny_step_overhead(reps: int = 200) -> float:
    """Median wall time of Simulation.step on a 16×16 grid [ms]: the fixed per-step Python cost."""
    sim = bc.build_simulation(bc.make_terrain(16))
    sim.advance_to(60.0)
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        sim.step()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts)) * 1e3


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000])
    ap.add_argument("--prep", type=float, default=120.0, help="simulated seconds before profiling")
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--dt-max", type=float, default=1.0,
                    help="SolverParams.dt_max for the preparation run (default 1 s, see bench_core README)")
    ap.add_argument("--json", type=Path, default=Path(__file__).resolve().parent / "results" / "profile_kernels.json")
    args = ap.parse_args(argv)
    bc.SOLVER_OVERRIDES["dt_max"] = args.dt_max
    bc.warm_up()
    tiny = tiny_step_overhead()
    print(f"fixed Python cost of Simulation.step (16×16 grid): {tiny:.3f} ms/step "
          f"(numba threads {numba.get_num_threads()}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')})")
    results = {"tiny_step_ms": tiny, "load_avg": os.getloadavg(), "sizes": []}
    for n in args.sizes:
        r = profile_size(n, args.prep, args.reps)
        results["sizes"].append(r)
        print(f"\n{n}² ({r['cells']:,} cells) after {args.prep:g} s; dt {r['dt']:.3f} s; wet bands "
              f"{r['wet_bands']}/{r['bands']}")
        print(f"  {'kernel':24s} {'ms':>8s} {'ns/cell':>8s} {'B/cell':>7s} {'GB/s':>6s} {'of 30':>6s} "
              f"{'1-thr ms':>8s} {'2/1 spd':>7s}")
        for name, k in r["kernels"].items():
            extra = f"  ({k['negative_cells']} negative cells)" if "negative_cells" in k else ""
            print(f"  {name:24s} {k['ms']:8.3f} {k['ns_per_cell']:8.2f} "
                  f"{k.get('bytes_per_cell', float('nan')):7.1f} {k.get('GB_s', float('nan')):6.1f} "
                  f"{k.get('fraction_of_30GB_s', float('nan')):6.0%} "
                  f"{k.get('ms_1thread', float('nan')):8.2f} {k.get('speedup_2_vs_1', float('nan')):7.2f}"
                  f"{extra}")
        print(f"  {'sum of kernels':24s} {r['kernels_sum_ms']:8.3f}")
        print(f"  {'full Simulation.step':24s} {r['step_ms']:8.3f} {r['step_ns_per_cell']:8.2f}   → "
              f"{1e9 / r['step_ns_per_cell']:.3g} cell-updates/s")
        print(f"  Python overhead (step - kernels) {r['python_overhead_ms']:.3f} ms, of which _rain_now "
              f"(active.sum() every step) {r['rain_now_ms']:.3f} ms")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
