"""Measures that change the ground before a run: a pure function from surface fields to new ones.

A city's surface measures against cloudbursts mostly reshape the ground and change what covers it.
floodsim models them *before* the run, by editing the per-cell fields the solver reads (bed
elevation, Manning's n, Green–Ampt parameters), so the solver needs no knowledge of them:

================================  =============================================================
measure                           what changes
================================  =============================================================
``cloudburst_road``, ``channel``  a centre line buffered to ``width`` is lowered by ``depth``;
                                  optional Manning's n of its surface
``rain_bed``                      polygons lowered by ``storage_depth`` (ponding storage), with an
                                  enhanced Green–Ampt Ks (and optionally a soil texture)
``green_area``                    polygons become a pervious land cover: soil texture, optional n,
                                  optional depression storage as a shallow lowering
``hard_surface_limit``            impervious cells inside polygons (all, or a ``share``) become
                                  pervious with a given soil texture
``pond``                          the ground inside polygons is lowered to ``bottom_level`` where it
                                  is higher (never raised)
================================  =============================================================

Conventions
-----------
* Everything here is SI: m, m/s, s m^-1/3. Scenario units (mm, mm/h) are converted by each type's
  builder (the ``build_*`` functions at the end) through :mod:`floodsim.units`; the schemas are in
  :mod:`floodsim.scenario.measures`, the registry entries in :data:`MEASURE_TYPES`.
* :func:`apply_terrain_measures` never mutates its inputs; it returns new arrays and one report
  (a ``dict``) per measure.
* Measures are applied **in the order given**; each sees the ground left by the ones before it.
  Within one measure, overlapping features are combined per cell (the deepest lowering, the last
  feature's cover), so two lines of one road network crossing at a junction are not lowered twice.
* A measure acts only on **ground cells**: cells with DEM data that are not buildings. A building
  stays a building, and a nodata cell stays outside the model. Cells of a feature that fall on
  buildings or nodata are skipped and counted in the report (``cells_skipped_blocked_or_nodata``).
  A feature that covers no ground cell at all is an error naming it.
* ``ks == 0`` means impervious (no infiltration). Whoever builds :class:`SurfaceFields` must set Ks
  to zero on sealed surfaces (roads, pavements) and then *not* pass a separate impervious mask to the
  simulation, or the conversions of ``green_area`` and ``hard_surface_limit`` would be undone.

Rasterisation
-------------
Polygons take the cells whose centre lies inside (the rule of :mod:`floodsim.io.vector`). A line
measure (road, channel) is buffered to a strip of the given width with flat ends at the end points
and round joins at bends (``shapely`` ``buffer(width / 2, cap_style="flat", join_style="round")``);
the strip takes the cells whose centre lies inside it **plus every cell the centre line touches**,
so a strip narrower than about 1.5 cells still forms a 4-connected channel. For widths of at least
``1.5 × max(dx, dy)`` the centre-line cells are already inside the strip.

Storage reported
----------------
``storage_created_m3`` = Σ max(z_old − z_new, 0) · cell_area: the volume dug below the ground the
measure found. For a pond the report also gives the storage below its rim,
Σ max(rim − z_new, 0) · cell_area over the pond's cells, where ``rim`` is the lowest ground level on
the pond's boundary ring (the ground cells 4-adjacent to the pond but outside it): above that level
water spills out over the lowest point of the edge. Buildings and nodata around a pond are walls
and not part of the ring.

References
----------
City of Copenhagen (2012). *Cloudburst Management Plan 2012*. Technical and Environmental
    Administration, Copenhagen (cloudburst roads/"skybrudsveje": streets shaped to carry surface
    water, typically lowered or with raised kerbs, to a recipient).
FAWB (2009). *Adoption Guidelines for Stormwater Biofiltration Systems*. Facility for Advancing
    Water Biofiltration, Monash University (filter media Ks typically 100–300 mm/h; extended
    detention / ponding depth 0.1–0.3 m).
Woods Ballard, B. et al. (2015). *The SuDS Manual* (C753). CIRIA, London (bioretention ch. 18,
    detention basins ch. 22, pervious surfaces ch. 20).
Rawls, W. J., Brakensiek, D. L. & Miller, N. (1983). Green-Ampt infiltration parameters from soils
    data. *J. Hydraul. Eng.* 109(1), 62–70 (soil textures, via
    :meth:`floodsim.core.infiltration.GreenAmpt.from_texture`).
Rossman, L. A. & Huber, W. C. (2016). *Storm Water Management Model Reference Manual, Volume I –
    Hydrology*. EPA/600/R-15/162A (depression storage of pervious surfaces, typically 2.5–5 mm for
    lawns).
"""

from __future__ import annotations

from dataclasses import dataclass, fields as dc_fields
from typing import ClassVar, Sequence

