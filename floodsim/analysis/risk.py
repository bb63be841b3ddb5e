"""From design events to risk: likelihood bands, the first return period that floods a building, the
expected annual damage per building, service goals and design storms in words.

Pure functions on arrays and tables; :mod:`floodsim.sweep.risk` reads the members' run folders and
calls them.

**Return period → likelihood.** A design storm of return period ``T`` [years] stands for the flood of
annual exceedance probability ``AEP = 1/T`` (the storm's return period stands in for the flood's, as
in :mod:`floodsim.analysis.damage`). A cell (or a building) is flooded by a storm when its flood depth
(:func:`floodsim.analysis.flooding.flood_depth`: water held by measures by design does not count)
reaches the flood threshold. Its likelihood is the AEP of the **most frequent** (lowest ``T``) simulated
storm that floods it, banded as the UK Environment Agency's Risk of Flooding from Surface Water:

======  ============  ============================
code    band          AEP of the most frequent storm that floods the cell
======  ============  ============================
4       high          AEP ≥ 3.3 % (1 in 30)
3       medium        1 % ≤ AEP < 3.3 %
2       low           0.1 % ≤ AEP < 1 %
1       very low      AEP < 0.1 %
0       not flooded   no simulated storm floods it
======  ============  ============================

(:data:`BAND_NODATA` where no storm has a value: outside the model.) With few simulated storms the
band is only as fine as the storms: a cell first flooded at ``T = 100`` is "medium" even if a 50-year
storm (not simulated) would have flooded it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

#: Band codes (int8) of :func:`likelihood_bands`; higher is more likely.
BANDS: dict[int, str] = {0: "not flooded", 1: "very low", 2: "low", 3: "medium", 4: "high"}
#: Nodata code of the band raster (no storm has a value here: outside the model).
BAND_NODATA = -1
#: Lower AEP edges [1/yr] of the bands high, medium and low (UK Environment Agency).
HIGH_AEP = 1.0 / 30.0        # 3.3 %
MEDIUM_AEP = 0.01            # 1 %
LOW_AEP = 0.001              # 0.1 %


def band_of_aep(aep) -> np.ndarray:
    """Band code (int8) of annual exceedance probabilities [1/yr]: 4 high (≥ 1/30), 3 medium (≥ 1 %),
    2 low (≥ 0.1 %), 1 very low (> 0), 0 for NaN or 0 (not flooded)."""
    p = np.nan_to_num(np.asarray(aep, dtype=np.float64), nan=0.0)
    code = np.zeros(p.shape, np.int8)
    code[p > 0] = 1
    code[p >= LOW_AEP * (1 - 1e-12)] = 2
    code[p >= MEDIUM_AEP * (1 - 1e-12)] = 3
    code[p >= HIGH_AEP * (1 - 1e-12)] = 4
    return code


def lowest_return_period(flooded, return_periods_yr) -> np.ndarray:
    """Per item (cell or building), the lowest return period [years] whose event floods it; NaN where
    none does.

    Parameters
    ----------
    flooded : array (n_events, ...) of bool
        Whether each event floods each item (NaN-free; pass ``depth >= threshold``).
    return_periods_yr : sequence of float, length n_events
    """
    f = np.asarray(flooded, dtype=bool)
    t = np.asarray(return_periods_yr, dtype=np.float64)
    if f.shape[0] != t.size:
        raise ValueError(f"one flooded map per return period: {f.shape[0]} maps, {t.size} return periods")
    stacked = np.where(f, t.reshape((-1,) + (1,) * (f.ndim - 1)), np.inf)
    out = stacked.min(axis=0) if t.size else np.full(f.shape[1:], np.inf)
    return np.where(np.isfinite(out), out, np.nan)


def likelihood_bands(flood_depths, return_periods_yr, threshold_m: float) -> np.ndarray:
    """The band raster (int8, see the module docstring) of a stack of max flood depths.

    Parameters
    ----------
    flood_depths : array (n_events, ny, nx)
        Max flood depth [m] of each event (NaN outside the model).
    return_periods_yr : sequence of float
        Return period of each event.
    threshold_m : float
        Depth that counts as flooded [m] (``depth >= threshold``).
    """
    d = np.asarray(flood_depths, dtype=np.float64)
    first = lowest_return_period(np.nan_to_num(d, nan=-np.inf) >= threshold_m, return_periods_yr)
    code = band_of_aep(1.0 / first)
    code[np.all(np.isnan(d), axis=0)] = BAND_NODATA
    return code


def ead_per_item(return_periods_yr, damages, zero_damage_return_period_yr: float | None = None,
                 rare_tail: str = "constant") -> np.ndarray:
    """Expected annual damage of each item (building) [currency/yr]:
    :func:`floodsim.analysis.damage.expected_annual_damage` applied to each column of ``damages``
    (n_events, n_items), so that the items' EADs add up to the EAD of their summed damages."""
    from .damage import expected_annual_damage

    d = np.asarray(damages, dtype=np.float64)
    if d.ndim != 2:
        raise ValueError("damages must be (n_events, n_items)")
    return np.array([expected_annual_damage(return_periods_yr, d[:, k], zero_damage_return_period_yr,
                                            rare_tail) for k in range(d.shape[1])], dtype=np.float64)


