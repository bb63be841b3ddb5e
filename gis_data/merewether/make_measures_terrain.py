"""Build ``measures_terrain.gpkg``: example terrain measures drawn on the real Merewether data.

These layers were **drawn by floodsim developers for examples, not surveyed**: they show how terrain
measures (:mod:`floodsim.measures.terrain`) are set up on a real city, and they are placed with the
rules below, using ``dem.tif`` and ``merewether.gpkg`` (buildings, roads, flow_path) next to this
script. Every feature is checked: no overlap with any building, inside the DEM.

Layers (EPSG:28356, every feature has ``name``):

``cloudburst_road`` (lines; ``width_m``, ``depth_m``)
    The centre line of the real street from upstream of gauge G1 to the downstream end of the
    north street near the east edge, found as the least-cost path through the road polygon's cells
    with cost ``1 / (d + 0.5)^2`` (``d`` = distance to the road edge [m], so the path keeps to the
    middle of the street), simplified with a 2 m tolerance. Width 6 m, depth 0.3 m.
``pond`` (polygon; ``bottom_level_m``)
    The low open ground south-east of the main road near G1: the connected ground cells below
    22.9 m that are at least 2 m from the road and 3 m from any building, inside the box x
    382374–382416, y 6354348–6354382, outlined and smoothed (buffer +1 m / −1 m, simplify 0.5 m).
    ``bottom_level_m`` = the lowest DEM value in it minus 1.2 m, rounded down to 0.05 m.
``rain_beds`` (polygons; ``storage_depth_m``)
    Four 4 m × 8 m beds (32 m²) on open ground beside the road, each the first such box (searching
    outwards from a point next to a gauge) that lies entirely ≥ 0.5 m off the road and ≥ 1.5 m from
    buildings and within 3 m of the road edge. Storage depth 0.2 m.
``green_areas`` (polygons; ``soil``, ``manning``, ``depression_storage_mm``)
    Two rectangles of open ground: the flat area south-east of the upstream road (x 382326–382356,
    y 6354276–6354298) and the hillside park north-west of the valley (x 382336–382366, y
    6354405–6354430).
``hard_surface_limit`` (polygon; ``share``)
    The part of the road polygon inside x 382390–382450, y 6354370–6354402 (the junction by G2).

Run ``python gis_data/merewether/make_measures_terrain.py``. Deterministic (GPKG timestamp pinned).
"""

from __future__ import annotations

import heapq
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import rasterio
from rasterio import features as rio_features
from scipy import ndimage
from shapely.geometry import LineString, box, shape
from shapely.ops import unary_union

HERE = Path(__file__).resolve().parent
CRS = "EPSG:28356"
FIXED_DATE = "2024-01-01T00:00:00Z"


def _load():
    with rasterio.open(HERE / "dem.tif") as src:
        z = src.read(1).astype(np.float64)
        z[z == src.nodata] = np.nan
        transform = src.transform
    gpkg = HERE / "merewether.gpkg"
    buildings = gpd.read_file(gpkg, layer="buildings")
    roads = gpd.read_file(gpkg, layer="roads")
    return z, transform, buildings, roads


def _mask(geoms, shape_, transform):
    return rio_features.rasterize([(g, 1) for g in geoms], out_shape=shape_, transform=transform,
                                  fill=0, dtype="uint8").astype(bool)


def _cell(transform, x, y):
    col, row = ~transform * (x, y)
    return int(row), int(col)


def _centre(transform, i, j):
    return transform * (j + 0.5, i + 0.5)


def cloudburst_line(road_mask, transform, start, end):
    """Least-cost 8-connected path through road cells, kept to the middle of the street."""
    d = ndimage.distance_transform_edt(road_mask)
    cost = np.where(road_mask, 1.0 / (d + 0.5) ** 2, np.inf)
    s, t = _cell(transform, *start), _cell(transform, *end)
    if not (road_mask[s] and road_mask[t]):
        raise SystemExit("cloudburst road: start or end point is not on the road polygon")
    dist = np.full(road_mask.shape, np.inf)
    prev = {}
    dist[s] = 0.0
    heap = [(0.0, s)]
    steps = [(0, 1), (1, 0), (0, -1), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1)]
    while heap:
        du, u = heapq.heappop(heap)
        if u == t:
            break
        if du > dist[u]:
            continue
        for di, dj in steps:
            v = (u[0] + di, u[1] + dj)
            if not (0 <= v[0] < road_mask.shape[0] and 0 <= v[1] < road_mask.shape[1]):
                continue
            w = du + cost[v] * np.hypot(di, dj)
            if w < dist[v]:
                dist[v] = w
                prev[v] = u
                heapq.heappush(heap, (w, v))
    path = [t]
    while path[-1] != s:
        path.append(prev[path[-1]])
    xy = [_centre(transform, i, j) for i, j in reversed(path)]
    return LineString([(round(x, 2), round(y, 2)) for x, y in LineString(xy).simplify(2.0).coords])