import numpy as np
from scipy import ndimage
from shapely.geometry.base import BaseGeometry

from .. import units
from ..core.grid import Grid
from ..core.infiltration import GreenAmpt
from ..errors import InputDataError
from ..io.vector import rasterize_geometries
from ..scenario import measures as schema
from .base import MeasureType

_POLYGONS = ("Polygon", "MultiPolygon")
_LINES = ("LineString", "MultiLineString")


# --------------------------------------------------------------------------------------------------
# Surface fields
# --------------------------------------------------------------------------------------------------

@dataclass(eq=False)
class SurfaceFields:
    """Per-cell surface fields on the grid, all of shape (ny, nx), SI.

    Parameters
    ----------
    z : float64
        Bed elevation [m]; NaN = nodata (outside the model).
    manning : float64
        Manning's n [s m^-1/3].
    ks : float64
        Green–Ampt saturated hydraulic conductivity [m/s]; 0 = impervious (no infiltration).
    psi : float64
        Wetting-front suction head [m].
    dtheta : float64
        Moisture deficit [-].
    blocked : bool
        Building cells.
    """

    z: np.ndarray
    manning: np.ndarray
    ks: np.ndarray
    psi: np.ndarray
    dtheta: np.ndarray
    blocked: np.ndarray

    def __post_init__(self):
        shape = np.shape(self.z)
        for f in dc_fields(self):
            a = getattr(self, f.name)
            if np.shape(a) != shape or len(shape) != 2:
                raise InputDataError(f"SurfaceFields.{f.name}: shape {np.shape(a)} differs from z {shape}; "
                                     "every field must be a full (ny, nx) array.")

    @classmethod
    def from_inputs(cls, grid: Grid, manning=0.03, infiltration: GreenAmpt | None = None,
                    impervious=None, blocked=None) -> "SurfaceFields":
        """Full per-cell fields from the arguments :class:`floodsim.Simulation` takes.

        Parameters
        ----------
        grid : Grid
            Terrain; ``z`` is copied from it.
        manning : float or (ny, nx) array
            Manning's n [s m^-1/3].
        infiltration : GreenAmpt or None
            Soil parameters (scalars or arrays); ``None`` gives ``ks = psi = dtheta = 0`` (no
            infiltration anywhere until a measure adds some).
        impervious : (ny, nx) bool or None
            Sealed cells: their Ks becomes 0.
        blocked : (ny, nx) bool or None
            Building cells.
        """
        shape = grid.shape

        def full(v):
            return np.array(np.broadcast_to(np.asarray(v, dtype=np.float64), shape), dtype=np.float64)

        if infiltration is None:
            ks = psi = dtheta = np.zeros(shape)
        elif isinstance(infiltration, GreenAmpt):
            ks, psi, dtheta = full(infiltration.ks), full(infiltration.psi), full(infiltration.dtheta)
        else:
            raise InputDataError(f"terrain measures need Green–Ampt infiltration (or none); got "
                                 f"{type(infiltration).__name__}.")
        if impervious is not None:
            ks = np.where(np.asarray(impervious, bool), 0.0, ks)
        b = np.zeros(shape, bool) if blocked is None else np.array(blocked, dtype=bool)
        return cls(z=np.array(grid.z, dtype=np.float64), manning=full(manning), ks=np.array(ks),
                   psi=np.array(psi), dtheta=np.array(dtheta), blocked=b)

    def copy(self) -> "SurfaceFields":
        """Deep copy (new, writable arrays)."""
        return SurfaceFields(**{f.name: np.array(getattr(self, f.name), copy=True) for f in dc_fields(self)})

    def green_ampt(self) -> GreenAmpt:
        """Per-cell :class:`~floodsim.core.infiltration.GreenAmpt` from ``ks``, ``psi`` and ``dtheta``."""
        return GreenAmpt(ks=self.ks.copy(), psi=self.psi.copy(), dtheta=self.dtheta.copy())

    def to_grid(self, grid: Grid) -> Grid:
        """A new :class:`Grid` with this ``z`` and ``grid``'s transform and CRS."""
        return Grid(self.z.copy(), grid.transform, grid.crs, source=f"{grid.source} (with terrain measures)",
                    clipped=grid.clipped)


# --------------------------------------------------------------------------------------------------
# Measures (SI, geometries already in the grid's CRS)
# --------------------------------------------------------------------------------------------------

def _per_feature(value, n: int, what: str, label: str) -> np.ndarray:
    a = np.asarray(value, dtype=np.float64)
    if a.ndim == 0:
        a = np.full(n, float(a))
    if a.shape != (n,):
        raise InputDataError(f"{label}: {what} has {a.size} values for {n} features.")
    return a


