"""Figures an engineer reads a run from, drawn from the fine series in results.nc (no recomputation).

* ``hydrographs``: depth and unit discharge at each gauge (the baseline dashed when there is one);
* ``outflow``: the discharge out of the model, total and per side;
* ``volume_balance``: cumulative rain, infiltration and outflow, and the water stored on the surface
  and in measures, over time;
* ``storage``: each storage measure's inflow, outflow, level and storage, with its design level;
* ``depth_duration``: how long each gauge stayed above 0.1, 0.3 and 0.5 m.

One style: axis labels with units from :mod:`floodsim.variables`, time in minutes, the scenario name in
every title. Each function returns the matplotlib Figure (tests read the plotted data back).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..analysis.measure_effects import holds_water
from ..io.atomic import atomic_path
from ..variables import VARIABLES

#: Depths [m] of the depth-duration figure.
DURATION_DEPTHS_M = (0.1, 0.3, 0.5)


def _label(key: str, name: str | None = None) -> str:
    v = VARIABLES[key]
    return f"{name or v.long_name} [{v.unit.replace('m3 s-1', 'm³/s').replace('m2 s-1', 'm²/s').replace('m3', 'm³').replace('m s-1', 'm/s')}]"


def _minutes(ds, coord: str = "series_time") -> np.ndarray:
    return ds[coord].values.astype(np.float64) / 60.0


def _title(ds, what: str) -> str:
    return f"{ds.attrs.get('scenario', 'floodsim run')}: {what}"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def hydrographs(ds, base=None):
    plt = _plt()
    names = list(ds["gauge"].values.astype(str)) if "gauge" in ds.coords else []
    fig, axes = plt.subplots(2, 1, figsize=(8, 6), sharex=True, squeeze=True)
    t = _minutes(ds)
    for k, name in enumerate(names):
        line, = axes[0].plot(t, ds["gauge_depth"].values[k], label=name)
        axes[1].plot(t, ds["gauge_unit_discharge"].values[k], color=line.get_color())
        if base is not None and "gauge" in base.coords and name in base["gauge"].values.astype(str):
            j = list(base["gauge"].values.astype(str)).index(name)
            axes[0].plot(_minutes(base), base["gauge_depth"].values[j], ls="--", color=line.get_color(), alpha=0.7)
            axes[1].plot(_minutes(base), base["gauge_unit_discharge"].values[j], ls="--", color=line.get_color(),
                         alpha=0.7)
    axes[0].set_ylabel(_label("gauge_depth", "depth"))
    axes[1].set_ylabel(_label("gauge_unit_discharge", "unit discharge"))
    axes[1].set_xlabel("time [min]")
    if names:
        axes[0].legend(fontsize=8, title="gauges" + (" (dashed: baseline)" if base is not None else ""))
    axes[0].set_title(_title(ds, "hydrographs at gauges"))
    return fig


def outflow(ds, base=None):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4))
    t = _minutes(ds)
    ax.plot(t, ds["outflow_total"].values, color="k", label="total")
    for side in ("west", "east", "north", "south"):
        v = ds[f"outflow_{side}"].values
        if np.nanmax(np.abs(v)) > 0:
            ax.plot(t, v, label=side)
    if base is not None and "outflow_total" in base:
        ax.plot(_minutes(base), base["outflow_total"].values, color="k", ls="--", label="total, baseline")
    ax.set_xlabel("time [min]")
    ax.set_ylabel(_label("outflow_total", "outflow"))
    ax.legend(fontsize=8)
    ax.set_title(_title(ds, "outflow hydrograph"))
    return fig


def volume_balance(ds, base=None):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4))
    t = _minutes(ds, "time")
    for key, label in (("volume_rain", "rain"), ("volume_infiltration", "infiltration"),
                       ("volume_boundary_out", "outflow over edges"), ("volume_stored", "stored on the surface"),
                       ("volume_measures", "stored in measures (tanks, tunnels)")):
        ax.plot(t, ds[key].values, marker=".", label=label)
    ax.set_xlabel("time [min]")
    ax.set_ylabel("volume [m³]")
    ax.legend(fontsize=8)
    ax.set_title(_title(ds, f"volume balance (closure error {float(ds.attrs.get('relative_volume_error', 0)):.1e})"))
    return fig


def storage(ds, design_levels: dict | None = None):
    plt = _plt()
    design_levels = design_levels or {}
    panels = []
    if "device" in ds.coords:
        panels += [("device", k, n) for k, n in enumerate(ds["device"].values.astype(str))]
    if "store" in ds.coords:
        panels += [("store", k, n) for k, n in enumerate(ds["store"].values.astype(str))]
    fig, axes = plt.subplots(max(len(panels), 1), 2, figsize=(10, 3 * max(len(panels), 1)), squeeze=False)
    t = _minutes(ds)
    for row, (kind, k, name) in enumerate(panels):
        left, right = axes[row]
        if kind == "device":
            left.plot(t, ds["device_inflow"].values[k], label="inflow")
            left.plot(t, ds["device_outflow"].values[k], label="outflow")
            left.set_ylabel(_label("device_inflow", "rate"))
            level = ds["device_level"].values[k]
            if holds_water(ds["device_storage"].values[k], ds["device_outflow_volume"].values[k]):
                right.plot(t, ds["device_storage"].values[k], color="C2", label="storage")
                right.set_ylabel(_label("device_storage", "storage"))
            else:   # a pass-through device (outlet, pump, gate): its control level only
                right.plot(t, level, color="C4", label="level")
                right.set_ylabel(_label("device_level", "level"))
                level = np.full_like(level, np.nan)
        else:
            right.plot(t, ds["store_volume"].values[k], color="C2", label="held by design")
            right.plot(t, ds["store_volume_above_design"].values[k], color="C3", label="above design level")
            right.set_ylabel(_label("store_volume", "volume"))
            level = ds["store_level"].values[k]
        if np.isfinite(level).any():
            left_level = left if kind == "store" else right.twinx()
            left_level.plot(t, level, color="C4", ls=":" if kind == "device" else "-", label="level")
            left_level.set_ylabel(_label("store_level", "level"))
            if name in design_levels:
                left_level.axhline(design_levels[name], color="C3", ls="--", lw=1, label="rim / crest")
            if left_level is not left:
                left_level.legend(fontsize=7, loc="lower right")
        left.set_title(name, fontsize=9)
        if left.get_legend_handles_labels()[0]:
            left.legend(fontsize=7)
        right.legend(fontsize=7, loc="upper right")
        for ax in (left, right):
            ax.set_xlabel("time [min]")
    if not panels:
        axes[0][0].text(0.5, 0.5, "no storage measures", ha="center", va="center")
    fig.suptitle(_title(ds, "storage measures"))
    fig.tight_layout()
    return fig


def depth_duration(ds, base=None):
    """Minutes each gauge spent above each of :data:`DURATION_DEPTHS_M` (from the fine series)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4))
    names = list(ds["gauge"].values.astype(str)) if "gauge" in ds.coords else []
    t = ds["series_time"].values.astype(np.float64)
    dt = np.diff(t, append=t[-1]) if t.size else t
    width = 0.8 / len(DURATION_DEPTHS_M)
    for j, d in enumerate(DURATION_DEPTHS_M):
        minutes = [float(dt[ds["gauge_depth"].values[k] > d].sum()) / 60.0 for k in range(len(names))]
        ax.bar(np.arange(len(names)) + j * width, minutes, width, label=f"> {d:g} m")
    ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names, rotation=20, fontsize=8)
    ax.set_ylabel("time above depth [min]")
    ax.legend(fontsize=8)
    ax.set_title(_title(ds, "depth-duration at gauges"))
    return fig


