"""The scenario schema (pydantic v2, frozen, unknown keys rejected).

Fields that are not SI carry their unit in the name (``intensity_mm_h``, ``duration_min``);
:mod:`floodsim.units` converts them when the scenario is turned into a simulation. Paths are
resolved against the scenario file's folder by :mod:`floodsim.scenario.load`. The measures' schemas
are in :mod:`floodsim.scenario.measures`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from .base import (MAX_DURATION_MIN, LayerRef, Level, LevelPoint, Manning, Minutes, Name, NonNegativeFloat,
                   PositiveFloat, ScenarioPath, _Model)
from .measures import MeasureSpec


class Domain(_Model):
    """The terrain."""

    dem: ScenarioPath | list[ScenarioPath] = Field(
        description="DEM raster (GeoTIFF, VRT, ESRI ASCII grid, ...), projected CRS in metres; or tiles: a "
        "glob pattern ('tiles/*.tif') or a list of files and patterns, mosaicked on the first tile's grid "
        "(tiles in another CRS are reprojected).")
    crs: str | None = Field(None, description="CRS to assume when the DEM file has none, e.g. 'EPSG:28356'.")
    clip: LayerRef | None = Field(None, description="A catchment polygon: only its extent of the DEM is read, "
                                  "cells outside it are outside the model, and vector layers are read only "
                                  "inside it.")

    @field_validator("dem")
    @classmethod
    def _tiles(cls, value):
        if isinstance(value, list) and not 1 <= len(value) <= 10_000:
            raise ValueError("give between 1 and 10,000 DEM files or patterns (or a VRT of them)")
        return value


class Buildings(LayerRef):
    """Building footprints: blocked cells. Rain on roofs goes to the ground or the drains."""

    roof_rain: Literal["ground", "drain"] = "ground"
    id_field: str | None = Field(None, description="Attribute naming each building in reports.")


class ManningZone(LayerRef):
    """Polygons with their own Manning's n (e.g. roads)."""

    manning: Manning | None = Field(None, description="n for every feature [s m^-1/3]; or use `field`.")
    field: str | None = Field(None, description="Attribute holding n per feature.")

    @model_validator(mode="after")
    def _one_source(self):
        if (self.manning is None) == (self.field is None):
            raise ValueError("give exactly one of `manning` (a value) or `field` (an attribute name)")
        return self


class Surface(_Model):
    """Roughness of the ground."""

    manning: Manning = Field(0.04, description="Default Manning's n [s m^-1/3].")
    manning_raster: ScenarioPath | None = Field(None, description="Raster of n; overrides the default where set.")
    zones: tuple[ManningZone, ...] = ()


class Rainfall(_Model):
    """The storm. ``kind``: block (constant), hyetograph (CSV), raster (NetCDF time series), chicago
    (Keifer & Chu design storm from an IDF parameter file, see :mod:`floodsim.build.storms`)."""

    kind: Literal["block", "hyetograph", "raster", "chicago"] = "block"
    intensity_mm_h: NonNegativeFloat | None = Field(None, description="block: intensity [mm/h].")
    depth_mm: NonNegativeFloat | None = Field(None, description="block: total depth [mm] (alternative).")
    duration_min: Annotated[Minutes, Field(gt=0)] | None = Field(None, description="block, chicago: duration "
                                                                                   "[min].")
    start_min: Minutes = 0.0
    csv: ScenarioPath | None = Field(None, description="hyetograph: CSV with columns time_min, intensity_mm_h.")
    netcdf: ScenarioPath | None = Field(None, description="raster: NetCDF with a (time, y, x) variable in mm/h.")
    variable: str | None = Field(None, description="raster: name of the variable in the NetCDF.")
    idf: ScenarioPath | None = Field(None, description="chicago: IDF parameter file (TOML or CSV), e.g. "
                                                       "gis_data/idf/dahlstrom2010_sherman.toml.")
    return_period_yr: PositiveFloat | None = Field(None, description="chicago: return period [years], within "
                                                                     "the IDF file's tabulated range.")
    peak_position: Annotated[float, Field(ge=0, le=1)] = Field(0.4, description="chicago: fraction of the "
                                                                                 "duration before the peak.")
    step_min: Annotated[Minutes, Field(gt=0)] = Field(5.0, description="chicago: block length of the "
                                                                        "hyetograph [min].")
    climate_factor: PositiveFloat = Field(1.0, description="chicago: multiplies all intensities (e.g. 1.2-1.4 "
                                                           "for a 100-year horizon).")

    @model_validator(mode="after")
    def _complete(self):
        chicago_only = {"idf", "return_period_yr", "peak_position", "step_min", "climate_factor"}
        if self.kind != "chicago" and (stray := sorted(chicago_only & self.model_fields_set)):
            raise ValueError(f"{', '.join(stray)} only apply to kind = 'chicago' (this storm is kind = "
                             f"'{self.kind}')")
        if self.kind == "block":
            if self.duration_min is None:
                raise ValueError("a block storm needs duration_min")
            if (self.intensity_mm_h is None) == (self.depth_mm is None):
                raise ValueError("a block storm needs exactly one of intensity_mm_h or depth_mm")
        elif self.kind == "hyetograph" and self.csv is None:
            raise ValueError("a hyetograph storm needs csv = 'file.csv' (columns time_min, intensity_mm_h)")
        elif self.kind == "raster" and self.netcdf is None:
            raise ValueError("a raster storm needs netcdf = 'file.nc'")
        elif self.kind == "chicago":
            missing = [f for f in ("idf", "return_period_yr", "duration_min") if getattr(self, f) is None]
            if missing:
                raise ValueError(f"a chicago storm needs {', '.join(missing)} (idf = 'curves.toml', "
                                 "return_period_yr, duration_min)")
            stray = sorted({"intensity_mm_h", "depth_mm", "csv", "netcdf", "variable"} & self.model_fields_set)
            if stray:
                raise ValueError(f"{', '.join(stray)} do not apply to kind = 'chicago'; its depth comes from "
                                 "the IDF curve")
        return self


