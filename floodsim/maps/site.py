"""``floodsim publish``: a static flood-risk site folder that any web server can host.

:func:`load_inputs` reads and checks everything a site shows before anything is written (run folders,
one grid and CRS, the compare and sweep folders, the address layer, the base map); :func:`build_site`
makes the :class:`~floodsim.maps.sitedata.Site` the page builders draw; :func:`write_site` writes the
folder:

===========================  ==========================================================================
``index.html``               the resident page (:func:`floodsim.maps.resident.resident_page`)
``planner.html``             the planner page (:func:`floodsim.maps.planner.planner_page`)
``assets/``                  the JS/CSS the two pages load, from the npm asset cache (only those used)
``tiles/``                   raster tile pyramids (:mod:`floodsim.maps.tiles`), only those a page shows
``basemap/``                 the user's XYZ tiles (a folder copied, or an MBTiles file unpacked), clipped
                             to the area of the runs
``downloads/``               per run (``run-1/`` …) ``max_depth.tif``, ``hazard_class.tif`` (COGs),
                             ``flood.gpkg``, ``summary.csv``; ``compare/`` and ``likelihood/`` the
                             comparison and the sweep's likelihood products
``report/<slug>.html``       a one-page report per address (per building without an address layer)
``site.json``                what was published: inputs, texts, versions, tile counts and sizes
===========================  ==========================================================================

**Atomic.** The site is written into a temporary sibling folder (``<out>.floodsim-tmp-<host>-<pid>``)
that replaces ``<out>`` in one step when everything is written (:func:`floodsim.io.atomic.replace_dir`),
so a failure leaves the former site (or nothing). ``<out>`` must be new, empty or a floodsim site (it
holds ``site.json`` written by floodsim): any other folder is refused.

**Texts.** :func:`fill_texts` fills the ``[publish]`` defaults: the event from the runs' rain (depth
[mm] over the model area and the minutes it fell in, from ``results.nc``) or, with a sweep, its design
storms in words (:func:`floodsim.analysis.risk.describe_storm`, the sweep's ``storm`` column); a single
run is labelled "a single modelled event"; the date is today; the model version is floodsim's.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import os
import re
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputDataError, OutputError, ScenarioError
from ..io import runfolder as rf
from ..io.atomic import fsync_tree, replace_dir, tree_size
from ..scenario.site import PublishTexts, SiteSpec
from .about import ReportEntry, ScenarioRow, fmt_size, report_html
from .safe import file_json
from .sitedata import BaseMap, Comparison, Download, Likelihood, Site

log = logging.getLogger("floodsim")

#: The file that marks a folder as a floodsim site (a new publish may replace it).
SITE_JSON = "site.json"
GENERATOR = "floodsim publish"
ASSETS_DIR = "assets"
#: Extensions accepted for a user's raster base tiles.
TILE_EXTS = ("png", "jpg", "jpeg", "webp")
#: Margin kept around the runs' area when base tiles are clipped to it (fraction of its size per side).
BASEMAP_MARGIN = 0.5
#: Run files offered for download: file name -> description.
RUN_DOWNLOADS = {
    rf.MAXIMA_TIFS["max_depth"]: "maximum depth [m], Cloud-Optimised GeoTIFF",
    rf.HAZARD_CLASS_TIF: "hazard class 0–4 (UK FD2321), Cloud-Optimised GeoTIFF",
    rf.FLOOD_GPKG: "flood extent, buildings with depth and hazard, measures (GeoPackage)",
    rf.SUMMARY_CSV: "the run's numbers, one a row (CSV)",
}


# ----------------------------------------------------------------------------------------- inputs
@dataclass
class SiteInputs:
    """Everything read and checked before writing (see :func:`load_inputs`)."""

    spec: SiteSpec
    where: str                              # the site file (or "publish") for messages
    runs: list = field(default_factory=list)
    labels: list = field(default_factory=list)
    comparison: Comparison | None = None
    compare_files: dict = field(default_factory=dict)      # download name -> source path
    likelihood: Likelihood | None = None
    sweep_files: dict = field(default_factory=dict)
    addresses: object = None
    base: BaseMap = field(default_factory=BaseMap)
    base_tiles: object = None               # ("xyz", folder, {(z,x,y): path}, ext) or ("mbtiles", path, rows, ext)
    out: Path | None = None


def _err(where: str, fld: str, msg: str) -> ScenarioError:
    return ScenarioError(f"{where}: {fld}: {msg}")


def spec_from_runs(run_dirs, out=None) -> SiteSpec:
    """A :class:`SiteSpec` with defaults for run folders given on the command line (no site file)."""
    if not run_dirs:
        raise ScenarioError("publish: give a site file (SITE.toml) or at least one run folder.")
    data = {"runs": [{"path": str(Path(p).resolve())} for p in run_dirs]}
    if out is not None:
        data["out"] = str(Path(out).resolve())
    from pydantic import ValidationError

    try:
        return SiteSpec.model_validate(data, context={"base_dir": Path.cwd()})
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        raise ScenarioError(f"publish: {loc}: {first['msg']}") from None


def _same_grid(a, b) -> str | None:
    """Why runs ``a`` and ``b`` are not on one grid (None when they are)."""
    sa, sb = a.ds["max_depth"].shape, b.ds["max_depth"].shape
    if sa != sb:
        return f"grid {sb[1]}×{sb[0]} cells, not {sa[1]}×{sa[0]}"
    if not np.allclose(tuple(a.transform)[:6], tuple(b.transform)[:6], rtol=0, atol=1e-6 * max(1.0, abs(a.transform.a))):
        return "another cell size or origin"
    if a.crs is None or b.crs is None or not a.crs == b.crs:
        return f"CRS {b.crs}, not {a.crs}"
    return None


def _read_grid_raster(path: Path, like, where: str, fld: str):
    """A single-band raster on the runs' grid as an xarray DataArray (nodata → NaN)."""
    import rioxarray

    try:
        da = rioxarray.open_rasterio(path, masked=True).squeeze("band", drop=True).load()
    except Exception as exc:  # noqa: BLE001 - rasterio raises several types for a bad file
        raise _err(where, fld, f"{path} cannot be read ({str(exc).splitlines()[0][:160]}); "
                               "write it again with floodsim.") from None
    ref = like.ds["max_depth"]
    if da.shape != ref.shape or da.rio.crs is None or not da.rio.crs == like.crs or not np.allclose(
            tuple(da.rio.transform())[:6], tuple(like.transform)[:6], atol=1e-6 * max(1.0, abs(like.transform.a))):
        raise _err(where, fld, f"{path.name} is on another grid than the runs ({da.shape[1]}×{da.shape[0]} "
                               f"cells, CRS {da.rio.crs}); make it from runs of the same domain and grid "
                               "(the same scenarios and simulation.coarsen).")
    return da


