"""Device functions of the CUDA kernels: the per-face and per-cell arithmetic of the CPU kernels.

Each function is the CPU function of the same name (:mod:`floodsim.kernels.inertial`,
:mod:`floodsim.kernels.boundary`, :mod:`floodsim.kernels.hydrology`) with the same operations in the
same order, so the two backends agree to round-off. Where the CPU compiler fuses a multiply-add whose
result is compared with a threshold after many repetitions (roof rain summed onto a cell, which can
land on ``hmin`` exactly), the device code writes :func:`fma` explicitly. Two differences, both at
round-off level:
``h ** (-7/3)`` uses the device cube root (the CPU uses a bit-level guess refined by a series,
:mod:`floodsim.kernels.fastmath`), and the compilers may fuse different multiply-adds.
Units: depths and levels [m], discharges per unit width [m²/s], times [s], rates [m/s].

Precision (``[simulation] precision``, the dtype of the state arrays): as on the CPU, only the face
fluxes are computed in the state's precision (:func:`make_almeida_flux`: float32 arithmetic for
``"single"``); everything else computes in float64 from loads widened with :data:`wide`. numba-cuda
types ``float32 * 0.5`` as float64 (like numba on the CPU), so the float32 face flux writes every
literal and every result of a math function through ``real`` (``numba.float32``, a cast that the
compiler folds into the constant; under the CUDA simulator it also rounds the float64 that Python's
``math.sqrt`` and ``math.cbrt`` return, which is what the device's correctly rounded ``sqrtf`` gives).
The float32 cube root is the device's ``cbrtf`` (libdevice, 1 ulp), not the CPU's bit-level guess: that
guess exists because SIMD units have no cube root, a GPU thread computes ``cbrtf`` in a few
instructions, and the face kernel is bound by memory traffic either way.
"""
from __future__ import annotations

import math

from numba import config, cuda, float32, float64

#: Widening of a state array element to float64 (``wide(h[i, j])``), as :data:`floodsim.kernels._jit.wide`:
#: the identity for float64 arrays, exact for float32 ones. Every kernel but the face fluxes computes in
#: float64; without it ``float32 - float32`` would stay float32 (on the device and in the simulator alike).
wide = float64

# Green–Ampt / Horton model codes, as floodsim.kernels.hydrology
GREEN_AMPT = 1
HORTON = 2

# boundary sides and kinds, as floodsim.kernels.boundary
WEST, EAST, NORTH, SOUTH = 0, 1, 2, 3
FREE_NORMAL, CRITICAL, LEVEL = 1, 2, 3


# The device intrinsics this module needs, written for the simulator without ``cuda.*`` in their bodies:
# the simulator swaps a module's ``cuda`` global in and out around every device-function call, which
# races when several simulated threads run device functions of a module their kernel is not in.
if config.ENABLE_CUDASIM:
    from fractions import Fraction

    @cuda.jit(device=True)
    def fma(a, b, c):
        """``a * b + c`` rounded once, as the GPU's fused multiply-add (the simulator's ``cuda.fma``
        rounds twice); exact rational arithmetic, for the simulator only."""
        if not (math.isfinite(a) and math.isfinite(b) and math.isfinite(c)):
            return a * b + c
        return float(Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c)))

    @cuda.jit(device=True)
    def cbrt(x):
        """Cube root (the C library's, in the simulator)."""
        return math.cbrt(x)
else:
    @cuda.jit(device=True)
    def fma(a, b, c):
        """``a * b + c`` rounded once (fused multiply-add)."""
        return cuda.fma(a, b, c)

    @cuda.jit(device=True)
    def cbrt(x):
        """Cube root (the device's)."""
        return cuda.cbrt(x)


@cuda.jit(device=True)
def pmax(a, b):
    """``max(a, b)`` that keeps a NaN from either side (a NaN speed must reach the Courant check)."""
    return b if (b > a or b != b) else a


@cuda.jit(device=True)
def inv_pow_7_3(h):
    """``h ** (-7/3)`` for a positive depth ``h`` [m] (``r**7`` with ``r = 1 / cbrt(h)``)."""
    r = 1.0 / cbrt(h)
    r2 = r * r
    return r2 * r2 * r2 * r


@cuda.jit(device=True)
def implicit_friction(a, b):
    """Solve ``q (1 + b |q|) = a`` for ``q`` (:func:`floodsim.kernels.inertial.implicit_friction`)."""
    return 2.0 * a / (1.0 + math.sqrt(1.0 + 4.0 * b * abs(a)))


