"""Scenario schema and builder of the measures that act during a run (tanks, tunnels, pond outlets,
controlled structures); see :mod:`floodsim.measures.storage` for the physics.

Each measure is a table with a ``type`` discriminator and a unique ``name``. Its cells come from a
vector layer (points, lines or polygons, rasterised by :mod:`floodsim.io.vector`'s rules); a
``features`` list picks features of the layer by their ``name`` attribute. Non-SI fields carry the
unit in their name (``pump_start_min``); :mod:`floodsim.units` converts them. Example (TOML)::

    [[measures]]
    type = "tank"
    name = "Tank A"
    inlets = { path = "../gis_data/merewether/measures_storage.gpkg", layer = "tank_inlets" }
    inflow_capacity_m3_s = 0.6
    volume_m3 = 800.0
    pump_rate_m3_s = 0.05
    target = "measure"
    target_measure = "Tunnel"

Where water goes (``target``): ``"outside"`` (leaves the model), ``"surface"`` (onto the cells of
``target_layer``) or ``"measure"`` (into the measure named ``target_measure``; linked measures are
grouped into one :class:`~floodsim.measures.storage.StorageNetwork` so the balance closes).
"""

from __future__ import annotations

from typing import Annotated, Callable, Literal, Union

import geopandas as gpd
import numpy as np
from pydantic import Field, model_validator

from .. import units
from ..errors import InputDataError
from ..forcing import TimeSeries
from ..io import vector
from ..measures.storage import (OUTSIDE, ControlledStructure, DrainageTunnel, LevelRule, PondOutlet,
                                TimeRule, TunnelIntake, UndergroundTank, group_linked)
from .base import LevelPoint, NonNegativeFloat, PositiveFloat, ScenarioPath, _Model


class MeasureLayer(_Model):
    """A vector layer of a measure; ``features`` selects features by their ``name_field`` value."""

    path: ScenarioPath
    layer: str | None = None
    features: tuple[str, ...] | None = Field(None, description="Names of the features to use (default all).")
    name_field: str = Field("name", description="Attribute naming each feature.")


class _Target(_Model):
    name: str = Field(description="Unique name of the measure, in reports and links between measures.")
    target: Literal["outside", "surface", "measure"] = Field(
        "outside", description="Where the water goes: out of the model, onto target_layer, or into "
                               "target_measure.")
    target_layer: MeasureLayer | None = None
    target_measure: str | None = None

    @model_validator(mode="after")
    def _target_fields(self):
        if self.target == "surface" and self.target_layer is None:
            raise ValueError("target = 'surface' needs target_layer")
        if self.target == "measure" and not self.target_measure:
            raise ValueError("target = 'measure' needs target_measure (the receiving measure's name)")
        if self.target != "surface" and self.target_layer is not None:
            raise ValueError("target_layer is only used with target = 'surface'")
        if self.target != "measure" and self.target_measure is not None:
            raise ValueError("target_measure is only used with target = 'measure'")
        return self


class TankSpec(_Target):
    """An underground tank fed by inlets (points or polygons), emptied by a pump."""

    type: Literal["tank"]
    inlets: MeasureLayer
    inflow_capacity_m3_s: NonNegativeFloat = Field(description="Total inflow capacity of all inlets.")
    volume_m3: PositiveFloat
    pump_rate_m3_s: NonNegativeFloat = 0.0
    pump_start_min: NonNegativeFloat = 0.0
    initial_volume_m3: NonNegativeFloat = 0.0

    @model_validator(mode="after")
    def _initial(self):
        if self.initial_volume_m3 > self.volume_m3:
            raise ValueError("initial_volume_m3 exceeds volume_m3")
        return self


