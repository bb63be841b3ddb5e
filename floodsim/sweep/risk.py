"""A sweep's likelihood products, from its members' run folders (the functions are in
:mod:`floodsim.analysis.risk`):

* per design (members grouped by their ``design``, differing in ``rainfall.return_period_yr``):
  ``risk_<design>.gpkg`` layer ``buildings_first_flooding`` (per building: ``first_flooding_yr``, the
  lowest simulated return period that floods it (NaN: none), ``first_flooding`` in words,
  ``ead_eur_per_yr``, the expected annual damage of the building over the design's return periods and
  the sweep's ``[ead]`` tails rule, and ``design``, the design's real name) and
  ``likelihood_<design>.tif`` (int8 band codes, :data:`floodsim.analysis.risk.BANDS`, nodata -1);
* with a ``[service_goal]``: ``service_goal_<design>.tif`` (1 where the flood depth of the member of the
  goal's return period exceeds the goal, 0 elsewhere, nodata -1 outside the model) and
  ``service_goal.csv`` (per design: area breaking the goal [m²], buildings next to it, pass/fail);
* a ``storm`` column in words for members with a Chicago design storm
  (:func:`floodsim.analysis.risk.describe_storm`).

``<design>`` in a file name is the design's name made safe (letters, digits, ``.``, ``-``, ``_``;
other runs of characters become ``_``; at most 60 characters; a number added when two designs would
share a name).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis import risk
from ..io import runfolder as rf
from ..io.atomic import atomic_path
from .spec import RETURN_PERIOD_KEY, SweepSpec

RISK_LAYER = "buildings_first_flooding"
SERVICE_GOAL_CSV = "service_goal.csv"


def safe_name(design: str, taken: set | None = None) -> str:
    """``design`` as a file-name part (see the module docstring); unique against ``taken`` (updated)."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", design).strip("._-")[:60] or "design"
    name, k = base, 2
    while taken is not None and name in taken:
        name, k = f"{base}_{k}", k + 1
    if taken is not None:
        taken.add(name)
    return name


def storm_descriptions(members) -> dict[str, str]:
    """Member id -> its design storm in words (Chicago storms only; others are left out)."""
    from ..build.storms import IDFCurve

    cache, out = {}, {}
    for m in members:
        r = getattr(m.scenario, "rainfall", None)
        if r is None or r.kind != "chicago" or r.idf is None or r.return_period_yr is None:
            continue
        try:
            idf = cache.get(str(r.idf)) or cache.setdefault(str(r.idf), IDFCurve.from_file(r.idf))
            out[m.id] = risk.describe_storm(idf, r.return_period_yr, r.duration_min, r.climate_factor)
        except Exception as exc:  # noqa: BLE001 - a storm outside its IDF table is the member's failure
            out[m.id] = f"(not described: {str(exc).splitlines()[0][:120]})"
    return out


def _read_member(run_dir: Path):
    """(flood depth (ny, nx), DataArray template with CRS, threshold, buildings layer or None)."""
    import rioxarray  # noqa: F401
    import xarray as xr

    from ..analysis.flooding import flood_depth, storage_depth_of

    with xr.open_dataset(Path(run_dir) / rf.RESULTS_NC, decode_coords="all") as src:
        keep = [v for v in ("max_depth", "measure_storage_depth") if v in src]
        ds = src[keep].load()
    summary = rf.read_summary(run_dir)
    threshold = float(summary.flood_threshold_m) if summary is not None else 0.1
    depth = flood_depth(ds["max_depth"].values, storage_depth_of(ds))
    return depth, ds["max_depth"], threshold, rf.read_layer(run_dir, rf.LAYER_BUILDINGS)


def _write_codes(template, codes: np.ndarray, path: Path, long_name: str) -> Path:
    from ..io.raster import write_geotiff

    da = template.copy(data=codes.astype(np.int8))
    da.attrs = {"units": "1", "long_name": long_name}
    return write_geotiff(da, path, nodata=risk.BAND_NODATA, dtype=np.int8)


