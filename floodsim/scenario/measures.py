"""The scenario schema of every measure type (pure pydantic: no GIS, no physics).

A measure is a ``[[measures]]`` table with a ``type`` (the discriminator), a unique ``name`` and its
layers and parameters. Fields not in SI carry their unit in the name (``ks_mm_h``, ``pump_start_min``)
and are converted through :mod:`floodsim.units` by the measure's builder. What each type does, its
builder, phase and colour are in :mod:`floodsim.measures.registry`; the physics in
:mod:`floodsim.measures.terrain` and :mod:`floodsim.measures.storage`.

**Terrain measures** change the ground before the run (cloudburst roads, channels, rain beds, green
areas, hard-surface limits, ponds). Their ``layer`` is a vector layer of polygons, or of lines for roads
and channels. The fields listed in a schema's ``per_feature`` (``width_m`` and ``depth_m`` of roads and
channels, ``storage_depth_m`` of rain beds, ``bottom_level_m`` of ponds) may be left out of the
scenario; then every feature of the layer must carry an attribute of that very name. A value given in
the scenario applies to every feature and takes precedence over the attribute. Features are named in
reports and errors by their ``name`` attribute (``name_field``), or by their row number.

**Storage measures** act during the run (tanks, tunnels, pond outlets, controlled structures). Their
cells come from vector layers (points, lines or polygons); ``features`` picks features by name. Where
water goes (``target``): ``"outside"`` (leaves the model), ``"surface"`` (onto the cells of
``target_layer``) or ``"measure"`` (into the measure named ``target_measure``).

Example (TOML)::

    [[measures]]
    type = "pond"
    name = "Park buffer pond"
    layer = { path = "../gis_data/merewether/measures_terrain.gpkg", layer = "pond" }
    # bottom_level_m from the layer's attribute

    [[measures]]
    type = "tank"
    name = "Tank A"
    inlets = { path = "../gis_data/merewether/measures_storage.gpkg", layer = "tank_inlets" }
    inflow_capacity_m3_s = 0.6
    volume_m3 = 800.0
    pump_rate_m3_s = 0.05

To add a measure type, see docs/architecture.md: its schema goes here (and into
:data:`MEASURE_SCHEMAS`), its physics, builder and registry entry into its family module.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Union

from pydantic import Field, field_validator, model_validator

from .base import (MAX_ABS_LEVEL_M, LayerRef, Level, LevelPoint, Manning, Minutes, Name, NonNegativeFloat,
                   PositiveFloat, ScenarioPath, _Model)

#: USDA soil textures of Rawls et al. (1983); the parameters are in :mod:`floodsim.core.infiltration`.
SOIL_TEXTURES = ("sand", "loamy sand", "sandy loam", "loam", "silt loam", "sandy clay loam", "clay loam",
                 "silty clay loam", "sandy clay", "silty clay", "clay")


# ---------------------------------------------------------------------------------- terrain measures
#: How far a measure lowers the ground [m] (bounded like levels: the result must stay a DEM elevation).
Lowering = Annotated[float, Field(gt=0, le=MAX_ABS_LEVEL_M)]
Saturation = Annotated[float, Field(ge=0, lt=1)]


def _texture(value):
    if value is not None and value.lower() not in SOIL_TEXTURES:
        raise ValueError(f"unknown soil texture {value!r}; choose one of {', '.join(SOIL_TEXTURES)}")
    return value


class _TerrainSpec(_Model):
    #: Fields that may come from a layer attribute of the same name instead of the scenario.
    per_feature: ClassVar[tuple[str, ...]] = ()

    name: Name = Field(description="Name of the measure in reports.")
    layer: LayerRef = Field(description="Vector layer with the measure's features.")
    name_field: str = Field("name", description="Attribute naming each feature in reports and errors.")
    features: tuple[str, ...] | None = Field(None, min_length=1, description="Use only the features whose "
                                             "`name_field` attribute is one of these (default: all).")


class _SoilSpec(_TerrainSpec):
    initial_saturation: Saturation | None = Field(
        None, description="Initial saturation of the soil [-]; default: the scenario's infiltration value.")

    _soil_ok = field_validator("soil", check_fields=False)(lambda cls, v: _texture(v))


class CloudburstRoadSpec(_TerrainSpec):
    """A street lowered by ``depth_m`` over ``width_m`` around its centre line (lines layer)."""

    per_feature: ClassVar[tuple[str, ...]] = ("width_m", "depth_m")
    type: Literal["cloudburst_road"] = "cloudburst_road"
    width_m: PositiveFloat | None = Field(None, description="Strip width [m]; or the attribute `width_m`.")
    depth_m: Lowering | None = Field(None, description="Lowering below the local ground [m]; or the "
                                                       "attribute `depth_m`.")
    manning: Manning | None = Field(None, description="Manning's n of the lowered surface [s m^-1/3].")


class ChannelSpec(CloudburstRoadSpec):
    """An open channel (swale) along a line: same rule as a cloudburst road."""

    type: Literal["channel"] = "channel"


class RainBedSpec(_SoilSpec):
    """Bioretention / rain bed: polygons lowered by ``storage_depth_m`` with filter-media Ks."""

    per_feature: ClassVar[tuple[str, ...]] = ("storage_depth_m",)
    type: Literal["rain_bed"] = "rain_bed"
    storage_depth_m: Lowering | None = Field(None, description="Ponding depth [m]; or the attribute.")
    ks_mm_h: PositiveFloat = Field(100.0, description="Filter media Ks [mm/h] (FAWB 2009: 100-300).")
    soil: str | None = Field(None, description="USDA texture for suction and moisture deficit.")
    manning: Manning | None = None


class GreenAreaSpec(_SoilSpec):
    """Polygons converted to a pervious land cover."""

    type: Literal["green_area"] = "green_area"
    soil: str = Field(description="USDA texture (Rawls et al. 1983).")
    manning: Manning | None = Field(None, description="Manning's n [s m^-1/3]; default: unchanged.")
    depression_storage_mm: Annotated[float, Field(ge=0, le=MAX_ABS_LEVEL_M * 1000)] = Field(
        0.0, description="Depression storage [mm], modelled as a uniform lowering.")


class HardSurfaceLimitSpec(_SoilSpec):
    """Sealed cells inside the polygons (all, or a share) become pervious."""

    type: Literal["hard_surface_limit"] = "hard_surface_limit"
    soil: str = Field(description="USDA texture of the new pervious surface.")
    share: Annotated[float, Field(ge=0, le=1)] = Field(1.0, description="Fraction of the sealed cells converted.")
    manning: Manning | None = None


class PondSpec(_TerrainSpec):
    """Buffer pond / detention basin: ground lowered to ``bottom_level_m`` (never raised)."""

    per_feature: ClassVar[tuple[str, ...]] = ("bottom_level_m",)
    type: Literal["pond"] = "pond"
    bottom_level_m: Level | None = Field(None, description="Absolute bottom level [m]; or the attribute.")
    manning: Manning | None = None



# ---------------------------------------------------------------------------------- storage measures
class MeasureLayer(_Model):
    """A vector layer of a measure; ``features`` selects features by their ``name_field`` value."""

    path: ScenarioPath
    layer: str | None = None
    features: tuple[str, ...] | None = Field(None, min_length=1, description="Names of the features to use "
                                             "(default all).")
    name_field: str = Field("name", description="Attribute naming each feature.")


class _Target(_Model):
    per_feature: ClassVar[tuple[str, ...]] = ()

    name: Name = Field(description="Unique name of the measure, in reports and links between measures.")
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
    pump_start_min: Minutes = 0.0
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
    outfall_invert_m: Level = Field(description="Level at which the tunnel discharges; the outfall runs "
                                                "while the receiving level is below it.")
    outfall_level_m: Level | None = Field(None, description="Constant receiving water level.")
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
    orifice_level_m: Level | None = None
    weir_cw: PositiveFloat | None = Field(None, description="Weir coefficient [m^0.5/s].")
    weir_length_m: PositiveFloat | None = None
    weir_crest_m: Level | None = None

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

    start_min: Minutes
    end_min: Minutes
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
    start_level_m: Level
    stop_level_m: Level
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
    sill_level_m: Level | None = None

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



#: Every measure schema; the scenario's ``measures`` union is built from this tuple (discriminated by
#: ``type``), and :mod:`floodsim.measures.registry` has one entry per schema.
MEASURE_SCHEMAS = (CloudburstRoadSpec, ChannelSpec, RainBedSpec, GreenAreaSpec, HardSurfaceLimitSpec, PondSpec,
                   TankSpec, TunnelSpec, PondOutletSpec, ControlledStructureSpec)

#: One measure of a scenario, chosen by its ``type``.
MeasureSpec = Annotated[Union[MEASURE_SCHEMAS], Field(discriminator="type")]  # type: ignore[valid-type]


def measure_type_of(schema) -> str:
    """The ``type`` string of a measure schema class."""
    return schema.model_fields["type"].annotation.__args__[0]


__all__ = ["MEASURE_SCHEMAS", "MeasureSpec", "MeasureLayer", "SOIL_TEXTURES", "measure_type_of",
           *[s.__name__ for s in MEASURE_SCHEMAS], "TimeRuleSpec", "LevelRuleSpec"]
