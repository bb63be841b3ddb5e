"""What keeps a city-sized run's memory down (issue 14), and that none of it changes a result.

* A float32 DEM (LiDAR) stays float32 in the Grid; a double-precision run on it is bit for bit the run
  on the same elevations in float64.
* The solver's bed is read-only, and is the Grid's own array when every cell has data and the dtypes
  match (one copy, not two); a grid with nodata gets a copy with 0 outside the model.
* An all-data grid's validity mask is a broadcast view (no byte per cell).
* At the end of a run the gridded maxima can be lazy (read from the simulation block by block when
  written): the same values and the same ``results.nc`` as the copies.
* Writing NetCDF uses a small HDF5 chunk cache and gives netCDF4 its default back.
* The sweep's row buffers are per thread, not per band: any number of threads gives the same result,
  and a checkpoint written when they were per band still loads.
* The positivity repair's scratch (a byte per cell, written at scattered cells) is given back to the
  system every REPAIR_SCRATCH_RELEASE_STEPS steps after a repair, not left resident as a run goes on.
* At the end of a run the discharges and band work are freed before anything is written
  (``Simulation.end_run``, called by ``floodsim run``); the results do not change.
"""

from __future__ import annotations

import platform
import subprocess
import sys

import netCDF4
import numba
import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine

from floodsim import Grid, Hyetograph, Simulation
from floodsim.core import SolverParams
from floodsim.core.state import BandWork, paged_zeros, release_pages
from floodsim.io.raster import (
    LAZY_ROWS,
    WRITE_CACHE_BYTES,
    read_dem,
    storage_dtype,
    write_cache,
    write_netcdf,
)
from floodsim.kernels._jit import THREAD_SLOTS
from floodsim.run.recorder import Recorder, run_simulation


def _terrain(ny=300, nx=40):
    yy, xx = np.mgrid[0:ny, 0:nx]
    return (0.01 * yy + 0.004 * np.abs(xx - nx / 2) + 0.05 * np.sin(xx / 3.0)).astype(np.float32)


def _write_tif(path, z, dtype="float32"):
    with rasterio.open(path, "w", driver="GTiff", width=z.shape[1], height=z.shape[0], count=1, dtype=dtype,
                       crs="EPSG:25832", transform=Affine(1.0, 0, 500000.0, 0, -1.0, 6200000.0),
                       nodata=-9999.0) as dst:
        dst.write(z.astype(dtype), 1)
    return path


def _run(grid, precision="double", minutes=8.0, blocked=None):
    sim = Simulation(grid, rainfall=Hyetograph.block(80.0, 600.0), manning=0.03, blocked=blocked,
                     params=SolverParams(precision=precision))
    sim.advance_to(minutes * 60.0)
    return sim


def test_a_float32_dem_stays_float32_and_a_double_run_on_it_is_unchanged(tmp_path):
    z32 = _terrain()
    z32[0, :4] = -9999.0                                             # nodata
    grid = read_dem(_write_tif(tmp_path / "dem.tif", z32))
    assert grid.z.dtype == np.float32 and np.isnan(grid.z[0, :4]).all()
    reference = Grid(np.asarray(grid.z, np.float64), grid.transform, grid.crs)   # the same values, float64
    a, b = _run(grid), _run(reference)
    assert a.z.dtype == np.float64
    np.testing.assert_array_equal(a.state.h, b.state.h)
    np.testing.assert_array_equal(a.state.h_max, b.state.h_max)
    assert a.state.steps == b.state.steps


def test_dem_storage_follows_the_files():
    assert storage_dtype(["float32"]) == "float32"
    assert storage_dtype(["int16", "uint8", "float32"]) == "float32"          # exact in float32
    assert storage_dtype(["float32", "float64"]) == "float64"                  # a mixed mosaic keeps all
    assert storage_dtype(["int32"]) == "float64"


def test_mixed_tiles_mosaic_in_float64(tmp_path):
    z = _terrain(40, 30)
    west = _write_tif(tmp_path / "w.tif", z[:, :15])
    with rasterio.open(tmp_path / "e.tif", "w", driver="GTiff", width=15, height=40, count=1, dtype="float64",
                       crs="EPSG:25832", transform=Affine(1.0, 0, 500015.0, 0, -1.0, 6200000.0)) as dst:
        dst.write(z[:, 15:].astype(np.float64), 1)
    grid = read_dem([west, tmp_path / "e.tif"])
    assert grid.z.dtype == np.float64
    np.testing.assert_array_equal(grid.z, z.astype(np.float64))


