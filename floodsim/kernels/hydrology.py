"""Infiltration capacity per cell: Green–Ampt and Horton, integrated over a step.

Both models keep one state per cell, the cumulative infiltrated depth ``F`` [m], and return the
*potential* infiltration over a step assuming water is available throughout; the caller limits it to
the water actually there (so a cell that is not ponded uses up its capacity more slowly, the usual
time-compression approximation).

Model codes (``model`` argument): 0 none, 1 Green–Ampt, 2 Horton.
"""

from __future__ import annotations

import math

from ._jit import kernel

NO_INFILTRATION = 0
GREEN_AMPT = 1
HORTON = 2


@kernel
def green_ampt_increment(F, ks, psi_dtheta, dt):
    """Potential Green–Ampt infiltration [m] over ``dt`` from cumulative depth ``F`` [m].

    Solves the ponded Green–Ampt relation exactly, ``F1 - F - S ln((F1+S)/(F+S)) = ks dt`` with
    ``S = psi_dtheta`` (Green & Ampt 1911; Chow, Maidment & Mays 1988, eq. 4.3.8), by Newton's method.

    Parameters
    ----------
    F : float
        Cumulative infiltration so far [m].
    ks : float
        Saturated hydraulic conductivity [m/s]; 0 means impervious.
    psi_dtheta : float
        Wetting-front suction head times moisture deficit [m].
    dt : float
        Step [s].
    """
    if ks <= 0.0 or dt <= 0.0:
        return 0.0
    S = psi_dtheta
    if S <= 0.0:
        return ks * dt
    target = ks * dt
    if F > 0.0:
        # Taylor series of F(t + dt) with dF/dt = f = ks (1 + S/F), d2F/dt2 = -ks S f / F^2 and
        # d3F/dt3 = ks S f (ks S / F + 2 f) / F^3. Its relative error is O(r^3) with r = f dt / F, so
        # for r < 1e-3 (most of a storm) it is exact to ~1e-9 and no logarithm is needed.
        f = ks * (1.0 + S / F)
        fdt = f * dt
        c = ks * S / (F * F)
        taylor = fdt - 0.5 * c * fdt * dt + c * (ks * S / F + 2.0 * f) * fdt * dt * dt / (6.0 * F)
        if fdt < 1e-3 * F:
            return taylor
        # Newton start: the increment is at least ks dt, and at most the increment from F = 0 (the
        # capacity falls as F grows), ks dt + sqrt(2 S ks dt). Without that cap a tiny F (a film of
        # drizzle) made the series' start ~1e18 m (or NaN, inf - inf, for a subnormal F), where Newton's
        # step lost every digit of the root and went below -S (log of a negative number: NaN depths).
        x = max(F + taylor, F + target)
        cap = F + target + math.sqrt(2.0 * S * target)
        if not x <= cap:   # beyond the bound, or NaN
            x = cap
    else:
        x = F + target + math.sqrt(2.0 * S * target)
    FS = F + S
    for _ in range(50):
        # g(x) = x - F - S ln((x + S)/(F + S)) - ks dt, convex and increasing for x > F
        d = x - F
        g = d - S * math.log1p(d / FS) - target
        step = g * (x + S) / x
        x -= step
        if abs(step) <= 1e-14 * (x + S):
            break
    return max(x - F, 0.0)


@kernel
def horton_increment(F, f0, fc, k, dt):
    """Potential Horton infiltration [m] over ``dt`` from cumulative depth ``F`` [m].

    Horton (1940): ``f(t) = fc + (f0 - fc) exp(-k t)``, integrated ``F(t) = fc t + (f0 - fc)(1 -
    exp(-k t)) / k``. The time ``tp`` at which the curve has infiltrated ``F`` is found by Newton's
    method and the increment is ``F(tp + dt) - F``.

    Parameters
    ----------
    F : float
        Cumulative infiltration so far [m].
    f0, fc : float
        Initial and final infiltration capacity [m/s].
    k : float
        Decay constant [1/s].
    dt : float
        Step [s].
    """
    if f0 <= 0.0 or dt <= 0.0:
        return 0.0
    if k <= 0.0:
        return f0 * dt
    span = (f0 - fc) / k
    if fc <= 0.0 and F >= span:
        return 0.0
    # concave increasing curve: Newton from the left (tp = F / f0) converges monotonically
    tp = F / f0
    for _ in range(60):
        e = math.exp(-k * tp)
        g = fc * tp + span * (1.0 - e) - F
        rate = fc + (f0 - fc) * e
        if rate <= 0.0:   # capacity underflowed to zero (tiny f0, fc = 0): the curve is flat here
            break
        step = g / rate
        tp -= step
        if abs(step) <= 1e-12 * (tp + 1.0):
            break
    t1 = tp + dt
    return max(fc * t1 + span * (1.0 - math.exp(-k * t1)) - F, 0.0)


@kernel
def infiltration_increment(model, F, p1, p2, p3, dt):
    """Dispatch to the infiltration model ``model`` (see the module docstring) [m]."""
    if model == GREEN_AMPT:
        return green_ampt_increment(F, p1, p2, dt)
    if model == HORTON:
        return horton_increment(F, p1, p2, p3, dt)
    return 0.0