@dataclass(frozen=True, eq=False)
class _TerrainMeasure:
    """Common part: a name, the features' geometries (grid CRS) and their names."""

    kind: ClassVar[str] = ""
    geometry_types: ClassVar[tuple[str, ...]] = _POLYGONS
    #: Water up to the ground level the measure found (the dug volume) is stored by design, not flooding
    #: (a cloudburst road's channel up to its design depth, a rain bed's ponding zone).
    stores_to_former_ground: ClassVar[bool] = False

    name: str
    geometries: Sequence[BaseGeometry]
    feature_names: Sequence[str] | None = None
    source: str = ""
    #: Manning's n of the measure's cells [s m^-1/3]; ``None`` keeps the existing n.
    manning: float | None = None

    @property
    def label(self) -> str:
        return f"{self.kind} '{self.name}'" + (f" ({self.source})" if self.source else "")

    def names(self) -> list[str]:
        if self.feature_names is None:
            return [f"feature {k}" for k in range(len(self.geometries))]
        if len(self.feature_names) != len(self.geometries):
            raise InputDataError(f"{self.label}: {len(self.feature_names)} feature names for "
                                 f"{len(self.geometries)} geometries.")
        return [str(n) for n in self.feature_names]

    def check(self) -> None:
        """Geometry types and parameter ranges; raises :class:`InputDataError` naming the feature."""
        if len(self.geometries) == 0:
            raise InputDataError(f"{self.label}: no features.")
        want = "polygons" if self.geometry_types == _POLYGONS else "lines"
        for name, g in zip(self.names(), self.geometries):
            if g is None or g.is_empty:
                raise InputDataError(f"{self.label}: {name} has an empty geometry.")
            if g.geom_type not in self.geometry_types:
                raise InputDataError(f"{self.label}: {name} is a {g.geom_type}, but a {self.kind} is drawn "
                                     f"as {want} ({', '.join(self.geometry_types)}); use a layer of {want}.")
        self._check_values()
        if self.manning is not None:
            self._positive(self.manning, "manning")

    def _check_values(self) -> None:  # pragma: no cover - overridden
        pass

    def _apply(self, out, before, ground, grid, names, area):  # pragma: no cover - overridden
        raise NotImplementedError

    def _raw_cells(self, geom, k: int, grid: Grid) -> np.ndarray:
        """Cells of feature ``k`` (geometry ``geom``) before ground is checked: centres inside it."""
        return rasterize_geometries([geom], grid)

    def _lower(self, value, what: str, ground, grid: Grid, names, area):
        """The ground cells of every feature and the lowering of each cell: the deepest ``value`` [m]
        (per feature) of the features covering it. Returns (cells, per-feature reports, cells skipped,
        (ny, nx) lowering)."""
        depth = _per_feature(value, len(names), what, self.label)
        touched = np.zeros(grid.shape, bool)
        lower = np.zeros(grid.shape)
        per_feature, skipped = [], 0
        for k, (g, nm) in enumerate(zip(self.geometries, names)):
            cells, s = _feature_cells(self, g, k, ground, grid, nm)
            skipped += s
            lower = np.where(cells, np.maximum(lower, depth[k]), lower)
            touched |= cells
            per_feature.append({"feature": nm, "cells": int(cells.sum()), "area_m2": float(cells.sum() * area)})
        return touched, per_feature, skipped, lower

    def _positive(self, value, what: str, allow_zero: bool = False) -> np.ndarray:
        a = _per_feature(value, len(self.geometries), what, self.label)
        bad = ~np.isfinite(a) | ((a < 0) if allow_zero else (a <= 0))
        if bad.any():
            k = int(np.argmax(bad))
            raise InputDataError(f"{self.label}: {self.names()[k]} has {what} = {a[k]!r}; it must be finite "
                                 f"and {'>= 0' if allow_zero else '> 0'}.")
        return a


