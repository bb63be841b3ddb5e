"""The run folder: the one written contract between a run and everything that reads it.

``floodsim run`` writes one folder per run; ``compare``, ``map``, ``sweep`` and the tests read it.
This module is the single home of its file names (and of the folders ``compare`` and ``sweep``
write), of the typed :class:`RunSummary` (``summary.json``) and of the one loader, :func:`load_run`.
Nothing here computes physics or hazard: a reader that needs more derives it from what is loaded.

A run folder holds:

=========================  ===============================================================================
``results.nc``             the run's dataset (depth frames, maxima, volume series; CF-1.8)
``max_depth.tif`` …        ``max_depth``, ``max_speed``, ``time_of_max_depth`` as COGs
``hazard_rating.tif``      UK hazard rating; ``hazard_class.tif`` its class codes; ``arrival_time.tif``
``flood.gpkg``             layers ``flood_extent``, ``buildings`` (exposure), ``measures``
``summary.json``           :class:`RunSummary`, written last: its presence marks a complete run
``summary.csv``            the summary flattened, one metric a row
``baseline/``              the same scenario without its measures (a run folder of its own)
``checkpoint.npz``         while a run with checkpoints is under way (deleted when it completes)
``checkpoint.frames.nc``   the depth frames recorded up to that checkpoint (beside it, the same lifetime)
=========================  ===============================================================================

``results.nc`` has no ``depth`` variable when the run wrote maxima only (``[output] depth_frames``);
its attributes ``depth_frames = "none"`` and ``depth_frames_reason`` say so, and ``summary.json``
(``skipped``) what was left out and why.

``floodsim run`` writes a folder whole or not at all: the files go into a temporary sibling folder
(:func:`staging_dir`) that replaces the run folder in one step once everything is written
(:mod:`floodsim.run.runner`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..errors import InputDataError

# ------------------------------------------------------------------------------------- file names
RESULTS_NC = "results.nc"
SUMMARY_JSON = "summary.json"
SUMMARY_CSV = "summary.csv"
FLOOD_GPKG = "flood.gpkg"
HAZARD_RATING_TIF = "hazard_rating.tif"
HAZARD_CLASS_TIF = "hazard_class.tif"
ARRIVAL_TIME_TIF = "arrival_time.tif"
#: The run maxima written as GeoTIFFs beside results.nc: dataset variable -> file name.
MAXIMA_TIFS = {"max_depth": "max_depth.tif", "max_speed": "max_speed.tif",
               "time_of_max_depth": "time_of_max_depth.tif"}
BASELINE_DIR = "baseline"
CHECKPOINT_NPZ = "checkpoint.npz"
#: The depth frames recorded up to the checkpoint, beside it (:mod:`floodsim.run.checkpoint`).
CHECKPOINT_FRAMES_NC = "checkpoint.frames.nc"
#: Any of these marks a folder as floodsim's (a run, or a run under way): it may be replaced by a new run.
RUN_MARKERS = (SUMMARY_JSON, RESULTS_NC, CHECKPOINT_NPZ)
#: Infix of the temporary siblings of a run folder: ``<out>.floodsim-tmp-<host>-<pid>`` (the new run
#: being written) and ``<out>.floodsim-old-<host>-<pid>`` (the former run, during the swap).
STAGING_INFIX = ".floodsim-tmp-"
ASIDE_INFIX = ".floodsim-old-"
#: Infix of the scratch folder of a run's depth frames while it runs, a sibling of the run folder:
#: ``<out>.floodsim-frames-<host>-<pid>-<random>`` (:class:`floodsim.io.frames.FrameStore`).
FRAMES_INFIX = ".floodsim-frames-"

#: Layers of flood.gpkg.
LAYER_FLOOD_EXTENT = "flood_extent"
LAYER_BUILDINGS = "buildings"
LAYER_MEASURES = "measures"
#: The sewer network of a dual-drainage run (:func:`floodsim.sewer.results.write_network_layers`): pipes
#: by peak capacity used, nodes with peak head and surcharge.
LAYER_SEWER_PIPES = "sewer_pipes"
LAYER_SEWER_NODES = "sewer_nodes"

# what `floodsim compare` writes into its folder
COMPARISON_CSV = "comparison.csv"
CHANGED_BUILDINGS_GPKG = "changed_buildings.gpkg"
CHANGED_BUILDINGS_CSV = "changed_buildings.csv"
LAYER_CHANGED_BUILDINGS = "changed_buildings"


def difference_file(what: str, suffix: str = "", ext: str = "tif") -> str:
    """``max_depth_diff.tif``, ``hazard_rating_diff_<label>.tif``, ``depth_diff.png``: a comparison file."""
    return f"{what}_diff{suffix}.{ext}"


# what `floodsim sweep` writes
SWEEP_MEMBERS_DIR = "members"
MEMBER_JSON = "member.json"
MEMBER_ERROR_TXT = "error.txt"
SWEEP_CSV = "sweep.csv"
SWEEP_NC = "sweep.nc"
EAD_CSV = "ead.csv"


def process_tag() -> str:
    """``<host>-<pid>`` of this process, as the temporary siblings of a run folder are named."""
    import socket

    host = "".join(c if c.isalnum() or c in "._" else "_" for c in socket.gethostname()) or "host"
    return f"{host}-{os.getpid()}"


def pid_alive(pid: int) -> bool:
    """True unless process ``pid`` of this host is known to be gone (the owner of a temporary sibling
    named by :func:`process_tag`). Off POSIX it cannot tell without side effects: always True (never
    remove)."""
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True            # someone else's process
    return True


def staging_dir(run_dir: Path) -> Path:
    """The temporary sibling a run is written into before it replaces ``run_dir``: same parent, so
    the same file system, and named after this host and process."""
    run_dir = Path(run_dir)
    return run_dir.with_name(f"{run_dir.name}{STAGING_INFIX}{process_tag()}")


def aside_dir(run_dir: Path) -> Path:
    """Where the former run folder goes during the swap (only where folders cannot be exchanged)."""
    run_dir = Path(run_dir)
    return run_dir.with_name(f"{run_dir.name}{ASIDE_INFIX}{process_tag()}")


def frames_scratch(run_dir: Path) -> tuple[Path, str] | None:
    """(folder, name prefix) of the scratch folder for a run's depth frames: beside ``run_dir`` (same file
    system) when its parent folder exists, else None (the system temp)."""
    run_dir = Path(run_dir).resolve()
    if not run_dir.parent.is_dir():
        return None
    return run_dir.parent, f"{run_dir.name}{FRAMES_INFIX}"


def is_run_folder(path: Path) -> bool:
    """True for a folder floodsim may replace: empty, or holding one of :data:`RUN_MARKERS`."""
    path = Path(path)
    if not path.is_dir():
        return False
    return not any(path.iterdir()) or any(os.path.lexists(path / name) for name in RUN_MARKERS)


def unreadable_rasters(folder: Path) -> list[Path]:
    """The GeoTIFFs under ``folder`` whose first band cannot be read back.

    GDAL can drop a write error (a full disk) on a small raster and close the file as if it were
    whole; reading it back is the only check.
    """
    import rasterio

    bad = []
    for tif in sorted(Path(folder).rglob("*.tif")):
        try:
            with rasterio.open(tif) as src:
                src.read(1)
        except Exception:  # noqa: BLE001 - rasterio/GDAL raise several types for a broken file
            bad.append(tif)
    return bad


# ------------------------------------------------------------------------------------- the summary
@dataclass
class RunSummary:
    """The headline numbers of a run (``summary.json``). SI units, named in each key.

    The fields up to ``volume_balance_m3`` come from the run itself (:mod:`floodsim.run.runner`),
    ``gauges`` from the gauge layer, ``against_baseline`` from the comparison with the run without
    measures (:mod:`floodsim.analysis.measure_effects`), and the rest from the run products
    (:mod:`floodsim.analysis.products`). Optional parts are ``None`` when they do not apply and are
    then left out of the JSON.
    """

    scenario: str
    cells: int
    cell_size_m: list
    duration_s: float
    steps: int
    wall_time_s: float
    flood_threshold_m: float
    #: None (left out of the JSON) when the run wrote no depth frames (``[output] depth_frames``).
    peak_flooded_area_m2: float | None
    peak_flooded_area_time_s: float | None
    max_extent_area_m2: float
    max_depth_m: float
    max_depth_at: list
    max_speed_m_s: float
    #: Cumulative volumes [m³]: rain, inflow, boundary_in/out, infiltration, roof_drainage,
    #: measure_outflow, initial, stored, surface, measures, error, relative_error.
    volume_balance_m3: dict
    gauges: dict | None = None
    against_baseline: dict | None = None
    flooded_area_m2_by_depth_class: dict | None = None
    hazard_area_m2_by_class: dict | None = None
    buildings: int | None = None
    buildings_flooded: int | None = None
    buildings_by_hazard_class: dict | None = None
    peak_volume_m3_by_store: dict | None = None
    peak_boundary_outflow_m3_s: float | None = None
    peak_boundary_outflow_time_s: float | None = None
    #: Peak outflow over the open edges from the fine series (:func:`floodsim.analysis.performance.outflow_peaks`).
    outflow: dict | None = None
    #: Per storage measure: volume held, levels, freeboard, spill, inflow/outflow peaks, emptying
    #: (:func:`floodsim.analysis.performance.storage_performance`).
    storage_measures: dict | None = None
    #: The sewer network of a dual-drainage run (:func:`floodsim.sewer.results.sewer_summary`): the combined
    #: balance, SWMM's continuity error, surcharged nodes, full pipes.
    sewer: dict | None = None
    #: What the run left out and why: product -> reason (a run without depth frames has no arrival
    #: time, flooded area over time, gauge final depths, depth map layers or time slider).
    skipped: dict | None = None

    #: Fields a summary may lack (None): the run had no depth frames to compute them from.
    NULLABLE = ("peak_flooded_area_m2", "peak_flooded_area_time_s")

    def to_dict(self) -> dict:
        """JSON-ready dict in field order, without the parts that do not apply."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def update(self, values: dict) -> None:
        """Set several fields at once (unknown keys are a bug: they raise)."""
        names = {f.name for f in fields(self)}
        unknown = set(values) - names
        if unknown:
            raise KeyError(f"RunSummary has no field(s) {sorted(unknown)}")
        for k, v in values.items():
            setattr(self, k, v)

    @classmethod
    def from_dict(cls, data: dict, source: Path | str = "summary.json") -> "RunSummary":
        """Read a summary dict; keys this version does not know are ignored, missing ones are an error."""
        names = {f.name for f in fields(cls)}
        try:
            return cls(**{**dict.fromkeys(cls.NULLABLE), **{k: v for k, v in data.items() if k in names}})
        except TypeError as exc:
            raise InputDataError(f"{source}: not a complete floodsim run summary ({exc}); run the scenario "
                                 "again.") from None


