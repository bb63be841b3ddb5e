"""The planner map: hillshade, max depth and hazard with legends, buildings by hazard class, measures,
a time slider of depth, and a synchronised before/after view when two runs are given.

One run gives a single map. Two runs give a :class:`folium.plugins.DualMap`: the first run (before, e.g.
the baseline) on the left and the second (after, e.g. with measures) on the right, panned and zoomed
together, each with its own layer control and time slider.
"""

from __future__ import annotations

import folium
from folium.plugins import DualMap

from ..errors import InputDataError
from . import layers as L
from .controls import CONTROL_CSS, HtmlControl
from .safe import html_text
from ..io.runfolder import Run

OSM_TILES = "OpenStreetMap"


def _title(text: str, position: str = "topright") -> HtmlControl:
    """A title control showing ``text`` (plain text: escaped here, as it holds the scenario name)."""
    return HtmlControl(f"<span class='floodsim-title'>{html_text(text)}</span>", position=position)


def _add_run_layers(m, run: Run, offline: bool, time_slider: bool) -> list[list[float]]:
    bounds = L.add_hillshade(m, run)
    if not offline:
        folium.TileLayer(OSM_TILES, name="OpenStreetMap (online)", overlay=False, show=False).add_to(m)
    L.add_depth(m, run, "Maximum depth", show=True)
    L.add_hazard(m, run, "Hazard class (max)", show=False)
    L.add_measures(m, run, "Measures")
    L.add_buildings(m, [run], "Buildings by hazard class", mode="planner")
    slider = L.add_time_slider(m, run) if time_slider else None
    control = folium.LayerControl(collapsed=False, position="topright").add_to(m)
    if slider is not None:
        L.ToLayerControl(control, slider, "Depth at the slider time").add_to(m)
    L.hazard_legend().add_to(m)
    L.depth_legend(run.threshold_m).add_to(m)
    return bounds


def planner_map(runs: list[Run], offline: bool = False, time_slider: bool = True):
    """Build the planner map of one run, or the before/after view of two.

    Parameters
    ----------
    runs : list of Run
        One or two runs (:func:`floodsim.maps.rundata.load_run`).
    offline : bool
        Leave out the online OpenStreetMap base layer (the hillshade is the only base layer).
    time_slider : bool
        Add the depth time slider (one per map).

    Returns
    -------
    folium.Map or folium.plugins.DualMap
    """
    if not 1 <= len(runs) <= 2:
        raise InputDataError(
            f"the planner map takes one or two run folders, not {len(runs)}; use the resident map "
            "(--resident) to publish more scenarios."
        )
    if len(runs) == 1:
        run = runs[0]
        m = folium.Map(tiles=None, control_scale=True, zoom_snap=0.25)
        m.get_root().header.add_child(folium.Element(CONTROL_CSS))
        bounds = _add_run_layers(m, run, offline, time_slider)
        _title(f"floodsim — {run.name}", "bottomleft").add_to(m)
        m.fit_bounds(bounds)
        return m
    m = DualMap(tiles=None, control_scale=True, zoom_snap=0.25, layout="horizontal")
    m.get_root().header.add_child(folium.Element(CONTROL_CSS))
    bounds = None
    for side, run, word in zip((m.m1, m.m2), runs, ("Before", "After")):
        bounds = _add_run_layers(side, run, offline, time_slider)
        _title(f"{word}: {run.name}", "bottomleft").add_to(side)
    m.fit_bounds(bounds)
    return m