def service_goal_cells(flood_depth, max_depth_m: float) -> np.ndarray:
    """Cells breaking a service goal: flood depth [m] greater than ``max_depth_m`` (False outside the
    model)."""
    d = np.asarray(flood_depth, dtype=np.float64)
    return np.nan_to_num(d, nan=-np.inf) > max_depth_m


def first_flooding_label(t) -> str:
    """``"5-yr"`` for a return period, ``"not flooded"`` for NaN."""
    return "not flooded" if t is None or not np.isfinite(t) else f"{float(t):g}-yr"


def _idf_depth(idf, duration_min: float, t: float) -> float:
    return float(idf.depth_mm(duration_min, t))


def equivalent_return_period(idf, duration_min: float, depth_mm: float) -> float:
    """The return period [years] whose IDF depth over ``duration_min`` equals ``depth_mm``, found by
    bisection in ln T over the curve's tabulated range (depth grows with T); ``inf`` beyond the rarest
    tabulated return period, ``0`` below the most frequent one."""
    ts = idf.return_periods_yr
    lo, hi = float(ts[0]), float(ts[-1])
    if depth_mm > _idf_depth(idf, duration_min, hi) * (1 + 1e-12):
        return math.inf
    if depth_mm < _idf_depth(idf, duration_min, lo) * (1 - 1e-12):
        return 0.0
    a, b = math.log(lo), math.log(hi)
    for _ in range(100):
        mid = 0.5 * (a + b)
        if _idf_depth(idf, duration_min, math.exp(mid)) < depth_mm:
            a = mid
        else:
            b = mid
    return math.exp(0.5 * (a + b))


def describe_storm(idf, return_period_yr: float, duration_min: float, climate_factor: float = 1.0) -> str:
    """A design storm in words, from its IDF curve (:class:`floodsim.build.storms.IDFCurve`).

    The storm's depth is the IDF depth ``D(duration, T)``; with a climate factor ``f`` it is ``f · D``,
    which today is the rain of return period ``M`` where ``D(duration, M) = f · D(duration, T)`` (found
    numerically over the IDF curve's tabulated return periods; beyond the rarest one the text says
    "rarer than 1-in-<max>"). Example (the bundled Dahlström 2010 curves):
    ``"26 mm in 30 min ≈ a 1-in-20-year rain today; with climate factor 1.3: 34 mm, ≈ 1-in-43.6-year
    today"``.
    """
    depth = _idf_depth(idf, duration_min, return_period_yr)
    text = f"{depth:.0f} mm in {duration_min:g} min ≈ a 1-in-{return_period_yr:g}-year rain today"
    if abs(climate_factor - 1.0) < 1e-12:
        return text
    scaled = depth * climate_factor
    m = equivalent_return_period(idf, duration_min, scaled)
    ts = idf.return_periods_yr
    if math.isinf(m):
        today = f"rarer than 1-in-{ts[-1]:g}-year today"
    elif m == 0.0:
        today = f"more frequent than 1-in-{ts[0]:g}-year today"
    else:
        today = f"≈ 1-in-{m:.3g}-year today"
    return f"{text}; with climate factor {climate_factor:g}: {scaled:.0f} mm, {today}"


def percent_change(values: pd.Series, reference: pd.Series) -> pd.Series:
    """``100 · (value − reference) / |reference|``; 0 where both are 0, NaN where only the reference is."""
    v = pd.to_numeric(values, errors="coerce").astype(float)
    r = pd.to_numeric(reference, errors="coerce").astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 100.0 * (v - r) / r.abs()
    out = out.where(r != 0, np.where((v == 0) & (r == 0), 0.0, np.nan))
    return out
