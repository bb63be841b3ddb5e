"""Vector layers: read with GeoPandas, check, reproject to the DEM's CRS, rasterise onto the grid.

Rasterisation rules (rasterio.features.rasterize):

* **Polygons** cover the cells whose *centre* lies inside (``all_touched=False``), so areas are not
  inflated; a polygon smaller than a cell that covers no centre still takes the cell containing its
  representative point, so no feature silently disappears.
* **Lines** take every cell they touch (``all_touched=True``) so a channel or tunnel is continuous.
* **Points** take the cell that contains them.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from rasterio import features as rio_features
from shapely.geometry import box

from ..errors import InputDataError
from ..core.grid import Grid
from .tables import MAX_MAGNITUDE


def read_layer(path, layer: str | None = None, grid: Grid | None = None, required: tuple[str, ...] = (),
               id_field: str | None = None, what: str = "layer") -> gpd.GeoDataFrame:
    """Read a vector layer, validate it, and reproject it to ``grid``'s CRS.

    Parameters
    ----------
    path : str or Path
        GeoPackage, GeoJSON, Shapefile or anything pyogrio reads.
    layer : str, optional
        Layer name inside a multi-layer file.
    grid : Grid, optional
        When given, the layer is reprojected to its CRS and must overlap it.
    required : tuple of str
        Attribute columns that must exist and have no missing values; their numbers (numeric columns,
        and text that reads as a number) must be finite and within ±:data:`MAX_MAGNITUDE`.
    id_field : str, optional
        Column used to name features in error messages (default: the row number).
    what : str
        What the layer is for (e.g. "buildings"), for messages.
    """
    path = Path(path)
    label = f"{path}" + (f" layer '{layer}'" if layer else "")
    if not path.exists():
        raise InputDataError(f"{label} ({what}): file not found. Check the path (relative paths in a "
                             "scenario are taken from the scenario file's folder).")
    try:
        import pyogrio

        names = [row[0] for row in pyogrio.list_layers(path)]
        if layer is not None and layer not in names:
            raise InputDataError(f"{label} ({what}): no such layer; the file has {', '.join(names)}.")
        if layer is None and len(names) > 1:
            raise InputDataError(f"{label} ({what}): the file has {len(names)} layers ({', '.join(names[:10])}); "
                                 "say which one with `layer = \"NAME\"`.")
        bbox = _read_window(path, layer, grid)
        gdf = gpd.read_file(path, layer=layer, bbox=bbox)
    except InputDataError:
        raise
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise InputDataError(f"{label} ({what}): cannot read it as a vector layer ({exc}).") from None

    def fid(k):
        return f"{id_field}={gdf[id_field].iloc[k]!r}" if id_field and id_field in gdf else f"feature {k}"

    if len(gdf) == 0:
        if bbox is not None:
            raise InputDataError(f"{label} ({what}): no feature lies inside the model area (the clipped or "
                                 f"tiled DEM, bounds {tuple(round(b, 1) for b in grid.bounds)}); check the "
                                 "layer's CRS, or leave it out of the scenario.")
        raise InputDataError(f"{label} ({what}): the layer has no features.")
    for col in required:
        if col not in gdf.columns:
            raise InputDataError(f"{label} ({what}): missing attribute '{col}'; the layer has "
                                 f"{', '.join(c for c in gdf.columns if c != 'geometry') or 'no attributes'}.")
        missing = gdf[col].isna().to_numpy()
        if missing.any():
            raise InputDataError(f"{label} ({what}): {fid(int(np.argmax(missing)))} has no value for "
                                 f"'{col}'.")
        # numbers: a numeric column, or a text column whose every value reads as a number (names are not)
        numbers = pd.to_numeric(gdf[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        if not pd.api.types.is_numeric_dtype(gdf[col]) and np.isnan(numbers).any():
            numbers = np.zeros(len(gdf))
        huge = np.isinf(numbers) | (np.abs(np.nan_to_num(numbers)) > MAX_MAGNITUDE)
        if huge.any():
            k = int(np.argmax(huge))
            raise InputDataError(f"{label} ({what}): {fid(k)} has '{col}' = {str(gdf[col].iloc[k])[:40]!r}; give a "
                                 f"finite number within ±{MAX_MAGNITUDE:g} (a larger one is a typo or a unit "
                                 "mistake).")
    empty = (gdf.geometry.isna() | gdf.geometry.is_empty).to_numpy()
    if empty.any():
        raise InputDataError(f"{label} ({what}): {fid(int(np.argmax(empty)))} has an empty geometry; "
                             "delete it or draw it.")
    invalid = ~gdf.geometry.is_valid.to_numpy()
    if invalid.any():
        from shapely.validation import explain_validity

        k = int(np.argmax(invalid))
        raise InputDataError(f"{label} ({what}): {fid(k)} has an invalid geometry "
                             f"({explain_validity(gdf.geometry.iloc[k])}); repair it, e.g. with QGIS "
                             "'Fix geometries' or shapely.make_valid.")
    if grid is not None:
        if gdf.crs is None:
            raise InputDataError(f"{label} ({what}): the layer has no CRS; set one (it must be known to "
                                 "reproject it onto the DEM).")
        if grid.crs is not None and gdf.crs != grid.crs:
            gdf = gdf.to_crs(grid.crs)
        extent = box(*grid.bounds)
        outside = ~gdf.geometry.intersects(extent).to_numpy()
        if outside.any() and grid.clipped:
            # a cut-out of larger data: the layer covers more than the model; keep what is inside
            gdf = gdf.loc[~outside]
            if len(gdf) == 0:
                raise InputDataError(f"{label} ({what}): no feature lies inside the model area (bounds "
                                     f"{tuple(round(b, 1) for b in grid.bounds)}); check the layer's CRS.")
        elif outside.any():
            k = int(np.argmax(outside))
            raise InputDataError(f"{label} ({what}): {fid(k)} lies entirely outside the DEM "
                                 f"(DEM bounds {tuple(round(b, 1) for b in grid.bounds)}, feature bounds "
                                 f"{tuple(round(b, 1) for b in gdf.geometry.iloc[k].bounds)}); check its "
                                 "CRS or remove it.")
    return gdf


def _read_window(path, layer, grid: Grid | None):
    """The bounding box (in the layer's CRS) to read a layer within: the grid's extent when the grid is
    a cut-out of larger data (``grid.clipped``); None (read everything) otherwise or when the layer's
    CRS is unknown."""
    if grid is None or not grid.clipped or grid.crs is None:
        return None
    import pyogrio
    from rasterio.warp import transform_bounds

    crs = pyogrio.read_info(path, layer=layer).get("crs")
    if not crs:
        return None
    west, south, east, north = transform_bounds(grid.crs, crs, *grid.bounds)
    return (west, south, east, north)


def _shapes(geoms):
    return [(g, 1) for g in geoms]


def rasterize_geometries(geoms, grid: Grid) -> np.ndarray:
    """Boolean mask (ny, nx) of cells covered by ``geoms`` under the rules in the module docstring."""
    geoms = [g for g in geoms if g is not None and not g.is_empty]   # empty (e.g. a line buffered by ~0): no cell
    mask = np.zeros(grid.shape, bool)
    polys = [g for g in geoms if g.geom_type in ("Polygon", "MultiPolygon")]
    lines = [g for g in geoms if g.geom_type in ("LineString", "MultiLineString", "LinearRing")]
    points = [g for g in geoms if g.geom_type in ("Point", "MultiPoint")]
    if polys:
        mask |= rio_features.rasterize(_shapes(polys), out_shape=grid.shape, transform=grid.transform,
                                       fill=0, all_touched=False, dtype="uint8").astype(bool)
        for g in polys:  # polygons smaller than a few cells keep at least one cell
            if g.area >= 4.0 * grid.cell_area:
                continue
            p = g.representative_point()
            try:
                i, j = grid.cell_of(p.x, p.y)
            except InputDataError:
                continue
            sub = rio_features.rasterize([(g, 1)], out_shape=grid.shape, transform=grid.transform,
                                         fill=0, all_touched=False, dtype="uint8")
            if not sub.any():
                mask[i, j] = True
    if lines:
        mask |= rio_features.rasterize(_shapes(lines), out_shape=grid.shape, transform=grid.transform,
                                       fill=0, all_touched=True, dtype="uint8").astype(bool)
    for g in points:
        for p in getattr(g, "geoms", [g]):
            if p.is_empty:
                continue
            try:
                i, j = grid.cell_of(p.x, p.y)
            except InputDataError:
                continue
            mask[i, j] = True
    return mask


def rasterize_values(gdf: gpd.GeoDataFrame, column: str, grid: Grid, fill: float = np.nan) -> np.ndarray:
    """Float array (ny, nx) with each feature's ``column`` value burnt in (later features on top)."""
    out = np.full(grid.shape, fill, dtype=np.float64)
    for geom, value in zip(gdf.geometry, gdf[column].astype(float)):
        out[rasterize_geometries([geom], grid)] = value
    return out


def select_features(gdf: gpd.GeoDataFrame, features, name_field: str, label: str) -> gpd.GeoDataFrame:
    """The features of ``gdf`` whose ``name_field`` attribute is one of ``features``, in that order
    (``features`` None: all of them). ``label`` names the layer in errors."""
    if features is None:
        return gdf
    if len(features) == 0:
        raise InputDataError(f"{label}: 'features' is empty, so it selects nothing; list the names of the features "
                             "to use, or leave it out to use them all.")
    if name_field not in gdf.columns:
        raise InputDataError(f"{label}: 'features' selects by attribute '{name_field}', which the layer lacks; "
                             f"set name_field to one of {', '.join(c for c in gdf.columns if c != 'geometry')}.")
    names = gdf[name_field].astype(str).tolist()
    missing = [f for f in features if f not in names]
    if missing:
        raise InputDataError(f"{label}: no feature with {name_field} = {missing[0]!r}; the layer has "
                             f"{', '.join(map(repr, names))}.")
    return gdf.iloc[[names.index(f) for f in features]].reset_index(drop=True)