def _run_labels_compare(paths) -> list[str]:
    out, seen = [], set()
    for k, p in enumerate(paths):
        label = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(p).resolve().name) or f"run{k}"
        if label in seen:
            label = f"{label}_{k}"
        seen.add(label)
        out.append(label)
    return out


def _load_compare(inp: SiteInputs, folder: Path) -> None:
    import geopandas as gpd
    import pandas as pd

    where = inp.where
    if not folder.is_dir():
        raise _err(where, "compare", f"{folder} is not a folder; give the --out folder of `floodsim compare "
                                     "RUN_A RUN_B --out FOLDER`, or remove the key.")
    csv = folder / rf.COMPARISON_CSV
    if not csv.is_file():
        raise _err(where, "compare", f"{folder} has no {rf.COMPARISON_CSV}: not a `floodsim compare` folder; "
                                     "run `floodsim compare RUN_A RUN_B --out FOLDER` first.")
    try:
        cols = list(pd.read_csv(csv, nrows=0).columns)
    except Exception:  # noqa: BLE001
        raise _err(where, "compare", f"{csv} cannot be read as CSV; run `floodsim compare` again.") from None
    labels = [c for c in cols if c not in ("metric", "unit") and " − " not in c]
    site_labels = _run_labels_compare([r.path for r in inp.runs])
    if len(labels) < 2 or labels[0] not in site_labels:
        raise _err(where, "compare", f"{folder} compares {', '.join(labels) or 'no runs'}, and its first "
                                     f"run is none of the site's runs ({', '.join(site_labels)}); compare "
                                     "the site's runs (`floodsim compare RUN_A RUN_B --out FOLDER`).")
    ia = site_labels.index(labels[0])
    ib = next((site_labels.index(lb) for lb in labels[1:] if lb in site_labels), None)
    if ib is None:
        raise _err(where, "compare", f"{folder} compares {', '.join(labels)}, not two of the site's runs "
                                     f"({', '.join(site_labels)}); compare the site's runs.")
    suffix = "" if len(labels) == 2 else f"_{site_labels[ib]}"
    tif = folder / rf.difference_file("max_depth", suffix)
    if not tif.is_file():
        raise _err(where, "compare", f"{folder} has no {tif.name}; run `floodsim compare` again.")
    diff = _read_grid_raster(tif, inp.runs[0], where, "compare")
    changed = None
    gpkg = folder / rf.CHANGED_BUILDINGS_GPKG
    if gpkg.is_file():
        try:
            changed = gpd.read_file(gpkg, layer=rf.LAYER_CHANGED_BUILDINGS)
        except Exception as exc:  # noqa: BLE001
            raise _err(where, "compare", f"{gpkg} cannot be read ({str(exc).splitlines()[0][:160]}); run "
                                         "`floodsim compare` again.") from None
        if "run_b" in changed.columns:
            changed = changed[changed["run_b"].astype(str) == site_labels[ib]]
        if changed.crs is not None and inp.runs[0].crs is not None and not changed.crs.equals(inp.runs[0].crs):
            changed = changed.to_crs(inp.runs[0].crs)
        inp.compare_files[rf.CHANGED_BUILDINGS_GPKG] = gpkg
    inp.comparison = Comparison(index_a=ia, index_b=ib, depth_diff=diff, changed_buildings=changed)
    inp.compare_files[rf.COMPARISON_CSV] = csv
    inp.compare_files[tif.name] = tif


_LIKELIHOOD_TAG = re.compile(r"\((.*)\): 0 not flooded", re.DOTALL)