class TunnelSpec(_Target):
    """A drainage tunnel: intake points with capacities, linked storage segments, an outfall."""

    type: Literal["tunnel"]
    intakes: MeasureLayer
    capacity_field: str = Field("capacity_m3_s", description="Intake attribute: capacity [m³/s].")
    segment_field: str = Field("segment", description="Intake attribute: segment number, 1 = upstream.")
    segment_volumes_m3: tuple[PositiveFloat, ...] = Field(min_length=1)
    conveyance_m3_s: NonNegativeFloat
    outfall_capacity_m3_s: NonNegativeFloat
    outfall_invert_m: float = Field(description="Level at which the tunnel discharges; the outfall runs "
                                                "while the receiving level is below it.")
    outfall_level_m: float | None = Field(None, description="Constant receiving water level.")
    outfall_level_series: tuple[LevelPoint, ...] = Field((), description="(time_min, level_m) points.")

    @model_validator(mode="after")
    def _levels(self):
        if self.outfall_level_m is not None and self.outfall_level_series:
            raise ValueError("give outfall_level_m or outfall_level_series, not both")
        return self


class PondOutletSpec(_Target):
    """The outlet of a buffer pond: an orifice and/or a weir at the outlet point or cells."""

    type: Literal["pond_outlet"]
    outlet: MeasureLayer
    orifice_cd: PositiveFloat | None = None
    orifice_area_m2: PositiveFloat | None = None
    orifice_level_m: float | None = None
    weir_cw: PositiveFloat | None = Field(None, description="Weir coefficient [m^0.5/s].")
    weir_length_m: PositiveFloat | None = None
    weir_crest_m: float | None = None

    @model_validator(mode="after")
    def _laws(self):
        o = [self.orifice_cd, self.orifice_area_m2, self.orifice_level_m]
        w = [self.weir_cw, self.weir_length_m, self.weir_crest_m]
        if any(v is not None for v in o) and None in o:
            raise ValueError("an orifice needs orifice_cd, orifice_area_m2 and orifice_level_m")
        if any(v is not None for v in w) and None in w:
            raise ValueError("a weir needs weir_cw, weir_length_m and weir_crest_m")
        if None in o and None in w:
            raise ValueError("a pond outlet needs an orifice, a weir or both")
        return self


class TimeRuleSpec(_Model):
    """Setting from start_min to end_min: rate_m3_s (pump) or opening_fraction (gate)."""

    start_min: NonNegativeFloat
    end_min: NonNegativeFloat
    rate_m3_s: NonNegativeFloat | None = None
    opening_fraction: Annotated[float, Field(ge=0, le=1)] | None = None

    @model_validator(mode="after")
    def _order(self):
        if not self.end_min > self.start_min:
            raise ValueError("end_min must be after start_min")
        return self


class LevelRuleSpec(_Model):
    """Start when the level at the sensor exceeds start_level_m, stop when below stop_level_m."""

    sensor: MeasureLayer
    start_level_m: float
    stop_level_m: float
    rate_m3_s: NonNegativeFloat | None = None
    opening_fraction: Annotated[float, Field(ge=0, le=1)] | None = None

    @model_validator(mode="after")
    def _hysteresis(self):
        if not self.stop_level_m < self.start_level_m:
            raise ValueError("stop_level_m must be below start_level_m (hysteresis)")
        return self


class ControlledStructureSpec(_Target):
    """A pump or gate moving water from source cells to the target, following rules."""

    type: Literal["controlled_structure"]
    kind: Literal["pump", "gate"] = "pump"
    source: MeasureLayer
    time_rules: tuple[TimeRuleSpec, ...] = ()
    level_rule: LevelRuleSpec | None = None
    gate_cd: PositiveFloat = 0.6
    gate_area_m2: PositiveFloat | None = None
    sill_level_m: float | None = None

    @model_validator(mode="after")
    def _settings(self):
        need = "rate_m3_s" if self.kind == "pump" else "opening_fraction"
        other = "opening_fraction" if self.kind == "pump" else "rate_m3_s"
        rules = list(self.time_rules) + ([self.level_rule] if self.level_rule else [])
        if not rules:
            raise ValueError("a controlled structure needs time_rules and/or a level_rule")
        for r in rules:
            if getattr(r, need) is None or getattr(r, other) is not None:
                raise ValueError(f"every rule of a {self.kind} needs {need} (and not {other})")
        if self.kind == "gate" and self.gate_area_m2 is None:
            raise ValueError("a gate needs gate_area_m2")
        return self


