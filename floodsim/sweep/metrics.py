"""A member's numbers, read from its run folder: what the run products already computed (``summary.json``,
the ``buildings`` layer of ``flood.gpkg``), plus the building damage of :mod:`floodsim.analysis.damage`.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import InputDataError, OutputError
from ..io import runfolder as rf

#: Metric columns of the gathered table: name -> (unit, meaning).
METRICS: dict[str, tuple[str, str]] = {
    "flooded_buildings": ("1", "buildings with max depth ≥ flood threshold at a wall (floodsim.analysis.exposure)"),
    "hazard_area_m2": ("m2", "area of hazard class moderate or worse (HR ≥ 0.75, floodsim.analysis.hazard)"),
    "max_extent_area_m2": ("m2", "area that was ever ≥ flood threshold deep"),
    "max_depth_m": ("m", "largest depth anywhere"),
    "max_stored_volume_m3": ("m3", "peak volume held by each measure store (ponds, tanks, tunnels, ...), "
                                   "summed over the stores"),
    "min_freeboard_m": ("m", "smallest freeboard (design level − peak level) over the storage measures that "
                             "have a design level (rim or crest), from summary.json storage_measures; NaN "
                             "when none has one"),
    "spilled": ("1", "1 when any storage measure spilled (water above its design level), 0 when none did, "
                     "NaN without storage measures (summary.json storage_measures)"),
    "peak_outflow_m3_s": ("m3 s-1", "peak outflow over the open boundaries (mean over an output interval)"),
    "volume_error_relative": ("1", "relative closure error of the volume balance"),
    "damage_eur": ("EUR2010", "damage of the flooded buildings (depth ≥ flood threshold at a wall), JRC "
                                       "depth-damage curves (floodsim.analysis.damage)"),
}

#: Metrics where less is better (the ranking sorts these ascending).
LOWER_IS_BETTER = set(METRICS) - {"max_stored_volume_m3", "min_freeboard_m"}

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
    damage : DamageModel or DamageSettings, optional
        How buildings are valued: a model built once by :func:`damage_model`, or the settings to build
        it from (default: :class:`floodsim.sweep.spec.DamageSettings`).
    """
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
        **storage_metrics(summary.storage_measures),
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


def storage_metrics(storage_measures: dict | None) -> dict:
    """``min_freeboard_m`` and ``spilled`` of :data:`METRICS` from a summary's ``storage_measures``
    (measure name -> performance dict of :func:`floodsim.analysis.performance.storage_performance`)."""
    entries = [e for e in (storage_measures or {}).values() if isinstance(e, dict)]
    freeboards = [float(e["freeboard_m"]) for e in entries
                  if isinstance(e.get("freeboard_m"), (int, float)) and math.isfinite(e["freeboard_m"])]
    spills = [bool(e["spilled"]) for e in entries if e.get("spilled") is not None]
    return {"min_freeboard_m": min(freeboards) if freeboards else math.nan,
            "spilled": float(any(spills)) if spills else math.nan}


def building_damage(exposure, scenario, damage=None) -> float:
    """Damage [EUR 2010] of the buildings of a run's ``buildings`` layer (depth ≥ the flood threshold at a
    wall; below it, none), each valued by its use attribute in the scenario's buildings layer.
    ``damage``: a :class:`~floodsim.analysis.damage.DamageModel` or the settings to build one from."""
    return float(building_damages(exposure, scenario, damage).sum())


def building_damages(exposure, scenario, damage=None):
    """Per building of a run's ``buildings`` layer, the damage [EUR 2010] (numpy array, the rule of
    :func:`building_damage`: 0 below the flood threshold); their sum is :func:`building_damage`."""
    from ..io.vector import read_layer

    model = _as_model(damage)
    b = scenario.buildings
    layer = read_layer(b.path, b.layer, what="buildings")
    if model.use_field in layer.columns:
        exposure = exposure.assign(**{model.use_field: layer[model.use_field].to_numpy()})
    depth_at = exposure["max_depth_m"].where(exposure["flooded"], 0.0)
    out = model.building_damage(exposure.assign(damage_depth_m=depth_at), "damage_depth_m")
    return out["damage_eur"].to_numpy(float)


def _as_model(damage):
    from ..analysis.damage import DamageModel

    return damage if isinstance(damage, DamageModel) else damage_model(damage)