def _sweep_designs(folder: Path) -> dict:
    """Design name -> (likelihood GeoTIFF, risk GeoPackage or None) of a sweep folder. The design's real
    name is read from the files (the GeoPackage's ``design`` column, else the GeoTIFF's ``long_name``), as
    :mod:`floodsim.sweep.risk` writes it, not guessed from the file name."""
    import pyogrio
    import rasterio

    found = {}
    for tif in sorted(folder.glob("likelihood_*.tif")):
        part = tif.stem[len("likelihood_"):]
        gpkg = folder / f"risk_{part}.gpkg"
        design = None
        if gpkg.is_file():
            try:
                layer = pyogrio.list_layers(gpkg)[0][0]
                df = pyogrio.read_dataframe(gpkg, layer=layer, columns=["design"], read_geometry=False,
                                            max_features=1)
                design = str(df["design"].iloc[0]) if len(df) else None
            except Exception:  # noqa: BLE001 - an unreadable GeoPackage is reported when it is read
                design = None
        if design is None:
            try:
                with rasterio.open(tif) as src:
                    m = _LIKELIHOOD_TAG.search(src.tags().get("long_name", "") or src.tags(1).get("long_name", ""))
                design = m.group(1) if m else part
            except Exception:  # noqa: BLE001
                design = part
        found[design] = (tif, gpkg if gpkg.is_file() else None)
    return found


def _load_sweep(inp: SiteInputs, folder: Path, design: str | None) -> None:
    import geopandas as gpd
    import pandas as pd
    import pyogrio

    from ..analysis import risk

    where = inp.where
    csv = folder / rf.SWEEP_CSV
    if not folder.is_dir() or not csv.is_file():
        raise _err(where, "sweep", f"{folder} is not a finished sweep folder (no {rf.SWEEP_CSV}); give the "
                                   "--out folder of `floodsim sweep SWEEP.toml --out FOLDER`.")
    try:
        table = pd.read_csv(csv, keep_default_na=False)
    except Exception:  # noqa: BLE001
        raise _err(where, "sweep", f"{csv} cannot be read as CSV; run the sweep again.") from None
    if "design" not in table.columns:
        raise _err(where, "sweep", f"{csv} has no design column; run the sweep again with this floodsim.")
    designs = list(dict.fromkeys(table["design"].astype(str)))
    files = _sweep_designs(folder)
    if design is not None and design not in designs:
        raise _err(where, "design", f"the sweep {folder} has no design {design!r}; use one of "
                                    f"{', '.join(repr(d) for d in designs)}.")
    chosen = design if design is not None else next((d for d in designs if d in files), None)
    if chosen is None or chosen not in files:
        raise _err(where, "sweep", f"{folder} has no likelihood products"
                                   f"{f' for design {chosen!r}' if chosen is not None else ''} (likelihood_*.tif: "
                                   "the members must vary rainfall.return_period_yr); use a return-period "
                                   "sweep such as scenarios/sweeps/return_periods.toml.")
    tif, gpkg = files[chosen]
    bands = _read_grid_raster(tif, inp.runs[0], where, "sweep")
    rows = table[table["design"].astype(str) == chosen]
    rp_cols = [c for c in table.columns if c.startswith("param ") and c.endswith("return_period_yr")]
    periods = []
    if rp_cols:
        periods = sorted({float(v) for v in pd.to_numeric(rows[rp_cols[0]], errors="coerce") if np.isfinite(v)})
    storms = {}
    if "storm" in rows.columns:
        for _, r in rows.iterrows():
            if str(r["storm"]).strip():
                storms[str(r["label"] if "label" in rows.columns else r["member"])] = str(r["storm"])
    buildings = None
    if gpkg is not None:
        try:
            buildings = gpd.read_file(gpkg, layer=pyogrio.list_layers(gpkg)[0][0])
        except Exception as exc:  # noqa: BLE001
            raise _err(where, "sweep", f"{gpkg} cannot be read ({str(exc).splitlines()[0][:160]}); run the "
                                       "sweep again.") from None
        inp.sweep_files[gpkg.name] = gpkg
    inp.sweep_files[tif.name] = tif
    codes = np.where(np.isnan(bands.values), risk.BAND_NODATA, bands.values).astype(np.int8)
    inp.likelihood = Likelihood(design=chosen, bands=bands.copy(data=codes), buildings=buildings,
                                return_periods_yr=periods, storms=storms)


def _read_layer(ref, where: str, fld: str, need_field: str | None, crs):
    import geopandas as gpd

    path = Path(ref.path)
    if not path.exists():
        raise _err(where, f"{fld}.path", f"{path} not found; give an existing vector file (GeoPackage, "
                                         "shapefile, GeoJSON).")
    try:
        gdf = gpd.read_file(path, layer=ref.layer) if ref.layer else gpd.read_file(path)
    except Exception as exc:  # noqa: BLE001 - pyogrio raises several types
        raise _err(where, f"{fld}.layer" if ref.layer else f"{fld}.path",
                   f"{path} cannot be read{f' (layer {ref.layer!r})' if ref.layer else ''}: "
                   f"{str(exc).splitlines()[0][:160]}; check the file and the layer name.") from None
    if gdf.crs is None:
        raise _err(where, f"{fld}.path", f"{path} has no CRS; set it (e.g. in QGIS) so it can be placed on "
                                         "the map.")
    if need_field is not None and need_field not in gdf.columns:
        cols = [c for c in gdf.columns if c != "geometry"]
        raise _err(where, f"{fld}.{'field' if fld == 'addresses' else 'name_field'}",
                   f"{path} has no field {need_field!r} (it has {', '.join(cols[:8]) or 'none'}); name one "
                   "of its fields.")
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    if crs is not None and not gdf.crs.equals(crs):
        gdf = gdf.to_crs(crs)
    return gdf


