"""Build the bundled Merewether dataset for floodsim from the ANUGA source files.

Reads the Merewether validation data (ANUGA ``validation_tests/case_studies/
merewether``; DEM by WRL/UNSW for ARR Project 15) from a source folder and
writes, next to this script:

``dem.tif``
    The 1 m DEM (``topography1.asc`` inside ``topography1.zip``) as a float32
    GeoTIFF, nodata -9999, EPSG:28356, DEFLATE, 256 x 256 tiles.  The grid
    transform is taken from the ASCII header (``xllcorner``/``yllcorner`` are
    the outer lower-left corner of the grid, not a cell centre).
``merewether.gpkg``
    Vector layers in EPSG:28356: ``buildings``, ``roads``, ``inflow_area``,
    ``extent``, ``flow_path`` and ``gauges``.
``topography1.lic``
    Copy of the source licence record.

Decisions (see PROVENANCE.md): ``houses/house032_033.csv`` is checked to be
exactly the union of ``house032`` and ``house033`` and is then left out;
the road polygon and the model extent are clipped to the DEM bounds; the
inflow circle and the gauges are added by us, not taken from the source.

Run ``python gis_data/merewether/make_data.py [--source DIR]``.  The output is
deterministic (same bytes on every run with the same library versions).

Parameters
----------
--source : str, optional
    Folder holding the source files.  Default
    ``../../../shared/data/merewether`` relative to this script.
--out : str, optional
    Output folder.  Default: the folder holding this script.
"""

from __future__ import annotations

import argparse
import io
import shutil
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import rasterio
import shapely
from rasterio.transform import from_origin
from shapely.geometry import Point, Polygon, box

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE / ".." / ".." / ".." / "shared" / "data" / "merewether"

CRS = "EPSG:28356"  # GDA94 / MGA zone 56 (source .prj: UTM 56, WGS84)
NODATA = -9999.0

# Published set-up (ARR Project 15 / ANUGA case study).
INFLOW_CENTRE = (382265.0, 6354280.0)
INFLOW_RADIUS = 10.0
INFLOW_Q = 19.7  # m3/s
ROAD_MANNING_N = 0.02

# Gauges chosen by us: on road surface, inside the flow-path polygon,
# from upstream (south-west) to downstream (north-east).
GAUGES = [
    ("G1 upstream", 382355.0, 6354342.0),
    ("G2 main road", 382420.0, 6354390.0),
    ("G3 side street", 382458.0, 6354480.0),
    ("G4 cross street", 382500.0, 6354535.0),
    ("G5 downstream", 382535.0, 6354600.0),
]

# Fixed timestamp GDAL writes into the GeoPackage, so that output is repeatable.
FIXED_DATE = "2012-01-01T00:00:00Z"


def read_xy(path: Path) -> np.ndarray:
    """Read an "x,y" vertex file (no header, CRLF or LF) as an (n, 2) array."""
    xy = np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64)
    if xy.shape[1] != 2 or len(xy) < 3:
        raise ValueError(f"{path}: expected >= 3 'x,y' lines, got shape {xy.shape}")
    return xy


def read_polygon(path: Path) -> Polygon:
    """Read a vertex file as a shapely Polygon (ring closed automatically)."""
    return Polygon(read_xy(path))


def fix(geom, label: str, repaired: list[str]):
    """Return a valid polygonal geometry; note ``label`` in ``repaired`` if changed."""
    if geom.is_valid:
        return geom
    repaired.append(label)
    fixed = shapely.make_valid(geom)
    if fixed.geom_type not in ("Polygon", "MultiPolygon"):
        fixed = fixed.buffer(0)
    return fixed


def read_ascii_grid(zip_path: Path, member: str = "topography1.asc"):
    """Read an ESRI ASCII grid from a zip file.

    Returns
    -------
    data : numpy.ndarray of float32, shape (nrows, ncols), row 0 = north
    transform : affine.Affine
    nodata : float
    """
    with zipfile.ZipFile(zip_path) as zf:
        text = zf.read(member).decode("ascii")
    lines = text.splitlines()
    header = {}
    for line in lines[:6]:
        key, value = line.split()
        header[key.lower()] = value
    ncols, nrows = int(header["ncols"]), int(header["nrows"])
    cell = float(header["cellsize"])
    nodata = float(header.get("nodata_value", NODATA))
    if "xllcorner" in header:  # outer corner of the lower-left cell
        xll, yll = float(header["xllcorner"]), float(header["yllcorner"])
    else:  # xllcenter: centre of the lower-left cell
        xll = float(header["xllcenter"]) - cell / 2
        yll = float(header["yllcenter"]) - cell / 2
    data = np.loadtxt(io.StringIO("\n".join(lines[6:])), dtype=np.float64)
    if data.shape != (nrows, ncols):
        raise ValueError(f"grid shape {data.shape} != header {(nrows, ncols)}")
    transform = from_origin(xll, yll + nrows * cell, cell, cell)
    return data.astype(np.float32), transform, nodata


