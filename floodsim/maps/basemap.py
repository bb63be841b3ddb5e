"""The base map of the published pages (resident and planner): streets online, the city's own layers
offline, the terrain always, and a fallback when the street tiles cannot be loaded.

:func:`add_base_layers` adds to a folium map:

* **Online** (``site.base.online`` and not ``site.offline``): OpenStreetMap streets as the base layer
  shown first, with its attribution. If its tiles fail to load (Leaflet ``tileerror`` events: a blocked
  tile server, no network) before any has loaded, or none has loaded after
  :data:`TILE_TIMEOUT_S`, the page says "The street map could not be loaded; showing the offline map"
  and switches to the offline base below (:class:`TileFallback`).
* **Offline base**: (a) the user's own XYZ tiles (``site.base.local_tiles_url``, copied into the site by
  the site writer) as a base layer; (b) the terrain (hillshade, ``site.raster(0, "hillshade")``) as a
  base layer; (c) a vector base drawn from the project's own layers (``site.base.vector``: ``"roads"``,
  ``"water"``, ``"buildings"`` → ``(GeoDataFrame, name_field)``) in muted colours, with name labels where
  the layer has a name field, shown from zoom :data:`LABEL_MIN_ZOOM` (roads) and
  :data:`LABEL_MIN_ZOOM_AREAS` (water, buildings). The vector base is on by default offline, off
  online (the street map has it) and switched on by the fallback.

Panes keep the base map under whatever a page adds in Leaflet's own panes: base tiles (OSM, local tiles,
terrain tiles; z 100) < terrain image (z 110) < vector base (z 150) < the page's flood rasters (Leaflet's
``tilePane``, 200, and ``overlayPane``, 400) < the resident page's buildings (z 420) < labels (z 450).
So a base layer switched on later (the fallback) never covers a flood layer.

Vector data is simplified (:data:`SIMPLIFY_M`) and rounded to 1e-6° (~0.1 m) and reaches the page as
:func:`floodsim.maps.safe.js_json`: inline on a self-contained page, else as a site file under
``data/`` fetched by the page (:class:`GeoJsonData`). Names are plain text, escaped with
:func:`floodsim.maps.safe.html_text` (labels are HTML).

:class:`FollowLegend` is a legend shown only while one of its layers is on the map.
"""

from __future__ import annotations

import math

import folium
from branca.element import MacroElement
from folium.map import Layer
from folium.template import Template

from .pagestyle import LEGEND_CSS_CLASS
from .safe import html_text, js_json
from .sitedata import COORD_DECIMALS, GEOJSON_SOURCE_JS, page_geometry

#: Tolerance of the simplification of vector base layers [m].
SIMPLIFY_M = 0.3
#: Road labels show from this zoom level on; water and building names from the next.
LABEL_MIN_ZOOM = 16
LABEL_MIN_ZOOM_AREAS = 17
#: Shortest road part that gets a label [m].
LABEL_MIN_ROAD_M = 25.0
#: Most labels per layer (the longest roads and largest areas first).
MAX_LABELS = 4000
#: Seconds without a single street tile before the page falls back to the offline base.
TILE_TIMEOUT_S = 10
#: Failed street tiles (with none loaded) before the page falls back.
TILE_ERRORS = 2

FALLBACK_MESSAGE = "The street map could not be loaded; showing the offline map."

#: Muted colours of the vector base (fill, edge): roads light on the grey terrain, water pale blue.
VECTOR_STYLE = {
    "roads": {"color": "#8a8a8a", "weight": 1, "fillColor": "#fbfaf7", "fillOpacity": 0.85, "opacity": 0.9},
    "road_lines": {"color": "#fbfaf7", "weight": 5, "opacity": 0.95},
    "water": {"color": "#7fb2c9", "weight": 1, "fillColor": "#aad3df", "fillOpacity": 0.9, "opacity": 0.9},
    "buildings": {"color": "#a69b92", "weight": 1, "fillColor": "#d9d0c9", "fillOpacity": 0.8,
                  "opacity": 0.9},
}
LAYER_NAMES = {"roads": "Streets (city data)", "water": "Water (city data)",
               "buildings": "Buildings (city data)"}

