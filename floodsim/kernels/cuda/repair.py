"""Conservative repair of negative depths on the device: the CPU algorithm, unchanged, in one thread.

:func:`floodsim.kernels.positivity.repair_negative_depths` scales the outflows of each negative cell
and pushes the receivers that go negative in turn onto a stack (last in, first out): the result depends
on that order. It is reproduced exactly: :func:`collect_negatives` (parallel) sets the round-off
negatives in ``[-tol, 0)`` to zero, as the CPU's scan does, and lists the others; the host sorts that
list into the CPU's row-major scan order; :func:`repair` then runs the CPU's loop in a single thread.
Negative depths are rare (a few cells at wet/dry fronts in some steps), so one thread is enough, and
neither the full arrays nor the scan of whole rows leave the device.
"""

from __future__ import annotations

from numba import cuda

#: Repairs of one cell within one call after which all its outflows are stopped (as the CPU's).
MAX_VISITS = 8


@cuda.jit
def collect_negatives(h, active, tol, stack, count):
    """Zero the depths in ``[-tol, 0)`` [m]; append the flat index of each deeper negative active cell to
    ``stack`` (unordered) and count them in ``count[0]``."""
    ny, nx = h.shape
    for c in range(cuda.grid(1), ny * nx, cuda.gridsize(1)):
        i = c // nx
        j = c - i * nx
        if h[i, j] < 0.0 and active[i, j]:
            if h[i, j] >= -tol:
                h[i, j] = 0.0
            else:
                k = cuda.atomic.add(count, 0, 1)
                stack[k] = c


@cuda.jit(device=True)
def _scale_outflow(h, qx, qy, active, infil_F, i, j, dt, dx, dy, tol, stop_all, stack, top):
    """:func:`floodsim.kernels.positivity._scale_outflow`: scale the outflows of cell (i, j) so its depth
    becomes zero; returns (top, boundary volume no longer leaving [m³], infiltration given back [m³])."""
    ny, nx = h.shape
    area = dx * dy
    out_w = max(-qx[i, j], 0.0) * dy * dt
    out_e = max(qx[i, j + 1], 0.0) * dy * dt
    out_n = max(-qy[i, j], 0.0) * dx * dt
    out_s = max(qy[i + 1, j], 0.0) * dx * dt
    total = out_w + out_e + out_n + out_s
    deficit = -h[i, j] * area
    h[i, j] = 0.0
    uninfiltrated = 0.0
    has_infiltration = infil_F.shape[0] > 1 or infil_F.shape[1] > 1
    if deficit > total and has_infiltration:
        uninfiltrated = deficit - total
        infil_F[i, j] -= uninfiltrated / area
    if total <= 0.0:
        return top, 0.0, uninfiltrated
    frac = 1.0 if stop_all else min(deficit / total, 1.0)
    if stop_all and deficit < total:
        h[i, j] = (total - deficit) / area
    keep = 1.0 - frac
    boundary = 0.0
    for s in range(4):
        if s == 0:
            out = out_w
            ni = i
            nj = j - 1
            if out > 0.0:
                qx[i, j] *= keep
        elif s == 1:
            out = out_e
            ni = i
            nj = j + 1
            if out > 0.0:
                qx[i, j + 1] *= keep
        elif s == 2:
            out = out_n
            ni = i - 1
            nj = j
            if out > 0.0:
                qy[i, j] *= keep
        else:
            out = out_s
            ni = i + 1
            nj = j
            if out > 0.0:
                qy[i + 1, j] *= keep
        if out <= 0.0:
            continue
        removed = out * frac
        if 0 <= ni and ni < ny and 0 <= nj and nj < nx and active[ni, nj]:
            before = h[ni, nj]
            after = before - removed / area
            if after < -tol:
                h[ni, nj] = after
                if before >= -tol:
                    stack[top] = ni * nx + nj
                    top += 1
            else:
                h[ni, nj] = max(after, 0.0)
        else:
            boundary += removed
    return top, boundary, uninfiltrated


@cuda.jit
def repair(h, qx, qy, active, infil_F, n_start, dt, dx, dy, tol, stack, touched, visits, out):
    """:func:`floodsim.kernels.positivity.repair_negative_depths` from its stack of ``n_start`` cells
    (row-major order, as the CPU's scan pushes them). Run with one thread. ``out`` receives the
    boundary volume no longer leaving [m³] and the infiltration given back [m³]; ``out[0] = -1`` signals a
    broken state (the stack overflowed, e.g. NaN depths). ``visits`` is all zero on entry and on return.
    """
    if cuda.grid(1) != 0:
        return
    ny, nx = h.shape
    top = n_start
    boundary = 0.0
    uninfiltrated = 0.0
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
        top, removed, given_back = _scale_outflow(h, qx, qy, active, infil_F, i, j, dt, dx, dy, tol,
                                                  visits[c] >= MAX_VISITS, stack, top)
        boundary += removed
        uninfiltrated += given_back
    for k in range(n_touched):
        visits[touched[k]] = 0
    if broken:
        out[0] = -1.0
        out[1] = 0.0
    else:
        out[0] = boundary
        out[1] = uninfiltrated
