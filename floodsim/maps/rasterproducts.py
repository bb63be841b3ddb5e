"""The rasters a page can show, by key (:mod:`floodsim.maps.sitedata`): where their values come from and
how they are painted. One home for both, used by the embedded pages and by the tile pyramids.

:func:`raster_values` gives the values on the runs' grid (float32, NaN = nothing to show);
:func:`paint` turns values (on any grid, e.g. a web-mercator tile) into RGBA. Classes and colours are
those of :mod:`floodsim.maps.style`.
"""

from __future__ import annotations

import numpy as np
from rasterio.enums import Resampling

from .rasters import classify, grey_rgba, hillshade, paint_classes
from . import style


def raster_values(site, run: int | None, key: str):
    """``(values, transform, crs, resampling)`` of raster ``key``; None when the data is not there."""
    if key in ("depth_diff", "likelihood"):
        ref = site.runs[0]
        if key == "depth_diff":
            if site.comparison is None or site.comparison.depth_diff is None:
                return None
            v = np.asarray(site.comparison.depth_diff.values, dtype=np.float32)
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
        v = ds["max_depth"].values
    elif key == "hazard":
        v = np.where(r.hazard_code > 0, r.hazard_code, np.nan)
    elif key == "max_speed":
        depth = ds["max_depth"].values
        v = np.where(depth >= r.threshold_m, ds["max_speed"].values, np.nan)
    elif key == "arrival_time":
        if "arrival_time" in ds:
            v = ds["arrival_time"].values
        else:
            v = _arrival_from_frames(ds, r.threshold_m)
            if v is None:
                return None
    elif key.startswith("depth@"):
        k = int(key.split("@", 1)[1])
        if "depth" not in ds or not 0 <= k < ds.sizes.get("time", 0):
            return None
        v = ds["depth"].values[k]
    else:
        raise KeyError(f"unknown raster key {key!r}")
    return np.asarray(v, dtype=np.float32), r.transform, r.crs, Resampling.nearest


def _arrival_from_frames(ds, threshold_m: float):
    """First output time [s] at which the depth reaches ``threshold_m`` (NaN: never)."""
    if "depth" not in ds or "time" not in ds.coords:
        return None
    d = ds["depth"].values
    t = ds["time"].values.astype(np.float64)
    wet = d >= threshold_m
    first = np.argmax(wet, axis=0)
    return np.where(wet.any(axis=0), t[first], np.nan).astype(np.float32)


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
