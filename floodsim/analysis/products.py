"""Products of a finished run, beside results.nc: hazard and arrival rasters, vector layers, tables.

Every flood product uses the flood depth of :mod:`floodsim.analysis.flooding`: water that a measure
holds by design (a pond below its rim) is storage, not flooding.

:func:`write_products` is called by :func:`floodsim.run.runner.run_scenario` after the NetCDF and the
max-depth/speed GeoTIFFs and before ``summary.json``. It writes, each file atomically
(:func:`floodsim.io.atomic.atomic_path`; names from :mod:`floodsim.io.runfolder`):

``hazard_rating.tif``
    UK hazard rating ``HR = d (v + 0.5) + DF`` from ``max_depth`` and ``max_speed`` (see
    :mod:`floodsim.analysis.hazard`; the envelope of the maxima, which is conservative). COG, float32.
``hazard_class.tif``
    Hazard class code per cell (0 none … 4 extreme), COG, int8, nodata −1 outside the model.
``arrival_time.tif``
    Time [s] at which the depth first reached the flood threshold, NaN/nodata where it never did
    (not written for a run without depth frames: ``[output] depth_frames``; ``skipped`` says so).
    Computed from the output depth series: linear interpolation between the last output below and
    the first output at or above the threshold, and never later than ``time_of_max_depth`` (which is
    tracked every step). Its resolution is therefore the output interval, refined by interpolation.
``flood.gpkg``
    Layers ``flood_extent`` (max-depth classes as dissolved polygons, simplified by half a cell;
    attributes ``depth_class``, ``min_depth_m``, ``max_depth_m``, ``area_m2``), ``buildings`` (from
    :func:`floodsim.analysis.exposure.building_exposure`) and ``measures`` (one row per measure: ``name``,
    ``type``, ``peak_stored_m3``; skipped when the scenario has none).
It returns the numbers for the run summary (:class:`floodsim.io.runfolder.RunSummary`): flooded area
per depth class, area per hazard class, buildings per hazard class, the peak volume in each store, and
the peak boundary outflow rate. :func:`write_summary_csv` writes ``summary.csv``: one row per metric
(``metric``, ``value``, ``unit``), the whole summary flattened.
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
import xarray as xr
from rasterio import features as rio_features

from ..io import runfolder as rf
from ..io.atomic import atomic_path
from ..io.raster import write_geotiff
from ..variables import attrs
from .depth_classes import classify_depth, depth_class_edges, depth_class_label
from .exposure import building_exposure, count_by_class, grid_of_dataset
from .flooding import flood_depth, has_depth_frames, iter_depth_frames, no_frames_reason, storage_depth_of
from .hazard import HAZARD_CLASSES, hazard_class, hazard_rating

def flood_extent_polygons(depth: np.ndarray, transform, crs, threshold_m: float, cell_area: float,
                          tolerance: float) -> gpd.GeoDataFrame:
    """Dissolved, simplified polygons per max-depth class (``rasterio.features.shapes`` → shapely).

    ``area_m2`` is the exact raster area of the class (cells × cell area), not the simplified area.
    """
    edges = depth_class_edges(threshold_m)
    cls = classify_depth(depth, edges)
    rows = []
    polys = {k: [] for k in range(1, len(edges))}
    for geom, value in rio_features.shapes(cls, mask=cls > 0, transform=transform, connectivity=4):
        polys[int(value)].append(shapely.geometry.shape(geom))
    for k in range(1, len(edges)):
        n_cells = int((cls == k).sum())
        if not polys[k]:
            continue
        merged = shapely.union_all(polys[k]).simplify(tolerance, preserve_topology=True)
        rows.append({"depth_class": depth_class_label(edges[k - 1], edges[k]), "min_depth_m": edges[k - 1],
                     "max_depth_m": edges[k] if not math.isinf(edges[k]) else np.nan,
                     "area_m2": n_cells * cell_area, "geometry": merged})
    columns = ["depth_class", "min_depth_m", "max_depth_m", "area_m2", "geometry"]
    if not rows:
        return gpd.GeoDataFrame(columns=columns, geometry="geometry", crs=crs)
    return gpd.GeoDataFrame(rows, columns=columns, geometry="geometry", crs=crs)


def arrival_time(ds: xr.Dataset, threshold_m: float) -> np.ndarray:
    """Time [s] the depth first reaches ``threshold_m`` (NaN where it never does); see module doc.

    Reads the depth frames one at a time (:func:`floodsim.analysis.flooding.iter_depth_frames`).

    Raises
    ------
    ValueError
        The dataset has no depth frames (:func:`floodsim.analysis.flooding.has_depth_frames`).
    """
    if not has_depth_frames(ds):
        raise ValueError(f"arrival time needs the depth frames: {no_frames_reason(ds)}")
    storage = storage_depth_of(ds)
    out = prev = t_prev = None
    for k, t_k, frame in iter_depth_frames(ds):
        h = flood_depth(frame, storage)
        wet = np.nan_to_num(h, nan=-1.0) >= threshold_m
        if out is None:
            out = np.where(wet, t_k, np.nan)      # first output at or above the threshold: no interpolation
            ever = wet.copy()
        else:
            new = wet & ~ever
            if new.any():
                with np.errstate(invalid="ignore", divide="ignore"):
                    frac = np.clip((threshold_m - prev) / (h - prev), 0.0, 1.0)
                out = np.where(new, t_prev + frac * (t_k - t_prev), out)
                ever |= new
        prev, t_prev = h, t_k
    # a peak between two outputs: the depth was above the threshold by time_of_max_depth at the latest
    max_depth = flood_depth(ds["max_depth"].values, storage)
    t_max = np.asarray(ds["time_of_max_depth"].values, dtype=np.float64)
    peak_only = ~ever & (np.nan_to_num(max_depth, nan=-1.0) >= threshold_m) & np.isfinite(t_max)
    out = np.where(peak_only, t_max, out)
    both = ever & np.isfinite(t_max) & (np.nan_to_num(max_depth, nan=-1.0) >= threshold_m)
    out = np.where(both, np.minimum(out, t_max), out)
    return out


def _measure_peaks(ds: xr.Dataset, measures: list[dict]) -> dict[str, float]:
    """Peak stored volume [m³] per measure: its ``volume_m3`` series, else (terrain measures that store
    surface water, such as ponds: ``stores_surface_water`` in :mod:`floodsim.measures.registry`) the
    water on the cells it changed, from the output depth series
    (:func:`floodsim.analysis.measure_effects.measure_volumes`)."""
    from ..measures.registry import stores_surface_water
    from .measure_effects import measure_volumes

    peaks = {}
    for m, v in zip(measures, measure_volumes(ds, measures)):
        if "peak_stored_m3" in v:
            peaks[m["name"]] = v["peak_stored_m3"]
        elif "peak_surface_volume_m3" in v and stores_surface_water(m.get("type")):
            peaks[m["name"]] = v["peak_surface_volume_m3"]
    return peaks


def measures_layer(measures: list[dict], peaks: dict[str, float], crs) -> gpd.GeoDataFrame | None:
    """One row per measure (its features dissolved): name, type, peak_stored_m3 (NaN if not a store)."""
    rows = []
    for m in measures:
        gdf = m.get("gdf")
        if gdf is None or len(gdf) == 0:
            continue
        if crs is not None and gdf.crs is not None and not gdf.crs.equals(crs):
            gdf = gdf.to_crs(crs)
        rows.append({"name": str(m["name"]), "type": str(m["type"]),
                     "peak_stored_m3": peaks.get(m["name"], np.nan),
                     "geometry": shapely.union_all(np.asarray(gdf.geometry.values))})
    if not rows:
        return None
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)


def peak_outflow(ds: xr.Dataset) -> tuple[float, float]:
    """Peak boundary outflow rate [m³/s] and its time [s]: the largest mean rate over one output
    interval, from the cumulative ``volume_boundary_out`` series (0, 0 with fewer than two outputs)."""
    t = np.asarray(ds["time"].values, dtype=np.float64)
    v = np.asarray(ds["volume_boundary_out"].values, dtype=np.float64)
    if t.size < 2:
        return 0.0, 0.0
    rate = np.diff(v) / np.diff(t)
    k = int(np.argmax(rate))
    return float(rate[k]), float(t[k + 1])


def write_layers(path: Path, layers: dict[str, gpd.GeoDataFrame]) -> Path:
    """Write several layers into one GeoPackage, atomically (all layers or no file)."""
    with atomic_path(path) as tmp:
        tmp.unlink()                       # GDAL creates the GeoPackage itself
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*(extension|conformant).*", category=RuntimeWarning)
            for name, gdf in layers.items():
                gdf.to_file(tmp, layer=name, driver="GPKG")
    return path


_UNIT_TOKENS = (("_m3_s", "m3 s-1"), ("_m_s", "m s-1"), ("_m2", "m2"), ("_m3", "m3"), ("_s", "s"), ("_m", "m"))


def _unit_of(key: str) -> str:
    """Unit of a summary key from the unit token in its name (``peak_volume_m3_by_store`` → m3)."""
    if "relative" in key:
        return "1"
    for token, unit in _UNIT_TOKENS:
        if key.endswith(token) or f"{token}_" in key:
            return unit
    return ""


def flatten_summary(summary: dict, prefix: str = "", unit: str = "") -> list[tuple[str, object, str]]:
    """``(metric, value, unit)`` rows; nested keys are joined with ``.``; a table named ``*_m3`` gives
    its unit to its entries."""
    rows = []
    for key, value in summary.items():
        name = f"{prefix}{key}"
        u = _unit_of(str(key)) or unit
        if isinstance(value, dict):
            rows.extend(flatten_summary(value, name + ".", u))
        elif isinstance(value, (list, tuple)):
            for k, item in enumerate(value):
                if isinstance(item, dict):      # a list of records: one row per field, never a dict in a cell
                    rows.extend(flatten_summary(item, f"{name}[{k}].", u))
                else:
                    rows.append((f"{name}[{k}]", item, u))
        else:
            rows.append((name, value, u))
    return rows


def write_summary_csv(summary: dict, path) -> Path:
    """summary.csv: one row per metric (metric, value, unit), atomically."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["metric", "value", "unit"])
    w.writerows(flatten_summary(summary))
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue(), encoding="utf-8")
    return path


