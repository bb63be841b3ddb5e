"""Flood damage to buildings: depth–damage curves, damage per event, expected annual damage (EAD).

Method
------
The JRC global flood depth–damage functions (Huizinga, de Moel & Szewczyk 2017): for a building of use
``u`` (residential, commercial, ...) flooded to depth ``d`` [m]::

    damage [EUR 2010] = f_u(d) · D_u · A

* ``f_u(d)`` the damage factor (0–1), linear between the tabulated depths, 0 for ``d ≤ 0`` and the last
  tabulated factor beyond the deepest depth (the curves reach 1.0 at 5–6 m);
* ``D_u`` the maximum damage per m² of footprint [EUR 2010 / m²], structure plus content, derived from
  the published construction cost per country by the report's rule (see :func:`max_damage_per_m2`);
* ``A`` the footprint area [m²] (from the building polygon, in the projected grid CRS).

The data are shipped inside the package, in ``floodsim/data/damage/`` (so an installed floodsim has
them), with a PROVENANCE.md saying where every number comes from.

Expected annual damage integrates the damage ``D`` of events of annual exceedance probability
``p = 1/T`` (``T`` the return period in years; the storm's return period stands in for the damage's)::

    EAD = ∫ D(p) dp   (trapezoidal rule over the modelled events)

**Tails rule** (what happens outside the modelled return periods), see :func:`expected_annual_damage`:

* frequent end: by default nothing is added for events more frequent than the most frequent modelled
  one (damage taken as zero there). Give ``zero_damage_return_period_yr`` (e.g. the drainage design
  standard, 2–5 years) to let the damage fall linearly from the most frequent modelled event to zero at
  that return period instead.
* rare end: by default the rarest modelled event's damage is held for all rarer events, down to
  ``p = 0`` (``rare_tail="constant"``, adds ``p_min · D(p_min)``, a lower bound as damage still grows
  with ``T``). ``rare_tail="none"`` adds nothing.

Both defaults under-estimate rather than over-estimate; the benefit of a measure is
``EAD(baseline) − EAD(with measure)`` over the same return periods and the same rule.

References
----------
Huizinga, J., de Moel, H., Szewczyk, W. (2017). *Global flood depth-damage functions: Methodology and
the database with guidelines.* EUR 28552 EN, Publications Office of the European Union, Luxembourg.
doi:10.2760/16510, JRC105688.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputDataError

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "damage"
#: Depth–damage curves (long CSV: region, use, depth_m, damage_factor).
DEFAULT_CURVES = DATA_DIR / "jrc_huizinga2017_europe.csv"
#: Construction cost per m² of footprint per country (EUR 2010), from the same database.
DEFAULT_COSTS = DATA_DIR / "jrc_huizinga2017_construction_cost_europe.csv"

#: Share of the construction cost that is the depreciated value of a building (report's default).
DEPRECIATION = 0.6
#: Share of the structure that a flood cannot damage (foundations, frame; concrete or masonry: 0.4).
UNDAMAGEABLE = 0.4
#: Content value as a share of the structure's maximum damage, per use (report's defaults).
CONTENT_FACTOR = {"residential": 0.5, "commercial": 1.0, "industrial": 1.5}


@dataclass(frozen=True)
class DamageCurve:
    """One depth–damage curve: ``factor = f(depth)``, piecewise linear.

    Attributes
    ----------
    use : str
        Building use the curve is for.
    depths_m : numpy.ndarray
        Water depths [m], strictly increasing, starting at 0.
    factors : numpy.ndarray
        Damage factor [-] (share of the maximum damage) at each depth, non-decreasing, in [0, 1].
    """

    use: str
    depths_m: np.ndarray
    factors: np.ndarray

    def factor(self, depth_m) -> np.ndarray:
        """Damage factor at water depth ``depth_m`` [m]: 0 for depth ≤ 0 or NaN, the last factor beyond
        the deepest tabulated depth.

        Examples
        --------
        >>> c = DamageCurve("x", np.array([0.0, 1.0, 2.0]), np.array([0.0, 0.4, 0.6]))
        >>> c.factor([-1.0, 0.5, 1.5, 9.0]).tolist()
        [0.0, 0.2, 0.5, 0.6]
        """
        d = np.nan_to_num(np.asarray(depth_m, dtype=np.float64), nan=0.0)
        f = np.interp(d, self.depths_m, self.factors, left=0.0, right=float(self.factors[-1]))
        return np.where(d > 0.0, f, 0.0)


def load_curves(path=DEFAULT_CURVES, region: str = "europe") -> dict[str, DamageCurve]:
    """Read the depth–damage curves of ``region`` from a long CSV (region, use, depth_m, damage_factor).

    Raises
    ------
    InputDataError
        Missing columns, unknown region, or a curve whose depths do not increase from 0 or whose
        factors leave [0, 1] or decrease.
    """
    path = Path(path)
    try:
        table = pd.read_csv(path)
    except (OSError, pd.errors.ParserError) as exc:
        raise InputDataError(f"{path}: cannot read the depth-damage curves ({exc}).") from None
    need = {"region", "use", "depth_m", "damage_factor"}
    if missing := sorted(need - set(table.columns)):
        raise InputDataError(f"{path}: missing column(s) {', '.join(missing)}; the file needs "
                             "region, use, depth_m, damage_factor.")
    rows = table[table["region"].str.lower() == region.lower()]
    if rows.empty:
        raise InputDataError(f"{path}: no curves for region '{region}'; the file has "
                             f"{', '.join(sorted(table['region'].unique()))}.")
    curves = {}
    for use, grp in rows.groupby("use", sort=False):
        d = grp["depth_m"].to_numpy(np.float64)
        f = grp["damage_factor"].to_numpy(np.float64)
        if d[0] != 0.0 or np.any(np.diff(d) <= 0):
            raise InputDataError(f"{path}: curve '{region}/{use}': depth_m must start at 0 and increase.")
        if np.any((f < 0) | (f > 1)) or np.any(np.diff(f) < 0):
            raise InputDataError(f"{path}: curve '{region}/{use}': damage_factor must be within 0-1 and "
                                 "must not decrease with depth.")
        curves[str(use)] = DamageCurve(str(use), d, f)
    return curves


def max_damage_per_m2(country: str = "EU", path=DEFAULT_COSTS, depreciation: float = DEPRECIATION,
                      undamageable: float = UNDAMAGEABLE,
                      content_factor: dict[str, float] | None = None) -> dict[str, float]:
    """Maximum damage per m² of footprint [EUR 2010 / m²] for each use, structure plus content.

    ``structure = construction cost · depreciation · (1 − undamageable)`` and
    ``total = structure · (1 + content factor of the use)``, the rule of Huizinga et al. (2017) with
    their default factors (materials factor 1, as for European buildings).

    Parameters
    ----------
    country : str
        ISO 3166 alpha-3 code (``"DEU"``) or country name, or ``"EU"`` for the European Union average.
    path : path
        Construction-cost CSV (columns country, iso3, ``<use>_eur2010_m2``).

    Examples
    --------
    >>> round(max_damage_per_m2("EU")["residential"], 2)      # 1333.40 · 0.6 · 0.6 · 1.5
    720.04
    """
    content_factor = CONTENT_FACTOR if content_factor is None else content_factor
    table = pd.read_csv(path)
    key = country.strip().lower()
    row = table[(table["iso3"].str.lower() == key) | (table["country"].str.lower() == key)]
    if row.empty:
        raise InputDataError(f"{path}: no construction cost for country '{country}'; use an ISO3 code such "
                             f"as {', '.join(table['iso3'].head(4))} (or EU for the European Union).")
    out = {}
    for col in table.columns:
        if col.endswith("_eur2010_m2"):
            use = col.removesuffix("_eur2010_m2")
            structure = float(row[col].iloc[0]) * depreciation * (1.0 - undamageable)
            out[use] = structure * (1.0 + content_factor.get(use, 0.0))
    return out


@dataclass(frozen=True)
class DamageModel:
    """Curves and maximum damages per use, plus how to read a building's use.

    Attributes
    ----------
    curves : dict
        Use → :class:`DamageCurve`.
    max_damage_m2 : dict
        Use → maximum damage [EUR 2010 / m² footprint].
    use_field : str
        Building attribute holding the use; a building without it (or with an empty value) gets
        ``default_use``.
    default_use : str
        Use assumed when the attribute is missing or empty.
    """

    curves: dict
    max_damage_m2: dict
    use_field: str = "use"
    default_use: str = "residential"

    @classmethod
    def jrc_europe(cls, country: str = "EU", use_field: str = "use", default_use: str = "residential",
                   curves_path=DEFAULT_CURVES, costs_path=DEFAULT_COSTS) -> "DamageModel":
        """The shipped JRC European curves with the maximum damages of ``country``."""
        return cls(load_curves(curves_path, "europe"), max_damage_per_m2(country, costs_path), use_field,
                   default_use)

    def building_damage(self, buildings, depth_column: str = "max_depth_m"):
        """Damage of each building for one event.

        Parameters
        ----------
        buildings : geopandas.GeoDataFrame
            Footprints in a projected CRS (metres) with a water-depth column [m] (e.g. the output of
            :func:`floodsim.analysis.exposure.building_exposure`).
        depth_column : str
            Column holding the depth at each building [m].

        Returns
        -------
        geopandas.GeoDataFrame
            A copy with columns ``use``, ``footprint_m2``, ``damage_factor``, ``max_damage_eur`` and
            ``damage_eur`` [EUR 2010].

        Raises
        ------
        InputDataError
            A use without a curve or maximum damage, a missing depth column, or a geographic CRS.
        """
        if depth_column not in buildings.columns:
            raise InputDataError(f"buildings: no column '{depth_column}' with the water depth at each "
                                 f"building; columns are {', '.join(map(str, buildings.columns))}.")
        if buildings.crs is not None and not buildings.crs.is_projected:
            raise InputDataError("buildings: footprint areas need a projected CRS in metres; reproject the "
                                 "layer to the model grid's CRS.")
        out = buildings.copy()
        if self.use_field in out.columns:
            use = out[self.use_field].astype("string").fillna("").str.strip().str.lower()
            use = use.mask(use == "", self.default_use)
        else:
            use = pd.Series(self.default_use, index=out.index)
        unknown = sorted(set(use) - (set(self.curves) & set(self.max_damage_m2)))
        if unknown:
            raise InputDataError(f"buildings attribute '{self.use_field}': no depth-damage curve or maximum "
                                 f"damage for use(s) {', '.join(unknown)}; known uses are "
                                 f"{', '.join(sorted(set(self.curves) & set(self.max_damage_m2)))}.")
        out["use"] = use.astype(str).to_numpy()
        out["footprint_m2"] = out.geometry.area.to_numpy(np.float64)
        factor = np.zeros(len(out))
        for u, curve in self.curves.items():
            sel = (out["use"] == u).to_numpy()
            if sel.any():
                factor[sel] = curve.factor(out.loc[sel, depth_column].to_numpy(np.float64))
        out["damage_factor"] = factor
        out["max_damage_eur"] = out["use"].map(self.max_damage_m2).to_numpy(np.float64) * out["footprint_m2"]
        out["damage_eur"] = out["damage_factor"] * out["max_damage_eur"]
        return out

    def event_damage(self, buildings, depth_column: str = "max_depth_m") -> float:
        """Total damage of one event [EUR 2010]."""
        return float(self.building_damage(buildings, depth_column)["damage_eur"].sum())


def expected_annual_damage(return_periods_yr, damages, zero_damage_return_period_yr: float | None = None,
                           rare_tail: str = "constant") -> float:
    """Expected annual damage by trapezoidal integration of damage over annual exceedance probability.

    Parameters
    ----------
    return_periods_yr : sequence of float
        Return period ``T`` [years] of each event (distinct, > 0); ``p = 1/T``.
    damages : sequence of float
        Damage of each event [any currency].
    zero_damage_return_period_yr : float, optional
        Return period at and below which there is no damage. Adds the triangle between it and the most
        frequent modelled event (must be shorter than every modelled return period). Default: nothing
        is added on the frequent side.
    rare_tail : {"constant", "none"}
        ``"constant"``: events rarer than the rarest modelled one cause its damage (adds
        ``p_min · D(p_min)``). ``"none"``: nothing is added.

    Returns
    -------
    float
        EAD [currency per year].

    Examples
    --------
    >>> round(expected_annual_damage([10, 100], [1000.0, 5000.0], rare_tail="none"), 6)  # (0.1-0.01)·3000
    270.0
    >>> round(expected_annual_damage([10, 100], [1000.0, 5000.0]), 6)                    # + 0.01·5000
    320.0
    """
    t = np.asarray(return_periods_yr, dtype=np.float64)
    d = np.asarray(damages, dtype=np.float64)
    if t.shape != d.shape or t.ndim != 1 or t.size == 0:
        raise ValueError("give one damage per return period (two equal-length, non-empty sequences)")
    if np.any(~np.isfinite(t)) or np.any(t <= 0) or np.unique(t).size != t.size:
        raise ValueError(f"return periods must be distinct, finite and > 0 (got {t.tolist()})")
    if np.any(~np.isfinite(d)):
        raise ValueError(f"damages must be finite (got {d.tolist()})")
    if rare_tail not in ("constant", "none"):
        raise ValueError(f"rare_tail must be 'constant' or 'none' (got {rare_tail!r})")
    order = np.argsort(t)
    p = 1.0 / t[order]                  # decreasing: frequent first
    d = d[order]
    ead = float(np.sum(0.5 * (d[1:] + d[:-1]) * (p[:-1] - p[1:])))
    if zero_damage_return_period_yr is not None:
        t0 = float(zero_damage_return_period_yr)
        if not t0 < t[order][0]:
            raise ValueError(f"zero_damage_return_period_yr ({t0}) must be shorter than the most frequent "
                             f"modelled event ({t[order][0]} years)")
        ead += 0.5 * d[0] * (1.0 / t0 - p[0])
    if rare_tail == "constant":
        ead += d[-1] * p[-1]
    return float(ead)


def measure_benefit(return_periods_yr, damages_baseline, damages_measure, **tails) -> float:
    """Benefit of a measure: ``EAD(baseline) − EAD(with the measure)`` [currency per year], both over the
    same return periods and the same tails rule (keywords of :func:`expected_annual_damage`)."""
    return (expected_annual_damage(return_periods_yr, damages_baseline, **tails)
            - expected_annual_damage(return_periods_yr, damages_measure, **tails))
