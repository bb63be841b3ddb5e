"""Depth update from the flux divergence plus rain and infiltration, and the run's max statistics.

See :mod:`floodsim.kernels.inertial` for the staggered grid and sign convention.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import (
    MASKED_STORES,
    is_single,
    kernel,
    parallel_kernel,
    prange,
    real,
    sum_kernel,
    thread_slot,
    wide,
)
from .fastmath import count_if, freeze, from_bits, magnitude_bits
from .hydrology import infiltration_increment

#: Speed statistics are recorded only where the depth exceeds this multiple of the wet threshold
#: (1 cm for the default 1 mm). In a cell that has only just become wet, the cell-centre speed
#: q / h divides a discharge driven by a deeper neighbour by a film depth and is meaningless
#: (tens of m/s); the flow itself is unaffected.
SPEED_DEPTH_FACTOR = 10.0


@parallel_kernel
def update_depth(
    h, qx, qy, active, band_start, computed,
    rain_rate, rain_field,
    infil_model, infil_F, infil_p1, infil_p2, infil_p3,
    dt, dx, dy, g, hmin, t_new, h_max, v2_max, t_hmax,
    band_wet, band_wave, band_infil, band_round, row_negative, work,
):
    """Advance the depth ``h`` by one step, in place, band by band, and fold the result into the maxima.

    ``h += dt * (-(div q)) + rain * dt - infiltration``, where infiltration is limited to the water
    present after the flux and rain update. Negative depths are not clipped here (that would destroy
    volume); they are counted in ``row_negative`` and fixed conservatively by
    :func:`floodsim.kernels.positivity.repair_negative_depths`.

    Parameters
    ----------
    h : (ny, nx) float64
        Water depth [m] (in/out).
    qx, qy : float64
        Face discharges [m²/s] for this step (read only).
    active : (ny, nx) uint8
        1 for cells that hold water; inactive cells stay dry.
    band_start : (nbands + 1,) int64
        First row of each band.
    computed : (nbands,) uint8
        1 where the band's fluxes were updated this step; elsewhere all its faces are zero and the
        divergence is skipped.
    rain_rate : float
        Uniform rainfall intensity [m/s], used when ``rain_field`` is (1, 1).
    rain_field : (ny, nx) or (1, 1) float64
        Rainfall intensity per cell [m/s].
    infil_model : int
        0 none, 1 Green–Ampt, 2 Horton (see :mod:`floodsim.kernels.hydrology`).
    infil_F : (ny, nx) or (1, 1) float64
        Cumulative infiltrated depth [m] (in/out; ignored when ``infil_model`` is 0).
    infil_p1, infil_p2, infil_p3 : (ny, nx) or (1, 1) float64
        Model parameters, SI (Green–Ampt: ks [m/s], psi*dtheta [m]; Horton: f0, fc [m/s], k [1/s]).
    dt, dx, dy, g, hmin : float
        Step [s], cell sizes [m], gravity [m/s²], wet threshold [m].
    t_new : float
        Time at the end of the step [s].
    h_max, v2_max, t_hmax : (ny, nx) float32
        Running maximum depth [m], squared speed [m²/s²] and time of maximum depth [s] (in/out); see
        :func:`record_max_row` for what is folded in.
    band_wet : (nbands,) uint8
        Out: 1 where any cell of the band is deeper than ``hmin``.
    band_wave : (nbands,) float64
        Out: Courant speed of the band [m/s]: the max over its rows of ``sqrt(g h_deepest) +
        u_fastest`` (deepest and fastest cell of the row), an upper bound of
        ``max(|u| + sqrt(g h))`` over its cells, where ``u`` is a cell's largest face discharge over
        its depth (cells deeper than ``SPEED_DEPTH_FACTOR * hmin``). Bates et al. (2010, eq. 12) use
        ``sqrt(g h)`` alone; the flow speed is added because water falling into a deep pond or
        basin (supercritical inflow into low-friction water) is unstable at Courant 0.7 without it.
    band_infil : (nbands,) float64
        Out: infiltrated depth summed over the band's cells [m] (times cell area = volume).
    band_round : (nbands,) float64
        Out: the depth the float32 storage of single precision added by rounding the new depths,
        summed over the band's cells [m] (times cell area = volume; negative: water lost). Zero in
        double precision, where the new depth is stored as computed.
    row_negative : (ny,) int64
        Out: number of cells left with a negative depth, per row (0 for rows left as they were).
    work : (threads, 2, >=nx) float64
        Scratch rows per thread (rain depths, rounding residuals; a band takes its thread's,
        :func:`~floodsim.kernels._jit.thread_slot`).

    Notes
    -----
    Each row is done in three sweeps so that the first and last are branch-free and vectorise:
    depth update, infiltration (scalar Newton solves, only when a model is on), then band flags,
    Courant speeds and running maxima, which share one division by the depth per cell.
    """
    uniform_rain = rain_field.shape[0] == 1 and rain_field.shape[1] == 1
    has_sources = infil_model != 0 or rain_rate != 0.0 or not uniform_rain
    for b in prange(band_start.size - 1):
        if computed[b] or has_sources:
            wet, wave, infil_sum, rounded = _update_band(
                band_start[b], band_start[b + 1], computed[b] != 0, h, qx, qy, active,
                rain_rate, rain_field, infil_model, infil_F, infil_p1, infil_p2, infil_p3,
                dt, dx, dy, g, hmin, t_new, h_max, v2_max, t_hmax, work[thread_slot()], row_negative)
        else:
            wet, wave, infil_sum, rounded = 0, 0.0, 0.0, 0.0
            for i in range(band_start[b], band_start[b + 1]):
                row_negative[i] = 0
        band_wet[b] = wet > 0
        band_wave[b] = wave
        band_infil[b] = infil_sum
        band_round[b] = rounded


@kernel
def _update_band(
    r0, r1, do_flux, h, qx, qy, active, rain_rate, rain_field,
    infil_model, infil_F, infil_p1, infil_p2, infil_p3,
    dt, dx, dy, g, hmin, t_new, h_max, v2_max, t_hmax, scratch, row_negative,
):
    """Rows ``r0:r1`` of :func:`update_depth`; returns (wet count, Courant speed, infiltrated, rounding)
    and writes each row's count of negative depths to ``row_negative``."""
    wet = 0
    wave = 0.0
    infil_sum = 0.0
    rounded = 0.0
    for i in range(r0, r1):
        w, c, f, r, n = continuity_row(i, do_flux, h, qx, qy, active, rain_rate, rain_field, infil_model,
                                       infil_F, infil_p1, infil_p2, infil_p3, dt, dx, dy, g, hmin, t_new,
                                       h_max, v2_max, t_hmax, scratch)
        wet += w
        wave = max(wave, c)
        infil_sum += f
        rounded += r
        row_negative[i] = n
    return wet, wave, infil_sum, rounded


