"""Grid rasters → coloured, web-mercator PNG overlays for Leaflet, and the DEM hillshade.

Leaflet's ``ImageOverlay`` stretches an image linearly between two lat/lon corners *in the map's
projection* (web mercator, EPSG:3857). A raster in a projected CRS (e.g. MGA zone 56) is therefore
reprojected to EPSG:3857 with :func:`rasterio.warp.reproject` first, and its corners are given in
EPSG:4326; stretching a UTM image between lat/lon corners would misplace it by metres.
"""

from __future__ import annotations

import base64
import io
import math

import numpy as np
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.warp import calculate_default_transform, reproject
from rasterio.warp import transform as transform_points

from ..errors import InputDataError

WEB_MERCATOR = CRS.from_epsg(3857)
WGS84 = CRS.from_epsg(4326)


def hillshade(
    z: np.ndarray,
    dx: float,
    dy: float,
    azimuth_deg: float = 315.0,
    altitude_deg: float = 45.0,
    z_factor: float = 1.0,
) -> np.ndarray:
    """Hillshade of a DEM (Horn 1981 gradients, illumination from ``azimuth_deg`` clockwise from north).

    Parameters
    ----------
    z : (ny, nx) array
        Elevation [m]; row 0 is the north edge (a north-up raster). NaN cells stay NaN.
    dx, dy : float
        Cell size [m] in x (east) and y (north), both positive.
    azimuth_deg, altitude_deg : float
        Sun direction [degrees]: azimuth clockwise from north, altitude above the horizon.
    z_factor : float
        Vertical exaggeration (1 = true relief).

    Returns
    -------
    (ny, nx) float64 array
        Illumination in [0, 1] (NaN outside the DEM).

    References
    ----------
    Horn, B. K. P. (1981). Hill shading and the reflectance map. Proc. IEEE 69(1), 14–47.
    """
    z = np.asarray(z, dtype=np.float64) * z_factor
    zp = np.pad(z, 1, mode="edge")
    fill = np.where(np.isnan(zp), np.nanmean(z) if np.isfinite(z).any() else 0.0, zp)
    zp = np.where(np.isnan(zp), fill, zp)
    a, b, c = zp[:-2, :-2], zp[:-2, 1:-1], zp[:-2, 2:]
    d, f = zp[1:-1, :-2], zp[1:-1, 2:]
    g, h, i = zp[2:, :-2], zp[2:, 1:-1], zp[2:, 2:]
    dzdx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8.0 * dx)  # rising to the east
    dzdy = ((a + 2 * b + c) - (g + 2 * h + i)) / (8.0 * dy)  # rising to the north (row 0 = north)
    slope = np.arctan(np.hypot(dzdx, dzdy))
    aspect = np.arctan2(-dzdx, -dzdy)  # downslope direction, clockwise from north
    zen = math.radians(90.0 - altitude_deg)
    az = math.radians(azimuth_deg)
    shade = np.cos(zen) * np.cos(slope) + np.sin(zen) * np.sin(slope) * np.cos(az - aspect)
    shade = np.clip(shade, 0.0, 1.0)
    return np.where(np.isnan(z), np.nan, shade)


def to_web_mercator(
    values: np.ndarray,
    transform,
    crs,
    resampling: Resampling = Resampling.nearest,
) -> tuple[np.ndarray, list[list[float]]]:
    """Reproject a north-up grid to EPSG:3857; return it with its ``[[south, west], [north, east]]`` corners.

    Parameters
    ----------
    values : (ny, nx) array
        Float values; NaN is nodata (also where the warped image has no source).
    transform : affine.Affine
        Grid transform (cell edges).
    crs : CRS-like
        The grid's CRS (must be set: a map needs to know where the grid is).
    resampling : rasterio.enums.Resampling
        ``nearest`` for classes and maxima (no invented values), ``bilinear`` for the hillshade.

    Returns
    -------
    (array, bounds)
        The float32 raster in web mercator (NaN = nodata) and its lat/lon corners for Leaflet.
    """
    if crs is None:
        raise InputDataError(
            "results have no CRS: a map needs one. Re-run with a DEM that has a CRS, or set "
            "[domain] crs in the scenario."
        )
    src_crs = CRS.from_user_input(crs)
    values = np.asarray(values, dtype=np.float32)
    ny, nx = values.shape
    left, top = transform @ (0, 0)
    right, bottom = transform @ (nx, ny)
    dst_transform, width, height = calculate_default_transform(
        src_crs,
        WEB_MERCATOR,
        nx,
        ny,
        left=min(left, right),
        bottom=min(top, bottom),
        right=max(left, right),
        top=max(top, bottom),
    )
    out = np.full((height, width), np.nan, dtype=np.float32)
    reproject(
        values,
        out,
        src_transform=transform,
        src_crs=src_crs,
        dst_transform=dst_transform,
        dst_crs=WEB_MERCATOR,
        resampling=resampling,
        src_nodata=np.nan,
        dst_nodata=np.nan,
    )
    x0, y0 = dst_transform @ (0, 0)
    x1, y1 = dst_transform @ (width, height)
    lons, lats = transform_points(WEB_MERCATOR, WGS84, [x0, x1], [y1, y0])
    return out, [[lats[0], lons[0]], [lats[1], lons[1]]]


def hex_to_rgba(colour: str, alpha: int = 255) -> tuple[int, int, int, int]:
    """``"#rrggbb"`` → (r, g, b, alpha) as 0–255 integers."""
    c = colour.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16), alpha


def classify(values: np.ndarray, edges) -> np.ndarray:
    """Class index per cell: 0 below ``edges[0]`` or NaN, k for ``edges[k-1] <= v < edges[k]``,
    ``len(edges)`` above the last edge."""
    v = np.asarray(values, dtype=np.float64)
    idx = np.digitize(np.nan_to_num(v, nan=-np.inf), np.asarray(edges, dtype=np.float64))
    return idx.astype(np.int16)


def paint_classes(codes: np.ndarray, colours: dict[int, str], alpha: int = 255) -> np.ndarray:
    """RGBA image (uint8) of integer class codes; codes not in ``colours`` are transparent."""
    rgba = np.zeros(codes.shape + (4,), dtype=np.uint8)
    for code, colour in colours.items():
        rgba[codes == code] = hex_to_rgba(colour, alpha)
    return rgba


def grey_rgba(shade: np.ndarray) -> np.ndarray:
    """Opaque grey RGBA image of values in [0, 1]; NaN transparent."""
    g = np.clip(np.nan_to_num(shade, nan=0.0) * 255.0, 0, 255).astype(np.uint8)
    rgba = np.stack([g, g, g, np.where(np.isnan(shade), 0, 255).astype(np.uint8)], axis=-1)
    return rgba


def png_data_uri(rgba: np.ndarray) -> str:
    """Encode an RGBA uint8 image as a ``data:image/png;base64,…`` URI (embedded: no file, no request)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba), mode="RGBA").save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
