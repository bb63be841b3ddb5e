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


_VARS = [
    VarDef("depth", "m", "water depth", "water_depth", ("time", "y", "x")),
    VarDef("max_depth", "m", "maximum water depth over the run", None),
    VarDef("max_speed", "m s-1", "maximum depth-averaged flow speed over the run (cells deeper than 10 hmin)",
           None),
    VarDef("time_of_max_depth", "s", "time since start at which the maximum depth was reached", None),
    VarDef("elevation", "m", "bed elevation used by the model (DEM)", "height_above_reference_ellipsoid"),
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


def attrs(key: str) -> dict:
    """NetCDF/xarray attributes of variable ``key``."""
    v = VARIABLES[key]
    a = {"units": v.unit, "long_name": v.long_name}
    if v.standard_name:
        a["standard_name"] = v.standard_name
    return a
