"""Depth frames on disk (floodsim.io.frames, floodsim.run.recorder) and ``[output] depth_frames``.

* The recorder holds no frame in memory: each goes to a scratch NetCDF file as it is recorded, and the
  dataset's ``depth`` is lazy (one dask chunk per frame); the values are those the in-memory path gave,
  bit for bit.
* ``depth_frames = "auto"`` writes maxima only above its size threshold, with a warning that says why and
  how to get the frames; ``"none"`` runs through ``floodsim run``, ``map``, ``publish`` and ``compare``.
* Checkpoints keep the frames in a file beside them, and resume from it identically (also when a kill
  left that file one checkpoint ahead of the ``.npz``).
* No scratch folder is left behind by a run, a failed run, or (after SIGKILL) once the next run starts.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from floodsim import Grid, Hyetograph, Simulation
from floodsim.io import frames
from floodsim.io import runfolder as rf
from floodsim.io.frames import TEMP_HEAD, FrameStore
from floodsim.run import budget, checkpoint
from floodsim.run.recorder import Recorder, run_simulation
from floodsim.run.runner import run_scenario

from .conftest import SCENARIOS, coarsened


def _sim():
    ny, nx = 30, 24
    yy, xx = np.mgrid[0:ny, 0:nx]
    z = 0.02 * yy + 0.01 * np.abs(xx - nx / 2)
    z[0, :3] = np.nan                                           # cells outside the model: NaN frames there
    return Simulation(Grid.from_array(z, 2.0), rainfall=Hyetograph.block(90.0, 600.0), manning=0.03)


def _scratch_dirs(folder: Path, head: str) -> list[Path]:
    return sorted(p for p in Path(folder).iterdir() if p.name.startswith(head))


def test_frames_go_to_disk_and_equal_the_in_memory_frames_bit_for_bit():
    sim = _sim()
    rec = Recorder(sim)
    reference = [np.where(sim.grid.valid, sim.state.h, np.nan).astype(np.float32)]   # the first frame
    counts = []

    def snapshot(t, duration):   # after each output time: what the in-memory recorder stacked
        reference.append(np.where(sim.grid.valid, sim.state.h, np.nan).astype(np.float32))
        counts.append(rec.store.count)
        # nothing frame-sized is held: only the times and the balance grow
        assert not [k for k, v in vars(rec).items() if isinstance(v, np.ndarray)]
        assert rec.store.path.is_file() and rec.store.path.stat().st_size > 0

    ds = run_simulation(sim, 900.0, 150.0, progress=snapshot, recorder=rec)
    assert counts == list(range(2, 8))
    assert ds["depth"].chunks[0] == (1,) * 7                     # lazy, one chunk per frame
    assert ds["depth"].dtype == np.float32 and ds["depth"].attrs["units"] == "m"
    assert np.array_equal(ds["depth"].values, np.stack(reference), equal_nan=True)
    assert np.isnan(ds["depth"].values[:, 0, 0]).all()
    assert "depth_frames" not in ds.attrs                      # the dataset is as it always was
    folder = rec.store.dir
    rec.close()
    assert not folder.exists()


def test_a_recorder_without_frames_has_no_depth():
    sim = _sim()
    ds = run_simulation(sim, 600.0, 300.0, recorder=Recorder(sim, frames=False))
    assert "depth" not in ds and ds.attrs["depth_frames"] == "none"
    assert float(ds["max_depth"].max()) > 0 and ds.sizes["time"] == 3


def test_a_frame_store_is_removed_when_its_dataset_goes_and_stale_ones_are_cleared(tmp_path):
    store = FrameStore((4, 5), tmp_path, "x.floodsim-frames-")
    store.append(np.ones((4, 5), np.float32))
    lazy = store.lazy()
    folder = store.dir
    del store
    assert folder.is_dir()                                      # the lazy array still reads it
    assert float(lazy.sum().compute()) == 20.0
    del lazy
    import gc

    gc.collect()
    assert not folder.exists()
    # a folder left by a killed process of this host (a pid that is gone) goes with the next store
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=False).stdout.strip()
    host = rf.process_tag().rpartition("-")[0]
    stale = tmp_path / f"x.floodsim-frames-{host}-{dead}-abc123"
    stale.mkdir()
    other = tmp_path / f"x.floodsim-frames-otherhost-{dead}-abc123"    # another host's: not ours to judge
    other.mkdir()
    FrameStore((2, 2), tmp_path, "x.floodsim-frames-").close()
    assert not stale.exists() and other.exists()


# A reader thread inside HDF5 while another thread's garbage collection finalizes a store whose file is
# still open for appending. Closing it there, without the lock, crashed CI (SIGSEGV in
# tests/validation/test_properties.py); without the fix this script crashes within 3 s, 5 runs of 5.
_COLLECT_WHILE_READING = """
import gc, sys, threading, time
import numpy as np
from floodsim.io.frames import FrameStore

