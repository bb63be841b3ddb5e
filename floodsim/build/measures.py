"""A scenario's measures, built through the registry: terrain measures applied to the surface before the
run, operators (storage measures) handed to the simulation.

Nothing here knows a measure type by name: each spec's registry entry
(:mod:`floodsim.measures.registry`) gives its phase and builder.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np

from ..errors import InputDataError
from ..measures.registry import measure_type
from ..measures.storage import group_linked
from ..measures.terrain import SurfaceFields, apply_terrain_measures
from .context import BuildContext


def terrain_specs(specs) -> list:
    """The specs of terrain measures (applied to the ground before the run), in order."""
    return [s for s in specs if measure_type(s.type).phase == "terrain"]


def operator_specs(specs) -> list:
    """The specs of measures that act during the run, in order."""
    return [s for s in specs if measure_type(s.type).phase == "operator"]


def build_terrain(specs, ctx: BuildContext, fields: SurfaceFields):
    """Build the terrain measures of ``specs`` and apply them to ``fields`` (not modified).

    Returns
    -------
    fields : SurfaceFields
        The surface with the measures applied.
    entries : dict
        Measure name -> ``{name, type, gdf, report}`` (``report``: what it changed, see
        :func:`floodsim.measures.terrain.apply_terrain_measures`; ``gdf``: its features).
    """
    objects = []
    for spec in specs:
        ctx.current = spec.name
        objects.append(measure_type(spec.type).build(spec, ctx))
    fields, reports = apply_terrain_measures(objects, fields, ctx.grid)
    entries = {}
    for spec, obj, report in zip(specs, objects, reports):
        gdf = gpd.GeoDataFrame({"name": obj.names()}, geometry=list(obj.geometries), crs=ctx.grid.crs)
        entries[spec.name] = {"name": spec.name, "type": spec.type, "gdf": gdf, "report": report}
    return fields, entries


def storage_depth(entries: dict, z) -> "np.ndarray | None":
    """Depth [m] per cell that terrain measures store by design (a pond below its rim, a cloudburst road's
    channel and a rain bed's ponding zone below the former ground): ``max(top - z, 0)`` on their cells, 0
    elsewhere, over the final bed ``z``; None when no measure stores surface water."""
    tops = [e["report"]["storage_top"] for e in entries.values() if e["report"].get("storage_top") is not None]
    if not tops:
        return None
    top = np.fmax.reduce(np.stack(tops), axis=0)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(top) & np.isfinite(z), np.maximum(top - z, 0.0), 0.0)


def build_operators(specs, ctx: BuildContext):
    """Build the operators of ``specs``, link senders to receiving measures, group linked ones.

    Returns
    -------
    operators : list of Operator
        One per unlinked measure, one :class:`~floodsim.measures.storage.StorageNetwork` per group of
        linked measures.
    entries : dict
        Measure name -> ``{name, type, gdf}`` (``gdf``: the measure's own features).
    """
    names = [s.name for s in specs]
    for n in names:
        if names.count(n) > 1:
            raise InputDataError(f"measures: two measures are named {n!r}; names must be unique.")
    built, pending = {}, []
    for spec in specs:
        ctx.current = spec.name
        op = measure_type(spec.type).build(spec, ctx)
        built[spec.name] = op
        if spec.target == "measure":
            pending.append((op, spec))
    for op, spec in pending:
        if spec.target_measure not in built:
            raise InputDataError(f"measure {spec.type} '{spec.name}': target_measure {spec.target_measure!r} is "
                                 f"not a measure of the scenario; they are {', '.join(map(repr, built))}.")
        receiver = built[spec.target_measure]
        if receiver is op:
            raise InputDataError(f"measure {spec.type} '{spec.name}': it cannot send water to itself.")
        if not receiver.holds_water:
            raise InputDataError(f"measure {spec.type} '{spec.name}': target_measure {spec.target_measure!r} "
                                 "holds no water; send to a tank or a tunnel.")
        op.target = receiver
    entries = {s.name: {"name": s.name, "type": s.type, "gdf": ctx.main_layers[s.name]} for s in specs}
    return group_linked(built.values()), entries
