"""``floodsim run SCENARIO``: run a scenario and write its run folder.

The folder is replaced whole once every file is written, or left as it was
(:mod:`floodsim.run.runner`).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from ..errors import ExitCode

log = logging.getLogger("floodsim")


class _Tolerant:
    """A stream for the progress bar: a closed pipe or a console that cannot encode the bar stops the
    bar, never the run."""

    def __init__(self, stream):
        self._stream, self._dead = stream, False

    def write(self, text):
        if not self._dead:
            try:
                return self._stream.write(text)
            except (OSError, ValueError, UnicodeError):
                self._dead = True
        return len(text)

    def flush(self):
        if not self._dead:
            try:
                self._stream.flush()
            except (OSError, ValueError):
                self._dead = True

    def __getattr__(self, name):
        return getattr(self._stream, name)


def progress_bar(disable: bool):
    """A tqdm progress callback ``update(t, duration)`` on stderr (a new bar when a new run starts)."""
    from tqdm import tqdm

    bar = {"obj": None}
    stream = _Tolerant(sys.stderr)

    def update(t, duration):
        if bar["obj"] is None or t < bar["obj"].n:   # first call, or the next run (a baseline) starts
            bar["obj"] = tqdm(total=round(duration), unit="s sim", disable=disable, file=stream,
                              bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s simulated [{elapsed}<{remaining}]")
        bar["obj"].update(round(t) - bar["obj"].n)
        if t >= duration:
            bar["obj"].close()

    return update


def format_storage(m: dict) -> str:
    """One line of a storage measure's performance (:func:`floodsim.analysis.performance.storage_performance`)."""
    parts = []
    if "peak_volume_m3" in m:
        parts.append(f"held up to {m['peak_volume_m3']:,.1f} m³ at t = {m['time_of_peak_volume_s']:.0f} s")
    if "peak_level_m" in m and m["peak_level_m"] == m["peak_level_m"]:
        parts.append(f"peak level {m['peak_level_m']:.2f} m")
    if "freeboard_m" in m:
        parts.append(f"freeboard {m['freeboard_m']:.2f} m")
    if m.get("spilled"):
        parts.append(f"spilled from t = {m['spill_start_s']:.0f} s (up to {m['peak_volume_above_design_m3']:,.1f} m³ "
                     "above its design level)")
    elif "spilled" in m:
        parts.append("did not spill")
    if "peak_inflow_m3_s" in m:
        parts.append(f"peak inflow {m['peak_inflow_m3_s']:.3f} m³/s, peak outflow {m['peak_outflow_m3_s']:.3f} m³/s")
    empty = m.get("time_to_empty_10pct_s")
    if isinstance(empty, (int, float)):
        parts.append(f"empty to 10 % in {empty / 60:.0f} min")
    elif empty:
        parts.append(str(empty))
    return "; ".join(parts)


