"""Fluxes through boundary faces: free outflow (normal depth or critical) and a water level.

Each boundary face is described by the cell it belongs to and the side of that cell (0 west,
1 east, 2 north, 3 south). ``q_out`` below is the discharge *leaving* the domain [m²/s]; it is
stored into ``qx``/``qy`` with the grid's sign convention (positive east/south), so a west or
north outflow is stored negative.
"""

from __future__ import annotations

import math

from ._jit import kernel, wide
from .fastmath import inv_pow_7_3
from .inertial import implicit_friction

WEST, EAST, NORTH, SOUTH = 0, 1, 2, 3
FREE_NORMAL, CRITICAL, LEVEL = 1, 2, 3


@kernel
def level_boundary_flux(q_out_old, eta_cell, z_cell, eta_outside, n, dt, dl, g, hmin):
    """Outflow [m²/s] towards a ghost cell held at water level ``eta_outside`` [m].

    The local-inertial face flux (Bates et al. 2010, friction implicit as in
    :func:`floodsim.kernels.inertial.almeida_flux`) between the cell and a ghost cell one cell length
    ``dl`` away with the same bed level; negative values are inflow into the domain.
    """
    hf = max(eta_cell, eta_outside) - z_cell
    a = q_out_old - g * hf * dt * (eta_outside - eta_cell) / dl
    b = g * dt * n * n * inv_pow_7_3(hf)
    return implicit_friction(a, b) if hf > hmin else 0.0


@kernel
def normal_depth_flux(q_out_old, depth, slope, n, dt, g, hmin):
    """Outflow [m²/s] for a water surface falling at ``slope`` beyond the edge (normal depth).

    The local-inertial update with the surface gradient fixed at ``slope`` and implicit friction; its
    steady state is Manning's normal flow ``q = h^(5/3) sqrt(slope) / n``. Never negative (no inflow).
    """
    a = max(q_out_old, 0.0) + g * depth * dt * slope
    b = g * dt * n * n * inv_pow_7_3(depth)
    return implicit_friction(a, b) if depth > hmin else 0.0


@kernel
def critical_depth_flux(depth, g, hmin):
    """Outflow [m²/s] ``q = h sqrt(g h)`` for flow leaving at critical depth (a free overfall)."""
    return depth * math.sqrt(g * depth) if depth > hmin else 0.0


@kernel
def apply_boundary_fluxes(
    z, h, manning, qx, qy, cell_i, cell_j, side, kind, slope, level, dt, dx, dy, g, hmin,
):
    """Compute every boundary face's flux, write it into ``qx``/``qy`` and return volumes.

    Parameters
    ----------
    z, h : (ny, nx) float64
        Bed elevation and depth [m].
    manning : (ny, nx) or (1, 1) float64
        Manning's n [s m^-1/3].
    qx, qy : float64
        Face discharges [m²/s] (out at the listed faces).
    cell_i, cell_j, side, kind : (m,) int64
        Cell, side (0 W, 1 E, 2 N, 3 S) and kind (1 normal depth, 2 critical, 3 level) per face.
    slope : (m,) float64
        Energy slope beyond the edge for kind 1 [-].
    level : (m,) float64
        Outside water level for kind 3 [m] at this step.
    dt, dx, dy, g, hmin : float
        Step [s], cell sizes [m], gravity [m/s²], wet threshold [m].

    Returns
    -------
    (float, float)
        Volume leaving and volume entering through the boundary during the step [m³].
    """
    uniform_n = manning.shape[0] == 1 and manning.shape[1] == 1
    vol_out = 0.0
    vol_in = 0.0
    for k in range(cell_i.size):
        i = cell_i[k]
        j = cell_j[k]
        s = side[k]
        n = manning[0, 0] if uniform_n else manning[i, j]
        if s == WEST:
            q_old = -wide(qx[i, j])
        elif s == EAST:
            q_old = wide(qx[i, j + 1])
        elif s == NORTH:
            q_old = -wide(qy[i, j])
        else:
            q_old = wide(qy[i + 1, j])
        dl = dx if s <= EAST else dy
        width = dy if s <= EAST else dx
        depth = wide(h[i, j])
        if kind[k] == LEVEL:
            q_out = level_boundary_flux(q_old, wide(z[i, j]) + depth, wide(z[i, j]), level[k], n, dt, dl, g, hmin)
        elif kind[k] == FREE_NORMAL:
            q_out = normal_depth_flux(q_old, depth, slope[k], n, dt, g, hmin)
        else:
            q_out = critical_depth_flux(depth, g, hmin)
        # the volume is counted from the discharge as stored (rounded once in single precision), which
        # is what the depth update takes out of the cell
        if s == WEST:
            qx[i, j] = -q_out
            q_out = -wide(qx[i, j])
        elif s == EAST:
            qx[i, j + 1] = q_out
            q_out = wide(qx[i, j + 1])
        elif s == NORTH:
            qy[i, j] = -q_out
            q_out = -wide(qy[i, j])
        else:
            qy[i + 1, j] = q_out
            q_out = wide(qy[i + 1, j])
        if q_out > 0.0:
            vol_out += q_out * width * dt
        else:
            vol_in -= q_out * width * dt
    return vol_out, vol_in