@pytest.mark.parametrize("precision, dtype, shared", [("single", np.float32, True),
                                                      ("double", np.float64, True),
                                                      ("double", np.float32, False)])
def test_the_bed_is_shared_only_when_it_can_be(precision, dtype, shared):
    grid = Grid(_terrain(40, 30).astype(dtype), Affine(1.0, 0.0, 0.0, 0.0, -1.0, 0.0))   # (from_array: f64)
    assert grid.z.dtype == dtype
    sim = Simulation(grid, rainfall=None, params=SolverParams(precision=precision))
    assert (sim.z is grid.z) == shared
    assert not sim.z.flags.writeable
    with pytest.raises(ValueError):
        sim.z[0, 0] = 1.0


def test_a_grid_with_nodata_gets_a_bed_with_zero_outside():
    z = _terrain(40, 30)
    z[3, 4] = np.nan
    grid = Grid.from_array(z, dx=1.0)
    sim = Simulation(grid, rainfall=None, params=SolverParams(precision="single"))
    assert sim.z is not grid.z and sim.z[3, 4] == 0.0 and not sim.z.flags.writeable
    assert grid.valid.strides != (0, 0) and not grid.valid[3, 4]


def test_an_all_data_grid_has_a_broadcast_validity_mask_and_the_same_results():
    z = _terrain().astype(np.float64)
    blocked = np.zeros(z.shape, bool)
    blocked[100:110, 10:20] = True
    grid = Grid.from_array(z, dx=1.0)
    assert grid.valid.strides == (0, 0) and grid.valid.shape == z.shape and grid.valid.all()
    assert not grid.valid.flags.writeable
    sim = _run(grid, blocked=blocked)
    assert sim.blocked.sum() == blocked.sum() and np.array_equal(sim.blocked, blocked)
    balance = sim.balance.as_dict(sim.total_volume())
    assert abs(balance["relative_error"]) < 1e-12


@pytest.mark.parametrize("precision", ["double", "single"])
def test_lazy_maxima_are_the_copies_and_write_the_same_file(tmp_path, precision):
    z = _terrain(600, 30).astype(np.float64)
    z[0, :3] = np.nan

    def make():
        return Simulation(Grid.from_array(z, dx=1.0), rainfall=Hyetograph.block(80.0, 600.0),
                          params=SolverParams(precision=precision))

    eager = run_simulation(make(), 600.0, 300.0)
    lazy = run_simulation(make(), 600.0, 300.0, lazy_maxima=True)
    for name in ("max_depth", "max_speed", "time_of_max_depth", "elevation"):
        assert isinstance(eager[name].values, np.ndarray)
        assert lazy[name].chunks[0] == (LAZY_ROWS, LAZY_ROWS, 600 - 2 * LAZY_ROWS)   # blocks of rows
        assert lazy[name].dtype == np.float32
        np.testing.assert_array_equal(lazy[name].values, eager[name].values)
    assert np.isnan(lazy["max_depth"].values[0, :3]).all()
    assert lazy["depth"].chunks[1][0] == LAZY_ROWS                           # frames by blocks of rows too
    a, b = write_netcdf(eager, tmp_path / "eager.nc"), write_netcdf(lazy, tmp_path / "lazy.nc")
    with xr.open_dataset(a) as da_, xr.open_dataset(b) as db_:
        for name in da_.data_vars:
            np.testing.assert_array_equal(da_[name].values, db_[name].values)


def test_a_recorder_writes_a_frame_as_the_state_masked():
    z = _terrain(600, 30).astype(np.float64)
    z[5, 5] = np.nan
    sim = Simulation(Grid.from_array(z, dx=1.0), rainfall=Hyetograph.block(80.0, 600.0))
    rec = Recorder(sim)
    sim.advance_to(120.0)
    rec.record()
    frame = rec.store.read(0)
    expected = np.where(sim.grid.valid, sim.state.h, np.nan).astype(np.float32)
    np.testing.assert_array_equal(frame, expected)
    rec.close()