def format_summary(s: dict, files: dict) -> str:
    """The run summary as the lines ``floodsim run`` prints."""
    vb = s["volume_balance_m3"]
    lines = [
        f"scenario        {s['scenario']}",
        f"grid            {s['cells']:,} cells of {s['cell_size_m'][0]:.2f} × {s['cell_size_m'][1]:.2f} m, "
        f"{s['duration_s']:.0f} s simulated in {s['steps']:,} steps ({s['wall_time_s']:.1f} s wall)",
        (f"flooded area    peak {s['peak_flooded_area_m2']:,.0f} m² at t = {s['peak_flooded_area_time_s']:.0f} s "
         f"(depth ≥ {s['flood_threshold_m']} m); max extent {s['max_extent_area_m2']:,.0f} m²"
         if s.get("peak_flooded_area_m2") is not None else   # no depth frames: the maxima only
         f"flooded area    max extent {s['max_extent_area_m2']:,.0f} m² (depth ≥ {s['flood_threshold_m']} m)"),
        f"max depth       {s['max_depth_m']:.3f} m at ({s['max_depth_at'][0]:.1f}, {s['max_depth_at'][1]:.1f}); "
        f"max speed {s['max_speed_m_s']:.2f} m/s",
        "volume balance  rain {rain:,.1f} + inflow {inflow:,.1f} + boundary in {boundary_in:,.1f} "
        "− boundary out {boundary_out:,.1f} − infiltration {infiltration:,.1f} − roof drainage "
        "{roof_drainage:,.1f} − measures out {measure_outflow:,.1f} = Δstored {d:,.1f} m³ "
        "(now {surface:,.1f} on the surface, {measures:,.1f} in measures)".format(
            d=vb["stored"] - vb["initial"], **vb),
        f"                continuity error {vb['error']:.3g} m³ (relative {vb['relative_error']:.2e})"
        + (f"; float32 rounding of depths {vb['rounding']:+.3g} m³ (counted in the balance)"
           if vb.get("rounding") else ""),
    ]
    for name, g in s.get("gauges", {}).items():
        if g == "dry":
            lines.append(f"gauge           {name}: dry")
        else:
            lines.append(f"gauge           {name}: max {g['max_depth_m']:.3f} m at t = {g['time_of_max_depth_s']:.0f} s")
    o = s.get("outflow")
    if o and o.get("peak_outflow_m3_s") == o.get("peak_outflow_m3_s"):
        lines.append(f"outflow         peak {o['peak_outflow_m3_s']:.3f} m³/s at t = {o['time_of_peak_outflow_s']:.0f} s")
    for name, m in (s.get("storage_measures") or {}).items():
        lines.append(f"storage         {name}: {format_storage(m)}")
    if s.get("sewer"):   # dual drainage: the combined balance (surface + network + outfalls)
        from ..sewer.results import format_balance

        lines += format_balance(s["sewer"]).splitlines()
    if "against_baseline" in s:
        from ..analysis.measure_effects import format_effects

        lines += format_effects(s["against_baseline"])
    if s.get("skipped"):   # a run without depth frames ([output] depth_frames)
        lines.append(f"skipped         {', '.join(s['skipped'])}: no depth frames "
                     "([output] depth_frames = \"all\" writes them)")
    if files:
        lines.append(f"written         {Path(files['summary']).parent}/ ({', '.join(p.name for p in files.values())})")
    return "\n".join(lines)


def cmd_run(args) -> int:
    from ..run.runner import run_scenario

    log.info("running %s", args.scenario)
    result = run_scenario(args.scenario, out_dir=args.out, progress=progress_bar(args.quiet),
                          checkpoint_every=args.checkpoint_every, checkpoint_every_sim=args.checkpoint_every_sim,
                          resume=args.resume, restart=args.restart,
                          compare_to_baseline=False if args.no_baseline else None, plots=args.png)
    summary = result.summary.to_dict()
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(format_summary(summary, result.files))
    return ExitCode.OK


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("run", help="run a scenario and write its results")
    p.add_argument("scenario", type=Path, help="scenario file (.toml or .yaml)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: outputs/<scenario name>)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--png", action="store_true",
                   help="also write the engineering figures (hydrographs, outflow, balance, storage) as PNGs")
    p.add_argument("--no-baseline", action="store_true",
                   help="with measures: do not also run the scenario without them (no 'against baseline' report)")
    p.add_argument("--checkpoint-every", type=float, metavar="SECONDS", default=None,
                   help="write <out>/checkpoint.npz every SECONDS of wall-clock time")
    p.add_argument("--checkpoint-every-sim", type=float, metavar="SECONDS", default=None,
                   help="write <out>/checkpoint.npz every SECONDS of simulated time")
    p.add_argument("--resume", action="store_true",
                   help="continue from <out>/checkpoint.npz (refused if the inputs changed)")
    p.add_argument("--restart", action="store_true",
                   help="delete <out>/checkpoint.npz and start from the beginning (without --resume or "
                        "--restart, a run is refused where a checkpoint is)")
    p.set_defaults(func=cmd_run)
    return p