StorageMeasureSpec = Annotated[Union[TankSpec, TunnelSpec, PondOutletSpec, ControlledStructureSpec],
                               Field(discriminator="type")]

#: The scenario models of the storage measures (discriminated by ``type``).
STORAGE_MEASURES = (TankSpec, TunnelSpec, PondOutletSpec, ControlledStructureSpec)


# ---------------------------------------------------------------------------------------- builder
def _features(ref: MeasureLayer, grid, read_layer_fn, what: str, required=()):
    """[(feature name, row, mask)] of the layer's selected features, each covering >= 1 cell."""
    label = f"{ref.path.name}" + (f" layer '{ref.layer}'" if ref.layer else "")
    gdf = read_layer_fn(ref.path, ref.layer, grid=grid, required=tuple(required), id_field=ref.name_field,
                        what=what)
    gdf = vector.select_features(gdf, ref.features, ref.name_field, f"{label} ({what})")
    names = ([str(v) for v in gdf[ref.name_field]] if ref.name_field in gdf.columns
             else [f"feature {k}" for k in range(len(gdf))])
    out = []
    for k in range(len(gdf)):
        mask = vector.rasterize_geometries([gdf.geometry.iloc[k]], grid)
        if not mask.any():
            raise InputDataError(f"{label} ({what}): feature {ref.name_field}={names[k]!r} covers no cell of "
                                 "the DEM; move it inside the model.")
        out.append((names[k], gdf.iloc[k], mask))
    return out, label


def _union(feats):
    return np.logical_or.reduce([m for _, _, m in feats])


def _number(row, field, label, fname, name_field, what, minimum=0.0):
    value = row[field]
    shown = value.item() if hasattr(value, "item") else value
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = float("nan")
    if not np.isfinite(value) or value < minimum:
        raise InputDataError(f"{label} ({what}): feature {name_field}={fname!r} field '{field}' = {shown!r}; "
                             f"it must be a number >= {minimum:g}.")
    return value


