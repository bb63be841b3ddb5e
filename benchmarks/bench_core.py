"""Core throughput benchmark: floodsim vs Landlab ``OverlandFlow`` on synthetic urban-ish terrain.

Usage::

    python benchmarks/bench_core.py                      # 500², 1000², 2000², 30-min storm, with Landlab
    python benchmarks/bench_core.py --quick              # 300 s simulated, shorter Landlab budget
    python benchmarks/bench_core.py --sizes 500 --no-landlab
    python benchmarks/bench_core.py --merewether         # also time the Merewether scenario end to end
    python benchmarks/bench_core.py --cpu haswell        # numba compiles for another CPU (AVX2 code)
    python benchmarks/bench_core.py --targets native,haswell,x86-64 --rounds 2   # side by side, alternating

Cell-updates are counted as ``cells × time steps / wall seconds`` (cells = every cell of the N×N grid,
steps = the solver's own adaptive steps). Numba compile time is excluded: every kernel is compiled on a
tiny grid first and the timed runs start afterwards. Landlab's first ``run_one_step`` call (which builds
its lazy link/node connectivity) is excluded the same way.

See benchmarks/README.md for what every column means.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

# Both floodsim (numba, OpenMP threading layer) and Landlab (Cython prange) use GNU OpenMP. The
# benchmark leaves its wait policy as a user gets it (unset: threads spin briefly after a parallel
# region, then sleep), and records OMP_WAIT_POLICY in the JSON. On an idle machine that is the faster
# setting for floodsim: with OMP_WAIT_POLICY=passive every parallel region first wakes sleeping
# threads, which cost it 10-20 % on 1M cells (2026-11-26). On a machine that other processes load, spinning
# threads can wait a scheduler time slice per region (a 64² step took 12-16 ms instead of 0.09 ms);
# there, run with OMP_WAIT_POLICY=passive.

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

# The terrain, storm and simulation set-up are floodsim's own (floodsim.run.bench), shared with `floodsim bench`.
from floodsim.run import bench as setup  # noqa: E402
from floodsim.run.bench import DX, MANNING, PLANE_SLOPE, QUICK_S, RAIN_MM_H, STORM_S, make_terrain  # noqa: E402,F401

TARGET_RATIO = 10.0
TARGET_CUPS_4M = 2.5e8
TARGET_BYTES_PER_CELL = 100.0
TARGET_CUPS_4M_SINGLE = 4e8        # issue 14: float32 at 4M cells on the 2-core machine
TARGET_SINGLE_SPEEDUP = 1.6        # issue 14: single precision at least 1.6x double
TARGET_SINGLE_MEMORY = 0.6         # issue 14: single precision at most 60 % of double's memory


# --------------------------------------------------------------------------- helpers
def _rss_bytes() -> int:
    """Current resident set size of this process [bytes] (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def _maxrss_bytes() -> int:
    """Peak resident set size of this process so far [bytes] (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def machine_facts() -> dict:
    import numba
    facts = {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "hostname": platform.node(),
        "platform": platform.platform(),
        "processor": platform.processor(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "numba": numba.__version__,
        "cpu_count": os.cpu_count(),
        "numba_num_threads": numba.config.NUMBA_NUM_THREADS,
        "numba_threads_in_use": numba.get_num_threads(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
        "loadavg_at_start": os.getloadavg(),
        "NUMBA_NUM_THREADS_env": os.environ.get("NUMBA_NUM_THREADS"),
    }
    try:
        facts["numba_threading_layer"] = numba.threading_layer()
    except ValueError:
        facts["numba_threading_layer"] = "not initialised"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    facts["cpu_model"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    facts["cpu_flags"] = cpu_flags()
    facts["target"] = target_facts()
    try:
        import landlab
        facts["landlab"] = landlab.__version__
    except Exception as exc:  # noqa: BLE001 - any import failure just means "not available"
        facts["landlab"] = f"not importable: {type(exc).__name__}: {exc}"
    try:
        import floodsim
        facts["floodsim"] = floodsim.__version__
        facts["floodsim_git"] = os.popen(f"git -C {REPO} rev-parse --short HEAD 2>/dev/null").read().strip()
    except Exception:  # noqa: BLE001
        pass
    return facts


# --------------------------------------------------------------------------- compile targets
#: Set in a re-executed benchmark process: the --cpu target its environment was made for.
TARGET_MARK = "FLOODSIM_BENCH_TARGET"

CPU_HELP = ("CPU numba compiles for: native (this machine), haswell (AVX2 + FMA), x86-64 (SSE2, the generic "
            "floor) or any LLVM CPU name (znver3, skylake-avx512, ...). The script runs again in a fresh "
            "process with NUMBA_CPU_NAME=NAME and NUMBA_CPU_FEATURES='' (LLVM's own features for NAME; "
            "NUMBA_CPU_NAME alone keeps the host's features, AVX-512 included) and a numba cache of its own")


def target_env(cpu: str) -> dict:
    """The environment of a benchmark process that compiles for ``cpu`` (``native``: the host).

    numba reads ``NUMBA_CPU_NAME``/``NUMBA_CPU_FEATURES`` once, at import, so they are set for a new
    process. Every target gets its own ``NUMBA_CACHE_DIR`` so that cached machine code of one target
    is never loaded for another.
    """
    env = dict(os.environ)
    env[TARGET_MARK] = cpu
    if cpu == "native":
        env.pop("NUMBA_CPU_NAME", None)
        env.pop("NUMBA_CPU_FEATURES", None)
    else:
        env["NUMBA_CPU_NAME"] = cpu
        env["NUMBA_CPU_FEATURES"] = ""
    env["NUMBA_CACHE_DIR"] = str(Path(tempfile.gettempdir()) / f"floodsim-numba-cache-{cpu}")
    return env


def on_target(cpu: str | None) -> bool:
    """True when this process already runs with the environment of ``cpu`` (or no --cpu was given)."""
    return cpu is None or os.environ.get(TARGET_MARK) == cpu


def run_on_target(script: Path, argv: list[str], cpu: str) -> int:
    """Run ``script argv`` again in a fresh Python with the environment of ``cpu``; its exit code."""
    return subprocess.call([sys.executable, str(script), *argv], env=target_env(cpu))


def parse_targets(text: str) -> list[str]:
    """``"native,haswell,x86-64"`` -> the list of targets (duplicates dropped, order kept)."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise SystemExit("--targets: give one or more CPU names separated by commas, e.g. native,haswell,x86-64")
    return list(dict.fromkeys(names))


def without_options(argv: list[str], names: tuple[str, ...]) -> list[str]:
    """``argv`` without the options ``names`` (each taking one value, as ``--x V`` or ``--x=V``)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in names:
            skip = True
            continue
        if any(a.startswith(n + "=") for n in names):
            continue
        out.append(a)
    return out


def cpu_flags() -> list[str]:
    """The host CPU's flags from /proc/cpuinfo (empty where there is none)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return line.split(":", 1)[1].split()
    except OSError:
        pass
    return []


#: The vector extensions worth naming in a summary (of cpu_flags()).
VECTOR_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512dq", "avx512bw", "avx512vl", "avx512_vnni",
                "asimd", "sve")