#: The custom panes (name → z-index), made once per map by :class:`Panes`.
PANES = {"floodsimBasemap": 100, "floodsimTerrain": 110, "floodsimBase": 150, "floodsimBuildings": 420,
         "floodsimLabels": 450}

BASEMAP_CSS = f"""
.floodsim-label {{ background: none; border: 0; }}
.floodsim-label span {{ position: absolute; transform: translate(-50%, -50%); white-space: nowrap;
  font: 600 12px/1.1 system-ui, sans-serif; color: #333333; pointer-events: none;
  text-shadow: 0 0 2px #ffffff, 0 0 3px #ffffff, 0 0 4px #ffffff; }}
.floodsim-label.floodsim-area span {{ font-style: italic; font-weight: 500; color: #2d4f5e; }}
.leaflet-container .floodsim-label-{LABEL_MIN_ZOOM}, .leaflet-container .floodsim-label-{LABEL_MIN_ZOOM_AREAS}
  {{ display: none; }}
.leaflet-container.floodsim-z{LABEL_MIN_ZOOM} .floodsim-label-{LABEL_MIN_ZOOM},
.leaflet-container.floodsim-z{LABEL_MIN_ZOOM_AREAS} .floodsim-label-{LABEL_MIN_ZOOM_AREAS} {{ display: block; }}
.floodsim-basemap-note {{ display: flex; gap: 8px; align-items: flex-start; background: #fff4d6;
  border: 1px solid #8a6d00; max-width: min(320px, calc(100vw - 80px)); }}
.floodsim-basemap-note button {{ border: 0; background: transparent; font-size: 18px; line-height: 1;
  cursor: pointer; min-width: 28px; min-height: 28px; }}
"""


# --------------------------------------------------------------------------------- page machinery


