"""Local-inertial face fluxes against a pure-numpy reference (Landlab-style property tests).

Reference formula (de Almeida, Bates, Freer & Souvignet 2012, Water Resour. Res. 48, W05528, eq. 13,
with the Bates, Horritt & Fewtrell 2010, J. Hydrol. 387, 33-45 flow depth; Manning friction implicit
in the new discharge):

    hf      = max(eta_a, eta_b) - max(z_a, z_b)
    q_new   = [theta q + (1-theta)/2 (q_back + q_ahead) - g hf dt (eta_b - eta_a)/dl]
              with friction g dt n^2 |q_new| / hf^(7/3) implicit in q_new (closed form), if hf > hmin, else 0

evaluated here with whole-array numpy operations on a double-buffered copy of the old fluxes (no
bands, no in-place update), so it checks the band/row-buffer bookkeeping of ``compute_face_fluxes``.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from floodsim.kernels.inertial import almeida_flux, compute_face_fluxes, snapshot_band_edges
from floodsim.core.state import BandWork as _BandWork

G = 9.80665
RTOL = 1e-12


# ----------------------------------------------------------------------------- reference
def _face_flux(q, q_back, q_ahead, eta_a, eta_b, z_a, z_b, n, dt, dl, theta, hmin):
    hf = np.maximum(eta_a, eta_b) - np.maximum(z_a, z_b)
    wet = hf > hmin
    hs = np.where(wet, hf, 1.0)
    q_weighted = theta * q + 0.5 * (1.0 - theta) * (q_back + q_ahead)
    a = q_weighted - (G * dt / dl) * hs * (eta_b - eta_a)
    b = G * dt * n * n / hs ** (7.0 / 3.0)
    # friction implicit in the new discharge: q (1 + b |q|) = a, solved in closed form
    return np.where(wet, 2.0 * a / (1.0 + np.sqrt(1.0 + 4.0 * b * np.abs(a))), 0.0)


def reference_fluxes(z, h, active, manning, qx, qy, dt, dx, dy, theta, hmin):
    """Double-buffered numpy implementation of the interior face update (outer faces and faces
    touching an inactive cell untouched: those belong to the boundary kernel or stay closed)."""
    ny, nx = z.shape
    n = np.broadcast_to(manning, (ny, nx))
    eta = z + h
    act = active.astype(bool)
    qx_new, qy_new = qx.copy(), qy.copy()
    qx_new[:, 1:-1] = np.where(
        act[:, :-1] & act[:, 1:],
        _face_flux(qx[:, 1:-1], qx[:, :-2], qx[:, 2:], eta[:, :-1], eta[:, 1:], z[:, :-1], z[:, 1:],
                   0.5 * (n[:, :-1] + n[:, 1:]), dt, dx, theta, hmin), qx[:, 1:-1])
    qy_new[1:-1, :] = np.where(
        act[:-1, :] & act[1:, :],
        _face_flux(qy[1:-1, :], qy[:-2, :], qy[2:, :], eta[:-1, :], eta[1:, :], z[:-1, :], z[1:, :],
                   0.5 * (n[:-1, :] + n[1:, :]), dt, dy, theta, hmin), qy[1:-1, :])
    return qx_new, qy_new


# ----------------------------------------------------------------------------- helpers
def run_kernel(z, h, active, manning, qx, qy, dt, dx, dy, theta, hmin, band_rows, bands=None):
    """Call the kernel as ``Simulation.step`` does (snapshot first); returns new (qx, qy)."""
    bw = _BandWork.allocate(z.shape, band_rows)
    nb = bw.start.size - 1
    bands = np.arange(nb, dtype=np.int64) if bands is None else np.asarray(bands, np.int64)
    qx, qy = qx.copy(), qy.copy()
    snapshot_band_edges(qy, bw.start, bw.edge_above, bw.edge_below)
    compute_face_fluxes(z, h, active, manning, qx, qy, bands, bw.start, bw.edge_above, bw.edge_below,
                        bw.rows, dt, dx, dy, G, theta, hmin)
    return qx, qy, bw


def make_case(seed, ny, nx, uniform_n=False, inactive_frac=0.1, dry_frac=0.3):
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.0, 1.0, (ny, nx))
    h = rng.uniform(0.0, 1.0, (ny, nx))
    h[rng.random((ny, nx)) < dry_frac] = 0.0
    h[rng.random((ny, nx)) < 0.1] = 0.0005          # damp but below hmin
    active = (rng.random((ny, nx)) >= inactive_frac).astype(np.uint8)
    manning = (np.full((1, 1), rng.uniform(0.01, 0.1)) if uniform_n
               else rng.uniform(0.01, 0.1, (ny, nx)))
    qx = rng.normal(0.0, 0.3, (ny, nx + 1))
    qy = rng.normal(0.0, 0.3, (ny + 1, nx))
    return dict(z=z, h=h, active=active, manning=manning, qx=qx, qy=qy,
                dt=rng.uniform(0.01, 2.0), dx=rng.uniform(0.5, 10.0), dy=rng.uniform(0.5, 10.0),
                theta=rng.uniform(0.5, 1.0), hmin=0.001)


cases = st.fixed_dictionaries(dict(
    seed=st.integers(0, 2**32 - 1), ny=st.integers(3, 12), nx=st.integers(3, 12),
    band_rows=st.integers(1, 5), uniform_n=st.booleans()))

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ----------------------------------------------------------------------------- scalar kernel
def test_almeida_flux_hand_value():
    """One face by hand: eta_a = 1.2, eta_b = 1.0 over z = 0.5/0.4 -> hf = 0.7, theta = 1.

    Reference: Bates et al. (2010) eq. 11 with the friction term at the new discharge: the result
    must satisfy q (1 + g dt n² |q| / hf^(7/3)) = q_old - g hf dt (eta_b - eta_a) / dl."""
    q, dt, dl, n = 0.1, 0.5, 2.0, 0.03
    hf = 0.7
    a = q - G * hf * dt * (1.0 - 1.2) / dl
    b = G * dt * n * n / hf ** (7 / 3)
    got = almeida_flux(q, 5.0, -5.0, 1.2, 1.0, 0.5, 0.4, n, dt, dl, G, 1.0, 0.001)
    assert got * (1.0 + b * abs(got)) == pytest.approx(a, rel=1e-14)
    assert got == pytest.approx((-1.0 + (1.0 + 4.0 * b * a) ** 0.5) / (2.0 * b), rel=1e-12)


def test_long_step_tends_to_manning_normal_flow():
    """With friction implicit, a very long step on a uniform slope gives Manning's normal flow
    q = h^(5/3) S^(1/2) / n (the steady state of the momentum equation), not a frictionless jump."""
    h, S, n, dl = 0.01, 0.1, 0.03, 1.0
    q = almeida_flux(0.0, 0.0, 0.0, 1.0 + h, 1.0 - S * dl + h, 1.0, 1.0 - S * dl, n, 1e6, dl, G, 1.0, 1e-4)
    # hf = max(eta) - max(z) = h here
    assert q == pytest.approx(h ** (5 / 3) * S ** 0.5 / n, rel=1e-3)


@pytest.mark.parametrize("eta_a, eta_b, z_a, z_b", [
    (0.0, 0.0, 0.0, 0.0),        # hf = 0 exactly: 0/0 in the friction term must not leak out
    (0.5, 1.0, 0.5, 1.0),        # both dry, hf = 0
    (1.0005, 1.0, 1.0, 0.2),     # hf = 0.0005 < hmin
    (0.2, 0.3, 0.2, 2.0),        # hf < 0 (dry high cell next to a dry low one)
])
def test_almeida_flux_dry_face_is_exactly_zero(eta_a, eta_b, z_a, z_b):
    """No flow for hf <= hmin, whatever the old discharge (Bates et al. 2010 wet/dry rule);
    the result must be 0.0, not NaN/inf from the hf^(7/3) division."""
    got = almeida_flux(0.3, 0.2, 0.1, eta_a, eta_b, z_a, z_b, 0.03, 1.0, 1.0, G, 0.8, 0.001)
    assert got == 0.0


# ----------------------------------------------------------------------------- array kernel
@SETTINGS
@given(cases)
def test_compute_face_fluxes_matches_reference(c):
    """All bands listed: every interior face equals the double-buffered numpy reference to round-off
    (rtol 1e-12, and 1e-12 of the largest discharge: a small q that is the difference of two large
    terms carries their round-off, and the kernel fuses multiply-adds where numpy rounds twice);
    outer boundary faces are left untouched."""
    k = make_case(c["seed"], c["ny"], c["nx"], c["uniform_n"])
    qx, qy, _ = run_kernel(**k, band_rows=c["band_rows"])
    rx, ry = reference_fluxes(**k)
    scale = max(np.abs(rx).max(), np.abs(ry).max())
    np.testing.assert_allclose(qx, rx, rtol=RTOL, atol=RTOL * scale)
    np.testing.assert_allclose(qy, ry, rtol=RTOL, atol=RTOL * scale)


@SETTINGS
@given(cases, st.integers(0, 2**32 - 1))
def test_compute_face_fluxes_subset_of_bands(c, pick_seed):
    """Only some bands listed: the faces those bands own equal the reference, every other face
    keeps its old value (reference: same numpy implementation, ownership per inertial.py docstring:
    a band owns the interior x faces of its rows and the south faces of its rows)."""
    k = make_case(c["seed"], c["ny"], c["nx"], c["uniform_n"])
    bw = _BandWork.allocate(k["z"].shape, c["band_rows"])
    nb = bw.start.size - 1
    chosen = np.flatnonzero(np.random.default_rng(pick_seed).random(nb) < 0.5)
    qx, qy, _ = run_kernel(**k, band_rows=c["band_rows"], bands=chosen)
    rx, ry = reference_fluxes(**k)
    ny = k["z"].shape[0]
    own_rows = np.zeros(ny, bool)
    for b in chosen:
        own_rows[bw.start[b]:bw.start[b + 1]] = True
    ex_x = k["qx"].copy()
    ex_x[own_rows, 1:-1] = rx[own_rows, 1:-1]
    ex_y = k["qy"].copy()
    south = np.zeros(ny + 1, bool)
    south[1:ny] = own_rows[:ny - 1]
    ex_y[south] = ry[south]
    np.testing.assert_allclose(qx, ex_x, rtol=RTOL, atol=1e-300)
    np.testing.assert_allclose(qy, ex_y, rtol=RTOL, atol=1e-300)


@SETTINGS
@given(cases)
def test_mirror_symmetry(c):
    """Mirroring the state west<->east gives the mirrored qx with the sign flipped (and qy mirrored);
    mirroring north<->south likewise flips qy. Reference: reflection symmetry of the shallow water
    equations; the kernel arithmetic is symmetric, so equality is to round-off."""
    k = make_case(c["seed"], c["ny"], c["nx"], c["uniform_n"])
    qx, qy, _ = run_kernel(**k, band_rows=c["band_rows"])
    m = dict(k)
    for key in ("z", "h", "active"):
        m[key] = np.ascontiguousarray(k[key][:, ::-1])
    if not c["uniform_n"]:
        m["manning"] = np.ascontiguousarray(k["manning"][:, ::-1])
    m["qx"] = np.ascontiguousarray(-k["qx"][:, ::-1])
    m["qy"] = np.ascontiguousarray(k["qy"][:, ::-1])
    mqx, mqy, _ = run_kernel(**m, band_rows=c["band_rows"])
    np.testing.assert_allclose(mqx, -qx[:, ::-1], rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(mqy, qy[:, ::-1], rtol=1e-14, atol=1e-300)

    s = dict(k)
    for key in ("z", "h", "active"):
        s[key] = np.ascontiguousarray(k[key][::-1, :])
    if not c["uniform_n"]:
        s["manning"] = np.ascontiguousarray(k["manning"][::-1, :])
    s["qx"] = np.ascontiguousarray(k["qx"][::-1, :])
    s["qy"] = np.ascontiguousarray(-k["qy"][::-1, :])
    sqx, sqy, _ = run_kernel(**s, band_rows=c["band_rows"])
    np.testing.assert_allclose(sqx, qx[::-1, :], rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(sqy, -qy[::-1, :], rtol=1e-14, atol=1e-300)


@SETTINGS
@given(cases)
def test_frictionless_limit(c):
    """n = 0: the update reduces to q_weighted - g hf dt (eta_b - eta_a)/dl on every wet face
    (de Almeida et al. 2012 eq. 13 without the friction denominator)."""
    k = make_case(c["seed"], c["ny"], c["nx"], uniform_n=True)
    k["manning"] = np.zeros((1, 1))
    qx, qy, _ = run_kernel(**k, band_rows=c["band_rows"])
    z, h, act, th, hmin, dt = k["z"], k["h"], k["active"].astype(bool), k["theta"], k["hmin"], k["dt"]
    eta = z + h
    hf = np.maximum(eta[:, :-1], eta[:, 1:]) - np.maximum(z[:, :-1], z[:, 1:])
    ox = k["qx"]
    ex = th * ox[:, 1:-1] + 0.5 * (1 - th) * (ox[:, :-2] + ox[:, 2:]) - (G * dt / k["dx"]) * hf * (eta[:, 1:] - eta[:, :-1])
    ex = np.where(act[:, :-1] & act[:, 1:], np.where(hf > hmin, ex, 0.0), ox[:, 1:-1])
    np.testing.assert_allclose(qx[:, 1:-1], ex, rtol=RTOL, atol=1e-300)
    hf = np.maximum(eta[:-1], eta[1:]) - np.maximum(z[:-1], z[1:])
    oy = k["qy"]
    ey = th * oy[1:-1] + 0.5 * (1 - th) * (oy[:-2] + oy[2:]) - (G * dt / k["dy"]) * hf * (eta[1:] - eta[:-1])
    ey = np.where(act[:-1] & act[1:], np.where(hf > hmin, ey, 0.0), oy[1:-1])
    np.testing.assert_allclose(qy[1:-1], ey, rtol=RTOL, atol=1e-300)


@SETTINGS
@given(cases)
def test_zero_flux_on_dry_and_inactive_faces_and_inputs_unmodified(c):
    """Faces between two dry active cells (h <= hmin) carry exactly zero whatever the old discharge;
    faces touching an inactive cell are not written (they keep the boundary kernel's value, zero for a
    wall); z and h are read only. Reference: Bates et al. (2010) wet/dry rule and the ``active``
    contract in the kernel docstring."""
    k = make_case(c["seed"], c["ny"], c["nx"], c["uniform_n"], inactive_frac=0.25, dry_frac=0.5)
    z0, h0, a0 = k["z"].copy(), k["h"].copy(), k["active"].copy()
    qx, qy, _ = run_kernel(**k, band_rows=c["band_rows"])
    np.testing.assert_array_equal(k["z"], z0)
    np.testing.assert_array_equal(k["h"], h0)
    np.testing.assert_array_equal(k["active"], a0)
    dry = k["h"] <= k["hmin"]
    act = k["active"].astype(bool)
    both_x = act[:, :-1] & act[:, 1:]
    both_y = act[:-1] & act[1:]
    dead_x = dry[:, :-1] & dry[:, 1:] & both_x
    dead_y = dry[:-1] & dry[1:] & both_y
    assert np.all(qx[:, 1:-1][dead_x] == 0.0)
    assert np.all(qy[1:-1][dead_y] == 0.0)
    np.testing.assert_array_equal(qx[:, 1:-1][~both_x], k["qx"][:, 1:-1][~both_x])
    np.testing.assert_array_equal(qy[1:-1][~both_y], k["qy"][1:-1][~both_y])
    assert np.all(np.isfinite(qx)) and np.all(np.isfinite(qy))


def test_flat_surface_gives_zero_flux_over_rough_bed():
    """Lake at rest, kernel level: eta = const over a random bed (dry islands sticking out) and zero
    old discharge give zero flux on every face (well-balancedness, Bates et al. 2010 depth rule)."""
    rng = np.random.default_rng(3)
    z = np.round(rng.uniform(0.0, 2.0, (9, 11)) * 1024) / 1024   # dyadic: z + (eta - z) == eta
    eta = 1.0
    h = np.maximum(eta - z, 0.0)
    k = dict(z=z, h=h, active=np.ones(z.shape, np.uint8), manning=np.full((1, 1), 0.03),
             qx=np.zeros((9, 12)), qy=np.zeros((10, 11)), dt=1.0, dx=2.0, dy=2.0, theta=0.8, hmin=0.001)
    qx, qy, _ = run_kernel(**k, band_rows=4)
    assert np.all(qx == 0.0) and np.all(qy == 0.0)