def target_facts() -> dict:
    """What the kernels are compiled for in this process: the requested target, LLVM's CPU name and
    features, the kernel code form chosen for it, and the host CPU it runs on."""
    import numba

    try:
        from floodsim.kernels._jit import KERNEL_FORM, compile_target
    except ImportError:  # a floodsim from before the per-target forms (comparing old and new kernels)
        import llvmlite.binding as ll

        KERNEL_FORM = "single form (floodsim before per-target forms)"

        def compile_target():
            f = numba.config.CPU_FEATURES
            return {"cpu": numba.config.CPU_NAME or ll.get_host_cpu_name(),
                    "features": ll.get_host_cpu_features().flatten() if f is None else f}

    t = compile_target()
    flags = cpu_flags()
    return {
        "requested": os.environ.get(TARGET_MARK, "native"),
        "llvm_cpu": t["cpu"],
        "llvm_features": t["features"] or f"(LLVM's defaults for {t['cpu']})",
        "kernel_form": KERNEL_FORM,
        "NUMBA_CPU_NAME": numba.config.CPU_NAME,
        "NUMBA_CPU_FEATURES": numba.config.CPU_FEATURES,
        "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR"),
        "host_vector_flags": [f for f in VECTOR_FLAGS if f in flags],
    }


# --------------------------------------------------------------------------- floodsim
#: SolverParams overrides (set from --dt-max); empty = floodsim defaults
SOLVER_OVERRIDES: dict = {}


def build_simulation(z: np.ndarray, precision: str = "double"):
    """floodsim's benchmark simulation (floodsim.run.bench) with this run's solver overrides."""
    return setup.build_simulation(z, **SOLVER_OVERRIDES, precision=precision)


def _arrays_of(obj) -> list:
    """Every numpy array held directly by a dataclass instance (so renamed fields are never missed)."""
    return [v for v in vars(obj).values() if isinstance(v, np.ndarray)]


