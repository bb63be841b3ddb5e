"""The planner page: one map with every scenario's rasters, the comparison of two scenarios, gauges and
legends that follow their layers.

:func:`planner_page` builds it from a :class:`~floodsim.maps.sitedata.Site` (``floodsim publish``: tiles;
``floodsim map``: embedded images, through :func:`planner_map`):

* **Base map**: :func:`floodsim.maps.basemap.add_base_layers` (streets online with a fallback, the terrain
  and the city's vector layers offline).
* **Per scenario** (label after a "·" when there are several): maximum flood depth, hazard class, maximum
  speed, the time until water reaches the flood threshold (e.g. 10 cm), buildings by hazard class (popups
  with depth, speed and hazard), and the measures: hatched, named footprints with their own legend entry.
  Depth and hazard are those of the **flood depth**: water a measure holds by design is not flooding
  (:mod:`floodsim.maps.rasterproducts`).
* **Time slider** (:class:`~floodsim.maps.controls.TimeSlider`): the depth frames (``depth@K`` rasters)
  switched by a range input with a play button, the time shown as hh:mm:ss from the start.
* **Comparison** (two or more scenarios; ``site.comparison`` picks A and B, else runs 0 and 1): a swipe
  divider between A's and B's maximum depth (:class:`~floodsim.maps.controls.Swipe`), the B − A
  difference layer (``depth_diff``), and the changed buildings outlined (better / worse) with a list
  that zooms to each (:class:`~floodsim.maps.controls.ChangedBuildingsList`). With one scenario there is
  no comparison UI.
* **Gauges**: markers whose popup shows the depth hydrograph (a PNG attached to the site) and the peak
  in words.
* **Legends** (:class:`~floodsim.maps.controls.LegendControl`): each shows only while one of its layers
  is on the map, collapsible, and complete (the "no flooding" buildings, the measures, the difference
  classes).
* The "About this map" panel and print button (:func:`floodsim.maps.about.add_about`).

Layer order (Leaflet panes): base map < scenario rasters (:data:`PANES`) < the swipe panes < the time
frames < buildings, measures and gauges (``overlayPane``).
"""

from __future__ import annotations

import logging

import folium
import numpy as np

from ..analysis.flooding import has_depth_frames
from ..errors import InputDataError
from . import layers as L
from .about import add_about
from .basemap import add_base_layers
from .controls import (
    CONTROL_CSS,
    ChangedBuildingsList,
    HtmlControl,
    LegendControl,
    Swipe,
    TimeSlider,
    add_pane,
    add_planner_script,
)
from .safe import html_text
from .sitedata import Comparison, Site, embedded_source

log = logging.getLogger("floodsim")

#: Map panes of the planner's rasters (name → z-index): above the base map (z ≤ 250), below the
#: vectors of the overlay pane (400).
PANES = {"floodsimRasters": 380, "floodsimSwipeA": 385, "floodsimSwipeB": 386, "floodsimFrames": 390}

#: Layer names (plain text; a scenario label follows after " · " when the page shows several).
NAMES = {
    "max_depth": "Maximum depth",
    "hazard": "Hazard class (max)",
    "max_speed": "Maximum speed",
    "arrival_time": "Time until water reaches {cm} cm",
    "buildings": "Buildings by hazard class",
    "measures": "Measures",
    "depth_diff": "Depth change {b} − {a}",
    "changed": "Changed buildings",
    "gauges": "Gauges",
    "sewer": "Sewer network",
    "slider": "Depth at the slider time",
}


def comparison_pair(site: Site) -> tuple[int, int] | None:
    """Indices (A, B) of the compared scenarios: ``site.comparison``'s, else runs 0 and 1; None for one."""
    if site.comparison is not None:
        return site.comparison.index_a, site.comparison.index_b
    return (0, 1) if len(site.runs) >= 2 else None


def _name(key: str, site: Site, r: int | None = None, **fmt) -> str:
    text = NAMES[key].format(**fmt)
    if r is not None and len(site.runs) > 1:
        text += f" · {site.labels[r]}"
    return text


def _raster(m, site: Site, r: int | None, key: str, name: str, show: bool, pane: str, opacity: float = 0.8):
    """Add raster ``key`` of run ``r`` in ``pane``; None when the run lacks its data."""
    got = site.raster(r, key)
    if got is None:
        return None
    layer = got.folium_layer(name, show=show, opacity=opacity, zindex=3)
    layer.options["pane"] = pane
    layer.add_to(m)
    return layer


