"""``floodsim map`` (planner / resident web maps, PNG figures) and ``floodsim map-assets``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ExitCode, InputDataError


def cmd_map(args) -> int:
    from ..maps import figures
    from ..maps.publish import write_map
    from ..maps.site import build_site, load_inputs, page_builders, spec_from_runs

    from ..scenario.site import MAX_SITE_RUNS

    if len(args.run_dirs) > MAX_SITE_RUNS:
        raise InputDataError(f"a map shows at most {MAX_SITE_RUNS} run folders, not {len(args.run_dirs)}; "
                             "give fewer (the first two are compared on the planner map).")
    kind = "resident" if args.resident else "planner"
    out = args.out if args.out is not None else Path(args.run_dirs[0]) / f"{kind}_map.html"
    if out.suffix.lower() not in (".html", ".htm"):
        raise InputDataError(f"--out {out}: the map is an HTML page; give a file name ending in .html.")
    inp = load_inputs(spec_from_runs(args.run_dirs), check_out=False, where="map", same_grid=False)
    if len(inp.runs) >= 2:      # A and B: B − A of the first two runs, as `floodsim compare` makes it
        from ..maps.planner import comparison_of

        inp.comparison = comparison_of(inp.runs, inp.labels)
    site = build_site(inp, embed=True, offline=args.offline)
    resident_page, planner_page = page_builders()
    m = resident_page(site) if args.resident else planner_page(site)
    info = write_map(m, out, offline=args.offline, texts=site.texts,
                     page=None if args.resident else "Planner")
    extra = ""
    if info["assets_dir"] is not None:
        extra = f" + {info['assets_dir'].name}/ ({len(info['assets'])} asset files from the npm cache)"
    print(f"written         {out}{extra}")
    if args.png:
        for path in figures.write_figures(site.runs, out.parent / out.stem):
            print(f"written         {path}")
    return ExitCode.OK


def cmd_map_assets(args) -> int:
    from ..maps import assets

    root = assets.fetch_assets(args.dir, log=lambda msg: print(msg, flush=True))
    print(f"offline map assets ready in {root} ({len(assets.releases())} npm releases)")
    return ExitCode.OK


def add_parser(sub) -> argparse.ArgumentParser:
    """Register ``map`` and ``map-assets`` on the ``floodsim`` sub-command parser."""
    p = sub.add_parser(
        "map",
        help="one self-contained web page of finished runs: the planner map (one run, or A | B compared "
        "in one map) or the resident map (--resident); `floodsim publish` writes a whole site",
        description="Write one self-contained Folium page of one or more run folders (written by "
        "`floodsim run`). The planner map shows per scenario the flood depth, hazard, speed, arrival "
        "time, buildings by hazard class, hatched measures, gauges and a depth time slider; with two or "
        "more runs it compares the first two in one map (swipe A | B, B − A depth change, changed "
        "buildings). --resident writes the plain-language risk map with an address search and building "
        "cards. For a site to host (tiles, downloads, reports) use `floodsim publish`.",
    )
    p.add_argument(
        "run_dirs",
        nargs="+",
        type=Path,
        metavar="RUN_DIR",
        help="run folder(s); on the planner map the first is A (e.g. the baseline), the second B",
    )
    p.add_argument("--resident", action="store_true", help="the resident risk map instead of the planner map")
    p.add_argument(
        "--offline",
        action="store_true",
        help="self-contained page: JS/CSS copied beside it (FILE_assets/) from the npm asset cache "
        "(run `floodsim map-assets` once first); no online base map",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="HTML file to write (default: RUN_DIR/planner_map.html or RUN_DIR/resident_map.html)",
    )
    p.add_argument(
        "--png",
        action="store_true",
        help="also write PNG figures for reports (max depth, hazard, buildings) beside the page",
    )
    p.set_defaults(func=cmd_map)
    q = sub.add_parser(
        "map-assets",
        help="fetch the offline map assets (Leaflet, jQuery, …) from the npm registry with npm",
        description="Download the pinned npm releases of the JS/CSS files folium's pages load "
        "(`npm pack`) into "
        "the asset cache used by `floodsim map --offline`: $FLOODSIM_ASSETS, else "
        "~/.cache/floodsim/web-assets. Needs npm; safe to run again.",
    )
    q.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="cache folder (default: $FLOODSIM_ASSETS or ~/.cache/floodsim/web-assets)",
    )
    q.set_defaults(func=cmd_map_assets)
    return p
