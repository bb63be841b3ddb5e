"""Exchange of water between surface cells and the stores of measures (tanks, tunnels, outlets).

Two kernels move water between a set of cells and a store, exactly and without negative depths, and
two scalar helpers give the discharge laws of the outlets:

* :func:`take_volume` removes up to a volume from a set of cells, scaling every depth by the same
  factor (so no cell goes negative and the water is taken where it is);
* :func:`spread_volume` spreads a volume evenly over a set of cells;
* :func:`orifice_discharge` ``Q = Cd A sqrt(2 g H)`` and :func:`weir_discharge` ``Q = Cw L H^1.5``.

Both kernels return the volume they actually moved, computed from the depth changes themselves, so
the caller books exactly what the surface lost or gained (the balance closes to round-off).
Cells are flat indices into ``h`` (row-major, ``i * nx + j``); every cell has area ``cell_area``.

References
----------
Brown, S. A., Schall, J. D., Morris, J. L., Doherty, C. L., Stein, S. M. & Warner, J. C. (2013).
*Urban Drainage Design Manual*, Hydraulic Engineering Circular No. 22, 3rd ed. (HEC-22),
FHWA-NHI-10-009, Federal Highway Administration: weir and orifice equations of inlets in sags.
Chow, V. T. (1959). *Open-Channel Hydraulics*. McGraw-Hill, New York: sharp-crested weirs (ch. 14).
"""

from __future__ import annotations

import math

from ._jit import kernel, wide


@kernel
def water_on_cells(h, cells, cell_area):
    """Volume of water on ``cells`` [m³] (depths ``h`` [m], flat cell indices, cell area [m²])."""
    nx = h.shape[1]
    total = 0.0
    for k in range(cells.size):
        c = cells[k]
        i = c // nx
        d = wide(h[i, c - i * nx])
        if d > 0.0:
            total += d
    return total * cell_area


@kernel
def take_volume(h, cells, volume, cell_area):
    """Remove up to ``volume`` [m³] from ``cells`` in place; return the volume removed [m³].

    Every depth is scaled by the same factor ``1 - volume / available`` (all of it when less than
    ``volume`` is present), so no cell goes negative and deeper cells give more. The returned
    volume is the sum of the actual depth changes times ``cell_area``, so it matches the surface
    storage change to round-off. Cells listed twice are a caller error (they would be scaled twice).
    """
    if volume <= 0.0 or cells.size == 0:
        return 0.0
    nx = h.shape[1]
    available = water_on_cells(h, cells, cell_area)
    if available <= 0.0:
        return 0.0
    keep = 0.0 if volume >= available else 1.0 - volume / available
    removed = 0.0
    for k in range(cells.size):
        c = cells[k]
        i = c // nx
        j = c - i * nx
        d = wide(h[i, j])
        if d > 0.0:
            h[i, j] = d * keep
            removed += d - wide(h[i, j])   # as stored (float32 state rounds the new depth)
    return removed * cell_area


@kernel
def spread_volume(h, cells, volume, cell_area):
    """Add ``volume`` [m³] evenly over ``cells`` in place; return the volume added [m³] (from the
    actual depth changes, equal to ``volume`` up to round-off)."""
    if volume <= 0.0 or cells.size == 0:
        return 0.0
    nx = h.shape[1]
    depth = volume / (cells.size * cell_area)
    added = 0.0
    for k in range(cells.size):
        c = cells[k]
        i = c // nx
        j = c - i * nx
        old = wide(h[i, j])
        h[i, j] = old + depth
        added += wide(h[i, j]) - old   # as stored (float32 state rounds the new depth)
    return added * cell_area


@kernel
def orifice_discharge(Cd, area, head, g):
    """Discharge of an orifice ``Q = Cd A sqrt(2 g H)`` [m³/s]; 0 when ``head <= 0``.

    Parameters
    ----------
    Cd : float
        Discharge coefficient [-] (about 0.6 for a sharp-edged orifice; HEC-22 uses 0.67).
    area : float
        Orifice area [m²].
    head : float
        Head over the orifice [m] (water level minus the orifice level).
    g : float
        Gravitational acceleration [m/s²].

    References
    ----------
    HEC-22 (Brown et al. 2013), inlets in sags, orifice equation ``Q = Co A (2 g d)^0.5``.
    """
    if head <= 0.0:
        return 0.0
    return Cd * area * math.sqrt(2.0 * g * head)


@kernel
def weir_discharge(Cw, length, head):
    """Discharge over a weir ``Q = Cw L H^1.5`` [m³/s]; 0 when ``head <= 0``.

    Parameters
    ----------
    Cw : float
        Weir coefficient [m^0.5/s] (SI; about 1.7 for a broad-crested weir, 1.66 in HEC-22 for
        inlets in sags, ``(2/3) Cd sqrt(2 g)`` ≈ 1.84 for a sharp-crested weir with Cd = 0.62).
    length : float
        Crest length [m].
    head : float
        Water level above the crest [m].

    References
    ----------
    HEC-22 (Brown et al. 2013), inlets in sags, weir equation ``Q = Cw P d^1.5``;
    Chow (1959), ch. 14, sharp-crested weirs.
    """
    if head <= 0.0:
        return 0.0
    return Cw * length * head * math.sqrt(head)
