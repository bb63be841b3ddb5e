"""The resident page: where water goes in the modelled storms, how dangerous it is, how likely, and what
it means for one building, in plain language.

:func:`resident_page` builds it from a :class:`~floodsim.maps.sitedata.Site`:

* the base map (:func:`floodsim.maps.basemap.add_base_layers`: streets online with an offline fallback,
  the city's own layers and the terrain offline);
* the flood layers, **exclusive** (radio buttons in their own control, "Flood layer"): the danger to
  people of each published scenario (hazard class of the maxima, UK FD2321) and, when the site has a
  sweep, the likelihood of flooding (``site.raster(None, "likelihood")``: high / medium / low / very
  low, UK Environment Agency bands); the likelihood is shown first when there is one;
* the buildings, coloured by the chosen flood layer: by the danger next to them in that scenario, or by
  the return period at which they first flood (its likelihood band's colour); a click opens the
  building's card (:func:`floodsim.maps.cards.building_card_html`);
* the address search (:mod:`floodsim.maps.search`): picking an address zooms to its building and opens
  its card;
* legends that show only while their layer is (:class:`floodsim.maps.basemap.FollowLegend`), with the
  "no flooding" buildings entry;
* the title, the scenarios and, without a sweep, that the page shows a single modelled event; the
  "About this map" panel and print button (:func:`floodsim.maps.about.add_about`).

On a self-contained page (``site.embed``) all data is inline. On a published site the buildings
(:data:`BUILDINGS_FILE`), their cards (:data:`CARDS_FILES`, :data:`CARD_CHUNK` buildings per file,
fetched when a card opens), the search index and the vector base are site files, so the HTML does not
grow with the number of buildings.

Every data-derived text reaches the page through :func:`floodsim.maps.safe.html_text` (HTML) or
:func:`floodsim.maps.safe.js_json` (script).
"""

from __future__ import annotations

import folium
from branca.element import MacroElement
from folium.map import Layer
from folium.template import Template

from ..analysis.hazard import HAZARD_CLASSES, HAZARD_COLOURS
from ..errors import InputDataError
from ..io.runfolder import Run
from . import cards as C
from .basemap import FollowLegend, add_base_layers
from .controls import CONTROL_CSS, HtmlControl
from .pagestyle import legend_html
from .safe import html_text, js_json
from .sitedata import GEOJSON_SOURCE_JS, page_geometry
from .search import SEARCH_CSS, SEARCH_JS, INDEX_FILE, SearchControl, build_index, index_payload
from .style import BUILDING_EDGE, HAZARD_ADVICE, LIKELIHOOD_COLOURS

#: Site file of the buildings layer (a published site).
BUILDINGS_FILE = "data/buildings.json"
#: Site files of the building cards: ``{chunk}`` is ``row // CARD_CHUNK``.
CARDS_FILES = "data/cards/{chunk}.json"
#: Buildings per cards file.
CARD_CHUNK = 200
#: Fill of a building that is not in the chosen scenario.
MISSING_COLOUR = "#9e9e9e"
#: Fill of a building no modelled storm floods (likelihood colouring).
NOT_FLOODED_COLOUR = HAZARD_COLOURS[0]
#: Name of the flood-layer control's likelihood entry.
LIKELIHOOD_NAME = "Likelihood of flooding"

#: The page's own script (constants): the search matcher and the resident page's ``pick``.
RESIDENT_JS = SEARCH_JS + r"""
var floodsimResident = {
  buildings: null, byIndex: {}, ready: Promise.resolve(null),
  setMode: function () {},
  openCard: function (layer, latlng) { layer.openPopup(latlng); return Promise.resolve(); },
  pick: function (map, entry) {
    var self = this;
    if (entry.b !== undefined && entry.b !== null) {
      self.ready.then(function () {
        var lyr = self.byIndex[entry.b];
        if (!lyr) { self.showPoint(map, entry); return; }
        if (self.buildings && !map.hasLayer(self.buildings)) { map.addLayer(self.buildings); }
        map.closePopup();
        map.fitBounds(lyr.getBounds(), {maxZoom: 19, animate: false, padding: [30, 30]});
        self.openCard(lyr, lyr.getBounds().getCenter());
      });
    } else if (entry.x) {
      map.fitBounds(entry.x, {maxZoom: 18, animate: false});
    } else {
      self.showPoint(map, entry);
    }
  },
  showPoint: function (map, entry) {
    if (!entry.c) { return; }
    map.setView(entry.c, 18, {animate: false});
    var div = document.createElement("div"), b = document.createElement("b"), p = document.createElement("p");
    b.textContent = entry.t;
    p.textContent = "No building of the flood model was found at this address.";
    div.appendChild(b);
    div.appendChild(p);
    L.popup({maxWidth: 280}).setLatLng(entry.c).setContent(div).openOn(map);
  }
};
"""

