"""Exchange of water between surface cells and the manholes/inlets of a sewer network (dual drainage).

One kernel, :func:`exchange_step`, moves water over one 2-D step between each coupled node and the
surface cell above it, in place, and returns the signed volume per node (positive: surface → network).
The discharge laws (per node, ``g`` gravity, ``z`` the cell's ground, ``h`` its depth, ``Hs = z + h``
the surface head, ``Hn`` the node's head from SWMM):

* ``Hn <= z`` (node below the ground, free inflow): ``Q = min(Cw L h^1.5, Co A sqrt(2 g h))`` — the
  weir law of a grate's perimeter ``L`` at shallow depth, the orifice law of its open area ``A`` when
  deep (HEC-22 sag inlets: Brown et al. 2013, eqs. 4-26 and 4-27, ``Cw`` 1.66 m^0.5/s SI);
* ``z < Hn < Hs`` (submerged): ``Q = min(Cw L h^1.5, Co A sqrt(2 g (Hs - Hn)))``;
* ``Hn >= Hs`` (surcharge): ``Q = -Co A sqrt(2 g (Hn - Hs))`` — water out of the manhole onto the cell.

Limits: the intake is capped by the inlet's capacity ``qcap`` [m³/s], by the water the cell holds
(``h * cell_area``: never more than the cell holds) and by the head difference, so the cell is never
drawn below the node head (``(Hs - max(Hn, z)) * cell_area``). The outflow is capped by the water the
network can still give at that node in the current coupling step (``avail`` [m³], decremented) and by
``(Hn - Hs) * cell_area`` (the cell is never raised above the node head). Arrays are float64 except
the int64 cell indices; depths m, heads m, volumes m³, rates m³/s, times s.
"""

from __future__ import annotations

import math

from ._jit import is_single, kernel, wide


@kernel
def exchange_step(h, z, cell_i, cell_j, node_head, length, area, qcap, cw, co, avail, dt, g, cell_area,
                  volume):
    """Exchange over one step of ``dt`` seconds; ``volume[k]`` += signed volume moved at node ``k``
    (positive into the network). Returns (total into the network, total out of it) [m³], both >= 0."""
    total_in = 0.0
    total_out = 0.0
    for k in range(cell_i.size):
        i = cell_i[k]
        j = cell_j[k]
        d = wide(h[i, j])
        if d < 0.0:
            d = 0.0
        ground = wide(z[i, j])
        hs = ground + d
        hn = node_head[k]
        if hn < hs:
            if d <= 0.0:
                continue
            weir = cw * length[k] * d * math.sqrt(d)
            drop = hs - hn if hn > ground else d
            orifice = co * area[k] * math.sqrt(2.0 * g * drop)
            q = weir if weir < orifice else orifice
            if q > qcap[k]:
                q = qcap[k]
            v = q * dt
            room = (hs - (hn if hn > ground else ground)) * cell_area
            if v > room:
                v = room
            if v > d * cell_area:
                v = d * cell_area
            if v <= 0.0:
                continue
            h[i, j] = d - v / cell_area
            if is_single(h):   # the volume as stored (float32 rounds the new depth)
                v = (d - wide(h[i, j])) * cell_area
            volume[k] += v
            total_in += v
        elif hn > hs:
            q = co * area[k] * math.sqrt(2.0 * g * (hn - hs))
            v = q * dt
            room = (hn - hs) * cell_area
            if v > room:
                v = room
            if v > avail[k]:
                v = avail[k]
            if v <= 0.0:
                continue
            h[i, j] = d + v / cell_area
            if is_single(h):
                v = (wide(h[i, j]) - d) * cell_area
            avail[k] -= v
            volume[k] -= v
            total_out += v
    return total_in, total_out


@kernel
def add_on_cells(h, cell_i, cell_j, volume, cell_area):
    """Put ``volume[k]`` [m³] (>= 0) on cell ``(cell_i[k], cell_j[k])``; return the total [m³]."""
    total = 0.0
    for k in range(cell_i.size):
        v = volume[k]
        if v > 0.0:
            old = wide(h[cell_i[k], cell_j[k]])
            h[cell_i[k], cell_j[k]] = old + v / cell_area
            if is_single(h):
                v = (wide(h[cell_i[k], cell_j[k]]) - old) * cell_area
            total += v
    return total