@dataclass(frozen=True, eq=False)
class CloudburstRoad(_TerrainMeasure):
    """A cloudburst road (Copenhagen "skybrudsvej"): a street lowered to carry surface water.

    Each centre line is buffered to ``width`` (see the module docstring for the cells it takes) and
    the ground there is lowered by ``depth`` **relative to the local ground**: the invert follows the
    existing street's long profile, bumps included. No graded invert is designed; draw the measure
    along a street that already falls towards its recipient.

    Parameters
    ----------
    name : str
    geometries : sequence of LineString / MultiLineString
        Centre lines in the grid's CRS.
    width : float or sequence of float
        Strip width [m] (> 0), for all features or per feature.
    depth : float or sequence of float
        Lowering [m] (> 0).
    manning : float or None
        Manning's n of the lowered surface [s m^-1/3]; ``None`` keeps the existing n.
    feature_names : sequence of str, optional
    source : str
        Where the features come from (file and layer), for messages.
    """

    kind: ClassVar[str] = "cloudburst_road"
    geometry_types: ClassVar[tuple[str, ...]] = _LINES
    stores_to_former_ground: ClassVar[bool] = True

    width: object = 6.0
    depth: object = 0.3

    def _check_values(self):
        self._positive(self.width, "width [m]")
        self._positive(self.depth, "depth [m]")

    def _raw_cells(self, geom, k: int, grid: Grid) -> np.ndarray:
        width = _per_feature(self.width, len(self.geometries), "width", self.label)[k]
        return strip_cells(geom, width, grid)

    def _apply(self, out: "SurfaceFields", before: "SurfaceFields", ground, grid: Grid, names, area):
        """Change ``out`` in place; return (cells changed, per-feature reports, cells skipped, extras)."""
        touched, per_feature, skipped, lower = self._lower(self.depth, "depth", ground, grid, names, area)
        for pf, g in zip(per_feature, self.geometries):
            pf["length_m"] = float(g.length)
        out.z = np.where(touched, out.z - lower, out.z)
        return touched, per_feature, skipped, {}


@dataclass(frozen=True, eq=False)
class Channel(CloudburstRoad):
    """An open channel (swale, canal) cut along a line: same rule as :class:`CloudburstRoad`."""

    kind: ClassVar[str] = "channel"


@dataclass(frozen=True, eq=False)
class RainBed(_TerrainMeasure):
    """A rain bed (Danish "regnbed", bioretention): a hollow with a free-draining filter soil.

    The ground inside each polygon is lowered by ``storage_depth`` (the ponding storage) and the
    cells get Green–Ampt ``ks`` and, when ``soil`` is given, that texture's suction and moisture
    deficit (Rawls et al. 1983). Without ``soil`` the cell's existing ``psi`` and ``dtheta`` are kept.

    Parameters
    ----------
    storage_depth : float or sequence of float
        Ponding depth [m] (> 0).
    ks : float
        Saturated conductivity of the filter media [m/s] (> 0); FAWB (2009) recommends 100–300 mm/h.
    soil : str or None
        USDA texture for ``psi`` and ``dtheta``.
    initial_saturation : float
        Initial saturation of that soil [-], in [0, 1).
    manning : float or None
        Manning's n of the bed [s m^-1/3]; ``None`` keeps the existing n.
    """

    kind: ClassVar[str] = "rain_bed"
    stores_to_former_ground: ClassVar[bool] = True

    storage_depth: object = 0.2
    ks: float = 100.0 / 3.6e6
    soil: str | None = None
    initial_saturation: float = 0.3

    def _check_values(self):
        self._positive(self.storage_depth, "storage_depth [m]")
        self._positive(self.ks, "ks [m/s]")
        if self.soil is not None:
            _soil(self.soil, self.initial_saturation, self.label)

    def _apply(self, out: "SurfaceFields", before: "SurfaceFields", ground, grid: Grid, names, area):
        """Change ``out`` in place; return (cells changed, per-feature reports, cells skipped, extras)."""
        extra: dict = {}
        touched, per_feature, skipped, lower = self._lower(self.storage_depth, "storage_depth", ground, grid,
                                                           names, area)
        out.z = np.where(touched, out.z - lower, out.z)
        out.ks = np.where(touched, self.ks, out.ks)
        if self.soil is not None:
            soil = _soil(self.soil, self.initial_saturation, self.label)
            out.psi = np.where(touched, soil.psi, out.psi)
            out.dtheta = np.where(touched, soil.dtheta, out.dtheta)
        return touched, per_feature, skipped, extra


@dataclass(frozen=True, eq=False)
class GreenArea(_TerrainMeasure):
    """A green area: polygons converted to a pervious land cover.

    Every ground cell inside gets the Green–Ampt parameters of ``soil`` (Rawls et al. 1983) and,
    when given, Manning's ``manning``. ``depression_storage`` is modelled as a uniform lowering of
    the ground by that depth: the water it holds stays until it infiltrates (or evaporates, which
    floodsim does not model). This simplification stores the right volume, but on a slope the
    lowered area still drains downhill once its puddle-sized hollow is full, as real depression
    storage does; it adds a little step at the edge of the polygon (a few mm).

    Parameters
    ----------
    soil : str
        USDA texture.
    initial_saturation : float
        [-], in [0, 1).
    manning : float or None
        [s m^-1/3]; ``None`` keeps the existing n.
    depression_storage : float
        [m] (>= 0); typical lawns 2.5–5 mm (Rossman & Huber 2016).
    """

    kind: ClassVar[str] = "green_area"

    soil: str = "sandy loam"
    initial_saturation: float = 0.3
    depression_storage: float = 0.0

    def _check_values(self):
        _soil(self.soil, self.initial_saturation, self.label)
        self._positive(self.depression_storage, "depression_storage [m]", allow_zero=True)

    def _apply(self, out: "SurfaceFields", before: "SurfaceFields", ground, grid: Grid, names, area):
        """Change ``out`` in place; return (cells changed, per-feature reports, cells skipped, extras)."""
        soil = _soil(self.soil, self.initial_saturation, self.label)
        touched, per_feature, skipped, lower = self._lower(self.depression_storage, "depression_storage", ground,
                                                           grid, names, area)
        out.z = np.where(touched, out.z - lower, out.z)
        out.ks = np.where(touched, soil.ks, out.ks)
        out.psi = np.where(touched, soil.psi, out.psi)
        out.dtheta = np.where(touched, soil.dtheta, out.dtheta)
        return touched, per_feature, skipped, {}


