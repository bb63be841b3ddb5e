"""A finished run as the maps draw it: the run folder (:func:`floodsim.io.runfolder.load_run`) plus the
flood depth, hazard classes and gauges the layers draw. No physics here: the run and its products
computed it.

Water a measure holds by design (a pond below its rim) is storage, not flooding
(:mod:`floodsim.analysis.flooding`): the maps draw the **flood depth** ``max(depth - storage depth, 0)``
and class hazard by it, as the run products do.

Maps use whatever the folder holds: without ``hazard_rating.tif`` the rating is computed from the run
maxima with :func:`floodsim.analysis.hazard.hazard_rating`; without ``flood.gpkg`` the map has no
buildings or measures (and says so in the log); gauges are placed from ``gauge_x``/``gauge_y`` in
``results.nc``, else from the summary (an older run folder names no place for a dry gauge, which is
then left off the map, with a note in the log).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..analysis.exposure import EXPOSURE_COLUMNS
from ..analysis.flooding import flood_depth, storage_depth_of
from ..analysis.hazard import hazard_class, hazard_rating
from ..io.runfolder import Run, load_run

log = logging.getLogger("floodsim")

#: Attribute names tried, in order, for a building's address (shown and searched when present).
ADDRESS_FIELDS = ("address", "addr", "street_address", "name")


@dataclass(frozen=True)
class Gauge:
    """A gauge of a run: its name (plain text from the data), position (x, y in the run's CRS [m]) and
    depth series (``time_s`` [s] since the start, ``depth_m`` [m])."""

    name: str
    x: float
    y: float
    time_s: np.ndarray
    depth_m: np.ndarray

    @property
    def peak_depth_m(self) -> float:
        """Largest depth of the series [m] (NaN for an empty series)."""
        d = self.depth_m[np.isfinite(self.depth_m)]
        return float(d.max()) if d.size else float("nan")

    @property
    def peak_time_s(self) -> float:
        """Time of the first peak [s] since the start (NaN for an empty series)."""
        if not np.isfinite(self.depth_m).any():
            return float("nan")
        return float(self.time_s[int(np.nanargmax(self.depth_m))])


def gauges_of(run: Run) -> list[Gauge]:
    """The run's gauges with a place (from results.nc, else from the summary) and their depth series."""
    ds = run.ds
    if "gauge" not in ds.coords or "gauge_depth" not in ds or "series_time" not in ds.coords:
        return []
    names = [str(n) for n in ds["gauge"].values]
    t = np.asarray(ds["series_time"].values, dtype=np.float64)
    depth = np.asarray(ds["gauge_depth"].values, dtype=np.float64)
    if "gauge_x" in ds.coords and "gauge_y" in ds.coords:
        xy = list(zip(np.asarray(ds["gauge_x"].values, float), np.asarray(ds["gauge_y"].values, float)))
    else:
        peaks = (run.summary.gauges if run.summary is not None else None) or {}
        xy = []
        for name in names:
            p = peaks.get(name)
            xy.append((float(p["x"]), float(p["y"])) if isinstance(p, dict) and "x" in p and "y" in p
                      else (float("nan"), float("nan")))
    out = []
    for k, (name, (x, y)) in enumerate(zip(names, xy)):
        if not (np.isfinite(x) and np.isfinite(y)):
            run.notes.append(f"{run.path}: gauge {name[:80]!r} has no position in this run folder (an older "
                             "run, and the gauge stayed dry); run the scenario again to map it")
            continue
        out.append(Gauge(name, float(x), float(y), t, depth[k]))
    return out


def map_run(path: str | Path) -> Run:
    """Load a run folder for the maps: results with a CRS, flood depth, hazard classes, buildings, gauges.

    Sets ``run.storage_depth`` (per-cell depth held by measures by design [m], None without such
    measures), ``run.flood_max_depth`` (the maximum flood depth [m]), ``run.hazard_rating`` (from
    ``hazard_rating.tif``, else from the flood depth and speed maxima), ``run.hazard_code``,
    ``run.gauges`` (list of :class:`Gauge`) and, when there is a buildings layer, ``run.id_field`` and
    ``run.address_field``.

    Raises
    ------
    InputDataError
        When ``results.nc`` is missing or unreadable, or the results have no CRS.
    """
    run = load_run(path, need_crs=True)
    run.storage_depth = storage_depth_of(run.ds)
    depth = flood_depth(run.max_depth.values.astype(np.float64), run.storage_depth)
    run.flood_max_depth = depth
    if run.hazard_rating is None:
        run.hazard_rating = hazard_rating(depth, run.max_speed.values)
    run.hazard_code = hazard_class(run.hazard_rating, depth, run.threshold_m)
    run.id_field = run.address_field = None
    if run.buildings is not None:
        attrs = [c for c in run.buildings.columns if c not in EXPOSURE_COLUMNS and c != "geometry"]
        run.id_field = attrs[0] if attrs else None
        run.address_field = next((c for c in ADDRESS_FIELDS if c in attrs and c != run.id_field), None)
    run.gauges = gauges_of(run)
    for note in run.notes:
        log.warning("%s", note)
    return run