#: Figure name -> function(ds, base) (storage takes the design levels instead of a baseline).
FIGURES = {"hydrographs": hydrographs, "outflow": outflow, "volume_balance": volume_balance, "storage": storage,
           "depth_duration": depth_duration}


def plot_run(ds, base=None, design_levels: dict | None = None) -> dict:
    """Every figure of a run (a results Dataset) with an optional baseline Dataset: name -> Figure."""
    figs = {}
    for name, fn in FIGURES.items():
        if name == "storage":
            figs[name] = fn(ds, design_levels)
        elif name in ("hydrographs", "depth_duration") and "gauge" not in ds.coords:
            continue
        elif name != "volume_balance" and "series_time" not in ds.coords:
            continue
        else:
            figs[name] = fn(ds, base)
    return figs


def write_plots(ds, out_dir, base=None, design_levels: dict | None = None, prefix: str = "plot") -> list[Path]:
    """Write every figure as ``<out_dir>/<prefix>_<name>.png`` (atomically); return the paths."""
    plt = _plt()
    out_dir = Path(out_dir)
    paths = []
    for name, fig in plot_run(ds, base, design_levels).items():
        path = out_dir / f"{prefix}_{name}.png"
        try:
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
        finally:
            plt.close(fig)
        paths.append(path)
    return paths
