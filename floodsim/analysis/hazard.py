"""Flood hazard to people: the UK hazard rating ``HR = d·(v + 0.5) + DF`` and its four classes.

Method
------
Defra / Environment Agency R&D outputs *Flood Risks to People*, Phase 2: FD2321/TR1 "The Flood Risks to
People Methodology" and FD2321/TR2 "Guidance Document" (HR Wallingford, Flood Hazard Research Centre
Middlesex University, Risk & Policy Analysts; March 2006; Phase 1 was FD2320), with the Defra/EA
*Supplementary note on flood hazard ratings and thresholds for development planning and control purpose*
(May 2008)::

    HR = d · (v + 0.5) + DF

* ``d`` depth [m], ``v`` depth-averaged speed [m/s]; ``HR`` is dimensionless (it was calibrated with d in
  m and v in m/s, so only these units are valid).
* ``DF`` the debris factor. FD2321 (TR1/TR2 Table 3.1) gives it by depth and land use:

  ====================================  ===============  ========  =====
  depth ``d``                           pasture/arable   woodland  urban
  ====================================  ===============  ========  =====
  0 < d ≤ 0.25 m                        0                0         0
  0.25 < d ≤ 0.75 m                     0                0.5       1
  d > 0.75 m and/or v > 2 m/s           0.5              1         1
  ====================================  ===============  ========  =====

  ``debris_factor=None`` applies this table (``land_use="urban"`` by default, as floodsim models towns);
  a float applies a constant ``DF`` everywhere wet (the 2008 note's precautionary simplification, used by
  many planning studies, is a single value such as 0.5 or 1.0).

Classes (2008 supplementary note, Table 1; FD2321/TR2 Table 13.1), with the boundaries as implemented:

====  ===========  ====================  ==============================================
code  name         HR                    plain-language label
====  ===========  ====================  ==============================================
0     none         (depth < threshold)   No flooding
1     low          HR < 0.75             Caution
2     moderate     0.75 ≤ HR < 1.25      Danger for some (e.g. children, the elderly)
3     significant  1.25 ≤ HR ≤ 2.0       Danger for most people
4     extreme      HR > 2.0              Danger for all
====  ===========  ====================  ==============================================

Applied to floodsim's run maxima (``max_depth``, ``max_speed``), which need not occur at the same time,
the rating is an upper envelope of the rating at any instant (conservative), as is usual for
maximum-hazard maps.

References
----------
HR Wallingford et al. (2006). *Flood Risks to People, Phase 2. FD2321/TR1 The Flood Risks to People
Methodology* and *FD2321/TR2 Guidance Document*. Defra / Environment Agency Flood and Coastal Defence R&D
Programme, London.
Defra / Environment Agency (2008). *Supplementary note on flood hazard ratings and thresholds for
development planning and control purpose – Clarification of Table 13.1 of FD2320/TR2 and Figure 3.2 of
FD2321/TR1*. May 2008.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class HazardClass(NamedTuple):
    """One hazard class: integer code, short name, lowest HR in the class, plain-language label."""

    code: int
    name: str
    lower_hr: float
    label: str


HAZARD_CLASSES: tuple[HazardClass, ...] = (
    HazardClass(0, "none", 0.0, "No flooding"),
    HazardClass(1, "low", 0.0, "Caution"),
    HazardClass(2, "moderate", 0.75, "Danger for some"),
    HazardClass(3, "significant", 1.25, "Danger for most"),
    HazardClass(4, "extreme", 2.0, "Danger for all"),
)
"""Class ``none`` is decided by depth (below the flood threshold), not by HR. The upper bound of
``significant`` (2.0) is inclusive; every other lower bound is inclusive."""

HAZARD_COLOURS: dict[int, str] = {0: "#ffffff", 1: "#f9c23c", 2: "#ee7b30", 3: "#c8283b", 4: "#5c0a2e"}
"""Suggested map colours per code (white; gold → dark wine), for maps and legends. Every pair, white
included, stays apart for the three colour-vision deficiencies (tests/unit/test_map_palettes.py)."""

DEBRIS_FACTORS: dict[str, tuple[float, float, float]] = {
    # land use: (0 < d <= 0.25, 0.25 < d <= 0.75, d > 0.75 and/or v > 2), FD2321 Table 3.1
    "pasture": (0.0, 0.0, 0.5),
    "woodland": (0.0, 0.5, 1.0),
    "urban": (0.0, 1.0, 1.0),
}

SHALLOW_DEPTH_M = 0.25
DEEP_DEPTH_M = 0.75
FAST_SPEED_M_S = 2.0


def debris_factor_table(depth, speed, land_use: str = "urban") -> np.ndarray:
    """FD2321 Table 3.1 debris factor for each cell (0 where dry or NaN depth).

    Parameters
    ----------
    depth : array_like
        Water depth [m].
    speed : array_like
        Depth-averaged speed [m/s] (≥ 0).
    land_use : {"urban", "woodland", "pasture"}
        Column of the table.
    """
    try:
        shallow, medium, deep = DEBRIS_FACTORS[land_use]
    except KeyError:
        raise ValueError(f"land_use {land_use!r}: use one of {', '.join(DEBRIS_FACTORS)}") from None
    d = np.asarray(depth, dtype=np.float64)
    v = np.asarray(speed, dtype=np.float64)
    df = np.where(d > SHALLOW_DEPTH_M, medium, shallow)
    df = np.where((d > DEEP_DEPTH_M) | (v > FAST_SPEED_M_S), deep, df)
    return np.where(d > 0.0, df, 0.0)


def hazard_rating(depth, speed, debris_factor: float | None = None, land_use: str = "urban") -> np.ndarray:
    """UK flood hazard rating ``HR = d·(v + 0.5) + DF`` (FD2321, 2006; EA 2008 note).

    Parameters
    ----------
    depth : array_like
        Water depth [m]. Cells with depth ≤ 0 get HR = 0 (no debris on a dry cell).
    speed : array_like
        Depth-averaged flow speed [m/s]; NaN speed on a wet cell is taken as 0.
    debris_factor : float, optional
        Constant debris factor for every wet cell. ``None`` (default) applies the FD2321 Table 3.1
        depth/speed rule for ``land_use`` (see module docstring).
    land_use : str
        Column of the debris-factor table when ``debris_factor`` is None.

    Returns
    -------
    numpy.ndarray
        HR (dimensionless, float64), NaN where depth is NaN.

    Examples
    --------
    >>> float(hazard_rating(0.5, 1.0))        # 0.5·(1.0 + 0.5) + 1 (urban, 0.25 < d ≤ 0.75)
    1.75
    >>> float(hazard_rating(0.2, 0.5, debris_factor=0.5))
    0.7
    """
    d = np.asarray(depth, dtype=np.float64)
    v = np.nan_to_num(np.asarray(speed, dtype=np.float64), nan=0.0)
    if debris_factor is None:
        df = debris_factor_table(d, v, land_use)
    else:
        df = np.where(d > 0.0, float(debris_factor), 0.0)
    with np.errstate(invalid="ignore"):
        hr = np.where(d > 0.0, d * (v + 0.5) + df, 0.0)
    return np.where(np.isnan(d), np.nan, hr)


def hazard_class(hr, depth, threshold_m: float = 0.1) -> np.ndarray:
    """Hazard class code (int8) per cell from HR and depth; codes as in :data:`HAZARD_CLASSES`.

    Parameters
    ----------
    hr : array_like
        Hazard rating (from :func:`hazard_rating`).
    depth : array_like
        Water depth [m]; cells with depth < ``threshold_m`` are class 0 (none).
    threshold_m : float
        Depth counted as flooded [m] (the scenario's ``flood_threshold_m``).

    Returns
    -------
    numpy.ndarray of int8
        0 none, 1 low, 2 moderate, 3 significant, 4 extreme. Cells where depth or HR is NaN (outside
        the model) are 0: there is no water there that the model knows of.
    """
    hr = np.asarray(hr, dtype=np.float64)
    d = np.asarray(depth, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        code = (1 + (hr >= HAZARD_CLASSES[2].lower_hr).astype(np.int8)
                + (hr >= HAZARD_CLASSES[3].lower_hr) + (hr > HAZARD_CLASSES[4].lower_hr)).astype(np.int8)
        wet = (d >= threshold_m) & np.isfinite(hr)
    return np.where(wet, code, 0).astype(np.int8)


def class_name(code: int) -> str:
    """Short name of a hazard code (``0 → "none"``)."""
    return HAZARD_CLASSES[int(code)].name
