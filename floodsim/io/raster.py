"""Rasters in and out: DEMs and parameter rasters aligned to the model grid; GeoTIFF and NetCDF.

Reading uses rasterio (GeoTIFF, ESRI ASCII grid with its .prj, and anything GDAL reads);
regridding uses rioxarray's ``reproject_match``.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import rasterio
import xarray as xr
from rasterio.crs import CRS
from rasterio.enums import Resampling

from .. import units
from ..errors import GridAlignmentError, InputDataError
from ..core.forcing import RainfallRaster
from ..core.grid import Grid
from .atomic import atomic_path

log = logging.getLogger("floodsim")

#: What rasterio and GDAL raise for a file they cannot open or read (missing, not a raster, truncated).
_READ_ERRORS = (rasterio.errors.RasterioError, OSError)


def _check_crs(crs, source: str, given: bool = False):
    """``crs`` as a projected rasterio CRS; ``given``: it came from the caller (the scenario's
    ``[domain] crs``), not from the file."""
    if crs is None:
        raise InputDataError(f"{source}: the raster has no coordinate reference system. Add one (for an "
                             "ESRI ASCII grid, a .prj file beside it) or set `crs` in the scenario's "
                             "[domain] table, e.g. crs = \"EPSG:28356\".")
    try:
        crs = CRS.from_user_input(crs)
    except Exception as exc:  # noqa: BLE001 - rasterio raises CRSError, ValueError or TypeError for a bad CRS
        where = "[domain] crs" if given else "its CRS"
        raise InputDataError(f"{source}: {where} {str(crs)[:80]!r} is not a coordinate reference system "
                             f"({type(exc).__name__}: {str(exc)[:120]}); give one such as \"EPSG:28356\".") from None
    if crs.is_geographic:
        raise InputDataError(f"{source}: the CRS {crs.to_string()} is geographic (degrees); floodsim needs "
                             "cells in metres. Reproject the DEM to a projected CRS first, e.g. "
                             "`gdalwarp -t_srs EPSG:<UTM zone> in.tif out.tif`.")
    return crs


#: Characters that make a DEM path a glob pattern (``tiles/*.tif``).
_GLOB_CHARS = "*?["
#: Most tiles one DEM may be made of.
MAX_DEM_TILES = 10_000


def dem_files(path) -> list[Path]:
    """The raster files a ``[domain] dem`` names: one path, a glob pattern, or a list of either.

    Raises
    ------
    InputDataError
        A file that does not exist, a pattern that matches nothing, or more than :data:`MAX_DEM_TILES`.
    """
    import glob

    items = list(path) if isinstance(path, (list, tuple)) else [path]
    files: list[Path] = []
    for item in items:
        item = Path(item)
        if any(c in str(item) for c in _GLOB_CHARS):
            matches = sorted(Path(m) for m in glob.glob(str(item)) if Path(m).is_file())
            if not matches:
                raise InputDataError(f"{item}: the DEM pattern matches no file. Check the folder and the "
                                     "pattern (relative paths in a scenario are taken from the scenario "
                                     "file's folder).")
            files.extend(matches)
        elif not item.exists():
            raise InputDataError(f"{item}: DEM file not found. Check the path (relative paths in a scenario "
                                 "are taken from the scenario file's folder).")
        else:
            files.append(item)
    files = list(dict.fromkeys(files))
    if len(files) > MAX_DEM_TILES:
        raise InputDataError(f"{items[0]}: {len(files):,} DEM tiles; at most {MAX_DEM_TILES:,} are read "
                             "directly — build a VRT of them (gdalbuildvrt) and give that.")
    return files


def read_dem(path, crs=None, band: int = 1, clip=None) -> Grid:
    """Read a DEM into a :class:`~floodsim.core.grid.Grid`: one raster, or a mosaic of tiles.

    Parameters
    ----------
    path : str, Path, or a list of them
        GeoTIFF, ESRI ASCII grid (``.asc`` + ``.prj``), a VRT, or any single-band raster GDAL reads; a
        glob pattern (``tiles/*.tif``) or a list of files and patterns for a set of tiles. Tiles are
        mosaicked on the grid of the first one (its CRS and cell size); a tile in another CRS is
        reprojected (bilinear). Each tile's nodata is respected: where tiles overlap, the first tile with
        data wins.
    crs : optional
        Override or supply the CRS (e.g. ``"EPSG:28356"``) when the files have none.
    band : int
        Band to read.
    clip : (geometries, crs), optional
        A catchment polygon: only its bounding box is read, and cells outside it become nodata. The
        grid is marked ``clipped`` (vector layers are then read only inside its extent).

    Returns
    -------
    Grid
        Elevations in m; nodata cells become NaN (outside the model); float32 when the files are
        (:func:`storage_dtype`), else float64.
    """
    files = dem_files(path)
    if len(files) == 1 and clip is None:
        z, transform, file_crs = _read_one(files[0], band)
        crs = _check_crs(crs if crs is not None else file_crs, str(files[0]), given=crs is not None)
        return Grid(z, transform, crs, source=str(files[0]))
    return _mosaic(files, crs, band, clip)


def storage_dtype(band_dtypes) -> str:
    """The dtype a DEM is kept in: ``"float32"`` when every file stores float32 or integers of at most
    16 bits (all exact in float32: most LiDAR DEMs), else ``"float64"``."""
    exact = {"float32", "int8", "uint8", "int16", "uint16"}
    return "float32" if all(str(d) in exact for d in band_dtypes) else "float64"


def _read_one(path: Path, band: int):
    try:
        with rasterio.open(path) as src:
            if band > src.count:
                raise InputDataError(f"{path}: the raster has {src.count} band(s); band {band} was asked for.")
            z = src.read(band, masked=True).astype(storage_dtype([src.dtypes[band - 1]]))
            transform = src.transform
            file_crs = src.crs
    except _READ_ERRORS as exc:
        raise InputDataError(f"{path}: not a readable raster ({str(exc)[:200]}).") from None
    if transform.b != 0 or transform.d != 0:
        raise InputDataError(f"{path}: rotated rasters are not supported; warp to north-up first.")
    return z.filled(np.nan), transform, file_crs


def _mosaic(files: list[Path], crs, band: int, clip) -> Grid:
    """Mosaic ``files`` on the grid of the first (see :func:`read_dem`), within ``clip``'s bounds."""
    from contextlib import ExitStack

    from rasterio.features import geometry_mask
    from rasterio.merge import merge
    from rasterio.vrt import WarpedVRT
    from rasterio.warp import transform_bounds, transform_geom

    label = f"{files[0]}" + (f" and {len(files) - 1} more tile(s)" if len(files) > 1 else "")
    with ExitStack() as stack:
        sources = []
        for f in files:
            try:
                src = stack.enter_context(rasterio.open(f))
            except _READ_ERRORS as exc:
                raise InputDataError(f"{f}: not a readable raster ({str(exc)[:200]}).") from None
            if band > src.count:
                raise InputDataError(f"{f}: the raster has {src.count} band(s); band {band} was asked for.")
            if src.transform.b != 0 or src.transform.d != 0:
                raise InputDataError(f"{f}: rotated rasters are not supported; warp to north-up first.")
            sources.append(src)
        first = sources[0]
        target = _check_crs(crs if crs is not None else first.crs, str(files[0]), given=crs is not None)
        target = CRS.from_user_input(target)
        res = (abs(first.transform.a), abs(first.transform.e))
        dtype = storage_dtype([src.dtypes[band - 1] for src in sources])
        datasets = []
        for f, src in zip(files, sources):
            tile_crs = src.crs if src.crs is not None else (CRS.from_user_input(crs) if crs is not None else None)
            if tile_crs is None:
                raise InputDataError(f"{f}: the DEM tile has no CRS; write one into it, or set [domain] crs.")
            if CRS.from_user_input(tile_crs) != target:
                datasets.append(stack.enter_context(WarpedVRT(src, crs=target, resampling=Resampling.bilinear,
                                                              src_nodata=src.nodata, nodata=np.nan,
                                                              dtype=dtype)))
            else:
                datasets.append(src)
        bounds = None
        geoms = None
        if clip is not None:
            shapes, clip_crs = clip
            geoms = [transform_geom(CRS.from_user_input(clip_crs), target, g.__geo_interface__)
                     for g in shapes if g is not None and not g.is_empty]
            if not geoms:
                raise InputDataError(f"{label}: the domain clip layer has no polygon.")
            from shapely.geometry import shape
            from shapely.ops import unary_union

            cb = unary_union([shape(g) for g in geoms]).bounds
            # snap the clip's bounds outward onto the first tile's cells
            x0, y0 = first.transform.c, first.transform.f
            west = x0 + np.floor((cb[0] - x0) / res[0]) * res[0]
            east = x0 + np.ceil((cb[2] - x0) / res[0]) * res[0]
            north = y0 - np.floor((y0 - cb[3]) / res[1]) * res[1]
            south = y0 - np.ceil((y0 - cb[1]) / res[1]) * res[1]
            bounds = (west, south, east, north)
            total = [transform_bounds(d.crs, target, *d.bounds) for d in datasets]
            tw, ts = min(b[0] for b in total), min(b[1] for b in total)
            te, tn = max(b[2] for b in total), max(b[3] for b in total)
            if west >= te or east <= tw or south >= tn or north <= ts:
                raise InputDataError(f"{label}: the domain clip polygon does not overlap the DEM (clip bounds "
                                     f"{tuple(round(v, 1) for v in cb)}, DEM bounds "
                                     f"{tuple(round(v, 1) for v in (tw, ts, te, tn))}); check its CRS.")
        try:
            mosaic, transform = merge(datasets, bounds=bounds, res=res, indexes=[band], nodata=np.nan,
                                      dtype=dtype, resampling=Resampling.nearest)
        except (ValueError, *_READ_ERRORS) as exc:
            raise InputDataError(f"{label}: the DEM tiles cannot be mosaicked ({str(exc)[:200]}).") from None
    z = mosaic[0]
    if geoms is not None:
        outside = geometry_mask(geoms, out_shape=z.shape, transform=transform, invert=False)
        z = np.where(outside, np.nan, z)
    return Grid(z, transform, target.to_string(), source=label, clipped=True)


def align_to_grid(da: xr.DataArray, grid: Grid, resampling: Resampling = Resampling.bilinear,
                  source: str = "raster") -> np.ndarray:
    """Regrid a georeferenced DataArray onto the model grid and return a float64 array (ny, nx)."""
    import rioxarray  # noqa: F401
    from rioxarray.exceptions import RioXarrayError

    if da.rio.crs is None:
        raise GridAlignmentError(f"{source}: the raster has no CRS; cannot align it to the DEM. Write one into "
                                 "the file (e.g. rioxarray's .rio.write_crs, or gdal_edit.py -a_srs).")
    template = xr.DataArray(np.zeros(grid.shape), dims=("y", "x"),
                            coords={"y": grid.y, "x": grid.x}).rio.write_crs(grid.crs)
    template = template.rio.write_transform(grid.transform)
    try:
        out = da.rio.reproject_match(template, resampling=resampling)
    except RioXarrayError as exc:   # no x/y dimensions, a transform it cannot work out
        raise GridAlignmentError(f"{source}: cannot place it on the DEM ({str(exc)[:160]}); give the array "
                                 f"dimensions (y, x) in map coordinates (it has {', '.join(map(str, da.dims))}).") from None
    values = np.asarray(out.values, dtype=np.float64)
    nodata = out.rio.nodata
    if nodata is not None and not np.isnan(nodata):
        values = np.where(values == nodata, np.nan, values)
    return values


def read_raster_on_grid(path, grid: Grid, resampling: Resampling = Resampling.bilinear) -> np.ndarray:
    """Read a single-band raster (any CRS) onto the model grid; nodata -> NaN."""
    import rioxarray

    path = Path(path)
    if not path.exists():
        raise InputDataError(f"{path}: raster file not found.")
    try:
        da = rioxarray.open_rasterio(path, masked=True)
    except _READ_ERRORS as exc:
        raise InputDataError(f"{path}: not a readable raster ({str(exc)[:200]}).") from None
    if da.ndim != 3 or da.sizes.get("band") != 1:
        raise InputDataError(f"{path}: the raster has {da.sizes.get('band', 0)} bands; give a single-band raster.")
    da = da.squeeze("band", drop=True)
    return align_to_grid(da, grid, resampling, source=str(path))


def rainfall_from_dataarray(da: xr.DataArray, grid: Grid, start=None, end_s: float | None = None,
                            source: str = "rainfall") -> RainfallRaster:
    """Build a :class:`RainfallRaster` from a DataArray (time, y, x) of intensities in **mm/h**.

    The frames are regridded to the model grid (bilinear). ``time`` may be numeric seconds since the
    start of the run or datetimes (then ``start`` is the datetime of t = 0; default the first frame).
    Each frame holds until the next; the last holds until ``end_s`` (default: one more interval).
    """
    if "time" not in da.dims:
        raise InputDataError(f"{source}: the rainfall array needs a 'time' dimension.")
    t = da["time"].values
    if np.issubdtype(t.dtype, np.datetime64):
        t0 = np.datetime64(start) if start is not None else t[0]
        seconds = (t - t0) / np.timedelta64(1, "s")
    else:
        seconds = np.asarray(t, dtype=np.float64)
    frames = np.stack([align_to_grid(da.isel(time=k), grid, source=source) for k in range(t.size)])
    gaps = ~np.isfinite(frames) & grid.valid
    if gaps.any():
        k = int(np.argmax(gaps.any(axis=(1, 2))))
        log.warning("%s: %d cell-frame(s) over the DEM have no rain data (NaN), first in frame %d of %d "
                    "(%d cells); they get no rain. Fill the gaps before use if that is wrong.", source,
                    int(gaps.sum()), k, t.size, int(gaps[k].sum()))
    frames = np.where(np.isnan(frames), 0.0, frames)
    if end_s is None:
        end_s = seconds[-1] + (seconds[-1] - seconds[-2] if seconds.size > 1 else 3600.0)
    try:
        return RainfallRaster(seconds, units.mm_h_to_m_s(frames), float(end_s))
    except InputDataError as exc:
        raise InputDataError(f"{source}: {exc}") from None


def write_geotiff(da: xr.DataArray, path, nodata: float = -9999.0, dtype=np.float32) -> Path:
    """Write a 2-D DataArray with CRS as a Cloud-Optimized GeoTIFF (GDAL ``COG`` driver), atomically.

    The file is DEFLATE-compressed with internal 256² tiles and overviews, carries the CRS, the
    transform and ``nodata`` (NaN cells are written as ``nodata``), and the variable's ``units`` and
    ``long_name`` as GDAL metadata tags. ``dtype`` is float32 by default; integer class rasters pass
    e.g. ``np.int8`` with an integer ``nodata``.
    """
    import rioxarray  # noqa: F401

    path = Path(path)
    values = np.asarray(da.values)
    if np.issubdtype(np.dtype(dtype), np.floating):
        values = np.where(np.isfinite(values), values, nodata)
    out = xr.DataArray(values.astype(dtype), dims=da.dims, coords={d: da[d] for d in da.dims})
    out.attrs = {k: v for k, v in da.attrs.items() if k in ("units", "long_name", "standard_name")}
    crs = da.rio.crs
    if crs is not None:
        out = out.rio.write_crs(crs)
    out = out.rio.write_transform(da.rio.transform(recalc=False))   # stored, else from the coordinates
    out = out.rio.write_nodata(nodata, encoded=False)
    with atomic_path(path) as tmp:
        out.rio.to_raster(tmp, driver="COG", compress="DEFLATE", blocksize=256, overview_resampling="nearest")
    return path


#: Spatial chunk edge of results.nc [cells]: a reader of one area or one frame reads a few chunks.
NETCDF_CHUNK = 256
#: Rows of one dask chunk of a lazy gridded variable (the depth frames, the maxima at the end of a run):
#: one row of output chunks, so each is written whole and a city-sized frame is never in memory at once.
LAZY_ROWS = NETCDF_CHUNK


#: HDF5 chunk cache [B] of a variable open for writing (:func:`write_cache`): a few of its chunks.
WRITE_CACHE_BYTES = 4 * 2**20


@contextmanager
def write_cache():
    """NetCDF files opened inside get a :data:`WRITE_CACHE_BYTES` chunk cache per variable instead of
    netCDF-C's 64 MB default: floodsim writes every chunk whole, a block of rows at a time, so a
    bigger cache only holds written chunks (at 25M cells, 6 variables: 384 MB at the end of a run)."""
    import netCDF4

    before = netCDF4.get_chunk_cache()
    netCDF4.set_chunk_cache(WRITE_CACHE_BYTES, before[1], before[2])
    try:
        yield
    finally:
        netCDF4.set_chunk_cache(*before)


def _chunks(v: xr.DataArray) -> tuple[int, ...]:
    """NetCDF chunk sizes: :data:`NETCDF_CHUNK` along ``y``/``x`` (or the whole axis when shorter), one
    step along every other axis (one frame per chunk)."""
    return tuple(min(NETCDF_CHUNK, n) if d in ("y", "x") else 1 for d, n in zip(v.dims, v.shape))


def write_netcdf(ds: xr.Dataset, path) -> Path:
    """Write a dataset as compressed NetCDF-4 with CF attributes, atomically: zlib level 4, chunks of
    :data:`NETCDF_CHUNK` ² cells per frame for the gridded variables (a city-sized file reads by area).
    A lazy (dask) variable is written chunk by chunk, never loaded whole.

    Coordinates get their CF attributes (``standard_name``, ``axis``…) from
    :data:`floodsim.variables.COORDINATES` where the dataset has none.
    """
    from ..variables import COORDINATES

    path = Path(path)
    ds = ds.copy()
    for name, cf in COORDINATES.items():
        if name in ds.coords:
            ds[name].attrs = {**cf, **ds[name].attrs}
    for name, v in ds.data_vars.items():  # rioxarray keeps grid_mapping in .encoding, which `encoding=` drops
        gm = v.encoding.get("grid_mapping")
        if gm is not None and "grid_mapping" not in v.attrs and gm in ds.variables:
            ds[name].attrs = {**v.attrs, "grid_mapping": gm}
    encoding = {name: {"zlib": True, "complevel": 4, "chunksizes": _chunks(v)}
                for name, v in ds.data_vars.items() if v.ndim >= 2}
    import dask

    # lazy variables (the depth frames, one chunk each) stream through this process's threads, never a
    # distributed cluster that a sweep member may run in (its workers cannot see the scratch file)
    with atomic_path(path) as tmp, dask.config.set(scheduler="synchronous"), write_cache():
        ds.to_netcdf(tmp, engine="netcdf4", encoding=encoding)
    return path