def write_dem(source: Path, out: Path):
    """Convert topography1.asc to dem.tif; return (transform, shape, bounds box)."""
    data, transform, nodata = read_ascii_grid(source / "topography1.zip")
    data[data == nodata] = NODATA
    profile = dict(
        driver="GTiff", width=data.shape[1], height=data.shape[0], count=1,
        dtype="float32", crs=CRS, transform=transform, nodata=NODATA,
        compress="deflate", predictor=3, zlevel=9,
        tiled=True, blockxsize=256, blockysize=256,
    )
    path = out / "dem.tif"
    path.unlink(missing_ok=True)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
    ny, nx = data.shape
    x0, y1 = transform.c, transform.f
    bounds = box(x0, y1 + ny * transform.e, x0 + nx * transform.a, y1)
    n_nodata = int((data == NODATA).sum())
    print(f"dem.tif: {ny} x {nx}, nodata cells {n_nodata}")
    return bounds


def build_layers(source: Path, dem_box) -> dict[str, gpd.GeoDataFrame]:
    """Build all vector layers as GeoDataFrames in EPSG:28356."""
    repaired: list[str] = []

    # Buildings: one feature per houses/houseNNN.csv.
    house_files = sorted((source / "houses").glob("house*.csv"))
    houses = {p.stem: read_polygon(p) for p in house_files}
    merged = houses.pop("house032_033", None)
    if merged is not None:
        union = shapely.union(houses["house032"], houses["house033"])
        if not union.equals(merged):
            raise ValueError("house032_033 is not the union of house032 and house033")
        print("house032_033 == house032 U house033: left out as a duplicate")
    ids = sorted(houses)
    buildings = gpd.GeoDataFrame(
        {"building_id": ids, "use": ["residential"] * len(ids)},
        geometry=[fix(houses[i], i, repaired) for i in ids], crs=CRS,
    )

    # Roads: a single polygon of all road surfaces, clipped to the DEM.
    road = fix(read_polygon(source / "Road" / "RoadPolygon.csv"), "roads", repaired)
    road_clipped = road.intersection(dem_box)
    print(f"roads: area {road.area:.1f} m2, {road_clipped.area:.1f} m2 inside DEM")
    roads = gpd.GeoDataFrame(
        {"name": ["roads"], "manning_n": [ROAD_MANNING_N]},
        geometry=[road_clipped], crs=CRS,
    )

    inflow = gpd.GeoDataFrame(
        {"name": ["inflow"], "discharge_m3_s": [INFLOW_Q]},
        geometry=[Point(INFLOW_CENTRE).buffer(INFLOW_RADIUS, quad_segs=16)], crs=CRS,
    )

    ext = fix(read_polygon(source / "extent.csv"), "extent", repaired)
    extent = gpd.GeoDataFrame(
        {"name": ["extent"]}, geometry=[ext.intersection(dem_box)], crs=CRS
    )

    fp = fix(read_polygon(source / "merewether.csv"), "flow_path", repaired)
    flow_path = gpd.GeoDataFrame({"name": ["flow_path"]}, geometry=[fp], crs=CRS)

    gauges = gpd.GeoDataFrame(
        {"name": [g[0] for g in GAUGES]},
        geometry=[Point(x, y) for _, x, y in GAUGES], crs=CRS,
    )
    footprints = shapely.union_all(buildings.geometry.values)
    for name, pt in zip(gauges["name"], gauges.geometry):
        ok = (road_clipped.contains(pt) and fp.contains(pt)
              and footprints.distance(pt) > 1.0
              and road_clipped.boundary.distance(pt) > 1.0)
        if not ok:
            raise ValueError(f"gauge {name} is not on a road inside the flow path")

    print("geometries repaired:", ", ".join(repaired) if repaired else "none")
    return {
        "buildings": buildings, "roads": roads, "inflow_area": inflow,
        "extent": extent, "flow_path": flow_path, "gauges": gauges,
    }


def main(argv=None):
    """Parse arguments and write all outputs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args(argv)
    source, out = args.source.resolve(), args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    dem_box = write_dem(source, out)
    layers = build_layers(source, dem_box)

    gpkg = out / "merewether.gpkg"
    gpkg.unlink(missing_ok=True)
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": FIXED_DATE})
    for name, gdf in layers.items():
        gdf.to_file(gpkg, layer=name, driver="GPKG", engine="pyogrio")
        print(f"{name}: {len(gdf)} feature(s)")

    shutil.copyfile(source / "topography1.lic", out / "topography1.lic")


if __name__ == "__main__":
    main()