def write_products(ds: xr.Dataset, model, out_dir) -> tuple[dict[str, Path], dict]:
    """Write the run products into ``out_dir``; return the files and their headline numbers.

    Parameters
    ----------
    ds : xarray.Dataset
        Results of the run (:meth:`floodsim.run.recorder.Recorder.to_dataset`).
    model : floodsim.build.model.Model
        The built model (scenario, buildings, measures).
    out_dir : str or Path
        Run folder.

    Returns
    -------
    files : dict[str, Path]
        Written files by product name.
    numbers : dict
        Fields of :class:`floodsim.io.runfolder.RunSummary` (module docstring).
    """
    out = Path(out_dir)
    sc = model.scenario
    thr = float(sc.output.flood_threshold_m)
    grid = grid_of_dataset(ds)
    cell_area = abs(grid.transform.a * grid.transform.e)
    depth = flood_depth(ds["max_depth"].values, storage_depth_of(ds))   # water held by measures is not flooding
    speed = np.asarray(ds["max_speed"].values, dtype=np.float64)
    coords = {"y": ds["y"], "x": ds["x"]}
    files: dict[str, Path] = {}

    hr = hazard_rating(depth, speed)
    codes = hazard_class(hr, depth, thr)
    hr_da = _raster(hr, coords, ds, "hazard_rating")
    files["hazard_rating"] = write_geotiff(hr_da, out / rf.HAZARD_RATING_TIF)
    cls_da = _raster(np.where(np.isfinite(depth), codes, -1), coords, ds, "hazard_class")
    files["hazard_class"] = write_geotiff(cls_da, out / rf.HAZARD_CLASS_TIF, nodata=-1, dtype=np.int8)
    skipped = {}
    if has_depth_frames(ds):
        files["arrival_time"] = write_geotiff(_raster(arrival_time(ds, thr), coords, ds, "arrival_time"),
                                              out / rf.ARRIVAL_TIME_TIF)
    else:
        skipped[rf.ARRIVAL_TIME_TIF] = f"needs the depth frames: {no_frames_reason(ds)}"

    layers = {rf.LAYER_FLOOD_EXTENT: flood_extent_polygons(depth, grid.transform, grid.crs, thr, cell_area,
                                                    tolerance=0.5 * abs(grid.transform.a))}
    exposure = None
    if model.buildings is not None and len(model.buildings):
        exposure = building_exposure(ds, model.buildings, sc.buildings.id_field, thr)
        layers[rf.LAYER_BUILDINGS] = exposure
    measures = list(getattr(model, "measures", None) or [])
    peaks = _measure_peaks(ds, measures)
    mlayer = measures_layer(measures, peaks, grid.crs)
    if mlayer is not None:
        layers[rf.LAYER_MEASURES] = mlayer
    files["gpkg"] = write_layers(out / rf.FLOOD_GPKG, layers)

    edges = depth_class_edges(thr)
    dcls = classify_depth(depth, edges)
    summary: dict = {}
    summary["flooded_area_m2_by_depth_class"] = {
        depth_class_label(edges[k - 1], edges[k]): float((dcls == k).sum() * cell_area)
        for k in range(1, len(edges))}
    summary["hazard_area_m2_by_class"] = {c.name: float((codes == c.code).sum() * cell_area)
                                          for c in HAZARD_CLASSES[1:]}
    if exposure is not None:
        summary["buildings"] = len(exposure)
        summary["buildings_flooded"] = int(exposure["flooded"].sum())
        summary["buildings_by_hazard_class"] = count_by_class(exposure)
    stores = {"surface": float(np.nanmax(ds["volume_stored"].values))}
    stores.update(peaks)
    summary["peak_volume_m3_by_store"] = stores
    rate, t_rate = peak_outflow(ds)
    summary["peak_boundary_outflow_m3_s"] = rate
    summary["peak_boundary_outflow_time_s"] = t_rate
    if skipped:
        summary["skipped"] = skipped
    return files, summary


def _raster(values, coords, ds, key) -> xr.DataArray:
    da = xr.DataArray(values, dims=("y", "x"), coords=coords, attrs=attrs(key))
    da = da.rio.write_crs(ds.rio.crs) if ds.rio.crs is not None else da
    return da.rio.write_transform(ds.rio.transform(recalc=False))
