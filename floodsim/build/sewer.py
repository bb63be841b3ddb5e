"""The scenario's ``[sewer]`` table → a :class:`~floodsim.sewer.coupling.SewerCoupling` operator.

Reads the network (``inp`` or ``layers``, :mod:`floodsim.sewer.network`), chooses the coupled nodes
and their inlets, turns the outfall targets into :class:`~floodsim.sewer.coupling.OutfallTarget` (level
series in minutes become seconds through :mod:`floodsim.units`). The checks against the DEM (nodes
outside it, CRS, inlets on buildings, rims below the ground) run when the simulation binds the
operator, so a bad network fails at ``validate``, before anything is written.
"""

from __future__ import annotations

import math

import numpy as np

from .. import units
from ..core.forcing import TimeSeries
from ..sewer.coupling import OutfallTarget, SewerCoupling
from ..sewer.network import Inlet, inlets_for, read_inp, read_layers


def build_sewer(sc, duration_s: float, series_step_s: float = 10.0) -> SewerCoupling | None:
    """The coupling operator of ``sc.sewer`` (``None`` without one). ``duration_s``: run length [s];
    ``series_step_s``: step of the node/link series [s]."""
    spec = sc.sewer
    if spec is None:
        return None
    default = Inlet(spec.inlet_area_m2, spec.inlet_length_m,
                    math.inf if spec.inlet_capacity_m3_s is None else spec.inlet_capacity_m3_s)
    if spec.inp is not None:
        net = read_inp(spec.inp, crs=spec.crs)
        if spec.inlets != "none":
            net.inlets = inlets_for(net, spec.inlets, default)
            _check_inlet_names(net)
    else:
        net = read_layers(spec.layers.path, default)
    targets = {}
    for o in spec.outfalls:
        if o.to == "cell":
            targets[o.node] = OutfallTarget("cell", xy=(float(o.x), float(o.y)))
        elif o.to == "level":
            if o.level_series:
                level = TimeSeries(units.minutes_to_s(np.array([p.time_min for p in o.level_series])),
                                   np.array([p.level_m for p in o.level_series]), f"outfall {o.node} level")
            else:
                level = float(o.level_m)
            targets[o.node] = OutfallTarget("level", level=level)
        else:
            targets[o.node] = OutfallTarget("outside")
    return SewerCoupling(net, duration_s=duration_s, step_s=spec.coupling_step_s,
                         weir_coefficient=spec.weir_coefficient, orifice_coefficient=spec.orifice_coefficient,
                         outfalls=targets, rim_tolerance_m=spec.rim_tolerance_m, record_step_s=series_step_s)


def _check_inlet_names(net) -> None:
    from ..errors import InputDataError

    unknown = sorted(set(net.inlets) - set(net.node_names()))
    if unknown:
        raise InputDataError(f"{net.source}: [sewer] inlets names node(s) {', '.join(map(repr, unknown[:5]))} that the "
                             "network does not have.")
    outs = [n for n in net.inlets if net.node_kind(n) == "outfall"]
    if outs:
        raise InputDataError(f"{net.source}: [sewer] inlets names outfall {outs[0]!r}; couple junctions or storage "
                             "units (an outfall's discharge goes where [sewer] outfalls says).")
