"""Checkpoint and resume (floodsim.checkpoint): a run killed with SIGKILL and resumed gives results
identical, bit for bit, to an uninterrupted run; checkpoints of other inputs are refused.

Reference: the uninterrupted run itself (same inputs, same NUMBA_NUM_THREADS); equality is exact
(``np.array_equal``), not a tolerance.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import xarray as xr

from floodsim import Grid, Hyetograph, Simulation
from floodsim.run import checkpoint
from floodsim.core.boundaries import Boundary
from floodsim.cli import main
from floodsim.errors import ExitCode
from floodsim.errors import InputDataError
from floodsim.measures.storage import (
    ControlledStructure,
    DrainageTunnel,
    LevelRule,
    PondOutlet,
    TimeRule,
    TunnelIntake,
    UndergroundTank,
    group_linked,
)
from floodsim.run.recorder import Recorder
from floodsim.run.series import SeriesRecorder
from floodsim.run.recorder import run_simulation

from .conftest import SCENARIOS

SCENARIO = f"""
extends = "{(SCENARIOS / 'merewether_cloudburst.toml').as_posix()}"
name = "checkpoint test"
[simulation]
duration_min = 60
output_interval_min = 10
coarsen = 4
"""


def _env(threads=2):
    return {**os.environ, "NUMBA_NUM_THREADS": str(threads), "PYTHONHASHSEED": "0"}


def _floodsim(*args, threads=2, **kw):
    return subprocess.Popen([sys.executable, "-m", "floodsim", "run", *map(str, args), "--quiet"], env=_env(threads),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _assert_identical_results(dir_a, dir_b):
    with xr.open_dataset(dir_a / "results.nc") as a, xr.open_dataset(dir_b / "results.nc") as b:
        assert set(a.data_vars) == set(b.data_vars)
        for v in a.data_vars:
            assert np.array_equal(a[v].values, b[v].values, equal_nan=True), v
        assert np.array_equal(a["time"].values, b["time"].values)
        for k in ("steps", "volume_error_m3", "relative_volume_error", "final_volume_m3"):
            assert a.attrs[k] == b.attrs[k], k
    sa = json.loads((dir_a / "summary.json").read_text())
    sb = json.loads((dir_b / "summary.json").read_text())
    assert sa["volume_balance_m3"] == sb["volume_balance_m3"]
    assert sa["steps"] == sb["steps"]
    for k in ("wall_time_s",):
        sa.pop(k), sb.pop(k)
    assert sa == sb


def test_sigkill_then_resume_is_bitwise_identical(tmp_path):
    """Start `floodsim run` with a checkpoint every 120 simulated seconds, SIGKILL it as soon as a
    checkpoint exists, resume it, and compare with an uninterrupted run (both 2 numba threads)."""
    scenario = tmp_path / "s.toml"
    scenario.write_text(SCENARIO)
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    ref = _floodsim(scenario, "--out", whole)
    proc = _floodsim(scenario, "--out", killed, "--checkpoint-every-sim", 120)
    ckpt = killed / checkpoint.DEFAULT_NAME
    deadline = time.monotonic() + 120
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)   # let it run on past the checkpoint: the resumed run must redo those steps
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    meta, _ = checkpoint.read(ckpt)
    assert 0 < meta["t_s"] < 3600
    assert not (killed / "results.nc").exists()          # nothing that looks complete
    resumed = _floodsim(scenario, "--out", killed, "--resume", "--checkpoint-every-sim", 120)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert ref.wait(timeout=300) == 0, ref.stderr.read()
    _assert_identical_results(whole, killed)
    assert not ckpt.exists()   # removed once the results are written


def test_resume_without_checkpoint_is_an_input_error(tmp_path, capsys):
    scenario = tmp_path / "s.toml"
    scenario.write_text(SCENARIO)
    assert main(["run", str(scenario), "--out", str(tmp_path / "o"), "--resume", "--quiet"]) == ExitCode.INPUT
    err = capsys.readouterr().err
    assert "checkpoint.npz: no checkpoint to resume from; run without --resume" in err
    assert len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------------------- in-process, measures
def _model(rain_mm_h=80.0):
    """A 24 × 20 tilted street with a tank pumping into a tunnel, a pond outlet and a level-controlled
    pump: every kind of operator state (volumes, ledgers, segments, controller on/off)."""
    ny, nx = 24, 20
    yy, xx = np.mgrid[0:ny, 0:nx]
    z = 0.02 * yy + 0.01 * np.abs(xx - nx / 2)
    z[15:19, 3:7] -= 0.4                                   # a pond
    grid = Grid.from_array(z, 2.0)

    def mask(sl):
        m = np.zeros((ny, nx), bool)
        m[sl] = True
        return m

    tunnel = DrainageTunnel("tunnel", [TunnelIntake("shaft", mask((slice(2, 4), slice(9, 11))), 0.05, 0)],
                            [3.0, 3.0, 3.0], conveyance=0.02, outfall_capacity=0.01)
    tank = UndergroundTank("tank", mask((slice(20, 22), slice(9, 11))), 0.05, 4.0, pump_rate=0.01,
                           pump_start=300.0, target=tunnel)
    pond = PondOutlet("pond", mask((17, 4)), orifice=(0.6, 0.002, float(z[17, 4])))
    pump = ControlledStructure("pump", mask((slice(22, 24), slice(0, 3))), target=mask((0, slice(0, 3))),
                               time_rules=[TimeRule(900.0, 1000.0, 0.02)],
                               level_rule=LevelRule(mask((23, 1)), float(z[23, 1]) + 0.03,
                                                    float(z[23, 1]) + 0.01, 0.01))
    return Simulation(grid, rainfall=Hyetograph.block(rain_mm_h, 900.0), manning=0.03,
                      boundaries=[Boundary("north", "free", slope=0.02)],
                      operators=group_linked([tunnel, tank, pond, pump]))


def test_operator_state_round_trip_is_bitwise(tmp_path):
    """Stop a run with measures mid-interval, write a checkpoint, restore it into a fresh model and
    finish: every output array and the balance equal an uninterrupted run exactly."""
    duration, interval = 1500.0, 300.0
    first = _model()
    whole = run_simulation(first, duration, interval, recorder=Recorder(first, SeriesRecorder(first, {}, 20.0)))

    sim = _model()
    fp = checkpoint.fingerprint(sim, duration, interval)
    rec = Recorder(sim, SeriesRecorder(sim, {}, 20.0))
    path = tmp_path / "c.npz"
    stop_at = 37

    class Stop(Exception):
        pass

    def after_step():
        if sim.state.steps == stop_at:
            checkpoint.save(path, sim, rec, fp, duration, interval)
            raise Stop

    with pytest.raises(Stop):
        run_simulation(sim, duration, interval, recorder=rec, after_step=after_step)
    fresh = _model()
    rec2 = Recorder(fresh, SeriesRecorder(fresh, {}, 20.0))
    meta = checkpoint.restore(path, fresh, rec2, checkpoint.fingerprint(fresh, duration, interval), duration,
                              interval)
    assert meta["steps"] == stop_at and 0 < meta["t_s"] < interval
    resumed = run_simulation(fresh, duration, interval, recorder=rec2)
    assert resumed.attrs["steps"] == whole.attrs["steps"]
    for v in whole.data_vars:
        assert np.array_equal(whole[v].values, resumed[v].values, equal_nan=True), v
    devices = list(whole["device"].values.astype(str))           # the measures' series resumed too
    assert float(whole["device_storage"].values[devices.index("tank")].max()) > 0 and len(devices) == 4
    assert abs(whole.attrs["relative_volume_error"]) < 1e-10


def test_changed_inputs_and_broken_files_are_refused(tmp_path):
    duration, interval = 600.0, 300.0
    sim = _model()
    fp = checkpoint.fingerprint(sim, duration, interval)
    assert fp == checkpoint.fingerprint(_model(), duration, interval)          # deterministic
    path = checkpoint.save(tmp_path / "c.npz", sim, Recorder(sim), fp, duration, interval)
    other = _model(rain_mm_h=81.0)
    with pytest.raises(InputDataError, match="c.npz: the checkpoint was written for different inputs"):
        checkpoint.restore(path, other, Recorder(other), checkpoint.fingerprint(other, duration, interval),
                           duration, interval)
    with pytest.raises(InputDataError, match="different inputs"):      # the run length is part of it
        checkpoint.restore(path, sim, Recorder(sim), checkpoint.fingerprint(sim, 900.0, interval), 900.0,
                           interval)
    truncated = tmp_path / "t.npz"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(InputDataError, match="t.npz: not a readable floodsim checkpoint.*delete it"):
        checkpoint.read(truncated)


def test_checkpointer_intervals(tmp_path):
    """Simulated-time checkpoints are written once per interval crossed; each replaces the last."""
    sim = _model()
    rec = Recorder(sim)
    fp = checkpoint.fingerprint(sim, 600.0, 300.0)
    ck = checkpoint.Checkpointer(tmp_path / "c.npz", sim, rec, fp, 600.0, 300.0, every_sim_s=100.0)
    run_simulation(sim, 600.0, 300.0, recorder=rec, after_step=ck)
    assert ck.written == 6
    assert checkpoint.read(tmp_path / "c.npz")[0]["t_s"] >= 500.0
    with pytest.raises(InputDataError, match="must be > 0"):
        checkpoint.Checkpointer(tmp_path / "c.npz", sim, rec, fp, 600.0, 300.0, every_wall_s=0.0)


def test_results_identical_across_runs_and_thread_counts(tmp_path):
    """Determinism: two runs with 2 numba threads and one with 1 thread give bit-identical results.

    Every parallel kernel writes per-band partial sums that are added up serially in band order, so
    the thread count does not change the order of any floating-point sum (measured identical on the
    full-resolution Merewether cloudburst too; see README, Reproducibility)."""
    scenario = tmp_path / "s.toml"
    scenario.write_text(SCENARIO.replace("duration_min = 60", "duration_min = 30"))
    runs = {name: _floodsim(scenario, "--out", tmp_path / name, threads=threads)
            for name, threads in (("two_a", 2), ("two_b", 2), ("one", 1))}
    for proc in runs.values():
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    _assert_identical_results(tmp_path / "two_a", tmp_path / "two_b")
    _assert_identical_results(tmp_path / "two_a", tmp_path / "one")