shape = (256, 256)
src = FrameStore(shape, sys.argv[1])
for _ in range(4):
    src.append(np.random.default_rng(0).random(shape, np.float32))
lazy = src.lazy()
stop = threading.Event()

def read():
    while not stop.is_set():
        lazy.sum().compute(scheduler="threads")

readers = [threading.Thread(target=read) for _ in range(2)]
for t in readers:
    t.start()
t0, n = time.monotonic(), 0
while time.monotonic() - t0 < 3.0:
    s = FrameStore(shape, sys.argv[1])
    s.append(np.ones(shape, np.float32))          # its file stays open for appending
    s.cycle = s                                   # only the collector frees it
    del s
    gc.collect()
    n += 1
stop.set()
for t in readers:
    t.join()
src.close()
print(n)
"""


def test_a_store_collected_while_another_thread_reads_hdf5_does_not_crash(tmp_path):
    r = subprocess.run([sys.executable, "-c", _COLLECT_WHILE_READING, str(tmp_path)], capture_output=True,
                       text=True, timeout=120, check=False)
    assert r.returncode == 0, (r.returncode, r.stderr[-3000:])
    assert int(r.stdout) > 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TEMP_HEAD)]   # every store removed


def test_a_store_finalized_while_the_lock_is_held_is_closed_by_the_next_holder(tmp_path):
    with frames._hdf5():                          # (closes what earlier tests left pending)
        pass
    store = FrameStore((4, 5), tmp_path)
    store.append(np.ones((4, 5), np.float32))
    nc, folder = store._handle["nc"], store.dir
    with frames._LOCK:                            # a collection in the thread that holds the lock
        store._finalizer()
        assert store.closed and nc.isopen() and folder.is_dir()
        assert nc in [entry[0] for entry in frames._PENDING]
    other = FrameStore((2, 2), tmp_path)
    other.append(np.zeros((2, 2), np.float32))   # the next holder closes it and removes its folder
    assert not frames._PENDING and not nc.isopen() and not folder.exists()
    other.close()


def test_a_combined_lock_is_taken_wholly_or_not_at_all():
    class Combined:
        def __init__(self, *locks):
            self.locks = locks

    first, second = threading.Lock(), threading.Lock()
    second.acquire()
    assert not frames._try_acquire(Combined(first, second))
    assert not first.locked()                     # the part taken before the failure was given back
    second.release()
    both = Combined(first, second)
    assert frames._try_acquire(both) and first.locked() and second.locked()
    second.release()
    first.release()


def test_checkpoint_keeps_frames_beside_it_and_resumes_identically(tmp_path):
    """The .npz holds no frame; its frames file does. A resume, even from a frames file one checkpoint
    ahead of the .npz (a kill between the two renames), equals the uninterrupted run bit for bit."""
    duration, interval = 900.0, 150.0
    first = _sim()
    whole = run_simulation(first, duration, interval)

    sim = _sim()
    fp = checkpoint.fingerprint(sim, duration, interval)
    rec = Recorder(sim)
    path = tmp_path / "c.npz"
    saved_at = []

    class Stop(Exception):
        pass

    def after_step():
        if not saved_at and len(rec.times) == 3:
            checkpoint.save(path, sim, rec, fp, duration, interval)
            saved_at.append(sim.state.steps)
        elif saved_at and len(rec.times) == 5:     # frames copied, .npz not yet renamed: killed here
            rec.save_frames(checkpoint.frames_file(path))
            raise Stop

    with pytest.raises(Stop):
        run_simulation(sim, duration, interval, recorder=rec, after_step=after_step)
    rec.close()
    frames = checkpoint.frames_file(path)
    assert frames.name == "c.frames.nc" and frames.is_file()
    _, tree = checkpoint.read(path)
    assert tree["recorder"]["frames"] == 3 and "depths" not in tree["recorder"]
    assert all(a.size < sim.grid.valid.size for a in _arrays(tree["recorder"]))   # no frame in the .npz
    with xr.open_dataset(frames) as f:
        assert f.sizes["time"] == 5                              # ahead of the .npz

    fresh = _sim()
    rec2 = Recorder(fresh)
    checkpoint.restore(path, fresh, rec2, checkpoint.fingerprint(fresh, duration, interval), duration, interval)
    assert rec2.frame_count == 3
    resumed = run_simulation(fresh, duration, interval, recorder=rec2)
    assert resumed.attrs["steps"] == whole.attrs["steps"]
    for v in whole.data_vars:
        assert np.array_equal(whole[v].values, resumed[v].values, equal_nan=True), v

    frames.unlink()                                              # the frames file lost: refused, with the fix
    with pytest.raises(Exception, match="depth frames of the checkpoint are missing.*--restart"):
        checkpoint.restore(path, _sim(), Recorder(_sim()), fp, duration, interval)


def _arrays(tree):
    if isinstance(tree, np.ndarray):
        return [tree]
    if isinstance(tree, dict):
        return [a for v in tree.values() for a in _arrays(v)]
    if isinstance(tree, list):
        return [a for v in tree for a in _arrays(v)]
    return []


def _small(**output):
    sc = coarsened(SCENARIOS / "merewether_cloudburst.toml", 8, duration_min=10.0, output_interval_min=5.0)
    return sc.model_copy(update={"output": sc.output.model_copy(update=output)})


def test_auto_writes_maxima_only_above_the_threshold_with_a_warning(tmp_path, monkeypatch, caplog):
    keep, why = budget.depth_frames_choice("auto", 25_000_000, 61)
    assert not keep and 'depth_frames = "all"' in why and "2 GiB" in why
    assert budget.depth_frames_choice("all", 25_000_000, 61) == (True, None)
    monkeypatch.setattr(budget, "FRAMES_AUTO_LIMIT_BYTES", 1000)
    out = tmp_path / "run"
    with caplog.at_level(logging.WARNING, logger="floodsim"):
        result = run_scenario(_small(), out_dir=out)
    warning = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
    assert "maxima only" in warning and 'depth_frames = "all"' in warning
    with xr.open_dataset(out / rf.RESULTS_NC) as ds:
        assert "depth" not in ds and ds.attrs["depth_frames"] == "none"
        assert "max_depth" in ds and "time_of_max_depth" in ds and "volume_error" in ds and "gauge_depth" in ds
        assert "maxima only" in ds.attrs["depth_frames_reason"]
    s = json.loads((out / rf.SUMMARY_JSON).read_text())
    assert "peak_flooded_area_m2" not in s and "max_extent_area_m2" in s
    assert set(s["skipped"]) >= {"peak_flooded_area_m2", rf.ARRIVAL_TIME_TIF, "depth map layers and time slider"}
    assert not (out / rf.ARRIVAL_TIME_TIF).exists() and (out / "max_depth.tif").exists()
    assert rf.load_run(out).summary.peak_flooded_area_m2 is None
    assert "depth" not in result.dataset
    # "all" keeps them whatever the size
    monkeypatch.setattr(budget, "FRAMES_AUTO_LIMIT_BYTES", 1000)
    result = run_scenario(_small(depth_frames="all"), out_dir=tmp_path / "all")
    assert result.dataset["depth"].sizes["time"] == 3 and (tmp_path / "all" / rf.ARRIVAL_TIME_TIF).exists()


def test_no_scratch_folder_is_left_after_a_run_or_a_failed_run(tmp_path, monkeypatch):
    out = tmp_path / "run"
    head = f"{out.name}{rf.FRAMES_INFIX}"
    seen = []
    real = FrameStore.__init__

    def spy(self, *a, **kw):
        real(self, *a, **kw)
        seen.append(self.dir)

    monkeypatch.setattr(FrameStore, "__init__", spy)
    result = run_scenario(_small(), out_dir=out)
    assert seen and all(p.parent == tmp_path and p.name.startswith(head) for p in seen)   # beside <out>
    assert not _scratch_dirs(tmp_path, head) and sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    # the returned dataset reads its frames from results.nc now
    with xr.open_dataset(out / rf.RESULTS_NC) as ds:
        assert np.array_equal(ds["depth"].values, result.dataset["depth"].values, equal_nan=True)

    from floodsim.analysis import products

    def broken(*a, **kw):
        raise RuntimeError("boom")

    monkeypatch.setattr(products, "write_products", broken)
    with pytest.raises(RuntimeError, match="boom"):
        run_scenario(_small(), out_dir=tmp_path / "failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert all(not p.exists() for p in seen)
    # without writing (write=False), the frames are in the system temp while the dataset lives
    result = run_scenario(_small(), out_dir=tmp_path / "unwritten", write=False)
    assert result.dataset["depth"].values.shape[0] == 3 and seen[-1].parent == Path(tempfile.gettempdir())
    assert seen[-1].name.startswith(TEMP_HEAD)
    del result
    import gc

    gc.collect()
    assert not seen[-1].exists()


def _floodsim(*args, cwd):
    r = subprocess.run([sys.executable, "-m", "floodsim", *map(str, args)], capture_output=True, text=True,
                       check=False, cwd=cwd, timeout=600, env={**os.environ, "NUMBA_NUM_THREADS": "2"})
    assert r.returncode == 0 and "Traceback" not in r.stderr, (args, r.stdout, r.stderr)
    return r


def test_a_run_without_frames_runs_through_run_map_publish_and_compare(tmp_path):
    scenario = tmp_path / "s.toml"
    scenario.write_text(f"""
