"""Turn a validated :class:`Scenario` into a ready :class:`~floodsim.core.simulation.Simulation`.

This is where scenario units (mm/h, minutes) become SI through :mod:`floodsim.units`, GIS layers are
read, reprojected and rasterised, and every input is checked against the grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import units
from ..core.boundaries import Boundary
from ..core.forcing import Hyetograph, TimeSeries
from ..core.grid import MAX_ABS_ELEVATION_M, Grid
from ..core.infiltration import GreenAmpt, Horton
from ..core.inflows import Inflow
from ..core.params import SolverParams
from ..core.simulation import Simulation
from ..errors import InputDataError, ScenarioError
from ..io import raster, vector
from ..io.tables import read_csv_columns
from ..measures.terrain import SurfaceFields
from ..scenario.base import MAX_MAGNITUDE, MAX_MANNING   # bounds: one home, the schema
from ..scenario.models import LayerRef, Scenario
from . import storms
from .context import BuildContext
from .measures import build_operators, build_terrain, operator_specs, storage_depth, terrain_specs
from .sewer import build_sewer


@dataclass
class Model:
    """A simulation plus what reports need to know about the scenario's layers."""

    scenario: Scenario
    simulation: Simulation
    gauges: dict[str, tuple[float, float]] = field(default_factory=dict)
    buildings: object = None        # GeoDataFrame in the grid CRS, or None
    #: Depth [m] per cell stored by design in terrain measures (ponds, rain beds, cloudburst roads): water
    #: up to it is "stored in measures", not flooding (:func:`floodsim.build.measures.storage_depth`).
    storage_depth: object = None
    #: One dict per scenario measure: ``name``, ``type``, ``gdf`` (its features, grid CRS) and, for
    #: terrain measures, ``report`` (what it changed: see
    #: :func:`floodsim.measures.terrain.apply_terrain_measures`).
    measures: list[dict] = field(default_factory=list)
    #: The sewer coupling operator (:class:`floodsim.sewer.coupling.SewerCoupling`) of ``[sewer]``, or None.
    sewer: object = None


def coarsen_grid(grid: Grid, factor: int) -> Grid:
    """Aggregate the DEM by ``factor`` × ``factor`` blocks (mean of valid cells; NaN if none)."""
    if factor == 1:
        return grid
    ny, nx = grid.shape
    ny2, nx2 = ny // factor, nx // factor
    if ny2 < 2 or nx2 < 2:
        raise InputDataError(f"coarsen={factor} leaves fewer than 2×2 cells of the {ny}×{nx} DEM.")
    blocks = grid.z[: ny2 * factor, : nx2 * factor].astype(np.float64).reshape(ny2, factor, nx2, factor)
    with np.errstate(invalid="ignore"):
        z = np.nanmean(blocks, axis=(1, 3)) if np.isnan(blocks).any() else blocks.mean(axis=(1, 3))
    t = grid.transform
    from affine import Affine

    return Grid(z, Affine(t.a * factor, 0, t.c, 0, t.e * factor, t.f), grid.crs,
                source=f"{grid.source} (coarsened ×{factor})", clipped=grid.clipped)


def read_domain(domain) -> Grid:
    """The DEM of ``[domain]``: one raster (GeoTIFF, VRT, …) or a mosaic of tiles, cut to the ``clip``
    polygon when one is given (:func:`floodsim.io.raster.read_dem`)."""
    clip = None
    if domain.clip is not None:
        gdf = vector.read_layer(domain.clip.path, domain.clip.layer, what="domain clip")
        if gdf.crs is None:
            raise InputDataError(f"{domain.clip.path} (domain clip): the layer has no CRS; set one so it can "
                                 "be placed on the DEM.")
        clip = (list(gdf.geometry), gdf.crs)
    return raster.read_dem(domain.dem, crs=domain.crs, clip=clip)


def _layer(ref: LayerRef, grid: Grid, what: str, required=(), id_field=None):
    return vector.read_layer(ref.path, ref.layer, grid, required=required, id_field=id_field, what=what)


