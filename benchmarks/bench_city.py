"""A whole synthetic city on the CPU: wall time, throughput, peak memory per cell, output size and time.

Usage::

    python benchmarks/bench_city.py                       # 5000² (25M cells, 1 m), 60-min Chicago storm
    python benchmarks/bench_city.py --n 2000 --minutes 10 # a smaller city, the first 10 minutes
    python benchmarks/bench_city.py --quick               # 1000², 5 minutes (a check that it runs)
    python benchmarks/bench_city.py --precision double,single   # both precisions, one process each

The city (issue 14): the benchmark terrain of :mod:`floodsim.run.bench` (a plane with undulations and
an 8 m street grid every 60 m), with **buildings as blocked cells** (a regular pattern of 14 × 20 m
footprints inside each block, 24 % of the area) and a **60-minute Chicago design storm** of return
period 100 years from the bundled IDF curves (`gis_data/idf/dahlstrom2010_sherman.toml`, peak at 40 %).
Free outflow on the south edge.

The DEM is written once (before the measured runs) as 2 × 2 float32 GeoTIFF tiles, as LiDAR is
delivered, in ``$TMPDIR/floodsim_bench_city_<n>/`` (kept for the next run), and each run reads it as
``floodsim run`` does (:func:`floodsim.io.raster.read_dem`, a mosaic of the tiles): the terrain
generator's own temporaries are not floodsim's memory.

Each run is a fresh subprocess (so its peak RSS is its own): read the DEM and build, run ``--minutes``
of the storm with output frames every 10 simulated minutes, and write ``results.nc`` (chunked,
compressed) with the gridded maxima read from the simulation as they are written
(``lazy_maxima``, as ``floodsim run`` does). Recorded per run:

* output frames every ``--frame-minutes`` (default 10) simulated minutes, streamed to a scratch file
  by floodsim's recorder as ``floodsim run`` does (:mod:`floodsim.io.frames`), none held in memory;
* wall time of the time loop (with its frames written as it goes), steps, cell-updates/s counted
  over **all cells** and over **wet cells**
  (cells with water above ``hmin`` at the end, as a lower bound of the cells the bands skipping left
  computing);
* **peak RSS per cell** [B] (``ru_maxrss`` of the subprocess, so Python, numba and GDAL included), and
  the model's share of it (peak RSS less the RSS after imports and compilation, per cell); on Linux
  also the peak of each phase (build, time loop, write; ``VmHWM`` reset between them);
* the output: ``results.nc`` size and write time;
* RSS after each output frame, to show that nothing in the run grows with the number of steps.

Prints a table and writes ``benchmarks/results/bench_city.json``; ``--precision`` runs float64
(``double``, default), float32 (``single``) or both, one fresh process each.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
IDF = ROOT / "gis_data" / "idf" / "dahlstrom2010_sherman.toml"
sys.path.insert(0, str(HERE))   # bench_core (machine_facts), as the other benchmarks import it


def buildings(n: int):
    """The building mask (n, n) of the synthetic city (blocked cells)."""
    import numpy as np

    i = np.arange(n)[:, None]
    j = np.arange(n)[None, :]
    in_block_i, in_block_j = (i % 60) - 8, (j % 60) - 8        # streets: the first 8 m of every 60
    # two rows of 14 m × 20 m footprints per 52 m block, 4 m back from the street, 4 m apart
    bi = ((in_block_i >= 4) & (in_block_i < 18)) | ((in_block_i >= 34) & (in_block_i < 48))
    bj = ((in_block_j % 26) >= 3) & ((in_block_j % 26) < 23) & (in_block_j >= 0)
    blocked = bi & bj & (in_block_i >= 0)
    return np.ascontiguousarray(blocked)


def dem_tiles(n: int, folder: Path) -> list[Path]:
    """The city's terrain (:func:`floodsim.run.bench.make_terrain`, 1 m) as 2 × 2 float32 GeoTIFF tiles in
    ``folder`` (made once, reused); returns their paths."""
    import numpy as np
    import rasterio
    from affine import Affine

    half = n // 2
    spans = [(0, half), (half, n)]
    paths = [folder / f"dem_{a}_{b}.tif" for a in range(2) for b in range(2)]
    if all(p.is_file() for p in paths):
        return paths
    from floodsim.run.bench import make_terrain

    folder.mkdir(parents=True, exist_ok=True)
    z = make_terrain(n).astype(np.float32)
    for a, (r0, r1) in enumerate(spans):
        for b, (c0, c1) in enumerate(spans):
            tmp = folder / f".dem_{a}_{b}.tif"
            corner = Affine(1.0, 0.0, 500000.0 + c0, 0.0, -1.0, 6200000.0 - r0)
            with rasterio.open(tmp, "w", driver="GTiff", width=c1 - c0, height=r1 - r0, count=1,
                               dtype="float32", crs="EPSG:25832", transform=corner, tiled=True,
                               blockxsize=256, blockysize=256, nodata=np.nan) as dst:
                dst.write(z[r0:r1, c0:c1], 1)
            tmp.replace(folder / f"dem_{a}_{b}.tif")
    return paths


def tiles_folder(n: int) -> Path:
    return Path(os.environ.get("TMPDIR", "/tmp")) / f"floodsim_bench_city_{n}"


def one_run(n: int, minutes: float, out: Path, frame_minutes: float = 10.0,
            precision: str = "double") -> dict:
    """Build and run the city in this process; returns the measurements."""
    import numpy as np

    from floodsim.build.storms import IDFCurve, chicago_design_storm
    from floodsim.core import Boundary, Grid, Simulation, SolverParams
    from floodsim.io.raster import read_dem, write_netcdf
    from floodsim.run.bench import MANNING, PLANE_SLOPE, make_terrain
    from floodsim.run.budget import release_freed_memory
    from floodsim.run.recorder import Recorder, run_simulation

    def rss_mb() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

    phase_peaks = {}

    def end_phase(name: str) -> None:
        """Record this phase's peak RSS [MB] (Linux: VmHWM, then reset for the next phase)."""
        try:
            with open("/proc/self/status") as f:
                hwm = next(int(line.split()[1]) / 1024.0 for line in f if line.startswith("VmHWM"))
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except (OSError, StopIteration):
            return
        phase_peaks[name] = hwm

    params = SolverParams(precision=precision)
    warm = Simulation(Grid.from_array(make_terrain(40).astype(np.float32), dx=1.0), rainfall=None,
                      manning=MANNING, params=params)
    warm.advance_to(30.0)                                  # compile every kernel on a tiny grid
    del warm
    end_phase("imports and compilation")                   # interpreter, libraries and compiled kernels
    rss_baseline = phase_peaks.get("imports and compilation", rss_mb())
    t0 = time.perf_counter()
    grid = read_dem(dem_tiles(n, tiles_folder(n)))         # float32 tiles, mosaicked
    storm = chicago_design_storm(IDFCurve.from_file(IDF), 100.0, 60.0, peak_position=0.4, step_min=5.0)
    blocked = buildings(n)
    sim = Simulation(grid, rainfall=storm, manning=MANNING, blocked=blocked,
                     boundaries=[Boundary("south", "free", slope=PLANE_SLOPE)], params=params)
    del grid, blocked
    release_freed_memory()                                 # as floodsim run does after the build
    build_s = time.perf_counter() - t0
    end_phase("build")
    duration = minutes * 60.0
    rss_after_frame = []
    recorder = Recorder(sim)                   # depth frames streamed to a scratch file, as floodsim run does

    def after_frame(t, total):
        rss_after_frame.append(round(rss_mb(), 1))

    t1 = time.perf_counter()
    ds = run_simulation(sim, duration, frame_minutes * 60.0, progress=after_frame, recorder=recorder,
                        lazy_maxima=True)
    wall = time.perf_counter() - t1            # the time loop with its output frames written as it goes
    sim.end_run()                              # as floodsim run does: the discharges go before the write
    end_phase("time loop")
    sim.check_finite()
    steps = sim.state.steps
    wet = int((sim.state.h > sim.params.hmin).sum())
    cells = n * n
    out.mkdir(parents=True, exist_ok=True)
    t1 = time.perf_counter()
    path = write_netcdf(ds, out / f"city_{n}_{precision}.nc")   # streams the frames from the scratch file
    write_s = time.perf_counter() - t1
    end_phase("write")
    size = path.stat().st_size
    frames = int(ds.sizes.get("time", 0)) if "depth" in ds else 0
    del ds
    recorder.close()
    path.unlink()
    balance = sim.balance.as_dict(sim.total_volume())
    # the process's peak: the largest phase peak (VmHWM) where Linux gives them, else ru_maxrss
    peak = max(phase_peaks.values()) if phase_peaks else rss_mb()
    return {
        "n": n, "cells": cells, "blocked_share": float(sim.blocked.mean()), "simulated_s": duration,
        "build_s": build_s, "wall_s": wall, "steps": steps,
        "cell_updates_per_s_all": cells * steps / wall if wall else None,
        "wet_cells_end": wet, "cell_updates_per_s_wet": wet * steps / wall if wall else None,
        "peak_rss_mb": peak, "peak_rss_bytes_per_cell": peak * 2**20 / cells,
        "rss_mb_after_each_frame": rss_after_frame, "output_frames": frames,
        "rss_baseline_mb": rss_baseline,
        "peak_rss_mb_by_phase": phase_peaks,
        "model_bytes_per_cell": (peak - rss_baseline) * 2**20 / cells,
        "precision": precision,
        "volume_rounding_m3": float(balance.get("rounding", 0.0)),
        "results_nc_bytes": size, "results_nc_write_s": write_s,
        "relative_volume_error": float(balance.get("relative_error", float("nan"))),
    }