def _area_bounds_lonlat(run) -> tuple[float, float, float, float]:
    from rasterio.warp import transform_bounds

    ny, nx = run.ds["max_depth"].shape
    t = run.transform
    x0, y0 = t @ (0, 0)
    x1, y1 = t @ (nx, ny)
    return transform_bounds(run.crs, "EPSG:4326", min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def _lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[float, float]:
    n = 2 ** z
    lat = max(min(lat, 85.0511), -85.0511)
    x = (lon + 180.0) / 360.0 * n
    y = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n
    return x, y


def _tile_window(box, z: int) -> tuple[int, int, int, int]:
    """Inclusive tile range at ``z`` of lon/lat ``box`` (w, s, e, n) widened by :data:`BASEMAP_MARGIN`."""
    w, s, e, n = box
    dw, dh = (e - w) * BASEMAP_MARGIN, (n - s) * BASEMAP_MARGIN
    xa, ya = _lonlat_to_tile(w - dw, n + dh, z)
    xb, yb = _lonlat_to_tile(e + dw, s - dh, z)
    return int(math.floor(xa)), int(math.floor(ya)), int(math.floor(xb)), int(math.floor(yb))


def _scan_xyz(folder: Path, where: str, box):
    tiles, exts = {}, set()
    for zdir in folder.iterdir():
        if not (zdir.is_dir() and zdir.name.isdigit()):
            continue
        z = int(zdir.name)
        if z > 24:
            continue
        x0, y0, x1, y1 = _tile_window(box, z)
        for xdir in zdir.iterdir():
            if not (xdir.is_dir() and xdir.name.isdigit()) or not x0 <= int(xdir.name) <= x1:
                continue
            for f in xdir.iterdir():
                stem, _, ext = f.name.partition(".")
                if f.is_file() and stem.isdigit() and ext.lower() in TILE_EXTS and y0 <= int(stem) <= y1:
                    tiles[(z, int(xdir.name), int(stem))] = f
                    exts.add(ext.lower())
    if not tiles:
        raise _err(where, "base.tiles", f"{folder} holds no tiles over the runs' area (expected "
                                        "{z}/{x}/{y}.png, .jpg or .webp files in XYZ order covering it); give "
                                        "the folder of an XYZ tile set of this area, or an MBTiles file.")
    if len(exts) > 1:
        raise _err(where, "base.tiles", f"{folder} mixes tile formats ({', '.join(sorted(exts))}); use one.")
    return ("xyz", folder, tiles, exts.pop())


def _scan_mbtiles(path: Path, where: str, box):
    bad = _err(where, "base.tiles", f"{path} is not a readable MBTiles file (SQLite with a tiles table); "
                                    "export the tiles again (e.g. with QGIS or gdal_translate -of MBTILES).")
    try:
        # read-only and immutable: nothing is written beside the user's file (no -wal/-shm/journal), and a
        # path with '?', '#' or '%' is percent-encoded by as_uri
        con = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error:
        raise bad from None
    try:
        if con.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise bad
        meta = {}
        try:
            meta = {str(k): str(v) for k, v in con.execute("SELECT name, value FROM metadata")}
        except sqlite3.Error:
            pass
        fmt = meta.get("format", "png").lower()
        if fmt in ("pbf", "mvt"):
            raise _err(where, "base.tiles", f"{path} holds vector tiles (format {fmt}); give raster tiles "
                                            "(png, jpg or webp), or an XYZ folder.")
        if fmt == "jpeg":
            fmt = "jpg"
        if fmt not in TILE_EXTS:
            raise _err(where, "base.tiles", f"{path}: tile format {fmt!r} is not supported (png, jpg, webp).")
        rows = []
        zooms = [int(z) for (z,) in con.execute("SELECT DISTINCT zoom_level FROM tiles")]
        for z in zooms:
            if not 0 <= z <= 24:
                continue
            x0, y0, x1, y1 = _tile_window(box, z)
            n = 2 ** z
            # MBTiles rows are TMS: row 0 is the south edge (y flipped against XYZ)
            for x, row, data in con.execute(
                    "SELECT tile_column, tile_row, tile_data FROM tiles WHERE zoom_level = ? AND "
                    "tile_column BETWEEN ? AND ? AND tile_row BETWEEN ? AND ?",
                    (z, x0, x1, n - 1 - y1, n - 1 - y0)):
                if data:
                    rows.append((z, int(x), n - 1 - int(row), bytes(data)))
    except sqlite3.Error:
        raise bad from None
    finally:
        con.close()
    if not rows:
        raise _err(where, "base.tiles", f"{path} has no tiles over the runs' area; export tiles of this area.")
    return ("mbtiles", path, rows, fmt)


def load_inputs(spec: SiteSpec, out: Path | None = None, *, check_out: bool = True,
                where: str | None = None, same_grid: bool = True) -> SiteInputs:
    """Read and check everything ``spec`` names, writing nothing (see the module docstring).

    ``check_out``: also check the site folder (``out``, else ``spec.out``); ``where`` names the input in
    messages when there is no site file (default ``"publish"``); ``same_grid``: refuse runs on different
    grids (a site's tiles, comparison and likelihood need one grid; ``floodsim map`` swipes any two).

    Raises
    ------
    ScenarioError
        One message per problem, naming the site file, the field and the fix.
    """
    from .rundata import map_run

    where = str(spec.source) if spec.source is not None else (where or "publish")
    inp = SiteInputs(spec=spec, where=where)
    for k, r in enumerate(spec.runs):
        try:
            run = map_run(r.path)
        except InputDataError as exc:
            raise _err(where, f"runs[{k}].path", str(exc)) from None
        if k > 0 and same_grid:
            why = _same_grid(inp.runs[0], run)
            if why is not None:
                raise _err(where, f"runs[{k}].path", f"{r.path} is on another grid than runs[0] ({why}); "
                                                     "publish runs of one domain and grid (the same DEM, "
                                                     "crs and simulation.coarsen).")
        inp.runs.append(run)
        inp.labels.append(r.label if r.label is not None else run.name)
    if spec.compare is not None:
        if len(inp.runs) < 2:
            raise _err(where, "compare", "a comparison needs two runs in [[runs]]; add the second run or "
                                         "remove compare.")
        _load_compare(inp, Path(spec.compare))
    if spec.sweep is not None:
        _load_sweep(inp, Path(spec.sweep), spec.design)
    elif spec.design is not None:
        raise _err(where, "design", "design picks a design of the sweep; set sweep too, or remove design.")
    crs = inp.runs[0].crs
    if spec.addresses is not None:
        gdf = _read_layer(spec.addresses, where, "addresses", spec.addresses.field, crs)
        kinds = set(gdf.geom_type.unique())
        if not kinds <= {"Point", "MultiPoint", "Polygon", "MultiPolygon"}:
            raise _err(where, "addresses.path", f"{spec.addresses.path} holds {', '.join(sorted(kinds))}; "
                                                "give points or polygons with an address field.")
        import geopandas as gpd

        inp.addresses = gpd.GeoDataFrame({"address": gdf[spec.addresses.field].to_numpy()},
                                         geometry=gdf.geometry.to_numpy(), crs=gdf.crs).reset_index(drop=True)
    base = BaseMap(online=spec.base.online)
    for name in ("roads", "water", "buildings"):
        ref = getattr(spec.base, name)
        if ref is not None:
            base.vector[name] = (_read_layer(ref, where, f"base.{name}", ref.name_field, crs), ref.name_field)
    if spec.base.tiles is not None:
        tiles = Path(spec.base.tiles)
        box = _area_bounds_lonlat(inp.runs[0])
        if tiles.is_dir():
            inp.base_tiles = _scan_xyz(tiles, where, box)
        elif tiles.is_file():
            inp.base_tiles = _scan_mbtiles(tiles, where, box)
        else:
            raise _err(where, "base.tiles", f"{tiles} not found; give an XYZ tile folder or an MBTiles file.")
    inp.base = base
    if check_out:
        inp.out = _check_out(out if out is not None else spec.out, spec, where)
    return inp


def _check_out(out, spec: SiteSpec, where: str) -> Path:
    if out is None:
        stem = spec.source.stem if spec.source is not None else Path(spec.runs[0].path).name
        out = Path("site") / (stem or "site")
    out = Path(out)
    target = out.resolve()
    cwd = Path.cwd().resolve()
    if target == Path(target.anchor) or target == cwd or target in cwd.parents:
        raise OutputError(f"{out}: publishing replaces the whole site folder, and this is the folder floodsim "
                          "was started from (or one above it); choose another with --out.")
    if os.path.lexists(target) and not target.is_dir():
        raise OutputError(f"{out}: a file, not a folder; choose a site folder with --out.")
    if target.is_dir() and any(target.iterdir()) and not is_site_folder(target):
        names = sorted(p.name for p in target.iterdir())
        raise OutputError(f"{out}: the folder holds other files ({', '.join(names[:3])}"
                          f"{', …' if len(names) > 3 else ''}) and is not a floodsim site (no {SITE_JSON} "
                          "written by floodsim publish); publishing replaces the whole folder, so it will not "
                          "write there. Choose a new or empty folder with --out.")
    named = [("run folder", r.path) for r in spec.runs] + [
        (what, path) for what, path in (("compare folder", spec.compare), ("sweep folder", spec.sweep),
                                        ("base tiles", spec.base.tiles),
                                        ("address layer", spec.addresses.path if spec.addresses else None),
                                        *[(f"{k} layer", getattr(spec.base, k).path) for k in
                                          ("roads", "water", "buildings") if getattr(spec.base, k) is not None])
        if path is not None]
    for what, path in named:
        rp = Path(path).resolve()
        if rp == target or target in rp.parents:
            raise OutputError(f"{out}: the site folder holds the {what} {path}; publishing replaces the whole "
                              "folder and would delete it. Choose another --out.")
    return target


def _clear_stale_siblings(target: Path) -> None:
    """Remove what a publish killed on this host left beside ``target`` (its staging folder); put back a
    former site that a kill between the two renames of a swap left aside (when ``target`` is missing)."""
    host = rf.process_tag().rpartition("-")[0]
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return
    for p in sorted(entries, key=lambda q: rf.ASIDE_INFIX not in q.name):     # put back before clearing
        for infix in (rf.ASIDE_INFIX, rf.STAGING_INFIX):
            head = target.name + infix
            if not p.name.startswith(head):
                continue
            h, _, pid = p.name[len(head):].rpartition("-")
            if h != host or not pid.isdigit() or int(pid) == os.getpid() or rf.pid_alive(int(pid)):
                continue
            if infix == rf.ASIDE_INFIX and not os.path.lexists(target) and is_site_folder(p):
                os.rename(p, target)
                log.warning("%s: put back the former site, which a publish killed while replacing it had "
                            "left at %s", target, p.name)
            else:
                shutil.rmtree(p, ignore_errors=True)


def is_site_folder(path: Path) -> bool:
    """True for a folder written by ``floodsim publish`` (its ``site.json`` says so)."""
    try:
        data = json.loads((Path(path) / SITE_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("generator") == GENERATOR


# ------------------------------------------------------------------------------------------ reports
def _building_rows(runs, labels, idx: int) -> tuple[str | None, list[ScenarioRow]]:
    b0 = runs[0].buildings
    id_field = runs[0].id_field
    bid = None if id_field is None else b0.iloc[idx][id_field]
    rows = []
    for run, label in zip(runs, labels):
        b = run.buildings
        rec = None
        if b is not None:
            if id_field is not None and run.id_field == id_field:
                hit = b[b[id_field] == bid]
                rec = hit.iloc[0] if len(hit) else None
            elif len(b) == len(b0):
                rec = b.iloc[idx]
        if rec is None:
            rows.append(ScenarioRow(label, float("nan"), 0))
        else:
            depth = float(rec.get("max_depth_m", float("nan")))
            rows.append(ScenarioRow(label, depth, int(rec.get("hazard_code", 0) or 0)))
    return (None if bid is None else str(bid)), rows


def report_entries(site: Site) -> list[ReportEntry]:
    """One :class:`ReportEntry` per address the site searches (:func:`floodsim.maps.search.site_addresses`,
    linked to its building) and one per building no address is linked to, named and slugged as the
    building cards link them (:func:`floodsim.maps.cards.report_labels`, :func:`~floodsim.maps.cards.report_slug`)."""
    from ..analysis.risk import BANDS, band_of_aep
    from .cards import building_name, report_slug
    from .search import site_addresses

    runs, b0 = site.runs, site.runs[0].buildings
    lk = site.likelihood
    first = {}
    if lk is not None and lk.buildings is not None and len(lk.buildings.columns) > 1:
        idc = lk.buildings.columns[0]
        for _, r in lk.buildings.iterrows():
            first[str(r[idc])] = (float(r.get("first_flooding_yr", float("nan"))),
                                  float(r.get("ead_eur_per_yr", float("nan"))))
    seen: set = set()
    out = []

    def add(title: str, idx) -> None:
        slug = report_slug(title)
        if slug in seen:
            return
        seen.add(slug)
        if idx is not None and b0 is not None and 0 <= int(idx) < len(b0):
            bid, rows = _building_rows(runs, site.labels, int(idx))
        else:
            bid, rows = None, [ScenarioRow(lab, float("nan"), 0) for lab in site.labels]
        e = ReportEntry(slug=slug, title=title, building_id=bid, rows=rows)
        if lk is not None:
            t, ead = first.get(bid, (float("nan"), float("nan"))) if bid is not None else (float("nan"),
                                                                                            float("nan"))
            e.first_flooding_yr = t
            e.band = BANDS[int(band_of_aep(1.0 / t if np.isfinite(t) and t > 0 else np.nan))]
            e.ead_eur_per_yr = ead if np.isfinite(ead) else None
        out.append(e)

    texts, links, _ = site_addresses(site)
    linked = set()
    for text, link in zip(texts, links):
        add(text, link)
        if link is not None:
            linked.add(int(link))
    if b0 is not None:
        for k in range(len(b0)):
            if k not in linked:
                add(building_name(runs[0], k), k)
    return out


# ------------------------------------------------------------------------------------------ texts
def rain_in_words(run) -> str | None:
    """The run's rain in words: depth [mm] over the model area and the minutes it fell in (from the
    cumulative rain volume of ``results.nc``); None without rain."""
    ds = run.ds
    if "volume_rain" not in ds or "time" not in ds.coords:
        return None
    vol = np.asarray(ds["volume_rain"].values, dtype=np.float64)
    t = np.asarray(ds["time"].values, dtype=np.float64)
    if not vol.size or not np.isfinite(vol[-1]) or vol[-1] <= 0:
        return None
    cells = int(np.isfinite(ds["elevation"].values).sum())
    area = cells * float(ds.attrs.get("dx_m", abs(run.transform.a))) * float(ds.attrs.get("dy_m", abs(run.transform.e)))
    depth_mm = vol[-1] / area * 1000.0
    end = t[int(np.argmax(vol >= vol[-1] * (1 - 1e-6)))]
    minutes = round(end / 60.0)
    return f"{depth_mm:.0f} mm of rain over the model area within {minutes} minute{'' if minutes == 1 else 's'}"


def fill_texts(texts: PublishTexts, runs, labels, likelihood: Likelihood | None = None,
               today: _dt.date | None = None) -> PublishTexts:
    """``texts`` with every default filled in (see the module docstring)."""
    import floodsim

    upd = {}
    if texts.event is None:
        rain = rain_in_words(runs[0])
        event = f"{labels[0]}: {rain + ', ' if rain else ''}a single modelled event"
        if likelihood is not None and likelihood.return_periods_yr:
            periods = ", ".join(f"{t:g}" for t in likelihood.return_periods_yr)
            event += (f". Likelihood: design storms of {periods}-year return periods (sweep design "
                      f"{likelihood.design})")
            if likelihood.storms:
                event += ": " + "; ".join(likelihood.storms.values())
        upd["event"] = event[:4000]
    if texts.date is None:
        upd["date"] = (today or _dt.date.today()).isoformat()
    if texts.model_version is None:
        upd["model_version"] = f"floodsim {floodsim.__version__}"
    return texts.model_copy(update=upd) if upd else texts


# ------------------------------------------------------------------------------------------ the site
def build_site(inp: SiteInputs, *, embed: bool, raster_source=None, folder: Path | None = None,
               offline: bool = False) -> Site:
    """The :class:`Site` of checked inputs (``embed``: one self-contained page; else a site folder)."""
    from .sitedata import embedded_source

    if raster_source is None:
        if embed:
            raster_source = embedded_source
        else:
            from .tiles import tile_source as raster_source
    texts = fill_texts(inp.spec.publish, inp.runs, inp.labels, inp.likelihood)
    base = inp.base
    if offline:
        base.online = False
    return Site(runs=inp.runs, labels=list(inp.labels), texts=texts, raster_source=raster_source,
                comparison=inp.comparison, likelihood=inp.likelihood, addresses=inp.addresses, base=base,
                offline=offline or not base.online, root="", embed=embed, folder=folder)


def page_builders():
    """``(resident_page, planner_page)``: the builders of the site's two pages
    (:func:`floodsim.maps.resident.resident_page`, :func:`floodsim.maps.planner.planner_page`)."""
    from .planner import planner_page
    from .resident import resident_page

    return resident_page, planner_page


def finish(html: str, texts, page: str | None = None) -> str:
    """The page finished by :func:`floodsim.maps.pagestyle.finish_page` (lang, title, viewport, CSS)."""
    from .pagestyle import finish_page

    return finish_page(html, texts, page)


def _copy(src: Path, dst: Path) -> int:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst.stat().st_size


def _write_downloads(inp: SiteInputs, site: Site, staging: Path) -> None:
    for k, (run, label) in enumerate(zip(inp.runs, inp.labels)):
        for name, desc in RUN_DOWNLOADS.items():
            src = Path(run.path) / name
            if src.is_file():
                rel = f"downloads/run-{k + 1}/{name}"
                size = _copy(src, staging / rel)
                site.downloads.append(Download(f"{label}: {name}", rel, desc, size))
    for name, src in inp.compare_files.items():
        rel = f"downloads/compare/{name}"
        size = _copy(src, staging / rel)
        what = {rf.COMPARISON_CSV: "the runs' numbers side by side (CSV)",
                rf.CHANGED_BUILDINGS_GPKG: "buildings whose hazard class changed (GeoPackage)"}.get(
            name, "maximum depth B − A [m], GeoTIFF")
        site.downloads.append(Download(f"Comparison: {name}", rel, what, size))
    for name, src in inp.sweep_files.items():
        rel = f"downloads/likelihood/{name}"
        size = _copy(src, staging / rel)
        what = ("likelihood band per cell (0 not flooded, 1 very low … 4 high), GeoTIFF" if name.endswith(".tif")
                else "per building: first flooding return period and expected annual damage (GeoPackage)")
        site.downloads.append(Download(f"Likelihood: {name}", rel, what, size))


def _write_basemap(inp: SiteInputs, site: Site, staging: Path) -> dict | None:
    if inp.base_tiles is None:
        return None
    from .tiles import _encode_bits

    kind, src, tiles, ext = inp.base_tiles
    out = staging / "basemap"
    coords = []
    nbytes = 0
    if kind == "xyz":
        for (z, x, y), path in tiles.items():
            nbytes += _copy(path, out / str(z) / str(x) / f"{y}.{ext}")
            coords.append((z, x, y))
    else:
        for z, x, y, data in tiles:
            p = out / str(z) / str(x) / f"{y}.{ext}"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
            nbytes += len(data)
            coords.append((z, x, y))
    index = {}
    for z in sorted({c[0] for c in coords}):
        xs = [c[1] for c in coords if c[0] == z]
        ys = [c[2] for c in coords if c[0] == z]
        x0, y0 = min(xs), min(ys)
        present = np.zeros((max(ys) - y0 + 1, max(xs) - x0 + 1), dtype=bool)
        for _, x, y in (c for c in coords if c[0] == z):
            present[y - y0, x - x0] = True
        index[str(z)] = [x0, y0, present.shape[1], present.shape[0], _encode_bits(present)]
    zs = [c[0] for c in coords]
    site.base.local_tiles_url = f"basemap/{{z}}/{{x}}/{{y}}.{ext}"
    site.base.local_tiles_zoom = (min(zs), max(zs))
    site.base.local_tiles_index = index
    return {"source": str(src), "kind": kind, "tiles": len(coords), "bytes": nbytes, "zoom": [min(zs), max(zs)]}


def _write_page(m, path: Path, texts, page: str | None, assets_root=None) -> dict:
    from .assets import localize_html
    from .publish import render_html

    html = render_html(m)
    html, loc = localize_html(html, path, assets_root, assets_name=ASSETS_DIR)
    html = finish(html, texts, page)
    path.write_text(html, encoding="utf-8")
    return {"bytes": len(html.encode("utf-8")), "assets": loc["files"]}


def _versions() -> dict:
    import importlib.metadata as md

    out = {}
    for pkg in ("floodsim", "folium", "branca", "rasterio", "numpy", "geopandas", "xarray"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def write_site(spec: SiteSpec, out: Path | None = None, offline: bool = False, assets_root=None,
               progress=None) -> dict:
    """Check every input, then write the site folder atomically (see the module docstring).

    Parameters
    ----------
    spec : SiteSpec
        The site file (or :func:`spec_from_runs`).
    out : Path, optional
        The site folder (default: ``spec.out``, else ``site/<site file stem>``).
    offline : bool
        No online base map: the pages make no request outside the site.
    assets_root : path, optional
        The npm asset cache (default: :func:`floodsim.maps.assets.cache_dir`).
    progress : callable, optional
        ``progress(message)`` per step.

    Returns
    -------
    dict
        What ``site.json`` records, plus ``"out"``: the site folder.

    Raises
    ------
    ScenarioError, InputDataError, OutputError
        Bad inputs or an unwritable folder (nothing is written then).
    """
    from .assets import FETCH_COMMAND, cache_dir, missing_releases

    say = progress or (lambda msg: None)
    inp = load_inputs(spec, out)
    missing = missing_releases(assets_root)
    if missing:
        raise InputDataError(
            f"the offline map assets are missing in {cache_dir(assets_root)} ({', '.join(missing[:3])}"
            f"{', …' if len(missing) > 3 else ''}); a published site carries its own JS/CSS: run "
            f"`{FETCH_COMMAND}` once first (it uses npm).")
    target = inp.out
    _clear_stale_siblings(target)
    staging = rf.staging_dir(target)
    published = False
    import time

    t0 = time.perf_counter()
    try:
        if os.path.lexists(staging):
            shutil.rmtree(staging)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
        site = build_site(inp, embed=False, folder=staging, offline=offline)
        say("downloads")
        _write_downloads(inp, site, staging)
        basemap = _write_basemap(inp, site, staging)
        say("reports")
        site.reports = report_entries(site)
        (staging / "report").mkdir()
        for e in site.reports:
            (staging / "report" / f"{e.slug}.html").write_text(report_html(site, e, root="../"),
                                                                encoding="utf-8")
        resident_page, planner_page = page_builders()
        say("resident page")
        pages = {"index.html": _write_page(resident_page(site), staging / "index.html", site.texts, None,
                                           assets_root)}
        say("planner page")
        pages["planner.html"] = _write_page(planner_page(site), staging / "planner.html", site.texts,
                                            "Planner", assets_root)
        for rel, data in site.files.items():
            p = staging / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        tiles = {"pyramids": site.tile_stats,
                 "tiles": sum(v["tiles"] for v in site.tile_stats.values()),
                 "bytes": sum(v["bytes"] for v in site.tile_stats.values())}
        record = {
            "generator": GENERATOR,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "versions": _versions(),
            "site_file": str(spec.source) if spec.source is not None else None,
            "texts": site.texts.model_dump(),
            "runs": [{"label": lab, "scenario": r.name, "path": str(r.path),
                      "cells": int(r.ds["max_depth"].size), "crs": str(r.crs)}
                     for r, lab in zip(site.runs, site.labels)],
            "compare": str(spec.compare) if spec.compare is not None else None,
            "sweep": str(spec.sweep) if spec.sweep is not None else None,
            "design": site.likelihood.design if site.likelihood is not None else None,
            "offline": bool(site.offline),
            "pages": pages,
            "tiles": tiles,
            "basemap": basemap,
            "downloads": [{"label": d.label, "href": d.href, "bytes": d.size_bytes} for d in site.downloads],
            "reports": len(site.reports),
            "addresses": int(len(site.addresses)) if site.addresses is not None else None,
        }
        record["site_bytes"] = tree_size(staging) + len(file_json(record).encode()) + 32
        record["publish_s"] = round(time.perf_counter() - t0, 3)
        (staging / SITE_JSON).write_text(file_json(record), encoding="utf-8")
        for root, dirs, files in os.walk(staging):
            os.chmod(root, 0o755)
            for f in files:
                os.chmod(os.path.join(root, f), 0o644)
        fsync_tree(staging)
        former = replace_dir(staging, target, rf.aside_dir(target))
        published = True
        if former is not None:
            shutil.rmtree(former, ignore_errors=True)
    except OSError as exc:
        if published:
            raise
        raise OutputError(f"{target}: the site cannot be written ({exc.strerror or exc}); nothing was "
                          "published. Check the free space and permissions, or choose another --out.") from None
    finally:
        if not published and os.path.lexists(staging):
            shutil.rmtree(staging, ignore_errors=True)
    record["out"] = target
    return record


def describe(record: dict) -> list[str]:
    """Lines for the command line: what was written."""
    pages = record["pages"]
    lines = [f"written         {record['out']}/ ({fmt_size(record['site_bytes'])})"]
    for name, info in pages.items():
        lines.append(f"  {name:<14}{fmt_size(info['bytes'])}")
    t = record["tiles"]
    lines.append(f"  tiles/        {t['tiles']} tiles in {len(t['pyramids'])} pyramids, {fmt_size(t['bytes'])}")
    if record.get("basemap"):
        b = record["basemap"]
        lines.append(f"  basemap/      {b['tiles']} tiles (zoom {b['zoom'][0]}–{b['zoom'][1]}), "
                     f"{fmt_size(b['bytes'])}")
    lines.append(f"  downloads/    {len(record['downloads'])} files")
    lines.append(f"  report/       {record['reports']} one-page reports")
    return lines


__all__ = ["SITE_JSON", "SiteInputs", "build_site", "describe", "fill_texts", "is_site_folder",
           "load_inputs", "rain_in_words", "report_entries", "spec_from_runs", "write_site"]