def floodsim_array_bytes(sim) -> dict:
    """nbytes of every array floodsim holds for a run, grouped; 'total' sums them."""
    s, bw, f = sim.state, sim.bands, sim.faces
    repair = (bw.stack, bw.touched, bw.visits)
    groups = {
        "state (h, qx, qy, h_max, v2_max, t_hmax, infil_F)": sum(a.nbytes for a in _arrays_of(s)),
        "sim.z (solver's bed; 0 when it is the grid's array)": 0 if sim.z is sim.grid.z else sim.z.nbytes,
        "grid.z + grid.valid (the Grid object; valid is a view of one byte when every cell has data)":
            sim.grid.z.nbytes + (0 if 0 in sim.grid.valid.strides else sim.grid.valid.nbytes),
        "sim.active (buildings are derived from it)": sim.active.nbytes,
        "sim.manning": sim.manning.nbytes,
        "band work (edges, rows, flags)": sum(a.nbytes for a in _arrays_of(bw) if not any(a is r for r in repair)),
        "band work: repair scratch (int32 stack + int32 list + uint8 visits per cell)": sum(a.nbytes for a in repair),
        "roof/boundary/infiltration arrays": sum(
            a.nbytes for a in (*(sim._roof_pairs or ()), sim.roof_dst_cells, sim.roof_count, *_arrays_of(f),
                                *sim._infil[1:])),
    }
    groups["total"] = sum(groups.values())
    return groups


def warm_up(precisions=("double",)) -> float:
    """Compile every kernel the timed runs use on a 40×40 grid; return the seconds it took."""
    t0 = time.perf_counter()
    for precision in precisions:
        sim = build_simulation(make_terrain(40), precision)
        sim.advance_to(120.0)
    return time.perf_counter() - t0


def floodsim_memory_probe(z: np.ndarray, probe_steps: int = 3, precision: str = "double") -> dict:
    """Peak numpy allocation (tracemalloc) while building a Simulation and taking a few steps."""
    gc.collect()
    rss0 = _rss_bytes()
    tracemalloc.start()
    sim = build_simulation(z, precision)
    for _ in range(probe_steps):
        sim.step()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss1 = _rss_bytes()
    arrays = floodsim_array_bytes(sim)
    del sim
    gc.collect()
    return {"tracemalloc_current": current, "tracemalloc_peak": peak, "rss_growth": rss1 - rss0,
            "arrays": arrays}


class _RepairTimer:
    """Wraps floodsim.core.simulation.repair_negative_depths to time it (it runs only on steps with negatives)."""

    def __init__(self):
        import floodsim.core.simulation as solver
        self.solver = solver
        self.inner = solver.repair_negative_depths
        self.calls = 0
        self.seconds = 0.0
        self.max_call_s = 0.0
        self.negative_cells = 0

    def __call__(self, **kwargs):
        self.calls += 1
        self.negative_cells += int(kwargs["row_negative"].sum())
        t0 = time.perf_counter()
        out = self.inner(**kwargs)
        dt = time.perf_counter() - t0
        self.seconds += dt
        self.max_call_s = max(self.max_call_s, dt)
        return out

    def __enter__(self):
        self.solver.repair_negative_depths = self
        return self

    def __exit__(self, *exc):
        self.solver.repair_negative_depths = self.inner


def run_floodsim(z: np.ndarray, duration: float, precision: str = "double") -> dict:
    n_cells = z.size
    mem = floodsim_memory_probe(z, precision=precision)
    gc.collect()
    maxrss0 = _maxrss_bytes()
    t_build = time.perf_counter()
    sim = build_simulation(z, precision)
    load0 = os.getloadavg()
    with _RepairTimer() as repair:
        c0 = time.process_time()
        t0 = time.perf_counter()
        sim.advance_to(duration)
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
    load1 = os.getloadavg()
    sim.check_finite()
    steps = sim.state.steps
    stored = sim.stored_volume()
    bal = sim.balance
    out = {
        "precision": precision,
        "cells": n_cells,
        "simulated_s": duration,
        "build_s": t0 - t_build,
        "wall_s": wall,
        "steps": steps,
        "mean_dt_s": duration / steps,
        "repair_negative_depths": {"calls": repair.calls, "seconds": repair.seconds,
                                   "max_call_s": repair.max_call_s, "negative_cells": repair.negative_cells},
        "loadavg_1min_before_after": [load0[0], load1[0]],
        "cell_updates_per_s": n_cells * steps / wall,
        "ns_per_cell_update": wall / (n_cells * steps) * 1e9,
        "cpu_s": cpu,
        "cell_updates_per_cpu_s": n_cells * steps / cpu,
        "bytes_per_cell_arrays": mem["arrays"]["total"] / n_cells,
        "bytes_per_cell_tracemalloc_peak": mem["tracemalloc_peak"] / n_cells,
        "bytes_per_cell_rss_growth": mem["rss_growth"] / n_cells,
        "maxrss_growth_during_run_bytes": _maxrss_bytes() - maxrss0,
        "array_bytes": mem["arrays"],
        "volume_relative_error": bal.relative_error(stored),
        "volume": bal.as_dict(stored),
        "max_depth_m": float(sim.state.h_max.max()),
        "wet_fraction_end": float((sim.state.h > sim.params.hmin).mean()),
    }
    del sim
    gc.collect()
    return out


