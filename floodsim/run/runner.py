"""Run a scenario end to end: load → build → simulate → write the run folder → summary.

The run folder's files and the summary's fields are defined once, in :mod:`floodsim.io.runfolder`.

The output folder holds one whole run, or stays as it was
---------------------------------------------------------
* **While the run simulates** the output folder is not touched, except for the checkpoints a run
  asked for (``<out>/checkpoint.npz`` and its depth frames ``<out>/checkpoint.frames.nc``, written
  atomically beside whatever the folder holds, so a killed run can be resumed with ``--resume``). The
  depth frames are written as the run goes into a scratch sibling ``<out>.floodsim-frames-<host>-<pid>-…``
  (:class:`floodsim.io.frames.FrameStore`; the system temp when ``<out>``'s parent does not exist yet),
  removed once the run folder is written or the run fails (after SIGKILL: by the next run there).
* **Depth frames** (``[output] depth_frames``): ``"all"``, ``"none"`` (maxima only), or ``"auto"``
  (default): all unless cells × output times × 4 B exceeds
  :data:`floodsim.run.budget.FRAMES_AUTO_LIMIT_BYTES` (2 GiB), then maxima only with a warning (logged;
  the CLI prints it). Without frames ``results.nc`` has no ``depth``, and what needs the frames (arrival
  time, flooded area over time, gauges' final depth, depth map layers, the time slider) is left out;
  ``summary.json`` ``skipped`` says what and why.
* **The write phase** writes every file of the run, and ``baseline/`` (the run without its measures),
  into a temporary sibling ``<out>.floodsim-tmp-<host>-<pid>`` on the same file system; reads each
  GeoTIFF back (GDAL can drop a write error on a full disk); calls ``fsync`` on it all; and only then puts the
  sibling in place of ``<out>`` in one step (an atomic exchange of the two folders on Linux; elsewhere
  two renames, the first undone if the second fails) and deletes the former folder.
* So a run killed, interrupted or failing at any point before that step leaves ``<out>`` exactly as
  it was (plus its checkpoint, if it wrote one); after it, ``<out>`` holds the new run whole. SIGINT
  and SIGTERM remove the temporary sibling; after SIGKILL it is removed by the next run into the same
  folder (only siblings of this host's processes that are gone). A former run that a kill between
  the two renames left at ``<out>.floodsim-old-<host>-<pid>`` is put back then too.
* **Foreign files.** A run folder belongs to floodsim: a new run replaces it *whole*, so everything
  else in it (maps and PNGs that ``floodsim map`` wrote there, an earlier run's ``baseline/``, files
  the user added) goes with the former run; a warning names what is removed that the new run did not
  write. To protect unrelated folders, a run refuses (:class:`~floodsim.errors.OutputError`, exit 2)
  to replace an existing folder that is not empty and holds none of ``summary.json``,
  ``results.nc``, ``checkpoint.npz`` (:func:`floodsim.io.runfolder.is_run_folder`), and the folder it
  is started from (or one above it).
* **Write errors** (a full disk, a quota, a read-only file system, permissions: any ``OSError``, and a
  writer library's failure when the disk turns out to be full) become an OutputError (exit 2) that
  names the folder and the error and, for a full disk, the space needed (estimate: what was written
  plus the datasets' size in memory) and the space free; the temporary sibling is removed.
* **Checkpoints are never overwritten unasked**: when ``<out>/checkpoint.npz`` exists, a run without
  ``resume`` (continue from it) or ``restart`` (delete it and start again) is refused
  (:class:`~floodsim.errors.InputDataError`, exit 2).
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from .. import units
from ..build.model import build_model
from . import budget
from ..errors import FloodsimError, InputDataError, OutputError
from ..io import runfolder as rf
from ..io.atomic import fsync_tree, replace_dir, tree_size
from ..io.frames import clear_stale_scratch
from ..io.raster import write_geotiff, write_netcdf
from ..scenario.load import load_scenario
from ..scenario.models import Scenario
from . import checkpoint
from .recorder import Recorder, balance_summary, run_simulation
from .series import SeriesRecorder

log = logging.getLogger("floodsim")

@dataclass
class RunOutput:
    """What a finished scenario run produced.

    ``dataset["depth"]`` (when the run kept its depth frames) is lazy: read one frame at a time from the
    written ``results.nc`` (from a scratch file in the system temp with ``write=False``)."""

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


def summarize(ds: xr.Dataset, sc: Scenario, gauges: dict, wall_s: float,
              design_levels: dict | None = None) -> rf.RunSummary:
    """Headline numbers of a run (SI): area, depth, speed, the volume balance, each gauge, the outflow
    and each storage measure.

    Flooded areas use the flood depth (:mod:`floodsim.analysis.flooding`: water held by design in
    measures is not flooding). A gauge whose depth never exceeded ``output.wet_threshold_m`` is "dry".
    The depth frames are read one at a time; without them (``[output] depth_frames``) the flooded area
    over time and the gauges' final depths are left out and ``skipped`` says why.
    """
    from ..analysis.flooding import (
        depth_frame,
        flood_depth,
        has_depth_frames,
        iter_depth_frames,
        no_frames_reason,
        storage_depth_of,
    )
    from ..analysis.performance import outflow_peaks, storage_performance

    thr = sc.output.flood_threshold_m
    cell_area = float(ds.attrs["dx_m"]) * float(ds.attrs["dy_m"])
    storage = storage_depth_of(ds)
    frames = has_depth_frames(ds)
    skipped = {}
    peak_area = peak_area_t = None
    if frames:   # flooded area per output time, one frame at a time
        wet_per_time = np.array([(np.nan_to_num(flood_depth(f, storage), nan=-1.0) >= thr).sum()
                                 for _, _, f in iter_depth_frames(ds)]) * cell_area
        peak_area = float(wet_per_time.max())
        peak_area_t = float(ds["time"].values[int(np.argmax(wet_per_time))])
    else:
        why = no_frames_reason(ds)
        skipped.update({"peak_flooded_area_m2": f"the flooded area over time needs the depth frames: {why}",
                        "depth map layers and time slider": f"need the depth frames: {why}"})
    max_flood = flood_depth(ds["max_depth"].values, storage)
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
        peak_flooded_area_m2=peak_area,
        peak_flooded_area_time_s=peak_area_t,
        max_extent_area_m2=float((np.nan_to_num(max_flood, nan=-1.0) >= thr).sum()) * cell_area,
        max_depth_m=float(max_depth.values[iy, ix]),
        max_depth_at=[float(ds["x"].values[ix]), float(ds["y"].values[iy])],
        max_speed_m_s=float(np.nanmax(ds["max_speed"].values)),
        volume_balance_m3=balance_summary(ds),
    )
    if gauges:
        out.gauges = {}
        wet = sc.output.wet_threshold_m
        last = depth_frame(ds, -1) if frames else None     # one frame read
        for name, (x, y) in gauges.items():
            peak = float(ds["max_depth"].sel(x=x, y=y, method="nearest"))
            if not peak > wet:
                out.gauges[name] = "dry"
                continue
            out.gauges[name] = {
                "x": x, "y": y,
                "max_depth_m": peak,
                "time_of_max_depth_s": float(ds["time_of_max_depth"].sel(x=x, y=y, method="nearest")),
            }
            if last is not None:
                out.gauges[name]["final_depth_m"] = float(last.sel(x=x, y=y, method="nearest").values)
        if not frames:
            skipped["gauges final_depth_m"] = f"needs the depth frames: {no_frames_reason(ds)}"
    out.skipped = skipped or None
    if "series_time" in ds.coords:
        out.outflow = outflow_peaks(ds)
        out.storage_measures = storage_performance(ds, design_levels) or None
    if "node" in ds.dims:   # dual drainage (floodsim.sewer)
        from ..sewer.results import sewer_summary

        out.sewer = sewer_summary(ds)
    return out


def make_series(sc: Scenario, model) -> SeriesRecorder:
    """The fine-series recorder of a built model: its gauges, outflow, devices and surface stores."""
    stores = {}
    if model.storage_depth is not None:
        for m in model.measures:
            report = m.get("report") or {}
            if report.get("storage_top") is not None:
                stores[m["name"]] = (report["cells_mask"], model.storage_depth)
    return SeriesRecorder(model.simulation, model.gauges, sc.output.series_step_s, stores)


def design_levels(model) -> dict:
    """Measure name -> the level above which it spills [m], where one level holds for the whole measure
    (a pond of one basin: its rim)."""
    out = {}
    for m in model.measures:
        per_feature = (m.get("report") or {}).get("per_feature") or []
        rims = {pf["rim_level_m"] for pf in per_feature if "rim_level_m" in pf}
        if len(rims) == 1:
            out[m["name"]] = rims.pop()
    return out


def run_scenario(scenario, out_dir=None, progress=None, write: bool = True, *, checkpoint_every=None,
                 checkpoint_every_sim=None, resume: bool = False, restart: bool = False, checkpoint_path=None,
                 compare_to_baseline: bool | None = None, plots: bool = False) -> RunOutput:
    """Load (if a path), build, run and write a scenario.

    The output folder ends up holding the whole new run or stays as it was (module docstring).

    Parameters
    ----------
    scenario : str, Path or Scenario
        Scenario file or validated scenario.
    out_dir : str or Path, optional
        Output folder (default: the scenario's ``[output] dir``, else ``outputs/<file name>``).
    progress : callable, optional
        ``progress(t_s, duration_s)`` after each output time.
    write : bool
        Write the run folder (NetCDF, GeoTIFFs, products, summary.json): into a temporary sibling
        that then replaces the folder whole.
    checkpoint_every, checkpoint_every_sim : float, optional
        Write a checkpoint every so many wall-clock / simulated seconds (:mod:`floodsim.run.checkpoint`).
    resume : bool
        Continue from the checkpoint (refused if it was written for other inputs).
    restart : bool
        Delete an existing checkpoint and start from the beginning. Without ``resume`` or ``restart``
        an existing checkpoint is refused (:class:`~floodsim.errors.InputDataError`) rather than lost.
    checkpoint_path : str or Path, optional
        Checkpoint file (default ``<out>/checkpoint.npz``); deleted once the results are written.
    compare_to_baseline : bool, optional
        Also run the scenario without its measures (into ``<out>/baseline``) and add what the
        measures changed to the summary (``against_baseline``, :mod:`floodsim.analysis.measure_effects`).
        Default: the scenario's ``output.compare_to_baseline``, when it has measures.
    plots : bool
        Also write the engineering figures (:mod:`floodsim.plots`) into the run folder.

    Raises
    ------
    OutputError
        The folder cannot be written (checked before the run), is not a floodsim run folder, or
        writing failed (the folder is then as it was).
    InputDataError
        A checkpoint is in the way (neither ``resume`` nor ``restart``), or cannot be resumed.
    """
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    out = Path(out_dir) if out_dir is not None else default_output_dir(sc)
    ckpt_file = Path(checkpoint_path) if checkpoint_path is not None else out / rf.CHECKPOINT_NPZ
    checkpointing = checkpoint_every is not None or checkpoint_every_sim is not None
    if resume and restart:
        raise InputDataError("--resume and --restart exclude each other: --resume continues from the "
                             "checkpoint, --restart deletes it and starts again.")
    if write:
        check_output_folder(out)
    if not (resume or restart) and (write or checkpointing):
        _refuse_checkpoint_in_the_way(ckpt_file)
    model = build_model(sc)
    budget.release_freed_memory()   # the build's temporaries (tiles, distance transform) back to the system
    duration, interval = _times(sc)
    need = budget.estimate_model(model, duration, interval)
    if not need.fits:
        raise InputDataError(budget.refusal(need, str(sc.source or sc.name)))
    frames = depth_frames(sc, model, duration, interval)
    scratch = rf.frames_scratch(out) if write else None
    recorders: list[Recorder] = []
    kept = False
    try:
        recorder, after_step, _ = checkpoint.prepare_run(model.simulation, duration, interval, ckpt_file,
                                                         resume=resume, every_wall_s=checkpoint_every,
                                                         every_sim_s=checkpoint_every_sim,
                                                         series=make_series(sc, model), frames=frames[0],
                                                         scratch=scratch)
        recorders.append(recorder)
        if restart:
            _discard_checkpoint(ckpt_file)
        ds, summary = _simulate(sc, model, progress, recorder=recorder, after_step=after_step, frames=frames)
        if compare_to_baseline is None:
            compare_to_baseline = sc.output.compare_to_baseline
        base = None
        if sc.measures and compare_to_baseline:
            from ..analysis.measure_effects import baseline_scenario, effects_against_baseline

            base_sc = baseline_scenario(sc)
            base_model = build_model(base_sc)
            budget.release_freed_memory()
            base_rec = Recorder(base_model.simulation, make_series(base_sc, base_model), frames=frames[0],
                                scratch=scratch)
            recorders.append(base_rec)
            base_ds, base_summary = _simulate(base_sc, base_model, progress, recorder=base_rec, frames=frames)
            base = (base_ds, base_summary, base_model)
            summary.against_baseline = effects_against_baseline(ds, base_ds, model, summary, base_summary)
        if not write:   # the datasets read their frames from the system temp while they exist
            kept = True
            return RunOutput(ds, summary, {}, None if base is None else RunOutput(base[0], base[1], {}))
        runs = {".": (ds, summary, model)}
        if base is not None:
            runs[rf.BASELINE_DIR] = base
        files = _write_run_folder(out, runs, plots)
        for sub, run in runs.items():   # the frames are in results.nc now: read them from there
            _frames_from_results(run[0], out / sub / rf.RESULTS_NC)
    finally:   # written, or failed: the frames' scratch folders go
        if not kept:
            for rec in recorders:
                rec.close()
    if after_step is not None or resume:
        checkpoint.remove(ckpt_file)   # (one kept elsewhere than <out>) the results are complete: it could only mislead
    base_out = None if base is None else RunOutput(base[0], base[1], files[rf.BASELINE_DIR])
    return RunOutput(ds, summary, files["."], base_out)


def depth_frames(sc: Scenario, model, duration: float, interval: float | None) -> tuple[bool, str | None]:
    """Whether the run keeps its depth frames (``[output] depth_frames``), and why not; warns when
    ``"auto"`` leaves them out (:func:`floodsim.run.budget.depth_frames_choice`)."""
    sim = model.simulation
    ny, nx = sim.grid.shape
    times = len(sim.output_times(0.0, duration, interval))
    keep, why = budget.depth_frames_choice(sc.output.depth_frames, ny * nx, times)
    if not keep and sc.output.depth_frames == "auto":
        log.warning("%s: %s.", sc.source or sc.name, why)
    return keep, why


def _frames_from_results(ds: xr.Dataset, nc: Path) -> None:
    """Point ``ds["depth"]`` (lazy, on the scratch file) at the same frames in the written ``results.nc``."""
    if "depth" not in ds.data_vars:
        return
    from ..io.frames import lazy_frames

    v = ds["depth"].variable
    ds["depth"] = xr.Variable(v.dims, lazy_frames(nc, "depth"), v.attrs, v.encoding)


def _times(sc: Scenario) -> tuple[float, float | None]:
    """(duration, output interval) of a scenario's run [s]."""
    duration = units.minutes_to_s(sc.simulation.duration_min)
    interval = (units.minutes_to_s(sc.simulation.output_interval_min)
                if sc.simulation.output_interval_min else None)
    return duration, interval


def _simulate(sc: Scenario, model, progress, recorder=None,
              after_step=None, frames=(True, None)) -> tuple[xr.Dataset, rf.RunSummary]:
    """Run a built model's time loop; return its dataset and summary (without the products).
    ``frames``: (keep the depth frames, why not) of :func:`depth_frames`."""
    duration, interval = _times(sc)
    if recorder is None:
        recorder = Recorder(model.simulation, make_series(sc, model), frames=frames[0])
    wall0 = time.perf_counter()
    try:
        # the run ends here: the gridded maxima are read from the simulation when written, not copied
        ds = run_simulation(model.simulation, duration, interval, progress=progress, recorder=recorder,
                            after_step=after_step, lazy_maxima=True)
        model.simulation.end_run()   # the discharges and band work go before anything is written
    finally:   # a sewer network's SWMM run: one per process, released even when the run fails
        if getattr(model, "sewer", None) is not None:
            model.sewer.close()
    wall = time.perf_counter() - wall0
    ds.attrs["scenario"] = sc.name
    if not frames[0] and frames[1]:
        ds.attrs["depth_frames_reason"] = frames[1]
    if model.storage_depth is not None:
        from ..analysis.flooding import STORAGE_DEPTH_VAR
        from ..variables import attrs

        valid = model.simulation.grid.valid
        ds[STORAGE_DEPTH_VAR] = (("y", "x"), np.where(valid, model.storage_depth, np.nan).astype(np.float32),
                                 attrs(STORAGE_DEPTH_VAR))
    return ds, summarize(ds, sc, model.gauges, wall, design_levels(model))


# ------------------------------------------------------------------------------------- checkpoints
def _refuse_checkpoint_in_the_way(ckpt_file: Path) -> None:
    """Refuse to run over the checkpoint of an unfinished run (it would be overwritten or deleted)."""
    if not ckpt_file.is_file():
        return
    meta = checkpoint.read_meta(ckpt_file)
    at = ""
    if meta is not None and "t_s" in meta and "duration_s" in meta:
        at = f" (stopped at t = {float(meta['t_s']):,.0f} s of {float(meta['duration_s']):,.0f} s)"
    raise InputDataError(f"{ckpt_file}: the checkpoint of an unfinished run is there{at}; run again with "
                         "--resume to continue it, or with --restart to discard it and start from the "
                         "beginning.")


def _discard_checkpoint(ckpt_file: Path) -> None:
    try:
        if not ckpt_file.exists() and not checkpoint.frames_file(ckpt_file).exists():
            return
        checkpoint.remove(ckpt_file)
    except OSError as exc:
        raise OutputError(f"{ckpt_file}: cannot delete the checkpoint for --restart "
                          f"({exc.strerror}).") from None
    log.info("deleted %s (--restart)", ckpt_file)


# ------------------------------------------------------------------------------------- the run folder
def check_output_folder(out: Path, tidy: bool = True) -> None:
    """Before the run (and at ``validate``): refuse a folder the run must not replace or cannot write;
    with ``tidy``, remove what killed runs into it left beside it. Leaves nothing behind (a run refused
    later leaves no folder)."""
    target = out.resolve()
    cwd = Path.cwd().resolve()
    if target == Path(target.anchor) or cwd == target or target in cwd.parents:
        raise OutputError(f"{out}: a run replaces its whole output folder, and this is the folder floodsim "
                          "was started from (or one above it); choose another with --out.")
    try:
        if os.path.lexists(target) and not target.is_dir():
            raise OSError(errno.ENOTDIR, "it is a file, not a folder")
        if target.is_dir() and not rf.is_run_folder(target):
            names = sorted(p.name for p in target.iterdir())
            shown = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
            raise OutputError(f"{out}: the folder holds other files ({shown}) and no floodsim run (no "
                              f"{', '.join(rf.RUN_MARKERS)}); a run replaces its whole output folder, so it "
                              "will not write there. Choose a new or empty folder with --out.")
        if tidy:
            _clear_stale_siblings(target)
        ancestor = target.parent       # the nearest existing folder above: the run creates the rest
        while not os.path.lexists(ancestor) and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            raise OSError(errno.ENOTDIR, f"{ancestor} is a file, not a folder")
        os.rmdir(tempfile.mkdtemp(prefix=f".{target.name}.floodsim-probe-", dir=ancestor))
        if target.is_dir():        # the former run must be deletable once the new one replaces it
            probe = target / ".floodsim-write-test"
            probe.write_text("")
            probe.unlink()
    except OSError as exc:
        raise OutputError(f"{out}: output folder is not writable ({exc.strerror or exc}); choose another "
                          "with --out.") from None


def _clear_stale_siblings(target: Path) -> None:
    """Remove the temporary siblings of ``target`` left by killed runs of this host (staging folders and
    depth-frame scratch folders); put back a former run that a kill in the middle of a two-rename swap
    left aside (when ``target`` is missing)."""
    host = rf.process_tag().rpartition("-")[0]
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return
    stale: dict[str, list[Path]] = {rf.STAGING_INFIX: [], rf.ASIDE_INFIX: []}
    for p in entries:
        for infix, found in stale.items():
            head = target.name + infix
            if p.name.startswith(head):
                h, _, pid = p.name[len(head):].rpartition("-")
                if h == host and pid.isdigit() and int(pid) != os.getpid() and not rf.pid_alive(int(pid)):
                    found.append(p)
    for p in stale[rf.ASIDE_INFIX]:
        if not os.path.lexists(target):
            os.rename(p, target)
            log.warning("%s: put back the former run, which a run killed while replacing it had left at %s",
                        target, p.name)
        else:
            shutil.rmtree(p, ignore_errors=True)
    for p in stale[rf.STAGING_INFIX]:
        shutil.rmtree(p, ignore_errors=True)
    clear_stale_scratch(target.parent, f"{target.name}{rf.FRAMES_INFIX}")   # depth frames of killed runs


class _Unreadable(Exception):
    """A written raster cannot be read back (GDAL dropped a write error)."""


def _write_files(folder: Path, ds: xr.Dataset, summary: rf.RunSummary, model) -> dict[str, Path]:
    """Write one run's files into ``folder`` (created); the summary gets the products' numbers."""
    from ..analysis.products import write_products, write_summary_csv

    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    files["netcdf"] = write_netcdf(ds, folder / rf.RESULTS_NC)
    for var, name in rf.MAXIMA_TIFS.items():
        files[var] = write_geotiff(ds[var], folder / name)
    product_files, numbers = write_products(ds, model, folder)
    files.update(product_files)
    if "node" in ds.dims and "gpkg" in files:   # the sewer network's layers (floodsim.sewer.results)
        from ..sewer.results import write_network_layers

        write_network_layers(ds, files["gpkg"], model.simulation.grid.crs)
    skipped = {**(summary.skipped or {}), **numbers.pop("skipped", {})}
    summary.update(numbers)
    summary.skipped = skipped or None
    files["summary_csv"] = write_summary_csv(summary.to_dict(), folder / rf.SUMMARY_CSV)
    files["summary"] = rf.write_summary_json(summary, folder / rf.SUMMARY_JSON)
    return files


def _write_run_folder(out: Path, runs: dict[str, tuple], plots: bool = False) -> dict[str, dict[str, Path]]:
    """Write ``runs`` (sub-folder -> (dataset, summary, model); "." is the run itself) into a temporary
    sibling of ``out`` and put it in place of ``out`` whole; return each run's files (under ``out``)."""
    target = out.resolve()
    staging = rf.staging_dir(target)
    published = False
    try:
        if os.path.lexists(staging):                 # this process's own leftover
            shutil.rmtree(staging)
        staging.parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
        written = {sub: _write_files(staging / sub, *run) for sub, run in runs.items()}
        if plots:   # the engineering figures of the run, against its baseline when there is one
            from ..plots import write_plots

            ds, summary, model = runs["."]
            base = runs.get(rf.BASELINE_DIR, (None,))[0]
            for k, path in enumerate(write_plots(ds, staging, base, design_levels(model))):
                written["."][f"plot_{k}"] = path
        bad = rf.unreadable_rasters(staging)
        if bad:
            raise _Unreadable(", ".join(str(p.relative_to(staging)) for p in bad))
        fsync_tree(staging)
        foreign = _foreign_entries(target, staging)
        former = replace_dir(staging, target, rf.aside_dir(target))
        published = True
        if foreign:
            log.warning("%s: replaced the former run; also removed what it held that this run does not "
                        "write: %s", out, ", ".join(foreign[:6]) + (", …" if len(foreign) > 6 else ""))
        if former is not None:
            shutil.rmtree(former, ignore_errors=True)
    except KeyboardInterrupt as exc:
        if published:
            exc.add_note(f"the run had already been written whole to {out}")
        raise
    except Exception as exc:
        if published:
            raise
        nbytes = sum(int(run[0].nbytes) for run in runs.values())
        raise _write_error(out, staging, exc, nbytes) from None
    finally:
        if not published and os.path.lexists(staging):
            shutil.rmtree(staging, ignore_errors=True)
    return {sub: {k: out / p.relative_to(staging) for k, p in files.items()}
            for sub, files in written.items()}


def _foreign_entries(target: Path, staging: Path) -> list[str]:
    """Names in the former run folder that the new run does not write (they go with the former run)."""
    if not target.is_dir():
        return []
    ours = {p.name for p in staging.iterdir()} | {rf.CHECKPOINT_NPZ, rf.CHECKPOINT_FRAMES_NC, rf.BASELINE_DIR}
    return sorted(p.name for p in target.iterdir()
                  if p.name not in ours and not (p.name.startswith(".") and p.name.endswith(".part"))
                  and p.name != ".floodsim-write-test")


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TiB"


def _probe_disk(folder: Path) -> OSError | None:
    """Write (and fsync) 1 MiB in ``folder``: the OSError that says what is wrong with the disk, or None."""
    probe = folder / ".floodsim-space-probe"
    try:
        with open(probe, "wb") as f:
            f.write(b"\0" * 2**20)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        return OSError(exc.errno, exc.strerror)      # (the probe's own file name would only confuse)
    finally:
        try:
            probe.unlink()
        except OSError:
            pass
    return None


def _write_error(out: Path, staging: Path, exc: Exception, nbytes: int) -> Exception:
    """The error for a failure of the write phase: an OutputError when the disk (or the folder's
    permissions) is the cause; ``exc`` itself when it is not (a bug, reported as one)."""
    written = tree_size(staging)
    need = written + nbytes
    try:
        free = shutil.disk_usage(staging.parent).free
    except OSError:
        free = None
    cause = exc if isinstance(exc, OSError) else None
    if cause is None and isinstance(exc, OutputError) and isinstance(exc.__context__, OSError):
        cause = exc.__context__          # atomic_path could not create a file
    detail = ""
    if cause is None:
        if isinstance(exc, FloodsimError):
            return exc
        # a writer library (netCDF/HDF5, GDAL, pyogrio) failed without an errno: ask the disk
        cause = _probe_disk(staging) if staging.is_dir() else None
        if cause is None and free is not None and free < need:
            cause = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        if cause is None:
            if isinstance(exc, _Unreadable):
                return OutputError(f"{out}: {exc} could not be read back after writing; the folder was left "
                                   "as it was. Check the disk and run again.")
            return exc
        first = str(exc).splitlines()[0][:200] if str(exc) else ""
        detail = f"; {type(exc).__name__}: {first}"
    what = cause.strerror or str(cause)
    if cause.filename:
        name = Path(os.fsdecode(cause.filename)).name
        if name.startswith(".") and name.endswith(".part"):        # atomic_path's temporary name
            name = name[1:-len(".part")].rpartition(".")[0]
        what += f", writing {name}"
    msg = f"{out}: cannot write the run's results ({what}{detail}); the folder was left as it was."
    if cause.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        room = f"{_size(free)} are free there" if free is not None else "the free space is unknown"
        quota = " (a quota may allow less)" if cause.errno != errno.ENOSPC else ""
        msg += (f" The run needs about {_size(need)} and {room}{quota}: free some space or choose another "
                "folder with --out.")
    elif cause.errno == errno.EROFS:
        msg += " The file system is read-only: choose another folder with --out."
    elif cause.errno in (errno.EACCES, errno.EPERM):
        msg += " Check the folder's permissions or choose another with --out."
    else:
        msg += " Choose another folder with --out."
    return OutputError(msg)