@dataclass(frozen=True, eq=False)
class HardSurfaceLimit(_TerrainMeasure):
    """Hard-surface limit (Danish "afkobling", de-sealing): impervious cells become pervious.

    Inside the polygons, the candidate cells are the ground cells with ``ks == 0`` (sealed). A
    ``share`` of them, ``round(share × N)`` cells, gets the Green–Ampt parameters of ``soil`` (and
    Manning's ``manning`` when given). The cells are picked deterministically and spread evenly:
    candidates are ordered in a serpentine (boustrophedon) scan, row by row from the north, west to
    east on even rows and east to west on odd rows, and cell ``k`` is taken when
    ``floor((k + 1) s + 1/2) > floor(k s + 1/2)`` (the error-diffusion rule of Bresenham's line
    algorithm). So the pick is exact in number, the same on every run, and never clustered in one
    corner. ``share = 1`` converts every sealed cell.

    Parameters
    ----------
    soil : str
        USDA texture of the new pervious surface.
    share : float
        Fraction of the sealed cells converted, in [0, 1].
    initial_saturation : float
    manning : float or None
    """

    kind: ClassVar[str] = "hard_surface_limit"

    soil: str = "sandy loam"
    share: float = 1.0
    initial_saturation: float = 0.3

    def _check_values(self):
        _soil(self.soil, self.initial_saturation, self.label)
        if not (np.isfinite(self.share) and 0.0 <= self.share <= 1.0):
            raise InputDataError(f"{self.label}: share = {self.share!r} must be in [0, 1].")

    def _apply(self, out: "SurfaceFields", before: "SurfaceFields", ground, grid: Grid, names, area):
        """Change ``out`` in place; return (cells changed, per-feature reports, cells skipped, extras)."""
        per_feature: list[dict] = []
        skipped = 0
        extra: dict = {}
        touched = np.zeros(grid.shape, bool)
        soil = _soil(self.soil, self.initial_saturation, self.label)
        inside = np.zeros(grid.shape, bool)
        for k, (g, nm) in enumerate(zip(self.geometries, names)):
            cells, s = _feature_cells(self, g, k, ground, grid, nm)
            skipped += s
            inside |= cells
            per_feature.append({"feature": nm, "cells": int(cells.sum()), "area_m2": float(cells.sum() * area),
                                "sealed_cells": int((cells & (out.ks == 0.0)).sum())})
        sealed = inside & (out.ks == 0.0)
        touched = serpentine_pick(sealed, self.share)
        out.ks = np.where(touched, soil.ks, out.ks)
        out.psi = np.where(touched, soil.psi, out.psi)
        out.dtheta = np.where(touched, soil.dtheta, out.dtheta)
        for pf, g in zip(per_feature, self.geometries):
            pf["cells_converted"] = int((touched & rasterize_geometries([g], grid)).sum())
        extra = {"cells_inside": int(inside.sum()), "sealed_cells": int(sealed.sum()),
                 "cells_converted": int(touched.sum()), "area_converted_m2": float(touched.sum() * area),
                 "share_requested": float(self.share),
                 "share_converted": float(touched.sum() / sealed.sum()) if sealed.any() else 0.0}
        return touched, per_feature, skipped, extra


