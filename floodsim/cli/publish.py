"""``floodsim publish SITE.toml | RUN_DIR [RUN_DIR …]``: a static flood-risk site folder for a web server."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ExitCode, ScenarioError


def cmd_publish(args) -> int:
    from ..maps import site as S
    from ..scenario.site import load_site

    inputs = list(args.inputs)
    tomls = [p for p in inputs if p.suffix.lower() == ".toml"]
    if tomls:
        if len(inputs) > 1:
            raise ScenarioError(f"publish: give one site file ({tomls[0]}) or run folders, not both; list the "
                                "runs in the site file's [[runs]].")
        spec = load_site(tomls[0])
    else:
        for p in inputs:
            if p.is_file():
                raise ScenarioError(f"publish: {p} is a file but not a site file (.toml); give a site file or "
                                    "run folders written by `floodsim run`.")
        spec = S.spec_from_runs(inputs, args.out)
    record = S.write_site(spec, out=args.out, offline=args.offline,
                          progress=(lambda msg: print(f"publishing      {msg}", flush=True)) if args.verbose_steps
                          else None)
    for line in S.describe(record):
        print(line)
    return ExitCode.OK


def add_parser(sub) -> argparse.ArgumentParser:
    """Register ``publish`` on the ``floodsim`` sub-command parser."""
    p = sub.add_parser(
        "publish",
        help="write a static flood-risk site (resident and planner pages, tiles, downloads, reports)",
        description="Write a static site folder any web server can host: index.html (the resident map), "
                    "planner.html, assets/ (the JS/CSS, from the npm asset cache: run `floodsim map-assets` "
                    "once), tiles/, downloads/ (COG, GeoPackage, CSV), report/ (one page per address) and "
                    "site.json. Give a site file (TOML: [publish] texts, [[runs]], compare, sweep, "
                    "[addresses], [base]; see floodsim/scenario/site.py) or run folders (defaults). Every "
                    "input is checked before anything is written; the folder is replaced whole.",
    )
    p.add_argument("inputs", nargs="+", type=Path, metavar="SITE.toml|RUN_DIR",
                   help="a site file, or one or more run folders (the first is the reference)")
    p.add_argument("--out", type=Path, default=None,
                   help="the site folder (default: the site file's out, else site/<site file stem>, or "
                        "site/<first run folder's name>); replaced whole, so it must be new, empty or a site")
    p.add_argument("--offline", action="store_true",
                   help="no online street map: the pages request nothing outside the site folder")
    p.add_argument("--steps", dest="verbose_steps", action="store_true", help="print each step")
    p.set_defaults(func=cmd_publish)
    return p