def build_rainfall(sc: Scenario, grid: Grid):
    r = sc.rainfall
    if r is None:
        return None
    start = units.minutes_to_s(r.start_min)
    if r.kind == "block":
        duration = units.minutes_to_s(r.duration_min)
        intensity = r.intensity_mm_h if r.intensity_mm_h is not None else units.m_s_to_mm_h(
            units.mm_to_m(r.depth_mm) / duration)
        return Hyetograph.block(intensity, duration, start)
    if r.kind == "hyetograph":
        return storms.hyetograph_from_csv(r.csv, start_min=r.start_min)
    if r.kind == "chicago":
        idf = storms.IDFCurve.from_file(r.idf)
        try:
            return storms.chicago_design_storm(idf, r.return_period_yr, r.duration_min,
                                               peak_position=r.peak_position, step_min=r.step_min,
                                               climate_factor=r.climate_factor, start_min=r.start_min)
        except InputDataError as exc:
            raise InputDataError(f"{r.idf} (rainfall, kind = 'chicago'): {exc}") from None
    import xarray as xr

    if not r.netcdf.is_file():
        raise InputDataError(f"{r.netcdf} (rainfall raster): file not found.")
    try:
        ds = xr.open_dataset(r.netcdf, decode_coords="all")
    except Exception as exc:  # noqa: BLE001 - xarray's engines raise many types for a file they cannot read
        raise InputDataError(f"{r.netcdf} (rainfall raster): not a readable NetCDF file "
                             f"({type(exc).__name__}: {str(exc)[:200]}); give a NetCDF with a (time, y, x) "
                             "variable in mm/h.") from None
    if r.variable is None and not ds.data_vars:
        raise InputDataError(f"{r.netcdf} (rainfall raster): the file holds no variable; give a NetCDF with a "
                             "(time, y, x) variable in mm/h.")
    name = r.variable or next(iter(ds.data_vars))
    if name not in ds.data_vars:
        raise InputDataError(f"{r.netcdf}: no variable {name[:80]!r}; it has "
                             f"{', '.join(repr(str(v)[:40]) for v in list(ds.data_vars)[:10]) or 'none'}; set "
                             "[rainfall] variable to one of them.")
    return raster.rainfall_from_dataarray(ds[name], grid, source=str(r.netcdf))


def _number(value) -> float:
    """A layer attribute as a float (NaN when it is not a number)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def build_manning(sc: Scenario, grid: Grid):
    s = sc.surface
    if s.manning_raster is None and not s.zones:
        return s.manning
    n = np.full(grid.shape, s.manning)
    if s.manning_raster is not None:
        r = raster.read_raster_on_grid(s.manning_raster, grid)
        inside = grid.valid & ~np.isnan(r)
        bad = inside & (~np.isfinite(r) | (r <= 0) | (r > MAX_MANNING))
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise InputDataError(f"{s.manning_raster} (Manning raster): {bad.sum()} cell(s) hold values outside "
                                 f"(0, {MAX_MANNING:g}], e.g. {r[i, j]!r} at row {i}, col {j}; fix them or mark "
                                 "them nodata (they then take [surface] manning).")
        n = np.where(np.isfinite(r), r, n)
    for zone in s.zones:
        gdf = _layer(zone, grid, "Manning zone", required=(zone.field,) if zone.field else ())
        if zone.field:
            values = np.array([_number(v) for v in gdf[zone.field]])
            bad = ~np.isfinite(values) | (values <= 0) | (values > MAX_MANNING)
            if bad.any():
                k = int(np.argmax(bad))
                raise InputDataError(f"{zone.path} layer '{zone.layer}': feature {k} has {zone.field} = "
                                     f"{str(gdf[zone.field].iloc[k])[:40]!r}; Manning's n must be a number in "
                                     f"(0, {MAX_MANNING:g}] s m^-1/3.")
            vals = vector.rasterize_values(gdf.assign(**{zone.field: values}), zone.field, grid)
            n = np.where(np.isfinite(vals), vals, n)
        else:
            n[vector.rasterize_geometries(gdf.geometry, grid)] = zone.manning
    return n


def build_infiltration(sc: Scenario, grid: Grid):
    inf = sc.infiltration
    if inf.model == "none":
        return None, None
    if inf.model == "green-ampt":
        if inf.soil is not None:
            model = GreenAmpt.from_texture(inf.soil, inf.initial_saturation)
        else:
            model = GreenAmpt(ks=units.mm_h_to_m_s(inf.ks_mm_h), psi=units.mm_to_m(inf.suction_mm),
                              dtheta=inf.moisture_deficit)
    else:
        model = Horton(f0=units.mm_h_to_m_s(inf.f0_mm_h), fc=units.mm_h_to_m_s(inf.fc_mm_h),
                       k=inf.k_per_h / units.SECONDS_PER_HOUR)
    if inf.zones:
        model = _green_ampt_zones(model, inf, grid)
    impervious = np.zeros(grid.shape, bool)
    for ref in inf.impervious:
        impervious |= vector.rasterize_geometries(_layer(ref, grid, "impervious surface").geometry, grid)
    return model, impervious


def _green_ampt_zones(base: GreenAmpt, inf, grid: Grid) -> GreenAmpt:
    """Per-cell Green–Ampt parameters: the default soil, overwritten by each zone's texture."""
    fields = {k: np.full(grid.shape, float(getattr(base, k))) for k in ("ks", "psi", "dtheta")}
    for k, zone in enumerate(inf.zones):
        what = f"infiltration.zones[{k}]"
        gdf = _layer(zone, grid, what, required=(zone.field,) if zone.field else ())
        textures = gdf[zone.field].astype(str) if zone.field else [zone.soil] * len(gdf)
        for row, (geom, texture) in enumerate(zip(gdf.geometry, textures)):
            try:
                soil = GreenAmpt.from_texture(texture, inf.initial_saturation)
            except InputDataError as exc:
                raise InputDataError(f"{zone.path} layer '{zone.layer}' ({what}): feature {row}: {exc}") from None
            cells = vector.rasterize_geometries([geom], grid)
            for key in fields:
                fields[key][cells] = getattr(soil, key)
    return GreenAmpt(**fields)


