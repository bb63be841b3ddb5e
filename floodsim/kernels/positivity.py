"""Conservative repair of negative depths.

The explicit scheme can, at a wet/dry front, take more water out of a cell in one step than it holds.
Clipping the depth to zero would create water. Instead the outflows of such a cell are scaled down
until its depth is exactly zero, and the water that no longer arrives is taken off the receiving
cells (which may in turn need repair). Volume is conserved to round-off. The stored face fluxes are
the scaled ones, so the next step sees consistent discharges.
"""

from __future__ import annotations

from ._jit import kernel


@kernel
def _scale_outflow(h, qx, qy, active, i, j, dt, dx, dy, stack, top):
    """Scale the outflows of cell (i, j) so that its depth becomes zero; return (top, boundary dV)."""
    ny, nx = h.shape
    area = dx * dy
    # outgoing volumes through W, E, N, S faces
    out_w = max(-qx[i, j], 0.0) * dy * dt
    out_e = max(qx[i, j + 1], 0.0) * dy * dt
    out_n = max(-qy[i, j], 0.0) * dx * dt
    out_s = max(qy[i + 1, j], 0.0) * dx * dt
    total = out_w + out_e + out_n + out_s
    deficit = -h[i, j] * area
    if total <= 0.0:
        return top, 0.0
    keep = max(1.0 - deficit / total, 0.0)
    boundary = 0.0
    for s in range(4):
        if s == 0:
            out = out_w
            ni, nj = i, j - 1
            if out > 0.0:
                qx[i, j] *= keep
        elif s == 1:
            out = out_e
            ni, nj = i, j + 1
            if out > 0.0:
                qx[i, j + 1] *= keep
        elif s == 2:
            out = out_n
            ni, nj = i - 1, j
            if out > 0.0:
                qy[i, j] *= keep
        else:
            out = out_s
            ni, nj = i + 1, j
            if out > 0.0:
                qy[i + 1, j] *= keep
        if out <= 0.0:
            continue
        removed = out * (1.0 - keep)
        if 0 <= ni < ny and 0 <= nj < nx and active[ni, nj]:
            before = h[ni, nj]
            h[ni, nj] = before - removed / area
            if before >= 0.0 and h[ni, nj] < 0.0:
                stack[top] = ni * nx + nj
                top += 1
        else:
            boundary += removed
    h[i, j] = 0.0
    return top, boundary


@kernel
def repair_negative_depths(h, qx, qy, active, band_start, band_negative, dt, dx, dy, stack):
    """Remove every negative depth by scaling outflows; return the boundary outflow removed [m³].

    Parameters
    ----------
    h : (ny, nx) float64
        Depth [m] after the continuity update (in/out).
    qx, qy : float64
        Face discharges of the step [m²/s] (in/out: outflows of repaired cells are scaled).
    active : (ny, nx) uint8
        Active-cell mask.
    band_start, band_negative : int64
        Band rows and the count of negative cells per band from the continuity kernel.
    dt, dx, dy : float
        Step [s] and cell sizes [m].
    stack : (ny * nx,) int64
        Scratch space.

    Returns
    -------
    float
        Volume [m³] that was counted as boundary outflow by the boundary kernel but no longer leaves;
        the caller subtracts it from the boundary outflow. Returns -1.0 if the scratch stack overflowed
        (which would indicate a broken state, e.g. NaN depths).
    """
    ny, nx = h.shape
    top = 0
    for b in range(band_start.size - 1):
        if band_negative[b] == 0:
            continue
        for i in range(band_start[b], band_start[b + 1]):
            for j in range(nx):
                if h[i, j] < 0.0 and active[i, j]:
                    stack[top] = i * nx + j
                    top += 1
    boundary = 0.0
    while top > 0:
        top -= 1
        c = stack[top]
        i = c // nx
        j = c - i * nx
        if h[i, j] >= 0.0:
            continue
        if top + 4 >= stack.size:
            return -1.0
        top, removed = _scale_outflow(h, qx, qy, active, i, j, dt, dx, dy, stack, top)
        boundary += removed
    return boundary
