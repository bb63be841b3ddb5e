"""The rasters a page can show, by key (:mod:`floodsim.maps.sitedata`): where their values come from and
how they are painted. One home for both, used by the embedded pages and by the tile pyramids.

Depths are **flood depths** (:mod:`floodsim.analysis.flooding`): water a measure holds by design (a pond
below its rim) is storage, not flooding, so ``max_depth``, ``depth@K``, ``hazard``, ``max_speed`` and
``arrival_time`` leave it out, as the run products do, and the B − A difference inside a measure
footprint is that of the flood depths. The planner page draws the footprints themselves, hatched.

:func:`raster_values` gives the values on the runs' grid (float32, NaN = nothing to show);
:func:`paint` turns values (on any grid, e.g. a web-mercator tile) into RGBA. Classes and colours are
those of :mod:`floodsim.maps.style`.
"""

from __future__ import annotations

import numpy as np
from rasterio.enums import Resampling

from ..analysis.flooding import depth_frame, flood_depth, has_depth_frames, storage_depth_of
from ..analysis.products import arrival_time
from .rasters import classify, grey_rgba, hillshade, paint_classes
from . import style


def raster_values(site, run: int | None, key: str):
    """``(values, transform, crs, resampling)`` of raster ``key``; None when the data is not there."""
    if key in ("depth_diff", "likelihood"):
        ref = site.runs[0]
        if key == "depth_diff":
            if site.comparison is None or site.comparison.depth_diff is None:
                return None
            v = flood_depth_difference(site).astype(np.float32)
        else:
            if site.likelihood is None or site.likelihood.bands is None:
                return None
            b = np.asarray(site.likelihood.bands.values, dtype=np.float32)
            v = np.where(b < 0, np.nan, b).astype(np.float32)
        return v, ref.transform, ref.crs, Resampling.nearest
    r = site.runs[run]
    ds = r.ds
    if key == "hillshade":
        shade = hillshade(ds["elevation"].values, float(ds.attrs.get("dx_m", 1.0)),
                          float(ds.attrs.get("dy_m", 1.0)))
        return shade.astype(np.float32), r.transform, r.crs, Resampling.bilinear
    if key == "max_depth":
        v = flood_max_depth(r)
    elif key == "hazard":
        v = np.where(r.hazard_code > 0, r.hazard_code, np.nan)
    elif key == "max_speed":
        v = np.where(flood_max_depth(r) >= r.threshold_m, ds["max_speed"].values, np.nan)
    elif key == "arrival_time":
        if not has_depth_frames(ds) or "time_of_max_depth" not in ds:   # a run with maxima only
            return None
        v = arrival_time(ds, r.threshold_m)
    elif key.startswith("depth@"):
        k = int(key.split("@", 1)[1])
        if not has_depth_frames(ds) or not 0 <= k < ds.sizes.get("time", 0):
            return None
        v = flood_depth(depth_frame(ds, k).values, storage_depth_of(ds))   # one frame read
    else:
        raise KeyError(f"unknown raster key {key!r}")
    return np.asarray(v, dtype=np.float32), r.transform, r.crs, Resampling.nearest


def flood_max_depth(run) -> np.ndarray:
    """The run's maximum flood depth [m] (``max_depth`` less the water held by design; NaN outside)."""
    got = getattr(run, "flood_max_depth", None)
    if got is not None:
        return got
    return flood_depth(run.ds["max_depth"].values, storage_depth_of(run.ds))


def flood_depth_difference(site) -> np.ndarray | None:
    """B − A maximum flood depth [m] on the runs' grid: the comparison's ``max_depth_diff.tif``, with the
    cells of a measure footprint (storage depth > 0 in A or B) taken as the difference of the flood
    depths, so a pond dug and filled by design does not show as "deeper". None without a comparison."""
    cmp = site.comparison
    if cmp is None or cmp.depth_diff is None:
        return None
    v = np.asarray(cmp.depth_diff.values, dtype=np.float64)
    a, b = site.runs[cmp.index_a], site.runs[cmp.index_b]
    sa, sb = storage_depth_of(a.ds), storage_depth_of(b.ds)
    shape = a.ds["max_depth"].shape
    if (sa is None and sb is None) or v.shape != shape or b.ds["max_depth"].shape != shape:
        return v
    footprint = np.zeros(shape, bool)
    for s in (sa, sb):
        if s is not None:
            footprint |= s > 0
    flood = flood_max_depth(b) - flood_max_depth(a)
    return np.where(footprint & np.isfinite(v), flood, v)


def paint(site, run: int | None, key: str, values: np.ndarray) -> np.ndarray:
    """RGBA uint8 image of ``values`` (raster ``key``); NaN and below-threshold cells transparent."""
    thr = site.runs[0 if run is None else run].threshold_m
    if key == "hillshade":
        return grey_rgba(values)
    if key == "max_depth" or key.startswith("depth@"):
        codes = classify(values, style.depth_edges(thr))
        return paint_classes(codes, style.depth_colours(thr))
    if key == "hazard":
        return paint_classes(np.nan_to_num(values, nan=0).astype(np.int16), style.hazard_colours())
    if key == "max_speed":
        codes = classify(values, style.SPEED_EDGES)
        return paint_classes(codes, style.speed_colours())
    if key == "arrival_time":
        codes = classify(values / 60.0, style.ARRIVAL_EDGES_MIN)
        return paint_classes(codes, style.arrival_colours())
    if key == "depth_diff":
        codes = classify(values, style.DIFF_EDGES)
        return paint_classes(codes, style.diff_colours())
    if key == "likelihood":
        return paint_classes(np.nan_to_num(values, nan=-1).astype(np.int16), style.likelihood_colours())
    raise KeyError(f"unknown raster key {key!r}")
