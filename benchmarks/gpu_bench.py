"""GPU benchmark of the CUDA backend (issue 14): one prepared script for a short GPU session.

Usage (on a machine with an NVIDIA GPU, ``pip install ".[cuda]"``)::

    python benchmarks/gpu_bench.py                 # ~8 min: writes benchmarks/results/gpu_bench.json
    python benchmarks/gpu_bench.py --budget-s 300  # a tighter time guard
    NUMBA_ENABLE_CUDASIM=1 python benchmarks/gpu_bench.py --smoke --out /tmp/smoke.json   # no GPU: tiny sizes

What it does, in order, each step inside the time guard (``--budget-s``, default 480 s; a step whose
estimated time does not fit is skipped and the JSON says so):

1. checks the GPU (name, compute capability, memory, driver) and stops with exit 2 if there is none;
2. checks correctness on the device: a small rain-on-a-basin run on the CPU and on the GPU, largest
   differences of depth and discharges, in float64 (``check``: agrees to round-off) and in float32
   (``check_single``, ``[simulation] precision = "single"`` on both: agrees to float32 round-off, with
   the closure error and the float32 rounding term of each backend's balance); tests/cuda shows both in
   the simulator, this shows them on the hardware;
3. measures the CPU on this machine: the synthetic benchmark terrain (:mod:`floodsim.run.bench`,
   ``make_terrain`` / ``build_simulation``) at 4M cells (2000²) for up to 300 simulated seconds, in
   float64 and float32 (each GPU row's ``ratio_to_cpu`` is to the CPU in the same precision,
   ``ratio_to_cpu_float64`` to the CPU's float64);
4. measures the GPU on the same terrain and storm at 4M, 16M and 64M cells (2000², 4000², 8000²) in
   float64 and in float32 (``precision = "double"`` and ``"single"``);
5. runs the Merewether cloudburst end to end (``run_scenario``: build, 60 simulated minutes, outputs)
   on the GPU in float64 and float32 and, if the budget allows, on the CPU, and compares their maximum
   depths.

Throughput is ``cells × time steps / wall seconds`` as in ``floodsim bench`` (JIT compilation excluded:
every kernel is compiled on a small grid first, in both precisions). The rows give the ratio to the CPU
figure of step 3 and the fraction of the memory-bandwidth bound of an H200 that issue 14 states (about
8e10 cell-updates/s: 4.8 TB/s over ~60 bytes a float64 cell-update; a float32 state moves fewer bytes, so
its own bound is higher and the fraction shown for float32 rows, of the same 8e10, flatters it). The
16M rows are set against the issue's targets (``targets``: at least 5e9 cell-updates/s in float64, 1e10
in float32). Terrains are generated in worker processes while the GPU runs. Results go to
``benchmarks/results/gpu_bench.json`` (``--out``) with the machine (platform, CPU count, numba threads,
the device's name, compute capability, memory and driver), and a table is printed.

``--smoke`` runs every step at tiny sizes, so that the script is tested on a CPU under numba's CUDA
simulator (tests/cuda/test_gpu_bench.py); its figures are those of the simulator, not of a GPU, and
the JSON says so (``"simulator": true``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import multiprocessing as mp
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SCENARIO = REPO / "scenarios" / "merewether_cloudburst.toml"

#: Targets of issue 14 on an H200 at 16M cells [cell-updates/s], and the bandwidth bound.
TARGET_F64, TARGET_F32, BANDWIDTH_BOUND = 5e9, 1e10, 8e10

FULL = dict(cpu_n=2000, sizes=(2000, 4000, 8000), simulated_s=300.0, run_cap_s=60.0, cpu_cap_s=45.0,
            check_n=64, check_steps=200, merewether_coarsen=1, merewether_min=60.0, warm_n=40)
SMOKE = dict(cpu_n=16, sizes=(12, 16, 20), simulated_s=20.0, run_cap_s=30.0, cpu_cap_s=10.0,
             check_n=10, check_steps=15, merewether_coarsen=32, merewether_min=2.0, warm_n=8)


# --------------------------------------------------------------------------- terrains, in worker processes
def _terrain_file(folder: str, n: int) -> str:
    return os.path.join(folder, f"terrain_{n}.npy")


def _make_terrain(args):
    folder, n = args
    from floodsim.run.bench import make_terrain

    path = _terrain_file(folder, n)
    np.save(path + ".part.npy", make_terrain(n))
    os.replace(path + ".part.npy", path)
    return path


# --------------------------------------------------------------------------- device
def device_info(cuda) -> dict:
    """Name, compute capability, memory and driver of the current device (what the simulator reports there)."""
    from floodsim.core.cuda_backend import is_simulator

    if is_simulator():
        return {"name": "numba CUDA simulator (no GPU)"}
    dev = cuda.get_current_device()
    name = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
    info = {"name": name, "compute_capability": list(dev.compute_capability),
            "multiprocessors": int(dev.MULTIPROCESSOR_COUNT)}
    try:
        free, total = cuda.current_context().get_memory_info()
        info.update(memory_total_bytes=int(total), memory_free_bytes=int(free))
    except Exception as exc:   # the simulator has no memory figures
        info["memory"] = f"not available ({type(exc).__name__})"
    try:
        from numba.cuda.cudadrv import driver

        info["driver_version"] = ".".join(map(str, driver.driver.get_version()))
    except Exception:
        pass
    return info


def _mem_used(cuda) -> int | None:
    try:
        free, total = cuda.current_context().get_memory_info()
        return int(total - free)
    except Exception:
        return None


# --------------------------------------------------------------------------- measurements
def timed_run(sim, simulated_s: float, cap_s: float) -> dict:
    """Step ``sim`` up to ``simulated_s`` [s] of simulated time, stopping after ``cap_s`` wall seconds."""
    n_cells = sim.grid.shape[0] * sim.grid.shape[1]
    steps0 = sim.state.steps
    t0 = time.perf_counter()
    while sim.state.t < simulated_s - 1e-9 and time.perf_counter() - t0 < cap_s:
        sim.step(simulated_s)
    wall = time.perf_counter() - t0
    steps = sim.state.steps - steps0
    sim.check_finite()
    return {"cells": n_cells, "steps": steps, "simulated_s": round(float(sim.state.t), 3), "wall_s": wall,
            "cell_updates_per_s": n_cells * steps / wall if wall > 0 else None,
            "capped": bool(sim.state.t < simulated_s - 1e-9)}


def correctness_check(n: int, steps: int, precision: str = "double") -> dict:
    """A rain-on-a-basin run (buildings, an outflow) on CPU and GPU in ``precision``: the largest
    differences, and each backend's balance closure and rounding term (relative to the volume)."""
    from floodsim import Boundary, Grid, Hyetograph, Simulation, SolverParams

    rng = np.random.default_rng(5)
    y, x = np.mgrid[0:n, 0:n]
    z = 0.002 * ((x - n / 2) ** 2 + (y - n / 2) ** 2) + rng.uniform(0.0, 0.3, (n, n))
    blocked = np.zeros((n, n), bool)
    blocked[n // 4:n // 4 + 2, n // 3:n // 3 + 3] = True
    sims = []
    for backend in ("cpu", "cuda"):
        sim = Simulation(Grid.from_array(z, 2.0), rainfall=Hyetograph.block(150.0, 3600.0), manning=0.04,
                         blocked=blocked, boundaries=[Boundary("south", "free", slope=0.01)],
                         params=SolverParams(backend=backend, precision=precision))
        sim.record_maxima()
        for _ in range(steps):
            sim.step()
        sims.append(sim)
    cpu, gpu = sims
    out = {"cells": n * n, "steps": steps, "precision": precision, "dtype": str(cpu.state.h.dtype),
           "same_steps_and_time": bool(cpu.state.steps == gpu.state.steps and cpu.state.t == gpu.state.t),
           "time_rel_diff": abs(cpu.state.t - gpu.state.t) / max(cpu.state.t, 1e-300)}
    for name in ("h", "qx", "qy", "h_max"):
        a, b = getattr(cpu.state, name).astype(float), getattr(gpu.state, name).astype(float)
        out[f"max_abs_diff_{name}"] = float(np.max(np.abs(a - b)))
        out[f"max_abs_{name}"] = float(np.max(np.abs(a)))
    total = max(abs(v) for v in vars(cpu.balance).values()) or 1.0
    out["balance_max_rel_diff"] = max(abs(vars(cpu.balance)[k] - vars(gpu.balance)[k]) for k in vars(cpu.balance)
                                      if k != "rounding") / total
    for label, sim in (("cpu", cpu), ("cuda", gpu)):
        volume = sim.total_volume()
        out[f"closure_{label}"] = sim.balance.relative_error(volume)
        out[f"rounding_{label}"] = sim.balance.relative_rounding(volume)
    return out


def merewether(backend: str, coarsen: int, minutes: float, out_dir: Path, precision: str = "double") -> dict:
    """The Merewether cloudburst end to end (build, run, write) on ``backend`` in ``precision``."""
    from floodsim.run.runner import run_scenario
    from floodsim.scenario.load import load_scenario

    sc = load_scenario(SCENARIO)
    sim_settings = sc.simulation.model_copy(update={"backend": backend, "coarsen": coarsen, "duration_min": minutes,
                                                    "precision": precision})
    sc = sc.model_copy(update={"simulation": sim_settings})
    t0 = time.perf_counter()
    out = run_scenario(sc, out_dir=out_dir)
    wall = time.perf_counter() - t0
    s = out.summary.to_dict()
    ds = out.dataset
    steps = int(s["steps"])
    cells = int(ds["max_depth"].size)
    return {"backend": backend, "precision": precision, "cells": cells, "simulated_min": minutes, "coarsen": coarsen,
            "steps": steps,
            "wall_s": wall, "cell_updates_per_s": cells * steps / wall if steps else None,
            "max_depth_m": float(np.nanmax(ds["max_depth"].values)),
            "relative_volume_error": float(ds.attrs.get("relative_volume_error", np.nan)),
            "_max_depth": ds["max_depth"].values}


# --------------------------------------------------------------------------- the run
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (CPU + numba's CUDA simulator)")
    ap.add_argument("--budget-s", type=float, default=480.0, help="time guard for the whole script [s]")
    ap.add_argument("--out", type=Path, default=None, help="JSON file (default benchmarks/results/gpu_bench.json; "
                    "with --smoke a temporary file)")
    args = ap.parse_args(argv)
    cfg = SMOKE if args.smoke else FULL
    start = time.perf_counter()
    left = lambda: args.budget_s - (time.perf_counter() - start)   # noqa: E731
    notes: list[str] = []
    out_path = args.out or (Path(tempfile.gettempdir()) / "gpu_bench_smoke.json" if args.smoke
                            else HERE / "results" / "gpu_bench.json")

    # terrains in worker processes, started before CUDA is initialised (fork)
    tmp = tempfile.TemporaryDirectory(prefix="floodsim_gpu_bench_")
    sizes = sorted({cfg["cpu_n"], *cfg["sizes"]})
    pool = mp.get_context("fork").Pool(processes=min(len(sizes), max(1, (os.cpu_count() or 2) // 2)))
    pending = {n: pool.apply_async(_make_terrain, ((tmp.name, n),)) for n in sizes}

    def terrain(n):
        return np.load(pending[n].get(timeout=max(1.0, left())))

    # 1. the GPU
    from floodsim.core.cuda_backend import is_simulator, require_cuda
    from floodsim.errors import InputDataError

    try:
        cuda = require_cuda()
    except InputDataError as exc:
        print(f"gpu_bench: {exc}", file=sys.stderr)
        pool.terminate()
        return 2
    simulator = is_simulator()
    if simulator and not args.smoke:
        print("gpu_bench: NUMBA_ENABLE_CUDASIM=1 runs the simulator: use --smoke (its figures are not a GPU's).",
              file=sys.stderr)
        pool.terminate()
        return 2
    import numba

    from floodsim.run.bench import build_simulation, make_terrain

    result = {"benchmark": "floodsim gpu_bench (benchmarks/gpu_bench.py)", "smoke": args.smoke,
              "simulator": simulator, "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
              "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                          "numba_threads": numba.get_num_threads(), "numba": numba.__version__,
                          "numba_cuda": getattr(cuda, "implementation", "?")},
              "device": device_info(cuda), "budget_s": args.budget_s, "targets": {
                  "float64_16M": TARGET_F64, "float32_16M": TARGET_F32, "bandwidth_bound": BANDWIDTH_BOUND}}
    if simulator:
        notes.append("numba's CUDA simulator: every figure is the simulator's (Python), not a GPU's")
    print(f"device: {result['device']}")

    # compile every kernel on a small grid, CPU and device (excluded from the timings)
    t0 = time.perf_counter()
    warm_runs = [("cpu", {}), ("cuda", {}), ("cuda", {"precision": "single"})]
    for backend, extra in warm_runs:
        warm = build_simulation(make_terrain(cfg["warm_n"]), backend=backend, **extra)
        warm.advance_to(30.0)
    result["compile_s"] = time.perf_counter() - t0

    # 2. correctness on the device
    t0 = time.perf_counter()
    result["check"] = correctness_check(cfg["check_n"], cfg["check_steps"])
    result["check"]["wall_s"] = time.perf_counter() - t0
    print(f"check: {result['check']}")
    t0 = time.perf_counter()
    result["check_single"] = correctness_check(cfg["check_n"], cfg["check_steps"], "single")
    result["check_single"]["wall_s"] = time.perf_counter() - t0   # includes compiling the CPU's float32 kernels
    print(f"check_single: {result['check_single']}")

    # 3. the CPU references, float64 and float32 (the GPU rows are set against the CPU in their precision)
    rows = []
    n = cfg["cpu_n"]
    cpu_cups = {}
    for precision, key, share in (("float64", "cpu_reference", 0.15), ("float32", "cpu_reference_single", 0.08)):
        sim = build_simulation(terrain(n), precision="single" if precision == "float32" else "double")
        cpu = timed_run(sim, cfg["simulated_s"], min(cfg["cpu_cap_s"], max(1.0, share * left())))
        cpu.update(n=n, backend="cpu", precision=precision)
        del sim
        result[key] = cpu
        cpu_cups[precision] = cpu["cell_updates_per_s"]

    # 4. the GPU at 4M, 16M, 64M
    precisions = ["float64", "float32"]
    last_ns_per_cell_step = None
    for n in cfg["sizes"]:
        for precision in precisions:
            row = {"n": n, "cells": n * n, "backend": "cuda", "precision": precision}
            est = (last_ns_per_cell_step or 0.0) * 1e-9 * n * n * 600 + 20.0 * (n / 8000) ** 2
            if est > left() - 60.0:
                row["note"] = f"skipped: estimated {est:.0f} s, {left():.0f} s left in the budget"
                rows.append(row)
                continue
            try:
                t0 = time.perf_counter()
                sim = build_simulation(terrain(n), backend="cuda",
                                       precision="single" if precision == "float32" else "double")
                row["build_s"] = time.perf_counter() - t0
                row["device_memory_used_bytes"] = _mem_used(cuda)
                row.update(timed_run(sim, cfg["simulated_s"], min(cfg["run_cap_s"], max(1.0, left() - 60.0))))
                row["repair_steps"] = sim._device.repairs
                del sim
            except Exception as exc:   # out of device memory, or a driver error: recorded, the rest goes on
                row["error"] = f"{type(exc).__name__}: {exc}"[:500]
                rows.append(row)
                continue
            cups = row["cell_updates_per_s"]
            if cups:
                last_ns_per_cell_step = 1e9 / cups
                row["ratio_to_cpu"] = cups / cpu_cups[precision] if cpu_cups[precision] else None   # same precision
                row["ratio_to_cpu_float64"] = cups / cpu_cups["float64"] if cpu_cups["float64"] else None
                row["fraction_of_bandwidth_bound"] = cups / BANDWIDTH_BOUND
            rows.append(row)
            print(_row_line(row))
    result["rows"] = rows
    result["targets_16M"] = targets_summary(rows, cfg["sizes"][1], args.smoke)

    # 5. Merewether end to end
    mw = {}
    with tempfile.TemporaryDirectory(prefix="floodsim_gpu_bench_mw_") as folder:
        for key, backend, precision in (("cuda", "cuda", "double"), ("cuda_single", "cuda", "single"),
                                        ("cpu", "cpu", "double")):
            need = 30.0 if backend == "cuda" else 2.5 * (mw.get("cuda", {}).get("wall_s") or 30.0) + 30.0
            if args.smoke or need < left():
                mw[key] = merewether(backend, cfg["merewether_coarsen"], cfg["merewether_min"], Path(folder) / key,
                                     precision)
            else:
                mw[key] = {"note": f"skipped: about {need:.0f} s needed, {left():.0f} s left"}
    if "_max_depth" in mw.get("cuda", {}) and "_max_depth" in mw.get("cpu", {}):
        a, b = mw["cpu"]["_max_depth"], mw["cuda"]["_max_depth"]
        mw["max_depth_max_abs_diff_m"] = float(np.nanmax(np.abs(a - b)))
        mw["speedup_end_to_end"] = mw["cpu"]["wall_s"] / mw["cuda"]["wall_s"]
    if "_max_depth" in mw.get("cuda", {}) and "_max_depth" in mw.get("cuda_single", {}):
        # float32 against float64 on the device: the difference single precision makes (millimetres)
        a, b = mw["cuda"]["_max_depth"], mw["cuda_single"]["_max_depth"]
        mw["single_vs_double_max_depth_max_abs_diff_m"] = float(np.nanmax(np.abs(a - b)))
    for v in mw.values():
        if isinstance(v, dict):
            v.pop("_max_depth", None)
    result["merewether"] = mw
    pool.terminate()
    tmp.cleanup()

    result["notes"] = notes
    result["wall_total_s"] = time.perf_counter() - start
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=2, default=float) + "\n")
    print(format_table(result))
    print(f"written {out_path}")
    return 0


def targets_summary(rows: list, n16: int, smoke: bool) -> dict:
    """The rows of the 16M-cell grid (``n16``²) against issue 14's targets and the bandwidth bound."""
    out = {"n": n16, "cells": n16 * n16}
    if smoke:
        out["note"] = "smoke sizes: the middle size stands in for 16M; simulator figures, not a GPU's"
    for precision, target in (("float64", TARGET_F64), ("float32", TARGET_F32)):
        row = next((r for r in rows if r["n"] == n16 and r["precision"] == precision), None)
        cups = (row or {}).get("cell_updates_per_s")
        entry = {"target_cell_updates_per_s": target, "bandwidth_bound": BANDWIDTH_BOUND}
        if cups:
            entry.update(cell_updates_per_s=cups, met=bool(cups >= target), fraction_of_target=cups / target,
                         fraction_of_bandwidth_bound=cups / BANDWIDTH_BOUND)
        else:
            entry["note"] = "not measured" + (f": {row.get('note') or row.get('error')}" if row else "")
        out[precision] = entry
    return out


def _target_lines(result: dict) -> list:
    t = result.get("targets_16M")
    if not t:
        return []
    lines = []
    for precision in ("float64", "float32"):
        e = t[precision]
        head = f"{t['n']}² {precision}: target >= {e['target_cell_updates_per_s']:.0e} cell-updates/s"
        if "cell_updates_per_s" in e:
            lines.append(f"{head}: {e['cell_updates_per_s']:.3e}, {'MET' if e['met'] else 'NOT MET'} "
                         f"({e['fraction_of_target']:.2f} of the target); {100 * e['fraction_of_bandwidth_bound']:.1f}% "
                         f"of the ~{e['bandwidth_bound']:.0e} bandwidth bound")
        else:
            lines.append(f"{head}: {e['note']}")
    return lines


def _row_line(r: dict) -> str:
    if "cell_updates_per_s" not in r or not r.get("cell_updates_per_s"):
        return f"{r['n']:>5}² {r['precision']:>8}  {r.get('note') or r.get('error', '')}"
    return (f"{r['n']:>5}² {r['precision']:>8} {r['cells']:>12,} {r['steps']:>7,} {r['wall_s']:>8.2f} "
            f"{r['cell_updates_per_s']:>12.3e} {r.get('ratio_to_cpu') or float('nan'):>8.1f} "
            f"{100 * r.get('fraction_of_bandwidth_bound', float('nan')):>6.1f}%")


def format_table(result: dict) -> str:
    cpu = result["cpu_reference"]
    lines = [f"floodsim gpu_bench on {result['device'].get('name')}"
             + (" (CUDA SIMULATOR: not GPU figures)" if result["simulator"] else ""),
             f"CPU reference {cpu['n']}² ({result['machine']['numba_threads']} threads): "
             f"{cpu['cell_updates_per_s']:.3e} cell-updates/s in float64 ({cpu['steps']} steps in {cpu['wall_s']:.1f} s), "
             f"{result['cpu_reference_single']['cell_updates_per_s']:.3e} in float32 (× CPU: in the row's precision)",
             f"{'grid':>6} {'dtype':>8} {'cells':>12} {'steps':>7} {'wall s':>8} {'cell-upd/s':>12} "
             f"{'× CPU':>8} {'of BW':>7}"]
    lines += [_row_line(r) for r in result["rows"]]
    lines += _target_lines(result)
    mw = result["merewether"]
    for key in ("cuda", "cuda_single", "cpu"):
        m = mw.get(key, {})
        label = {"cuda": "cuda float64", "cuda_single": "cuda float32", "cpu": "cpu float64"}[key]
        if "wall_s" in m:
            lines.append(f"Merewether end to end ({label}): {m['cells']:,} cells, {m['steps']:,} steps, "
                         f"{m['wall_s']:.1f} s, max depth {m['max_depth_m']:.3f} m")
        else:
            lines.append(f"Merewether end to end ({label}): {m.get('note', '')}")
    if "max_depth_max_abs_diff_m" in mw:
        lines.append(f"Merewether max depth |CPU - GPU| <= {mw['max_depth_max_abs_diff_m']:.2e} m; "
                     f"end-to-end speed-up {mw['speedup_end_to_end']:.1f}×")
    if "single_vs_double_max_depth_max_abs_diff_m" in mw:
        lines.append(f"Merewether max depth |float32 - float64| on the GPU <= "
                     f"{mw['single_vs_double_max_depth_max_abs_diff_m']:.2e} m")
    for key in ("check", "check_single"):
        chk = result[key]
        lines.append(f"device check {chk['dtype']} ({chk['cells']} cells, {chk['steps']} steps): max |dh| "
                     f"{chk['max_abs_diff_h']:.1e} m of {chk['max_abs_h']:.2g}, same steps and time: "
                     f"{chk['same_steps_and_time']}; closure cpu {chk['closure_cpu']:.1e} cuda {chk['closure_cuda']:.1e}, "
                     f"rounding cpu {chk['rounding_cpu']:.1e} cuda {chk['rounding_cuda']:.1e}")
    lines.append(f"total {result['wall_total_s']:.0f} s (budget {result['budget_s']:.0f} s)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
