"""What went wrong in a failed state, and where: the one-line diagnoses of :class:`StabilityError`.

Pure functions of the state arrays (depth ``h`` [m], face discharges ``qx``, ``qy`` [m²/s], the grid's
map coordinates); the :class:`~floodsim.core.simulation.Simulation` calls them when it stops a run.
"""

from __future__ import annotations

import numpy as np

from ..kernels.continuity import SPEED_DEPTH_FACTOR


def cell_speed(h, qx, qy, i: int, j: int, hmin: float) -> float:
    """Flow speed of cell (i, j) as the Courant condition sees it [m/s]: its largest face discharge
    over its depth (0 where the depth is below ``SPEED_DEPTH_FACTOR * hmin``; NaN for a NaN depth)."""
    hij = h[i, j]
    if not np.isfinite(hij):
        return float("nan")
    if not hij > SPEED_DEPTH_FACTOR * hmin:
        return 0.0
    qm = max(abs(qx[i, j]), abs(qx[i, j + 1]), abs(qy[i, j]), abs(qy[i + 1, j]))
    return float(qm / hij)


def courant_speeds(h, qx, qy, active, hmin: float, g: float) -> np.ndarray:
    """Per-cell Courant speed ``sqrt(g h) + u`` [m/s] (``u`` as :func:`cell_speed`)."""
    h = np.where(active.astype(bool) & np.isfinite(h), np.maximum(h, 0.0), 0.0)
    qm = np.maximum(np.maximum(np.abs(qx[:, :-1]), np.abs(qx[:, 1:])),
                    np.maximum(np.abs(qy[:-1]), np.abs(qy[1:])))
    fast = h > SPEED_DEPTH_FACTOR * hmin
    u = np.where(fast, np.nan_to_num(qm) / np.where(fast, h, 1.0), 0.0)
    return np.sqrt(g * h) + u


def diagnose(what: str, *, h, qx, qy, active, x, y, t: float, steps: int, hmin: float, g: float,
             focus: str = "deepest") -> str:
    """One-line diagnosis of a failed state: time, the cell (row, col and map x, y), its depth and
    speed, and a hint.

    Parameters
    ----------
    what : str
        What went wrong ("the time step collapsed: ...").
    h, qx, qy, active : arrays
        The state (see :mod:`floodsim.core.grid` for shapes and signs).
    x, y : 1-D arrays
        Map coordinates of the cell centres [m].
    t : float
        Simulation time [s].
    steps : int
        Steps taken so far.
    hmin, g : float
        Dry threshold [m] and gravitational acceleration [m/s²].
    focus : str
        ``"deepest"`` (the cell that limits the Courant step) or ``"negative"`` (the most negative
        depth); a non-finite depth always takes precedence.
    """
    bad = ~np.isfinite(h)
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        where = "first non-finite depth in"
        hint = ("NaN usually starts at a DEM spike or pit, a huge inflow or level on few cells, or a "
                "Manning's n near 0: check the inputs there, or lower cfl")
    elif focus == "negative" and h.min() < 0:
        i, j = (int(v) for v in np.unravel_index(int(np.argmin(h)), h.shape))
        where = "most negative depth in"
        hint = "this is a solver bug: please report it with the scenario"
    else:
        c = courant_speeds(h, qx, qy, active, hmin, g)
        i, j = (int(v) for v in np.unravel_index(int(np.argmax(c)), h.shape))
        where = f"the fastest wave ({c[i, j]:.3g} m/s) limits the step, in"
        hint = ("a deep pit or an inflow/level far too large for its cells: check the DEM and inputs "
                "there (if that depth is real, lower dt_min)")
    speed = cell_speed(h, qx, qy, i, j, hmin)
    return (f"simulation stopped at t = {t:.3f} s after {steps} steps: {what}; "
            f"{where} cell (row {i}, col {j}), map point ({x[j]:.1f}, {y[i]:.1f}): depth {h[i, j]:.4g} m, "
            f"speed {speed:.3g} m/s. Hint: {hint}.")
