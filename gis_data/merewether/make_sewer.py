"""Design the example Merewether storm sewer and write ``sewer.gpkg`` and ``sewer.inp`` next to this script.

There is no public sewer network for Merewether: this one is **designed, not surveyed**, by a fixed rule
from ``merewether.gpkg`` (``roads``, ``buildings``) and ``dem.tif`` (EPSG:28356), so floodsim has a
dual-drainage example. The rule:

1. **Manholes** under the roads: road cells at least 3 m from any building, 3 m inside the road
   (near its centre line) and 8 cells inside the DEM's edges (so coarsened grids up to 8 keep them), taken greedily in (y, x) order when at least 28 m from every manhole already
   taken. Each is an inlet (a gully grate: open area 0.1 m², perimeter 1.2 m).
2. **Outfall** to the north-east: the lowest such road cell (ignoring the 3 m inside the road) within 40 m of the north-east corner of the roads,
   at least 8 cells inside the DEM's north and east edges (it stays inside the grid when a scenario
   coarsens the DEM by up to 8). Free outfall; the scenario sends its water out of the model.
3. **Layout**: a minimum spanning tree over the manholes and the outfall; two nodes may be joined when
   the shortest path between them over road cells (8-neighbour, roads widened by 2 m for the kerbs) is
   at most 60 m; that path is the pipe's line and length; pipes drain towards the outfall along the tree (rooted at the outfall).
4. **Rational method** for a **2-year storm** (Q = C i A): every DEM cell drains to its nearest manhole;
   C = 0.9 on roads and roofs, 0.35 elsewhere; i from the bundled IDF curve
   (``gis_data/idf/dahlstrom2010_sherman.toml``, T = 2 years) at the time of concentration (5 min inlet
   time plus the travel time along the pipes at 1.5 m/s); A and C accumulate downstream.
5. **Sizing**: the smallest standard diameter (0.300 … 1.500 m) whose Manning full-pipe flow (n = 0.013)
   carries the design flow at the pipe's slope, and never smaller than a pipe upstream of it; slopes
   follow the ground, at least 0.5 %.
6. **Depths**: cover of at least 1.2 m over the pipe crown; a pipe leaves its upstream node at the
   node's invert and falls at its slope; the downstream node's invert is the lowest of its incoming
   pipes' ends and its own cover depth (a pipe ending higher enters with an offset); the rim is the DEM
   ground at the node.

Writes ``sewer.gpkg`` (layers ``junctions``, ``outfalls``, ``conduits``: see floodsim.sewer.network) and
``sewer.inp`` (the same network in SWMM's format, written by floodsim from the layers with swmm-api).

Tunnel
------
Also the SWMM version of the lumped storm tunnel of ``scenarios/merewether_tunnel.toml``
(``tunnel.gpkg``, ``tunnel.inp``): the five intakes of ``measures_storage.gpkg`` (``tunnel_intakes``,
G1..G5) become shafts (storage units of 12.6 m² plan area, rim at the ground, each an inlet of 1 m²
open area, 4 m perimeter and the intake's capacity 0.5 m³/s); the tunnel is four circular conduits
between them (n = 0.015) whose diameter gives the lumped tunnel's 3,000 m³ over its length, its invert
12 m below the first intake's ground, falling 0.2 %; a pump station at the last shaft lifts 0.4 m³/s
(the lumped outfall capacity) to the river (``tunnel_outfall`` point; fixed stage 15.0 m, flap gate),
switched by two SWMM control rules (``controls``): on above 0.5 m in the last shaft, off below 0.2 m.
Run ``python gis_data/merewether/make_sewer.py``; the output is deterministic.
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
from rasterio.features import rasterize
from scipy import ndimage
from scipy.sparse import lil_matrix
from scipy.sparse.csgraph import breadth_first_order, minimum_spanning_tree
from scipy.spatial import cKDTree
from shapely.geometry import LineString, Point

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SPACING_M, MAX_EDGE_M = 28.0, 60.0
COVER_M, MIN_SLOPE, N_PIPE = 1.2, 0.005, 0.013
C_SEALED, C_OPEN, INLET_MIN, SPEED = 0.9, 0.35, 5.0, 1.5
TUNNEL_VOLUME_M3, TUNNEL_DEPTH_M, TUNNEL_SLOPE, SHAFT_AREA_M2 = 3000.0, 12.0, 0.002, 12.6
PUMP_M3_S, RIVER_LEVEL_M = 0.4, 15.0
DIAMETERS = (0.300, 0.375, 0.450, 0.525, 0.600, 0.675, 0.750, 0.900, 1.050, 1.200, 1.350, 1.500)


def full_flow(d: float, slope: float) -> float:
    """Manning full-pipe flow of a circular pipe [m³/s]: Q = (1/n) A R^(2/3) S^(1/2)."""
    area = math.pi * d * d / 4.0
    return area * (d / 4.0) ** (2.0 / 3.0) * math.sqrt(slope) / N_PIPE


def main() -> None:
    import sys

    sys.path.insert(0, str(ROOT))
    from floodsim.build.storms import IDFCurve

    with rasterio.open(HERE / "dem.tif") as src:
        z = src.read(1, masked=True).filled(np.nan).astype(np.float64)
        transform, crs = src.transform, src.crs
    ny, nx = z.shape
    roads = gpd.read_file(HERE / "merewether.gpkg", layer="roads").to_crs(crs)
    buildings = gpd.read_file(HERE / "merewether.gpkg", layer="buildings").to_crs(crs)
    road = rasterize(roads.geometry, (ny, nx), transform=transform, all_touched=False).astype(bool)
    roof = rasterize(buildings.geometry, (ny, nx), transform=transform, all_touched=True).astype(bool)
    far = ndimage.distance_transform_edt(~roof) >= 3.0
    ok = road & far & np.isfinite(z)
    ii, jj = np.nonzero(ok)
    xs = transform.c + (jj + 0.5) * transform.a
    ys = transform.f + (ii + 0.5) * transform.e

    # 2. the outfall: lowest road cell near the north-east corner, 8 cells inside the edges
    rb = roads.total_bounds
    inner = (ii >= 8) & (jj <= nx - 9)
    near = inner & (np.hypot(xs - rb[2], ys - rb[3]) <= 40.0)
    k_out = int(np.flatnonzero(near)[np.argmin(z[ii[near], jj[near]])])

    # 1. manholes along the roads: greedy even spacing over road cells near the road's centre line
    inside_road = ndimage.distance_transform_edt(road)[ii, jj]
    central = np.flatnonzero(inside_road >= min(3.0, float(np.percentile(inside_road, 60))))
    edge_ok = (ii[central] >= 8) & (ii[central] <= ny - 9) & (jj[central] >= 8) & (jj[central] <= nx - 9)
    central = central[edge_ok]   # inside the grid when a scenario coarsens the DEM by up to 8
    central = central[np.lexsort((xs[central], ys[central]))]
    picks = []
    for k in central:
        if k == k_out or np.hypot(xs[k] - xs[k_out], ys[k] - ys[k_out]) < SPACING_M:
            continue
        if all(np.hypot(xs[k] - xs[m], ys[k] - ys[m]) >= SPACING_M for m in picks):
            picks.append(int(k))
    cells = [k_out] + picks
    P = np.c_[xs[cells], ys[cells]]
    G = z[ii[cells], jj[cells]]
    n = len(cells)

    # 3. layout: minimum spanning tree of the paths along the roads between manholes
    road_wide = ndimage.binary_dilation(road, iterations=2) & np.isfinite(z)   # a pipe may run under the kerb
    flat = np.flatnonzero(road_wide.ravel())
    where = -np.ones(ny * nx, np.int64)
    where[flat] = np.arange(flat.size)
    rows, cols, wts = [], [], []
    fi, fj = flat // nx, flat % nx
    for di, dj in ((0, 1), (1, 0), (1, 1), (1, -1)):
        ti, tj = fi + di, fj + dj
        okn = (ti < ny) & (tj >= 0) & (tj < nx)
        tgt = where[np.where(okn, ti * nx + np.clip(tj, 0, nx - 1), 0)]
        okn &= tgt >= 0
        rows.append(np.flatnonzero(okn))
        cols.append(tgt[okn])
        wts.append(np.full(int(okn.sum()), math.hypot(di, dj) * abs(transform.a)))
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import dijkstra

    graph = coo_matrix((np.concatenate(wts), (np.concatenate(rows), np.concatenate(cols))),
                       shape=(flat.size, flat.size)).tocsr()
    node_flat = where[ii[cells] * nx + jj[cells]]
    dist, prev = dijkstra(graph, directed=False, indices=node_flat, limit=MAX_EDGE_M * 1.01,
                          return_predecessors=True)
    W = lil_matrix((n, n))
    for a in range(n):
        for b in range(a + 1, n):
            d = dist[a, node_flat[b]]
            if np.isfinite(d) and d <= MAX_EDGE_M:
                W[a, b] = d + 1e-6 * (a + b)   # ties broken by index: deterministic

    def path(a, b):
        """Map points of the road path from node a to node b."""
        pts, c = [], node_flat[b]
        while c != node_flat[a] and c >= 0:
            pts.append(c)
            c = prev[a, c]
        pts.append(node_flat[a])
        cells_ = flat[np.array(pts[::-1])]
        return np.c_[transform.c + (cells_ % nx + 0.5) * transform.a, transform.f + (cells_ // nx + 0.5) * transform.e]

    mst = minimum_spanning_tree(W.tocsr())
    sym = mst + mst.T
    order, pred = breadth_first_order(sym, 0, directed=False, return_predecessors=True)
    reach = set(order.tolist())
    if len(reach) < n:
        print(f"{n - len(reach)} manhole(s) not reachable along the roads from the outfall: left out")
    keep = [k for k in range(n) if k in reach]
    # 4./5./6. design from the leaves down
    down = {k: int(pred[k]) for k in keep if k != 0}
    length = {k: float(dist[k, node_flat[down[k]]]) for k in down}
    # catchments: every valid cell drains to its nearest manhole
    vi, vj = np.nonzero(np.isfinite(z))
    cx = transform.c + (vj + 0.5) * transform.a
    cy = transform.f + (vi + 0.5) * transform.e
    sealed = road[vi, vj] | roof[vi, vj]
    _, owner = cKDTree(P[keep]).query(np.c_[cx, cy])
    cell_area = abs(transform.a * transform.e)
    area = np.zeros(n)
    ca = np.zeros(n)
    np.add.at(area, np.asarray(keep)[owner], cell_area)
    np.add.at(ca, np.asarray(keep)[owner], np.where(sealed, C_SEALED, C_OPEN) * cell_area)
    up_order = list(reversed(order.tolist()))   # leaves first
    acc_ca, tc = ca.copy(), np.full(n, INLET_MIN)
    for k in up_order:
        if k in down:
            d = down[k]
            acc_ca[d] += acc_ca[k]
            tc[d] = max(tc[d], tc[k] + length[k] / SPEED / 60.0)
    idf = IDFCurve.from_file(ROOT / "gis_data" / "idf" / "dahlstrom2010_sherman.toml")
    invert = {k: G[k] - COVER_M - DIAMETERS[0] for k in keep}
    diam, q_design, slopes = {}, {}, {}
    for k in up_order:
        if k not in down:
            continue
        d = down[k]
        i_mm_h = float(idf.intensity_mm_h(tc[k], 2.0))
        q = acc_ca[k] * i_mm_h / 1000.0 / 3600.0
        slope = max((G[k] - G[d]) / length[k], MIN_SLOPE)
        size = next((D for D in DIAMETERS if full_flow(D, slope) >= q), DIAMETERS[-1])
        size = max([size] + [diam[u] for u in down if down[u] == k])   # never smaller than upstream
        diam[k], q_design[k], slopes[k] = size, q, slope
        invert[k] = min(invert[k], G[k] - COVER_M - size)
        invert[d] = min(invert[d], invert[k] - slope * length[k], G[d] - COVER_M - size)
    names = {k: ("OF1" if k == 0 else f"MH{m:02d}") for m, k in enumerate(keep)}
    jun = [dict(name=names[k], invert_m=round(invert[k], 3), rim_m=round(float(G[k]), 3), inlet=1,
                inlet_area_m2=0.1, inlet_length_m=1.2, inlet_capacity_m3_s=None, geometry=Point(P[k]))
           for k in keep if k != 0]
    out = [dict(name="OF1", invert_m=round(invert[0], 3), stage="free", stage_m=None, flap_gate=0,
                geometry=Point(P[0]))]
    pipes = []
    for m, k in enumerate(sorted(down, key=lambda k: names[k])):
        d = down[k]
        pipes.append(dict(name=f"P{m + 1:02d}", from_node=names[k], to_node=names[d], shape="circular",
                          height_m=diam[k], width_m=None, length_m=round(length[k], 2), manning_n=N_PIPE,
                          from_offset_m=0.0,
                          to_offset_m=round(max(invert[k] - slopes[k] * length[k] - invert[d], 0.0), 3),
                          design_flow_m3_s=round(q_design[k], 4), geometry=LineString(simplify(path(k, d)))))
    gpkg = HERE / "sewer.gpkg"
    if gpkg.exists():
        gpkg.unlink()
    gpd.GeoDataFrame(jun, crs=crs).to_file(gpkg, layer="junctions", driver="GPKG")
    gpd.GeoDataFrame(out, crs=crs).to_file(gpkg, layer="outfalls", driver="GPKG")
    gpd.GeoDataFrame(pipes, crs=crs).to_file(gpkg, layer="conduits", driver="GPKG")

    from floodsim.sewer.network import read_layers

    net = read_layers(gpkg)
    opts = net.inp["OPTIONS"]
    opts.update({"START_DATE": "01/01/2000", "START_TIME": "00:00:00", "END_DATE": "01/01/2000",
                 "END_TIME": "02:00:00", "ROUTING_STEP": "1", "REPORT_STEP": "00:05:00"})
    net.write_inp(HERE / "sewer.inp")
    print(f"{len(jun)} manholes, {len(pipes)} pipes, outfall at ({P[0, 0]:.1f}, {P[0, 1]:.1f}) invert "
          f"{invert[0]:.2f} m; design flow at the outfall {max(q_design.values()):.3f} m³/s")


def simplify(points: np.ndarray) -> list:
    """The path's end points and its turning points (cell-centre staircase removed)."""
    line = LineString(points).simplify(1.5)
    return list(line.coords)


