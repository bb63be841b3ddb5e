"""CUDA kernels of one step: boundary fluxes, face fluxes, the depth update and the small kernels around it.

Arrays follow :mod:`floodsim.core.grid` (``h (ny, nx)``, ``qx (ny, nx+1)`` positive east, ``qy (ny+1,
nx)`` positive south). Face fluxes are double-buffered: :func:`face_fluxes` reads the discharges of the
previous step (with this step's boundary fluxes already written into them by :func:`boundary_fluxes`)
and writes every face of the other buffer. That is what the CPU's in-place row sweep computes with its
row buffers and band-edge snapshots.

The device follows the CPU's band schedule (bands of ``band_rows`` rows; ``plan[b]`` holds the bits
:data:`SWEPT`, :data:`UPDATE`, :data:`FLUX` that the host derives from
:meth:`floodsim.core.state.BandWork.select` as :meth:`floodsim.core.simulation.Simulation.step` does).
Sweeping every band instead would not give the CPU's result: a dry band is not quite inert, because a
cell holding exactly ``hmin`` (roof rain can sum to 1 mm exactly) has a face depth ``(z + h) - z`` that
rounds above ``hmin``, so a face the CPU leaves at rest would carry a small discharge. Skipped bands
also cost the device next to nothing.

Reductions (volumes through the boundary, infiltrated depth, negative depths, the Courant speed, the
rounding of single precision) are done per block into ``parts[slot, block]`` (float64 whatever the
state's dtype); the host reduces the few thousand block values. The Courant speed is the CPU's: per row ``sqrt(g h_deepest) + u_fastest``
(:func:`floodsim.kernels.continuity.continuity_row`), the maximum over rows, so the time steps agree.

Precision: the state arrays (``h``, ``qx``, ``qy``, ``infil_F``), the bed ``z`` and a per-cell Manning's n
or infiltration parameter are float64, or float32 for ``[simulation] precision = "single"``; the maxima
are float32 either way. As on the CPU (:mod:`floodsim.kernels.inertial`, :mod:`floodsim.kernels.continuity`):

* the face fluxes are computed in the state's precision: :func:`face_fluxes` is made for each
  (:func:`make_face_fluxes`, :func:`face_fluxes_for`), the float32 one with float32 arithmetic
  throughout (``numba.float32`` casts of loads, scalars and literals);
* the depth update (:func:`make_update_depth`, :func:`update_depth_for`) widens each load and computes
  the new depth and infiltration in float64, then the wet flags, speeds and maxima in the state's
  precision from the stored values, as the CPU's ``continuity_row``; the maxima fold
  (:func:`record_max_state_for`) likewise;
* every other kernel widens each load to float64 (:data:`~floodsim.kernels.cuda.physics.wide`) and
  computes in float64; a store into a float32 array rounds once;
* the depth update, :func:`add_depth` and :func:`route_roof_rain` measure that rounding cell by cell
  (stored minus computed depth [m]) and sum it per block into ``parts`` (:data:`ROUND` for the depth
  update, a slot per source): the host adds it, times the cell area, to the volume balance's
  ``rounding`` term. In float64 it is 0 exactly. Boundary volumes and infiltration are counted as
  stored (from the rounded discharge, the rounded depth), as on the CPU.

Launch any configuration with a power-of-two number of threads per block, at most
:data:`MAX_THREADS`; the result does not depend on it (grid-stride loops).
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda, float32, float64

from .physics import (EAST, FREE_NORMAL, GREEN_AMPT, HORTON, LEVEL, NORTH, WEST, almeida_flux,
                      almeida_flux_single, critical_depth_flux, fma, green_ampt_increment, horton_increment,
                      level_boundary_flux, normal_depth_flux, pmax, wide)

#: Largest number of threads per block (size of the shared reduction buffers).
MAX_THREADS = 256

#: Rows of the ``parts`` array: one per reduced quantity.
WAVE, INFIL, NEGATIVE, VOL_OUT, VOL_IN, ROUND, SLOTS = 0, 1, 2, 3, 4, 5, 6

#: Bits of a band's ``plan`` (the CPU's band schedule, :meth:`floodsim.core.state.BandWork.select`):
#: its faces are computed; its depths are updated; the update takes the flux divergence.
SWEPT, UPDATE, FLUX = 1, 2, 4


@cuda.jit(device=True)
def _block_sum2(a, b):
    """Sum ``a`` and ``b`` over the threads of the block (tree in shared memory); valid in thread 0."""
    if cuda.blockDim.x == 1:   # no barrier needed (uniform over the block); spares the simulator its polls
        return a, b
    sh_a = cuda.shared.array(MAX_THREADS, float64)
    sh_b = cuda.shared.array(MAX_THREADS, float64)
    tx = cuda.threadIdx.x
    sh_a[tx] = a
    sh_b[tx] = b
    cuda.syncthreads()
    s = cuda.blockDim.x // 2
    while s > 0:
        if tx < s:
            sh_a[tx] += sh_a[tx + s]
            sh_b[tx] += sh_b[tx + s]
        cuda.syncthreads()
        s //= 2
    ra = sh_a[0]
    rb = sh_b[0]
    cuda.syncthreads()
    return ra, rb


@cuda.jit(device=True)
def _block_max2(a, b):
    """NaN-keeping maximum of ``a`` and ``b`` over the threads of the block; valid in every thread."""
    if cuda.blockDim.x == 1:   # no barrier needed (uniform over the block); spares the simulator its polls
        return a, b
    sh_a = cuda.shared.array(MAX_THREADS, float64)
    sh_b = cuda.shared.array(MAX_THREADS, float64)
    tx = cuda.threadIdx.x
    sh_a[tx] = a
    sh_b[tx] = b
    cuda.syncthreads()
    s = cuda.blockDim.x // 2
    while s > 0:
        if tx < s:
            sh_a[tx] = pmax(sh_a[tx], sh_a[tx + s])
            sh_b[tx] = pmax(sh_b[tx], sh_b[tx + s])
        cuda.syncthreads()
        s //= 2
    ra = sh_a[0]
    rb = sh_b[0]
    cuda.syncthreads()
    return ra, rb


@cuda.jit(device=True)
def fold_maxima(i, j, h_32, v2_32, t_32, h_max, v2_max, t_hmax):
    """Fold cell (i, j)'s depth and squared speed (float32, as stored) at time ``t_32`` into the running
    maxima, written only where they grow (a depth that only equals its maximum keeps its time); shared by
    the depth update and :func:`record_max_state` (the CPU writes this fold out twice for vectorisation,
    which a GPU thread does not need)."""
    if v2_32 > v2_max[i, j]:
        v2_max[i, j] = v2_32
    if h_32 > h_max[i, j]:
        h_max[i, j] = h_32
        t_hmax[i, j] = t_32


@cuda.jit
def boundary_fluxes(z, h, manning, qx, qy, cell_i, cell_j, side, kind, slope, level, dt, dx, dy, g, hmin,
                    parts):
    """Every boundary face's flux into ``qx``/``qy`` (:func:`floodsim.kernels.boundary.apply_boundary_fluxes`);
    the volumes leaving and entering [m³] go to ``parts[VOL_OUT]`` and ``parts[VOL_IN]`` per block.
    Computed in float64 from widened loads; the volumes are those of the discharges as stored (rounded
    once in single precision), which is what the depth update takes out of the cells."""
    uniform_n = manning.shape[0] == 1 and manning.shape[1] == 1
    vol_out = 0.0
    vol_in = 0.0
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    for k in range(start, cell_i.size, stride):
        i = cell_i[k]
        j = cell_j[k]
        s = side[k]
        n = wide(manning[0, 0]) if uniform_n else wide(manning[i, j])
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
    a, b = _block_sum2(vol_out, vol_in)
    if cuda.threadIdx.x == 0:
        parts[VOL_OUT, cuda.blockIdx.x] = a
        parts[VOL_IN, cuda.blockIdx.x] = b


def make_face_fluxes(real, almeida_flux):
    """The face kernel computing in the precision of ``real`` (``numba.float64`` or ``numba.float32``) with
    the matching device function ``almeida_flux`` (:func:`~floodsim.kernels.cuda.physics.make_almeida_flux`);
    see :func:`face_fluxes_for`."""

    @cuda.jit
    def face_fluxes(z, h, active, manning, qx, qy, qx_new, qy_new, plan, band_rows, dt, dx, dy, g, theta, hmin):
        """Every face of ``qx_new``/``qy_new`` [m²/s] from the previous discharges ``qx``/``qy``.

        One thread per cell (i, j) writes its east face ``qx_new[i, j+1]`` and south face ``qy_new[i+1, j]``
        (de Almeida et al. 2012 θ-scheme, :func:`floodsim.kernels.inertial.flux_row`), plus the west face of
        column 0 and the north face of row 0. Outer faces and faces touching an inactive cell keep their
        value (closed, or what :func:`boundary_fluxes` wrote), and so do the faces of bands whose ``plan``
        lacks :data:`SWEPT` (a band owns the east and south faces of its cells).

        Computed in the precision of the discharges, as the CPU's ``flux_row``: bed ``z`` [m], depth ``h``
        [m], Manning's n and the scalars (``dt`` [s], ``dx``, ``dy`` [m], ``g`` [m/s²], ``theta``, ``hmin``
        [m]) are read into it, water levels are ``z + h`` in it.
        """
        ny, nx = h.shape
        uniform_n = manning.shape[0] == 1 and manning.shape[1] == 1
        dt_, dx_, dy_, g_, theta_, hmin_ = real(dt), real(dx), real(dy), real(g), real(theta), real(hmin)
        half = real(0.5)
        start = cuda.grid(1)
        stride = cuda.gridsize(1)
        for c in range(start, ny * nx, stride):
            i = c // nx
            j = c - i * nx
            swept = (plan[i // band_rows] & SWEPT) != 0
            eta = real(z[i, j]) + real(h[i, j])
            n_here = real(manning[0, 0]) if uniform_n else real(manning[i, j])
            if j == 0:
                qx_new[i, 0] = qx[i, 0]
            if i == 0:
                qy_new[0, j] = qy[0, j]
            if j + 1 < nx:
                q = qx[i, j + 1]
                if swept and active[i, j] and active[i, j + 1]:
                    n_east = real(manning[0, 0]) if uniform_n else real(manning[i, j + 1])
                    q = almeida_flux(q, qx[i, j], qx[i, j + 2], eta, real(z[i, j + 1]) + real(h[i, j + 1]),
                                     real(z[i, j]), real(z[i, j + 1]), half * (n_here + n_east), dt_, dx_, g_,
                                     theta_, hmin_)
                qx_new[i, j + 1] = q
            else:
                qx_new[i, nx] = qx[i, nx]
            if i + 1 < ny:
                q = qy[i + 1, j]
                if swept and active[i, j] and active[i + 1, j]:
                    n_south = real(manning[0, 0]) if uniform_n else real(manning[i + 1, j])
                    q = almeida_flux(q, qy[i, j], qy[i + 2, j], eta, real(z[i + 1, j]) + real(h[i + 1, j]),
                                     real(z[i, j]), real(z[i + 1, j]), half * (n_here + n_south), dt_, dy_, g_,
                                     theta_, hmin_)
                qy_new[i + 1, j] = q
            else:
                qy_new[ny, j] = qy[ny, j]

    return face_fluxes


#: The face kernel in float64 (``precision = "double"``) and in float32 (``"single"``).
face_fluxes = make_face_fluxes(float64, almeida_flux)
face_fluxes_single = make_face_fluxes(float32, almeida_flux_single)


def face_fluxes_for(dtype):
    """The face kernel for state arrays of ``dtype`` (float64 or float32; a numpy dtype or its name)."""
    return _for(dtype, face_fluxes, face_fluxes_single)


def make_update_depth(real, single):
    """The depth-update kernel for state arrays in the precision of ``real`` (``numba.float64``, ``single``
    false; ``numba.float32``, ``single`` true); see :func:`update_depth_for`."""

    @cuda.jit
    def update_depth(h, qx, qy, active, plan, band_rows, rain_rate, rain_field, infil_model, infil_F, infil_p1,
                     infil_p2, infil_p3, dt, dx, dy, g, hmin, h_speed, t_new, h_max, v2_max, t_hmax, parts, flags):
        """Depth update of every cell from this step's faces, rain and infiltration, with the running maxima.

        The CPU's :func:`floodsim.kernels.continuity.continuity_row` per cell: ``h += dt (-div q) + rain dt``
        (inactive cells 0), infiltration limited to the water present, then the fold of the new state
        (time ``t_new`` [s]) into ``h_max``, ``v2_max``, ``t_hmax`` (float32, compared as stored). A block
        takes whole rows (threads along the row), so the Courant speed of each row, ``sqrt(g h_deepest) +
        u_fastest`` [m/s], is formed as on the CPU; per block it writes the largest row speed to
        ``parts[WAVE]``, the infiltrated depth summed over its cells [m] to ``parts[INFIL]`` and the count of
        negative depths to ``parts[NEGATIVE]``. ``h_speed`` [m] is the depth above which speeds count.

        Precision, as the CPU's: every load is widened and the new depth and infiltration computed in
        float64. For a float32 state (``single``) the new depth is stored (rounded once) before
        infiltration, which then starts from the stored depth and counts what left the surface as stored;
        the rounding of that store (stored minus computed, per cell [m]) is summed into ``parts[ROUND]``
        (0 in float64, where the depth is stored once). The wet flags, speeds and maxima are computed from
        the stored depth and discharges in the state's precision (float32 divisions for single; ``hmin``
        and ``h_speed`` rounded to it), the Courant speed widened to float64 at the end of the row.

        Rows of bands whose ``plan`` lacks :data:`UPDATE` are left as they are; without :data:`FLUX` the
        update adds rain only (:func:`floodsim.kernels.fused.finish_bands`). ``flags[i]`` (uint8, ``ny +
        nbands``) receives 1 where row ``i`` has a cell deeper than ``hmin``; ``flags[ny + b]``, the marks of
        the sources that follow (:func:`cells_wave`), is cleared.
        """
        ny, nx = h.shape
        tx = cuda.threadIdx.x
        nt = cuda.blockDim.x
        uniform_rain = rain_field.shape[0] == 1 and rain_field.shape[1] == 1
        uniform_infil = infil_p1.shape[0] == 1 and infil_p1.shape[1] == 1
        cx = dt / dx
        cy = dt / dy
        rain_dt = rain_rate * dt
        t_32 = np.float32(t_new)
        zero = real(0.0)
        one = real(1.0)
        quarter = real(0.25)
        hmin_ = real(hmin)
        h_speed_ = real(h_speed)
        wave = 0.0
        infil_sum = 0.0
        negative = 0.0
        rounded = 0.0
        for i in range(cuda.blockIdx.x, ny, cuda.gridDim.x):
            mode = plan[i // band_rows]
            if tx == 0 and i % band_rows == 0:
                flags[ny + i // band_rows] = 0
            if not mode & UPDATE:   # uniform over the block: no barrier is skipped by part of it
                if tx == 0:
                    flags[i] = 0
                continue
            do_flux = (mode & FLUX) != 0
            deepest = zero
            fastest = zero
            for j in range(tx, nx, nt):
                q_w = wide(qx[i, j])
                q_e = wide(qx[i, j + 1])
                q_n = wide(qy[i, j])
                q_s = wide(qy[i + 1, j])
                r = rain_dt if uniform_rain else wide(rain_field[i, j]) * dt
                if do_flux:
                    hn = wide(h[i, j]) + cx * (q_w - q_e) + cy * (q_n - q_s) + r
                else:
                    hn = wide(h[i, j]) + r
                if not active[i, j]:
                    hn = 0.0
                if single:
                    h[i, j] = hn
                    stored = wide(h[i, j])
                    rounded += stored - hn
                    hn = stored
                if infil_model != 0 and hn > 0.0:
                    ii = 0 if uniform_infil else i
                    jj = 0 if uniform_infil else j
                    F = wide(infil_F[i, j])
                    if infil_model == GREEN_AMPT:
                        pot = green_ampt_increment(F, wide(infil_p1[ii, jj]), wide(infil_p2[ii, jj]), dt)
                    elif infil_model == HORTON:
                        pot = horton_increment(F, wide(infil_p1[ii, jj]), wide(infil_p2[ii, jj]),
                                               wide(infil_p3[ii, jj]), dt)
                    else:
                        pot = 0.0
                    f = min(pot, hn)
                    left = hn - f
                    if single:   # what left the surface as stored
                        h[i, j] = left
                        left = wide(h[i, j])
                        f = hn - left
                    hn = left
                    infil_F[i, j] = F + f
                    infil_sum += f
                h[i, j] = hn
                # flags, speeds and maxima in the state's precision, from the values as stored (exact casts)
                hs = real(hn)
                if hs < zero:
                    negative += 1.0
                if hs > hmin_:
                    deepest = max(deepest, hs)
                inv_h = one / hs if hs > h_speed_ else zero
                qw = real(q_w)
                qe = real(q_e)
                qn = real(q_n)
                qs = real(q_s)
                # the largest face discharge over the depth, NaN kept (pmax written out, see physics.py)
                q_big = abs(qw)
                for q_face in (abs(qe), abs(qn), abs(qs)):
                    if q_face > q_big or q_face != q_face:
                        q_big = q_face
                speed = q_big * inv_h
                if speed > fastest or speed != speed:
                    fastest = speed
                v2_32 = np.float32(((qw + qe) * (qw + qe) + (qn + qs) * (qn + qs)) * (quarter * inv_h * inv_h))
                fold_maxima(i, j, np.float32(hs), v2_32, t_32, h_max, v2_max, t_hmax)
            d, fmax = _block_max2(deepest, fastest)
            wave = pmax(wave, math.sqrt(g * wide(d)) + wide(fmax))
            if tx == 0:
                flags[i] = 1 if d > 0.0 else 0
        a, b = _block_sum2(infil_sum, negative)
        c = 0.0
        if single:
            c, _ = _block_sum2(rounded, 0.0)
        if tx == 0:
            parts[WAVE, cuda.blockIdx.x] = wave
            parts[INFIL, cuda.blockIdx.x] = a
            parts[NEGATIVE, cuda.blockIdx.x] = b
            parts[ROUND, cuda.blockIdx.x] = c

    return update_depth


def make_record_max_state(real):
    """The maxima fold for state arrays in the precision of ``real``; see :func:`record_max_state_for`."""

    @cuda.jit
    def record_max_state(h, qx, qy, t, h_speed, h_max, v2_max, t_hmax):
        """Fold the current state (time ``t`` [s]) into the running maxima
        (:func:`floodsim.kernels.continuity.record_max_state`, per cell, in the state's precision as there)."""
        ny, nx = h.shape
        t_32 = np.float32(t)
        zero = real(0.0)
        one = real(1.0)
        quarter = real(0.25)
        h_speed_ = real(h_speed)
        for c in range(cuda.grid(1), ny * nx, cuda.gridsize(1)):
            i = c // nx
            j = c - i * nx
            hn = real(h[i, j])
            inv_h = one / hn if hn > h_speed_ else zero
            q_x = real(qx[i, j]) + real(qx[i, j + 1])
            q_y = real(qy[i, j]) + real(qy[i + 1, j])
            v2_32 = np.float32((q_x * q_x + q_y * q_y) * (quarter * inv_h * inv_h))
            fold_maxima(i, j, np.float32(hn), v2_32, t_32, h_max, v2_max, t_hmax)

    return record_max_state


#: The depth update and the maxima fold in float64 (``precision = "double"``) and float32 (``"single"``).
update_depth = make_update_depth(float64, False)
update_depth_single = make_update_depth(float32, True)
record_max_state = make_record_max_state(float64)
record_max_state_single = make_record_max_state(float32)


def _for(dtype, double, single):
    name = str(np.dtype(str(dtype)))
    if name == "float64":
        return double
    if name == "float32":
        return single
    raise ValueError(f"no CUDA kernel for state dtype {name} (float64 or float32)")


def update_depth_for(dtype):
    """The depth-update kernel for state arrays of ``dtype`` (float64 or float32, a numpy dtype or its name)."""
    return _for(dtype, update_depth, update_depth_single)


def record_max_state_for(dtype):
    """The maxima fold for state arrays of ``dtype`` (float64 or float32)."""
    return _for(dtype, record_max_state, record_max_state_single)


@cuda.jit
def add_depth(h, cells, depth, parts, slot):
    """Add ``depth`` [m] to each of ``cells`` (unique flat indices), in place
    (:func:`floodsim.kernels.sources.add_depth`); the rounding of the float32 storage, summed over the
    block's cells [m] (stored minus intended; 0 in float64), goes to ``parts[slot, block]``."""
    nx = h.shape[1]
    rounded = 0.0
    for k in range(cuda.grid(1), cells.size, cuda.gridsize(1)):
        c = cells[k]
        i = c // nx
        j = c - i * nx
        new = wide(h[i, j]) + depth
        h[i, j] = new
        rounded += wide(h[i, j]) - new
    a, _ = _block_sum2(rounded, 0.0)
    if cuda.threadIdx.x == 0:
        parts[slot, cuda.blockIdx.x] = a


@cuda.jit
def route_roof_rain(h, dst, src_start, src, rain_rate, rain_field, dt, parts, slot):
    """Rain of the roof cells onto their ground cells (:func:`floodsim.kernels.sources.route_roof_rain`).

    One thread per receiving cell ``dst[u]`` adds the rain of its roof cells ``src[src_start[u]:
    src_start[u+1]]`` in the CPU's order (so each cell's sum is the CPU's, and no two threads write one
    cell). ``rain_field`` (1, 1) means the uniform ``rain_rate`` [m/s]. Each addition is computed in
    float64 and stored (rounded once in float32); the rounding, summed over the block's additions [m]
    (0 in float64), goes to ``parts[slot, block]``.
    """
    nx = h.shape[1]
    uniform = rain_field.shape[0] == 1 and rain_field.shape[1] == 1
    rounded = 0.0
    for u in range(cuda.grid(1), dst.size, cuda.gridsize(1)):
        d = dst[u]
        di = d // nx
        dj = d - di * nx
        for k in range(src_start[u], src_start[u + 1]):
            s = src[k]
            si = s // nx
            rate = rain_rate if uniform else wide(rain_field[si, s - si * nx])
            new = fma(rate, dt, wide(h[di, dj]))   # fused, as the CPU compiles it (see physics.py)
            h[di, dj] = new
            rounded += wide(h[di, dj]) - new
    a, _ = _block_sum2(rounded, 0.0)
    if cuda.threadIdx.x == 0:
        parts[slot, cuda.blockIdx.x] = a


@cuda.jit
def cells_wave(h, cells, hmin, g, band_rows, flags, parts, slot):
    """Largest ``sqrt(g h)`` [m/s] over ``cells`` deeper than ``hmin`` into ``parts[slot, block]``, and
    their bands marked wet in ``flags[ny + band]``: the Courant speed and band activity of water that
    sources put there (:func:`floodsim.kernels.sources.mark_wet_bands`)."""
    ny, nx = h.shape
    wave = 0.0
    for k in range(cuda.grid(1), cells.size, cuda.gridsize(1)):
        c = cells[k]
        i = c // nx
        depth = wide(h[i, c - i * nx])
        if depth > hmin:
            wave = pmax(wave, math.sqrt(g * depth))
            flags[ny + i // band_rows] = 1
    w, _ = _block_max2(wave, 0.0)
    if cuda.threadIdx.x == 0:
        parts[slot, cuda.blockIdx.x] = w


@cuda.jit
def depth_sum(h, parts, slot):
    """Sum of the depths [m] per block into ``parts[slot, block]`` (the NaN check of the step; float64)."""
    ny, nx = h.shape
    total = 0.0
    for c in range(cuda.grid(1), ny * nx, cuda.gridsize(1)):
        i = c // nx
        total += wide(h[i, c - i * nx])
    a, _ = _block_sum2(total, 0.0)
    if cuda.threadIdx.x == 0:
        parts[slot, cuda.blockIdx.x] = a