def build_boundaries(sc: Scenario, grid: Grid):
    out = []
    for k, b in enumerate(sc.boundaries):
        cells = None
        if b.area is not None:
            cells = vector.rasterize_geometries(_layer(b.area, grid, f"boundaries[{k}].area").geometry, grid)
        level = None
        if b.kind == "level":
            if b.level_series:
                level = TimeSeries(units.minutes_to_s(np.array([p.time_min for p in b.level_series])),
                                   np.array([p.level_m for p in b.level_series]), f"boundaries[{k}] level")
            else:
                level = b.level_m
        out.append(Boundary(b.side, b.kind, slope=b.slope, level=level, cells=cells))
    return out


def build_inflows(sc: Scenario, grid: Grid):
    out = []
    for spec in sc.inflows:
        required = (spec.discharge_field,) if spec.discharge_field else ()
        gdf = _layer(spec.area, grid, f"inflow '{spec.name}'", required=required)
        cells = vector.rasterize_geometries(gdf.geometry, grid)
        if spec.hydrograph_csv is not None:
            df = read_csv_columns(spec.hydrograph_csv, ("time_min", "discharge_m3_s"), f"inflow '{spec.name}'")
            label = f"{spec.hydrograph_csv} (inflow '{spec.name}')"
            values = df["discharge_m3_s"].to_numpy(float)
            if (values < 0).any():
                k = int(np.argmax(values < 0))
                raise InputDataError(f"{label}: row {k + 2}, column discharge_m3_s: {values[k]:g}; a discharge "
                                     "must be >= 0 [m³/s].")
            q = TimeSeries(units.minutes_to_s(df["time_min"].to_numpy(float)), values, label)
        elif spec.discharge_field:
            values = np.array([_number(v) for v in gdf[spec.discharge_field]])
            bad = ~np.isfinite(values) | (values < 0) | (values > MAX_MAGNITUDE)
            if bad.any():
                k = int(np.argmax(bad))
                label = f"{spec.area.path}" + (f" layer '{spec.area.layer}'" if spec.area.layer else "")
                raise InputDataError(f"{label} (inflow '{spec.name}'): feature {k} has {spec.discharge_field} = "
                                     f"{str(gdf[spec.discharge_field].iloc[k])[:40]!r}; a discharge must be a "
                                     f"number in [0, {MAX_MAGNITUDE:g}] m³/s.")
            q = float(values.sum())
        else:
            q = spec.discharge_m3_s
        out.append(Inflow(spec.name, cells, q))
    return out


