"""Compare finished runs: difference rasters, summaries side by side, buildings that change class, a map.

The first run is the reference ``A``; every later run ``B`` is compared with it. **Sign convention:
differences are B − A, so a positive depth difference means deeper water in B** (and a positive hazard
difference a higher hazard rating in B). A cell outside the model in either run is NaN / nodata.

Runs must share the grid exactly (shape, transform and CRS); anything else is refused with a
:class:`~floodsim.errors.GridAlignmentError` (exit code 2 on the command line), since a cell-by-cell
difference would be meaningless.

Written into the output folder (each file atomically):

* ``max_depth_diff.tif`` and ``hazard_rating_diff.tif`` (COG, float32) — with more than two runs one
  pair per later run, suffixed ``_<label>``;
* ``comparison.csv``: every summary metric (``summary.json`` flattened: gauges, outflow and storage
  measures included), one value per cell to 4 significant digits, one column per run, plus a
  ``<B> − <A>`` column for each later run where the values are numbers;
* ``changed_buildings.gpkg`` (layer ``changed_buildings``) and ``changed_buildings.csv``: buildings whose
  hazard class differs between A and a later run, with both classes and depths;
* ``depth_diff.png`` (``depth_diff_<label>.png`` for more runs): a static map of the depth difference.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from ..errors import GridAlignmentError, InputDataError
from ..io import runfolder as rf
from ..io.atomic import atomic_path
from ..io.raster import write_geotiff
from ..io.runfolder import Run, load_run
from ..variables import attrs
from .flooding import flood_depth, storage_depth_of
from .hazard import hazard_rating
from .products import flatten_summary, write_layers

#: Significant digits of the numbers in the comparison's CSV files.
SIGNIFICANT_DIGITS = 4

#: Metrics printed in the side-by-side table (all of them go to comparison.csv).
HEADLINE_METRICS = (
    "max_extent_area_m2", "max_depth_m", "max_speed_m_s", "buildings_flooded",
    "buildings_by_hazard_class.low", "buildings_by_hazard_class.moderate",
    "buildings_by_hazard_class.significant", "buildings_by_hazard_class.extreme",
    "hazard_area_m2_by_class.significant", "hazard_area_m2_by_class.extreme",
    "peak_boundary_outflow_m3_s", "outflow.peak_outflow_m3_s", "outflow.time_of_peak_outflow_s",
    "volume_balance_m3.boundary_out", "volume_balance_m3.infiltration",
    "volume_balance_m3.measures", "volume_balance_m3.relative_error",
)


@dataclass
class Comparison:
    """What :func:`compare_runs` produced."""

    runs: list[Run]
    labels: list[str]
    table: pd.DataFrame
    changed: pd.DataFrame
    files: dict[str, Path] = field(default_factory=dict)


def hazard_of(run: Run) -> np.ndarray:
    """UK hazard rating of a run from its maxima (:func:`floodsim.analysis.hazard.hazard_rating`), with the
    flood depth (water held by measures by design is not flooding, :mod:`floodsim.analysis.flooding`)."""
    return hazard_rating(flood_depth(run.max_depth.values, storage_depth_of(run.ds)), run.max_speed.values)


def check_same_grid(a: Run, b: Run) -> None:
    """Refuse runs whose grids differ in shape, transform or CRS (GridAlignmentError)."""
    if a.max_depth.shape != b.max_depth.shape:
        raise GridAlignmentError(f"{b.path}: grid {b.max_depth.shape[0]}×{b.max_depth.shape[1]} cells differs "
                                 f"from {a.path} ({a.max_depth.shape[0]}×{a.max_depth.shape[1]}); compare "
                                 "runs of the same DEM and `coarsen`.")
    ca, cb = a.max_depth.rio.crs, b.max_depth.rio.crs
    if (ca is None) != (cb is None) or (ca is not None and ca != cb):
        raise GridAlignmentError(f"{b.path}: CRS {cb} differs from {a.path} ({ca}); compare runs on the "
                                 "same DEM.")
    ta, tb = a.max_depth.rio.transform(recalc=False), b.max_depth.rio.transform(recalc=False)
    tol = 1e-6 * max(abs(ta.a), abs(ta.e))
    if not np.allclose(np.array(ta)[:6], np.array(tb)[:6], rtol=0, atol=tol):
        raise GridAlignmentError(f"{b.path}: grid origin or cell size differs from {a.path} (transform "
                                 f"{tuple(round(v, 3) for v in tb[:6])} vs {tuple(round(v, 3) for v in ta[:6])}); "
                                 "compare runs of the same DEM and `coarsen`.")


def run_labels(runs: list[Run]) -> list[str]:
    """A short, file-name-safe, unique label per run (its folder's name)."""
    seen: dict[str, int] = {}
    labels = []
    for k, r in enumerate(runs):
        label = re.sub(r"[^A-Za-z0-9_.-]+", "_", r.path.resolve().name) or f"run{k}"
        if label in seen:
            label = f"{label}_{k}"
        seen[label] = k
        labels.append(label)
    return labels


def summary_table(runs: list[Run], labels: list[str]) -> pd.DataFrame:
    """Metrics × runs (flattened summaries), plus ``<B> − <A>`` columns where the values are numbers."""
    per_run = []
    units = {}
    for r in runs:
        summary = r.summary.to_dict() if r.summary is not None else {}
        rows = flatten_summary(summary)
        per_run.append({m: v for m, v, _ in rows})
        units.update({m: u for m, _, u in rows})
    metrics = list(dict.fromkeys(m for d in per_run for m in d))
    table = pd.DataFrame({"metric": metrics, "unit": [units.get(m, "") for m in metrics]})
    for label, d in zip(labels, per_run):
        table[label] = [d.get(m) for m in metrics]
    a = labels[0]
    for k in range(1, len(runs)):
        diff = []
        for m in metrics:
            va, vb = per_run[0].get(m), per_run[k].get(m)
            ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (va, vb))
            diff.append(vb - va if ok else None)
        table[f"{labels[k]} − {a}"] = diff
    return table