class SoilZone(LayerRef):
    """Polygons with their own Green–Ampt soil: a texture for all, or one per feature from an attribute."""

    soil: str | None = Field(None, description="USDA texture for every feature of the layer.")
    field: str | None = Field(None, description="Attribute holding each feature's USDA texture.")

    @model_validator(mode="after")
    def _one_source(self):
        if (self.soil is None) == (self.field is None):
            raise ValueError("give exactly one of `soil` (a texture) or `field` (an attribute name)")
        return self


class Infiltration(_Model):
    """Soil infiltration; sealed surfaces (``impervious`` layers, buildings) take nothing."""

    model: Literal["none", "green-ampt", "horton"] = "none"
    soil: str | None = Field(None, description="green-ampt: USDA texture, Rawls et al. (1983).")
    initial_saturation: Annotated[float, Field(ge=0, lt=1)] = 0.3
    ks_mm_h: NonNegativeFloat | None = Field(None, description="green-ampt: Ks [mm/h] (instead of soil).")
    suction_mm: NonNegativeFloat | None = Field(None, description="green-ampt: wetting-front suction [mm].")
    moisture_deficit: Annotated[float, Field(ge=0, le=1)] | None = None
    f0_mm_h: NonNegativeFloat | None = Field(None, description="horton: initial capacity [mm/h].")
    fc_mm_h: NonNegativeFloat | None = Field(None, description="horton: final capacity [mm/h].")
    k_per_h: NonNegativeFloat | None = Field(None, description="horton: decay constant [1/h].")
    zones: tuple[SoilZone, ...] = Field((), description="green-ampt: soil textures per polygon (land cover "
                                                        "or soil map), drawn in order over the default.")
    impervious: tuple[LayerRef, ...] = ()

    @model_validator(mode="after")
    def _complete(self):
        if self.zones and self.model != "green-ampt":
            raise ValueError("zones (soil textures per polygon) apply to model = 'green-ampt'")
        if self.model == "green-ampt":
            explicit = (self.ks_mm_h, self.suction_mm, self.moisture_deficit)
            if self.soil is None and any(v is None for v in explicit):
                raise ValueError("green-ampt needs `soil` or all of ks_mm_h, suction_mm, moisture_deficit")
        if self.model == "horton" and None in (self.f0_mm_h, self.fc_mm_h, self.k_per_h):
            raise ValueError("horton needs f0_mm_h, fc_mm_h and k_per_h")
        return self


class BoundarySpec(_Model):
    """An open edge. Unlisted edges are closed walls."""

    side: Literal["north", "south", "east", "west"]
    kind: Literal["free", "critical", "level", "closed"]
    slope: Annotated[float, Field(gt=0, le=1)] = Field(0.001, description="free: energy slope beyond the "
                                                                          "edge [-], at most 1 (45°).")
    level_m: Level | None = Field(None, description="level: constant water level [m].")
    level_series: tuple[LevelPoint, ...] = Field((), description="level: (time_min, level_m) points.")
    area: LayerRef | None = Field(None, description="Limit the boundary to edge cells in these polygons.")

    @model_validator(mode="after")
    def _level(self):
        if self.kind == "level" and self.level_m is None and not self.level_series:
            raise ValueError("a level boundary needs level_m or level_series")
        return self


