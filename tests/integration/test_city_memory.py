"""What keeps a city-sized run's memory down (issue 14), and that none of it changes a result.

* A float32 DEM (LiDAR) stays float32 in the Grid; a double-precision run on it is bit for bit the run
  on the same elevations in float64.
* The solver's bed is read-only, and is the Grid's own array when every cell has data and the dtypes
  match (one copy, not two); a grid with nodata gets a copy with 0 outside the model.
* An all-data grid's validity mask is a broadcast view (no byte per cell).
* At the end of a run the gridded maxima can be lazy (read from the simulation block by block when
  written): the same values and the same ``results.nc`` as the copies.
* Writing NetCDF uses a small HDF5 chunk cache and gives netCDF4 its default back.
"""

from __future__ import annotations

import platform
import subprocess
import sys

import netCDF4
import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine

from floodsim import Grid, Hyetograph, Simulation
from floodsim.core import SolverParams
from floodsim.io.raster import (
    LAZY_ROWS,
    WRITE_CACHE_BYTES,
    read_dem,
    storage_dtype,
    write_cache,
    write_netcdf,
)
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
