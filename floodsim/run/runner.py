"""Run a scenario end to end: load → build → simulate → write the run folder → summary.

The run folder's files and the summary's fields are defined once, in :mod:`floodsim.io.runfolder`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from .. import units
from ..build.model import build_model
from ..errors import OutputError
from ..io import runfolder as rf
from ..io.raster import write_geotiff, write_netcdf
from ..scenario.load import load_scenario
from ..scenario.models import Scenario
from . import checkpoint
from .recorder import balance_summary, run_simulation


@dataclass
class RunOutput:
    """What a finished scenario run produced."""

    dataset: xr.Dataset
    summary: rf.RunSummary
    files: dict[str, Path]
    #: The same scenario run without its measures (when it has measures and
    #: ``output.compare_to_baseline``), written to ``<out>/baseline``.
    baseline: "RunOutput | None" = None


def default_output_dir(sc: Scenario) -> Path:
    if sc.output.dir is not None:
        return Path(sc.output.dir)
    stem = sc.source.stem if sc.source is not None else sc.name.replace(" ", "_")
    return Path("outputs") / stem


def summarize(ds: xr.Dataset, sc: Scenario, gauges: dict, wall_s: float) -> rf.RunSummary:
    """Headline numbers of a run (SI): area, depth, speed, the volume balance and each gauge."""
    thr = sc.output.flood_threshold_m
    cell_area = float(ds.attrs["dx_m"]) * float(ds.attrs["dy_m"])
    wet_per_time = (ds["depth"] >= thr).sum(dim=("y", "x")).values * cell_area
    max_depth = ds["max_depth"]
    k = int(np.nanargmax(max_depth.values))
    iy, ix = np.unravel_index(k, max_depth.shape)
    out = rf.RunSummary(
        scenario=sc.name,
        cells=int(ds.sizes["x"] * ds.sizes["y"]),
        cell_size_m=[float(ds.attrs["dx_m"]), float(ds.attrs["dy_m"])],
        duration_s=float(ds["time"].values[-1] - ds["time"].values[0]),
        steps=int(ds.attrs["steps"]),
        wall_time_s=round(wall_s, 3),
        flood_threshold_m=thr,
        peak_flooded_area_m2=float(wet_per_time.max()),
        peak_flooded_area_time_s=float(ds["time"].values[int(np.argmax(wet_per_time))]),
        max_extent_area_m2=float((max_depth >= thr).sum()) * cell_area,
        max_depth_m=float(max_depth.values[iy, ix]),
        max_depth_at=[float(ds["x"].values[ix]), float(ds["y"].values[iy])],
        max_speed_m_s=float(np.nanmax(ds["max_speed"].values)),
        volume_balance_m3=balance_summary(ds),
    )
    if gauges:
        out.gauges = {}
        for name, (x, y) in gauges.items():
            series = ds["depth"].sel(x=x, y=y, method="nearest")
            out.gauges[name] = {
                "x": x, "y": y,
                "max_depth_m": float(ds["max_depth"].sel(x=x, y=y, method="nearest")),
                "time_of_max_depth_s": float(ds["time_of_max_depth"].sel(x=x, y=y, method="nearest")),
                "final_depth_m": float(series.values[-1]),
            }
    return out


def run_scenario(scenario, out_dir=None, progress=None, write: bool = True, *, checkpoint_every=None,
                 checkpoint_every_sim=None, resume: bool = False, checkpoint_path=None,
                 compare_to_baseline: bool | None = None) -> RunOutput:
    """Load (if a path), build, run and write a scenario.

    Parameters
    ----------
    scenario : str, Path or Scenario
        Scenario file or validated scenario.
    out_dir : str or Path, optional
        Output folder (default: the scenario's ``[output] dir``, else ``outputs/<file name>``).
    progress : callable, optional
        ``progress(t_s, duration_s)`` after each output time.
    write : bool
        Write NetCDF, GeoTIFFs and summary.json (atomically).
    checkpoint_every, checkpoint_every_sim : float, optional
        Write a checkpoint every so many wall-clock / simulated seconds (:mod:`floodsim.run.checkpoint`).
    resume : bool
        Continue from the checkpoint (refused if it was written for other inputs).
    checkpoint_path : str or Path, optional
        Checkpoint file (default ``<out>/checkpoint.npz``); deleted once the results are written.
    compare_to_baseline : bool, optional
        Also run the scenario without its measures (into ``<out>/baseline``) and add what the
        measures changed to the summary (``against_baseline``, :mod:`floodsim.analysis.measure_effects`).
        Default: the scenario's ``output.compare_to_baseline``, when it has measures.
    """
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    out = Path(out_dir) if out_dir is not None else default_output_dir(sc)
    if write:
        _check_writable(out)
    model = build_model(sc)
    duration = units.minutes_to_s(sc.simulation.duration_min)
    interval = (units.minutes_to_s(sc.simulation.output_interval_min)
                if sc.simulation.output_interval_min else None)
    ckpt_file = Path(checkpoint_path) if checkpoint_path is not None else out / rf.CHECKPOINT_NPZ
    recorder, after_step, _ = checkpoint.prepare_run(model.simulation, duration, interval, ckpt_file, resume=resume,
                                                     every_wall_s=checkpoint_every, every_sim_s=checkpoint_every_sim)
    wall0 = time.perf_counter()
    ds = run_simulation(model.simulation, duration, interval, progress=progress, recorder=recorder,
                        after_step=after_step)
    wall = time.perf_counter() - wall0
    ds.attrs["scenario"] = sc.name
    summary = summarize(ds, sc, model.gauges, wall)
    if compare_to_baseline is None:
        compare_to_baseline = sc.output.compare_to_baseline
    base = None
    if sc.measures and compare_to_baseline:
        from ..analysis.measure_effects import baseline_scenario, effects_against_baseline

        base = run_scenario(baseline_scenario(sc), out / rf.BASELINE_DIR, progress, write, compare_to_baseline=False)
        summary.against_baseline = effects_against_baseline(ds, base.dataset, model, summary, base.summary)
    files: dict[str, Path] = {}
    if write:
        from ..analysis.products import write_products, write_summary_csv

        files["netcdf"] = write_netcdf(ds, out / rf.RESULTS_NC)
        for var, name in rf.MAXIMA_TIFS.items():
            files[var] = write_geotiff(ds[var], out / name)
        product_files, numbers = write_products(ds, model, out)
        files.update(product_files)
        summary.update(numbers)
        files["summary_csv"] = write_summary_csv(summary.to_dict(), out / rf.SUMMARY_CSV)
        files["summary"] = rf.write_summary_json(summary, out / rf.SUMMARY_JSON)
        if (after_step is not None or resume) and ckpt_file.exists():
            ckpt_file.unlink()   # the results are complete; a stale checkpoint could only mislead
    return RunOutput(ds, summary, files, base)


def _check_writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".floodsim-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"{out}: output folder is not writable ({exc.strerror}); choose another with "
                          "--out.") from None
