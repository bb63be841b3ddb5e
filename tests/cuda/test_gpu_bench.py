"""benchmarks/gpu_bench.py, the prepared GPU benchmark, runs end to end at tiny sizes on the CPU under
numba's CUDA simulator (``--smoke``), so a short GPU session only has to run it."""

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
    assert r["cpu_reference"]["cell_updates_per_s"] > 0 and r["cpu_reference"]["backend"] == "cpu"
    # three sizes in two precisions: float64 measured, float32 measured or skipped with the reason
    assert [(row["n"], row["precision"]) for row in r["rows"]] == [
        (n, p) for n in (12, 16, 20) for p in ("float64", "float32")]
    for row in r["rows"]:
        if row["precision"] == "float64":
            assert row["steps"] > 0 and row["cell_updates_per_s"] > 0 and row["ratio_to_cpu"] > 0
        else:
            assert row.get("cell_updates_per_s", 0) > 0 or "precision" in row["note"]
    mw = r["merewether"]
    assert mw["cuda"]["steps"] > 0 and mw["cpu"]["steps"] == mw["cuda"]["steps"]
    assert mw["max_depth_max_abs_diff_m"] <= 1e-9 and mw["cuda"]["max_depth_m"] > 0
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
