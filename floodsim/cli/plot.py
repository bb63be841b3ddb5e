"""``floodsim plot RUN [RUN_B]``: engineering figures (PNG) of a finished run, optionally against another."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ExitCode, InputDataError


def cmd_plot(args) -> int:
    from ..io import runfolder as rf
    from ..plots import write_plots

    run = rf.load_run(args.run)
    base = None
    if args.run_b is not None:
        base = rf.load_run(args.run_b).ds
    elif (Path(args.run) / rf.BASELINE_DIR / rf.RESULTS_NC).is_file():
        base = rf.load_run(Path(args.run) / rf.BASELINE_DIR).ds
    if "series_time" not in run.ds.coords:
        raise InputDataError(f"{args.run}: the run has no fine time series (older run folders lack them); run the "
                             "scenario again to plot its hydrographs.")
    out = args.out if args.out is not None else Path(args.run)
    out.mkdir(parents=True, exist_ok=True)
    stores = (run.summary.storage_measures or {}) if run.summary is not None else {}
    design = {name: m["design_level_m"] for name, m in stores.items() if "design_level_m" in m}
    for path in write_plots(run.ds, out, base, design):
        print(f"written         {path}")
    return ExitCode.OK


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("plot", help="engineering figures of a finished run (hydrographs, outflow, balance, storage)",
                       description="Write PNG figures of a run folder: hydrographs at gauges, the outflow "
                                   "hydrograph, the volume balance over time, each storage measure's inflow, "
                                   "outflow, level and storage, and depth-duration at gauges. With RUN_B (or a "
                                   "baseline/ folder in RUN) its curves are overlaid dashed.")
    p.add_argument("run", type=Path, metavar="RUN", help="run folder written by `floodsim run`")
    p.add_argument("run_b", type=Path, nargs="?", default=None, metavar="RUN_B", help="a run to overlay (baseline)")
    p.add_argument("--out", type=Path, default=None, help="folder for the PNGs (default: RUN)")
    p.set_defaults(func=cmd_plot)
    return p