# --------------------------------------------------------------------------- landlab
def landlab_available() -> tuple[bool, str]:
    try:
        from landlab import RasterModelGrid  # noqa: F401
        from landlab.components import OverlandFlow  # noqa: F401
    except Exception as exc:  # noqa: BLE001
        return False, f"landlab not importable ({type(exc).__name__}: {exc})"
    return True, ""


def run_landlab(z: np.ndarray, wall_budget: float, max_steps: int, sim_limit: float) -> dict:
    """Landlab OverlandFlow (de Almeida, steep_slopes) on the same terrain and storm.

    One ``run_one_step()`` without ``dt`` is exactly one adaptive step of Landlab's own CFL condition.
    The first call (lazy set-up of link connectivity) is excluded; then steps are timed until the wall
    budget, ``max_steps`` or ``sim_limit`` simulated seconds is reached, whichever comes first.
    """
    from landlab import RasterModelGrid
    from landlab.components import OverlandFlow

    ny, nx = z.shape
    t_build = time.perf_counter()
    grid = RasterModelGrid((ny, nx), xy_spacing=DX)
    # Landlab row 0 is the south edge; floodsim row 0 is the north edge.
    grid.add_field("topographic__elevation", np.flipud(z).ravel().copy(), at="node")
    grid.add_zeros("surface_water__depth", at="node")
    # south (bottom) edge open (fixed value), the other three closed, as in the floodsim run
    grid.set_closed_boundaries_at_grid_edges(True, True, True, False)
    of = OverlandFlow(grid, mannings_n=MANNING, alpha=0.7, theta=0.8, steep_slopes=True,
                      rainfall_intensity=RAIN_MM_H / 1000.0 / 3600.0)
    build = time.perf_counter() - t_build
    t1 = time.perf_counter()
    sim_t = of.run_one_step()
    first = time.perf_counter() - t1
    steps = 0
    load0 = os.getloadavg()
    c0 = time.process_time()
    t0 = time.perf_counter()
    while True:
        sim_t += of.run_one_step()
        steps += 1
        wall = time.perf_counter() - t0
        if wall >= wall_budget or steps >= max_steps or sim_t >= sim_limit:
            break
    cpu = time.process_time() - c0
    h = grid.at_node["surface_water__depth"]
    return {
        "cells": z.size,
        "build_s": build,
        "first_call_s": first,
        "wall_s": wall,
        "steps": steps,
        "simulated_s": sim_t,
        "cell_updates_per_s": z.size * steps / wall,
        "ns_per_cell_update": wall / (z.size * steps) * 1e9,
        "cpu_s": cpu,
        "cell_updates_per_cpu_s": z.size * steps / cpu,
        "loadavg_1min_before_after": [load0[0], os.getloadavg()[0]],
        "max_depth_m": float(h.max()),
        "finite": bool(np.isfinite(h).all()),
    }


# --------------------------------------------------------------------------- Merewether
def run_merewether() -> dict:
    """Time the Merewether cloudburst end to end through floodsim.run.runner.run_scenario."""
    scenario = REPO / "scenarios" / "merewether_cloudburst.toml"
    if not scenario.exists():
        return {"skipped": f"scenario file not found: {scenario.relative_to(REPO)}"}
    from floodsim.run.runner import run_scenario

    warm_up()
    t0 = time.perf_counter()
    result = run_scenario(scenario)
    wall = time.perf_counter() - t0
    out = {"scenario": str(scenario.relative_to(REPO)), "wall_s": wall}
    for attr in ("steps", "cells"):   # whatever the runner reports, if anything
        val = getattr(result, attr, None) if not isinstance(result, dict) else result.get(attr)
        if isinstance(val, (int, float)):
            out[attr] = val
    if "steps" in out and "cells" in out:
        out["cell_updates_per_s"] = out["cells"] * out["steps"] / wall
    return out


