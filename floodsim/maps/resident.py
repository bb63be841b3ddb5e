"""The resident risk map: one page to publish, in plain language.

* A legend of the hazard classes in words (:data:`floodsim.analysis.hazard.HAZARD_CLASSES` labels and a sentence
  each), not hazard-rating numbers.
* A search box for a building id or address (``folium.plugins.Search`` over the buildings layer).
* Click a building: the deepest water modelled next to it and the danger to people, for every published
  scenario (one row per run folder given).
* The danger map of each scenario as a layer (the first one shown).

Every data-derived text reaches the page through :func:`floodsim.maps.safe.html_text`.
"""

from __future__ import annotations

import folium
from branca.element import MacroElement
from folium.plugins import Search
from folium.template import Template

from ..errors import InputDataError
from ..analysis.hazard import HAZARD_CLASSES
from . import layers as L
from .controls import CONTROL_CSS, HtmlControl
from .safe import html_text
from ..io.runfolder import Run
from .style import HAZARD_ADVICE, HAZARD_COLOURS

SEARCH_PLACEHOLDER = "Search a building id or address"


class SearchOpensPopup(MacroElement):
    """Open the found building's popup. folium's Search opens only popups bound to the feature itself,
    while ``GeoJsonPopup`` binds one popup to the whole layer; a click on the found feature opens it."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            {{ this.layer.get_name() }}searchControl.on('search:locationfound', function (e) {
                if (!e.layer._popup && e.layer.getBounds) {
                    e.layer.fire('click', {latlng: e.layer.getBounds().getCenter()}, true);
                }
            });
        {% endmacro %}
        """
    )

    def __init__(self, layer):
        super().__init__()
        self._name = "SearchOpensPopup"
        self.layer = layer


def legend_html(threshold_m: float) -> str:
    """The plain-language hazard legend (constants and numbers only: nothing from data)."""
    rows = "".join(
        f"<tr><td><span class='swatch' style='background:{HAZARD_COLOURS[c.code]}'></span></td>"
        f"<td><b>{html_text(c.label)}</b><br>{html_text(HAZARD_ADVICE[c.code])}</td></tr>"
        for c in HAZARD_CLASSES
    )
    return (
        "<h4>Danger to people from flood water</h4><table>" + rows + "</table>"
        f"<div style='margin-top:4px;color:#444'>Depth and speed of the water are combined as in the UK "
        f"Flood Risks to People method. Water shallower than {threshold_m * 100:.0f} cm is not shown. "
        "Click a building for its numbers.</div>"
    )


def resident_map(runs: list[Run], offline: bool = False) -> folium.Map:
    """Build the resident risk map of one or more published scenarios (run folders).

    Parameters
    ----------
    runs : list of Run
        The published scenarios, the first one shown (e.g. today's baseline, then with measures).
    offline : bool
        Leave out the online OpenStreetMap base layer.
    """
    if not runs:
        raise InputDataError("the resident map needs at least one run folder.")
    base = runs[0]
    m = folium.Map(tiles=None, control_scale=True, zoom_snap=0.25)
    m.get_root().header.add_child(folium.Element(CONTROL_CSS))
    bounds = L.add_hillshade(m, base, name="Terrain")
    if not offline:
        folium.TileLayer("OpenStreetMap", name="Street map (online)", overlay=False, show=False).add_to(m)
    for k, run in enumerate(runs):
        L.add_hazard(m, run, f"Danger to people — {run.name}", show=(k == 0), opacity=0.75)
    buildings = L.add_buildings(m, runs, "Buildings", mode="resident")
    if buildings is not None:
        Search(
            layer=buildings,
            search_label="label",
            geom_type="Polygon",
            placeholder=SEARCH_PLACEHOLDER,
            collapsed=False,
            position="topleft",
            search_zoom=19,
        ).add_to(m)
        SearchOpensPopup(buildings).add_to(m)
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    HtmlControl(legend_html(base.threshold_m), position="bottomright").add_to(m)
    names = ", ".join(html_text(r.name) for r in runs)
    HtmlControl(
        f"<span class='floodsim-title'>Flood risk map</span><br>{names}", position="bottomleft"
    ).add_to(m)
    m.fit_bounds(bounds)
    return m
