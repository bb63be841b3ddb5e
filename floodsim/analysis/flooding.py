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
