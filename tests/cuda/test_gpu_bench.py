"""benchmarks/gpu_bench.py, the prepared GPU benchmark, runs end to end at tiny sizes on the CPU under
numba's CUDA simulator (``--smoke``), so a short GPU session only has to run it: both device checks
(float64 to round-off, float32 to float32 round-off with the balance's rounding term), every size in
float64 and float32, the 16M targets (the middle smoke size stands in) and Merewether in both precisions.
Its figures are the simulator's and are never written to benchmarks/results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_bench.py"


def _run(args, simulator=True, timeout=600):
    env = dict(os.environ)
    if simulator:
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    else:
        env.pop("NUMBA_ENABLE_CUDASIM", None)
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=timeout)


def test_gpu_bench_smoke(tmp_path):
    out = tmp_path / "gpu_bench.json"
    res = _run(["--smoke", "--out", str(out)])
    assert res.returncode == 0, res.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["smoke"] is True and r["simulator"] is True
    assert "simulator" in r["device"]["name"] and any("not a GPU" in n for n in r["notes"])
    assert "CUDA SIMULATOR: not GPU figures" in res.stdout
    # the device check: same steps and time, depths equal to round-off
    chk = r["check"]
    assert chk["same_steps_and_time"]
    assert chk["max_abs_diff_h"] <= 1e-12 * chk["max_abs_h"] and chk["max_abs_h"] > 0
    for key, precision in (("cpu_reference", "float64"), ("cpu_reference_single", "float32")):
        assert r[key]["cell_updates_per_s"] > 0 and (r[key]["backend"], r[key]["precision"]) == ("cpu", precision)
    # the same check in single precision: float32 round-off, the balance closed with its rounding term
    single = r["check_single"]
    assert single["dtype"] == "float32" and single["time_rel_diff"] <= 1e-6
    assert single["max_abs_diff_h"] <= 64 * 2.0 ** -23 * single["max_abs_h"] and single["max_abs_h"] > 0
    assert abs(single["closure_cuda"]) < 1e-9 and abs(single["rounding_cuda"]) < 1e-4
    assert chk["rounding_cpu"] == chk["rounding_cuda"] == 0.0          # float64 rounds nothing
    # three sizes in two precisions, all measured, and the middle one against the 16M targets
    assert [(row["n"], row["precision"]) for row in r["rows"]] == [
        (n, p) for n in (12, 16, 20) for p in ("float64", "float32")]
    for row in r["rows"]:
        assert row["steps"] > 0 and row["cell_updates_per_s"] > 0 and row["ratio_to_cpu"] > 0, row
        assert row["ratio_to_cpu_float64"] > 0
        assert row["fraction_of_bandwidth_bound"] > 0
    targets = r["targets_16M"]
    assert targets["n"] == 16 and "smoke" in targets["note"]
    assert targets["float64"]["target_cell_updates_per_s"] == 5e9 and targets["float32"]["target_cell_updates_per_s"] == 1e10
    for precision in ("float64", "float32"):
        assert targets[precision]["cell_updates_per_s"] > 0 and targets[precision]["bandwidth_bound"] == 8e10
        assert f"16² {precision}: target" in res.stdout and "bandwidth bound" in res.stdout
    mw = r["merewether"]
    assert mw["cuda"]["steps"] > 0 and mw["cpu"]["steps"] == mw["cuda"]["steps"]
    assert mw["max_depth_max_abs_diff_m"] <= 1e-9 and mw["cuda"]["max_depth_m"] > 0
    assert mw["cuda_single"]["precision"] == "single" and mw["cuda_single"]["steps"] > 0
    assert mw["single_vs_double_max_depth_max_abs_diff_m"] <= 0.01
    assert r["machine"]["platform"] and r["machine"]["cpu_count"] > 0
    assert r["wall_total_s"] < r["budget_s"]


def test_gpu_bench_refuses_the_simulator_without_smoke(tmp_path):
    res = _run(["--out", str(tmp_path / "x.json")], timeout=300)
    assert res.returncode == 2 and "--smoke" in res.stderr
    assert not (tmp_path / "x.json").exists()


def test_gpu_bench_without_gpu_is_exit_2(tmp_path):
    probe = subprocess.run([sys.executable, "-c", "from numba import cuda; print(cuda.is_available())"],
                           capture_output=True, text=True, timeout=120,
                           env={k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"})
    if probe.stdout.strip() == "True":
        import pytest

        pytest.skip("this machine has a CUDA GPU")
    res = _run(["--out", str(tmp_path / "x.json")], simulator=False, timeout=300)
    assert res.returncode == 2 and "no CUDA GPU or driver" in res.stderr
    assert not (tmp_path / "x.json").exists()
