"""Sewer benchmark: what dual drainage (SWMM coupled to the surface) costs over the surface-only run.

Usage::

    python benchmarks/bench_sewer.py                       # Merewether, full 1 m grid, 60 min simulated
    python benchmarks/bench_sewer.py --coarsen 2 --duration-min 30
    python benchmarks/bench_sewer.py --threads 1                 # on a shared machine

Runs ``scenarios/merewether_cloudburst.toml`` (surface only) and ``scenarios/merewether_sewer.toml``
(the same storm with the 30-manhole sewer, SWMM 5.2 through swmm-toolkit, coupling step 1 s) with the
same grid and duration, in this process, after one tiny warm-up run (numba kernels loaded), without
writing the run folders. Reported for each: wall seconds of the simulation loop, CPU seconds of the
process, 2-D steps; for the coupled run also the seconds spent in SWMM (its steps and result reads)
and in the exchange. The ratio coupled / surface-only is the figure of merit (target ≤ 1.3×); both the
wall and the CPU ratio are given, since the machine may be shared (load average in the JSON).

Prints a table and writes ``benchmarks/results/bench_sewer.json``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SURFACE = ROOT / "scenarios" / "merewether_cloudburst.toml"
SEWER = ROOT / "scenarios" / "merewether_sewer.toml"


def _scenario(path: Path, coarsen: int, duration_min: float):
    from floodsim.scenario.load import load_scenario

    sc = load_scenario(path)
    sim = sc.simulation.model_copy(update={"coarsen": coarsen, "duration_min": duration_min})
    update = {"simulation": sim}
    if sc.sewer is not None and coarsen > 1:   # a coarse cell averages the ground around a manhole
        update["sewer"] = sc.sewer.model_copy(update={"rim_tolerance_m": 1.0 * coarsen})
    return sc.model_copy(update=update)


def _run(sc) -> dict:
    from floodsim.build.model import build_model
    from floodsim.run.recorder import Recorder, run_simulation
    from floodsim.run.runner import _times, make_series

    model = build_model(sc)
    duration, interval = _times(sc)
    recorder = Recorder(model.simulation, make_series(sc, model))
    t0, c0 = time.perf_counter(), time.process_time()
    ds = run_simulation(model.simulation, duration, interval, recorder=recorder)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    out = {"wall_s": wall, "cpu_s": cpu, "steps": int(model.simulation.state.steps),
           "cells": int(model.simulation.grid.shape[0] * model.simulation.grid.shape[1]),
           "relative_volume_error": float(ds.attrs["relative_volume_error"])}
    if model.sewer is not None:
        op = model.sewer
        out.update(swmm_s=op.timing["swmm_s"], exchange_s=op.timing["exchange_s"], coupling_steps=op.timing["steps"],
                   swmm_continuity_error_pct=float(ds.attrs.get("sewer_flow_routing_continuity_error_pct", "nan")),
                   network_continuity_error_pct=float(ds.attrs.get("sewer_network_continuity_error_pct", "nan")),
                   from_surface_m3=float(ds.attrs.get("sewer_from_surface", "nan")))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--coarsen", type=int, default=1, help="grid coarsening of both runs")
    ap.add_argument("--duration-min", type=float, default=60.0, help="simulated minutes")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each (the fastest counts)")
    ap.add_argument("--threads", type=int, default=None, help="numba threads (default: numba's); 1 on a shared "
                    "machine, where idle threads spinning for cores make both runs many times slower")
    ap.add_argument("--json", type=Path, default=HERE / "results" / "bench_sewer.json")
    args = ap.parse_args(argv)
    import numba

    if args.threads is not None:
        numba.set_num_threads(args.threads)

    load_before = os.getloadavg()
    _run(_scenario(SURFACE, 16, 2.0))     # warm-up: imports, numba kernels, SWMM library
    _run(_scenario(SEWER, 8, 2.0))
    surface = min((_run(_scenario(SURFACE, args.coarsen, args.duration_min)) for _ in range(args.repeat)),
                  key=lambda r: r["wall_s"])
    coupled = min((_run(_scenario(SEWER, args.coarsen, args.duration_min)) for _ in range(args.repeat)),
                  key=lambda r: r["wall_s"])
    load_after = os.getloadavg()
    ratio_wall = coupled["wall_s"] / surface["wall_s"]
    ratio_cpu = coupled["cpu_s"] / surface["cpu_s"]

    print(f"Merewether cloudburst, {surface['cells']:,} cells (coarsen {args.coarsen}), "
          f"{args.duration_min:g} min simulated")
    print(f"{'run':<22}{'wall s':>9}{'CPU s':>9}{'2-D steps':>11}{'SWMM s':>9}{'exchange s':>12}")
    print(f"{'surface only':<22}{surface['wall_s']:>9.2f}{surface['cpu_s']:>9.2f}{surface['steps']:>11,}")
    print(f"{'surface + sewer':<22}{coupled['wall_s']:>9.2f}{coupled['cpu_s']:>9.2f}{coupled['steps']:>11,}"
          f"{coupled['swmm_s']:>9.2f}{coupled['exchange_s']:>12.2f}")
    print(f"ratio coupled / surface-only: wall {ratio_wall:.2f}×, CPU {ratio_cpu:.2f}× (target ≤ 1.3×); "
          f"{coupled['coupling_steps']:,} SWMM steps of 1 s")
    print(f"network continuity {coupled['network_continuity_error_pct']:.3f} % (SWMM's own "
          f"{coupled['swmm_continuity_error_pct']:.3f} %); surface closure {coupled['relative_volume_error']:.2e}")
    print(f"load average before/after: {load_before[0]:.2f} / {load_after[0]:.2f} on {os.cpu_count()} cores")

    shared = max(load_before[0], load_after[0]) > 0.5 * (os.cpu_count() or 1)
    result = {
        "benchmark": "bench_sewer",
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": sys.version.split()[0], "cores": os.cpu_count(),
                    "load_average_before": load_before, "load_average_after": load_after, "shared": shared,
                    "note": ("machine shared with other sessions during the run: wall times are noisy; the CPU "
                             "ratio is the steadier figure" if shared else "machine quiet")},
        "coarsen": args.coarsen, "duration_min": args.duration_min, "repeat": args.repeat,
        "numba_threads": numba.get_num_threads(),
        "surface_only": surface, "coupled": coupled,
        "ratio_wall": ratio_wall, "ratio_cpu": ratio_cpu, "target_ratio": 1.3,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, default=float))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