class InflowSpec(_Model):
    """A discharge entering over an area (polygon layer) or at a point."""

    name: Name
    area: LayerRef
    discharge_m3_s: NonNegativeFloat | None = None
    discharge_field: str | None = Field(None, description="Attribute of the layer holding m³/s.")
    hydrograph_csv: ScenarioPath | None = Field(None, description="CSV with columns time_min, discharge_m3_s.")

    @model_validator(mode="after")
    def _one(self):
        if sum(v is not None for v in (self.discharge_m3_s, self.discharge_field, self.hydrograph_csv)) != 1:
            raise ValueError("give exactly one of discharge_m3_s, discharge_field or hydrograph_csv")
        return self


class SimulationSettings(_Model):
    """Run length, outputs and numerics (see :class:`floodsim.core.params.SolverParams`)."""

    duration_min: Annotated[float, Field(gt=0, le=MAX_DURATION_MIN)] = Field(
        description=f"Simulated time [min], at most {MAX_DURATION_MIN:g} (one year).")
    output_interval_min: Annotated[Minutes, Field(gt=0)] | None = None
    cfl: Annotated[float, Field(ge=0.01, le=1)] = Field(0.6, description="Courant number (0.6: see "
                                                                      "floodsim.core.simulation).")
    theta: Annotated[float, Field(ge=0, le=1)] = 0.8
    hmin_m: Annotated[float, Field(gt=0, le=1)] = Field(0.001, description="Dry threshold depth [m].")
    dt_max_s: Annotated[float, Field(ge=0.001, le=3600)] = Field(5.0, description="Largest time step [s].")
    coarsen: Annotated[int, Field(ge=1)] = Field(1, description="Aggregate the DEM by this factor (tests, "
                                                                "quick looks).")
    backend: Literal["cpu", "cuda"] = Field("cpu", description='Where the time loop runs: "cpu" (default) or "cuda" '
                                            '(an NVIDIA GPU, pip install "floodsim[cuda]"; same results to round-off).')
    precision: Literal["double", "single"] = Field(
        "double", description='Floating point of the state arrays (depths, discharges, bed): "double" (float64, '
        'default) or "single" (float32: about half the memory and faster on large grids; volume accounting and '
        'arithmetic stay in float64; depths differ by millimetres, see the README).')



class SewerLayers(_Model):
    """A sewer network as GeoPackage layers (attribute names in :mod:`floodsim.sewer.network`)."""

    path: ScenarioPath


class SewerOutfall(_Model):
    """Where one outfall of the network discharges: out of the model (default), onto a grid cell, or
    against a water level (a constant or a series; the water leaves the model)."""

    node: Name = Field(description="Name of the outfall node in the network.")
    to: Literal["outside", "cell", "level"] = "outside"
    x: float | None = Field(None, description="cell: map x of the receiving point [m] (DEM CRS).")
    y: float | None = Field(None, description="cell: map y of the receiving point [m] (DEM CRS).")
    level_m: Level | None = Field(None, description="level: constant water level at the outfall [m].")
    level_series: tuple[LevelPoint, ...] = Field((), description="level: (time_min, level_m) points.")

    @model_validator(mode="after")
    def _complete(self):
        if self.to == "cell" and (self.x is None or self.y is None):
            raise ValueError(f"outfall {self.node!r}: to = 'cell' needs x and y (a map point on the DEM)")
        if self.to == "level" and self.level_m is None and not self.level_series:
            raise ValueError(f"outfall {self.node!r}: to = 'level' needs level_m or level_series")
        if self.to != "level" and (self.level_m is not None or self.level_series):
            raise ValueError(f"outfall {self.node!r}: level_m/level_series only apply to to = 'level'")
        if self.to != "cell" and (self.x is not None or self.y is not None):
            raise ValueError(f"outfall {self.node!r}: x/y only apply to to = 'cell'")
        return self


