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
    VarDef("measure_storage_depth", "m", "depth of water held by design in measures (a pond below its rim, a "
           "rain bed's ponding zone, a cloudburst road's channel); flood depth = max(depth - this, 0)", None),
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
    VarDef("volume_rounding", "m3", "cumulative volume added (+) or lost (-) by rounding depths to float32 "
           "(precision = single; 0 in double)", None, ("time",)),
    VarDef("volume_error", "m3", "continuity error: stored - initial - net inflow", None, ("time",)),
    # fine time series (floodsim.run.series), on their own time axis
    VarDef("series_time", "s", "time since start of simulation of the fine series", "time", ("series_time",)),
    VarDef("gauge", "1", "gauge name", None, ("gauge",)),
    VarDef("gauge_x", "m", "x of the gauge point in the grid's CRS", None, ("gauge",)),
    VarDef("gauge_y", "m", "y of the gauge point in the grid's CRS", None, ("gauge",)),
    VarDef("gauge_depth", "m", "water depth at the gauge", "flood_water_thickness", ("gauge", "series_time")),
    VarDef("gauge_level", "m", "water surface level at the gauge (DEM datum)", "water_surface_height_above_reference_datum",
           ("gauge", "series_time")),
    VarDef("gauge_speed", "m s-1", "depth-averaged flow speed at the gauge (0 below 10 hmin)", "flood_water_speed",
           ("gauge", "series_time")),
    VarDef("gauge_unit_discharge", "m2 s-1", "discharge per unit width at the gauge", None, ("gauge", "series_time")),
    *[VarDef(f"outflow_{side}", "m3 s-1", f"discharge out of the model through the {side} edge (positive out)",
             None, ("series_time",)) for side in ("west", "east", "north", "south")],
    VarDef("outflow_total", "m3 s-1", "discharge out of the model through all open edges (positive out)", None,
           ("series_time",)),
    VarDef("device", "1", "measure device name (tank, tunnel, pond outlet, pump, gate)", None, ("device",)),
    VarDef("device_storage", "m3", "water held by the device", None, ("device", "series_time")),
    VarDef("device_inflow_volume", "m3", "cumulative inflow into the device (from the surface and other measures)",
           None, ("device", "series_time")),
    VarDef("device_outflow_volume", "m3", "cumulative outflow of the device (to the surface, out of the model, to "
           "other measures)", None, ("device", "series_time")),
    VarDef("device_inflow", "m3 s-1", "inflow rate into the device, mean over the preceding series step", None,
           ("device", "series_time")),
    VarDef("device_outflow", "m3 s-1", "outflow rate of the device, mean over the preceding series step", None,
           ("device", "series_time")),
    VarDef("device_level", "m", "water level controlling the device (NaN for tanks and tunnels)", None,
           ("device", "series_time")),
    VarDef("store", "1", "name of a terrain measure that holds surface water by design", None, ("store",)),
    VarDef("store_volume", "m3", "surface water held by design in the measure (below its rim or design depth)",
           None, ("store", "series_time")),
    VarDef("store_level", "m", "water level at the measure's lowest cell", None, ("store", "series_time")),
    VarDef("store_volume_above_design", "m3", "water on the measure's cells above its design level (spilling)",
           None, ("store", "series_time")),
    # sewer network (floodsim.sewer.results), on the node, link and sewer_time dimensions
    VarDef("sewer_time", "s", "time since start of simulation of the sewer network series", "time", ("sewer_time",)),
    VarDef("node", "1", "sewer network node name (junction, storage unit, outfall)", None, ("node",)),
    VarDef("link", "1", "sewer network link name (conduit, pump, orifice, weir)", None, ("link",)),
    VarDef("node_x", "m", "x coordinate of the node", "projection_x_coordinate", ("node",)),
    VarDef("node_y", "m", "y coordinate of the node", "projection_y_coordinate", ("node",)),
    VarDef("node_kind", "1", "node kind: junction, storage, outfall", None, ("node",)),
    VarDef("node_rim", "m", "rim (top) elevation of the node; NaN for outfalls", None, ("node",)),
    VarDef("node_invert", "m", "invert (bottom) elevation of the node", None, ("node",)),
    VarDef("node_inlet", "1", "1 where the node takes water from the surface (coupled), 0 sealed", None, ("node",)),
    VarDef("link_kind", "1", "link kind: conduit, pump, orifice, weir", None, ("link",)),
    VarDef("link_from", "1", "name of the link's first (upstream) node", None, ("link",)),
    VarDef("link_to", "1", "name of the link's second (downstream) node", None, ("link",)),
    VarDef("node_depth", "m", "water depth in the node above its invert (SWMM)", None, ("node", "sewer_time")),
    VarDef("node_head", "m", "hydraulic head at the node (SWMM)", "water_surface_height_above_reference_datum",
           ("node", "sewer_time")),
    VarDef("node_flooding", "m3 s-1", "water out of the node onto the surface (surcharge through the opening, "
           "overflow of a sealed node), mean over the preceding coupling step", None, ("node", "sewer_time")),
    VarDef("node_inflow", "m3 s-1", "water from the surface into the node through its inlet, mean over the "
           "preceding coupling step", None, ("node", "sewer_time")),
    VarDef("link_flow", "m3 s-1", "flow in the link, positive from its first to its second node (SWMM)", None,
           ("link", "sewer_time")),
    VarDef("link_capacity_used", "1", "|flow| / Manning full-pipe flow of the conduit (NaN for pumps, orifices, "
           "weirs)", None, ("link", "sewer_time")),
    VarDef("link_full_flow", "m3 s-1", "Manning full-pipe flow of the conduit (SWMM; NaN for other links)", None,
           ("link",)),
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
