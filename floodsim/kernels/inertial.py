"""Local-inertial face fluxes (Bates et al. 2010; de Almeida et al. 2012).

Grid convention (stated once, in :mod:`floodsim.core.grid`): cell (i, j) is row i (north to south) and
column j (west to east). ``qx[i, j]`` is the unit-width discharge [m²/s] through the west face of cell
(i, j), positive towards the east; ``qy[i, j]`` is through the north face of cell (i, j), positive
towards the south. Shapes are ``qx: (ny, nx+1)`` and ``qy: (ny+1, nx)``. Outer faces (``qx[:, 0]``,
``qx[:, nx]``, ``qy[0, :]``, ``qy[ny, :]``) belong to :mod:`floodsim.kernels.boundary`.

The rows are split into *bands* of ``band_rows`` rows. A band owns the east face of each of its cells
(except the last column) and the south face of each of its cells (except the last row), and its fluxes
are updated in place. The θ-weighting needs the *old* fluxes of the neighbouring faces, so each band
keeps row buffers of old values; the faces just outside the band, which another thread may be
overwriting, are read from ``edge_above``/``edge_below``, a snapshot taken by
:func:`snapshot_band_edges` before the sweep.
"""

from __future__ import annotations

import math

from ._jit import face_kernel, kernel, parallel_kernel, prange, real, thread_slot
from .fastmath import inv_pow_7_3, select


@kernel
def implicit_friction(a, b):
    """Solve ``q (1 + b |q|) = a`` for ``q`` (friction implicit in the new discharge).

    ``q = 2a / (1 + sqrt(1 + 4 b |a|))``, the root with the sign of ``a`` written so that it does not
    cancel when ``b |a|`` is small. For ``b = 0`` it is ``a``; for a long step it tends to Manning's
    normal flow, so friction bounds the discharge whatever the step length.
    """
    one = real(1.0, a)
    return real(2.0, a) * a / (one + math.sqrt(one + real(4.0, a) * b * abs(a)))


@face_kernel
def almeida_flux(q, q_back, q_ahead, eta_a, eta_b, z_a, z_b, n, dt, dl, g, theta, hmin):
    """Unit-width discharge [m²/s] at one face: de Almeida et al. (2012) θ-scheme, implicit friction.

    Positive from cell ``a`` to cell ``b``. The flow depth at the face is that of Bates et al.
    (2010): ``hf = max(eta_a, eta_b) - max(z_a, z_b)``; no flow below ``hmin``. The momentum update is

        q_new (1 + g dt n² |q_new| / hf^(7/3)) = θ q + (1-θ)/2 (q_back + q_ahead) - g hf dt (eta_b - eta_a)/dl

    i.e. de Almeida et al. eq. 13 with the friction term evaluated at the new discharge rather than the
    old one (Bates et al. 2010 eq. 8 use ``|q|`` of the previous step). With the old discharge, the
    first steps of a thin film on a slope are frictionless and can drain many times the water present
    when the step is long (a dry start); the implicit form is bounded by Manning's normal flow and is
    identical at steady state. Solved in closed form by :func:`implicit_friction`.

    Parameters
    ----------
    q : float
        Discharge at this face at the previous step [m²/s].
    q_back, q_ahead : float
        Old discharges at the parallel faces behind cell ``a`` and ahead of cell ``b`` [m²/s].
    eta_a, eta_b : float
        Water surface levels of the two cells [m].
    z_a, z_b : float
        Bed levels of the two cells [m].
    n : float
        Manning's roughness at the face [s m^-1/3].
    dt : float
        Time step [s].
    dl : float
        Distance between the two cell centres [m].
    g : float
        Gravitational acceleration [m/s²].
    theta : float
        Weighting in [0, 1]; 1 gives the Bates et al. (2010) scheme.
    hmin : float
        Depth below which a face carries no flow [m].

    Returns
    -------
    float
        The new unit-width discharge [m²/s].

    References
    ----------
    Bates, P.D., Horritt, M.S., Fewtrell, T.J. (2010). A simple inertial formulation of the shallow
    water equations for efficient two-dimensional flood inundation modelling. J. Hydrol. 387, 33-45.
    de Almeida, G.A.M., Bates, P., Freer, J.E., Souvignet, M. (2012). Improving the stability of a
    simple formulation of the shallow water equations for 2-D flood modeling. Water Resour. Res. 48.
    """
    hf = max(eta_a, eta_b) - max(z_a, z_b)
    # (g dt / dl) is loop-invariant, so LLVM hoists its division out of the grid loops. Every argument
    # has the compute precision of the face loop (float64, or float32 for single precision), and so
    # have the literals (real).
    a = theta * q + real(0.5, q) * (real(1.0, q) - theta) * (q_back + q_ahead) - (g * dt / dl) * hf * (eta_b - eta_a)
    b = g * dt * n * n * inv_pow_7_3(hf)
    # solved for every face, then selected (select, not a conditional: see its docstring); a dry face's
    # value is computed and dropped, as the vectorised loop did before
    return select(hf > hmin, implicit_friction(a, b), real(0.0, q))