@dataclass(frozen=True, eq=False)
class Pond(_TerrainMeasure):
    """A buffer pond / detention basin: the ground inside each polygon is lowered to ``bottom_level``.

    Only cells higher than the bottom level are lowered; none is raised. The walls are vertical (no
    side slopes are modelled; at 1 m cells a 1:3 bank would take 3 cells, so draw the polygon at the
    top of the bank and accept a slightly larger volume). The bottom level must lie below the
    existing ground somewhere in each polygon, or the feature is an error. The report gives the
    storage below the pond's rim (module docstring). The pond's outlet is a separate operator acting
    during the run (:mod:`floodsim.measures.storage`).

    Parameters
    ----------
    bottom_level : float or sequence of float
        Absolute bottom level [m, DEM datum], finite.
    manning : float or None
        Manning's n of the pond floor [s m^-1/3]; ``None`` keeps the existing n.
    """

    kind: ClassVar[str] = "pond"

    bottom_level: object = None

    def _check_values(self):
        a = _per_feature(np.nan if self.bottom_level is None else self.bottom_level, len(self.geometries),
                         "bottom_level [m]", self.label)
        bad = ~np.isfinite(a)
        if bad.any():
            k = int(np.argmax(bad))
            raise InputDataError(f"{self.label}: {self.names()[k]} has bottom_level = {a[k]!r}; give a "
                                 "finite level [m].")

    def _apply(self, out: "SurfaceFields", before: "SurfaceFields", ground, grid: Grid, names, area):
        """Change ``out`` in place; return (cells changed, per-feature reports, cells skipped, extras)."""
        n = len(names)
        per_feature: list[dict] = []
        skipped = 0
        extra: dict = {}
        touched = np.zeros(grid.shape, bool)
        bottom = _per_feature(self.bottom_level, n, "bottom_level", self.label)
        z_new = out.z.copy()
        cells_list = []
        for k, (g, nm) in enumerate(zip(self.geometries, names)):
            cells, s = _feature_cells(self, g, k, ground, grid, nm)
            skipped += s
            if not np.any(out.z[cells] > bottom[k]):
                raise InputDataError(
                    f"{self.label}: {nm} has bottom_level = {bottom[k]:.3f} m, which is not below the "
                    f"existing ground anywhere in it (lowest ground {np.nanmin(out.z[cells]):.3f} m); a pond "
                    "is dug, never raised: give a lower bottom level.")
            z_new = np.where(cells, np.minimum(z_new, bottom[k]), z_new)
            touched |= cells
            cells_list.append(cells)
        out.z = z_new
        for k, (cells, nm) in enumerate(zip(cells_list, names)):
            ring = _ring(cells, np.isfinite(out.z) & ~out.blocked)
            if not ring.any():
                raise InputDataError(f"{self.label}: {nm} has no ground cell around it (it fills the "
                                     "whole DEM or is enclosed by buildings/nodata), so it has no rim.")
            rim = float(np.min(out.z[ring]))
            dug = np.maximum(before.z - out.z, 0.0)[cells]
            per_feature.append({
                "feature": nm, "cells": int(cells.sum()), "area_m2": float(cells.sum() * area),
                "bottom_level_m": float(bottom[k]), "rim_level_m": rim,
                "ground_min_m": float(np.min(before.z[cells])), "ground_max_m": float(np.max(before.z[cells])),
                "storage_created_m3": float(dug.sum() * area),
                "storage_below_rim_m3": float(np.maximum(rim - out.z[cells], 0.0).sum() * area),
                "storage_below_rim_before_m3": float(np.maximum(rim - before.z[cells], 0.0).sum() * area),
            })
        top = np.full(grid.shape, np.nan)
        for cells, pf in zip(cells_list, per_feature):
            top = np.where(cells, np.fmax(top, pf["rim_level_m"]), top)
        extra = {"storage_top": top,
                 "storage_below_rim_m3": float(sum(p["storage_below_rim_m3"] for p in per_feature)),
                 "storage_below_rim_before_m3": float(sum(p["storage_below_rim_before_m3"] for p in per_feature))}
        return touched, per_feature, skipped, extra


def _soil(texture: str, initial_saturation: float, label: str) -> GreenAmpt:
    try:
        return GreenAmpt.from_texture(texture, initial_saturation)
    except InputDataError as exc:
        raise InputDataError(f"{label}: {exc}") from None


# --------------------------------------------------------------------------------------------------
# Application
# --------------------------------------------------------------------------------------------------

def strip_polygon(line: BaseGeometry, width: float) -> BaseGeometry:
    """The strip of ``width`` [m] around a centre line: flat ends, round joins."""
    return line.buffer(width / 2.0, cap_style="flat", join_style="round")


def strip_cells(line: BaseGeometry, width: float, grid: Grid) -> np.ndarray:
    """Cells of a line measure: centres inside the strip, plus every cell the centre line touches."""
    return rasterize_geometries([strip_polygon(line, width)], grid) | rasterize_geometries([line], grid)


def serpentine_pick(mask: np.ndarray, share: float) -> np.ndarray:
    """The evenly spread, deterministic subset of ``mask`` described in :class:`HardSurfaceLimit`."""
    ii, jj = np.nonzero(mask)
    order = np.lexsort((np.where(ii % 2 == 0, jj, -jj), ii))
    k = np.arange(ii.size, dtype=np.float64)
    take = np.floor((k + 1.0) * share + 0.5) > np.floor(k * share + 0.5)
    out = np.zeros(mask.shape, bool)
    out[ii[order][take], jj[order][take]] = True
    return out


