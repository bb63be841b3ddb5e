"""Conservative repair of negative depths.

The explicit scheme can, at a wet/dry front, take more water out of a cell in one step than it holds.
Clipping the depth to zero would create water. Instead the outflows of such a cell are scaled down
until its depth is zero, and the water that no longer arrives is taken off the receiving cells (which
may in turn need repair). A receiving cell that has already infiltrated everything it held and has
no outflow left to scale gets the missing water back from this step's infiltration (it never
arrived, so it never soaked in); that deficit is at most the cell's infiltration of the step. The stored face fluxes are the scaled ones, so the next step sees consistent
discharges. Volume is conserved to round-off. In a loop of rotational flow the minimal scaling only
converges geometrically, so a cell repaired ``MAX_VISITS`` times in one call has all its outflows
stopped, which ends the loop in a finite number of steps without creating water. Deficits smaller than
``tol`` are round-off residues and are set to zero.
"""

from __future__ import annotations

from ._jit import is_single, kernel, wide

#: Repairs of one cell within one call after which all its outflows are stopped (ends flow loops).
MAX_VISITS = 8


@kernel
def _scale_outflow(h, qx, qy, active, infil_F, i, j, dt, dx, dy, tol, stop_all, stack, top):
    """Scale the outflows of cell (i, j) so its depth becomes zero.

    Returns (top, boundary volume no longer leaving [m³], infiltration volume given back [m³], the
    depth float32 storage added by rounding [m] (0 in double precision; see
    :func:`floodsim.kernels.continuity.update_depth`))."""
    ny, nx = h.shape
    area = dx * dy
    out_w = max(-qx[i, j], 0.0) * dy * dt
    out_e = max(qx[i, j + 1], 0.0) * dy * dt
    out_n = max(-qy[i, j], 0.0) * dx * dt
    out_s = max(qy[i + 1, j], 0.0) * dx * dt
    total = out_w + out_e + out_n + out_s
    deficit = -wide(h[i, j]) * area
    h[i, j] = 0.0
    uninfiltrated = 0.0
    rounded = 0.0
    has_infiltration = infil_F.shape[0] > 1 or infil_F.shape[1] > 1
    if deficit > total and has_infiltration:
        # no outflow can cover the rest: it is water this cell infiltrated but never received
        uninfiltrated = deficit - total
        infil_F[i, j] -= uninfiltrated / area
    elif deficit > total and is_single(h):
        # without infiltration, deficit > total only by round-off: in single precision the stored
        # depth's rounding, which the balance keeps as such
        rounded += (deficit - total) / area
    if total <= 0.0:
        return top, 0.0, uninfiltrated, rounded
    frac = 1.0 if stop_all else min(deficit / total, 1.0)  # share of each outflow that cannot leave
    if stop_all and deficit < total:
        kept = (total - deficit) / area
        h[i, j] = kept  # stopping every outflow keeps some water here
        if is_single(h):
            rounded += wide(h[i, j]) - kept
    keep = 1.0 - frac
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
        removed = out * frac
        if 0 <= ni < ny and 0 <= nj < nx and active[ni, nj]:
            before = wide(h[ni, nj])
            after = before - removed / area
            if after < -tol:
                h[ni, nj] = after
                if is_single(h):
                    rounded += wide(h[ni, nj]) - after
                if before >= -tol:
                    stack[top] = ni * nx + nj
                    top += 1
            else:
                h[ni, nj] = max(after, 0.0)  # a round-off residue, not water
                if is_single(h) and after > 0.0:
                    rounded += wide(h[ni, nj]) - after
        else:
            boundary += removed
    return top, boundary, uninfiltrated, rounded


@kernel
def repair_negative_depths(h, qx, qy, active, infil_F, row_negative, dt, dx, dy, tol, stack, touched, visits):
    """Remove every negative depth by scaling outflows (see the module docstring).

    Parameters
    ----------
    h : (ny, nx) float64
        Depth [m] after the continuity update (in/out).
    qx, qy : float64
        Face discharges of the step [m²/s] (in/out: outflows of repaired cells are scaled).
    active : (ny, nx) uint8
        Active-cell mask.
    infil_F : (ny, nx) or (1, 1) float64
        Cumulative infiltration [m] (in/out); (1, 1) when there is no infiltration.
    row_negative : (ny,) int64
        Count of negative depths per row from the continuity kernel; only rows with a count are scanned.
    dt, dx, dy : float
        Step [s] and cell sizes [m].
    tol : float
        Depths in ``[-tol, 0)`` are round-off and are set to zero without further repair [m].
    stack, touched : (ny * nx + 8,) int32
        Scratch space.
    visits : (ny * nx,) uint8
        Scratch, all zero on entry and on return.

    Returns
    -------
    (float, float, float)
        Volume [m³] that the boundary kernel counted as outflow but no longer leaves, and volume given
        back from infiltration; the caller subtracts them from those balance terms. A boundary volume
        of -1.0 signals a broken state (the scratch stack overflowed, e.g. because depths are NaN).
        Third, in single precision, the depth [m] that storing the repaired depths in float32 added by
        rounding, summed over the cells (the balance's ``rounding``; 0 in double precision).
    """
    ny, nx = h.shape
    top = 0
    for i in range(ny):
        if row_negative[i] == 0:
            continue
        for j in range(nx):
            if h[i, j] < 0.0 and active[i, j]:
                if h[i, j] >= -tol:
                    h[i, j] = 0.0
                else:
                    stack[top] = i * nx + j
                    top += 1
    boundary = 0.0
    uninfiltrated = 0.0
    rounded = 0.0
    n_touched = 0
    broken = False
    while top > 0:
        if top + 4 >= stack.size:
            broken = True
            break
        top -= 1
        c = stack[top]
        i = c // nx
        j = c - i * nx
        if h[i, j] >= 0.0:
            continue
        if h[i, j] >= -tol:
            h[i, j] = 0.0
            continue
        if visits[c] == 0:
            touched[n_touched] = c
            n_touched += 1
        if visits[c] < 255:
            visits[c] += 1
        top, removed, given_back, r = _scale_outflow(h, qx, qy, active, infil_F, i, j, dt, dx, dy, tol,
                                                     visits[c] >= MAX_VISITS, stack, top)
        boundary += removed
        uninfiltrated += given_back
        rounded += r
    for k in range(n_touched):
        visits[touched[k]] = 0
    if broken:
        return -1.0, 0.0, 0.0
    return boundary, uninfiltrated, rounded