@kernel
def snapshot_band_edges(qy, band_start, edge_above, edge_below):
    """Copy the old ``qy`` rows just outside each band before an in-place flux sweep.

    ``edge_above[b]`` receives face row ``band_start[b]`` (owned by the band above) and
    ``edge_below[b]`` face row ``band_start[b+1] + 1`` (owned by the band below), when they exist.
    """
    nbands = band_start.size - 1
    ny1 = qy.shape[0]
    for b in range(nbands):  # serial: a parallel launch costs more than these copies below ~1M cells
        r0 = band_start[b]
        r1 = band_start[b + 1]
        edge_above[b, :] = qy[r0, :]
        if r1 + 1 < ny1:
            edge_below[b, :] = qy[r1 + 1, :]


@parallel_kernel
def compute_face_fluxes(
    z, h, active, manning, qx, qy, bands, band_start, edge_above, edge_below, work,
    dt, dx, dy, g, theta, hmin,
):
    """Update the interior face fluxes ``qx``, ``qy`` in place for the listed bands.

    Parameters
    ----------
    z : (ny, nx) float64
        Bed elevation [m].
    h : (ny, nx) float64
        Water depth [m] (read only).
    active : (ny, nx) uint8
        1 where the cell takes part in the flow, 0 for nodata and blocked (building) cells. Faces
        touching an inactive cell are left unchanged: they are closed (zero) unless the boundary kernel
        put a boundary flux there.
    manning : (ny, nx) or (1, 1) float64
        Manning's n per cell [s m^-1/3]; a (1, 1) array means one value everywhere.
    qx, qy : float64
        Unit-width discharges [m²/s] (in/out), see the module docstring.
    bands : (k,) int64
        Indices of the bands to update.
    band_start : (nbands + 1,) int64
        First row of each band; the last entry is ``ny``.
    edge_above, edge_below : (nbands, nx) float64
        Snapshots from :func:`snapshot_band_edges`.
    work : (threads, WORK_ROWS, nx + 1), the dtype of ``qx``
        Scratch rows per thread (:data:`~floodsim.kernels._jit.THREAD_SLOTS`; a band takes its
        thread's, :func:`~floodsim.kernels._jit.thread_slot`); contents are overwritten.
    dt, dx, dy, g, theta, hmin : float
        Time step [s], cell sizes [m], gravity [m/s²], θ-weight, wet threshold [m].

    Notes
    -----
    The inner loops are kept free of data-dependent loads (Manning's n is copied into row buffers
    first) and of conditional stores, so that LLVM vectorises them.
    """
    for k in prange(bands.size):
        b = bands[k]
        r0 = band_start[b]
        r1 = band_start[b + 1]
        wb = work[thread_slot()]
        start_band(r0, manning, edge_above[b], wb)
        for i in range(r0, r1):
            flux_row(i, r1, z, h, active, manning, qx, qy, edge_below[b], wb, dt, dx, dy, g, theta, hmin)


@kernel
def start_band(r0, manning, edge_above, work):
    """Prime a band's row buffers before :func:`flux_row` is called for rows ``r0, r0 + 1, ...``."""
    uniform_n = manning.shape[0] == 1 and manning.shape[1] == 1
    old_above = work[1 + r0 % 2]
    n_first = work[3 + r0 % 2]
    n_other = work[4 - r0 % 2]
    for j in range(edge_above.size):
        old_above[j] = edge_above[j]
        n_first[j] = manning[0, 0] if uniform_n else manning[r0, j]
        n_other[j] = manning[0, 0]  # stays valid for a uniform n; overwritten per row otherwise