def _write_result(out: Path, load, rows: list[dict]) -> dict:
    from bench_core import machine_facts  # the machine as the other benchmarks record it

    result = {"benchmark": "bench_city", "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "machine": {**machine_facts(), "loadavg_before": load, "loadavg_after": os.getloadavg()},
              "storm": "Chicago, 100-yr, 60 min, peak at 0.4 (Dahlström 2010 IDF)", "rows": rows}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=5000, help="grid edge [cells of 1 m] (default 5000: 25M cells)")
    ap.add_argument("--minutes", type=float, default=60.0, help="simulated minutes of the storm (default 60)")
    ap.add_argument("--frame-minutes", type=float, default=10.0,
                    help="simulated minutes between output frames")
    ap.add_argument("--quick", action="store_true", help="1000², 5 minutes")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "bench_city.json")
    ap.add_argument("--precision", default="double",
                    help="double, single or double,single (one fresh process each)")
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)    # the measured subprocess
    ap.add_argument("--make-dem", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.minutes = 1000, 5.0
    if args.make_dem:
        dem_tiles(args.n, tiles_folder(args.n))
        return 0
    if args.one:
        print(json.dumps(one_run(args.n, args.minutes, Path(os.environ.get("TMPDIR", "/tmp")) / "bench_city",
                                 args.frame_minutes, args.precision)))
        return 0
    precisions = [p.strip() for p in args.precision.split(",") if p.strip()]
    if not precisions or any(p not in ("double", "single") for p in precisions):
        ap.error(f"--precision {args.precision!r}: use double, single or double,single")
    # the DEM tiles, written once in a process of their own: neither the terrain generator nor a big
    # parent (whose RSS a child's ru_maxrss inherits at fork) is measured
    subprocess.run([sys.executable, __file__, "--make-dem", "--n", str(args.n)], check=True)
    load = os.getloadavg()
    rows = []
    for precision in precisions:
        r = subprocess.run([sys.executable, __file__, "--one", "--n", str(args.n), "--minutes",
                            str(args.minutes), "--frame-minutes", str(args.frame_minutes),
                            "--precision", precision],
                           capture_output=True, text=True, check=True)
        rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
        result = _write_result(args.out, load, rows)      # after each precision: a long run keeps what it has
    print(f"{'precision':>9} {'cells':>12} {'simulated':>9} {'steps':>7} {'wall s':>8} {'upd/s all':>10} "
          f"{'upd/s wet':>10} {'B/cell':>7} {'model B':>7} {'nc MB':>7} {'write s':>7}")
    for row in rows:
        print(f"{row['precision']:>9} {row['cells']:>12,} {row['simulated_s'] / 60:>7.0f}mn "
              f"{row['steps']:>7} {row['wall_s']:>8.1f} {row['cell_updates_per_s_all']:>10.3g} "
              f"{row['cell_updates_per_s_wet']:>10.3g} "
              f"{row['peak_rss_bytes_per_cell']:>7.1f} {row['model_bytes_per_cell']:>7.1f} "
              f"{row['results_nc_bytes'] / 1e6:>7.1f} {row['results_nc_write_s']:>7.2f}")
        if row["peak_rss_mb_by_phase"]:
            print(f"{'':>9} peak RSS by phase [B/cell]: " + ", ".join(
                f"{k} {v * 2**20 / row['cells']:.1f}" for k, v in row["peak_rss_mb_by_phase"].items()))
        print(f"{'':>9} RSS after each frame [MB]: {row['rss_mb_after_each_frame']}; relative volume error "
              f"{row['relative_volume_error']:.2e}, rounding {row['volume_rounding_m3']:.3g} m³")
    by = {row["precision"]: row for row in rows}
    if len(by) == 2:
        d, s_ = by["double"], by["single"]
        print(f"single / double: speed {s_['cell_updates_per_s_all'] / d['cell_updates_per_s_all']:.2f}x, "
              f"peak RSS {s_['peak_rss_bytes_per_cell'] / d['peak_rss_bytes_per_cell']:.0%}, model memory "
              f"{s_['model_bytes_per_cell'] / d['model_bytes_per_cell']:.0%}")
    print(f"load {load[0]:.1f} → {result['machine']['loadavg_after'][0]:.1f}")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
