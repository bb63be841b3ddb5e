"""A finished run as the maps draw it: the run folder (:func:`floodsim.io.runfolder.load_run`) plus the
hazard classes the layers colour by. No physics here: the run and its products computed it.

Maps use whatever the folder holds: without ``hazard_rating.tif`` the rating is computed from the run
maxima with :func:`floodsim.analysis.hazard.hazard_rating`; without ``flood.gpkg`` the map has no
buildings or measures (and says so in the log).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..analysis.exposure import EXPOSURE_COLUMNS
from ..analysis.hazard import hazard_class, hazard_rating
from ..io.runfolder import Run, load_run

log = logging.getLogger("floodsim")

#: Attribute names tried, in order, for a building's address (shown and searched when present).
ADDRESS_FIELDS = ("address", "addr", "street_address", "name")


def map_run(path: str | Path) -> Run:
    """Load a run folder for the maps: results with a CRS, hazard rating and classes, building fields.

    Sets ``run.hazard_rating`` (from ``hazard_rating.tif``, else the maxima), ``run.hazard_code`` and,
    when there is a buildings layer, ``run.id_field`` and ``run.address_field``.

    Raises
    ------
    InputDataError
        When ``results.nc`` is missing or unreadable, or the results have no CRS.
    """
    run = load_run(path, need_crs=True)
    depth = run.max_depth.values.astype(np.float64)
    if run.hazard_rating is None:
        run.hazard_rating = hazard_rating(depth, run.max_speed.values)
    run.hazard_code = hazard_class(run.hazard_rating, depth, run.threshold_m)
    run.id_field = run.address_field = None
    if run.buildings is not None:
        attrs = [c for c in run.buildings.columns if c not in EXPOSURE_COLUMNS and c != "geometry"]
        run.id_field = attrs[0] if attrs else None
        run.address_field = next((c for c in ADDRESS_FIELDS if c in attrs and c != run.id_field), None)
    for note in run.notes:
        log.warning("%s", note)
    return run
