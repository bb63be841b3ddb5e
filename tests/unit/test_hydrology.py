"""Infiltration increments summed over steps against the closed-form / implicit analytical curves.

References
----------
Green–Ampt (Green & Ampt 1911; Chow, Maidment & Mays 1988, *Applied Hydrology*, eq. 4.3.8), ponded
from t = 0:  Ks t = F - S ln(1 + F/S),  S = psi * dtheta; solved here for F(t) with
scipy.optimize.brentq (independent of the kernel's Newton iteration).
Horton (1940):  F(t) = fc t + (f0 - fc)(1 - exp(-k t)) / k.
Both kernels integrate the ponded curve exactly over each step, so the sum over steps must equal
the analytical F(t) to round-off, whatever the step sizes.
"""

import numpy as np
import pytest
from scipy.optimize import brentq

from floodsim.core.infiltration import RAWLS_1983, GreenAmpt
from floodsim.kernels.hydrology import green_ampt_increment, horton_increment


def green_ampt_F(t, ks, S):
    """Cumulative ponded Green–Ampt infiltration [m] at t [s] (implicit equation, brentq)."""
    if t == 0:
        return 0.0
    f = lambda F: F - S * np.log1p(F / S) - ks * t  # noqa: E731
    hi = ks * t + np.sqrt(2 * S * ks * t) + 2 * ks * t + 1e-30
    return brentq(f, 0.0, hi, xtol=1e-16, rtol=4 * np.finfo(float).eps, maxiter=500)


def horton_F(t, f0, fc, k):
    return fc * t + (f0 - fc) * (1.0 - np.exp(-k * t)) / k


def _steps(kind, total, rng):
    if kind == "uniform_1s":
        return np.full(int(total), 1.0)
    if kind == "uniform_60s":
        return np.full(int(total / 60), 60.0)
    if kind == "random":
        dts = rng.uniform(0.05, 30.0, 2000)
        dts = dts[np.cumsum(dts) <= total]
        return np.append(dts, total - dts.sum())
    if kind == "single":
        return np.array([float(total)])
    raise ValueError(kind)


SOILS = ["sand", "sandy loam", "loam", "silty clay", "clay"]


@pytest.mark.parametrize("texture", SOILS)
@pytest.mark.parametrize("steps", ["uniform_1s", "uniform_60s", "random", "single"])
def test_green_ampt_sum_equals_analytical(texture, steps):
    """Sum of green_ampt_increment over a 2-hour ponded run equals the implicit Green–Ampt F(t) at
    every step end (rtol 1e-9). Soils: Rawls et al. (1983) table via GreenAmpt.from_texture."""
    soil = GreenAmpt.from_texture(texture, initial_saturation=0.2)
    ks, S = float(soil.ks), float(soil.psi) * float(soil.dtheta)
    rng = np.random.default_rng(hash(texture + steps) % 2**32)
    F, t = 0.0, 0.0
    checks = 0
    for k, dt in enumerate(_steps(steps, 7200.0, rng)):
        F += green_ampt_increment(F, ks, S, dt)
        t += dt
        if k % 97 == 0 or t >= 7200.0 - 1e-9:
            assert F == pytest.approx(green_ampt_F(t, ks, S), rel=1e-9), (t, F)
            checks += 1
    assert checks >= 1


def test_green_ampt_special_cases():
    """ks = 0 gives nothing; S = 0 gives ks dt (the Green–Ampt limit without suction); the rate at
    large F tends to ks (Chow et al. 1988, f = ks (1 + S/F))."""
    assert green_ampt_increment(0.0, 0.0, 0.1, 10.0) == 0.0
    assert green_ampt_increment(0.3, 1e-5, 0.0, 10.0) == pytest.approx(1e-4, rel=1e-15)
    F = 10.0
    inc = green_ampt_increment(F, 1e-6, 0.01, 1.0)
    assert inc == pytest.approx(1e-6 * (1 + 0.01 / F), rel=1e-6)


@pytest.mark.parametrize("f0, fc, k", [
    (75e-3 / 3600, 12e-3 / 3600, 4.14 / 3600),   # Horton parameters in mm/h and 1/h (sandy soil)
    (250e-3 / 3600, 10e-3 / 3600, 2.0 / 3600),
    (50e-3 / 3600, 1e-3 / 3600, 10.0 / 3600),
])
@pytest.mark.parametrize("steps", ["uniform_1s", "uniform_60s", "random", "single"])
def test_horton_sum_equals_closed_form(f0, fc, k, steps):
    """Sum of horton_increment equals F(t) = fc t + (f0 - fc)/k (1 - exp(-k t)) (Horton 1940) at each
    step end over 2 h (rtol 1e-9)."""
    rng = np.random.default_rng(int(f0 * 1e9) + len(steps))
    F, t = 0.0, 0.0
    for kk, dt in enumerate(_steps(steps, 7200.0, rng)):
        F += horton_increment(F, f0, fc, k, dt)
        t += dt
        if kk % 97 == 0 or t >= 7200.0 - 1e-9:
            assert F == pytest.approx(horton_F(t, f0, fc, k), rel=1e-9), (t, F)


def test_rawls_table_units():
    """GreenAmpt.from_texture converts Rawls et al. (1983) Table 4 (cm/h, cm) to SI: sandy loam
    Ks = 1.09 cm/h = 3.0278e-6 m/s, psi = 0.1101 m, dtheta = 0.412 (1 - s0)."""
    soil = GreenAmpt.from_texture("Sandy Loam", initial_saturation=0.25)
    assert float(soil.ks) == pytest.approx(1.09e-2 / 3600, rel=1e-15)
    assert float(soil.psi) == pytest.approx(0.1101, rel=1e-15)
    assert float(soil.dtheta) == pytest.approx(0.412 * 0.75, rel=1e-15)
    assert set(SOILS) <= set(RAWLS_1983)


@pytest.mark.parametrize("f0", [1e-31, 1e-40, 1e-300])
@pytest.mark.parametrize("F", [0.0, 1e-30, 1e-3])
def test_horton_tiny_capacity_is_finite(f0, F):
    """A vanishing capacity (f0 so small the rate underflows, fc = 0) gives a finite increment between
    0 and f0·dt, never NaN (found by the property tests of tests/validation/test_properties.py)."""
    from floodsim.kernels.hydrology import horton_increment

    inc = horton_increment(F, f0, 0.0, 1e-3, 1.0)
    assert np.isfinite(inc) and 0.0 <= inc <= f0 * 1.0