@kernel
def continuity_row(
    i, do_flux, h, qx, qy, active, rain_rate, rain_field,
    infil_model, infil_F, infil_p1, infil_p2, infil_p3,
    dt, dx, dy, g, hmin, t_new, h_max, v2_max, t_hmax, scratch,
):
    """Depth update of row ``i`` (see :func:`update_depth`); ``scratch`` is (2, >= nx) float64.

    Returns (wet cell count, Courant speed [m/s], infiltrated depth sum [m], rounding depth sum [m],
    negative cell count). The row is done in three sweeps so that the first and last are branch-free
    and vectorise: depth update, infiltration (scalar solves, only when a model is on), then band
    flags, Courant speeds and the running maxima. All faces of row ``i`` must hold this step's
    discharges.

    The new depth is computed in float64. In single precision (float32 ``h``) storing it rounds it;
    the difference (stored minus computed, per cell, into ``scratch[1]``) is summed and returned, so
    the volume balance accounts for every drop the float32 storage adds or loses (in double
    precision nothing is rounded and the sum is 0).
    """
    ny, nx = h.shape
    rain = scratch[0]
    resid = scratch[1]
    single = is_single(h)
    uniform_rain = rain_field.shape[0] == 1 and rain_field.shape[1] == 1
    uniform_infil = infil_p1.shape[0] == 1 and infil_p1.shape[1] == 1
    cx = dt / dx
    cy = dt / dy
    wave = 0.0
    infil_sum = 0.0
    negative = np.int32(0)   # int32 (count_if): the maxima fold then vectorises 32-bit lanes only
    wet = np.int32(0)
    # 1. depth update (branch-free; the branches below are loop-invariant)
    if uniform_rain:
        rain_dt = rain_rate * dt
        if do_flux:
            for j in range(nx):
                hn = (wide(h[i, j]) + cx * (wide(qx[i, j]) - wide(qx[i, j + 1]))
                      + cy * (wide(qy[i, j]) - wide(qy[i + 1, j])) + rain_dt)
                h[i, j] = hn if active[i, j] else 0.0
                if single:
                    resid[j] = wide(h[i, j]) - (hn if active[i, j] else 0.0)
        else:
            for j in range(nx):
                hn = wide(h[i, j]) + rain_dt
                h[i, j] = hn if active[i, j] else 0.0
                if single:
                    resid[j] = wide(h[i, j]) - (hn if active[i, j] else 0.0)
    else:
        for j in range(nx):
            rain[j] = rain_field[i, j] * dt
        if do_flux:
            for j in range(nx):
                hn = (wide(h[i, j]) + cx * (wide(qx[i, j]) - wide(qx[i, j + 1]))
                      + cy * (wide(qy[i, j]) - wide(qy[i + 1, j])) + rain[j])
                h[i, j] = hn if active[i, j] else 0.0
                if single:
                    resid[j] = wide(h[i, j]) - (hn if active[i, j] else 0.0)
        else:
            for j in range(nx):
                hn = wide(h[i, j]) + rain[j]
                h[i, j] = hn if active[i, j] else 0.0
                if single:
                    resid[j] = wide(h[i, j]) - (hn if active[i, j] else 0.0)
    rounded = sum_row(resid, nx) if single else 0.0
    # 2. infiltration, limited to the water present
    if infil_model != 0:
        for j in range(nx):
            hn = wide(h[i, j])
            if hn > 0.0:
                if uniform_infil:
                    pot = infiltration_increment(infil_model, wide(infil_F[i, j]), wide(infil_p1[0, 0]),
                                                 wide(infil_p2[0, 0]), wide(infil_p3[0, 0]), dt)
                else:
                    pot = infiltration_increment(infil_model, wide(infil_F[i, j]), wide(infil_p1[i, j]),
                                                 wide(infil_p2[i, j]), wide(infil_p3[i, j]), dt)
                f = min(pot, hn)
                h[i, j] = hn - f
                if is_single(h):   # what left the surface as stored (the new depth was rounded once)
                    f = hn - wide(h[i, j])
                infil_F[i, j] += f
                infil_sum += f
    # 3. band flags, Courant speeds for the next step and running maxima (vectorised: the deepest
    #    and fastest cell are found by integer max-reductions of the values' bits, see
    #    magnitude_bits; a floating-point max-reduction would not vectorise). Speeds are taken where
    #    the depth exceeds SPEED_DEPTH_FACTOR * hmin: the Courant flow speed of a cell is its largest
    #    face discharge over its depth, the recorded speed that of the mean face discharges.
    #    This sweep computes in the state's precision (float32 for single: the speeds and maxima are
    #    stored in float32 anyway; the Courant speed is widened at the end).
    zero = real(0.0, h)
    one = real(1.0, h)
    quarter = real(0.25, h)
    hmin_ = real(hmin, h)
    h_speed = real(SPEED_DEPTH_FACTOR * hmin, h)
    t_32 = np.float32(t_new)
    deepest = magnitude_bits(zero)
    fastest = magnitude_bits(zero)
    for j in range(nx):
        hn = h[i, j]
        negative = count_if(negative, hn < zero)
        is_wet = hn > hmin_
        wet = count_if(wet, is_wet)
        deepest = max(deepest, magnitude_bits(hn if is_wet else zero))
        q_w = qx[i, j]
        q_e = qx[i, j + 1]
        q_n = qy[i, j]
        q_s = qy[i + 1, j]
        inv_h = one / hn if hn > h_speed else zero
        fastest = max(fastest, magnitude_bits(max(max(abs(q_w), abs(q_e)), max(abs(q_n), abs(q_s))) * inv_h))
        v2 = ((q_w + q_e) * (q_w + q_e) + (q_n + q_s) * (q_n + q_s)) * (quarter * inv_h * inv_h)
        # compared in float32, as stored: a depth that only equals the maximum does not move its time.
        # The same fold as record_max_row, written out here on purpose: as a shared helper (even with
        # numba's inline="always") LLVM no longer vectorises this loop, and the sweep took 18-21
        # instead of 6.2 ns per cell on one thread (measured 2026-11-26).
        # MASKED_STORES (a compile-time constant) picks the form for the target: stores only where a
        # maximum grows (AVX-512 masked stores) or a select (without AVX-512); the values written are
        # the same. SSE2 and NEON have no masked store and vectorise this loop only with the select
        # form. The old values pass through freeze (the identity), or LLVM would turn the select
        # back into a masked store (vmaskmovps on AVX2, slow on AMD Zen; see fastmath.freeze).
        v2_32 = np.float32(v2)
        h_32 = np.float32(hn)
        if MASKED_STORES:
            if v2_32 > v2_max[i, j]:
                v2_max[i, j] = v2_32
            if h_32 > h_max[i, j]:
                h_max[i, j] = h_32
                t_hmax[i, j] = t_32
        else:
            v2_old = freeze(v2_max[i, j])
            v2_max[i, j] = v2_32 if v2_32 > v2_old else v2_old
            h_old = freeze(h_max[i, j])
            t_old = freeze(t_hmax[i, j])
            higher = h_32 > h_old
            h_max[i, j] = h_32 if higher else h_old
            t_hmax[i, j] = t_32 if higher else t_old
    wave = math.sqrt(g * wide(from_bits(deepest))) + wide(from_bits(fastest))
    return wet, wave, infil_sum, rounded, negative