def write_summary_json(summary: RunSummary, path: Path) -> Path:
    """Write ``summary.json`` atomically."""
    from .atomic import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(summary.to_dict(), indent=2))
    return path


def read_summary(run_dir: Path) -> RunSummary | None:
    """The summary of a complete run in ``run_dir``; None when there is none or it is unreadable."""
    try:
        data = json.loads((Path(run_dir) / SUMMARY_JSON).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or "volume_balance_m3" not in data:
        return None
    try:
        return RunSummary.from_dict(data, Path(run_dir) / SUMMARY_JSON)
    except InputDataError:
        return None


# ------------------------------------------------------------------------------------- the loader
@dataclass
class Run:
    """A finished run folder as its readers see it.

    ``ds`` is ``results.nc`` loaded into memory (with its CRS), except the depth frames: ``depth`` is a
    lazy dask array read from the file one frame at a time (:func:`floodsim.io.frames.lazy_frames`);
    ``buildings`` and
    ``measures`` are the layers of ``flood.gpkg`` in the results' CRS (None when absent); ``summary``
    is None for a folder without ``summary.json``. ``hazard_rating`` holds ``hazard_rating.tif``
    (None when absent or on another grid: readers recompute it from the maxima).
    """

    path: Path
    ds: object
    summary: RunSummary | None
    hazard_rating: object = None
    buildings: object = None
    measures: object = None
    #: the sewer network's ``sewer_pipes`` and ``sewer_nodes`` layers (runs with a ``[sewer]``), else None
    sewer_pipes: object = None
    sewer_nodes: object = None
    notes: list = field(default_factory=list)

    @property
    def name(self) -> str:
        """The scenario's name (from the summary or the dataset), else the folder's name."""
        if self.summary is not None:
            return str(self.summary.scenario)
        return str(self.ds.attrs.get("scenario") or self.path.name)

    @property
    def threshold_m(self) -> float:
        """The flood threshold the run was summarised with [m] (0.1 m when unknown)."""
        return float(self.summary.flood_threshold_m) if self.summary is not None else 0.1

    @property
    def max_depth(self):
        return self.ds["max_depth"]

    @property
    def max_speed(self):
        return self.ds["max_speed"]

    @property
    def crs(self):
        return self.ds.rio.crs

    @property
    def transform(self):
        return self.ds.rio.transform(recalc=False)


def load_run(path: str | Path, *, need_crs: bool = False) -> Run:
    """Load a run folder written by ``floodsim run``.

    Parameters
    ----------
    path : str or Path
        The run folder.
    need_crs : bool
        Refuse results without a CRS (maps cannot place them).

    Raises
    ------
    InputDataError
        ``results.nc`` is missing or unreadable, ``summary.json`` is not valid JSON, or (with
        ``need_crs``) the results have no CRS.
    """
    import geopandas as gpd
    import pyogrio
    import rioxarray  # noqa: F401  (registers .rio)
    import xarray as xr

    path = Path(path)
    nc = path / RESULTS_NC
    if not path.is_dir() or not nc.is_file():
        raise InputDataError(f"{path}: not a finished floodsim run folder (no {RESULTS_NC}); give a folder "
                             "written by `floodsim run SCENARIO --out FOLDER`.")
    try:
        with xr.open_dataset(nc, decode_coords="all") as src:
            ds = src.drop_vars([v for v in ("depth",) if v in src.data_vars]).load()
            if "depth" in src.data_vars:     # the frames stay on disk, read one at a time
                from .frames import lazy_frames

                v = src["depth"].variable
                ds["depth"] = xr.Variable(v.dims, lazy_frames(nc, "depth"), v.attrs, v.encoding)
        ds["max_depth"], ds["max_speed"]  # noqa: B018  (every reader needs them)
    except (OSError, KeyError, ValueError) as exc:
        raise InputDataError(f"{nc}: cannot read the run's maxima ({exc}); run the scenario again to "
                             "rewrite it.") from None
    if need_crs and ds.rio.crs is None:
        raise InputDataError(f"{nc}: results have no CRS, so they cannot be placed on a map; set [domain] "
                             "crs in the scenario and run it again.")
    summary = None
    if (path / SUMMARY_JSON).is_file():
        try:
            data = json.loads((path / SUMMARY_JSON).read_text())
        except ValueError:
            raise InputDataError(f"{path / SUMMARY_JSON}: not valid JSON; run the scenario again.") from None
        summary = RunSummary.from_dict(data, path / SUMMARY_JSON)
    run = Run(path=path, ds=ds, summary=summary, hazard_rating=_read_band(path / HAZARD_RATING_TIF,
                                                                        ds["max_depth"].shape))
    gpkg = path / FLOOD_GPKG
    if gpkg.is_file():
        layers = {row[0] for row in pyogrio.list_layers(gpkg)}
        for attr, layer in (("buildings", LAYER_BUILDINGS), ("measures", LAYER_MEASURES),
                            ("sewer_pipes", LAYER_SEWER_PIPES), ("sewer_nodes", LAYER_SEWER_NODES)):
            if layer in layers:
                gdf = gpd.read_file(gpkg, layer=layer)
                crs = ds.rio.crs
                if crs is not None and gdf.crs is not None and not gdf.crs.equals(crs):
                    gdf = gdf.to_crs(crs)
                setattr(run, attr, gdf)
    else:
        run.notes.append(f"{path}: no {FLOOD_GPKG}, so there are no buildings or measures to show")
    return run


def _read_band(tif: Path, shape):
    """Band 1 of a GeoTIFF as float64 with NaN for nodata; None when absent or of another shape."""
    if not tif.is_file():
        return None
    import numpy as np
    import rasterio

    with rasterio.open(tif) as src:
        band = src.read(1, masked=True)
    if band.shape != tuple(shape):
        return None
    return np.ma.filled(band.astype(np.float64), np.nan)


def read_layer(run_dir: Path, layer: str):
    """Layer ``layer`` of the run's ``flood.gpkg`` (a GeoDataFrame), or None when it is not there."""
    import geopandas as gpd
    import pyogrio

    gpkg = Path(run_dir) / FLOOD_GPKG
    if not gpkg.is_file() or layer not in {row[0] for row in pyogrio.list_layers(gpkg)}:
        return None
    return gpd.read_file(gpkg, layer=layer)