# --------------------------------------------------------------------------- report
def _fmt_table(rows: list[dict]) -> str:
    head = ("size", "precision", "cells", "steps", "wall s", "cell-upd/s", "B/cell", "vol err",
            "LL steps", "LL cell-upd/s", "ratio")
    lines = []
    for r in rows:
        ll = r.get("landlab") or {}
        llc = ll.get("cell_updates_per_s")
        for f in (r["floodsim"], r.get("floodsim_single")):
            if f is None:
                continue
            lines.append((
                f"{r['n']}²", "float32" if f.get("precision") == "single" else "float64", f"{f['cells']:,}",
                f"{f['steps']:,}", f"{f['wall_s']:.1f}",
                f"{f['cell_updates_per_s']:.3g}", f"{f['bytes_per_cell_arrays']:.1f}",
                f"{f['volume_relative_error']:.1e}",
                f"{ll['steps']}" if llc else "-", f"{llc:.3g}" if llc else "skipped",
                f"{f['cell_updates_per_s'] / llc:.1f}×" if llc else "-",
            ))
    widths = [max(len(h), *(len(l[k]) for l in lines)) for k, h in enumerate(head)]
    out = ["  ".join(h.rjust(w) for h, w in zip(head, widths)),
           "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.rjust(w) for c, w in zip(l, widths)) for l in lines]
    return "\n".join(out)


def _targets(rows: list[dict]) -> list[dict]:
    res = []
    ratios = [r["floodsim"]["cell_updates_per_s"] / r["landlab"]["cell_updates_per_s"]
              for r in rows if r.get("landlab") and r["landlab"].get("cell_updates_per_s")]
    if ratios:
        res.append({"target": f"floodsim >= {TARGET_RATIO:g}x Landlab (every size)",
                    "value": f"min {min(ratios):.1f}x", "pass": min(ratios) >= TARGET_RATIO})
    else:
        res.append({"target": f"floodsim >= {TARGET_RATIO:g}x Landlab", "value": "not measured",
                    "pass": None})
    big = [r for r in rows if r["n"] * r["n"] >= 4_000_000]
    if big:
        v = big[-1]["floodsim"]["cell_updates_per_s"]
        res.append({"target": f">= {TARGET_CUPS_4M:.2g} cell-updates/s at 4M cells (float64)",
                    "value": f"{v:.3g}", "pass": v >= TARGET_CUPS_4M})
    else:
        res.append({"target": f">= {TARGET_CUPS_4M:.2g} cell-updates/s at 4M cells", "value":
                    "not measured (run --sizes 2000)", "pass": None})
    bpc = max(r["floodsim"]["bytes_per_cell_arrays"] for r in rows)
    res.append({"target": f"< {TARGET_BYTES_PER_CELL:g} bytes/cell (floodsim arrays)",
                "value": f"max {bpc:.1f}", "pass": bpc < TARGET_BYTES_PER_CELL})
    single = [r for r in rows if r.get("floodsim_single")]
    if single:
        speed = [r["floodsim_single"]["cell_updates_per_s"] / r["floodsim"]["cell_updates_per_s"] for r in single]
        # memory: the peak of numpy allocations while building the model and taking three steps
        # (tracemalloc; RSS growth is no measure here, the allocator reuses the pages of the run before),
        # and the arrays' nbytes
        mem = [r["floodsim_single"]["bytes_per_cell_tracemalloc_peak"]
               / r["floodsim"]["bytes_per_cell_tracemalloc_peak"] for r in single]
        mem_arrays = [r["floodsim_single"]["bytes_per_cell_arrays"] / r["floodsim"]["bytes_per_cell_arrays"]
                      for r in single]
        res.append({"target": f"single >= {TARGET_SINGLE_SPEEDUP:g}x double (every size)",
                    "value": ", ".join(f"{r['n']}²: {v:.2f}x" for r, v in zip(single, speed)),
                    "pass": min(speed) >= TARGET_SINGLE_SPEEDUP})
        res.append({"target": f"single <= {TARGET_SINGLE_MEMORY:.0%} of double's memory (allocation peak)",
                    "value": f"max {max(mem):.0%} (array nbytes: max {max(mem_arrays):.0%})",
                    "pass": max(mem) <= TARGET_SINGLE_MEMORY})
        big_s = [r for r in single if r["n"] * r["n"] >= 4_000_000]
        if big_s:
            v = big_s[-1]["floodsim_single"]["cell_updates_per_s"]
            res.append({"target": f">= {TARGET_CUPS_4M_SINGLE:.2g} cell-updates/s at 4M cells (float32)",
                        "value": f"{v:.3g}", "pass": v >= TARGET_CUPS_4M_SINGLE})
        ll_s = [r["floodsim_single"]["cell_updates_per_s"] / r["landlab"]["cell_updates_per_s"]
                for r in single if r.get("landlab") and r["landlab"].get("cell_updates_per_s")]
        if ll_s:
            res.append({"target": "(single vs Landlab, for information)", "value": f"min {min(ll_s):.1f}x",
                        "pass": None})
    return res


def _fastest(runs: list[dict]) -> dict:
    """The run with the highest cell-updates/s, with every run's figure in ``runs_cell_updates_per_s``."""
    timed = [r for r in runs if "cell_updates_per_s" in r]
    if not timed:
        return runs[-1]
    best = dict(max(timed, key=lambda r: r["cell_updates_per_s"]))
    best["runs_cell_updates_per_s"] = [r["cell_updates_per_s"] for r in timed]
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000],
                    help="grid edge lengths N (N×N cells, dx = 1 m); default 500 1000 2000")
    ap.add_argument("--quick", action="store_true",
                    help=f"simulate {QUICK_S:g} s instead of the {STORM_S:g} s storm; Landlab budget 10 s")
    ap.add_argument("--duration", type=float, default=None, help="simulated seconds (overrides --quick)")
    ap.add_argument("--no-landlab", action="store_true", help="skip the Landlab comparison")
    ap.add_argument("--landlab-wall", type=float, default=None,
                    help="Landlab wall-time budget per size [s] (default 60, 10 with --quick)")
    ap.add_argument("--landlab-steps", type=int, default=500, help="Landlab max timed steps per size")
    ap.add_argument("--landlab-sim", type=float, default=STORM_S,
                    help="Landlab max simulated seconds per size")
    ap.add_argument("--dt-max", type=float, default=None,
                    help="override SolverParams.dt_max [s] (default: floodsim's own, 5 s). With the default, "
                         "the first wet step after the dry start can send repair_negative_depths into a "
                         "very long cascade (see README)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs per size of each code, alternating floodsim and Landlab; the fastest run of "
                         "each is reported (the least disturbed by other load on a shared machine), every "
                         "run is in the JSON")
    ap.add_argument("--merewether", action="store_true", help="also time the Merewether scenario")
    ap.add_argument("--single", action="store_true",
                    help="also run floodsim in single precision (precision = \"single\") at each size, "
                         "alternating with the double runs, and report it beside double")
    ap.add_argument("--json", type=Path, default=HERE / "results" / "bench_core.json",
                    help="where to write the JSON results")
    ap.add_argument("--cpu", default=None, metavar="NAME", help=CPU_HELP)
    ap.add_argument("--targets", default=None, metavar="A,B,...",
                    help="run the benchmark for each of these --cpu targets, one process after another, and "
                         "compare them (each with its own Landlab runs); JSON: one entry per target")
    ap.add_argument("--rounds", type=int, default=1,
                    help="with --targets: rounds of the whole target list, alternating targets; the fastest "
                         "round of each target and size is reported (all are in the JSON)")
    args = ap.parse_args(argv)
    argv = list(sys.argv[1:] if argv is None else argv)
    if args.targets:
        return run_targets(Path(__file__), argv, parse_targets(args.targets), args.rounds, args.json)
    if not on_target(args.cpu):
        return run_on_target(Path(__file__), argv, args.cpu)

    duration = args.duration or (QUICK_S if args.quick else STORM_S)
    if args.dt_max is not None:
        SOLVER_OVERRIDES["dt_max"] = args.dt_max
    ll_wall = args.landlab_wall or (10.0 if args.quick else 60.0)
    facts = machine_facts()
    print(f"floodsim core benchmark — {facts['date']}")
    tf = facts["target"]
    print(f"  compiled for: {tf['requested']} (LLVM cpu {tf['llvm_cpu']}, kernel form {tf['kernel_form']}); "
          f"host vector flags: {' '.join(tf['host_vector_flags'])}")
    print(f"  CPU: {facts.get('cpu_model', '?')} ({facts['cpu_count']} logical CPUs); numba "
          f"{facts['numba']} with {facts['numba_threads_in_use']} threads; numpy {facts['numpy']}; "
          f"Python {facts['python']}; landlab {facts['landlab']}")
    print(f"  storm: {RAIN_MM_H:g} mm/h block for {STORM_S:g} s, Manning n = {MANNING}, free outflow "
          f"(normal depth, slope {PLANE_SLOPE}) on the south edge; simulated {duration:g} s per size")
    from floodsim import SolverParams
    print(f"  solver: {SolverParams(**SOLVER_OVERRIDES)}"
          + (" (NON-DEFAULT: --dt-max given)" if SOLVER_OVERRIDES else " (floodsim defaults)"))
    compile_s = warm_up(("double", "single") if args.single else ("double",))
    print(f"  numba warm-up (compile/cache load) on a 40×40 grid: {compile_s:.1f} s — EXCLUDED from all "
          "timings below")
    print("  cell-updates/s = cells × time steps / wall seconds of the run (compile time excluded)\n")

    ll_ok, ll_reason = (False, "--no-landlab given") if args.no_landlab else landlab_available()
    if not ll_ok:
        print(f"  Landlab skipped: {ll_reason}")
    rows = []
    for n in args.sizes:
        z = make_terrain(n)
        runs_f, runs_ll, runs_s = [], [], []
        for k in range(max(1, args.repeat)):
            tag = f"[{n}²]" + (f" run {k + 1}/{args.repeat}" if args.repeat > 1 else "")
            print(f"{tag} floodsim: {duration:g} s simulated ...", flush=True)
            f = run_floodsim(z, duration)
            print(f"{tag}   {f['steps']} steps in {f['wall_s']:.1f} s → {f['cell_updates_per_s']:.3g} "
                  f"cell-updates/s; {f['bytes_per_cell_arrays']:.1f} B/cell arrays, tracemalloc peak "
                  f"{f['bytes_per_cell_tracemalloc_peak']:.1f} B/cell, RSS growth "
                  f"{f['bytes_per_cell_rss_growth']:.1f} B/cell; vol err {f['volume_relative_error']:.1e}; "
                  f"max depth {f['max_depth_m']:.2f} m, wet at end {f['wet_fraction_end']:.0%}", flush=True)
            rp = f["repair_negative_depths"]
            print(f"{tag}   of which repair_negative_depths: {rp['seconds']:.1f} s in {rp['calls']} calls "
                  f"(longest {rp['max_call_s']:.2f} s); load average {f['loadavg_1min_before_after'][0]:.2f} → "
                  f"{f['loadavg_1min_before_after'][1]:.2f}", flush=True)
            runs_f.append(f)
            if args.single:
                print(f"{tag} floodsim, single precision: {duration:g} s simulated ...", flush=True)
                f32 = run_floodsim(z, duration, "single")
                print(f"{tag}   {f32['steps']} steps in {f32['wall_s']:.1f} s → {f32['cell_updates_per_s']:.3g} "
                      f"cell-updates/s ({f32['cell_updates_per_s'] / f['cell_updates_per_s']:.2f}× double); "
                      f"{f32['bytes_per_cell_arrays']:.1f} B/cell arrays, tracemalloc peak "
                      f"{f32['bytes_per_cell_tracemalloc_peak']:.1f} B/cell; vol err "
                      f"{f32['volume_relative_error']:.1e}, rounding {f32['volume']['rounding']:.3g} m³; max depth "
                      f"{f32['max_depth_m']:.4f} m (double {f['max_depth_m']:.4f})", flush=True)
                runs_s.append(f32)
            if ll_ok:
                print(f"{tag} Landlab OverlandFlow: up to {ll_wall:g} s wall / {args.landlab_steps} steps ...",
                      flush=True)
                try:
                    ll = run_landlab(z, ll_wall, args.landlab_steps, args.landlab_sim)
                    print(f"{tag}   {ll['steps']} steps ({ll['simulated_s']:.0f} s simulated) in "
                          f"{ll['wall_s']:.1f} s → {ll['cell_updates_per_s']:.3g} cell-updates/s "
                          f"(first call {ll['first_call_s']:.1f} s excluded)", flush=True)
                except Exception as exc:  # noqa: BLE001 - report, keep going
                    ll = {"skipped": f"Landlab failed: {type(exc).__name__}: {exc}"}
                    print(f"{tag}   {ll['skipped']}")
                runs_ll.append(ll)
        row = {"n": n, "floodsim": _fastest(runs_f)}
        if runs_s:
            row["floodsim_single"] = _fastest(runs_s)
        row["landlab"] = _fastest(runs_ll) if ll_ok else {"skipped": ll_reason}
        rows.append(row)
        del z
        gc.collect()

    print("\n" + _fmt_table(rows))
    print("\n(B/cell = bytes of floodsim's own arrays per cell; vol err = relative continuity error; "
          "LL = Landlab; ratio = floodsim/Landlab cell-updates/s)")
    targets = _targets(rows)
    print()
    for t in targets:
        verdict = "PASS" if t["pass"] else ("FAIL" if t["pass"] is False else "N/A ")
        print(f"{verdict}  {t['target']}: {t['value']}")

    merewether = None
    if args.merewether:
        merewether = run_merewether()
        if "skipped" in merewether:
            print(f"\nMerewether cloudburst: skipped: {merewether['skipped']}")
        else:
            print(f"\nMerewether cloudburst end to end: {merewether['wall_s']:.1f} s wall")

    result = {"machine": facts, "compile_warmup_s": compile_s, "simulated_s": duration,
              "storm": {"intensity_mm_h": RAIN_MM_H, "duration_s": STORM_S}, "manning": MANNING,
              "counting": "cell-updates/s = cells x steps / wall seconds; compile time excluded",
              "solver_overrides": dict(SOLVER_OVERRIDES), "rows": rows, "targets": targets, "merewether": merewether, "argv": sys.argv[1:]}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, default=float))
    print(f"\nwrote {args.json}")
    return 0