def damage_model(settings=None, sweep_file: Path | None = None):
    """The :class:`~floodsim.analysis.damage.DamageModel` of a sweep's ``[damage]`` settings, built once
    (before any member runs) so that a bad curves or costs file, or an unknown country, stops the sweep
    with a message naming the file and the fix.

    Parameters
    ----------
    settings : DamageSettings, optional
        The sweep's ``[damage]`` table (default: the shipped JRC Europe curves, EU costs).
    sweep_file : Path, optional
        The sweep file, named in messages.

    Raises
    ------
    InputDataError
        A curves or costs file is missing, unreadable or malformed, the country is unknown, or the
        default use has no curve or maximum damage.
    """
    from ..analysis.damage import DEFAULT_COSTS, DEFAULT_CURVES, DamageModel, load_curves, max_damage_per_m2
    from .spec import DamageSettings

    s = settings or DamageSettings()
    where = f"sweep file {sweep_file}, " if sweep_file else ""
    files = {"curves": (Path(s.curves) if s.curves else DEFAULT_CURVES, s.curves is None),
             "costs": (Path(s.costs) if s.costs else DEFAULT_COSTS, s.costs is None)}
    what = {"curves": "depth-damage curves", "costs": "construction costs per country"}
    need = {"curves": "region, use, depth_m, damage_factor",
            "costs": "country, iso3 and one <use>_eur2010_m2 column per use"}

    def fix(key):
        if files[key][1]:
            return ("the file ships inside floodsim (floodsim/data/damage); reinstall floodsim "
                    "(`pip install --force-reinstall floodsim`), or give your own file with [damage] "
                    f"{key} = \"FILE.csv\" in the sweep file")
        return (f"fix the file or the path ({where}[damage] {key}, relative to the sweep file), or remove "
                f"`{key}` to use the JRC table shipped with floodsim")

    for key, (path, _) in files.items():
        if not path.is_file():
            raise InputDataError(f"{path}: {what[key]} file not found; {fix(key)}.")
    curves_path, costs_path = files["curves"][0], files["costs"][0]
    try:
        curves = load_curves(curves_path, "europe")
    except InputDataError as exc:
        raise InputDataError(f"{str(exc).rstrip('.')}; {fix('curves')}.") from None
    except (OSError, ValueError, KeyError, AttributeError, TypeError) as exc:
        raise InputDataError(f"{curves_path}: cannot read the {what['curves']} ({type(exc).__name__}: "
                             f"{exc}); the file needs columns {need['curves']}; {fix('curves')}.") from None
    try:
        max_damage = max_damage_per_m2(s.country, costs_path)
    except InputDataError as exc:        # an unknown country (the message names the file and the codes)
        raise InputDataError(f"{where}[damage] country = {s.country!r}: {exc}") from None
    except (OSError, ValueError, KeyError, AttributeError, TypeError, IndexError) as exc:
        raise InputDataError(f"{costs_path}: cannot read the {what['costs']} ({type(exc).__name__}: {exc}); "
                             f"the file needs columns {need['costs']}; {fix('costs')}.") from None
    known = sorted(set(curves) & set(max_damage))
    if not known:
        raise InputDataError(f"{curves_path} and {costs_path}: no building use has both a depth-damage curve "
                             f"(curves for {', '.join(sorted(curves)) or 'none'}) and a construction cost "
                             f"(costs for {', '.join(sorted(max_damage)) or 'none'}); {fix('costs')}.")
    if s.default_use not in known:
        raise InputDataError(f"{where}[damage] default_use = {s.default_use!r}: no depth-damage curve or "
                             f"maximum damage for it; use one of {', '.join(known)}.")
    return DamageModel(curves, max_damage, s.use_field, s.default_use)


def check_building_uses(model, scenarios, sweep_file: Path | None = None) -> None:
    """Check that every building of the scenarios' buildings layers has a use ``model`` can value (read
    once per layer), so that a member cannot fail on it after its run.

    Raises
    ------
    InputDataError
        A layer cannot be read, is not in a projected CRS, or has a use without a curve or maximum damage.
    """
    from ..io.vector import read_layer

    seen = set()
    for sc in scenarios:
        b = sc.buildings
        if b is None or (str(b.path), b.layer) in seen:
            continue
        seen.add((str(b.path), b.layer))
        layer = read_layer(b.path, b.layer, what="buildings")
        try:
            model.building_damage(layer.assign(_floodsim_depth_m=0.0), "_floodsim_depth_m")
        except InputDataError as exc:
            where = f" (sweep file {sweep_file}: [damage] use_field, default_use)" if sweep_file else ""
            raise InputDataError(f"{b.path}" + (f" layer '{b.layer}'" if b.layer else "")
                                 + f": {exc}{where}") from None