def _frames(site: Site, r: int) -> list[dict]:
    """The depth frames of run ``r`` for :class:`TimeSlider` (every output time with a raster)."""
    ds = site.runs[r].ds
    if not has_depth_frames(ds):       # a run with maxima only ([output] depth_frames): no slider
        return []
    frames = []
    for k, t in enumerate(np.asarray(ds["time"].values, dtype=np.float64)):
        got = site.raster(r, f"depth@{k}")
        if got is None:
            continue
        f = {"t": float(t), "bounds": got.bounds}
        if got.tile_url is not None:
            f.update(tiles=got.tile_url, index=got.tile_index, minNativeZoom=int(got.min_zoom),
                     maxNativeZoom=int(got.max_native_zoom))
        else:
            f["url"] = got.image_uri
        frames.append(f)
    return frames


def planner_page(site: Site, time_slider: bool = True) -> folium.Map:
    """Build the planner page of ``site`` (see the module docstring).

    Parameters
    ----------
    site : Site
        The runs (``site.runs[0]`` first), their labels, the comparison, texts and raster source.
    time_slider : bool
        Add the depth time slider.

    Returns
    -------
    folium.Map
    """
    if not site.runs:
        raise InputDataError("the planner page needs at least one run folder.")
    # start at the runs' area: a tile pyramid whose shallowest native zoom is deep would, at the world
    # view folium starts from, make Leaflet walk millions of tile coordinates before fit_bounds
    bounds = L.overlay_bounds(site.runs[0])
    (south, west), (north, east) = bounds
    span = max(abs(east - west), abs(north - south) * 1.5, 1e-6)
    zoom = int(np.clip(np.floor(np.log2(360.0 * 4.0 / span)), 1, 18))
    m = folium.Map(location=[(south + north) / 2, (west + east) / 2], zoom_start=zoom, tiles=None,
                   control_scale=True, zoom_snap=0.25)
    m.get_root().header.add_child(folium.Element(CONTROL_CSS), name="floodsim_control_css")
    add_planner_script(m)
    base = add_base_layers(m, site)
    for pane, z in PANES.items():
        add_pane(m, pane, z)

    pair = comparison_pair(site)
    n = len(site.runs)
    thr = site.runs[0].threshold_m
    shown = pair[1] if pair is not None else 0       # the scenario whose layers show first (B, or the only one)
    depth, hazard, speed, arrival, buildings, measures = [], [], [], [], [], []
    swipe_layers = {}
    for r in range(n):
        if pair is not None and r in pair:
            pane = "floodsimSwipeA" if r == pair[0] else "floodsimSwipeB"
            lyr = _raster(m, site, r, "max_depth", _name("max_depth", site, r), True, pane)
            swipe_layers[r] = lyr
        else:
            lyr = _raster(m, site, r, "max_depth", _name("max_depth", site, r), r == shown, "floodsimRasters")
        depth.append(lyr)
    for r in range(n):
        hazard.append(_raster(m, site, r, "hazard", _name("hazard", site, r), False, "floodsimRasters"))
        speed.append(_raster(m, site, r, "max_speed", _name("max_speed", site, r), False, "floodsimRasters"))
        arrival.append(_raster(m, site, r, "arrival_time",
                               _name("arrival_time", site, r, cm=f"{site.runs[r].threshold_m * 100:.0f}"),
                               False, "floodsimRasters"))
    diff = None
    if pair is not None:
        la, lb = site.labels[pair[0]], site.labels[pair[1]]
        diff = _raster(m, site, None, "depth_diff", _name("depth_diff", site, a=la, b=lb), False,
                       "floodsimRasters", opacity=0.85)

    slider = None
    if time_slider:
        order = [pair[1], pair[0]] + [r for r in range(n) if r not in pair] if pair is not None else range(n)
        runs = [{"label": html_text(site.labels[r]), "frames": _frames(site, r)} for r in order]
        runs = [r for r in runs if r["frames"]]
        if runs:
            slider = TimeSlider(runs, pane="floodsimFrames", title="Time since the start",
                                slider_id="floodsim-timeslider")
            slider.add_to(m)

    for r in range(n):
        buildings.append(L.add_buildings(m, [site.runs[r]], _name("buildings", site, r), mode="planner",
                                         show=(r == shown), site=site, key=f"_{r}"))
    for r in range(n):
        measures.append(L.add_measures(m, site.runs[r], _name("measures", site, r), show=(r == shown)))
    sewers = [L.add_sewer(m, site.runs[r], _name("sewer", site, r), show=(r == shown)) for r in range(n)]
    changed = L.add_changed_buildings(m, site, _name("changed", site)) if pair is not None else None
    gauges = L.add_gauges(m, site, _name("gauges", site))

    # folded to its button (a hover or tap opens it): open, the list would cover the legends
    control = folium.LayerControl(collapsed=True, position="topright").add_to(m)
    if slider is not None:
        L.ToLayerControl(control, slider, NAMES["slider"]).add_to(m)

    # legends, each bound to its layers
    has_footprints = any(g is not None and g.has_footprints for g in measures)
    LegendControl("Maximum water depth", L.depth_legend_body(thr, measures=has_footprints),
                  depth + [slider], "floodsim-legend-depth").add_to(m)
    LegendControl("Hazard to people (UK FD2321)", L.hazard_legend_body(), hazard,
                  "floodsim-legend-hazard").add_to(m)
    LegendControl("Maximum speed", L.speed_legend_body(thr), speed, "floodsim-legend-speed").add_to(m)
    LegendControl(f"Time until water reaches {thr * 100:.0f} cm", L.arrival_legend_body(thr), arrival,
                  "floodsim-legend-arrival").add_to(m)
    if diff is not None:
        LegendControl("Change in maximum depth", L.diff_legend_body(la, lb), [diff],
                      "floodsim-legend-diff").add_to(m)
    LegendControl("Buildings: hazard next to them", L.buildings_legend_body(), buildings,
                  "floodsim-legend-buildings").add_to(m)
    kinds = sorted({k for g in measures if g is not None for k in g.measure_kinds})
    if kinds:
        LegendControl("Measures", L.measures_legend_body(kinds, has_footprints), measures,
                      "floodsim-legend-measures").add_to(m)
    if gauges is not None:
        LegendControl("Gauges", L.gauges_legend_body(), [gauges], "floodsim-legend-gauges").add_to(m)
    if any(g is not None for g in sewers):
        LegendControl("Sewer network", L.sewer_legend_body(), sewers, "floodsim-legend-sewer").add_to(m)
    if changed is not None:
        panel = LegendControl(f"Changed buildings ({len(changed.data['features'])})",
                              L.changed_legend_body(la, lb), [changed], "floodsim-changed",
                              position="topleft")
        panel.add_to(m)
        ChangedBuildingsList(changed, panel, list_label=f"Buildings whose hazard class changed in {lb}"
                             ).add_to(m)
    if pair is not None and swipe_layers.get(pair[0]) is not None and swipe_layers.get(pair[1]) is not None:
        Swipe(swipe_layers[pair[0]], swipe_layers[pair[1]], "floodsimSwipeA", "floodsimSwipeB",
              site.labels[pair[0]], site.labels[pair[1]]).add_to(m)

    if pair is None:
        title = f"floodsim — {site.labels[0]}"
    else:
        title = f"floodsim — {site.labels[pair[0]]} | {site.labels[pair[1]]}"
    HtmlControl(f"<span class='floodsim-title'>{html_text(title)}</span>", position="bottomleft").add_to(m)
    add_about(m, site)
    m.fit_bounds(base.get("bounds") or bounds)
    return m