def run_targets(script: Path, argv: list[str], targets: list[str], rounds: int, json_path: Path) -> int:
    """``--targets``: run ``script`` once per target and round (targets alternate within a round, so
    a change of load hits all of them alike), then merge: per target and size, the fastest floodsim
    and the fastest Landlab run over the rounds, and their ratio."""
    child_argv = without_options(argv, ("--targets", "--rounds", "--json", "--cpu"))
    runs: dict[str, list[dict]] = {t: [] for t in targets}
    with tempfile.TemporaryDirectory(prefix="floodsim-bench-") as tmp:
        for r in range(max(1, rounds)):
            for t in targets:
                out = Path(tmp) / f"{t}-{r}.json"
                print(f"\n=== target {t}, round {r + 1}/{max(1, rounds)} ===", flush=True)
                rc = run_on_target(script, [*child_argv, "--cpu", t, "--json", str(out)], t)
                if rc != 0:
                    print(f"target {t}: the benchmark process failed (exit {rc})", file=sys.stderr)
                    return rc
                runs[t].append(json.loads(out.read_text()))
    merged = {"argv": argv, "rounds": max(1, rounds), "targets": {}}
    for t, results in runs.items():
        rows = []
        for k, row in enumerate(results[0]["rows"]):
            fs = [res["rows"][k]["floodsim"] for res in results]
            lls = [res["rows"][k]["landlab"] for res in results if "cell_updates_per_s" in res["rows"][k]["landlab"]]
            best = dict(max(fs, key=lambda f: f["cell_updates_per_s"]))
            best["rounds_cell_updates_per_s"] = [f["cell_updates_per_s"] for f in fs]
            entry = {"n": row["n"], "floodsim": best}
            if lls:
                ll = dict(max(lls, key=lambda f: f["cell_updates_per_s"]))
                ll["rounds_cell_updates_per_s"] = [f["cell_updates_per_s"] for f in lls]
                entry["landlab"] = ll
                entry["ratio"] = best["cell_updates_per_s"] / ll["cell_updates_per_s"]
                # per CPU second: what each code gets done with the processor time it was given, less
                # disturbed by other processes on a loaded machine than the wall-clock ratio
                entry["cpu_ratio"] = (max(f["cell_updates_per_cpu_s"] for f in fs)
                                      / max(f["cell_updates_per_cpu_s"] for f in lls))
            else:
                entry["landlab"] = row["landlab"]
            rows.append(entry)
        merged["targets"][t] = {"machine": results[0]["machine"], "rows": rows, "runs": results}
    print("\n" + _fmt_targets(merged))
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(merged, indent=2, default=float))
    print(f"\nwrote {json_path}")
    return 0