@kernel
def flux_row(i, r1, z, h, active, manning, qx, qy, edge_below, work, dt, dx, dy, g, theta, hmin):
    """Fluxes of row ``i`` of a band ending at row ``r1``: its interior east faces and south faces.

    Rows must be visited in order after :func:`start_band`. ``work`` rows: 0 old x fluxes of the
    row, 1-2 old south fluxes of the row above and of this row, 3-4 Manning's n of this row and the
    next (both pairs alternate with the row's parity, so nothing is copied). (Serial: numba compiles a
    plain function far better than a ``prange`` body.)
    """
    ny, nx = h.shape
    uniform_n = manning.shape[0] == 1 and manning.shape[1] == 1
    # the faces are computed in the precision of the discharges (float64, or float32 for single
    # precision); depths and beds are read into it (real), so are the scalars
    dt_, dx_, dy_, g_, theta_, hmin_ = (real(dt, qx), real(dx, qx), real(dy, qx), real(g, qx), real(theta, qx),
                                       real(hmin, qx))
    old_x = work[0]
    old_above = work[1 + i % 2]
    old_here = work[2 - i % 2]
    n_here = work[3 + i % 2]
    n_below = work[4 - i % 2]
    if i + 1 < ny and not uniform_n:
        for j in range(nx):
            n_below[j] = manning[i + 1, j]
    # x faces of row i: the east face of (i, j) is qx[i, j + 1]; y faces: the south face of (i, j) is
    # qy[i + 1, j]. Both are done in one loop over j, which shares the loads of cell (i, j).
    for j in range(nx + 1):
        old_x[j] = qx[i, j]
    if i + 1 < ny:
        # face i + 2 is this band's own (not yet overwritten) or the snapshot below
        ahead = qy[i + 2] if i + 2 <= r1 else edge_below
        for j in range(nx):
            old_here[j] = qy[i + 1, j]
        for j in range(nx - 1):
            eta = real(z[i, j], qx) + real(h[i, j], qx)
            qx[i, j + 1] = _east_face(i, j, eta, z, h, active, old_x, n_here, dt_, dx_, g_, theta_, hmin_)
            qy[i + 1, j] = _south_face(i, j, eta, z, h, active, old_here, old_above, ahead, n_here, n_below,
                                       dt_, dy_, g_, theta_, hmin_)
        j = nx - 1
        qy[i + 1, j] = _south_face(i, j, real(z[i, j], qx) + real(h[i, j], qx), z, h, active, old_here, old_above,
                                   ahead, n_here, n_below, dt_, dy_, g_, theta_, hmin_)
    else:
        for j in range(nx - 1):
            qx[i, j + 1] = _east_face(i, j, real(z[i, j], qx) + real(h[i, j], qx), z, h, active, old_x, n_here,
                                      dt_, dx_, g_, theta_, hmin_)


@face_kernel
def _east_face(i, j, eta, z, h, active, old_x, n_row, dt, dx, g, theta, hmin):
    """New discharge at the east face of cell (i, j) of water level ``eta`` (see :func:`flux_row`)."""
    q_old = old_x[j + 1]
    q = almeida_flux(
        q_old, old_x[j], old_x[j + 2], eta, real(z[i, j + 1], eta) + real(h[i, j + 1], eta),
        real(z[i, j], eta), real(z[i, j + 1], eta), real(0.5, eta) * (n_row[j] + n_row[j + 1]), dt, dx, g, theta, hmin,
    )
    return select((active[i, j] & active[i, j + 1]) != 0, q, q_old)


@face_kernel
def _south_face(i, j, eta, z, h, active, old_here, old_above, ahead, n_here, n_below, dt, dy, g, theta, hmin):
    """New discharge at the south face of cell (i, j) of water level ``eta`` (see :func:`flux_row`)."""
    q_old = old_here[j]
    q = almeida_flux(
        q_old, old_above[j], ahead[j], eta, real(z[i + 1, j], eta) + real(h[i + 1, j], eta),
        real(z[i, j], eta), real(z[i + 1, j], eta), real(0.5, eta) * (n_here[j] + n_below[j]), dt, dy, g, theta, hmin,
    )
    return select((active[i, j] & active[i + 1, j]) != 0, q, q_old)


#: Scratch rows per thread of the flux sweep (:func:`flux_row`), in the discharges' precision.
WORK_ROWS = 5
