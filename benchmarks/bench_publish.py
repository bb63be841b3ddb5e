"""Publishing benchmark: ``floodsim publish`` of a 4-million-cell run, and how fast its page opens.

Usage::

    python benchmarks/bench_publish.py                  # 2000 × 2000 cells (4M), 3 simulated minutes
    python benchmarks/bench_publish.py --n 1000         # a quicker look at 1M cells

What it does:

1. Writes a synthetic city at 1 m cells (the benchmark terrain of :mod:`floodsim.run.bench`: a tilted
   plane with undulations and a street grid, placed at Merewether, MGA zone 56), one building per street
   block (a 20 m square, with an address) and a scenario with a heavy block rain (600 mm/h). It is run
   for a few simulated minutes with ``floodsim``'s own runner, so ``results.nc``, the COGs,
   ``flood.gpkg`` and the summary are those of a real run folder (only the run is short: enough water to
   pond in the depressions and streets, which is what the pages draw).
2. Publishes the run folder (``floodsim publish RUN --offline``) and records the wall time, the tile count
   and bytes, the size of the site and of each HTML page.
3. Serves the site from a local HTTP server and opens ``index.html`` and ``planner.html`` in headless
   Chromium (``tests/support/browser.py``), five times each with the cache disabled; the page-open time is
   from navigation to the moment Leaflet has drawn the map and every raster tile in view has loaded
   (median of the five).

Prints a table and writes ``benchmarks/results/bench_publish.json`` (with the load average: the machine
may be shared, and browser timings suffer most from that).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Where the synthetic city sits (MGA zone 56, Merewether): west and north edges [m].
ORIGIN_X, ORIGIN_Y, CRS = 382000.0, 6358000.0, "EPSG:28356"
BLOCK_M, STREET_M, HOUSE_M = 60, 8, 20

OPEN_TIMES = 5
WAIT_TILES_JS = """
const imgs = Array.from(document.querySelectorAll('img.leaflet-tile'));
return document.readyState === 'complete' && typeof L !== 'undefined' && imgs.length > 0 &&
       imgs.every(i => i.complete);
"""


def make_city(folder: Path, n: int, minutes: float) -> Path:
    """DEM, buildings and a scenario file for an ``n × n`` city; returns the scenario path."""
    import geopandas as gpd
    import rasterio
    from rasterio.transform import from_origin
    from shapely.geometry import box

    from floodsim.run.bench import make_terrain

    folder.mkdir(parents=True, exist_ok=True)
    z = make_terrain(n).astype(np.float32)
    with rasterio.open(folder / "dem.tif", "w", driver="GTiff", height=n, width=n, count=1, dtype="float32",
                       crs=CRS, transform=from_origin(ORIGIN_X, ORIGIN_Y, 1.0, 1.0), tiled=True,
                       compress="deflate") as dst:
        dst.write(z, 1)
    houses, ids, addresses = [], [], []
    for bi, i0 in enumerate(range(STREET_M, n - HOUSE_M, BLOCK_M)):
        for bj, j0 in enumerate(range(STREET_M, n - HOUSE_M, BLOCK_M)):
            x0 = ORIGIN_X + j0 + 12
            y0 = ORIGIN_Y - i0 - 12
            houses.append(box(x0, y0 - HOUSE_M, x0 + HOUSE_M, y0))
            ids.append(f"b{bi:03d}-{bj:03d}")
            addresses.append(f"{2 * bj + 1} Street {bi + 1}")
    gpd.GeoDataFrame({"building_id": ids, "address": addresses}, geometry=houses, crs=CRS).to_file(
        folder / "city.gpkg", layer="buildings", driver="GPKG")
    sc = folder / "city.toml"
    sc.write_text(f"""name = "Synthetic city {n}x{n}"
