"""A member's numbers, read from its run folder: what the run products already computed (``summary.json``,
the ``buildings`` layer of ``flood.gpkg``), plus the building damage of :mod:`floodsim.analysis.damage`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import OutputError
from ..io import runfolder as rf

#: Metric columns of the gathered table: name -> (unit, meaning).
METRICS: dict[str, tuple[str, str]] = {
    "flooded_buildings": ("1", "buildings with max depth ≥ flood threshold at a wall (floodsim.analysis.exposure)"),
    "hazard_area_m2": ("m2", "area of hazard class moderate or worse (HR ≥ 0.75, floodsim.analysis.hazard)"),
    "max_extent_area_m2": ("m2", "area that was ever ≥ flood threshold deep"),
    "max_depth_m": ("m", "largest depth anywhere"),
    "max_stored_volume_m3": ("m3", "peak volume held by each measure store (ponds, tanks, tunnels, ...), "
                                   "summed over the stores"),
    "peak_outflow_m3_s": ("m3 s-1", "peak outflow over the open boundaries (mean over an output interval)"),
    "volume_error_relative": ("1", "relative closure error of the volume balance"),
    "damage_eur": ("EUR2010", "damage of the flooded buildings (depth ≥ flood threshold at a wall), JRC "
                                       "depth-damage curves (floodsim.analysis.damage)"),
}

#: Metrics where less is better (the ranking sorts these ascending).
LOWER_IS_BETTER = set(METRICS) - {"max_stored_volume_m3"}

#: Hazard classes counted in ``hazard_area_m2`` (moderate or worse, HR ≥ 0.75).
HAZARD_AREA_CLASSES = ("moderate", "significant", "extreme")


def member_metrics(run_dir: Path, scenario, damage=None) -> dict:
    """The metrics of :data:`METRICS` for a finished run folder (``summary.json`` + ``flood.gpkg``).

    Parameters
    ----------
    run_dir : Path
        The member's run folder.
    scenario : Scenario
        The member's scenario (its buildings layer gives each building's use).
    damage : DamageSettings, optional
        How buildings are valued (default: :class:`floodsim.sweep.spec.DamageSettings`).
    """
    from .spec import DamageSettings

    damage = damage or DamageSettings()
    summary = rf.read_summary(run_dir)
    if summary is None:
        raise OutputError(f"{run_dir}: no complete {rf.SUMMARY_JSON}; the run did not finish.")
    hazard = summary.hazard_area_m2_by_class or {}
    stores = summary.peak_volume_m3_by_store or {}
    row = {
        "flooded_buildings": 0,
        "hazard_area_m2": float(sum(hazard.get(c, 0.0) for c in HAZARD_AREA_CLASSES)),
        "max_extent_area_m2": float(summary.max_extent_area_m2),
        "max_depth_m": float(summary.max_depth_m),
        "max_stored_volume_m3": float(sum(v for k, v in stores.items() if k != "surface")),
        "peak_outflow_m3_s": float(summary.peak_boundary_outflow_m3_s or 0.0),
        "volume_error_relative": float(summary.volume_balance_m3["relative_error"]),
        "damage_eur": 0.0,
        "wall_time_s": float(summary.wall_time_s if summary.wall_time_s is not None else math.nan),
    }
    exposure = rf.read_layer(run_dir, rf.LAYER_BUILDINGS)
    if scenario.buildings is not None and exposure is not None:
        row["flooded_buildings"] = int(exposure["flooded"].sum())
        row["damage_eur"] = building_damage(exposure, scenario, damage)
    return row


def building_damage(exposure, scenario, damage) -> float:
    """Damage [EUR 2010] of the buildings of a run's ``buildings`` layer (depth ≥ the flood threshold at a
    wall; below it, none), each valued by its use attribute in the scenario's buildings layer."""
    from ..analysis.damage import DEFAULT_COSTS, DEFAULT_CURVES, DamageModel
    from ..io.vector import read_layer

    b = scenario.buildings
    layer = read_layer(b.path, b.layer, what="buildings")
    if damage.use_field in layer.columns:
        exposure = exposure.assign(**{damage.use_field: layer[damage.use_field].to_numpy()})
    model = DamageModel.jrc_europe(damage.country, damage.use_field, damage.default_use,
                                   damage.curves or DEFAULT_CURVES, damage.costs or DEFAULT_COSTS)
    depth_at = exposure["max_depth_m"].where(exposure["flooded"], 0.0)
    return model.event_damage(exposure.assign(damage_depth_m=depth_at), "damage_depth_m")