def risk_outputs(table: pd.DataFrame, members, out: Path, spec: SweepSpec, damage=None):
    """Write the likelihood products of a finished sweep (see the module docstring).

    Returns ``(files, lines, goal_table)``: the files written by name, lines of text for the printed
    output, and the service-goal table (None without a goal).
    """
    from .metrics import building_damages

    rp_col = f"param {RETURN_PERIOD_KEY}"
    files: dict[str, Path] = {}
    lines: list[str] = []
    if rp_col not in table.columns:
        if spec.service_goal is not None:
            lines.append(f"service goal: no member sets {RETURN_PERIOD_KEY}; the goal is not checked")
        return files, lines, None
    by_id = {m.id: m for m in members}
    taken: set = set()
    goal = spec.service_goal
    goal_rows = []
    for design, grp in table.groupby("design", sort=False):
        grp = grp[grp["status"] != "failed"]
        name = safe_name(str(design), taken)
        ts = pd.to_numeric(grp[rp_col], errors="coerce")
        grp, ts = grp[ts.notna()], ts[ts.notna()]
        if grp.empty:
            lines.append(f"risk '{design}': no member ran; nothing written")
            if goal is not None:
                goal_rows.append({"design": design, "result": "not checked (no member ran)"})
            continue
        try:
            reads = {mid: _read_member(Path(d)) for mid, d in zip(grp["member"], grp["run_dir"])}
        except Exception as exc:  # noqa: BLE001 - a member folder without results: the rest still report
            lines.append(f"risk '{design}': results not readable ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0][:200]}); nothing written")
            if goal is not None:
                goal_rows.append({"design": design, "result": "not checked (results not readable)"})
            continue
        if ts.duplicated().any():
            lines.append(f"risk '{design}': a return period repeats; no likelihood products")
        else:
            t = ts.to_numpy(float)
            stack = np.stack([reads[mid][0] for mid in grp["member"]])
            template, thr = reads[grp["member"].iloc[0]][1], reads[grp["member"].iloc[0]][2]
            bands = risk.likelihood_bands(stack, t, thr)
            path = out / f"likelihood_{name}.tif"
            _write_codes(template, bands, path, f"likelihood band of flooding ≥ {thr:g} m ({design}): "
                         + ", ".join(f"{k} {v}" for k, v in risk.BANDS.items()))
            files[f"likelihood {design}"] = path
            cell = abs(template.rio.transform(recalc=False).a * template.rio.transform(recalc=False).e)
            areas = {risk.BANDS[k]: float((bands == k).sum() * cell) for k in (4, 3, 2, 1)}
            lines.append(f"likelihood '{design}' (T = {', '.join(f'{v:g}' for v in t)} yr): "
                         + ", ".join(f"{k} {v:,.0f} m²" for k, v in areas.items()))
            layers = [reads[mid][3] for mid in grp["member"]]
            if all(b is not None for b in layers) and layers:
                first = risk.lowest_return_period(np.stack([b["flooded"].to_numpy(bool) for b in layers]), t)
                dmg = np.stack([building_damages(b, by_id[mid].scenario, damage)
                                for b, mid in zip(layers, grp["member"])])
                ead = risk.ead_per_item(t, dmg, spec.ead.zero_damage_return_period_yr, spec.ead.rare_tail)
                base = layers[0]
                ids = [c for c in base.columns if c not in ("geometry",)][:1]
                gdf = base[[*ids, "geometry"]].copy()
                gdf["first_flooding_yr"] = first
                gdf["first_flooding"] = [risk.first_flooding_label(v) for v in first]
                gdf["ead_eur_per_yr"] = ead
                gdf["design"] = str(design)
                gpkg = out / f"risk_{name}.gpkg"
                with atomic_path(gpkg) as tmp:           # written under a .gpkg name, then moved on tmp
                    named = Path(f"{tmp}.gpkg")
                    try:
                        gdf.to_file(named, layer=RISK_LAYER, driver="GPKG")
                        os.replace(named, tmp)
                    finally:
                        named.unlink(missing_ok=True)
                files[f"risk {design}"] = gpkg
                counts = pd.Series(gdf["first_flooding"]).value_counts()
                order = [risk.first_flooding_label(v) for v in sorted(set(t))] + ["not flooded"]
                lines.append(f"first flooding '{design}': "
                             + ", ".join(f"{counts.get(k, 0)} at {k}" if k != "not flooded"
                                         else f"{counts.get(k, 0)} not flooded" for k in order)
                             + f"; EAD {float(np.sum(ead)):,.0f} EUR/yr over the buildings")
        if goal is not None:
            at = grp[np.isclose(ts.to_numpy(float), goal.return_period_yr)]
            if at.empty:
                goal_rows.append({"design": design, "result": f"not checked (no member at "
                                                              f"{goal.return_period_yr:g} yr)"})
                continue
            mid = at["member"].iloc[0]
            depth, template, _, bl = reads[mid]
            cells = risk.service_goal_cells(depth, goal.max_depth_m)
            codes = np.where(np.isnan(depth), risk.BAND_NODATA, cells.astype(np.int8))
            path = out / f"service_goal_{name}.tif"
            _write_codes(template, codes, path, f"flood depth > {goal.max_depth_m:g} m at "
                         f"{goal.return_period_yr:g} yr ({design}): 1 breaks the goal")
            files[f"service goal {design}"] = path
            tr = template.rio.transform(recalc=False)
            area = float(cells.sum() * abs(tr.a * tr.e))
            nb = int((pd.to_numeric(bl["max_depth_m"], errors="coerce") > goal.max_depth_m).sum()) \
                if bl is not None else 0
            goal_rows.append({"design": design, "member": mid, "label": at["label"].iloc[0],
                              "area_breaking_goal_m2": area, "buildings_next_to_it": nb,
                              "result": "pass" if area == 0 else "fail"})
    goal_table = None
    if goal is not None:
        goal_table = pd.DataFrame(goal_rows)
        goal_table.insert(1, "max_depth_m", goal.max_depth_m)
        goal_table.insert(2, "return_period_yr", goal.return_period_yr)
        with atomic_path(out / SERVICE_GOAL_CSV) as tmp:
            goal_table.to_csv(tmp, index=False)
        files["service goal"] = out / SERVICE_GOAL_CSV
        lines.append(f"service goal: flood depth ≤ {goal.max_depth_m:g} m in the {goal.return_period_yr:g}-year "
                     "rain, per design:")
        for r in goal_rows:
            if "area_breaking_goal_m2" in r:
                lines.append(f"  {r['design']}: {r['result']} ({r['area_breaking_goal_m2']:,.0f} m² deeper, "
                             f"{r['buildings_next_to_it']} building(s) next to it)")
            else:
                lines.append(f"  {r['design']}: {r['result']}")
    return files, lines, goal_table


__all__ = ["RISK_LAYER", "SERVICE_GOAL_CSV", "risk_outputs", "safe_name", "storm_descriptions"]
