"""Vectorisable replacements for slow libm powers used in the friction term.

``h ** (7/3)`` dominates a straightforward local-inertial kernel because numba (without SVML) cannot
vectorise ``pow``. Here the cube root is computed with plain arithmetic: a bit-level first guess
(the high word divided by three, as in fdlibm's cbrt) refined by three Halley iterations, which is
accurate to round-off for every positive normal float64. Tested against ``x ** (1/3)`` in
``tests/unit/test_fastmath.py``.

The guess of ``x ** (-1/3)`` converts between int64 and float64. Where the target has no packed
conversions (AVX2, SSE) the exact integer emulations :func:`i64_to_f64_exact` and
:func:`f64_to_i64_trunc` replace them; they round exactly as the hardware conversion does, so the two
forms give the same bits (``tests/unit/test_kernel_targets.py``). Which is used is decided once, at
import (:data:`floodsim.kernels._jit.PACKED_INT64_CONVERSION`).
"""

from __future__ import annotations

import numpy as np

from ._jit import JIT_DISABLED, PACKED_INT64_CONVERSION, kernel, real

# fdlibm's s_cbrt.c first guess: divide the high 32 bits of the float64 by three and add
# B1 = (682 - 0.03306235651) * 2**20, which gives cbrt to about 5 bits. Unsigned 32-bit division by a
# constant compiles to a vectorisable multiply; signed 64-bit floor division (Python semantics) does not.
_B1 = 715094163

if JIT_DISABLED:  # pragma: no cover - exercised only in NUMBA_DISABLE_JIT runs

    def _f64_to_i64(x):
        return int(np.array(x, dtype=np.float64).view(np.int64))

    def _i64_to_f64(i):
        return float(np.array(i, dtype=np.int64).view(np.float64))

    def _f32_to_i32(x):
        return int(np.array(x, dtype=np.float32).view(np.int32))

    def _i32_to_f32(i):
        return np.array(i, dtype=np.int32).view(np.float32)[()]

    _u32 = int
    _u64 = int
    _i64 = int
    _i32 = np.int32

    def mul_add(a, b, c):
        return a * b + c

    def select(condition, a, b):
        return a if condition else b

    def freeze(x):
        return x

    def count_if(count, flag):
        return count + (1 if flag else 0)

