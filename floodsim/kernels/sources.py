"""Sparse sources: inflow hydrographs on a set of cells, and roof rain routed to the ground."""

from __future__ import annotations

import math

from ._jit import is_single, kernel, real, wide
from .fastmath import mul_add


@kernel
def add_depth(h, cells, depth):
    """Add ``depth`` [m] to each cell in ``cells`` (flat indices into ``h``), in place.

    Returns the depth the float32 storage added by rounding, summed over the cells [m] (stored minus
    intended; 0 in double precision), for the volume balance's ``rounding``."""
    nx = h.shape[1]
    rounded = 0.0
    for k in range(cells.size):
        c = cells[k]
        i = c // nx
        j = c - i * nx
        new = wide(h[i, j]) + depth
        h[i, j] = new
        if is_single(h):
            rounded += wide(h[i, j]) - new
    return rounded


@kernel
def route_uniform_roof_rain(h, cells, roofs, rain_rate, dt):
    """Put uniform rain ``rain_rate`` [m/s] of ``roofs[k]`` roof cells onto ground cell ``cells[k]``
    (flat indices), one roof at a time: the same additions, in the same order per cell, as
    :func:`route_roof_rain` with the roof-to-ground pairs, without holding a pair per roof cell.
    Returns the rounding of float32 storage as :func:`add_depth` does."""
    nx = h.shape[1]
    rounded = 0.0
    for k in range(cells.size):
        c = cells[k]
        i = c // nx
        j = c - i * nx
        for _ in range(roofs[k]):
            # h + rate·dt fused as route_roof_rain's (there the product varies per roof; here LLVM would
            # hoist it out of the loop and round it on its own)
            new = mul_add(rain_rate, dt, wide(h[i, j]))
            h[i, j] = new
            if is_single(h):
                rounded += wide(h[i, j]) - new
    return rounded


@kernel
def route_roof_rain(h, roof_src, roof_dst, rain_rate, rain_field, dt):
    """Put the rain that fell on each roof cell ``roof_src[k]`` onto ground cell ``roof_dst[k]``.

    ``rain_field`` (1, 1) means the uniform ``rain_rate`` [m/s] applies; otherwise the rain at the
    roof cell. Flat indices; the cells are assumed to have the same area. Returns the rounding of
    float32 storage as :func:`add_depth` does.
    """
    ny, nx = h.shape
    uniform = rain_field.shape[0] == 1 and rain_field.shape[1] == 1
    rounded = 0.0
    for k in range(roof_src.size):
        s = roof_src[k]
        d = roof_dst[k]
        si = s // nx
        di = d // nx
        dj = d - di * nx
        rate = rain_rate if uniform else rain_field[si, s - si * nx]
        new = wide(h[di, dj]) + rate * dt
        h[di, dj] = new
        if is_single(h):
            rounded += wide(h[di, dj]) - new
    return rounded


@kernel
def mark_wet_bands(h, cells, band_rows, hmin, g, band_wet, band_wave):
    """Update band wet flags and Courant wave speeds after water was added to ``cells``.

    Sources applied after the continuity kernel (inflows, roof rain) must make their bands count as
    wet for the next step's band selection and time step, or water could sit in a skipped band.
    """
    nx = h.shape[1]
    for k in range(cells.size):
        c = cells[k]
        i = c // nx
        depth = h[i, c - i * nx]
        if depth > real(hmin, h):   # compared in the state's precision, as the depth update does
            b = i // band_rows
            band_wet[b] = 1
            band_wave[b] = max(band_wave[b], math.sqrt(g * wide(depth)))