def _ring(cells: np.ndarray, ground: np.ndarray) -> np.ndarray:
    """Ground cells 4-adjacent to ``cells`` but outside them."""
    cross = ndimage.generate_binary_structure(2, 1)
    return ndimage.binary_dilation(cells, structure=cross) & ~cells & ground


def _feature_cells(measure, geom, k, ground, grid, label_name):
    raw = measure._raw_cells(geom, k, grid)
    cells = raw & ground
    if not cells.any():
        why = "lies on buildings or nodata only" if raw.any() else "covers no cell of the DEM"
        raise InputDataError(f"{measure.label}: {label_name} {why}; move or remove it.")
    return cells, int((raw & ~ground).sum())


def apply_terrain_measures(measures, fields: SurfaceFields, grid: Grid) -> tuple[SurfaceFields, list[dict]]:
    """Apply terrain measures to the surface fields, in order; return new fields and reports.

    Parameters
    ----------
    measures : sequence of CloudburstRoad, Channel, RainBed, GreenArea, HardSurfaceLimit, Pond
        Measures with geometries in ``grid``'s CRS, SI parameters.
    fields : SurfaceFields
        The surface before the measures. Not modified.
    grid : Grid
        The model grid (transform and cell area; ``fields.z`` is the elevation used).

    Returns
    -------
    fields : SurfaceFields
        New arrays with the measures applied.
    reports : list of dict
        One per measure: ``name``, ``type``, ``features``, ``cells``, ``area_m2``,
        ``cells_skipped_blocked_or_nodata``, ``storage_created_m3`` (Σ max(z_old − z_new, 0) ·
        cell area), ``max_lowering_m``, ``infiltration_capacity_change_m3_s`` (Σ (Ks_new − Ks_old) ·
        cell area, the change in saturated infiltration capacity), ``area_made_pervious_m2`` (cells
        with Ks 0 before and > 0 after), ``manning_changed_cells``; plus type-specific entries
        (ponds: ``rim_level_m``, ``bottom_level_m``, ``storage_below_rim_m3``,
        ``storage_below_rim_before_m3``, per feature; hard-surface limits: ``sealed_cells``,
        ``cells_converted``, ``share_converted``), ``per_feature``, a list of dicts per feature, and
        ``cells_mask``, the (ny, nx) bool array of the cells the measure changed, and ``storage_top``,
        the (ny, nx) level [m] up to which water on its cells is stored by design, not flooding (a
        pond's rim; the former ground over a cloudburst road's channel or a rain bed; NaN elsewhere;
        None for measures that store no surface water).

    Raises
    ------
    InputDataError
        A geometry of the wrong type (lines for a polygon measure or vice versa), a non-positive
        depth or width, a non-finite level, a feature on no ground cell, or a pond whose bottom is
        not below the ground anywhere in it. Messages name the measure and the feature.
    """
    if fields.z.shape != grid.shape:
        raise InputDataError(f"terrain measures: fields of shape {fields.z.shape} on a grid of {grid.shape}.")
    out = fields.copy()
    reports = []
    area = grid.cell_area
    for measure in measures:
        if not isinstance(measure, _TerrainMeasure):
            raise InputDataError(f"terrain measures: {measure!r} is not a terrain measure.")
        measure.check()
        before = out.copy()
        ground = np.isfinite(out.z) & ~out.blocked
        names = measure.names()
        touched, per_feature, skipped, extra = measure._apply(out, before, ground, grid, names, area)
        if measure.manning is not None:
            out.manning = np.where(touched, measure.manning, out.manning)

        reports.append(_report(measure, before, out, touched, skipped, per_feature, extra, area))
    return out, reports


def _report(measure, before: SurfaceFields, after: SurfaceFields, touched, skipped, per_feature, extra, area):
    dz = np.where(touched, np.maximum(before.z - after.z, 0.0), 0.0)
    ground = np.isfinite(before.z) & ~before.blocked
    dks = np.where(ground, after.ks - before.ks, 0.0)
    rep = {
        "name": measure.name,
        "type": measure.kind,
        "features": len(measure.geometries),
        "cells": int(touched.sum()),
        "area_m2": float(touched.sum() * area),
        "cells_skipped_blocked_or_nodata": int(skipped),
        "storage_created_m3": float(dz.sum() * area),
        "max_lowering_m": float(dz.max()) if touched.any() else 0.0,
        "infiltration_capacity_change_m3_s": float(dks.sum() * area),
        "area_made_pervious_m2": float(((before.ks == 0.0) & (after.ks > 0.0) & ground).sum() * area),
        "manning_changed_cells": int((ground & (after.manning != before.manning)).sum()),
    }
    top = extra.pop("storage_top", None)
    if top is None and measure.stores_to_former_ground:
        top = np.where(touched, before.z, np.nan)
    rep.update(extra)
    rep["per_feature"] = per_feature
    rep["cells_mask"] = touched.copy()
    #: (ny, nx) level [m] up to which water on the measure's cells is stored by design (NaN elsewhere)
    rep["storage_top"] = top
    return rep


