"""Read a finished run folder into what the maps need (no physics here: the run and its products did it).

A run folder (``floodsim run SCENARIO --out RUN_DIR``) holds ``results.nc`` and ``summary.json``, and the
products of :mod:`floodsim.products`: ``hazard_rating.tif`` and ``flood.gpkg`` with the layers
``buildings`` (id + exposure columns of :func:`floodsim.exposure.building_exposure`) and ``measures``
(name, type, peak_stored_m3). Maps use whatever of these exists: without ``hazard_rating.tif`` the rating
is computed from the run maxima with :func:`floodsim.hazard.hazard_rating`; without ``flood.gpkg`` the map
has no buildings or measures (and says so in the log).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from ..errors import InputDataError
from ..hazard import hazard_class, hazard_rating

log = logging.getLogger("floodsim")

#: Columns that :func:`floodsim.exposure.building_exposure` adds; every other column is an attribute.
EXPOSURE_COLUMNS = (
    "max_depth_m",
    "max_speed_m_s",
    "max_hazard_rating",
    "hazard_code",
    "hazard_class",
    "flooded",
)
#: Attribute names tried, in order, for a building's address (shown and searched when present).
ADDRESS_FIELDS = ("address", "addr", "street_address", "name")


@dataclass
class RunData:
    """A finished run as the maps see it (arrays on the run's grid, vector layers in the grid CRS)."""

    path: Path
    name: str
    ds: xr.Dataset
    threshold_m: float
    hazard_rating: np.ndarray
    hazard_code: np.ndarray
    buildings: object | None = None  # GeoDataFrame or None
    id_field: str | None = None
    address_field: str | None = None
    measures: object | None = None  # GeoDataFrame or None
    notes: list[str] = field(default_factory=list)

    @property
    def crs(self):
        return self.ds.rio.crs

    @property
    def transform(self):
        return self.ds.rio.transform(recalc=False)


def load_run(path: str | Path) -> RunData:
    """Load a run folder written by ``floodsim run``.

    Raises
    ------
    InputDataError
        When ``results.nc`` is missing or unreadable, or the results have no CRS.
    """
    import geopandas as gpd
    import pyogrio
    import rioxarray  # noqa: F401  (registers .rio)

    path = Path(path)
    nc = path / "results.nc"
    if not nc.is_file():
        raise InputDataError(
            f"{path}: no results.nc; give a folder written by `floodsim run SCENARIO --out DIR`."
        )
    try:
        with xr.open_dataset(nc, decode_coords="all") as src:
            ds = src.load()
    except (OSError, ValueError) as exc:
        raise InputDataError(f"{nc}: cannot read ({exc}); run the scenario again to rewrite it.") from None
    if ds.rio.crs is None:
        raise InputDataError(
            f"{nc}: results have no CRS, so they cannot be placed on a map; set [domain] crs in "
            "the scenario and run it again."
        )
    summary = {}
    if (path / "summary.json").is_file():
        try:
            summary = json.loads((path / "summary.json").read_text())
        except ValueError:
            raise InputDataError(
                f"{path / 'summary.json'}: not valid JSON; run the scenario again."
            ) from None
    name = str(summary.get("scenario") or ds.attrs.get("scenario") or path.name)
    threshold = float(summary.get("flood_threshold_m", 0.1))
    depth = ds["max_depth"].values.astype(np.float64)
    hr = _read_hazard(path / "hazard_rating.tif", depth.shape)
    if hr is None:
        hr = hazard_rating(depth, ds["max_speed"].values)
    code = hazard_class(hr, depth, threshold)
    run = RunData(path=path, name=name, ds=ds, threshold_m=threshold, hazard_rating=hr, hazard_code=code)
    gpkg = path / "flood.gpkg"
    if gpkg.is_file():
        layers = {row[0] for row in pyogrio.list_layers(gpkg)}
        if "buildings" in layers:
            b = gpd.read_file(gpkg, layer="buildings")
            run.buildings = b.to_crs(ds.rio.crs) if b.crs is not None and not b.crs.equals(ds.rio.crs) else b
            attrs = [c for c in b.columns if c not in EXPOSURE_COLUMNS and c != "geometry"]
            run.id_field = attrs[0] if attrs else None
            run.address_field = next((c for c in ADDRESS_FIELDS if c in attrs and c != run.id_field), None)
        if "measures" in layers:
            m = gpd.read_file(gpkg, layer="measures")
            run.measures = m.to_crs(ds.rio.crs) if m.crs is not None and not m.crs.equals(ds.rio.crs) else m
    else:
        run.notes.append(f"{path}: no flood.gpkg, so the map shows no buildings or measures")
        log.warning("%s", run.notes[-1])
    return run


def _read_hazard(tif: Path, shape) -> np.ndarray | None:
    if not tif.is_file():
        return None
    import rasterio

    with rasterio.open(tif) as src:
        band = src.read(1, masked=True)
    if band.shape != tuple(shape):
        log.warning("%s: grid differs from results.nc; hazard recomputed from the run maxima", tif)
        return None
    return np.ma.filled(band.astype(np.float64), np.nan)
