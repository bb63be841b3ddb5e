"""Vectorisable replacements for slow libm powers used in the friction term.

``h ** (7/3)`` dominates a straightforward local-inertial kernel because numba (without SVML) cannot
vectorise ``pow``. Here the cube root is computed with plain arithmetic: a bit-level first guess
(the exponent divided by three, as in Kahan's cbrt) refined by three Halley iterations, which is
accurate to round-off for every positive normal float64. Tested against ``x ** (1/3)`` in
``tests/unit/test_fastmath.py``.
"""

from __future__ import annotations

import numpy as np

from ._jit import JIT_DISABLED, kernel

# Bit pattern offset so that (bits(x) // 3 + _CBRT_MAGIC) is close to bits(cbrt(x)):
# bits(x) ~ 2**52 * (e + 1023), and we want 2**52 * (e/3 + 1023), i.e. add 2/3 * 1023 * 2**52.
_CBRT_MAGIC = np.int64(0x2A9F7893782DA1CE)

if JIT_DISABLED:  # pragma: no cover - exercised only in NUMBA_DISABLE_JIT runs

    def _f64_to_i64(x):
        return int(np.array(x, dtype=np.float64).view(np.int64))

    def _i64_to_f64(i):
        return float(np.array(i, dtype=np.int64).view(np.float64))

else:
    from llvmlite import ir
    from numba.core import types
    from numba.extending import intrinsic

    @intrinsic
    def _f64_to_i64(typingctx, x):
        if x != types.float64:
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.IntType(64))

        return types.int64(types.float64), codegen

    @intrinsic
    def _i64_to_f64(typingctx, i):
        if i != types.int64:
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.DoubleType())

        return types.float64(types.int64), codegen


@kernel
def cbrt_positive(x):
    """Cube root of a positive, normal float64 ``x`` using only arithmetic (vectorisable).

    Parameters
    ----------
    x : float
        Positive normal number. Zero, negatives, subnormals and NaN give meaningless results; callers
        guard them (the friction term only evaluates it for depths above the wet threshold).

    Returns
    -------
    float
        ``x ** (1/3)`` to within a few ulp.
    """
    y = _i64_to_f64(_f64_to_i64(x) // 3 + _CBRT_MAGIC)
    # Halley's iteration y <- y (y^3 + 2x) / (2 y^3 + x): cubic convergence, 3 steps from ~5 % error.
    for _ in range(3):
        y3 = y * y * y
        y = y * (y3 + 2.0 * x) / (2.0 * y3 + x)
    return y


@kernel
def pow_7_3(h):
    """``h ** (7/3)`` for a positive depth ``h`` [m], as ``h**2 * cbrt(h)`` (vectorisable)."""
    return h * h * cbrt_positive(h)