class Panes(MacroElement):
    """Create the base-map panes (:data:`PANES`) and the zoom classes of the labels (once per map)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
          var panes = {{ this.panes_js }};
          for (var name in panes) {
            if (!map.getPane(name)) { map.createPane(name).style.zIndex = panes[name]; }
          }
          map.getPane("floodsimLabels").style.pointerEvents = "none";
          var levels = {{ this.levels_js }};
          function zoomClasses() {
            var z = map.getZoom(), c = map.getContainer();
            levels.forEach(function (l) { c.classList.toggle("floodsim-z" + l, z >= l); });
          }
          map.on("zoomend", zoomClasses);
          map.whenReady(zoomClasses);
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self):
        super().__init__()
        self._name = "Panes"
        self.panes_js = js_json(PANES)
        self.levels_js = js_json([LABEL_MIN_ZOOM, LABEL_MIN_ZOOM_AREAS])


class GeoJsonData(Layer):
    """A GeoJSON layer whose data is inline (a self-contained page) or a site file fetched by the page.

    ``source`` is a FeatureCollection (JSON-ready, strings as they are) or a URL. ``style`` is a
    Leaflet path style (constants). The inline data is written as ``<name>_add({...});`` on its own line.
    ``on_ready`` is JavaScript (constants) run with the filled layer as ``layer``.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJSON(null, {
            pane: {{ this.pane_js }}, interactive: {{ this.interactive_js }},
            renderer: L.svg({pane: {{ this.pane_js }}}),
            style: function () { return {{ this.style_js }}; }
        });
        function {{ this.get_name() }}_add(fc) {
            var layer = {{ this.get_name() }};
            layer.addData(fc);
            {{ this.on_ready }}
            return layer;
        }
        """ + GEOJSON_SOURCE_JS + """
        {% endmacro %}
        """
    )

    def __init__(self, source, name: str, style: dict | None = None, pane: str = "floodsimBase",
                 show: bool = True, overlay: bool = True, control: bool = True, interactive: bool = False,
                 on_ready: str = ""):
        super().__init__(name=html_text(name), overlay=overlay, control=control, show=show)
        self._name = "GeoJsonData"
        self.inline = not isinstance(source, str)
        self.data_js = js_json(source)
        self.style_js = js_json(style or {})
        self.pane_js = js_json(pane)
        self.interactive_js = "true" if interactive else "false"
        self.on_ready = on_ready


class LabelLayer(Layer):
    """Name labels (plain text, escaped here) at points, shown from zoom ``min_zoom`` (CSS classes set
    by :class:`Panes`)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.layerGroup((function (labels) {
            return labels.map(function (l) {
                return L.marker([l[0], l[1]], {
                    pane: "floodsimLabels", interactive: false, keyboard: false,
                    icon: L.divIcon({className: {{ this.class_js }}, html: "<span>" + l[2] + "</span>",
                                     iconSize: null})
                });
            });
        })({{ this.labels_js }}));
        {% endmacro %}
        """
    )

    def __init__(self, labels: list, name: str, min_zoom: int, area: bool = False, show: bool = True):
        super().__init__(name=html_text(name), overlay=True, control=True, show=show)
        self._name = "LabelLayer"
        self.labels_js = js_json([[lat, lon, html_text(text)] for lat, lon, text in labels])
        self.class_js = js_json(f"floodsim-label floodsim-label-{min_zoom}" + (" floodsim-area" if area else ""))


class TileFallback(MacroElement):
    """Switch from the online street map to the offline base when its tiles fail (module docstring)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
          var map = {{ this._parent.get_name() }}, online = {{ this.online.get_name() }};
          var offline = {{ this.offline.get_name() }};
          var extras = [{% for l in this.extras %}{{ l.get_name() }}{{ "," if not loop.last }}{% endfor %}];
          var loaded = 0, failed = 0, done = false;
          function fallback() {
            if (done) { return; }
            done = true;
            if (map.hasLayer(online)) { map.removeLayer(online); }
            if (!map.hasLayer(offline)) { map.addLayer(offline); }
            extras.forEach(function (l) { if (!map.hasLayer(l)) { map.addLayer(l); } });
            var note = L.control({position: "bottomleft"});
            note.onAdd = function () {
              var div = L.DomUtil.create("div", "floodsim-control floodsim-basemap-note");
              div.setAttribute("role", "status");
              var text = L.DomUtil.create("span", "", div);
              text.textContent = {{ this.message_js }};
              var close = L.DomUtil.create("button", "", div);
              close.type = "button";
              close.setAttribute("aria-label", "Close this message");
              close.textContent = "\\u00d7";
              close.addEventListener("click", function () { note.remove(); });
              L.DomEvent.disableClickPropagation(div);
              return div;
            };
            note.addTo(map);
            map.getContainer().setAttribute("data-floodsim-basemap", "offline");
          }
          online.on("tileload", function () { loaded += 1; });
          online.on("tileerror", function () {
            failed += 1;
            if (loaded === 0 && failed >= {{ this.errors }}) { fallback(); }
          });
          setTimeout(function () {
            if (!done && loaded === 0 && map.hasLayer(online)) { fallback(); }
          }, {{ this.timeout_ms }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, online, offline, extras=()):
        super().__init__()
        self._name = "TileFallback"
        self.online, self.offline, self.extras = online, offline, list(extras)
        self.message_js = js_json(FALLBACK_MESSAGE)
        self.errors = int(TILE_ERRORS)
        self.timeout_ms = int(TILE_TIMEOUT_S * 1000)


class FollowLegend(MacroElement):
    """A legend (``html``: safe HTML, e.g. :func:`floodsim.maps.pagestyle.legend_html`) shown only while
    at least one of ``layers`` is on the map."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
          var map = {{ this._parent.get_name() }};
          var layers = [{% for l in this.layers %}{{ l.get_name() }}{{ "," if not loop.last }}{% endfor %}];
          var legend = L.control({position: {{ this.position_js }}});
          legend.onAdd = function () {
            var div = L.DomUtil.create("div", {{ this.css_js }});
            div.innerHTML = {{ this.html_js }};
            L.DomEvent.disableClickPropagation(div);
            L.DomEvent.disableScrollPropagation(div);
            return div;
          };
          function update() {
            var on = layers.some(function (l) { return map.hasLayer(l); });
            if (on && !legend._map) { legend.addTo(map); }
            else if (!on && legend._map) { legend.remove(); }
          }
          map.on("layeradd layerremove", update);
          map.whenReady(update);
        })();
        {% endmacro %}
        """
    )

    def __init__(self, html: str, layers, position: str = "bottomright", css_class: str = LEGEND_CSS_CLASS):
        super().__init__()
        self._name = "FollowLegend"
        self.layers = list(layers)
        self.html_js, self.position_js, self.css_js = js_json(html), js_json(position), js_json(css_class)