[domain]
dem = "dem.tif"
[buildings]
path = "city.gpkg"
layer = "buildings"
id_field = "building_id"
roof_rain = "ground"
[surface]
manning = 0.03
[rainfall]
kind = "block"
intensity_mm_h = 600.0
duration_min = {minutes:g}
[[boundaries]]
side = "south"
kind = "free"
slope = 0.005
[simulation]
duration_min = {minutes:g}
output_interval_min = {minutes / 3:g}
[output]
flood_threshold_m = 0.05
""")
    return sc


def open_times(site: Path, page: str, times: int) -> list[float]:
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.support.browser import chromium, console_errors, serve_folder

    out = []
    with serve_folder(site) as base, chromium() as d:
        d.execute_cdp_cmd("Network.enable", {})
        d.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
        for _ in range(times):
            d.get("about:blank")
            t0 = time.perf_counter()
            d.get(base + page)
            WebDriverWait(d, 120, poll_frequency=0.02).until(lambda drv: drv.execute_script(WAIT_TILES_JS))
            out.append(time.perf_counter() - t0)
        errors = console_errors(d)
    if errors:
        print(f"console errors on {page}: {errors[:3]}", file=sys.stderr)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="cells per side (default 2000: 4M cells)")
    ap.add_argument("--minutes", type=float, default=3.0, help="simulated minutes (default 3)")
    ap.add_argument("--work", type=Path, default=None, help="folder for the run and the site (default: temp)")
    ap.add_argument("--no-browser", action="store_true", help="skip the page-open timing")
    args = ap.parse_args(argv)

    from floodsim.maps.site import spec_from_runs, write_site
    from floodsim.run.runner import run_scenario
    from floodsim.scenario.load import load_scenario

    work = args.work or Path(tempfile.mkdtemp(prefix="bench_publish_"))
    load0 = os.getloadavg()
    sc = make_city(work / "city", args.n, args.minutes)
    t0 = time.perf_counter()
    run_dir = work / "run"
    run_scenario(load_scenario(sc), out_dir=run_dir)
    run_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    record = write_site(spec_from_runs([run_dir]), out=work / "site", offline=True)
    publish_s = time.perf_counter() - t0
    site = work / "site"
    pages = {k: v["bytes"] for k, v in record["pages"].items()}
    opened = {}
    if not args.no_browser:
        for page in pages:
            opened[page] = open_times(site, page, OPEN_TIMES)
    result = {
        "machine": {"date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                    "platform": platform.platform(), "cpu_count": os.cpu_count(),
                    "loadavg_at_start": load0, "loadavg_at_end": os.getloadavg(),
                    "versions": record["versions"]},
        "cells": args.n * args.n, "simulated_min": args.minutes, "run_s": round(run_s, 2),
        "publish_s": round(publish_s, 2),
        "tiles": record["tiles"]["tiles"], "tile_bytes": record["tiles"]["bytes"],
        "pyramids": len(record["tiles"]["pyramids"]),
        "site_bytes": record["site_bytes"], "html_bytes": pages,
        "reports": record["reports"], "downloads": len(record["downloads"]),
        "open_s": {p: {"median": round(statistics.median(v), 3), "all": [round(x, 3) for x in v]}
                   for p, v in opened.items()},
    }
    rows = [("cells", f"{result['cells']:,}"), ("run (short, not timed here)", f"{run_s:.1f} s"),
            ("publish wall time", f"{publish_s:.1f} s"),
            ("tiles", f"{result['tiles']:,} in {result['pyramids']} pyramids, {result['tile_bytes'] / 1e6:.1f} MB"),
            ("site size", f"{result['site_bytes'] / 1e6:.1f} MB"),
            *[(f"HTML {p}", f"{b / 1e3:.0f} kB") for p, b in pages.items()],
            ("report pages", str(result["reports"])),
            *[(f"open {p} (median of {OPEN_TIMES})", f"{v['median']:.2f} s") for p, v in result["open_s"].items()],
            ("load average start/end", f"{load0[0]:.1f} / {result['machine']['loadavg_at_end'][0]:.1f}")]
    w = max(len(a) for a, _ in rows) + 2
    for a, b in rows:
        print(f"{a:<{w}}{b}")
    out = ROOT / "benchmarks" / "results" / "bench_publish.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
