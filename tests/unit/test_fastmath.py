"""Friction-term powers of :mod:`floodsim.kernels.fastmath` against numpy's libm powers.

Reference: numpy ``x ** (1/3)`` and ``x ** (7/3)`` (correctly rounded-ish libm ``pow``), which the
arithmetic cube root (bit-level guess + 3 Halley steps) claims to match "to within a few ulp".
"""

import numba
import numpy as np
import pytest

from floodsim.kernels.fastmath import cbrt_positive, inv_pow_7_3, pow_7_3, rcbrt_guess, rcbrt_positive

RTOL = 1e-14


def _samples():
    rng = np.random.default_rng(20240601)
    logs = np.concatenate([np.linspace(-12, 6, 4001), rng.uniform(-12, 6, 4000)])
    x = 10.0 ** logs
    # powers of two, exact cubes and their neighbours (bit-pattern guess edge cases)
    extra = np.concatenate([2.0 ** np.arange(-39, 20), np.arange(1, 101, dtype=float) ** 3,
                            [np.nextafter(1.0, 0.0), np.nextafter(1.0, 2.0), 1e-12, 1e6]])
    return np.concatenate([x, extra])


@numba.njit
def _loop(x, out_cbrt, out_73):
    for k in range(x.size):
        out_cbrt[k] = cbrt_positive(x[k])
        out_73[k] = pow_7_3(x[k])


X = _samples()


def test_cbrt_and_pow73_inside_njit_loop():
    """Compiled loop over 1e-12..1e6 matches numpy ``x**(1/3)`` and ``x**(7/3)`` to rtol 1e-14.

    Reference: numpy libm power (independent implementation)."""
    c = np.empty_like(X)
    p = np.empty_like(X)
    _loop(X, c, p)
    np.testing.assert_allclose(c, X ** (1.0 / 3.0), rtol=RTOL, atol=0)
    np.testing.assert_allclose(p, X ** (7.0 / 3.0), rtol=RTOL, atol=0)


def test_cbrt_and_pow73_called_directly():
    """Direct (dispatcher) calls from Python agree with numpy to rtol 1e-14.

    Reference: numpy libm power. A subsample keeps the per-call dispatch overhead small."""
    xs = X[::7]
    c = np.array([cbrt_positive(float(v)) for v in xs])
    p = np.array([pow_7_3(float(v)) for v in xs])
    np.testing.assert_allclose(c, xs ** (1.0 / 3.0), rtol=RTOL, atol=0)
    np.testing.assert_allclose(p, xs ** (7.0 / 3.0), rtol=RTOL, atol=0)


@pytest.mark.parametrize("x", [1e-12, 1e-3, 1.0, 8.0, 27.0, 1e6])
def test_exact_cubes_and_decades(x):
    """Known values: cbrt(8) = 2, cbrt(27) = 3, cbrt(1e6) = 100, cbrt(1e-12) = 1e-4 (hand values)."""
    expected = {1e-12: 1e-4, 1e-3: 0.1, 1.0: 1.0, 8.0: 2.0, 27.0: 3.0, 1e6: 100.0}[x]
    assert cbrt_positive(x) == pytest.approx(expected, rel=RTOL, abs=0)
    assert pow_7_3(x) == pytest.approx(expected ** 7, rel=1e-13, abs=0)


def test_magnitude_bits_orders_like_the_magnitude_and_keeps_nan():
    """The integer max of magnitude_bits is the bit pattern of the largest |x| (the vectorisable
    reduction of continuity_row), and a NaN of either sign wins, so a broken state is never hidden."""
    import math

    from floodsim.kernels.fastmath import from_bits, magnitude_bits

    rng = np.random.default_rng(3)
    x = np.concatenate([rng.uniform(0, 10, 500), rng.lognormal(0, 20, 500), [0.0, -0.0, 5e-324, np.inf]])
    order = np.argsort(x, kind="stable")
    bits = np.array([magnitude_bits(v) for v in x[order]])
    assert np.all(np.diff(bits) >= 0)
    assert from_bits(max(magnitude_bits(v) for v in x[np.isfinite(x)])) == x[np.isfinite(x)].max()
    negative_nan = -np.float64("nan")
    assert math.copysign(1.0, negative_nan) < 0
    assert math.isnan(from_bits(max(magnitude_bits(3.0), magnitude_bits(negative_nan), magnitude_bits(np.inf))))


@numba.njit
def _loop_inverse(x, guess, root, inv73):
    for k in range(x.size):
        guess[k] = rcbrt_guess(x[k])
        root[k] = rcbrt_positive(x[k])
        inv73[k] = inv_pow_7_3(x[k])


def test_friction_power_hinv_7_3_to_round_off():
    """The friction term's h^(-7/3) (bit guess + two quartic steps, inside a compiled loop) matches
    numpy ``x ** (-1/3)`` and ``x ** (-7/3)`` to rtol 1e-14 over 1e-12..1e6 and a dense sweep of one
    binade (every mantissa region of the guess). The guess itself is within 3.43 %, which keeps
    e = 1 - x y^3 below 0.11, where two steps reach round-off (docstring of rcbrt_positive)."""
    x = np.concatenate([X, np.linspace(1.0, 8.0, 200_001)])
    guess, root, inv73 = np.empty_like(x), np.empty_like(x), np.empty_like(x)
    _loop_inverse(x, guess, root, inv73)
    exact = x ** (-1.0 / 3.0)
    assert np.abs(guess / exact - 1.0).max() < 0.0343
    np.testing.assert_allclose(root, exact, rtol=RTOL, atol=0)
    np.testing.assert_allclose(inv73, x ** (-7.0 / 3.0), rtol=RTOL, atol=0)


def test_float32_forms_for_single_precision():
    """``precision = "single"`` computes the friction term in float32: the float32 guess of x^(-1/3)
    (fastmath._K_RCBRT_32, int32 bit pattern) is within 3.43 % for every float32 mantissa over three
    binades (the guess is periodic in the exponent modulo 3) and across the depth range, two
    iterations take it to float32 round-off, and everything stays float32."""
    mantissas = np.arange(2 ** 23, dtype=np.int64)
    x = np.concatenate([((np.int64(127 + e) << 23) | mantissas).astype(np.int32).view(np.float32)
                        for e in range(3)] + [np.geomspace(1e-6, 1e4, 200_001).astype(np.float32)])
    guess, root, inv73 = (np.empty_like(x) for _ in range(3))
    _loop_inverse(x, guess, root, inv73)
    assert guess.dtype == root.dtype == inv73.dtype == np.float32
    exact = x.astype(np.float64) ** (-1.0 / 3.0)
    assert np.max(np.abs(guess / exact - 1)) < 0.0343
    assert np.max(np.abs(root / exact - 1)) < 2.5e-7          # about 2 ulp of float32
    assert np.max(np.abs(inv73 / exact ** 7 - 1)) < 1.5e-6
    assert any(all(str(a.dtype) == "float32" for a in sig.args) for sig in _loop_inverse.nopython_signatures)