def changed_buildings(a: Run, b: Run, label_a: str, label_b: str) -> gpd.GeoDataFrame | None:
    """Buildings whose hazard class differs between A and B (None if a run has no buildings layer)."""
    if a.buildings is None or b.buildings is None:
        return None
    id_field = a.buildings.columns[0]
    cols = [id_field, "hazard_code", "hazard_class", "max_depth_m", "max_hazard_rating"]
    m = a.buildings[cols + ["geometry"]].merge(b.buildings[cols], on=id_field, suffixes=("_a", "_b"))
    m = m[m["hazard_code_a"] != m["hazard_code_b"]].copy()
    m.insert(0, "run_a", label_a)
    m.insert(1, "run_b", label_b)
    m["depth_change_m"] = m["max_depth_m_b"] - m["max_depth_m_a"]
    m["change"] = np.where(m["hazard_code_b"] > m["hazard_code_a"], "worse", "better")
    return gpd.GeoDataFrame(m, geometry="geometry", crs=a.buildings.crs)


def _diff_da(values, like: xr.DataArray, key: str) -> xr.DataArray:
    da = xr.DataArray(values.astype(np.float32), dims=like.dims, coords={d: like[d] for d in like.dims},
                      attrs=attrs(key))
    if like.rio.crs is not None:
        da = da.rio.write_crs(like.rio.crs)
    return da.rio.write_transform(like.rio.transform(recalc=False))


