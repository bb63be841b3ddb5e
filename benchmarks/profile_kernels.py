"""Where the time of a floodsim step goes: per-kernel wall time of real steps.

Usage::

    python benchmarks/profile_kernels.py                     # 1000² terrain of bench_core, 1 and 2 threads
    python benchmarks/profile_kernels.py --size 2000 --steps 100

Every kernel that ``floodsim.core.simulation`` calls is wrapped with a timer (the wrappers replace the names
in the solver module, so the profile follows the solver whatever the kernels' signatures), the
terrain and storm of ``bench_core.py`` are advanced to a wet state, and ``--steps`` real steps are
timed. Prints ns per cell and share of the step for each kernel, and the Python overhead (the step
minus its kernels); writes ``benchmarks/results/profile_kernels.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numba

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import build_simulation, make_terrain  # noqa: E402

import floodsim.core.simulation as solver  # noqa: E402

KERNELS = ("snapshot_band_edges", "apply_boundary_fluxes", "sweep_bands", "finish_bands",
           "repair_negative_depths", "add_depth", "route_roof_rain", "mark_wet_bands")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "profile_kernels.json")
    args = ap.parse_args(argv)
    totals, counts = defaultdict(float), defaultdict(int)
    _wrap(totals, counts)
    results = []
    for threads in args.threads:
        r = _run(args.size, args.steps, threads, totals, counts)
        results.append(r)
        print(f"\n{args.size}² cells, {threads} thread(s): {r['step_ms']:.2f} ms/step, "
              f"{r['cell_updates_per_s']:.3g} cell-updates/s")
        print(f"  {'kernel':<26} {'ns/cell':>8} {'share':>7} {'calls':>6}")
        for name, row in r["kernels"].items():
            print(f"  {name:<26} {row['ns_per_cell']:8.2f} {row['share']:7.1%} {row['calls']:6d}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {args.json}")
    return 0


def _wrap(totals, counts):
    """Replace each kernel name in the solver module by a timed call of the original."""
    for name in KERNELS:
        original = getattr(solver, name)

        def timed(*args, _f=original, _n=name, **kwargs):
            t0 = time.perf_counter()
            out = _f(*args, **kwargs)
            totals[_n] += time.perf_counter() - t0
            counts[_n] += 1
            return out

        setattr(solver, name, timed)


def _run(size, steps, threads, totals, counts):
    """Advance the bench_core terrain to a wet state, then time ``steps`` steps kernel by kernel."""
    numba.set_num_threads(threads)
    sim = build_simulation(make_terrain(size))
    sim.advance_to(300.0)                       # wet state; compiles everything
    totals.clear()
    counts.clear()
    t0 = time.perf_counter()
    for _ in range(steps):
        sim.step()
    wall = time.perf_counter() - t0
    cells = size * size
    rows = {}
    for name in KERNELS:
        if counts[name]:
            rows[name] = {"ns_per_cell": totals[name] / steps / cells * 1e9, "share": totals[name] / wall,
                          "calls": counts[name]}
    kernels = sum(totals.values())
    rows["python overhead"] = {"ns_per_cell": (wall - kernels) / steps / cells * 1e9,
                               "share": (wall - kernels) / wall, "calls": steps}
    return {"size": size, "threads": threads, "steps": steps, "step_ms": wall / steps * 1e3,
            "cell_updates_per_s": cells * steps / wall, "kernels": rows}


if __name__ == "__main__":
    raise SystemExit(main())