def surface_with_terrain_measures(sc: Scenario, grid: Grid, manning, infiltration, impervious, blocked):
    """Apply the scenario's terrain measures to the surface.

    Terrain measures edit the bed, Manning's n and Green–Ampt fields before the run
    (:mod:`floodsim.measures.terrain`); sealed surfaces are then carried as Ks = 0, so the returned
    ``impervious`` is ``None``. Without terrain measures the inputs are returned unchanged.

    Returns
    -------
    grid, manning, infiltration, impervious, measures
        ``measures`` maps each terrain measure's name to its :class:`Model` entry (``name``,
        ``type``, ``gdf`` of its features, ``report`` of what it changed).
    """
    specs = terrain_specs(sc.measures)
    if not specs:
        return grid, manning, infiltration, impervious, {}
    if isinstance(infiltration, Horton):
        raise InputDataError("terrain measures change Green–Ampt soil parameters; use infiltration model "
                             "'green-ampt' or 'none' with them, not 'horton'.")
    ctx = BuildContext(grid, sc.infiltration.initial_saturation)
    fields = SurfaceFields.from_inputs(grid, manning, infiltration, impervious, blocked)
    fields, measures = build_terrain(specs, ctx, fields)
    infiltration = fields.green_ampt() if np.any(fields.ks > 0) else None
    beyond = grid.valid & ~(np.abs(fields.z) <= MAX_ABS_ELEVATION_M)
    if beyond.any():   # a lowering from a layer attribute (the schema bounds the scenario's own values)
        i, j = (int(v) for v in np.argwhere(beyond)[0])
        mask = [e["report"].get("cells_mask") for e in measures.values()]
        names = ", ".join(repr(e["name"]) for e, m in zip(measures.values(), mask) if m is not None and m[i, j])
        raise InputDataError(f"terrain measure(s) {names or ', '.join(map(repr, measures))} put the ground at "
                             f"{fields.z[i, j]:.6g} m at row {i}, col {j}, beyond ±{MAX_ABS_ELEVATION_M:g} m; "
                             "check their depths and levels (depth_m, storage_depth_m, bottom_level_m, "
                             "depression_storage_mm) in the scenario and in their layers' attributes.")
    return fields.to_grid(grid), fields.manning, infiltration, None, measures


def build_model(sc: Scenario) -> Model:
    """Read every input of ``sc`` and assemble the simulation (nothing is run)."""
    where = f"{sc.source}" if sc.source else f"scenario '{sc.name}'"
    try:
        grid = coarsen_grid(read_domain(sc.domain), sc.simulation.coarsen)
        blocked = None
        buildings = None
        if sc.buildings is not None:
            buildings = _layer(sc.buildings, grid, "buildings", id_field=sc.buildings.id_field)
            blocked = vector.rasterize_geometries(buildings.geometry, grid)
        infiltration, impervious = build_infiltration(sc, grid)
        manning = build_manning(sc, grid)
        grid, manning, infiltration, impervious, terrain_entries = surface_with_terrain_measures(
            sc, grid, manning, infiltration, impervious, blocked)
        params = SolverParams(cfl=sc.simulation.cfl, theta=sc.simulation.theta, hmin=sc.simulation.hmin_m,
                              dt_max=sc.simulation.dt_max_s, backend=sc.simulation.backend,
                              precision=sc.simulation.precision)
        duration = units.minutes_to_s(sc.simulation.duration_min)
        interval = sc.simulation.output_interval_min
        operators, operator_entries = build_operators(operator_specs(sc.measures),
                                                      BuildContext(grid, sc.infiltration.initial_saturation))
        entries = {**terrain_entries, **operator_entries}
        sewer = build_sewer(sc, duration, sc.output.series_step_s)
        if sewer is not None:
            operators = [*operators, sewer]
        measures = [entries[m.name] for m in sc.measures]
        sim = Simulation(grid, rainfall=build_rainfall(sc, grid), manning=manning,
                         infiltration=infiltration, impervious=impervious, blocked=blocked,
                         roof_rain=sc.buildings.roof_rain if sc.buildings else "ground",
                         boundaries=build_boundaries(sc, grid), inflows=build_inflows(sc, grid),
                         operators=operators, params=params)
        try:   # the output times a run will record (refused here, at validate, when there are too many)
            sim.output_times(0.0, duration, None if interval is None else units.minutes_to_s(interval))
        except InputDataError as exc:
            raise InputDataError(f"[simulation] duration_min / output_interval_min: {exc}") from None
        gauges = {}
        if sc.output.gauges is not None:
            g = _layer(sc.output.gauges, grid, "gauges", required=(sc.output.gauge_name_field,))
            for name, geom in zip(g[sc.output.gauge_name_field].astype(str), g.geometry):
                if name in gauges:
                    raise InputDataError(f"{sc.output.gauges.path} (gauges): two gauges are named {name[:80]!r}; "
                                         f"give each a unique '{sc.output.gauge_name_field}'.")
                p = geom.representative_point()
                grid.cell_of(p.x, p.y)
                gauges[name] = (p.x, p.y)
    except InputDataError as exc:
        raise ScenarioError(f"{where}: {exc}") from None
    return Model(sc, sim, gauges, buildings, storage_depth=storage_depth(terrain_entries, grid.z), measures=measures,
                 sewer=sewer)