def _fmt_targets(merged: dict) -> str:
    """The --targets summary: one line per target and size."""
    head = ("target", "LLVM cpu", "form", "size", "floodsim cell-upd/s", "Landlab cell-upd/s", "ratio",
            "ratio per CPU s", "vs first target")
    first = {}
    lines = []
    for t, res in merged["targets"].items():
        tf = res["machine"]["target"]
        for row in res["rows"]:
            c = row["floodsim"]["cell_updates_per_s"]
            first.setdefault(row["n"], c)
            llc = row["landlab"].get("cell_updates_per_s")
            lines.append((t, tf["llvm_cpu"], tf["kernel_form"][:12], f"{row['n']}²", f"{c:.3g}",
                          f"{llc:.3g}" if llc else "skipped", f"{row['ratio']:.1f}×" if llc else "-",
                          f"{row['cpu_ratio']:.1f}×" if llc else "-", f"{c / first[row['n']]:.2f}"))
    widths = [max(len(h), *(len(l[k]) for l in lines)) for k, h in enumerate(head)]
    out = ["  ".join(h.rjust(w) for h, w in zip(head, widths)), "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.rjust(w) for c, w in zip(l, widths)) for l in lines]
    m = next(iter(merged["targets"].values()))["machine"]
    out.append(f"(host: {m.get('cpu_model', '?')}, {m['cpu_count']} logical CPUs; fastest of "
               f"{merged['rounds']} round(s) per target and size; ratio = floodsim / Landlab of the same target's runs)")
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(main())