def comparison_of(runs, labels) -> Comparison | None:
    """B − A for two runs on one grid, as ``floodsim compare`` computes it (max depth difference and the
    buildings whose hazard class changed); None when the grids differ (the swipe still compares them)."""
    from ..analysis.compare import changed_buildings, check_same_grid
    from ..errors import GridAlignmentError

    a, b = runs[0], runs[1]
    try:
        check_same_grid(a, b)
    except GridAlignmentError as exc:
        log.warning("no difference layer: %s", exc)
        return None
    diff = b.max_depth.astype(np.float64) - a.max_depth.astype(np.float64)
    changed = None
    need = {"hazard_code", "hazard_class", "max_depth_m", "max_hazard_rating"}   # compare's columns
    if all(r.buildings is not None and len(r.buildings) and need <= set(r.buildings.columns) for r in (a, b)):
        changed = changed_buildings(a, b, labels[0], labels[1])
    return Comparison(index_a=0, index_b=1, depth_diff=diff, changed_buildings=changed)


def planner_map(runs, offline: bool = False, time_slider: bool = True) -> folium.Map:
    """The planner page of run folders as one self-contained page (``floodsim map``).

    Parameters
    ----------
    runs : list of Run
        One or more runs (:func:`floodsim.maps.rundata.map_run`); with two or more, the first two are
        compared (A = the first, e.g. the baseline; B = the second, e.g. with measures).
    offline : bool
        Leave out the online street map (the terrain and the project's layers are the base).
    time_slider : bool
        Add the depth time slider.
    """
    from ..scenario.site import MAX_SITE_RUNS, PublishTexts

    if not 1 <= len(runs) <= MAX_SITE_RUNS:
        raise InputDataError(f"the planner map takes 1 to {MAX_SITE_RUNS} run folders, not {len(runs)}.")
    labels = [r.name for r in runs]
    site = Site(runs=list(runs), labels=labels, texts=PublishTexts(), raster_source=embedded_source,
                comparison=comparison_of(runs, labels) if len(runs) >= 2 else None, offline=offline,
                embed=True)
    site.base.online = not offline
    return planner_page(site, time_slider=time_slider)