def pond_polygon(z, transform, road_mask, bld_mask):
    ground = np.isfinite(z) & ~road_mask & ~bld_mask
    d_road = ndimage.distance_transform_edt(~road_mask)
    d_bld = ndimage.distance_transform_edt(~bld_mask)
    (i0, j0), (i1, j1) = _cell(transform, 382374, 6354382), _cell(transform, 382416, 6354348)
    window = np.zeros(z.shape, bool)
    window[i0:i1 + 1, j0:j1 + 1] = True
    cand = ground & window & (d_road >= 2.0) & (d_bld >= 3.0) & (z < 22.9)
    lab, n = ndimage.label(cand)
    k = int(np.argmax(np.bincount(lab.ravel())[1:])) + 1
    polys = [shape(g) for g, v in rio_features.shapes((lab == k).astype("uint8"), transform=transform) if v == 1]
    poly = unary_union(polys).buffer(1.0).buffer(-1.0).simplify(0.5)
    return poly


def rain_bed_boxes(transform, z, road_geom, bld_geom, seeds):
    out = []
    for sx, sy in seeds:
        found = None
        for r in np.arange(0.0, 25.0, 0.5):
            for ang in np.arange(0.0, 360.0, 15.0):
                cx, cy = sx + r * np.cos(np.radians(ang)), sy + r * np.sin(np.radians(ang))
                for w, h in ((8.0, 4.0), (4.0, 8.0)):
                    b = box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
                    if (b.distance(road_geom) >= 0.5 and b.distance(road_geom) <= 3.0
                            and b.distance(bld_geom) >= 1.5 and not any(b.intersects(o) for o in out)):
                        found = box(*(round(v, 1) for v in b.bounds))
                        break
                if found is not None:
                    break
            if found is not None:
                break
        if found is None:
            raise SystemExit(f"rain bed near {(sx, sy)}: no free place found")
        out.append(found)
    return out


def main():
    z, transform, buildings, roads = _load()
    bld_geom = unary_union(buildings.geometry)
    road_geom = unary_union(roads.geometry)
    road_mask = _mask(roads.geometry, z.shape, transform)
    bld_mask = _mask(buildings.geometry, z.shape, transform)

    layers = {}
    line = cloudburst_line(road_mask, transform, (382330.0, 6354322.0), (382566.0, 6354647.0))
    layers["cloudburst_road"] = gpd.GeoDataFrame(
        {"name": ["Skybrudsvej: G1 - G5 street"], "width_m": [6.0], "depth_m": [0.3]}, geometry=[line], crs=CRS)

    pond = pond_polygon(z, transform, road_mask, bld_mask)
    pmask = _mask([pond], z.shape, transform)
    bottom = np.floor((np.nanmin(z[pmask]) - 1.2) / 0.05) * 0.05
    layers["pond"] = gpd.GeoDataFrame({"name": ["Park buffer pond"], "bottom_level_m": [round(float(bottom), 2)]},
                                      geometry=[pond], crs=CRS)

    seeds = [(382400.0, 6354400.0), (382470.0, 6354470.0), (382490.0, 6354545.0), (382550.0, 6354600.0)]
    beds = rain_bed_boxes(transform, z, road_geom, bld_geom, seeds)
    layers["rain_beds"] = gpd.GeoDataFrame({"name": [f"Rain bed {k + 1}" for k in range(len(beds))],
                                            "storage_depth_m": [0.2] * len(beds)}, geometry=beds, crs=CRS)

    greens = [box(382326, 6354276, 382356, 6354298), box(382336, 6354405, 382366, 6354430)]
    layers["green_areas"] = gpd.GeoDataFrame({"name": ["Upstream meadow", "Hillside park"],
                                              "soil": ["sandy loam", "loam"], "manning": [0.10, 0.08],
                                              "depression_storage_mm": [5.0, 5.0]}, geometry=greens, crs=CRS)

    hs = road_geom.intersection(box(382390, 6354370, 382450, 6354402))
    layers["hard_surface_limit"] = gpd.GeoDataFrame({"name": ["G2 junction de-sealing"], "share": [0.5]},
                                                    geometry=[hs], crs=CRS)

    dem_box = box(transform.c, transform.f + transform.e * z.shape[0], transform.c + transform.a * z.shape[1],
                  transform.f)
    for name, gdf in layers.items():
        for fname, g in zip(gdf["name"], gdf.geometry):
            if not g.is_valid or g.is_empty:
                raise SystemExit(f"{name} / {fname}: invalid or empty geometry")
            if not dem_box.contains(g):
                raise SystemExit(f"{name} / {fname}: not inside the DEM")
            footprint = g.buffer(float(gdf["width_m"].iloc[0]) / 2, cap_style="flat") if name == "cloudburst_road" else g
            overlap = footprint.intersection(bld_geom).area
            if overlap > 0:
                raise SystemExit(f"{name} / {fname}: overlaps buildings by {overlap:.2f} m2")
            c = g.centroid
            print(f"{name:18s} {fname:28s} area {footprint.area:8.1f} m2  centroid ({c.x:.1f}, {c.y:.1f})  "
                  f"bounds {tuple(round(v, 1) for v in g.bounds)}"
                  + (f"  length {g.length:.1f} m" if name == "cloudburst_road" else ""))

    gpkg = HERE / "measures_terrain.gpkg"
    gpkg.unlink(missing_ok=True)
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": FIXED_DATE})
    for name, gdf in layers.items():
        gdf.to_file(gpkg, layer=name, driver="GPKG", engine="pyogrio")
    print(f"pond bottom_level_m = {layers['pond']['bottom_level_m'].iloc[0]} "
          f"(lowest ground in it {np.nanmin(z[pmask]):.2f} m)")


if __name__ == "__main__":
    main()