class Sewer(_Model):
    """A sewer network under the streets, run by SWMM 5 and coupled to the surface (dual drainage,
    :mod:`floodsim.sewer`). Give ``inp`` (a SWMM input file, metric units) or ``layers`` (GeoPackage)."""

    inp: ScenarioPath | None = Field(None, description="SWMM .inp file (metric flow units; [COORDINATES] on "
                                     "the DEM's CRS and elevations on its datum).")
    layers: SewerLayers | None = Field(None, description="GeoPackage with the network layers.")
    crs: str | None = Field(None, description="inp: CRS of its [COORDINATES] when not the DEM's (must equal it).")
    inlets: Literal["all", "none"] | tuple[Name, ...] = Field(
        "all", description="inp: nodes that take surface water: 'all' junctions and storage units, 'none', or a "
        "list of node names. The layers say it per node (attribute inlet).")
    inlet_area_m2: Annotated[float, Field(gt=0, le=100)] = Field(0.1, description="Open area of an inlet's "
                                                                 "grate [m²] (orifice law), default for every inlet.")
    inlet_length_m: Annotated[float, Field(gt=0, le=100)] = Field(1.2, description="Perimeter of an inlet's "
                                                                  "grate [m] (weir law).")
    inlet_capacity_m3_s: Annotated[float, Field(gt=0, le=100)] | None = Field(
        None, description="Largest intake of an inlet [m³/s] (gully capacity); none by default.")
    weir_coefficient: Annotated[float, Field(gt=0, le=10)] = Field(1.66, description="Cw of Q = Cw L h^1.5 "
                                                                   "[m^0.5/s] (HEC-22 sag inlet).")
    orifice_coefficient: Annotated[float, Field(gt=0, le=1)] = Field(0.67, description="Co of Q = Co A "
                                                                     "sqrt(2 g H) [-].")
    coupling_step_s: Annotated[float, Field(ge=0.1, le=60)] = Field(
        1.0, description="SWMM's fixed routing step = the exchange step [s]; 2-D steps land on it.")
    rim_tolerance_m: Annotated[float, Field(ge=0, le=10)] = Field(
        0.3, description="A rim this far below the DEM ground of its cell is accepted [m].")
    outfalls: tuple[SewerOutfall, ...] = Field((), description="Where outfalls discharge; unlisted ones go out "
                                               "of the model.")

    @model_validator(mode="after")
    def _one_form(self):
        if (self.inp is None) == (self.layers is None):
            raise ValueError("give exactly one of inp = 'network.inp' or layers = {path = 'network.gpkg'}")
        if self.layers is not None and "inlets" in self.model_fields_set:
            raise ValueError("inlets applies to an .inp; in the layers each junction says it (attribute inlet)")
        names = [o.node for o in self.outfalls]
        if len(set(names)) != len(names):
            raise ValueError("an outfall is listed twice in [sewer] outfalls")
        return self


class Output(_Model):
    """Where results go and how flooding is summarised."""

    dir: ScenarioPath | None = Field(None, description="Output folder; default outputs/<scenario file name> "
                                       "under the current directory (the CLI's --out overrides both).")
    flood_threshold_m: PositiveFloat = Field(0.10, description="Depth counted as flooded [m].")
    gauges: LayerRef | None = Field(None, description="Points at which depth series are reported.")
    gauge_name_field: str = "name"
    series_step_s: Annotated[float, Field(ge=0.1, le=3600)] = Field(
        10.0, description="Step of the fine time series (gauges, outflow, measure devices) [s], independent of "
                          "the map output interval.")
    wet_threshold_m: Annotated[float, Field(gt=0, le=1)] = Field(
        0.01, description="A gauge whose depth never exceeds this [m] is reported as dry (a film is not a peak).")
    compare_to_baseline: bool = Field(True, description="When the scenario has measures, also run it without "
                                      "them and report what the measures changed (doubles the run time).")
    depth_frames: Literal["auto", "all", "none"] = Field(
        "auto", description='Depth frames (the depth at every output time) in results.nc: "all"; "none" (maxima '
                            'only: no arrival time, flooded area over time, gauge final depths, depth map layers or '
                            'time slider); "auto" (default): all unless cells × output times × 4 B exceeds 2 GiB '
                            '(floodsim.run.budget.FRAMES_AUTO_LIMIT_BYTES), then maxima only, with a warning.')


class Scenario(_Model):
    """A complete simulation description."""

    name: Name
    description: str = ""
    domain: Domain
    buildings: Buildings | None = None
    surface: Surface = Surface()
    rainfall: Rainfall | None = None
    infiltration: Infiltration = Infiltration()
    boundaries: tuple[BoundarySpec, ...] = ()
    inflows: tuple[InflowSpec, ...] = ()
    measures: tuple[MeasureSpec, ...] = Field((), description="Drainage measures, applied in order: terrain "
                                              "measures reshape the ground before the run, storage measures act "
                                              "during it.")
    simulation: SimulationSettings
    sewer: Sewer | None = Field(None, description="Sewer network coupled to the surface (SWMM 5).")
    output: Output = Output()
    source: Path | None = Field(None, description="The file this scenario was read from (set by the loader).")
    extends: Path | None = Field(None, description="The base scenario file this one extends, resolved (set by "
                                 "the loader from `extends = 'base.toml'`; see floodsim.scenario.load).")

    @model_validator(mode="after")
    def _measure_names(self):
        seen = set()
        for k, m in enumerate(self.measures):
            if m.name in seen:
                raise ValueError(f"measures[{k}]: a second measure is named {m.name!r}; names must be unique "
                                 "(reports and links between measures use them)")
            seen.add(m.name)
        return self