extends = "{(SCENARIOS / 'merewether_pond.toml').as_posix()}"
name = "pond, maxima only"
[simulation]
coarsen = 8
duration_min = 10
output_interval_min = 5
[output]
depth_frames = "none"
""")
    r = _floodsim("run", scenario, "--out", tmp_path / "run", "--quiet", cwd=tmp_path)
    assert "skipped" in r.stdout and 'depth_frames = "all"' in r.stdout
    for run in (tmp_path / "run", tmp_path / "run" / rf.BASELINE_DIR):
        s = json.loads((run / rf.SUMMARY_JSON).read_text())
        assert "gauges final_depth_m" in s["skipped"] and "peak_flooded_area_m2" not in s
        assert all("final_depth_m" not in g for g in s["gauges"].values() if g != "dry")
    s = json.loads((tmp_path / "run" / rf.SUMMARY_JSON).read_text())
    assert "peak_flooded_area_m2" not in s["against_baseline"] and "max_depth_m" in s["against_baseline"]
    _floodsim("map", tmp_path / "run", tmp_path / "run" / rf.BASELINE_DIR, "--out", tmp_path / "planner.html",
              cwd=tmp_path)
    assert "floodsimPlanner.timeSlider(" not in (tmp_path / "planner.html").read_text()    # no frames, no slider
    _floodsim("map", tmp_path / "run", "--resident", "--out", tmp_path / "resident.html", cwd=tmp_path)
    _floodsim("compare", tmp_path / "run", tmp_path / "run" / rf.BASELINE_DIR, "--out", tmp_path / "cmp",
              "--no-png", cwd=tmp_path)
    from floodsim.maps import assets

    if not assets.missing_releases():
        _floodsim("publish", tmp_path / "run", "--out", tmp_path / "site", "--offline", cwd=tmp_path)
        assert (tmp_path / "site" / "planner.html").is_file()


def test_the_cli_prints_the_auto_warning(tmp_path):
    code = ("import sys; from floodsim.run import budget; budget.FRAMES_AUTO_LIMIT_BYTES = 1000; "
            "from floodsim.cli import main; sys.exit(main(sys.argv[1:]))")
    scenario = tmp_path / "s.toml"
    scenario.write_text(f"""
extends = "{(SCENARIOS / 'merewether_cloudburst.toml').as_posix()}"
name = "auto"
[simulation]
coarsen = 8
duration_min = 5
""")
    r = subprocess.run([sys.executable, "-c", code, "run", str(scenario), "--out", str(tmp_path / "o"), "--quiet"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=600, check=False)
    assert r.returncode == 0, r.stderr
    assert "floodsim: " in r.stderr and "maxima only" in r.stderr and 'depth_frames = "all"' in r.stderr


def test_a_bad_depth_frames_value_is_an_input_error(tmp_path):
    scenario = tmp_path / "bad.toml"
    scenario.write_text(f"""
extends = "{(SCENARIOS / 'merewether_cloudburst.toml').as_posix()}"
name = "bad"
[output]
depth_frames = "some"
""")
    r = subprocess.run([sys.executable, "-m", "floodsim", "validate", str(scenario)], capture_output=True,
                       text=True, cwd=tmp_path, timeout=300, check=False)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "bad.toml" in r.stderr and "output.depth_frames" in r.stderr and "'auto', 'all' or 'none'" in r.stderr
