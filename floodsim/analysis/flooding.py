"""Flooding versus storage by design: the water a measure is built to hold is not flooding.

A buffer pond's basin below its rim, a rain bed's ponding zone and a cloudburst road's channel up to
its design depth hold water on purpose. Counting it as flooding made a pond look worse than doing
nothing (the area deeper than 1 m rose from 5 to 591 m² with the Merewether pond). So every flood
metric (flooded area, depth classes, hazard, buildings affected) uses the **flood depth**

    flood depth = max(depth − storage depth, 0)

where ``storage depth`` [m] is, per cell, how deep the measure holds water by design
(``measure_storage_depth`` in results.nc, 0 outside measures; computed at build time by
:func:`floodsim.build.measures.storage_depth`). Water *spilling over* a measure (above its rim or
design depth) is flooding as usual. The water held, ``min(depth, storage depth)``, is reported as
stored in measures.
"""

from __future__ import annotations

import numpy as np

#: Name of the storage-depth variable in results.nc.
STORAGE_DEPTH_VAR = "measure_storage_depth"


def storage_depth_of(ds) -> np.ndarray | None:
    """The per-cell storage depth [m] of a results dataset, or None when its measures store none."""
    if STORAGE_DEPTH_VAR not in ds:
        return None
    return np.nan_to_num(np.asarray(ds[STORAGE_DEPTH_VAR].values, dtype=np.float64), nan=0.0)


def flood_depth(depth, storage_depth) -> np.ndarray:
    """Depth of flooding [m]: ``max(depth - storage_depth, 0)`` (NaN where ``depth`` is NaN).

    ``depth`` may be one frame (ny, nx) or a series (time, ny, nx); ``storage_depth`` (ny, nx) or None
    (no storage: the depth itself).
    """
    d = np.asarray(depth, dtype=np.float64)
    if storage_depth is None:
        return d
    with np.errstate(invalid="ignore"):
        return np.where(np.isnan(d), np.nan, np.maximum(d - storage_depth, 0.0))


def stored_depth(depth, storage_depth) -> np.ndarray:
    """Depth of water held by design [m]: ``min(depth, storage_depth)`` (0 where nothing is stored)."""
    d = np.nan_to_num(np.asarray(depth, dtype=np.float64), nan=0.0)
    if storage_depth is None:
        return np.zeros_like(d)
    return np.minimum(np.maximum(d, 0.0), storage_depth)


def has_depth_frames(ds) -> bool:
    """True when a results dataset holds depth frames (``depth`` on ``time``; a run with ``[output]
    depth_frames = "none"``, or "auto" above its threshold, has maxima only)."""
    return "depth" in ds.data_vars and ds["depth"].ndim == 3 and ds.sizes.get("time", 0) > 0


def no_frames_reason(ds) -> str:
    """Why a dataset has no depth frames (for the products it skips)."""
    why = ds.attrs.get("depth_frames_reason")
    return str(why) if why else 'the run wrote no depth frames ([output] depth_frames = "none")'


def iter_depth_frames(ds):
    """Yield ``(k, t, frame)`` for each output time of a results dataset: the depth frame (ny, nx) as a
    numpy array, one at a time, so a whole stack (lazy, on disk: :mod:`floodsim.run.recorder`) is never
    held in memory. Nothing is yielded for a dataset without frames (:func:`has_depth_frames`).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"depth": (("time", "y", "x"), np.ones((2, 3, 4), np.float32))}, coords={"time": [0.0, 60.0]})
    >>> [(k, t, f.shape) for k, t, f in iter_depth_frames(ds)]
    [(0, 0.0, (3, 4)), (1, 60.0, (3, 4))]
    """
    if not has_depth_frames(ds):
        return
    times = np.asarray(ds["time"].values, dtype=np.float64)
    for k in range(ds["depth"].sizes["time"]):
        yield k, float(times[k]), np.asarray(depth_frame(ds, k).values)


def depth_frame(ds, k: int):
    """Depth frame ``k`` (an index on ``time``; -1 the last) of a results dataset as a DataArray (y, x) in
    memory. A lazy frame is read here, in this process (dask's synchronous scheduler: never shipped to
    a distributed cluster, whose workers cannot see this process's scratch file)."""
    return ds["depth"].isel(time=k).compute(scheduler="synchronous")
