"""Friction-term powers of :mod:`floodsim.kernels.fastmath` against numpy's libm powers.

Reference: numpy ``x ** (1/3)`` and ``x ** (7/3)`` (correctly rounded-ish libm ``pow``), which the
arithmetic cube root (bit-level guess + 3 Halley steps) claims to match "to within a few ulp".
"""

import numba
import numpy as np
import pytest

from floodsim.kernels.fastmath import cbrt_positive, pow_7_3

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
