"""Raster tile pyramids of a published site: XYZ PNG tiles in web mercator, so page weight does not grow
with the area.

:func:`tile_source` is the :class:`~floodsim.maps.sitedata.Site` raster source of ``floodsim publish``:
asked for raster ``key`` of a run (or of the site), it takes the values from
:func:`floodsim.maps.rasterproducts.raster_values`, warps them into the web-mercator tile grid
(EPSG:3857, 256 × 256 px tiles, the XYZ scheme: ``y`` counted from the north) with
:func:`rasterio.warp.reproject`, paints each tile with :func:`floodsim.maps.rasterproducts.paint` and
writes it as ``tiles/<run>/<key>/{z}/{x}/{y}.png`` (``tiles/site/<key>/…`` for a site raster) under the
site folder. It returns a :class:`~floodsim.maps.sitedata.RasterLayer` with the URL template and the
index of the tiles written.

* **Zoom levels.** The native zoom ``zn`` is the level whose pixel is closest to one grid cell on the
  ground at the grid's centre latitude (a web-mercator pixel at zoom ``z`` is
  ``2π·6378137 m / (256·2^z)`` wide, ``cos(lat)`` times that on the ground). Tiles are written from
  ``zn − 3`` (at least 0) to ``zn + 1`` (two pixels per cell, so that cell edges stay sharp); Leaflet
  scales the shallowest level down and the deepest up beyond them.
* **Resampling.** Classes and maxima are warped with ``nearest`` (a tile pixel shows the class of the
  grid cell under its centre; no invented values); the hillshade with ``bilinear``, or ``average`` on
  levels coarser than the grid.
* **Only non-empty tiles** are written (a tile whose every pixel is transparent is left out); the index
  (:class:`~floodsim.maps.sitedata.RasterLayer` ``tile_index``) lets the page ask for exactly those.
* Warping goes one row of tiles at a time, so memory stays at a strip of ``256 × width`` pixels.
"""

from __future__ import annotations

import base64
import math
import os
from pathlib import Path

import numpy as np
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.transform import Affine
from rasterio.warp import reproject, transform_bounds

from ..errors import InputDataError

#: Half the width of the web-mercator world [m] (EPSG:3857: π · 6378137).
ORIGIN_SHIFT_M = math.pi * 6378137.0
#: Tile size [px].
TILE_PX = 256
#: Levels written below the native zoom, and above it.
LEVELS_BELOW = 3
LEVELS_ABOVE = 1
WEB_MERCATOR = CRS.from_epsg(3857)
WGS84 = CRS.from_epsg(4326)


def tile_size_m(z: int) -> float:
    """Width of a tile at zoom ``z`` in web-mercator metres."""
    return 2.0 * ORIGIN_SHIFT_M / (2 ** z)


def native_zoom(transform, crs, shape) -> int:
    """The zoom level whose ground pixel is closest to the grid's cell size (see the module docstring)."""
    crs = CRS.from_user_input(crs)
    ny, nx = shape
    left, top = transform @ (0, 0)
    right, bottom = transform @ (nx, ny)
    w, s, e, n = transform_bounds(crs, WGS84, min(left, right), min(top, bottom), max(left, right),
                                  max(top, bottom))
    lat = math.radians(0.5 * (s + n))
    cell = min(abs(transform.a), abs(transform.e))
    if crs.is_geographic:
        cell *= 111_320.0                          # degrees → metres (along a meridian)
    else:
        cell *= crs.linear_units_factor[1] if crs.linear_units_factor else 1.0
    ground_px0 = 2.0 * ORIGIN_SHIFT_M / TILE_PX * max(math.cos(lat), 1e-6)
    return int(min(max(round(math.log2(ground_px0 / cell)), 0), 24))


def zoom_range(transform, crs, shape) -> tuple[int, int]:
    """``(min, max)`` zoom levels written for a grid (``native − 3`` … ``native + 1``)."""
    zn = native_zoom(transform, crs, shape)
    return max(zn - LEVELS_BELOW, 0), min(zn + LEVELS_ABOVE, 24)