# --------------------------------------------------------------------------------------------------
# Builders (scenario schema + the measure's layer -> SI objects) and the registry entries
# --------------------------------------------------------------------------------------------------

def _label(spec) -> str:
    ref = spec.layer
    return f"{ref.path}" + (f" layer '{ref.layer}'" if ref.layer else "")


def _values(spec, gdf, field: str, label: str):
    """The scenario value of ``field`` for every feature, else the layer attribute of that name."""
    v = getattr(spec, field)
    if v is not None:
        return float(v)
    try:
        return gdf[field].astype(float).to_numpy()
    except (TypeError, ValueError):
        raise InputDataError(f"{label}: attribute '{field}' must be numeric.") from None


def _read(spec, ctx) -> tuple[dict, object]:
    """The measure's features (reprojected, selected) and the arguments every terrain measure takes."""
    what = f"terrain measure '{spec.name}' ({spec.type})"
    required = tuple(f for f in spec.per_feature if getattr(spec, f) is None)
    gdf = ctx.layer(spec.layer, what, required=required, id_field=spec.name_field)
    gdf = ctx.select(gdf, spec.features, spec.name_field, f"{_label(spec)} ({what})")
    names = (gdf[spec.name_field].astype(str).tolist() if spec.name_field in gdf.columns
             else [f"feature {k}" for k in range(len(gdf))])
    common = dict(name=spec.name, geometries=list(gdf.geometry), feature_names=names, source=_label(spec),
                  manning=spec.manning)
    return common, gdf


def _saturation(spec, ctx) -> float:
    return spec.initial_saturation if spec.initial_saturation is not None else ctx.initial_saturation


def build_cloudburst_road(spec, ctx) -> CloudburstRoad:
    common, gdf = _read(spec, ctx)
    cls = Channel if spec.type == "channel" else CloudburstRoad
    return cls(**common, width=_values(spec, gdf, "width_m", common["source"]),
               depth=_values(spec, gdf, "depth_m", common["source"]))


def build_rain_bed(spec, ctx) -> RainBed:
    common, gdf = _read(spec, ctx)
    return RainBed(**common, storage_depth=_values(spec, gdf, "storage_depth_m", common["source"]),
                   ks=units.mm_h_to_m_s(spec.ks_mm_h), soil=spec.soil, initial_saturation=_saturation(spec, ctx))


def build_green_area(spec, ctx) -> GreenArea:
    common, _ = _read(spec, ctx)
    return GreenArea(**common, soil=spec.soil, initial_saturation=_saturation(spec, ctx),
                     depression_storage=units.mm_to_m(spec.depression_storage_mm))


def build_hard_surface_limit(spec, ctx) -> HardSurfaceLimit:
    common, _ = _read(spec, ctx)
    return HardSurfaceLimit(**common, soil=spec.soil, share=spec.share, initial_saturation=_saturation(spec, ctx))


def build_pond(spec, ctx) -> Pond:
    common, gdf = _read(spec, ctx)
    return Pond(**common, bottom_level=_values(spec, gdf, "bottom_level_m", common["source"]))


#: Registry entries of the terrain measures (:mod:`floodsim.measures.registry`).
MEASURE_TYPES = (
    MeasureType("cloudburst_road", schema.CloudburstRoadSpec, "terrain", build_cloudburst_road, "#e7298a",
                stores_surface_water=True, description="street lowered to carry surface water"),
    MeasureType("channel", schema.ChannelSpec, "terrain", build_cloudburst_road, "#e7298a",
                stores_surface_water=True, description="open channel (swale) cut along a line"),
    MeasureType("rain_bed", schema.RainBedSpec, "terrain", build_rain_bed, "#e7298a",
                stores_surface_water=True, description="bioretention hollow with a filter soil"),
    MeasureType("green_area", schema.GreenAreaSpec, "terrain", build_green_area, "#66a61e",
                stores_surface_water=False, description="sealed or bare ground made pervious"),
    MeasureType("hard_surface_limit", schema.HardSurfaceLimitSpec, "terrain", build_hard_surface_limit,
                "#e7298a", stores_surface_water=False, description="share of sealed cells de-sealed"),
    MeasureType("pond", schema.PondSpec, "terrain", build_pond, "#1b9e77",
                stores_surface_water=True, description="buffer pond / detention basin"),
)


__all__ = ["SurfaceFields", "CloudburstRoad", "Channel", "RainBed", "GreenArea", "HardSurfaceLimit", "Pond",
           "apply_terrain_measures", "strip_polygon", "strip_cells", "serpentine_pick"]