RESIDENT_CSS = """
.floodsim-layers-title { font-weight: 600; margin: 0 0 3px 0; }
.floodsim-event-note { margin-top: 4px; font-size: 12px; color: #333333; }
.floodsim-flood-layers .leaflet-control-layers-toggle { position: relative; }
.floodsim-flood-layers .leaflet-control-layers-toggle::after { content: "Flood"; position: absolute; left: 0;
  right: 0; bottom: 0; font: 700 10px/1.2 system-ui, sans-serif; color: #1a1a1a; text-align: center;
  background: rgba(255,255,255,.85); }
@media (max-width: 599.98px) {
  .floodsim-title-more { display: none; }   /* on a phone the title only: the About panel says the rest */
}
"""


class ResidentScript(MacroElement):
    """The page's script (:data:`RESIDENT_JS`) and CSS, added once, before the layers that use it."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
            <style>{{ this.css }}</style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        {{ this.js }}
        {% endmacro %}
        """
    )

    def __init__(self):
        super().__init__()
        self._name = "ResidentScript"
        self.js = RESIDENT_JS
        self.css = SEARCH_CSS + C.CARD_CSS + RESIDENT_CSS


class ResidentBuildings(Layer):
    """The buildings, coloured by the chosen flood layer, each with its card (module docstring).

    ``source`` is the FeatureCollection (properties ``i`` row, ``h`` hazard code per scenario (-1: not
    in it), ``l`` likelihood band, ``label`` escaped name, ``popup`` the card or ``""`` when it is in a
    cards file) or its site URL; ``cards_url`` the cards files' URL pattern (None: cards inline);
    ``advice_html`` (safe HTML) ends every card (sent once, not per building).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }}_colours = {{ this.colours_js }};
        var {{ this.get_name() }}_mode = {{ this.mode_js }};
        var {{ this.get_name() }}_cards = {{ this.cards_js }};
        var {{ this.get_name() }}_advice = {{ this.advice_js }};   // the same for every card: sent once
        function {{ this.get_name() }}_style(f) {
            var p = f.properties, c, C = {{ this.get_name() }}_colours, mode = {{ this.get_name() }}_mode;
            if (mode === "likelihood") { c = C.likelihood[String(p.l)] || C.missing; }
            else {
                var h = p.h[mode];
                c = (h === undefined || h < 0) ? C.missing : C.hazard[String(h)];
            }
            return {fillColor: c, color: C.edge, weight: 1, opacity: 1, fillOpacity: 0.9};
        }
        var {{ this.get_name() }}_chunks = {};
        function {{ this.get_name() }}_card(f) {
            var p = f.properties, src = {{ this.get_name() }}_cards;
            if (p.popup || !src) { return Promise.resolve(p.popup || ""); }
            var k = String(Math.floor(p.i / src.chunk));
            if (!{{ this.get_name() }}_chunks[k]) {
                var url = src.url.replace("CHUNK", k);
                {{ this.get_name() }}_chunks[k] = fetch(url).then(function (r) {
                    if (!r.ok) { throw new Error(url + ": HTTP " + r.status); }
                    return r.json();
                });
            }
            return {{ this.get_name() }}_chunks[k].then(function (cards) {
                p.popup = cards[String(p.i)] || "";
                return p.popup;
            }, function () {
                delete {{ this.get_name() }}_chunks[k];
                return "<p>The details of this building could not be loaded.</p>";
            });
        }
        // the card's popup: narrow; a card taller than most of the window scrolls inside it; on a narrow
        // map it pans clear of the top-left controls (search, zoom), which would cover it
        function {{ this.get_name() }}_options(map) {
            var top = 12, bottom = 12;
            if (map && map.getSize().x < 700) {
                var box = map.getContainer().getBoundingClientRect();
                var tl = map.getContainer().querySelector(".leaflet-top.leaflet-left");
                if (tl) { top = Math.max(top, Math.round(tl.getBoundingClientRect().bottom - box.top) + 8); }
                map.getContainer().querySelectorAll(".leaflet-bottom").forEach(function (corner) {
                    bottom = Math.max(bottom, Math.round(box.bottom - corner.getBoundingClientRect().top) + 8);
                });
            }
            return {maxWidth: 300, minWidth: 180, autoPanPaddingTopLeft: [12, top],
                    autoPanPaddingBottomRight: [12, bottom],
                    maxHeight: Math.max(220, Math.round(window.innerHeight * 0.7))};
        }
        // the card opens once it is loaded (a popup that grows after opening would not pan into view)
        function {{ this.get_name() }}_open(layer, latlng) {
            return {{ this.get_name() }}_card(layer.feature).then(function (html) {
                if (layer.getPopup()) { layer.closePopup(); layer.unbindPopup(); }
                layer.bindPopup(html + {{ this.get_name() }}_advice,
                                {{ this.get_name() }}_options({{ this.get_name() }}._map));
                layer.openPopup(latlng || layer.getBounds().getCenter());
            });
        }
        var {{ this.get_name() }} = L.geoJSON(null, {
            pane: "floodsimBuildings",
            renderer: L.svg({pane: "floodsimBuildings"}),
            style: {{ this.get_name() }}_style,
            onEachFeature: function (f, layer) {
                floodsimResident.byIndex[f.properties.i] = layer;
                layer.bindTooltip(f.properties.label, {sticky: true});
                layer.on("click", function (e) { {{ this.get_name() }}_open(layer, e.latlng); });
                layer.on("mouseover", function () { layer.setStyle({weight: 3, color: "#000000"}); });
                layer.on("mouseout", function () { {{ this.get_name() }}.resetStyle(layer); });
            }
        });
        function {{ this.get_name() }}_add(fc) { {{ this.get_name() }}.addData(fc); return {{ this.get_name() }}; }
        """ + GEOJSON_SOURCE_JS + """
        floodsimResident.buildings = {{ this.get_name() }};
        floodsimResident.ready = {{ this.get_name() }}_ready;
        floodsimResident.openCard = {{ this.get_name() }}_open;
        floodsimResident.setMode = function (mode) {
            {{ this.get_name() }}_mode = mode;
            {{ this.get_name() }}.setStyle({{ this.get_name() }}_style);
        };
        {% endmacro %}
        """
    )

    def __init__(self, source, name: str, mode, cards_url: str | None, advice_html: str = "",
                 show: bool = True):
        super().__init__(name=html_text(name), overlay=True, control=True, show=show)
        self._name = "ResidentBuildings"
        self.advice_js = js_json(advice_html)
        self.inline = not isinstance(source, str)
        self.data_js = js_json(source)
        self.mode_js = js_json(mode)
        self.cards_js = js_json(None if cards_url is None else {"url": cards_url, "chunk": CARD_CHUNK})
        self.colours_js = js_json({
            "hazard": {str(k): v for k, v in HAZARD_COLOURS.items()},
            "likelihood": {"0": NOT_FLOODED_COLOUR, **{str(k): v for k, v in LIKELIHOOD_COLOURS.items()}},
            "missing": MISSING_COLOUR,
            "edge": BUILDING_EDGE,
        })