else:
    from llvmlite import ir
    from numba import int64 as _i64
    from numba import uint32 as _u32
    from numba import uint64 as _u64
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

    @intrinsic
    def _f32_to_i32(typingctx, x):
        if x != types.float32:
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.IntType(32))

        return types.int32(types.float32), codegen

    @intrinsic
    def _i32_to_f32(typingctx, i):
        if i != types.int32:
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.FloatType())

        return types.float32(types.int32), codegen

    from numba import int32 as _i32

    @intrinsic
    def mul_add(typingctx, a, b, c):
        """``a * b + c`` [float64] as LLVM's ``fmuladd``: one rounding where the CPU has a fused
        multiply-add (as the kernels' ``contract`` flag lets LLVM fuse ``c + a * b`` written out), two
        where it has none. For a sum whose product LLVM would hoist out of a loop (and so not fuse)."""
        if not (a == b == c == types.float64):
            return None

        def codegen(context, builder, signature, args):
            d = ir.DoubleType()
            fn = builder.module.declare_intrinsic("llvm.fmuladd", [d], ir.FunctionType(d, [d, d, d]))
            return builder.call(fn, args)

        return types.float64(types.float64, types.float64, types.float64), codegen

    @intrinsic
    def select(typingctx, condition, a, b):
        """``a if condition else b`` for two floats of one precision, as LLVM's ``select`` marked
        ``!unpredictable``: both sides are computed every time, and the loads feeding ``a`` stay plain
        loads.

        Why not a Python conditional: numba compiles each kernel to machine code in its own module, and
        LLVM's CodeGenPrepare then rewrites, in place, a select whose side is expensive (the friction
        solve's sqrt and division) into a branch with that side and its loads sunk into it. A caller
        (``sweep_bands``) links that module, inlines it and vectorises it again; the sunk loads are then
        under a condition, and become masked loads: on AVX2 12 ``vmaskmovpd`` (two micro-operations and
        a longer latency each) per 4 east and 4 south faces, k-masked loads on AVX-512
        (``benchmarks/inspect_vectorisation.py``). ``!unpredictable`` keeps CodeGenPrepare from making
        the branch. The value is the same either way; the side not taken must not trap (floating-point
        arithmetic under numpy's error model does not).
        """
        if not (condition == types.boolean and a == b and a in (types.float32, types.float64)):
            return None

        def codegen(context, builder, signature, args):
            chosen = builder.select(args[0], args[1], args[2])
            chosen.set_metadata("unpredictable", builder.module.add_metadata([]))
            return chosen

        return a(types.boolean, a, a), codegen

    @intrinsic
    def freeze(typingctx, x):
        """``x`` itself (a float of either precision), through LLVM's ``freeze``: the identity for every
        value a load gives, NaN and inf included, so the bits are the same.

        For the running maxima written back with a select, ``m[j] = new if new > old else old`` where
        ``old = freeze(m[j])``. Without it, LLVM's instruction selection matches a vector select between
        a new value and the value just loaded from the address it stores to, and turns the load, select
        and store into a masked store (``vmaskmovps`` on AVX2). That store is microcoded and slow on AMD
        Zen 2/3: on a Zen 3 (EPYC) the two masked stores of the float32 maxima fold took about 12 % of a
        step's samples (``perf``, 2026-12-03). ``freeze`` is not a load, so the pattern no longer
        matches: the loop keeps a plain load, a blend and a plain store, and still vectorises
        (``tests/unit/test_kernel_targets.py``). It costs no instruction.
        """
        if x not in (types.float32, types.float64):
            return None

        def codegen(context, builder, signature, args):
            # llvmlite's IRBuilder has no freeze method: a generic instruction prints as
            # "freeze <type> <value>", which is the instruction's syntax.
            frozen = ir.instructions.Instruction(builder.block, args[0].type, "freeze", [args[0]])
            builder._insert(frozen)
            return frozen

        return x(x), codegen

    @intrinsic
    def count_if(typingctx, count, flag):
        """``count + 1`` where ``flag`` is true, else ``count``, in int32 [a count of cells].

        numba widens int32 arithmetic to int64, so a row's cell counts (wet cells, negative depths) in
        the maxima fold were int64 vectors beside float32 values: with AVX2 the float32 fold then ran 4
        cells per iteration (xmm) instead of 8. Counting in int32 keeps every lane 32 bits wide. A row
        holds far fewer than 2**31 cells.
        """
        if not (count == types.int32 and flag == types.boolean):
            return None

        def codegen(context, builder, signature, args):
            return builder.add(args[0], builder.zext(args[1], ir.IntType(32)))

        return types.int32(types.int32, types.boolean), codegen


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
    high = _u32(_f64_to_i64(x) >> 32)
    y = _i64_to_f64(_i64(high // _u32(3) + _u32(_B1)) << 32)
    # Halley's iteration y <- y (y^3 + 2x) / (2 y^3 + x): cubic convergence, 3 steps from ~3 % error.
    for _ in range(3):
        y3 = y * y * y
        y = y * (y3 + 2.0 * x) / (2.0 * y3 + x)
    return y


@kernel
def pow_7_3(h):
    """``h ** (7/3)`` for a positive depth ``h`` [m], as ``h**2 * cbrt(h)`` (vectorisable)."""
    return h * h * cbrt_positive(h)


# First guess for x**(-1/3): negate the exponent third around the bias, on the whole 64-bit pattern
# (``K - bits/3``, with the division done in floating point, which vectorises to three instructions).
# K was searched so that the guess is within 3.43 % of the root for every mantissa (see
# tests/unit/test_fastmath.py).
_K_RCBRT = 0x553EF0FF1A9FBC00


# Bit patterns for the exact int64 <-> float64 conversions (the classic "magic number" construction).
_LOW32 = 0xFFFFFFFF
_BITS_2P52 = 0x4330000000000000          # 2.0**52
_BITS_2P84 = 0x4530000000000000          # 2.0**84
_2P84_PLUS_2P52 = 2.0 ** 84 + 2.0 ** 52  # exact in float64
_MANTISSA = 0x000FFFFFFFFFFFFF
_IMPLICIT_ONE = 0x0010000000000000


@kernel
def i64_to_f64_exact(i):
    """``float(i)`` for ``0 <= i < 2**63``, rounded to nearest as the hardware conversion, with
    integer and float arithmetic that vectorises without AVX-512DQ.

    The low and high 32 bits are planted in the mantissas of ``2**52`` and ``2**84``:
    ``hi = 2**84 + (i >> 32) * 2**32`` and ``lo = 2**52 + (i & 0xFFFFFFFF)``, both exact. Then
    ``hi - (2**84 + 2**52)`` is exact too (a multiple of ``2**32`` below ``2**63``), and adding ``lo``
    gives ``i`` with a single rounding, the same as ``cvtsi2sd``.

    The shift is done on the unsigned pattern (the same bits for ``i >= 0``): a logical shift of 64-bit
    lanes is one AVX2 instruction (``vpsrlq``), where the arithmetic shift of a signed int64 is
    emulated with three (AVX2 has no ``vpsraq``).
    """
    u = _u64(i)
    lo = _i64_to_f64(_i64((u & _u64(_LOW32)) | _u64(_BITS_2P52)))
    hi = _i64_to_f64(_i64((u >> _u64(32)) | _u64(_BITS_2P84)))
    return (hi - _2P84_PLUS_2P52) + lo


@kernel
def f64_to_i64_trunc(v):
    """``int(v)`` (towards zero) for ``1 <= v < 2**63``, from the bits of ``v`` (vectorises on AVX2).

    ``v = m * 2**e`` with the 53-bit integer mantissa ``m`` (implicit one included) and
    ``e = exponent - 52``; the integer part is ``m << e`` for ``e >= 0`` and ``m >> -e`` otherwise (the
    shift drops the fraction, i.e. truncates). Both shifts are taken with non-negative counts and the
    unused one is by zero, so the code is branch-free (AVX2 ``vpsllvq``/``vpsrlvq``). The bits are
    shifted as unsigned integers (the same as signed for ``v >= 1``): logical shifts of 64-bit lanes
    are single AVX2 instructions, arithmetic ones are emulated.
    """
    b = _u64(_f64_to_i64(v))
    e = _i64(b >> _u64(52)) - 1075
    m = (b & _u64(_MANTISSA)) | _u64(_IMPLICIT_ONE)
    return _i64((m << _u64(max(e, 0))) >> _u64(max(-e, 0)))


@kernel
def rcbrt_guess_packed(x):
    """First guess of ``x ** (-1/3)`` with the hardware int64 <-> float64 conversions (AVX-512DQ, NEON)."""
    return _i64_to_f64(_i64(_K_RCBRT) - _i64(float(_f64_to_i64(x)) * (1.0 / 3.0)))


@kernel
def rcbrt_guess_emulated(x):
    """The same bits as :func:`rcbrt_guess_packed` for positive normal ``x``, with the conversions
    emulated exactly (:func:`i64_to_f64_exact`, :func:`f64_to_i64_trunc`) for AVX2 and SSE.

    Outside that domain (zero, negative, NaN: lanes whose result the friction term discards) the
    value differs but nothing traps.
    """
    return _i64_to_f64(_i64(_K_RCBRT) - f64_to_i64_trunc(i64_to_f64_exact(_f64_to_i64(x)) * (1.0 / 3.0)))


#: The float64 guess in the form that vectorises on the compile target (see :mod:`floodsim.kernels._jit`);
#: both give the same bits.
_rcbrt_guess_double = rcbrt_guess_packed if PACKED_INT64_CONVERSION else rcbrt_guess_emulated

# The float32 guess: the same construction on the 32-bit pattern. K was searched like _K_RCBRT, with the
# conversions in float32 as the kernel does them (max error 3.42 % over every mantissa; see
# tests/unit/test_fastmath.py). int32 <-> float32 conversions are packed instructions on SSE2, AVX2,
# AVX-512 and NEON alike, so this form vectorises everywhere.
_K_RCBRT_32 = 0x54A232AA


@kernel
def rcbrt_guess_single(x):
    """First guess of ``x ** (-1/3)`` for a positive normal float32 ``x`` (within 3.42 %)."""
    return _i32_to_f32(_i32(_K_RCBRT_32 - _i32(np.float32(_f32_to_i32(x)) * np.float32(1.0 / 3.0))))


def rcbrt_guess(x):
    """First guess of ``x ** (-1/3)`` (within 3.43 % for a positive normal ``x``): float32 for a float32
    ``x`` (:func:`rcbrt_guess_single`), else the float64 form chosen for the compile target."""
    if isinstance(x, np.float32):
        return rcbrt_guess_single(x)
    return _rcbrt_guess_double(x)


if not JIT_DISABLED:
    from numba.extending import overload

    @overload(rcbrt_guess, jit_options={"inline": "always"})
    def _rcbrt_guess_jit(x):
        if x == types.float32:
            return lambda x: rcbrt_guess_single(x)
        return lambda x: _rcbrt_guess_double(x)


@kernel
def rcbrt_positive(x):
    """``x ** (-1/3)`` for a positive, normal float (float64, or float32 for single precision), with
    multiplications only (no division), in the precision of ``x``.

    From the bit-level guess ``y``, with ``e = 1 - x y^3`` the root is ``y (1 - e)^(-1/3) = y (1 + e/3
    + 2e^2/9 + 14e^3/81 + ...)``; keeping three terms of the series gives a quartically convergent
    iteration, so two steps take the guess (``|e| < 0.11``) to round-off (relative error < 2e-15 in
    float64, a few ulp in float32). The float64 guess divides the bit pattern by three in float64: the
    pattern (< 2^63) loses at most its last 10 bits in the conversion, which moves the guess by less
    than 1e-12 relative.
    """
    y = rcbrt_guess(x)
    one = real(1.0, x)
    c1 = real(1.0 / 3.0, x)
    c2 = real(2.0 / 9.0, x)
    c3 = real(14.0 / 81.0, x)
    for _ in range(2):
        e = one - x * y * y * y
        y = y + y * e * (c1 + e * (c2 + c3 * e))
    return y


@kernel
def inv_pow_7_3(h):
    """``h ** (-7/3)`` for a positive depth ``h`` [m], division-free (``r**7`` with ``r = h**(-1/3)``)."""
    r = rcbrt_positive(h)
    r2 = r * r
    return r2 * r2 * r2 * r


_ABS_MASK = 0x7FFFFFFFFFFFFFFF
_ABS_MASK_32 = 0x7FFFFFFF


@kernel
def _magnitude_bits_double(x):
    return _f64_to_i64(x) & _ABS_MASK


@kernel
def _magnitude_bits_single(x):
    return _i32(_f32_to_i32(x) & _i32(_ABS_MASK_32))


def magnitude_bits(x):
    """The bits of ``|x|`` as an integer (int64 for a float64 ``x``, int32 for a float32), whose order is
    that of ``|x|`` (NaN above +inf).

    A running ``max`` of these integers is the bit pattern of the largest magnitude, and unlike a
    floating-point max (which LLVM vectorises only under fast-math) an integer max reduction
    vectorises. NaN, whatever its sign bit, becomes the largest value, so it is never lost in the
    reduction. :func:`from_bits` turns the result back into a float.
    """
    if isinstance(x, np.float32):
        return np.int32(_magnitude_bits_single(x))
    return _magnitude_bits_double(x)


@kernel
def _from_bits_double(i):
    return _i64_to_f64(i)


@kernel
def _from_bits_single(i):
    return _i32_to_f32(i)


def from_bits(i):
    """The float whose bit pattern is the integer ``i``: float64 for an int64, float32 for an int32
    (inverse of :func:`magnitude_bits` for x >= 0)."""
    if isinstance(i, np.int32):
        return _from_bits_single(i)
    return _from_bits_double(i)


if not JIT_DISABLED:
    @overload(magnitude_bits, jit_options={"inline": "always"})
    def _magnitude_bits_jit(x):
        if x == types.float32:
            return lambda x: _magnitude_bits_single(x)
        return lambda x: _magnitude_bits_double(x)

    @overload(from_bits, jit_options={"inline": "always"})
    def _from_bits_jit(i):
        if i == types.int32:
            return lambda i: _from_bits_single(i)
        return lambda i: _from_bits_double(i)
