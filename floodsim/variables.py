"""One table of every output variable: name, unit, CF standard name and description.

Writers (NetCDF, GeoTIFF), layers and maps take units and long names from here, never from literals.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VarDef:
    key: str
    unit: str
    long_name: str
    standard_name: str | None = None
    dims: tuple[str, ...] = ("y", "x")
    cell_methods: str | None = None


_VARS = [
    VarDef("depth", "m", "water depth", "flood_water_thickness", ("time", "y", "x")),
    VarDef("max_depth", "m", "maximum water depth over the run", "flood_water_thickness",
           cell_methods="time: maximum"),
    VarDef("max_speed", "m s-1", "maximum depth-averaged flow speed over the run (cells deeper than 10 hmin)",
           "flood_water_speed", cell_methods="time: maximum"),
    VarDef("time_of_max_depth", "s", "time since start at which the maximum depth was reached", None),
    VarDef("elevation", "m", "bed elevation used by the model (DEM, heights above the DEM's vertical datum)",
           "surface_altitude"),
    VarDef("hazard_rating", "1", "UK flood hazard rating HR = d (v + 0.5) + DF from max depth and max speed "
           "(Defra/EA FD2321, 2006)", None),
    VarDef("hazard_class", "1", "hazard class code: 0 none, 1 low, 2 moderate, 3 significant, 4 extreme", None),
    VarDef("arrival_time", "s", "time since start at which the depth first reached the flood threshold "
           "(from the output depth series)", None),
    VarDef("max_depth_difference", "m", "max depth of run B minus run A (positive = deeper in B)", None),
    VarDef("hazard_rating_difference", "1", "hazard rating of run B minus run A (positive = more hazardous "
           "in B)", None),
    VarDef("volume_stored", "m3", "water volume on the surface", None, ("time",)),
    VarDef("volume_measures", "m3", "water volume held by measures (tanks, tunnels)", None, ("time",)),
    VarDef("volume_measure_outflow", "m3", "cumulative volume sent out of the model by measures", None,
           ("time",)),
    VarDef("volume_rain", "m3", "cumulative rain volume", None, ("time",)),
    VarDef("volume_inflow", "m3", "cumulative inflow hydrograph volume", None, ("time",)),
    VarDef("volume_boundary_in", "m3", "cumulative volume entering through boundaries", None, ("time",)),
    VarDef("volume_boundary_out", "m3", "cumulative volume leaving through boundaries", None, ("time",)),
    VarDef("volume_infiltration", "m3", "cumulative infiltrated volume", None, ("time",)),
    VarDef("volume_roof_drainage", "m3", "cumulative roof rain sent to the piped system", None, ("time",)),
    VarDef("volume_error", "m3", "continuity error: stored - initial - net inflow", None, ("time",)),
]

VARIABLES: dict[str, VarDef] = {v.key: v for v in _VARS}

GRID_MAPPING = "spatial_ref"
"""Name of the CF grid-mapping variable rioxarray writes; every (y, x) variable points to it."""

COORDINATES: dict[str, dict] = {
    "time": {"standard_name": "time", "units": "s", "long_name": "time since start of simulation", "axis": "T"},
    "x": {"standard_name": "projection_x_coordinate", "units": "m", "long_name": "x coordinate of cell centre",
          "axis": "X"},
    "y": {"standard_name": "projection_y_coordinate", "units": "m", "long_name": "y coordinate of cell centre",
          "axis": "Y"},
}
"""CF attributes of the coordinates (filled in by the NetCDF writer where missing)."""


def attrs(key: str) -> dict:
    """NetCDF/xarray attributes of variable ``key``."""
    v = VARIABLES[key]
    a = {"units": v.unit, "long_name": v.long_name}
    if v.standard_name:
        a["standard_name"] = v.standard_name
    if v.cell_methods:
        a["cell_methods"] = v.cell_methods
    if "y" in v.dims and "x" in v.dims:
        a["grid_mapping"] = GRID_MAPPING
    return a