def make_almeida_flux(real):
    """The device function ``almeida_flux`` computing in the precision of ``real`` (``numba.float64`` or
    ``numba.float32``): every argument must already have it (the face kernel casts them), and every
    literal and math result is cast with ``real`` (see the module docstring)."""

    @cuda.jit(device=True)
    def almeida_flux(q, q_back, q_ahead, eta_a, eta_b, z_a, z_b, n, dt, dl, g, theta, hmin):
        """New unit-width discharge [m²/s] at one face (:func:`floodsim.kernels.inertial.almeida_flux`), in
        the precision of its arguments."""
        hf = max(eta_a, eta_b) - max(z_a, z_b)
        if not hf > hmin:
            return real(0.0)
        one = real(1.0)
        a = theta * q + real(0.5) * (one - theta) * (q_back + q_ahead) - (g * dt / dl) * hf * (eta_b - eta_a)
        # inv_pow_7_3 and implicit_friction written out: the face kernel calls this per face, and in the
        # CUDA simulator each device-function call costs ~25 µs (on a GPU they are inlined either way)
        r = one / real(cbrt(hf))
        r2 = r * r
        b = g * dt * n * n * (r2 * r2 * r2 * r)
        return real(2.0) * a / (one + real(math.sqrt(one + real(4.0) * b * abs(a))))

    return almeida_flux


#: The face flux in float64 (``precision = "double"``) and in float32 (``"single"``).
almeida_flux = make_almeida_flux(float64)
almeida_flux_single = make_almeida_flux(float32)


@cuda.jit(device=True)
def level_boundary_flux(q_out_old, eta_cell, z_cell, eta_outside, n, dt, dl, g, hmin):
    """Outflow [m²/s] towards a ghost cell at level ``eta_outside`` (kernels.boundary)."""
    hf = max(eta_cell, eta_outside) - z_cell
    if not hf > hmin:
        return 0.0
    a = q_out_old - g * hf * dt * (eta_outside - eta_cell) / dl
    b = g * dt * n * n * inv_pow_7_3(hf)
    return implicit_friction(a, b)


@cuda.jit(device=True)
def normal_depth_flux(q_out_old, depth, slope, n, dt, g, hmin):
    """Outflow [m²/s] at normal depth for a surface falling at ``slope`` (kernels.boundary)."""
    if not depth > hmin:
        return 0.0
    a = max(q_out_old, 0.0) + g * depth * dt * slope
    b = g * dt * n * n * inv_pow_7_3(depth)
    return implicit_friction(a, b)


@cuda.jit(device=True)
def critical_depth_flux(depth, g, hmin):
    """Outflow [m²/s] ``h sqrt(g h)`` at critical depth (kernels.boundary)."""
    return depth * math.sqrt(g * depth) if depth > hmin else 0.0


@cuda.jit(device=True)
def green_ampt_increment(F, ks, psi_dtheta, dt):
    """Potential Green–Ampt infiltration [m] over ``dt`` [s] from cumulative depth ``F`` [m]
    (:func:`floodsim.kernels.hydrology.green_ampt_increment`, the same Newton iteration)."""
    if ks <= 0.0 or dt <= 0.0:
        return 0.0
    S = psi_dtheta
    if S <= 0.0:
        return ks * dt
    target = ks * dt
    if F > 0.0:
        f = ks * (1.0 + S / F)
        fdt = f * dt
        c = ks * S / (F * F)
        taylor = fdt - 0.5 * c * fdt * dt + c * (ks * S / F + 2.0 * f) * fdt * dt * dt / (6.0 * F)
        if fdt < 1e-3 * F:
            return taylor
        x = max(F + taylor, F + target)
        cap = F + target + math.sqrt(2.0 * S * target)
        if not x <= cap:
            x = cap
    else:
        x = F + target + math.sqrt(2.0 * S * target)
    FS = F + S
    for _ in range(50):
        d = x - F
        gx = d - S * math.log1p(d / FS) - target
        step = gx * (x + S) / x
        x -= step
        if abs(step) <= 1e-14 * (x + S):
            break
    return max(x - F, 0.0)


@cuda.jit(device=True)
def horton_increment(F, f0, fc, k, dt):
    """Potential Horton infiltration [m] over ``dt`` [s] from cumulative depth ``F`` [m]
    (:func:`floodsim.kernels.hydrology.horton_increment`)."""
    if f0 <= 0.0 or dt <= 0.0:
        return 0.0
    if k <= 0.0:
        return f0 * dt
    span = (f0 - fc) / k
    if fc <= 0.0 and F >= span:
        return 0.0
    tp = F / f0
    for _ in range(60):
        e = math.exp(-k * tp)
        gx = fc * tp + span * (1.0 - e) - F
        rate = fc + (f0 - fc) * e
        if rate <= 0.0:
            break
        step = gx / rate
        tp -= step
        if abs(step) <= 1e-12 * (tp + 1.0):
            break
    t1 = tp + dt
    return max(fc * t1 + span * (1.0 - math.exp(-k * t1)) - F, 0.0)


@cuda.jit(device=True)
def infiltration_increment(model, F, p1, p2, p3, dt):
    """Dispatch to the infiltration model ``model`` (1 Green–Ampt, 2 Horton) [m]."""
    if model == GREEN_AMPT:
        return green_ampt_increment(F, p1, p2, dt)
    if model == HORTON:
        return horton_increment(F, p1, p2, p3, dt)
    return 0.0
