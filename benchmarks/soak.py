"""Soak test: a 6-hour simulated storm on ~1M cells runs to the end with the volume balance closed.

Usage::

    python benchmarks/soak.py                       # 1000 × 1000 cells of 5 m, 6 h, checkpoint every 300 s
    python benchmarks/soak.py --size 500 --hours 1  # a quicker look
    python benchmarks/soak.py --no-checkpoint

Terrain: the synthetic urban-ish DEM of ``bench_core.py`` (tilted plane, undulations with closed
depressions, a street grid) on 5 m cells, i.e. a 5 km × 5 km catchment, with a free outflow on the low
(south) edge and a critical-depth outflow on the east edge. Storm: a 6-hour, 120 mm, asymmetric
triangular hyetograph (peak 50 mm/h at 2 h) in 10-minute blocks; Green–Ampt loam on 60 % of the
area (a seeded random mask stands for gardens and parks), the rest sealed. Checkpoints (wall-clock
interval) are written to a temporary folder during the run, as a long production run would.

Prints a table (cells, simulated time, steps, wall time, throughput, balance error, peak RSS,
checkpoints) and writes ``benchmarks/results/soak.json``. Asserts nothing: it is a measurement; the
balance and finiteness are checked by the solver itself (it raises on NaN or a stall).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")   # a long run, often beside other work: see bench_core.py

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_core import _maxrss_bytes, machine_facts, make_terrain

DX = 5.0
STORM_MM = 120.0
PEAK_H = 2.0
BLOCK_MIN = 10.0


def storm(hours: float):
    """Asymmetric triangular hyetograph of STORM_MM over ``hours`` in BLOCK_MIN blocks [Hyetograph]."""
    from floodsim import Hyetograph

    T = hours * 3600.0
    peak = min(PEAK_H * 3600.0, T / 2)
    starts = np.arange(0.0, T, BLOCK_MIN * 60.0)
    mids = starts + BLOCK_MIN * 30.0
    shape = np.where(mids <= peak, mids / peak, (T - mids) / (T - peak))
    mm_h = shape / (shape.sum() * BLOCK_MIN / 60.0) * STORM_MM
    return Hyetograph.from_mm_h(starts, mm_h, end_s=T)


def build(n: int, hours: float, seed: int = 7):
    from floodsim import Boundary, GreenAmpt, Grid, Simulation

    z = make_terrain(n)
    grid = Grid.from_array(z, DX, crs="EPSG:32633")
    pervious = np.random.default_rng(seed).random(z.shape) < 0.6
    loam = GreenAmpt.from_texture("loam", initial_saturation=0.4)
    infil = GreenAmpt(ks=np.where(pervious, loam.ks, 0.0), psi=loam.psi, dtheta=loam.dtheta)
    return Simulation(grid, rainfall=storm(hours), manning=0.03, infiltration=infil,
                      boundaries=[Boundary("south", "free", slope=0.005), Boundary("east", "critical")])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=1000, help="cells per side (default 1000: 1M cells)")
    ap.add_argument("--hours", type=float, default=6.0, help="simulated hours (default 6)")
    ap.add_argument("--output-min", type=float, default=30.0, help="output interval [min]")
    ap.add_argument("--checkpoint-every", type=float, default=300.0, help="wall-clock seconds between checkpoints")
    ap.add_argument("--no-checkpoint", action="store_true")
    ap.add_argument("--json", type=Path, default=HERE / "results" / "soak.json")
    args = ap.parse_args(argv)

    import numba

    from floodsim.run import checkpoint
    from floodsim.io.atomic import atomic_path
    from floodsim.run.recorder import Recorder

    facts = machine_facts()
    # compile every kernel on a tiny grid first so the timed run measures the solver only
    small = build(32, 0.1)
    small.run(60.0, 60.0)

    t_build = time.perf_counter()
    sim = build(args.size, args.hours)
    build_s = time.perf_counter() - t_build
    duration = args.hours * 3600.0
    interval = args.output_min * 60.0
    recorder = Recorder(sim)
    after_step = None
    tmpdir = tempfile.TemporaryDirectory(prefix="floodsim-soak-")
    if not args.no_checkpoint:
        fp = checkpoint.fingerprint(sim, duration, interval)
        after_step = checkpoint.Checkpointer(Path(tmpdir.name) / "soak.npz", sim, recorder, fp, duration, interval,
                                             every_wall_s=args.checkpoint_every)
    t0 = time.perf_counter()

    def progress(t, total):
        wall = time.perf_counter() - t0
        print(f"  t = {t / 3600:5.2f} h  steps {sim.state.steps:>8,}  wall {wall:8.1f} s  "
              f"rel. balance error {sim.balance.relative_error(sim.total_volume()):+.2e}", file=sys.stderr, flush=True)

    ds = sim.run(duration, interval, progress=progress, recorder=recorder, after_step=after_step)
    wall = time.perf_counter() - t0
    cells = args.size * args.size
    ckpt = after_step
    ckpt_size = (Path(tmpdir.name) / "soak.npz").stat().st_size if ckpt is not None and ckpt.written else 0
    tmpdir.cleanup()
    result = {
        "machine": facts,
        "cells": cells, "dx_m": DX, "simulated_s": duration, "storm_mm": STORM_MM,
        "steps": int(sim.state.steps), "wall_s": wall, "build_s": build_s,
        "cell_updates_per_s": cells * sim.state.steps / wall,
        "mean_dt_s": duration / sim.state.steps,
        "relative_volume_error": float(ds.attrs["relative_volume_error"]),
        "volume_error_m3": float(ds.attrs["volume_error_m3"]),
        "rain_m3": float(ds["volume_rain"][-1]), "boundary_out_m3": float(ds["volume_boundary_out"][-1]),
        "infiltration_m3": float(ds["volume_infiltration"][-1]), "stored_m3": float(ds["volume_stored"][-1]),
        "max_depth_m": float(np.nanmax(ds["max_depth"].values)),
        "all_depths_finite_nonnegative": bool(np.isfinite(sim.state.h).all() and (sim.state.h >= 0).all()),
        "peak_rss_mb": _maxrss_bytes() / 2**20,
        "checkpoints_written": 0 if ckpt is None else ckpt.written,
        "checkpoint_write_s": 0.0 if ckpt is None else ckpt.write_seconds,
        "checkpoint_file_mb": ckpt_size / 2**20,
        "numba_threads": numba.get_num_threads(),
        "loadavg_at_end": os.getloadavg(),
    }
    rows = [("cells", f"{cells:,} ({args.size}² × {DX:g} m)"), ("simulated", f"{duration / 3600:g} h"),
            ("steps", f"{result['steps']:,} (mean dt {result['mean_dt_s']:.3f} s)"),
            ("wall time", f"{wall:,.1f} s (+ {build_s:.1f} s build)"),
            ("cell-updates/s", f"{result['cell_updates_per_s']:.3g}"),
            ("balance error", f"{result['volume_error_m3']:.3g} m³ (relative {result['relative_volume_error']:.2e})"),
            ("water", (f"rain {result['rain_m3']:,.0f} m³, out {result['boundary_out_m3']:,.0f}, infiltrated "
                       f"{result['infiltration_m3']:,.0f}, stored {result['stored_m3']:,.0f}")),
            ("max depth", f"{result['max_depth_m']:.2f} m"),
            ("peak RSS", f"{result['peak_rss_mb']:,.0f} MiB"),
            ("checkpoints", (f"{result['checkpoints_written']} written, {result['checkpoint_write_s']:.1f} s "
                             f"total, {result['checkpoint_file_mb']:.0f} MiB each")),
            ("load average", " ".join(f"{v:.1f}" for v in result["loadavg_at_end"]))]
    width = max(len(k) for k, _ in rows)
    print("\nfloodsim soak")
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.json) as tmp:
        tmp.write_text(json.dumps(result, indent=2, default=float))
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
