"""Draw the example layers of the storage measures (tanks, tunnel, pond outlet) on the real Merewether
streets and write ``measures_storage.gpkg`` next to this script.

Every point is derived, by a fixed rule, from the layers of ``merewether.gpkg`` (``roads``,
``flow_path``, ``buildings``, ``gauges``) and the DEM ``dem.tif`` (EPSG:28356). They are drawn by the
floodsim developers for examples, not surveyed. Layers (all points, each with ``name`` and ``bed_m``,
the DEM elevation at the point):

``tank_inlets``
    4 street inlets (gullies) of a tank in the sags of the road, where gullies go in practice and
    where water ponds: among the road cells inside the flow path at least 2 m from any building, the
    cell with the deepest depression (DEM filled by priority-flood, Barnes et al. 2014, minus the
    DEM; buildings are walls, the DEM edge drains), then the deepest at least 10 m from those
    already taken, until there are 4.
``tunnel_intakes``
    5 intakes along the flow path from upstream to downstream, one near each gauge G1..G5: the
    lowest road cell within 8 m of the gauge, at least 2 m from any building, inside the flow-path
    polygon. Attributes ``capacity_m3_s`` (0.5) and ``segment`` (1 = upstream .. 5).
``tunnel_outfall``
    1 point near the downstream (north-east) corner: the lowest valid DEM cell of the row 8 cells
    inside the north edge, east of x = 382450 m and at least 8 cells inside the east edge, so it
    stays inside the grid when a scenario coarsens the DEM by up to 8.
``pond_outlet``
    1 point: the lowest cell of the largest patch of open ground in the upstream (south-west) part
    of the flow path (y < 6354410 m). Open ground is neither road nor building, and the patch keeps
    only cells whose 9 m × 9 m neighbourhood is all open ground, so a pond fits around the point.
    It is the open land between the main road and the south-east hill, south of gauge G2.

Run ``python gis_data/merewether/make_measures_storage.py``; the output is deterministic.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
from rasterio import features
from scipy import ndimage
from shapely.geometry import Point

HERE = Path(__file__).resolve().parent
CRS = "EPSG:28356"


def _filled(z: np.ndarray, walls: np.ndarray) -> np.ndarray:
    """Depression-filled DEM by priority-flood (Barnes, Lehman & Mulla 2014): water leaves over the
    grid edge; ``walls`` (buildings) and nodata cells neither hold nor pass water."""
    import heapq

    ny, nx = z.shape
    blocked = walls | ~np.isfinite(z)
    filled = np.where(blocked, np.nan, z).copy()
    done = blocked.copy()
    heap = []
    for i in range(ny):
        for j in range(nx):
            if (i in (0, ny - 1) or j in (0, nx - 1)) and not done[i, j]:
                heapq.heappush(heap, (filled[i, j], i, j))
                done[i, j] = True
    while heap:
        level, i, j = heapq.heappop(heap)
        for di, dj in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            a, b = i + di, j + dj
            if 0 <= a < ny and 0 <= b < nx and not done[a, b]:
                done[a, b] = True
                filled[a, b] = max(filled[a, b], level)
                heapq.heappush(heap, (filled[a, b], a, b))
    return np.where(np.isfinite(filled), filled, z)


def main(out: Path = HERE / "measures_storage.gpkg") -> dict:
    src = HERE / "merewether.gpkg"
    with rasterio.open(HERE / "dem.tif") as r:
        z = r.read(1).astype(np.float64)
        z[z == r.nodata] = np.nan
        transform = r.transform
    shape = z.shape
    ny, nx = shape
    xs = transform.c + transform.a * (np.arange(nx) + 0.5)
    ys = transform.f + transform.e * (np.arange(ny) + 0.5)
    X, Y = np.meshgrid(xs, ys)

    def burn(layer):
        gdf = gpd.read_file(src, layer=layer)
        return features.rasterize([(g, 1) for g in gdf.geometry], out_shape=shape, transform=transform,
                                  fill=0, all_touched=False, dtype="uint8").astype(bool)

    valid = np.isfinite(z)
    road, bldg, path = burn("roads"), burn("buildings"), burn("flow_path")
    gauges = gpd.read_file(src, layer="gauges")
    far_from_bldg = ndimage.distance_transform_edt(~bldg) * abs(transform.a) >= 2.0
    road_ok = road & valid & far_from_bldg

    def lowest_near(x, y, radius, mask):
        cand = mask & ((X - x) ** 2 + (Y - y) ** 2 <= radius ** 2)
        if not cand.any():
            raise RuntimeError(f"no candidate cell within {radius} m of ({x}, {y})")
        k = np.flatnonzero(cand)[np.argmin(z.ravel()[cand.ravel()])]
        i, j = divmod(int(k), nx)
        return float(xs[j]), float(ys[i]), float(z[i, j])

    def frame(rows):
        return gpd.GeoDataFrame(rows, geometry=[Point(r.pop("x"), r.pop("y")) for r in rows], crs=CRS)

    # tank inlets: gullies in the deepest road sags (depression depth), >= 10 m apart
    depression = _filled(z, bldg) - z
    tank = []
    for k in range(4):
        taken = np.zeros(shape, bool)
        for t in tank:
            taken |= (X - t["x"]) ** 2 + (Y - t["y"]) ** 2 < 10.0 ** 2
        cand = road_ok & path & ~taken
        c = np.flatnonzero(cand)[np.argmax(np.where(cand, depression, -np.inf).ravel()[cand.ravel()])]
        i, j = divmod(int(c), nx)
        tank.append(dict(name=f"tank inlet {k + 1}", bed_m=round(float(z[i, j]), 3), x=float(xs[j]), y=float(ys[i])))

    intakes = []
    for k, g in enumerate(gauges.sort_values("name").itertuples()):
        x, y, zb = lowest_near(g.geometry.x, g.geometry.y, 8.0, road_ok & path)
        intakes.append(dict(name=f"tunnel intake {k + 1}", capacity_m3_s=0.5, segment=k + 1,
                            bed_m=round(zb, 3), x=x, y=y))

    row = 8  # 8 cells inside the north edge: kept by coarsening up to 8 (nx = 321 loses its last column)
    cols = np.flatnonzero(valid[row] & (xs > 382450.0) & (np.arange(nx) < nx - 8))
    j = int(cols[np.argmin(z[row, cols])])
    outfall = [dict(name="tunnel outfall", bed_m=round(float(z[row, j]), 3), x=float(xs[j]), y=float(ys[row]))]

    open_ground = valid & ~road & ~bldg
    roomy = ndimage.binary_erosion(open_ground, structure=np.ones((9, 9), bool))
    labels, n = ndimage.label(roomy & path & (Y < 6354410.0))
    sizes = ndimage.sum(np.ones(shape), labels, index=np.arange(1, n + 1))
    patch = labels == 1 + int(np.argmax(sizes))
    k = np.flatnonzero(patch)[np.argmin(z.ravel()[patch.ravel()])]
    i, j = divmod(int(k), nx)
    pond = [dict(name="pond outlet", bed_m=round(float(z[i, j]), 3), x=float(xs[j]), y=float(ys[i]))]

    layers = {"tank_inlets": frame(tank), "tunnel_intakes": frame(intakes), "tunnel_outfall": frame(outfall),
              "pond_outlet": frame(pond)}
    if out.exists():
        out.unlink()
    for name, gdf in layers.items():
        gdf.to_file(out, layer=name, driver="GPKG", engine="pyogrio")
    return layers


if __name__ == "__main__":
    for name, gdf in main().items():
        print(name)
        for r in gdf.itertuples():
            print(f"  {r.name}: ({r.geometry.x:.2f}, {r.geometry.y:.2f}) bed {r.bed_m} m")
