"""Sparse sources: inflow hydrographs on a set of cells, and roof rain routed to the ground."""

from __future__ import annotations

from ._jit import kernel


@kernel
def add_depth(h, cells, depth):
    """Add ``depth`` [m] to each cell in ``cells`` (flat indices into ``h``), in place."""
    nx = h.shape[1]
    for k in range(cells.size):
        c = cells[k]
        i = c // nx
        h[i, c - i * nx] += depth


@kernel
def route_roof_rain(h, roof_src, roof_dst, rain_rate, rain_field, dt):
    """Put the rain that fell on each roof cell ``roof_src[k]`` onto ground cell ``roof_dst[k]``.

    ``rain_field`` (1, 1) means the uniform ``rain_rate`` [m/s] applies; otherwise the rain at the
    roof cell. Flat indices; the cells are assumed to have the same area.
    """
    ny, nx = h.shape
    uniform = rain_field.shape[0] == 1 and rain_field.shape[1] == 1
    for k in range(roof_src.size):
        s = roof_src[k]
        d = roof_dst[k]
        si = s // nx
        di = d // nx
        rate = rain_rate if uniform else rain_field[si, s - si * nx]
        h[di, d - di * nx] += rate * dt
