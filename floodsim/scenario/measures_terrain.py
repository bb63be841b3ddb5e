"""Scenario schema of the terrain measures, and how their layers become :mod:`floodsim.measures.terrain`.

Each measure is a table with a ``type`` (the discriminator), a ``name`` and a ``layer`` (a vector
layer of polygons, or of lines for roads and channels). Fields not in SI carry their unit in the name
(``ks_mm_h``, ``depression_storage_mm``) and are converted through :mod:`floodsim.units`.

Per-feature parameters. ``width_m`` and ``depth_m`` (roads, channels), ``storage_depth_m`` (rain
beds) and ``bottom_level_m`` (ponds) may be left out of the scenario; then every feature of the layer
must carry an attribute of that very name. A value given in the scenario applies to every feature
and takes precedence over the attribute. Features are named in reports and errors by their ``name``
attribute (``name_field``), or by their row number when the layer has none.

Example (TOML)::

    [[terrain_measures]]
    type = "cloudburst_road"
    name = "Skybrudsvej Llewellyn St"
    layer = { path = "../gis_data/merewether/measures_terrain.gpkg", layer = "cloudburst_road" }
    depth_m = 0.3            # width_m from the layer's attribute
    manning = 0.015

    [[terrain_measures]]
    type = "pond"
    name = "Park buffer pond"
    layer = { path = "../gis_data/merewether/measures_terrain.gpkg", layer = "pond" }
    # bottom_level_m from the layer's attribute
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

import numpy as np
from pydantic import Field, field_validator

from .. import units
from ..errors import InputDataError
from ..grid import Grid
from ..infiltration import RAWLS_1983
from ..io import vector
from ..measures import terrain
from .base import LayerRef, NonNegativeFloat, PositiveFloat, _Model

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Saturation = Annotated[float, Field(ge=0, lt=1)]


def _texture(value):
    if value is not None and value.lower() not in RAWLS_1983:
        raise ValueError(f"unknown soil texture {value!r}; choose one of {', '.join(RAWLS_1983)}")
    return value


class _TerrainSpec(_Model):
    name: str = Field(description="Name of the measure in reports.")
    layer: LayerRef = Field(description="Vector layer with the measure's features.")
    name_field: str = Field("name", description="Attribute naming each feature in reports and errors.")
    features: tuple[str, ...] | None = Field(None, description="Use only the features whose `name_field` "
                                             "attribute is one of these (default: all).")


class _SoilSpec(_TerrainSpec):
    initial_saturation: Saturation | None = Field(
        None, description="Initial saturation of the soil [-]; default: the scenario's infiltration value.")

    _soil_ok = field_validator("soil", check_fields=False)(lambda cls, v: _texture(v))


class CloudburstRoadSpec(_TerrainSpec):
    """A street lowered by ``depth_m`` over ``width_m`` around its centre line (lines layer)."""

    type: Literal["cloudburst_road"] = "cloudburst_road"
    width_m: PositiveFloat | None = Field(None, description="Strip width [m]; or the attribute `width_m`.")
    depth_m: PositiveFloat | None = Field(None, description="Lowering below the local ground [m]; or the "
                                                            "attribute `depth_m`.")
    manning: PositiveFloat | None = Field(None, description="Manning's n of the lowered surface [s m^-1/3].")


class ChannelSpec(CloudburstRoadSpec):
    """An open channel (swale) along a line: same rule as a cloudburst road."""

    type: Literal["channel"] = "channel"


class RainBedSpec(_SoilSpec):
    """Bioretention / rain bed: polygons lowered by ``storage_depth_m`` with filter-media Ks."""

    type: Literal["rain_bed"] = "rain_bed"
    storage_depth_m: PositiveFloat | None = Field(None, description="Ponding depth [m]; or the attribute.")
    ks_mm_h: PositiveFloat = Field(100.0, description="Filter media Ks [mm/h] (FAWB 2009: 100-300).")
    soil: str | None = Field(None, description="USDA texture for suction and moisture deficit.")
    manning: PositiveFloat | None = None


class GreenAreaSpec(_SoilSpec):
    """Polygons converted to a pervious land cover."""

    type: Literal["green_area"] = "green_area"
    soil: str = Field(description="USDA texture (Rawls et al. 1983).")
    manning: PositiveFloat | None = Field(None, description="Manning's n [s m^-1/3]; default: unchanged.")
    depression_storage_mm: NonNegativeFloat = Field(0.0, description="Depression storage [mm], modelled as "
                                                                     "a uniform lowering.")


class HardSurfaceLimitSpec(_SoilSpec):
    """Sealed cells inside the polygons (all, or a share) become pervious."""

    type: Literal["hard_surface_limit"] = "hard_surface_limit"
    soil: str = Field(description="USDA texture of the new pervious surface.")
    share: Annotated[float, Field(ge=0, le=1)] = Field(1.0, description="Fraction of the sealed cells converted.")
    manning: PositiveFloat | None = None


class PondSpec(_TerrainSpec):
    """Buffer pond / detention basin: ground lowered to ``bottom_level_m`` (never raised)."""

    type: Literal["pond"] = "pond"
    bottom_level_m: FiniteFloat | None = Field(None, description="Absolute bottom level [m]; or the attribute.")
    manning: PositiveFloat | None = None


#: The model classes of every terrain measure, for the scenario schema.
TERRAIN_MEASURES = (CloudburstRoadSpec, ChannelSpec, RainBedSpec, GreenAreaSpec, HardSurfaceLimitSpec, PondSpec)

#: One terrain measure, chosen by its ``type``.
TerrainMeasureSpec = Annotated[Union[TERRAIN_MEASURES], Field(discriminator="type")]  # type: ignore[valid-type]

_PER_FEATURE = {"cloudburst_road": ("width_m", "depth_m"), "channel": ("width_m", "depth_m"),
                "rain_bed": ("storage_depth_m",), "pond": ("bottom_level_m",)}


def _label(spec) -> str:
    ref = spec.layer
    return f"{ref.path}" + (f" layer '{ref.layer}'" if ref.layer else "")


def _values(spec, gdf, field: str, label: str, names):
    """The scenario value of ``field`` for every feature, else the layer attribute of that name."""
    v = getattr(spec, field)
    if v is not None:
        return float(v)
    try:
        a = gdf[field].astype(float).to_numpy()
    except (TypeError, ValueError):
        raise InputDataError(f"{label}: attribute '{field}' must be numeric.") from None
    return a


def to_measure(spec, gdf, initial_saturation: float = 0.3):
    """The SI :mod:`floodsim.measures.terrain` object of one validated spec and its (reprojected) layer."""
    label = _label(spec)
    names = (gdf[spec.name_field].astype(str).tolist() if spec.name_field in gdf.columns
             else [f"feature {k}" for k in range(len(gdf))])
    common = dict(name=spec.name, geometries=list(gdf.geometry), feature_names=names, source=label)
    sat = spec.initial_saturation if getattr(spec, "initial_saturation", None) is not None else initial_saturation
    t = spec.type
    if t in ("cloudburst_road", "channel"):
        cls = terrain.CloudburstRoad if t == "cloudburst_road" else terrain.Channel
        return cls(**common, width=_values(spec, gdf, "width_m", label, names),
                   depth=_values(spec, gdf, "depth_m", label, names), manning=spec.manning)
    if t == "rain_bed":
        return terrain.RainBed(**common, storage_depth=_values(spec, gdf, "storage_depth_m", label, names),
                               ks=units.mm_h_to_m_s(spec.ks_mm_h), soil=spec.soil, initial_saturation=sat,
                               manning=spec.manning)
    if t == "green_area":
        return terrain.GreenArea(**common, soil=spec.soil, initial_saturation=sat, manning=spec.manning,
                                 depression_storage=units.mm_to_m(spec.depression_storage_mm))
    if t == "hard_surface_limit":
        return terrain.HardSurfaceLimit(**common, soil=spec.soil, share=spec.share, initial_saturation=sat,
                                        manning=spec.manning)
    if t == "pond":
        return terrain.Pond(**common, bottom_level=_values(spec, gdf, "bottom_level_m", label, names),
                            manning=spec.manning)
    raise InputDataError(f"terrain measure '{spec.name}': unknown type {t!r}.")  # pragma: no cover


def read_terrain_measures(specs, grid: Grid, initial_saturation: float = 0.3) -> list:
    """Read every spec's layer (reprojected to ``grid``, checked by :func:`floodsim.io.vector.read_layer`)
    and return the SI measure objects."""
    out = []
    for k, spec in enumerate(specs):
        what = f"terrain measure '{spec.name}' ({spec.type})"
        required = tuple(f for f in _PER_FEATURE.get(spec.type, ()) if getattr(spec, f) is None)
        gdf = vector.read_layer(spec.layer.path, spec.layer.layer, grid, required=required,
                                id_field=spec.name_field, what=what)
        gdf = vector.select_features(gdf, spec.features, spec.name_field, f"{_label(spec)} ({what})")
        out.append(to_measure(spec, gdf, initial_saturation))
    return out


def build_terrain_measures(specs, fields: terrain.SurfaceFields, grid: Grid, initial_saturation: float = 0.3):
    """Read the layers of ``specs`` and apply the measures to ``fields``.

    Parameters
    ----------
    specs : sequence of TerrainMeasureSpec
        Validated scenario measures, applied in this order.
    fields : floodsim.measures.terrain.SurfaceFields
        The surface before the measures (not modified).
    grid : Grid
        The model grid.
    initial_saturation : float
        Initial saturation [-] for measures that do not give their own (pass the scenario's
        ``infiltration.initial_saturation``).

    Returns
    -------
    (SurfaceFields, list of dict)
        See :func:`floodsim.measures.terrain.apply_terrain_measures`.
    """
    return terrain.apply_terrain_measures(read_terrain_measures(specs, grid, initial_saturation), fields, grid)


__all__ = ["TERRAIN_MEASURES", "TerrainMeasureSpec", "CloudburstRoadSpec", "ChannelSpec", "RainBedSpec",
           "GreenAreaSpec", "HardSurfaceLimitSpec", "PondSpec", "build_terrain_measures", "read_terrain_measures",
           "to_measure"]