def build_storage_measures(specs, grid, read_layer_fn: Callable = vector.read_layer, layers: dict | None = None) -> list:
    """Operators for the storage measures of a scenario.

    Parameters
    ----------
    specs : sequence of TankSpec, TunnelSpec, PondOutletSpec, ControlledStructureSpec
        Validated scenario models (paths already resolved).
    grid : Grid
        The model grid; layers are reprojected and rasterised onto it.
    read_layer_fn : callable
        :func:`floodsim.io.vector.read_layer` or a stand-in with its signature.
    layers : dict, optional
        Filled with each measure's name -> its selected features (inlets, intakes, outlet or source)
        as a GeoDataFrame in the grid's CRS, for reports and maps.

    Returns
    -------
    list of Operator
        One operator per unlinked measure, and one
        :class:`~floodsim.measures.storage.StorageNetwork` per group of linked measures.
    """
    names = [s.name for s in specs]
    for n in names:
        if names.count(n) > 1:
            raise InputDataError(f"measures: two measures are named {n!r}; names must be unique.")
    built, pending = {}, []
    for spec in specs:
        what = f"{spec.type} '{spec.name}'"
        target = OUTSIDE
        if spec.target == "surface":
            feats, _ = _features(spec.target_layer, grid, read_layer_fn, f"{what} target")
            target = _union(feats)
        if spec.type == "tank":
            feats, _ = _features(spec.inlets, grid, read_layer_fn, f"{what} inlets")
            op = UndergroundTank(spec.name, _union(feats), spec.inflow_capacity_m3_s, spec.volume_m3,
                                 spec.pump_rate_m3_s, units.minutes_to_s(spec.pump_start_min), target,
                                 spec.initial_volume_m3)
        elif spec.type == "tunnel":
            ref = spec.intakes
            feats, label = _features(ref, grid, read_layer_fn, f"{what} intakes",
                                     required=(spec.capacity_field, spec.segment_field))
            nseg = len(spec.segment_volumes_m3)
            intakes = []
            for fname, row, mask in feats:
                cap = _number(row, spec.capacity_field, label, fname, ref.name_field, f"{what} intakes")
                seg = _number(row, spec.segment_field, label, fname, ref.name_field, f"{what} intakes", 1.0)
                if seg != int(seg) or seg > nseg:
                    raise InputDataError(f"{label} ({what} intakes): feature {ref.name_field}={fname!r} field "
                                         f"'{spec.segment_field}' = {seg:g}; it must be a "
                                         f"segment number 1..{nseg}.")
                intakes.append(TunnelIntake(fname, mask, cap, int(seg) - 1))
            level = spec.outfall_level_m
            if spec.outfall_level_series:
                level = TimeSeries([units.minutes_to_s(p.time_min) for p in spec.outfall_level_series],
                                   [p.level_m for p in spec.outfall_level_series],
                                   f"{what} outfall_level_series")
            op = DrainageTunnel(spec.name, intakes, spec.segment_volumes_m3, spec.conveyance_m3_s,
                                spec.outfall_capacity_m3_s, spec.outfall_invert_m, level, target)
        elif spec.type == "pond_outlet":
            feats, _ = _features(spec.outlet, grid, read_layer_fn, f"{what} outlet")
            orifice = (None if spec.orifice_cd is None else
                       (spec.orifice_cd, spec.orifice_area_m2, spec.orifice_level_m))
            weir = None if spec.weir_cw is None else (spec.weir_cw, spec.weir_length_m, spec.weir_crest_m)
            op = PondOutlet(spec.name, _union(feats), orifice, weir, target)
        else:
            feats, _ = _features(spec.source, grid, read_layer_fn, f"{what} source")
            value = "rate_m3_s" if spec.kind == "pump" else "opening_fraction"
            rules = [TimeRule(units.minutes_to_s(r.start_min), units.minutes_to_s(r.end_min), getattr(r, value))
                     for r in spec.time_rules]
            level_rule = None
            if spec.level_rule is not None:
                lr = spec.level_rule
                sensor, _ = _features(lr.sensor, grid, read_layer_fn, f"{what} level_rule sensor")
                level_rule = LevelRule(_union(sensor), lr.start_level_m, lr.stop_level_m, getattr(lr, value))
            op = ControlledStructure(spec.name, _union(feats), target, spec.kind, rules, level_rule,
                                     spec.gate_cd, spec.gate_area_m2 or 0.0,
                                     -np.inf if spec.sill_level_m is None else spec.sill_level_m)
        built[spec.name] = op
        if layers is not None:   # `feats` holds the measure's own layer (read after any target layer)
            layers[spec.name] = gpd.GeoDataFrame([row for _, row, _ in feats], geometry="geometry", crs=grid.crs)
        if spec.target == "measure":
            pending.append((op, spec))
    for op, spec in pending:
        if spec.target_measure not in built:
            raise InputDataError(f"measure {spec.type} '{spec.name}': target_measure {spec.target_measure!r} is "
                                 f"not a measure of the scenario; they are {', '.join(map(repr, built))}.")
        receiver = built[spec.target_measure]
        if receiver is op:
            raise InputDataError(f"measure {spec.type} '{spec.name}': it cannot send water to itself.")
        if isinstance(receiver, (PondOutlet, ControlledStructure)):
            raise InputDataError(f"measure {spec.type} '{spec.name}': target_measure {spec.target_measure!r} "
                                 "holds no water; send to a tank or a tunnel.")
        op.target = receiver
    return group_linked(built.values())


__all__ = ["MeasureLayer", "TankSpec", "TunnelSpec", "PondOutletSpec", "TimeRuleSpec", "LevelRuleSpec",
           "ControlledStructureSpec", "StorageMeasureSpec", "STORAGE_MEASURES", "build_storage_measures"]