# --------------------------------------------------------------------------------- vector data


def _metric(gdf):
    if gdf.crs is None:
        from ..errors import InputDataError

        raise InputDataError("a base-map layer has no CRS; give it one (e.g. with GIS software).")
    return gdf.to_crs(gdf.estimate_utm_crs()) if gdf.crs.is_geographic else gdf


def vector_collection(gdf) -> dict:
    """The layer as a FeatureCollection in EPSG:4326 without attributes (simplified, rounded)."""
    g = _metric(gdf)
    geoms = g.geometry.simplify(SIMPLIFY_M, preserve_topology=True).to_crs(4326)
    features = [{"type": "Feature", "properties": {}, "geometry": page_geometry(geom)}
                for geom in geoms
                if geom is not None and not geom.is_empty and geom.geom_type != "GeometryCollection"]
    return {"type": "FeatureCollection", "features": features}


def _name(value) -> str | None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    text = " ".join(str(value).split())
    return text or None


def vector_labels(gdf, name_field: str, lines: bool) -> list[tuple[float, float, str]]:
    """Label points ``(lat, lon, name)`` of a layer: for roads one per named stretch (features of the
    same name merged; parts shorter than :data:`LABEL_MIN_ROAD_M` left out) at its middle, for areas
    one per feature at a point inside it. Longest/largest first, at most :data:`MAX_LABELS`."""
    import geopandas as gpd
    from shapely.ops import linemerge, unary_union

    if name_field not in gdf.columns or len(gdf) == 0:
        return []
    g = _metric(gdf)
    names = [_name(v) for v in g[name_field]]
    rows = []
    if lines:
        groups: dict[str, list] = {}
        for n, geom in zip(names, g.geometry):
            if n is not None and geom is not None and not geom.is_empty:
                groups.setdefault(n, []).append(geom)
        for n, geoms in groups.items():
            merged = unary_union(geoms)
            if merged.geom_type in ("LineString", "MultiLineString"):
                merged = linemerge(merged) if merged.geom_type == "MultiLineString" else merged
                parts = list(getattr(merged, "geoms", [merged]))
                for p in parts:
                    if p.length >= LABEL_MIN_ROAD_M:
                        rows.append((p.length, p.interpolate(0.5, normalized=True), n))
            else:
                parts = list(getattr(merged, "geoms", [merged]))
                for p in parts:
                    if not p.is_empty:
                        rows.append((p.area, p.representative_point(), n))
    else:
        for n, geom in zip(names, g.geometry):
            if n is not None and geom is not None and not geom.is_empty:
                rows.append((geom.area, geom.representative_point(), n))
    rows.sort(key=lambda r: -r[0])
    rows = rows[:MAX_LABELS]
    if not rows:
        return []
    pts = gpd.GeoSeries([r[1] for r in rows], crs=g.crs).to_crs(4326)
    return [(round(p.y, COORD_DECIMALS), round(p.x, COORD_DECIMALS), r[2]) for p, r in zip(pts, rows)]


