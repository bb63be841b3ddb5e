"""Conservative repair of negative depths on the device: the CPU algorithm, unchanged, in one thread.

:func:`floodsim.kernels.positivity.repair_negative_depths` scales the outflows of each negative cell
and pushes the receivers that go negative in turn onto a stack (last in, first out): the result depends
on that order. It is reproduced exactly: :func:`collect_negatives` (parallel) sets the round-off
negatives in ``[-tol, 0)`` to zero, as the CPU's scan does, and lists the others; the host sorts that
list into the CPU's row-major scan order; :func:`repair` then runs the CPU's loop in a single thread.
Negative depths are rare (a few cells at wet/dry fronts in some steps), so one thread is enough, and
neither the full arrays nor the scan of whole rows leave the device.

Depths ``h`` [m], discharges ``qx``, ``qy`` [m²/s] and ``infil_F`` [m] have the state's dtype (float64, or
float32 for ``precision = "single"``). Every load is widened to float64 and the arithmetic done in float64,
each store rounding once, which is what numba compiles the CPU's code to for float32 arrays (it promotes
``float32 * float64``); the explicit :data:`~floodsim.kernels.cuda.physics.wide` also makes the CUDA
simulator, where NumPy would keep ``float32 * python float`` in float32, compute the same.

In single precision the repair also measures the water its float32 stores add or lose, for the volume
balance's ``rounding`` term (``out[2]``, [m] of depth): the rounding of each depth it stores (a
receiver's new depth, the water a fully stopped cell keeps) and, without infiltration, the excess of a
cell's deficit over its outflows, which in float32 is the rounding of the negative depth that the
depth update stored (the depth update ledgered that rounding; setting the cell to zero undoes it). The
CPU's :func:`~floodsim.kernels.positivity.repair_negative_depths` does not (yet) keep this ledger, so in
steps with repairs the CPU's single-precision closure error is ~1e-9 of the volume where the device's
stays at double round-off (tests/cuda/test_cuda_single.py). In double precision ``out[2]`` is 0.
"""

from __future__ import annotations

from numba import cuda

from .physics import wide

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
        if wide(h[i, j]) < 0.0 and active[i, j]:
            if wide(h[i, j]) >= -tol:
                h[i, j] = 0.0
            else:
                k = cuda.atomic.add(count, 0, 1)
                stack[k] = c


@cuda.jit(device=True)
def _scale_outflow(h, qx, qy, active, infil_F, i, j, dt, dx, dy, tol, stop_all, stack, top, single):
    """:func:`floodsim.kernels.positivity._scale_outflow`: scale the outflows of cell (i, j) so its depth
    becomes zero; returns (top, boundary volume no longer leaving [m³], infiltration given back [m³],
    rounding of the float32 stores [m], 0 unless ``single``)."""
    ny, nx = h.shape
    area = dx * dy
    out_w = max(-wide(qx[i, j]), 0.0) * dy * dt
    out_e = max(wide(qx[i, j + 1]), 0.0) * dy * dt
    out_n = max(-wide(qy[i, j]), 0.0) * dx * dt
    out_s = max(wide(qy[i + 1, j]), 0.0) * dx * dt
    total = out_w + out_e + out_n + out_s
    deficit = -wide(h[i, j]) * area
    h[i, j] = 0.0
    uninfiltrated = 0.0
    has_infiltration = infil_F.shape[0] > 1 or infil_F.shape[1] > 1
    if deficit > total and has_infiltration:
        uninfiltrated = deficit - total
        infil_F[i, j] = wide(infil_F[i, j]) - uninfiltrated / area
    rounded = 0.0
    if single and deficit > total and not has_infiltration:
        rounded = (deficit - total) / area
    if total <= 0.0:
        return top, 0.0, uninfiltrated, rounded
    frac = 1.0 if stop_all else min(deficit / total, 1.0)
    if stop_all and deficit < total:
        kept = (total - deficit) / area
        h[i, j] = kept
        if single:
            rounded += wide(h[i, j]) - kept
    keep = 1.0 - frac
    boundary = 0.0
    for s in range(4):
        if s == 0:
            out = out_w
            ni = i
            nj = j - 1
            if out > 0.0:
                qx[i, j] = wide(qx[i, j]) * keep
        elif s == 1:
            out = out_e
            ni = i
            nj = j + 1
            if out > 0.0:
                qx[i, j + 1] = wide(qx[i, j + 1]) * keep
        elif s == 2:
            out = out_n
            ni = i - 1
            nj = j
            if out > 0.0:
                qy[i, j] = wide(qy[i, j]) * keep
        else:
            out = out_s
            ni = i + 1
            nj = j
            if out > 0.0:
                qy[i + 1, j] = wide(qy[i + 1, j]) * keep
        if out <= 0.0:
            continue
        removed = out * frac
        if 0 <= ni and ni < ny and 0 <= nj and nj < nx and active[ni, nj]:
            before = wide(h[ni, nj])
            after = before - removed / area
            if after < -tol:
                h[ni, nj] = after
                if single:
                    rounded += wide(h[ni, nj]) - after
                if before >= -tol:
                    stack[top] = ni * nx + nj
                    top += 1
            else:
                h[ni, nj] = max(after, 0.0)  # below zero: a round-off residue, not water
                if single and after > 0.0:
                    rounded += wide(h[ni, nj]) - after
        else:
            boundary += removed
    return top, boundary, uninfiltrated, rounded


@cuda.jit
def repair(h, qx, qy, active, infil_F, n_start, dt, dx, dy, tol, stack, touched, visits, single, out):
    """:func:`floodsim.kernels.positivity.repair_negative_depths` from its stack of ``n_start`` cells
    (row-major order, as the CPU's scan pushes them). Run with one thread. ``out`` receives the
    boundary volume no longer leaving [m³], the infiltration given back [m³] and, when ``single`` (float32
    state), the rounding of its stores [m] (see the module docstring); ``out[0] = -1`` signals a broken
    state (the stack overflowed, e.g. NaN depths). ``visits`` is all zero on entry and on return.
    """
    if cuda.grid(1) != 0:
        return
    ny, nx = h.shape
    top = n_start
    boundary = 0.0
    uninfiltrated = 0.0
    rounding = 0.0
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
        if wide(h[i, j]) >= 0.0:
            continue
        if wide(h[i, j]) >= -tol:
            h[i, j] = 0.0
            continue
        if visits[c] == 0:
            touched[n_touched] = c
            n_touched += 1
        if visits[c] < 255:
            visits[c] += 1
        top, removed, given_back, r = _scale_outflow(h, qx, qy, active, infil_F, i, j, dt, dx, dy, tol,
                                                  visits[c] >= MAX_VISITS, stack, top, single)
        boundary += removed
        uninfiltrated += given_back
        rounding += r
    for k in range(n_touched):
        visits[touched[k]] = 0
    if broken:
        out[0] = -1.0
        out[1] = 0.0
        out[2] = 0.0
    else:
        out[0] = boundary
        out[1] = uninfiltrated
        out[2] = rounding