@sum_kernel
def sum_row(row, n):
    """``sum(row[:n])``, vectorised (compiled with reassociation allowed: the order of the additions,
    and so the last bits of the sum, are LLVM's; used for the rounding ledger only)."""
    total = 0.0
    for j in range(n):
        total += row[j]
    return total


@kernel
def record_max_row(i, h, qx_row, qy_north, qy_south, t, hmin, h_max, v2_max, t_hmax):
    """Fold the state of row ``i`` at time ``t`` into the running maxima.

    Every step folds in its state in :func:`continuity_row`, right after the depth update: the new
    depths and this step's discharges. That is the state before the positivity repair (which touches
    only the few cells that went negative and their receivers) and before measures and point inflows
    add or take water, whose effect enters at the next step. This function, the same computation,
    folds in a whole state at other times (:func:`record_max_state`): the initial state and the state
    at each output time, so the maxima also hold the latest changes of measures and inflows.

    Parameters
    ----------
    i : int
        Row.
    h : (ny, nx) float64
        Depth [m] at time ``t``.
    qx_row : (nx + 1,) float64
        x discharges of row ``i`` at time ``t`` [m²/s].
    qy_north, qy_south : (nx,) float64
        y discharges of the north and south faces of row ``i`` at time ``t`` [m²/s].
    t : float
        Time of the state [s].
    hmin : float
        Wet threshold [m]; speeds are recorded where ``h > SPEED_DEPTH_FACTOR * hmin``.
    h_max, v2_max, t_hmax : (ny, nx) float32
        Maximum depth [m], maximum squared speed [m²/s²], time of maximum depth [s] (in/out).

    Notes
    -----
    Values are compared as stored, in float32, and written only where they exceed the maximum: a
    depth that stays at its maximum keeps the time it was first reached. With AVX-512 cells whose
    maxima do not change are not written (masked stores; most cells on most steps), which saves
    memory traffic; elsewhere every cell is written through a branch-free select, with the same
    values (:data:`floodsim.kernels._jit.MASKED_STORES`).
    """
    nx = h.shape[1]
    zero = real(0.0, h)
    one = real(1.0, h)
    quarter = real(0.25, h)
    h_speed = real(SPEED_DEPTH_FACTOR * hmin, h)
    t_32 = np.float32(t)
    for j in range(nx):
        hn = h[i, j]
        inv_h = one / hn if hn > h_speed else zero
        q_x = qx_row[j] + qx_row[j + 1]
        q_y = qy_north[j] + qy_south[j]
        # squared speed: the square root is taken once, when results are written. Keep this fold the
        # same as the one in continuity_row (duplicated there for vectorisation, see the comment), in
        # the state's precision as there.
        v2_32 = np.float32((q_x * q_x + q_y * q_y) * (quarter * inv_h * inv_h))
        h_32 = np.float32(hn)
        if MASKED_STORES:
            if v2_32 > v2_max[i, j]:
                v2_max[i, j] = v2_32
            if h_32 > h_max[i, j]:
                h_max[i, j] = h_32
                t_hmax[i, j] = t_32
        else:
            v2_old = freeze(v2_max[i, j])
            v2_max[i, j] = v2_32 if v2_32 > v2_old else v2_old
            h_old = freeze(h_max[i, j])
            t_old = freeze(t_hmax[i, j])
            higher = h_32 > h_old
            h_max[i, j] = h_32 if higher else h_old
            t_hmax[i, j] = t_32 if higher else t_old


@parallel_kernel
def record_max_state(h, qx, qy, t, hmin, h_max, v2_max, t_hmax):
    """Fold the whole current state (time ``t``) into the running maxima; see :func:`record_max_row`."""
    for i in prange(h.shape[0]):
        record_max_row(i, h, qx[i], qy[i], qy[i + 1], t, hmin, h_max, v2_max, t_hmax)