def make_tunnel() -> None:
    """The SWMM version of the storm tunnel of ``merewether_tunnel.toml`` (module docstring, "Tunnel")."""
    import pandas as pd
    import pyogrio

    from floodsim.sewer.network import read_layers

    intakes = gpd.read_file(HERE / "measures_storage.gpkg", layer="tunnel_intakes").sort_values("segment")
    outfall = gpd.read_file(HERE / "measures_storage.gpkg", layer="tunnel_outfall")
    crs = intakes.crs
    pts = [(float(g.x), float(g.y)) for g in intakes.geometry]
    ground = [float(v) for v in intakes["bed_m"]]
    seg = [float(np.hypot(pts[k + 1][0] - pts[k][0], pts[k + 1][1] - pts[k][1])) for k in range(len(pts) - 1)]
    diameter = round(math.sqrt(4.0 * TUNNEL_VOLUME_M3 / (math.pi * sum(seg))), 2)
    invert = [ground[0] - TUNNEL_DEPTH_M]
    for length in seg:
        invert.append(invert[-1] - TUNNEL_SLOPE * length)
    names = [f"SH{k + 1}" for k in range(len(pts))]
    shafts = [dict(name=n, invert_m=round(inv, 3), rim_m=round(g, 3), area_m2=SHAFT_AREA_M2, inlet=1,
                   inlet_area_m2=1.0, inlet_length_m=4.0, inlet_capacity_m3_s=float(cap), geometry=Point(p))
              for n, inv, g, cap, p in zip(names, invert, ground, intakes["capacity_m3_s"], pts)]
    conduits = [dict(name=f"T{k + 1}", from_node=names[k], to_node=names[k + 1], shape="circular", height_m=diameter,
                     width_m=None, length_m=round(seg[k], 2), manning_n=0.015, from_offset_m=0.0, to_offset_m=0.0,
                     geometry=LineString([pts[k], pts[k + 1]])) for k in range(len(seg))]
    out_xy = (float(outfall.geometry.iloc[0].x), float(outfall.geometry.iloc[0].y))
    outfalls = [dict(name="RIVER", invert_m=RIVER_LEVEL_M, stage="fixed", stage_m=RIVER_LEVEL_M, flap_gate=1,
                     geometry=Point(out_xy))]
    pumps = [dict(name="PS1", from_node=names[-1], to_node="RIVER", capacity_m3_s=PUMP_M3_S, on_depth_m=0.0,
                  off_depth_m=0.0, geometry=LineString([pts[-1], out_xy]))]
    rules = [f"RULE PUMP_ON\nIF NODE {names[-1]} DEPTH > 0.5\nTHEN PUMP PS1 STATUS = ON\nPRIORITY 1",
             f"RULE PUMP_OFF\nIF NODE {names[-1]} DEPTH < 0.2\nTHEN PUMP PS1 STATUS = OFF\nPRIORITY 2"]
    gpkg = HERE / "tunnel.gpkg"
    if gpkg.exists():
        gpkg.unlink()
    gpd.GeoDataFrame(shafts, crs=crs).to_file(gpkg, layer="storage", driver="GPKG")
    gpd.GeoDataFrame(conduits, crs=crs).to_file(gpkg, layer="conduits", driver="GPKG")
    gpd.GeoDataFrame(outfalls, crs=crs).to_file(gpkg, layer="outfalls", driver="GPKG")
    gpd.GeoDataFrame(pumps, crs=crs).to_file(gpkg, layer="pumps", driver="GPKG")
    pyogrio.write_dataframe(pd.DataFrame({"rule": rules}), gpkg, layer="controls", driver="GPKG")
    net = read_layers(gpkg)
    net.write_inp(HERE / "tunnel.inp")
    volume = sum(math.pi * diameter ** 2 / 4.0 * length for length in seg)
    print(f"tunnel: {len(shafts)} shafts, {sum(seg):.1f} m of {diameter:.2f} m tunnel ({volume:,.0f} m³), pump "
          f"{PUMP_M3_S} m³/s to the river at {RIVER_LEVEL_M} m")


if __name__ == "__main__":
    main()
    make_tunnel()