def test_the_write_cache_is_small_and_given_back():
    before = netCDF4.get_chunk_cache()
    with write_cache():
        assert netCDF4.get_chunk_cache()[0] == WRITE_CACHE_BYTES
    assert netCDF4.get_chunk_cache() == before
    with pytest.raises(RuntimeError), write_cache():
        raise RuntimeError("a failed write")
    assert netCDF4.get_chunk_cache() == before


_FRAGMENTED_HEAP = """
import sys
from floodsim.run.budget import release_freed_memory

def anon_kb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("RssAnon"))

blocks = [bytearray(100_000) for _ in range(2000)]   # 200 MB on the heap (below glibc's mmap threshold)
del blocks[::2]                                      # 100 MB freed in holes between live blocks
before = anon_kb()
release_freed_memory()
print(before - anon_kb())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="malloc_trim is glibc's")
def test_memory_freed_by_a_build_goes_back_to_the_system():
    """The heap holes a build leaves (tiles read, the roof distance transform) are given back: without
    it they stay resident (80 MB at 25M cells)."""
    out = subprocess.run([sys.executable, "-c", _FRAGMENTED_HEAP], capture_output=True, text=True, check=True)
    assert int(out.stdout.strip()) > 50_000        # kB: most of the 100 MB of holes


def test_the_sweep_buffers_are_per_thread_not_per_band():
    """A 5000-column grid of 313 bands holds THREAD_SLOTS sets of row buffers, not 313."""
    for dtype, itemsize in ((np.float32, 4), (np.float64, 8)):
        bw = BandWork.allocate((5000, 5000), 16, dtype)
        assert bw.rows.shape[0] == bw.rain.shape[0] == THREAD_SLOTS
        assert bw.rows.nbytes == THREAD_SLOTS * 5 * 5001 * itemsize
        assert bw.rain.nbytes == THREAD_SLOTS * 2 * 5001 * 8


@pytest.mark.skipif(THREAD_SLOTS < 2, reason="one thread: nothing can be shared between threads")
@pytest.mark.parametrize("precision", ["double", "single"])
def test_any_number_of_threads_gives_the_same_run(precision):
    """Each thread sweeps its bands with its own buffers: one thread and all of them give the same
    depths, discharges and maxima bit for bit (threads sharing a buffer would overwrite each other's
    rows mid-band)."""
    yy, xx = np.mgrid[0:400, 0:600]
    z = 0.01 * yy + 0.05 * np.sin(xx / 7.0) + 0.03 * np.cos(yy / 5.0)
    blocked = ((yy % 40) > 30) & ((xx % 50) > 35)

    def run(threads):
        before = numba.get_num_threads()
        numba.set_num_threads(threads)
        try:
            sim = Simulation(Grid.from_array(z, dx=1.0), rainfall=Hyetograph.block(100.0, 600.0),
                             manning=0.03, blocked=blocked, params=SolverParams(precision=precision))
            sim.advance_to(240.0)
        finally:
            numba.set_num_threads(before)
        return sim

    one, all_ = run(1), run(THREAD_SLOTS)
    assert one.state.steps == all_.state.steps > 100
    for name in ("h", "qx", "qy", "h_max", "v2_max", "t_hmax"):
        np.testing.assert_array_equal(getattr(one.state, name), getattr(all_.state, name), err_msg=name)


def test_a_checkpoint_with_the_old_per_band_buffers_loads_and_continues_the_same():
    z = _terrain(120, 60).astype(np.float64)

    def sim():
        return Simulation(Grid.from_array(z, dx=1.0), rainfall=Hyetograph.block(80.0, 600.0), manning=0.03)

    whole = sim()
    whole.advance_to(120.0)
    saved = whole.get_state()
    assert "rows" not in saved["bands"]                       # scratch is not saved
    saved["bands"]["rows"] = np.full((len(whole.bands.start) - 1, 5, 61), 7.0)   # as saved before
    whole.advance_to(300.0)
    resumed = sim()
    resumed.set_state(saved)
    resumed.advance_to(300.0)
    assert resumed.state.steps == whole.state.steps
    np.testing.assert_array_equal(resumed.state.h, whole.state.h)
    np.testing.assert_array_equal(resumed.state.qx, whole.state.qx)


def test_end_run_frees_the_discharges_and_keeps_what_results_read():
    sim = Simulation(Grid.from_array(_terrain(80, 30).astype(np.float64), dx=1.0),
                     rainfall=Hyetograph.block(80.0, 600.0), manning=0.03)
    ds = run_simulation(sim, 300.0, 150.0, lazy_maxima=True)
    before = {k: ds[k].values.copy() for k in ("max_depth", "max_speed", "time_of_max_depth", "depth")}
    h, volume = sim.state.h.copy(), sim.total_volume()
    sim.end_run()
    sim.end_run()                                             # a second call does nothing
    assert sim.state.qx is None and sim.state.qy is None and sim.bands is None
    for k, values in before.items():
        np.testing.assert_array_equal(ds[k].values, values, err_msg=k)
    np.testing.assert_array_equal(sim.state.h, h)
    assert sim.total_volume() == volume
    sim.check_finite()
    sim.check_plausible()
    for call in (sim.step, sim.get_state, sim.record_maxima, lambda: sim.advance_to(400.0),
                 lambda: sim.set_state({}), lambda: sim.cell_speed(1, 1)):
        with pytest.raises(RuntimeError, match="run has ended"):
            call()


def test_floodsim_run_ends_the_run_before_it_writes(tmp_path, monkeypatch):
    """The runner frees the discharges before results.nc is written, and the files are as before."""
    from floodsim.run import runner

    from .conftest import SCENARIOS, coarsened

    events = []
    end_run, write = Simulation.end_run, runner.write_netcdf
    monkeypatch.setattr(Simulation, "end_run", lambda self: (events.append("end_run"), end_run(self))[1])
    monkeypatch.setattr(runner, "write_netcdf", lambda ds, path: (events.append("write"), write(ds, path))[1])
    sc = coarsened(SCENARIOS / "merewether_cloudburst.toml", 8, duration_min=10.0, output_interval_min=5.0)
    result = runner.run_scenario(sc, out_dir=tmp_path / "run")
    assert events == ["end_run", "write"]
    with xr.open_dataset(result.files["netcdf"]) as written:
        assert float(written["max_depth"].max()) > 0.0
        np.testing.assert_array_equal(written["max_depth"].values, result.dataset["max_depth"].values)


def test_check_finite_finds_nan_inf_and_negative_depths():
    from floodsim.errors import StabilityError

    sim = Simulation(Grid.from_array(_terrain(40, 20).astype(np.float64), dx=1.0),
                     rainfall=Hyetograph.block(80.0, 600.0), manning=0.03)
    sim.advance_to(60.0)
    sim.check_finite()
    for bad, what in ((np.nan, "NaN or infinite"), (np.inf, "NaN or infinite"), (-np.inf, "NaN or infinite"),
                      (-0.5, "negative")):
        keep = sim.state.h[7, 5]
        sim.state.h[7, 5] = bad
        with pytest.raises(StabilityError, match=what):
            sim.check_finite()
        sim.state.h[7, 5] = keep


def test_paged_scratch_is_given_back_as_zeros():
    a = paged_zeros(3_000_000, np.uint8)
    a[::4096] = 7
    assert release_pages(a)
    assert not a.any()
    assert not release_pages(np.zeros(10, np.uint8))      # not paged: nothing to give back


def test_the_repair_scratch_is_given_back_after_repairs_and_changes_nothing(monkeypatch):
    import floodsim.core.simulation as solver
    from floodsim.run import bench

    repairs, released = [], []
    repair, release = solver.repair_negative_depths, BandWork.release_repair_scratch
    monkeypatch.setattr(solver, "repair_negative_depths", lambda **kw: (repairs.append(1), repair(**kw))[1])
    monkeypatch.setattr(solver, "REPAIR_SCRATCH_RELEASE_STEPS", 1)

    def run(give_back):
        monkeypatch.setattr(BandWork, "release_repair_scratch",
                            lambda self: (released.append(1), release(self) if give_back else None)[1])
        sim = bench.build_simulation(bench.make_terrain(120))   # repairs once in its first 600 s
        sim.advance_to(600.0)
        return sim

    given, kept = run(True), run(False)
    assert len(repairs) == len(released) == 2                  # once per run, after the repair's step
    for name in ("h", "qx", "qy", "h_max", "v2_max", "t_hmax"):
        np.testing.assert_array_equal(getattr(given.state, name), getattr(kept.state, name), err_msg=name)
    assert not given.bands.visits.any()