class FloodLayerControl(MacroElement):
    """The exclusive flood layers (radio buttons: Leaflet base layers of a control of their own);
    the buildings' colours follow the chosen one (``floodsimResident.setMode``).

    ``layers`` are ``(name (plain text), folium layer, mode)`` with mode a scenario index or
    ``"likelihood"``.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.control.layers({
            {%- for name_js, layer, mode in this.entries %}
            {{ name_js }} : {{ layer.get_name() }},
            {%- endfor %}
        }, {}, {collapsed: false, position: "topright"}).addTo({{ this._parent.get_name() }});
        (function (control, map) {
            var modes = [
            {%- for name_js, layer, mode in this.entries %}
                [{{ layer.get_name() }}, {{ mode }}],
            {%- endfor %}
            ];
            var c = control.getContainer();
            c.classList.add("floodsim-flood-layers");
            var list = c.querySelector(".leaflet-control-layers-list") || c;
            var title = document.createElement("div");
            title.className = "floodsim-layers-title";
            title.textContent = {{ this.title_js }};
            list.insertBefore(title, list.firstChild);
            var toggle = c.querySelector(".leaflet-control-layers-toggle");
            if (toggle) {     // collapsed (phones): not the same icon as the base-map control's
                toggle.title = {{ this.title_js }};
                toggle.setAttribute("aria-label", {{ this.title_js }});
            }
            map.on("baselayerchange", function (e) {
                modes.forEach(function (m) { if (m[0] === e.layer) { floodsimResident.setMode(m[1]); } });
            });
        })({{ this.get_name() }}, {{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, layers, title: str = "Flood layer"):
        super().__init__()
        self._name = "FloodLayerControl"
        self.entries = [(js_json(html_text(name)), layer, js_json(mode)) for name, layer, mode in layers]
        self.title_js = js_json(title)


# --------------------------------------------------------------------------------------------- data


def buildings_collection(site, inline_cards: bool) -> dict | None:
    """The buildings of the reference run as the page draws them (:class:`ResidentBuildings`), in
    EPSG:4326; None without buildings."""
    base = site.runs[0]
    if base.buildings is None or len(base.buildings) == 0:
        return None
    firsts = C.likelihood_rows(site)
    geoms = base.buildings.to_crs(4326).geometry
    features = []
    for i, geom in enumerate(geoms):
        if geom is None or geom.is_empty:
            continue
        codes = [-1 if code is None else int(code) for _, code, _ in C.scenario_rows(site, i)]
        props = {"i": i, "h": codes, "label": html_text(C.building_name(base, i)),
                 "popup": C.building_card_html(site, i, advice=False) if inline_cards else ""}
        if firsts is not None:
            props["l"] = C.band_of_return_period(firsts[i])
        features.append({"type": "Feature", "id": str(i), "properties": props, "geometry": page_geometry(geom)})
    return {"type": "FeatureCollection", "features": features}


def _attach_cards(site) -> str:
    """Write the cards into the site files (:data:`CARDS_FILES`); returns their URL pattern."""
    base = site.runs[0]
    n = len(base.buildings)
    url = None
    for start in range(0, n, CARD_CHUNK):
        chunk = {str(i): C.building_card_html(site, i, advice=False)
                 for i in range(start, min(n, start + CARD_CHUNK))}
        rel = CARDS_FILES.format(chunk=start // CARD_CHUNK)
        url = site.attach(rel, js_json(chunk).encode("ascii"), mime="application/json")
    prefix = url.rsplit("/", 1)[0] if url else site.root + CARDS_FILES.rsplit("/", 1)[0]
    return f"{prefix}/CHUNK.json"


# --------------------------------------------------------------------------------------------- legends


def _rows(items) -> str:
    return "<table>" + "".join(
        f"<tr><td><span class='swatch' style='background:{colour}'></span></td><td>{text}</td></tr>"
        for colour, text in items
    ) + "</table>"


def danger_legend_html(threshold_m: float, several: bool) -> str:
    """The danger legend: hazard classes in words, buildings without flooding, (several scenarios:)
    buildings not in the chosen scenario. Constants and numbers only."""
    items = [(HAZARD_COLOURS[c.code], f"<b>{html_text(c.label)}</b><br>{html_text(HAZARD_ADVICE[c.code])}")
             for c in HAZARD_CLASSES if c.code > 0]
    items.append((HAZARD_COLOURS[0], f"<b>Buildings: no flooding</b><br>No water {threshold_m * 100:.0f} cm "
                                     "deep or more next to the building."))
    if several:
        items.append((MISSING_COLOUR, "Buildings not in the chosen scenario"))
    note = (f"<div class='floodsim-legend-note'>Depth and speed of the water combined as in the UK Flood "
            f"Risks to People method. Water shallower than {threshold_m * 100:.0f} cm is not shown. "
            "Click a building for its numbers.</div>")
    return legend_html("Danger to people from flood water", _rows(items) + note)


def likelihood_legend_html(site) -> str:
    """The likelihood legend: the bands (EA wording) and the buildings by the return period at which
    they first flood (the colour of its band)."""
    bands = [(LIKELIHOOD_COLOURS[b], html_text(C.BAND_WORDS[b])) for b in (4, 3, 2, 1)]
    rps = sorted({float(t) for t in (site.likelihood.return_periods_yr or [])})
    firsts = C.likelihood_rows(site) or []
    rps = sorted(set(rps) | {float(t) for t in firsts if t is not None})
    buildings = [(LIKELIHOOD_COLOURS.get(C.band_of_return_period(t), NOT_FLOODED_COLOUR),
                  f"first floods in the 1-in-{t:g}-year storm") for t in rps]
    buildings.append((NOT_FLOODED_COLOUR, "not flooded by any modelled storm"))
    body = (_rows(bands) + "<div class='floodsim-legend-note'><b>Buildings</b></div>" + _rows(buildings)
            + "<div class='floodsim-legend-note'>From storms of several return periods (a 1-in-T-year storm "
              "has a 1/T chance each year). UK Environment Agency bands.</div>")
    return legend_html(LIKELIHOOD_NAME, body)


# --------------------------------------------------------------------------------------------- the page


def resident_page(site) -> folium.Map:
    """Build the resident page of ``site`` (module docstring).

    Raises
    ------
    InputDataError
        The site has no run, or not one label per run.
    """
    if not site.runs:
        raise InputDataError("the resident page needs at least one run folder.")
    if len(site.labels) != len(site.runs):
        raise InputDataError(f"the resident page needs one label per run ({len(site.runs)} runs, "
                             f"{len(site.labels)} labels).")
    base = site.runs[0]
    m = folium.Map(tiles=None, control_scale=True, zoom_snap=0.25)
    m.get_root().header.add_child(folium.Element(CONTROL_CSS))
    ResidentScript().add_to(m)
    basemap = add_base_layers(m, site)

    # the flood layers: danger per scenario, likelihood
    several = len(site.runs) > 1
    hazard_layers, flood = [], []
    likelihood = site.raster(None, "likelihood") if site.likelihood is not None else None
    for k, label in enumerate(site.labels):
        r = site.raster(k, "hazard")
        if r is None:
            continue
        layer = r.folium_layer(f"Danger to people — {label}", show=(k == 0 and likelihood is None),
                               opacity=0.75, zindex=4)
        hazard_layers.append(layer)
        flood.append((f"Danger to people — {label}", layer, k))
    lk_layer = None
    if likelihood is not None:
        lk_layer = likelihood.folium_layer(LIKELIHOOD_NAME, show=True, opacity=0.75, zindex=4)
        flood.insert(0, (LIKELIHOOD_NAME, lk_layer, "likelihood"))
    exclusive = len(flood) > 1
    for _, layer, _ in flood:
        if exclusive:
            layer.control = False     # listed in the flood-layer control, not in the main one
        layer.add_to(m)
    mode = "likelihood" if lk_layer is not None else 0

    # buildings and their cards
    buildings = None
    fc = buildings_collection(site, inline_cards=site.embed)
    if fc is not None:
        if site.embed:
            source, cards_url = fc, None
        else:
            source = site.attach(BUILDINGS_FILE, js_json(fc).encode("ascii"), mime="application/json")
            cards_url = _attach_cards(site)
        buildings = ResidentBuildings(source, "Buildings", mode, cards_url, C.advice_html(site))
        buildings.add_to(m)

    # search
    index = index_payload(build_index(site))
    if site.embed:
        SearchControl(index=index).add_to(m)
    else:
        url = site.attach(INDEX_FILE, js_json(index).encode("ascii"), mime="application/json")
        SearchControl(index_url=url).add_to(m)

    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    if exclusive:
        FloodLayerControl(flood).add_to(m)

    # legends, title, about
    danger_on = hazard_layers + ([] if exclusive or buildings is None else [buildings])
    if danger_on:
        FollowLegend(danger_legend_html(base.threshold_m, several), danger_on).add_to(m)
    if lk_layer is not None:
        FollowLegend(likelihood_legend_html(site), [lk_layer]).add_to(m)
    names = ", ".join(html_text(x) for x in site.labels)
    note = ""
    if site.likelihood is None:
        note = (f"<div class='floodsim-event-note'>{C.single_event_html(site)} "
                "This map does not show how likely flooding is.</div>")
    HtmlControl(f"<span class='floodsim-title'>{html_text(site.texts.title)}</span>"
                f"<span class='floodsim-title-more'><br>{names}{note}</span>", position="bottomleft").add_to(m)
    try:
        from .about import add_about
    except ImportError:       # the about panel is optional for the page
        add_about = None
    if add_about is not None:
        add_about(m, site)
    bounds = basemap["bounds"]
    if bounds is None and fc is not None:
        b = base.buildings.to_crs(4326).total_bounds
        bounds = [[float(b[1]), float(b[0])], [float(b[3]), float(b[2])]]
    if bounds is not None:
        m.fit_bounds(bounds)
    return m


def resident_map(runs: list[Run], offline: bool = False) -> folium.Map:
    """The resident page of run folders as one self-contained page (``floodsim map --resident``).

    Parameters
    ----------
    runs : list of Run
        The published scenarios (:func:`floodsim.maps.rundata.map_run`), the first the reference.
    offline : bool
        Leave out the online street map (the terrain is the base map).
    """
    if not runs:
        raise InputDataError("the resident map needs at least one run folder.")
    from ..scenario.site import PublishTexts
    from .sitedata import BaseMap, Site, embedded_source

    from .site import fill_texts

    labels = [r.name for r in runs]
    site = Site(runs=list(runs), labels=labels, texts=fill_texts(PublishTexts(), runs, labels),
                raster_source=embedded_source, base=BaseMap(online=not offline), offline=offline, embed=True)
    return resident_page(site)


__all__ = ["BUILDINGS_FILE", "CARDS_FILES", "FloodLayerControl", "ResidentBuildings", "buildings_collection",
           "danger_legend_html", "likelihood_legend_html", "resident_map", "resident_page"]