def _source(site, relpath: str, fc: dict):
    """Inline data on a self-contained page, else a site file (its URL)."""
    if site.embed:
        return fc
    return site.attach(relpath, js_json(fc).encode("ascii"), mime="application/json")


# --------------------------------------------------------------------------------- the base map


def add_base_layers(m, site) -> dict:
    """Add the base map of ``site`` to the folium map ``m`` (module docstring).

    Returns ``{"bounds": [[s, w], [n, e]] or None, "online": layer or None, "offline": the offline
    base layer, "vector": [vector base layers]}``. Add the page's layer control after the page's own
    layers (folium lists the map's layers when the control is rendered).
    """
    Panes().add_to(m)
    online = bool(site.base.online) and not site.offline
    out = {"bounds": None, "online": None, "offline": None, "vector": []}

    base_layers = []
    local = None
    if site.base.local_tiles_url:
        local = site.base.local_layer("Local map (offline)", show=False, root=site.root)
        local.options["pane"] = "floodsimBasemap"
        base_layers.append(local)
    shade = site.raster(0, "hillshade")
    terrain = None
    if shade is not None:
        terrain = shade.folium_layer("Terrain (offline)", show=False, opacity=1.0, zindex=1, overlay=False)
        terrain.options["pane"] = "floodsimTerrain" if shade.tile_url is None else "floodsimBasemap"
        base_layers.append(terrain)
        out["bounds"] = shade.bounds
    offline_base = local or terrain
    out["offline"] = offline_base

    osm = None
    if online:
        osm = folium.TileLayer("OpenStreetMap", name="Street map (OpenStreetMap)", overlay=False, show=True,
                               max_zoom=22, max_native_zoom=19, pane="floodsimBasemap")
        osm.add_to(m)
        out["online"] = osm
    elif offline_base is not None:
        offline_base.show = True
    for layer in base_layers:
        layer.add_to(m)

    vector = []
    specs = site.base.vector or {}
    for key in ("water", "roads", "buildings"):
        if key not in specs or specs[key] is None:
            continue
        gdf, name_field = specs[key]
        if gdf is None or len(gdf) == 0:
            continue
        fc = vector_collection(gdf)
        if not fc["features"]:
            continue
        lines = all(f["geometry"]["type"] in ("LineString", "MultiLineString") for f in fc["features"])
        style = VECTOR_STYLE["road_lines" if key == "roads" and lines else key]
        layer = GeoJsonData(_source(site, f"data/base_{key}.json", fc), LAYER_NAMES[key], style=style,
                            show=not online)
        layer.add_to(m)
        vector.append(layer)
        if name_field:
            labels = vector_labels(gdf, name_field, lines=(key == "roads"))
            if labels:
                zoom = LABEL_MIN_ZOOM if key == "roads" else LABEL_MIN_ZOOM_AREAS
                lab = LabelLayer(labels, {"roads": "Street names", "water": "Water names",
                                          "buildings": "Building names"}[key], zoom, area=(key != "roads"),
                                 show=not online)
                lab.add_to(m)
                vector.append(lab)
    out["vector"] = vector
    if osm is not None and offline_base is not None:
        TileFallback(osm, offline_base, vector).add_to(m)
    m.get_root().header.add_child(folium.Element(f"<style>{BASEMAP_CSS}</style>"), name="floodsim_basemap_css")
    return out


__all__ = ["BASEMAP_CSS", "FALLBACK_MESSAGE", "FollowLegend", "GeoJsonData", "LabelLayer", "Panes",
           "TileFallback", "add_base_layers", "vector_collection", "vector_labels"]
