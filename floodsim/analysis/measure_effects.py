"""What a scenario's measures changed: the run compared with the same run without its measures.

A planner asks of every measure: how many buildings stay dry that flooded before, how much lower
is the peak at the places I know, and how much water did it hold? :func:`baseline_scenario` gives
the scenario with its measures removed (everything else identical: grid, coarsening, storm, soil,
boundaries), and :func:`effects_against_baseline` compares the two finished runs.

Sign convention: every ``change`` is *with measures − baseline*, so a negative change in a depth,
an area or a count is an improvement. Depths in m, areas in m², volumes in m³, times in s.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..scenario.models import Scenario
from .flooding import has_depth_frames, iter_depth_frames


def baseline_scenario(sc: Scenario) -> Scenario:
    """``sc`` without its measures (and never comparing again), named "<name> — baseline"."""
    return sc.model_copy(update={"measures": (), "name": f"{sc.name} — baseline (no measures)",
                                 "output": sc.output.model_copy(update={"compare_to_baseline": False})})


def _pair(with_measures: float, baseline: float) -> dict:
    return {"baseline": baseline, "with_measures": with_measures, "change": with_measures - baseline}


def _peak(series: xr.DataArray) -> float:
    return float(np.nanmax(series.values)) if series.size else 0.0


def holds_water(storage, outflow_volume) -> bool:
    """True for a device that stores water (a tank, a tunnel), False for one that passes it on (an
    outlet, a pump, a gate), judged from its series: what a pass-through device holds between steps is
    round-off of what it moved."""
    moved = float(np.nanmax(np.abs(outflow_volume))) if np.size(outflow_volume) else 0.0
    return bool(np.nanmax(storage) > 1e-6 * max(1.0, moved))


def device_index(ds: xr.Dataset, name: str) -> int | None:
    """Position of measure ``name`` on the ``device`` axis of the fine series, or None."""
    if "device" not in ds.coords:
        return None
    names = [str(v) for v in ds["device"].values]
    return names.index(name) if name in names else None


def measure_volumes(ds: xr.Dataset, measures: list[dict]) -> list[dict]:
    """Per measure (``Model.measures`` entries): the volume it held or moved [m³], from the run's series.

    * Storage measures (tanks, tunnels): ``peak_stored_m3`` and ``final_stored_m3`` from their
      ``device_storage`` series (the fine series, :mod:`floodsim.run.series`).
    * Pond outlets and controlled structures: ``moved_m3``, the volume discharged or pumped
      (``device_outflow_volume`` at the end).
    * Terrain measures (ponds, rain beds, lowered roads, green areas): ``storage_created_m3`` (volume
      dug below the former ground, from the terrain report), ``storage_below_rim_m3`` for ponds, and
      ``peak_surface_volume_m3``, the largest water volume on the measure's cells at an output time
      (read one depth frame at a time; left out for a run without depth frames).
    """
    out = []
    cell_area = float(ds.attrs["dx_m"]) * float(ds.attrs["dy_m"])
    for m in measures:
        entry = {"name": m["name"], "type": m["type"]}
        k = device_index(ds, m["name"])
        if k is not None:
            volume = ds["device_storage"].values[k]
            if holds_water(volume, ds["device_outflow_volume"].values[k]):
                entry["peak_stored_m3"] = _peak(ds["device_storage"][k])
                entry["final_stored_m3"] = float(volume[-1])
            else:   # a pass-through device (outlet, pump, gate): what it moved
                entry["moved_m3"] = float(ds["device_outflow_volume"].values[k][-1])
        report = m.get("report")
        if report is not None:
            entry["storage_created_m3"] = report["storage_created_m3"]
            if "storage_below_rim_m3" in report:
                entry["storage_below_rim_m3"] = report["storage_below_rim_m3"]
            cells = report.get("cells_mask")
            if cells is not None and has_depth_frames(ds):   # (without frames: left out)
                mask = xr.DataArray(np.asarray(cells, bool), dims=("y", "x"))
                held = [(xr.DataArray(frame, dims=("y", "x")).where(mask, 0.0).sum() * cell_area).values
                        for _, _, frame in iter_depth_frames(ds)]
                entry["peak_surface_volume_m3"] = float(np.nanmax(np.stack(held)))
        out.append(entry)
    return out


def effects_against_baseline(ds: xr.Dataset, base_ds: xr.Dataset, model, summary, base_summary) -> dict:
    """Compare a run with measures (``ds``, ``model``, ``summary``) against its baseline run.

    ``summary`` and ``base_summary`` are the two runs' :class:`~floodsim.io.runfolder.RunSummary`.
    Returns a JSON-ready dict: headline numbers as ``{baseline, with_measures, change}``, the peak
    depth at each gauge, flooded buildings (adjacent depth ≥ the flood threshold; see
    :mod:`floodsim.analysis.exposure`) with the ids that became dry or newly flooded, and the volume each
    measure held (:func:`measure_volumes`).
    """
    thr = summary.flood_threshold_m
    out = {"sign_convention": "change = with measures - baseline; negative is less flooding"}
    for key in ("max_depth_m", "peak_flooded_area_m2", "max_extent_area_m2"):
        if getattr(summary, key) is not None and getattr(base_summary, key) is not None:   # (no depth frames)
            out[key] = _pair(getattr(summary, key), getattr(base_summary, key))
    vb, bvb = summary.volume_balance_m3, base_summary.volume_balance_m3
    for key in ("boundary_out", "infiltration"):
        out[f"{key}_m3"] = _pair(vb[key], bvb[key])
    out["peak_volume_in_measures_m3"] = _pair(_peak(ds["volume_measures"]), _peak(base_ds["volume_measures"]))
    gauges = {}
    for name, g in (summary.gauges or {}).items():
        b = (base_summary.gauges or {}).get(name)
        if b is not None:
            depth = (lambda x: 0.0 if x == "dry" else x["max_depth_m"])
            gauges[name] = {"max_depth_m": _pair(depth(g), depth(b))}
    if gauges:
        out["gauges"] = gauges
    if model.buildings is not None and len(model.buildings):
        from .exposure import building_exposure

        id_field = model.scenario.buildings.id_field
        exp = building_exposure(ds, model.buildings, id_field, thr)
        bexp = building_exposure(base_ds, model.buildings, id_field, thr)
        key = id_field if id_field is not None and id_field in exp.columns else None
        ids = exp[key].astype(str).to_numpy() if key else np.arange(len(exp)).astype(str)
        now, before = exp["flooded"].to_numpy(bool), bexp["flooded"].to_numpy(bool)
        out["flooded_buildings"] = _pair(int(now.sum()), int(before.sum()))
        out["buildings_made_dry"] = ids[before & ~now].tolist()
        out["buildings_newly_flooded"] = ids[now & ~before].tolist()
    out["measures"] = measure_volumes(ds, model.measures)
    if "series_time" in ds.coords and "series_time" in base_ds.coords:
        from .performance import peaks_against_baseline

        out["peaks"] = peaks_against_baseline(ds, base_ds, model.scenario.output.wet_threshold_m)
    return out


def format_effects(e: dict) -> list[str]:
    """Lines for the CLI summary."""
    def row(label, p, unit, fmt="{:,.3f}"):
        unit = f" {unit}" if unit else ""
        return (f"  {label[:26]:<27}{fmt.format(p['baseline'])} → {fmt.format(p['with_measures'])}{unit} "
                f"(change {fmt.format(p['change'])})")

    lines = ["against baseline (the same scenario without its measures):"]
    if "flooded_buildings" in e:
        lines.append(row("flooded buildings", e["flooded_buildings"], "", "{:d}")
                     + (f"; made dry: {', '.join(e['buildings_made_dry'])}" if e["buildings_made_dry"] else ""))
    lines.append(row("max depth", e["max_depth_m"], "m"))
    if "peak_flooded_area_m2" in e:
        lines.append(row("peak flooded area", e["peak_flooded_area_m2"], "m²", "{:,.0f}"))
    lines.append(row("outflow over edges", e["boundary_out_m3"], "m³", "{:,.1f}"))
    for name, g in e.get("gauges", {}).items():
        lines.append(row(f"peak at {name}", g["max_depth_m"], "m"))
    outflow = e.get("peaks", {}).get("outflow")
    if outflow:
        lines.append(row("peak outflow", outflow["peak_outflow_m3_s"], "m³/s"))
    for m in e["measures"]:
        parts = [f"{k[:-3].replace('_', ' ')} {v:,.1f} m³" for k, v in m.items() if k.endswith("_m3")]
        lines.append(f"  {m['name']} ({m['type']}): {', '.join(parts) or 'no volume series'}")
    return lines


__all__ = ["baseline_scenario", "effects_against_baseline", "measure_volumes", "format_effects"]
