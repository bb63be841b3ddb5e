"""Where the time of a floodsim step goes: per-kernel wall time of real steps.

Usage::

    python benchmarks/profile_kernels.py                     # 1000² terrain of bench_core, 1 and 2 threads
    python benchmarks/profile_kernels.py --size 2000 --steps 100
    python benchmarks/profile_kernels.py --cpu haswell       # kernels compiled for AVX2 (see bench_core --cpu)
    python benchmarks/profile_kernels.py --targets native,haswell,x86-64 --rounds 3 --threads 1

Every kernel that ``floodsim.core.simulation`` calls is wrapped with a timer (the wrappers replace the names
in the solver module, so the profile follows the solver whatever the kernels' signatures), the
terrain and storm of ``bench_core.py`` are advanced to a wet state, and ``--steps`` real steps are
timed. Prints ns per cell and share of the step for each kernel, and the Python overhead (the step
minus its kernels); writes ``benchmarks/results/profile_kernels.json`` with the machine, the CPU
flags and the compile target. With ``--targets`` the targets run one process after another, alternating
over ``--rounds`` rounds, and the fastest round of each (by step time) is compared.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numba

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import (  # noqa: E402
    CPU_HELP,
    build_simulation,
    machine_facts,
    make_terrain,
    on_target,
    parse_targets,
    run_on_target,
    without_options,
)

import floodsim.core.simulation as solver  # noqa: E402

KERNELS = ("snapshot_band_edges", "apply_boundary_fluxes", "sweep_bands", "finish_bands",
           "repair_negative_depths", "add_depth", "route_roof_rain", "route_uniform_roof_rain",
           "mark_wet_bands")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "profile_kernels.json")
    ap.add_argument("--cpu", default=None, metavar="NAME", help=CPU_HELP)
    ap.add_argument("--targets", default=None, metavar="A,B,...",
                    help="profile each of these --cpu targets in turn and compare them")
    ap.add_argument("--rounds", type=int, default=1,
                    help="with --targets: rounds over the target list, alternating; fastest round reported")
    args = ap.parse_args(argv)
    argv = list(sys.argv[1:] if argv is None else argv)
    if args.targets:
        return _run_targets(argv, parse_targets(args.targets), args.rounds, args.json)
    if not on_target(args.cpu):
        return run_on_target(Path(__file__), argv, args.cpu)
    facts = machine_facts()
    tf = facts["target"]
    print(f"{facts.get('cpu_model', '?')}; compiled for {tf['requested']} (LLVM cpu {tf['llvm_cpu']}, kernel form "
          f"{tf['kernel_form']}); load average {facts['loadavg_at_start'][0]:.2f}")
    totals, counts = defaultdict(float), defaultdict(int)
    _wrap(totals, counts)
    results = []
    for threads in args.threads:
        r = _run(args.size, args.steps, threads, totals, counts)
        results.append(r)
        print(f"\n{args.size}² cells, {threads} thread(s): {r['step_ms']:.2f} ms/step, "
              f"{r['cell_updates_per_s']:.3g} cell-updates/s")
        print(f"  load average {r['loadavg_1min_before_after'][0]:.2f} -> {r['loadavg_1min_before_after'][1]:.2f}; "
              f"process CPU {r['cpu_ms_per_step']:.2f} ms/step")
        print(f"  {'kernel':<26} {'ns/cell':>8} {'cpu ns/cell':>11} {'share':>7} {'calls':>6}")
        for name, row in r["kernels"].items():
            cpu_ns = f"{row['cpu_ns_per_cell']:11.2f}" if "cpu_ns_per_cell" in row else f"{'-':>11}"
            print(f"  {name:<26} {row['ns_per_cell']:8.2f} {cpu_ns} {row['share']:7.1%} {row['calls']:6d}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"machine": facts, "runs": results}, indent=2, default=float))
    print(f"\nwrote {args.json}")
    return 0


def _run_targets(argv, targets, rounds, json_path) -> int:
    """``--targets``: profile every target once per round (alternating), keep each target's fastest
    round per thread count, and print ns/cell of the sweep and of the whole step next to the first target."""
    child_argv = without_options(argv, ("--targets", "--rounds", "--json", "--cpu"))
    runs = {t: [] for t in targets}
    with tempfile.TemporaryDirectory(prefix="floodsim-profile-") as tmp:
        for r in range(max(1, rounds)):
            for t in targets:
                out = Path(tmp) / f"{t}-{r}.json"
                print(f"\n=== target {t}, round {r + 1}/{max(1, rounds)} ===", flush=True)
                rc = run_on_target(Path(__file__), [*child_argv, "--cpu", t, "--json", str(out)], t)
                if rc != 0:
                    return rc
                runs[t].append(json.loads(out.read_text()))
    merged = {"argv": argv, "rounds": max(1, rounds), "targets": {}}
    for t, res in runs.items():
        best = []
        for k in range(len(res[0]["runs"])):
            tries = [x["runs"][k] for x in res]
            b = dict(min(tries, key=lambda x: x["step_ms"]))
            b["rounds_step_ms"] = [x["step_ms"] for x in tries]
            b["rounds_sweep_ns_per_cell"] = [x["kernels"].get("sweep_bands", {}).get("ns_per_cell") for x in tries]
            b["rounds_sweep_cpu_ns_per_cell"] = [x["kernels"].get("sweep_bands", {}).get("cpu_ns_per_cell")
                                                 for x in tries]
            b["min_sweep_cpu_ns_per_cell"] = min(v for v in b["rounds_sweep_cpu_ns_per_cell"] if v is not None)
            best.append(b)
        merged["targets"][t] = {"machine": res[0]["machine"], "best": best, "all": res}
    print(f"\n{'target':<14} {'LLVM cpu':<16} {'form':<10} {'threads':>7} {'sweep ns/cell':>13} "
          f"{'sweep cpu ns':>12} {'step ns/cell':>12} {'cell-upd/s':>11} {'sweep vs first':>14} {'(cpu)':>7}")
    ref, ref_cpu = {}, {}
    for t, m in merged["targets"].items():
        tf = m["machine"]["target"]
        for b in m["best"]:
            sweep = b["kernels"]["sweep_bands"]["ns_per_cell"]
            sweep_cpu = b["min_sweep_cpu_ns_per_cell"]
            ref.setdefault(b["threads"], sweep)
            ref_cpu.setdefault(b["threads"], sweep_cpu)
            step_ns = b["step_ms"] * 1e6 / (b["size"] ** 2)
            print(f"{t:<14} {tf['llvm_cpu']:<16} {tf['kernel_form'][:10]:<10} {b['threads']:>7} {sweep:>13.2f} "
                  f"{sweep_cpu:>12.2f} {step_ns:>12.2f} {b['cell_updates_per_s']:>11.3g} "
                  f"{sweep / ref[b['threads']]:>13.2f}× {sweep_cpu / ref_cpu[b['threads']]:>6.2f}×")
    print("(fastest round by step time; 'cpu' = process CPU time, which other processes' load on the machine "
          "disturbs far less than wall time; with 1 thread it is the kernel's own time)")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(merged, indent=2, default=float))
    print(f"\nwrote {json_path}")
    return 0


def _wrap(totals, counts):
    """Replace each kernel name in the solver module by a timed call of the original."""
    for name in KERNELS:
        original = getattr(solver, name)

        def timed(*args, _f=original, _n=name, **kwargs):
            c0 = time.process_time()
            t0 = time.perf_counter()
            out = _f(*args, **kwargs)
            totals[_n] += time.perf_counter() - t0
            totals["cpu " + _n] += time.process_time() - c0
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
    load0 = os.getloadavg()[0]
    c0 = time.process_time()
    t0 = time.perf_counter()
    for _ in range(steps):
        sim.step()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    cells = size * size
    rows = {}
    for name in KERNELS:
        if counts[name]:
            rows[name] = {"ns_per_cell": totals[name] / steps / cells * 1e9, "share": totals[name] / wall,
                          "cpu_ns_per_cell": totals["cpu " + name] / steps / cells * 1e9, "calls": counts[name]}
    kernels = sum(v for k, v in totals.items() if not k.startswith("cpu "))
    rows["python overhead"] = {"ns_per_cell": (wall - kernels) / steps / cells * 1e9,
                               "share": (wall - kernels) / wall, "calls": steps}
    return {"size": size, "threads": threads, "steps": steps, "step_ms": wall / steps * 1e3,
            "cpu_ms_per_step": cpu / steps * 1e3, "cell_updates_per_s": cells * steps / wall,
            "loadavg_1min_before_after": [load0, os.getloadavg()[0]], "kernels": rows}


if __name__ == "__main__":
    raise SystemExit(main())
