"""Sweep benchmark: throughput of ``floodsim sweep`` on dask.distributed with 1 and 2 workers, parallel
efficiency, and the overhead per member against a plain in-process loop.

Usage::

    python benchmarks/bench_sweep.py                     # 6 members, Merewether Chicago storm, coarsen 2
    python benchmarks/bench_sweep.py --members 4 --coarsen 4 --duration-min 30

The members are the return-period sweep's base scenario (``scenarios/sweeps/merewether_chicago.toml``)
with the return period varied over the IDF table (5 … 100 years), so their run times differ a little
as real members do. Every configuration does the same work per member: run the scenario, write its
results (NetCDF, GeoTIFFs, summary) and compute the sweep metrics (exposure, hazard, damage).

* ``loop``: a plain Python loop in this process, one numba thread (like a worker), JIT already compiled.
* ``dask N``: a LocalCluster of N worker processes × 1 thread with ``NUMBA_NUM_THREADS=1``. Cluster
  start and worker warm-up (importing floodsim and loading the cached numba kernels, done by one tiny
  run per worker) are timed separately; the sweep time is from submitting the first member to
  gathering the table.

Throughput = members / sweep seconds. Parallel efficiency = T(1 worker) / (2 × T(2 workers)).
Overhead per member = (T(1 worker) − T(loop)) / members: what the distributed machinery costs a member;
the CPU seconds per member (loop vs inside a worker task) are reported too, since they hold on a busy
machine where wall times do not.
Prints a table and writes ``benchmarks/results/bench_sweep.json`` (with the load average, since the
machine may be shared).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BASE = ROOT / "scenarios" / "sweeps" / "merewether_chicago.toml"
RETURN_PERIODS = [5, 10, 20, 30, 50, 100, 2, 1]


def _sweep_file(folder: Path, members: int, coarsen: int, duration_min: float) -> Path:
    rps = ", ".join(str(t) for t in RETURN_PERIODS[:members])
    path = folder / "bench_sweep.toml"
    path.write_text(f'base = "{BASE.as_posix()}"\n[grid]\n"rainfall.return_period_yr" = [{rps}]\n'
                    f'"simulation.coarsen" = [{coarsen}]\n"simulation.duration_min" = [{duration_min}]\n')
    return path


def _warm_up() -> float:
    """One tiny run in this process: imports and numba kernels loaded or compiled."""
    from floodsim.run.runner import run_scenario
    from floodsim.scenario.load import load_scenario

    t0 = time.perf_counter()
    sc = load_scenario(BASE)
    tiny = sc.simulation.model_copy(update={"coarsen": 16, "duration_min": 2.0})
    sc = sc.model_copy(update={"simulation": tiny})
    run_scenario(sc, write=False)
    return time.perf_counter() - t0


def bench_loop(spec, out: Path) -> float:
    import numba

    from floodsim.run.runner import run_scenario
    from floodsim.sweep import expand_members, member_metrics

    numba.set_num_threads(1)
    _warm_up()
    t0, c0 = time.perf_counter(), time.process_time()
    for m in expand_members(spec):
        run_dir = out / m.id
        run_scenario(m.scenario, out_dir=run_dir)
        member_metrics(run_dir, m.scenario, spec.damage)
    return time.perf_counter() - t0, time.process_time() - c0


def bench_dask(spec, out: Path, workers: int) -> dict:
    from dask.distributed import wait

    from floodsim.sweep import make_client, run_sweep

    t0 = time.perf_counter()
    client, cluster = make_client(workers=workers)
    t_start = time.perf_counter() - t0
    try:
        t0 = time.perf_counter()
        warm = [client.submit(_warm_up, pure=False, workers=[w]) for w in client.scheduler_info()["workers"]]
        wait(warm)
        t_warm = time.perf_counter() - t0
        result = run_sweep(spec, out, client=client, progress=False)
        t_sweep = result.wall_s
        failed = int((result.table["status"] == "failed").sum())
        cpu = float(result.table["task_cpu_s"].sum())
    finally:
        client.close()
        cluster.close()
    return {"workers": workers, "cluster_start_s": t_start, "warm_up_s": t_warm, "sweep_s": t_sweep,
            "task_cpu_s": cpu, "failed_members": failed}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--members", type=int, default=6, help="members (≤ 8)")
    ap.add_argument("--coarsen", type=int, default=2, help="grid coarsening of every member")
    ap.add_argument("--duration-min", type=float, default=60.0, help="simulated minutes per member")
    ap.add_argument("--json", type=Path, default=HERE / "results" / "bench_sweep.json")
    ap.add_argument("--shared", action="store_true", help="note in the JSON that the machine was shared")
    args = ap.parse_args(argv)
    if not 1 <= args.members <= len(RETURN_PERIODS):
        ap.error(f"--members must be 1..{len(RETURN_PERIODS)}")

    from floodsim.sweep import load_sweep

    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    try:
        spec = load_sweep(_sweep_file(tmp, args.members, args.coarsen, args.duration_min))
        t_loop, cpu_loop = bench_loop(spec, tmp / "loop")
        runs = [bench_dask(spec, tmp / f"dask{w}", w) for w in (1, 2)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load_after = os.getloadavg()
    n = args.members
    one, two = runs
    efficiency = one["sweep_s"] / (2 * two["sweep_s"])
    overhead = (one["sweep_s"] - t_loop) / n

    print(f"{n} members, Merewether Chicago storm, coarsen {args.coarsen}, "
          f"{args.duration_min:g} min simulated")
    print(f"{'configuration':<16}{'sweep s':>10}{'members/min':>13}{'s/member':>10}{'start s':>9}"
          f"{'warm-up s':>11}")
    print(f"{'plain loop':<16}{t_loop:>10.2f}{60 * n / t_loop:>13.2f}{t_loop / n:>10.2f}{'':>9}{'':>11}")
    for r in runs:
        name = f"dask, {r['workers']} worker(s)"
        print(f"{name:<16}{r['sweep_s']:>10.2f}{60 * n / r['sweep_s']:>13.2f}"
              f"{r['sweep_s'] / n:>10.2f}{r['cluster_start_s']:>9.2f}{r['warm_up_s']:>11.2f}")
    print(f"parallel efficiency with 2 workers: {100 * efficiency:.1f} % (target ≥ 85 %)")
    print(f"overhead per member, 1 worker vs plain loop: {overhead:+.3f} s "
          f"({100 * overhead * n / t_loop:+.1f} %)")
    cpu_overhead = (one["task_cpu_s"] - cpu_loop) / n
    print(f"CPU per member: loop {cpu_loop / n:.2f} s, in a worker task {one['task_cpu_s'] / n:.2f} s "
          f"({cpu_overhead:+.3f} s; CPU time does not depend on how busy the machine is)")
    print(f"load average before/after: {load_before[0]:.2f} / {load_after[0]:.2f} on {os.cpu_count()} cores")

    shared = args.shared or max(load_before[0], load_after[0]) > 0.5 * (os.cpu_count() or 1)
    result = {
        "benchmark": "bench_sweep",
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": sys.version.split()[0],
                    "cores": os.cpu_count(),
                    "load_average_before": load_before, "load_average_after": load_after,
                    "shared": shared,
                    "note": ("machine shared with other sessions during the run: numbers are pessimistic"
                             if shared else "machine quiet")},
        "members": n, "coarsen": args.coarsen, "duration_min": args.duration_min,
        "loop_s": t_loop, "loop_cpu_s": cpu_loop, "dask": runs,
        "throughput_members_per_min": {"loop": 60 * n / t_loop,
                                       **{f"dask_{r['workers']}": 60 * n / r["sweep_s"] for r in runs}},
        "parallel_efficiency_2_workers": efficiency,
        "overhead_per_member_s": overhead,
        "cpu_overhead_per_member_s": cpu_overhead,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, default=float))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