def tile_range(bounds_3857, z: int) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` inclusive XYZ tile range at zoom ``z`` covering web-mercator ``bounds``."""
    left, bottom, right, top = bounds_3857
    ts = tile_size_m(z)
    n = 2 ** z
    x0 = int(math.floor((left + ORIGIN_SHIFT_M) / ts))
    x1 = int(math.floor((right + ORIGIN_SHIFT_M) / ts - 1e-9))
    y0 = int(math.floor((ORIGIN_SHIFT_M - top) / ts))
    y1 = int(math.floor((ORIGIN_SHIFT_M - bottom) / ts - 1e-9))
    clip = lambda v: min(max(v, 0), n - 1)  # noqa: E731
    return clip(x0), clip(y0), max(clip(x1), clip(x0)), max(clip(y1), clip(y0))


def tile_transform(z: int, x: int, y: int) -> Affine:
    """The affine transform (EPSG:3857) of XYZ tile ``(z, x, y)`` (pixel edges, 256 px)."""
    ts = tile_size_m(z)
    px = ts / TILE_PX
    return Affine(px, 0.0, -ORIGIN_SHIFT_M + x * ts, 0.0, -px, ORIGIN_SHIFT_M - y * ts)


def _encode_bits(present: np.ndarray) -> str:
    return base64.b64encode(np.packbits(present.ravel().astype(np.uint8), bitorder="little").tobytes()).decode(
        "ascii")


def write_pyramid(values: np.ndarray, transform, crs, resampling: Resampling, painter, folder: Path,
                  zooms: tuple[int, int] | None = None) -> dict:
    """Write the XYZ PNG pyramid of ``values`` under ``folder`` (``{z}/{x}/{y}.png``).

    Parameters
    ----------
    values : (ny, nx) float32 array
        The raster on its grid (NaN: nothing to show).
    transform, crs
        The grid's affine transform (cell edges) and CRS.
    resampling : Resampling
        ``nearest`` for classes and maxima; ``bilinear`` for smooth values (``average`` is used instead
        on levels coarser than the grid).
    painter : callable
        ``painter(values_on_tile_grid) -> RGBA uint8`` (transparent where nothing shows).
    folder : Path
        Where the pyramid goes (created).
    zooms : (int, int), optional
        Levels to write (default :func:`zoom_range`).

    Returns
    -------
    dict
        ``{"index": {z: [x0, y0, nx, ny, bits]}, "tiles": count, "bytes": size, "zoom": [min, max],
        "bounds": [[south, west], [north, east]]}``.
    """
    from PIL import Image

    if crs is None:
        raise InputDataError("the results have no CRS, so they cannot be tiled for a map; set [domain] crs "
                             "in the scenario and run it again.")
    crs = CRS.from_user_input(crs)
    values = np.asarray(values, dtype=np.float32)
    ny, nx = values.shape
    left, top = transform @ (0, 0)
    right, bottom = transform @ (nx, ny)
    box = (min(left, right), min(top, bottom), max(left, right), max(top, bottom))
    merc = transform_bounds(crs, WEB_MERCATOR, *box, densify_pts=21)
    w, s, e, n = transform_bounds(crs, WGS84, *box, densify_pts=21)
    zmin, zmax = zooms if zooms is not None else zoom_range(transform, crs, values.shape)
    cell_m = abs(transform.a) * (111_320.0 if crs.is_geographic else 1.0)
    lat = math.radians(0.5 * (s + n))
    index: dict[str, list] = {}
    count = nbytes = 0
    folder = Path(folder)
    for z in range(zmin, zmax + 1):
        x0, y0, x1, y1 = tile_range(merc, z)
        ntx, nty = x1 - x0 + 1, y1 - y0 + 1
        present = np.zeros((nty, ntx), dtype=bool)
        ground_px = tile_size_m(z) / TILE_PX * math.cos(lat)
        rs = resampling
        if resampling != Resampling.nearest and ground_px > 1.5 * cell_m:
            rs = Resampling.average
        for j in range(nty):
            strip = np.full((TILE_PX, ntx * TILE_PX), np.nan, dtype=np.float32)
            reproject(values, strip, src_transform=transform, src_crs=crs,
                      dst_transform=tile_transform(z, x0, y0 + j), dst_crs=WEB_MERCATOR,
                      resampling=rs, src_nodata=np.nan, dst_nodata=np.nan)
            if not np.isfinite(strip).any():
                continue
            rgba = painter(strip)
            for i in range(ntx):
                tile = rgba[:, i * TILE_PX:(i + 1) * TILE_PX]
                if not tile[..., 3].any():
                    continue
                path = folder / str(z) / str(x0 + i) / f"{y0 + j}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(np.ascontiguousarray(tile), mode="RGBA").save(path, format="PNG",
                                                                             compress_level=6)
                present[j, i] = True
                count += 1
                nbytes += os.path.getsize(path)
        if present.any():
            index[str(z)] = [x0, y0, ntx, nty, _encode_bits(present)]
    return {"index": index, "tiles": count, "bytes": nbytes, "zoom": [zmin, zmax],
            "bounds": [[s, w], [n, e]]}


def key_folder(key: str) -> str:
    """A raster key as a folder name (``depth@3`` → ``depth-3``)."""
    return "".join(c if c.isalnum() or c in "_-" else "-" for c in key)


def run_folder(run: int | None) -> str:
    """The tile folder of run index ``run`` (``run-1`` for the first) or of the site (``site``)."""
    return "site" if run is None else f"run-{run + 1}"


def tile_source(site, run: int | None, key: str):
    """The :class:`~floodsim.maps.sitedata.Site` raster source of a published site: write the tile
    pyramid of raster ``key`` into ``site.folder`` and return its layer (None when the data is not there).

    Records ``{"tiles", "bytes", "zoom"}`` in ``site.tile_stats`` under the pyramid's folder.
    """
    from .rasterproducts import paint, raster_values
    from .sitedata import RasterLayer

    if site.folder is None:
        raise ValueError("tile_source needs site.folder (the folder the site is written into)")
    got = raster_values(site, run, key)
    if got is None:
        return None
    values, transform, crs, resampling = got
    rel = f"tiles/{run_folder(run)}/{key_folder(key)}"
    info = write_pyramid(values, transform, crs, resampling, lambda v: paint(site, run, key, v),
                         Path(site.folder) / rel)
    site.tile_stats[rel] = {"tiles": info["tiles"], "bytes": info["bytes"], "zoom": info["zoom"]}
    return RasterLayer(key=key, bounds=info["bounds"], tile_url=f"{site.root}{rel}/{{z}}/{{x}}/{{y}}.png",
                       min_zoom=info["zoom"][0], max_native_zoom=info["zoom"][1], tile_index=info["index"])


__all__ = ["key_folder", "native_zoom", "run_folder", "tile_range", "tile_source", "tile_transform",
           "write_pyramid", "zoom_range"]
