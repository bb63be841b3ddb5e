"""What an engineer reads off a run: peaks at gauges and at the outflow, and how each storage measure
performed, from the fine series of :mod:`floodsim.run.series` in results.nc.

Numbers are SI with the unit in each key. A gauge whose water never rose above the wet threshold is
reported as ``"dry"`` (a 1 mm film is not a peak). Sign convention of comparisons: ``change = with
measures − baseline`` (negative is less), ``change_pct = 100 · change / baseline``.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from .measure_effects import holds_water

#: Fraction of its peak storage a measure must fall to, to count as emptied.
EMPTY_FRACTION = 0.10


def _peak(t: np.ndarray, v: np.ndarray) -> tuple[float, float]:
    """(peak value, first time it is reached); (nan, nan) for an empty or all-NaN series."""
    if v.size == 0 or not np.isfinite(v).any():
        return math.nan, math.nan
    k = int(np.nanargmax(v))
    return float(v[k]), float(t[k])


def gauge_peaks(ds: xr.Dataset, wet_threshold_m: float) -> dict:
    """Per gauge: peak depth, level, speed and unit discharge with their times, or ``"dry"``."""
    if "gauge_depth" not in ds:
        return {}
    t = ds["series_time"].values.astype(np.float64)
    out = {}
    for k, name in enumerate(ds["gauge"].values.astype(str)):
        depth = ds["gauge_depth"].values[k].astype(np.float64)
        d, td = _peak(t, depth)
        if not d > wet_threshold_m:
            out[name] = "dry"
            continue
        q, tq = _peak(t, ds["gauge_unit_discharge"].values[k].astype(np.float64))
        v, _ = _peak(t, ds["gauge_speed"].values[k].astype(np.float64))
        level, _ = _peak(t, ds["gauge_level"].values[k].astype(np.float64))
        out[name] = {"peak_depth_m": d, "time_of_peak_depth_s": td, "peak_level_m": level,
                     "peak_speed_m_s": v, "peak_unit_discharge_m2_s": q, "time_of_peak_discharge_s": tq}
    return out


def outflow_peaks(ds: xr.Dataset) -> dict:
    """Peak total boundary outflow [m³/s] and its time, and the peak of each side that carries any."""
    if "outflow_total" not in ds:
        return {}
    t = ds["series_time"].values.astype(np.float64)
    q, tq = _peak(t, ds["outflow_total"].values.astype(np.float64))
    out = {"peak_outflow_m3_s": q, "time_of_peak_outflow_s": tq}
    for side in ("west", "east", "north", "south"):
        v = ds[f"outflow_{side}"].values.astype(np.float64)
        if np.nanmax(np.abs(v)) > 0:
            out[f"peak_outflow_{side}_m3_s"] = _peak(t, v)[0]
    return out


def _emptying(t: np.ndarray, volume: np.ndarray) -> dict:
    """Largest volume held and when; time after the peak to fall to EMPTY_FRACTION of it."""
    vmax, tmax = _peak(t, volume)
    out = {"peak_volume_m3": vmax, "time_of_peak_volume_s": tmax}
    if not vmax > 0:
        out["time_to_empty_10pct_s"] = None
        return out
    after = (t > tmax) & (volume <= EMPTY_FRACTION * vmax)
    out["time_to_empty_10pct_s"] = float(t[np.argmax(after)] - tmax) if after.any() else "not empty at the end"
    return out


def storage_performance(ds: xr.Dataset, design_levels: dict | None = None) -> dict:
    """Per storage measure (devices: tanks, tunnels, pond outlets, pumps; surface stores: ponds, rain
    beds, cloudburst roads): largest volume held and when, time to empty to 10 % of it, peak inflow
    and outflow [m³/s] (devices), peak level and when, freeboard to the design level (rim or crest)
    when one is known, and whether and when the store spilled (water above its design level) and the
    most water above it [m³].

    ``design_levels``: store or device name -> level [m] (a pond's rim).
    """
    design_levels = design_levels or {}
    if "series_time" not in ds:
        return {}
    t = ds["series_time"].values.astype(np.float64)
    out: dict = {}
    if "device" in ds.coords:
        for k, name in enumerate(ds["device"].values.astype(str)):
            volume = ds["device_storage"].values[k].astype(np.float64)
            # a pass-through device (outlet, pump, gate) holds nothing: only its flows and level count
            e = _emptying(t, volume) if holds_water(volume, ds["device_outflow_volume"].values[k]) else {}
            e["peak_inflow_m3_s"], e["time_of_peak_inflow_s"] = _peak(t, ds["device_inflow"].values[k])
            e["peak_outflow_m3_s"], e["time_of_peak_outflow_s"] = _peak(t, ds["device_outflow"].values[k])
            level = ds["device_level"].values[k].astype(np.float64)
            if np.isfinite(level).any():
                e["peak_level_m"], e["time_of_peak_level_s"] = _peak(t, level)
                if name in design_levels:
                    e["freeboard_m"] = float(design_levels[name] - e["peak_level_m"])
            out[name] = {"kind": "device", **e}
    if "store" in ds.coords:
        for k, name in enumerate(ds["store"].values.astype(str)):
            e = _emptying(t, ds["store_volume"].values[k].astype(np.float64))
            e["peak_level_m"], e["time_of_peak_level_s"] = _peak(t, ds["store_level"].values[k].astype(np.float64))
            above = ds["store_volume_above_design"].values[k].astype(np.float64)
            spilled = above > 1e-6 * max(e["peak_volume_m3"], 1.0)
            e["spilled"] = bool(spilled.any())
            e["spill_start_s"] = float(t[np.argmax(spilled)]) if spilled.any() else None
            e["peak_volume_above_design_m3"] = float(np.nanmax(above)) if above.size else 0.0
            if name in design_levels:
                e["design_level_m"] = float(design_levels[name])
                e["freeboard_m"] = float(design_levels[name] - e["peak_level_m"])
            out[name] = {"kind": "surface store", **e}
    return out


def _change(with_measures, baseline) -> dict:
    d = {"baseline": baseline, "with_measures": with_measures}
    if isinstance(with_measures, (int, float)) and isinstance(baseline, (int, float)):
        d["change"] = with_measures - baseline
        d["change_pct"] = 100.0 * (with_measures - baseline) / baseline if baseline else None
    return d


def peaks_against_baseline(ds: xr.Dataset, base_ds: xr.Dataset, wet_threshold_m: float) -> dict:
    """At each gauge and at the outflow: peak depth, peak flow and time to peak, with measures against
    the baseline, as absolute change and %."""
    g, bg = gauge_peaks(ds, wet_threshold_m), gauge_peaks(base_ds, wet_threshold_m)
    out = {"gauges": {}}
    for name in g:
        a, b = g[name], bg.get(name, "dry")
        if a == "dry" and b == "dry":
            out["gauges"][name] = "dry in both"
            continue
        get = (lambda x, key: 0.0 if x == "dry" else x[key])
        out["gauges"][name] = {
            "peak_depth_m": _change(get(a, "peak_depth_m"), get(b, "peak_depth_m")),
            "peak_unit_discharge_m2_s": _change(get(a, "peak_unit_discharge_m2_s"), get(b, "peak_unit_discharge_m2_s")),
            "time_of_peak_depth_s": _change(None if a == "dry" else a["time_of_peak_depth_s"],
                                            None if b == "dry" else b["time_of_peak_depth_s"]),
        }
    o, bo = outflow_peaks(ds), outflow_peaks(base_ds)
    if o and bo:
        out["outflow"] = {"peak_outflow_m3_s": _change(o["peak_outflow_m3_s"], bo["peak_outflow_m3_s"]),
                          "time_of_peak_outflow_s": _change(o["time_of_peak_outflow_s"], bo["time_of_peak_outflow_s"])}
    return out