def depth_difference_png(diff: np.ndarray, like: xr.DataArray, path: Path, title: str,
                         buildings: gpd.GeoDataFrame | None = None) -> Path:
    """Static map of a depth difference (B − A) with a diverging colour scale centred on 0."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import SymLogNorm

    t = like.rio.transform(recalc=False)
    ny, nx = diff.shape
    extent = (t.c, t.c + t.a * nx, t.f + t.e * ny, t.f)
    finite = diff[np.isfinite(diff)]
    lim = max(float(np.max(np.abs(finite))) if finite.size else 0.0, 0.05)
    # symmetric-log scale, linear within ±2 cm: a pond dug 1 m deep must not wash out the centimetres
    # gained or lost in the streets
    norm = SymLogNorm(linthresh=0.02, linscale=0.5, vmin=-lim, vmax=lim, base=10)
    fig, ax = plt.subplots(figsize=(7, 7 * ny / max(nx, 1) if nx else 7), dpi=120)
    try:
        im = ax.imshow(np.ma.masked_invalid(diff), cmap="RdBu_r", norm=norm, extent=extent,
                       interpolation="nearest")
        if buildings is not None and len(buildings):
            buildings.boundary.plot(ax=ax, color="0.3", linewidth=0.4)
        cb = fig.colorbar(im, ax=ax, shrink=0.8)
        ticks = [t for t in (0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0) if t <= lim]
        cb.set_ticks([-t for t in reversed(ticks)] + [0.0] + ticks)
        cb.set_ticklabels([f"{-t:g}" for t in reversed(ticks)] + ["0"] + [f"+{t:g}" for t in ticks])
        cb.minorticks_off()
        cb.set_label("max depth B − A [m] (red: deeper in B, blue: shallower)")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(f"x [m] ({like.rio.crs})" if like.rio.crs else "x [m]")
        ax.set_ylabel("y [m]")
        ax.ticklabel_format(useOffset=False, style="plain")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def _significant(value):
    """A float to :data:`SIGNIFICANT_DIGITS` significant digits (tidy tables); anything else as it is."""
    if isinstance(value, (float, np.floating)) and np.isfinite(value):
        return float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    return value


def _write_csv(df: pd.DataFrame, path: Path) -> Path:
    buf = io.StringIO()
    df.map(_significant).to_csv(buf, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue(), encoding="utf-8")
    return path


def compare_runs(run_dirs, out_dir, png: bool = True) -> Comparison:
    """Compare finished runs (the first is the reference A) and write the products listed above.

    Parameters
    ----------
    run_dirs : sequence of str or Path
        At least two folders written by ``floodsim run``.
    out_dir : str or Path
        Folder for the comparison products (created if needed).
    png : bool
        Also write the static PNG map(s).
    """
    if len(run_dirs) < 2:
        raise InputDataError("compare: give at least two run folders (A B [C …]).")
    runs = [load_run(p) for p in run_dirs]
    a = runs[0]
    for b in runs[1:]:
        check_same_grid(a, b)
    labels = run_labels(runs)
    out = Path(out_dir)
    files: dict[str, Path] = {}
    changed_parts = []
    hr_a = hazard_of(a)
    for b, label in zip(runs[1:], labels[1:]):
        suffix = "" if len(runs) == 2 else f"_{label}"
        d_depth = b.max_depth.values.astype(np.float64) - a.max_depth.values.astype(np.float64)
        d_hr = hazard_of(b) - hr_a
        files[f"max_depth_diff{suffix}"] = write_geotiff(_diff_da(d_depth, a.max_depth, "max_depth_difference"),
                                                         out / rf.difference_file("max_depth", suffix))
        files[f"hazard_rating_diff{suffix}"] = write_geotiff(
            _diff_da(d_hr, a.max_depth, "hazard_rating_difference"), out / rf.difference_file("hazard_rating", suffix))
        if png:
            files[f"depth_diff_png{suffix}"] = depth_difference_png(
                d_depth, a.max_depth, out / rf.difference_file("depth", suffix, "png"),
                f"Max depth difference: {label} − {labels[0]}", a.buildings)
        ch = changed_buildings(a, b, labels[0], label)
        if ch is not None:
            changed_parts.append(ch)
    table = summary_table(runs, labels)
    files["comparison_csv"] = _write_csv(table, out / rf.COMPARISON_CSV)
    if changed_parts:
        changed = gpd.GeoDataFrame(pd.concat(changed_parts, ignore_index=True), geometry="geometry",
                                   crs=changed_parts[0].crs)
        files["changed_buildings_gpkg"] = write_layers(out / rf.CHANGED_BUILDINGS_GPKG,
                                                       {rf.LAYER_CHANGED_BUILDINGS: changed})
        files["changed_buildings_csv"] = _write_csv(pd.DataFrame(changed.drop(columns="geometry")),
                                                    out / rf.CHANGED_BUILDINGS_CSV)
    else:
        changed = pd.DataFrame()
    return Comparison(runs, labels, table, changed, files)


def format_table(cmp: Comparison) -> str:
    """The headline metrics side by side, as plain text."""
    t = cmp.table.set_index("metric")
    cols = [c for c in t.columns if c != "unit"]
    rows = [m for m in HEADLINE_METRICS if m in t.index]
    rows += [m for m in t.index if m.startswith("gauges.") and m.endswith(".max_depth_m")]   # peak at each gauge
    width = max([len(m) for m in rows] + [6]) + 8
    colw = max([len(c) for c in cols] + [12]) + 2
    lines = [f"{'metric':<{width}}" + "".join(f"{c:>{colw}}" for c in cols)]
    for m in rows:
        unit = t.loc[m, "unit"]
        cells = []
        for c in cols:
            v = t.loc[m, c]
            if v is None or (isinstance(v, float) and np.isnan(v)):
                cells.append(f"{'–':>{colw}}")
            elif isinstance(v, (int, np.integer)) and not isinstance(v, bool):
                cells.append(f"{v:>{colw},d}")
            elif isinstance(v, (float, np.floating)):
                cells.append(f"{v:>{colw},.4g}" if abs(v) < 1e5 else f"{v:>{colw},.0f}")
            else:
                cells.append(f"{v!s:>{colw}}")
        lines.append(f"{m + (f' [{unit}]' if unit else ''):<{width}}" + "".join(cells))
    missing = [str(r.path) for r in cmp.runs if r.buildings is None]
    if missing:   # never "0 changed buildings" when there was nothing to compare
        lines.append(f"buildings changing hazard class: not compared (no buildings layer in {rf.FLOOD_GPKG} of "
                     f"{', '.join(missing)})")
        return "\n".join(lines)
    n_changed = len(cmp.changed)
    lines.append(f"buildings changing hazard class: {n_changed}"
                 + (f" ({int((cmp.changed['change'] == 'worse').sum())} worse, "
                    f"{int((cmp.changed['change'] == 'better').sum())} better)" if n_changed else ""))
    return "\n".join(lines)
