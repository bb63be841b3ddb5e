"""The vector layers of the planner page and its legend bodies: buildings by hazard class, measures
(hatched, named footprints), gauges with their hydrograph PNGs, the changed buildings of a comparison.
The rasters come from the site (:meth:`floodsim.maps.sitedata.Site.raster`).

Every string that comes from data (building ids, attributes and addresses, scenario and measure names
and types) reaches the page only through :func:`floodsim.maps.safe.html_text` (Leaflet puts layer names,
popups, tooltips and search tips into the page as HTML, and branca renders the page's script twice as a
Jinja template); what our own templates paste into a script goes through
:func:`floodsim.maps.safe.js_json`.
"""

from __future__ import annotations

import io

import folium
import numpy as np
from branca.element import MacroElement
from folium.map import Layer
from folium.template import Template

from .safe import html_text, js_json
from .sitedata import GEOJSON_SOURCE_JS, page_geometry
from .rasters import to_web_mercator
from ..io.runfolder import Run
from .style import (
    BUILDING_EDGE,
    HAZARD_COLOURS,
    SEWER_CAPACITY_EDGES,
    SEWER_CAPACITY_LABELS,
    SEWER_NODE_COLOURS,
    sewer_capacity_colours,
    depth_colours,
    depth_labels,
    hazard_label,
    hazard_name,
    measure_colour,
)




def fmt_m(value, unit: str = "m", digits: int = 2) -> str:
    """``value`` with ``digits`` decimals and its unit, or "–" when missing or not finite."""
    return "–" if value is None or not np.isfinite(value) else f"{value:.{digits}f} {unit}"


def overlay_bounds(run: Run) -> list[list[float]]:
    """Lat/lon corners of the run's grid in web mercator (for ``fit_bounds``)."""
    _, bounds = to_web_mercator(np.zeros(run.ds["elevation"].shape, np.float32), run.transform, run.crs)
    return bounds


def building_label(run: Run, row) -> str:
    """Plain text naming a building: its id, and its address when the layer has one."""
    ident = "" if run.id_field is None else str(row[run.id_field])
    if run.address_field is not None and row[run.address_field] is not None:
        return f"{ident} — {row[run.address_field]}" if ident else str(row[run.address_field])
    return ident


def buildings_feature_collection(runs: list[Run], mode: str) -> dict | None:
    """GeoJSON (EPSG:4326) of the first run's buildings with escaped ``label``, ``popup`` and ``style``.

    ``mode`` is ``"planner"`` (numbers: depth, speed, HR, class for the run) or ``"resident"`` (a row per
    published scenario: deepest water next to the building and what the hazard means). Buildings are
    matched between runs by their id.
    """
    base = runs[0]
    if base.buildings is None or len(base.buildings) == 0:
        return None
    lookup = []
    for run in runs:
        if run.buildings is None or run.id_field is None:
            lookup.append({})
        else:
            lookup.append({str(r[run.id_field]): r for _, r in run.buildings.iterrows()})
    gdf = base.buildings.to_crs(4326)
    features = []
    for (_, row), geom in zip(base.buildings.iterrows(), gdf.geometry):
        if geom is None or geom.is_empty:
            continue
        label = building_label(base, row)
        ident = str(row[base.id_field]) if base.id_field else None
        code = int(row.get("hazard_code", 0) or 0)
        if mode == "planner":
            popup = (
                f"<b>Building {html_text(label)}</b><br>"
                f"max depth next to it: {fmt_m(row.get('max_depth_m'))}<br>"
                f"max speed: {fmt_m(row.get('max_speed_m_s'), 'm/s')}<br>"
                f"hazard rating: {fmt_m(row.get('max_hazard_rating'), '')}<br>"
                f"hazard class: {html_text(hazard_name(code))} ({html_text(hazard_label(code))})"
            )
        else:
            rows = []
            for run, table in zip(runs, lookup):
                r = table.get(ident) if ident is not None else None
                if r is None:
                    rows.append(
                        f"<tr><td>{html_text(run.name)}</td><td colspan='2'>not in this scenario</td></tr>"
                    )
                    continue
                c = int(r.get("hazard_code", 0) or 0)
                rows.append(
                    f"<tr><td>{html_text(run.name)}</td><td>{fmt_m(r.get('max_depth_m'))}</td>"
                    f"<td><span style='background:{HAZARD_COLOURS[c]};border:1px solid #555;"
                    f"padding:0 6px'>&nbsp;</span> {html_text(hazard_label(c))}</td></tr>"
                )
            popup = (
                f"<b>{html_text(label)}</b><table class='floodsim-popup'><tr><th>Scenario</th>"
                f"<th>Deepest water next to the building</th><th>Danger to people</th></tr>"
                + "".join(rows)
                + "</table>"
            )
        features.append(
            {
                "type": "Feature",
                "id": str(len(features)),  # folium keys its styles by this, not by a data-derived label
                "geometry": page_geometry(geom),
                "properties": {
                    "label": html_text(label),
                    "popup": popup,
                    "style": {
                        "fillColor": HAZARD_COLOURS[code],
                        "color": BUILDING_EDGE,
                        "weight": 1,
                        "fillOpacity": 0.9,
                    },
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


class FeatureLayer(Layer):
    """GeoJSON features whose properties carry their Leaflet ``style``, ``popup`` and ``label`` (HTML,
    already escaped with :func:`floodsim.maps.safe.html_text`): inline in a self-contained page, or a
    JSON file of a published site that the page fetches, so the HTML does not grow with the number of
    buildings. A hovered feature is outlined (weight 3, black)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJSON(null, {
            style: function (f) { return f.properties.style; },
            onEachFeature: function (f, layer) {
                if (f.properties.popup) { layer.bindPopup(f.properties.popup, {maxWidth: 420}); }
                if (f.properties.label) { layer.bindTooltip(f.properties.label, {sticky: true}); }
                layer.on("mouseover", function () { layer.setStyle({weight: 3, color: "#000000"}); });
                layer.on("mouseout", function () { layer.setStyle(f.properties.style); });
            }
        });
        function {{ this.get_name() }}_add(fc) { {{ this.get_name() }}.addData(fc); return {{ this.get_name() }}; }
        """ + GEOJSON_SOURCE_JS + """
        {% endmacro %}
        """
    )

    def __init__(self, source, name: str, show: bool = True):
        super().__init__(name=html_text(name), overlay=True, control=True, show=show)
        self._name = "FeatureLayer"
        self.inline = not isinstance(source, str)
        self.data_js = js_json(source)


def add_buildings(m, runs: list[Run], name: str, mode: str, show: bool = True, site=None,
                  key: str = ""):
    """Buildings coloured by hazard class, with an escaped popup and tooltip; returns the layer.

    With a published ``site`` (``site.embed`` False) the features go to ``planner/buildings<key>.json``
    and the page fetches them; otherwise they are inline.
    """
    fc = buildings_feature_collection(runs, mode)
    if fc is None:
        return None
    source = fc
    if site is not None and not site.embed:
        from .safe import file_json

        source = site.attach(f"planner/buildings{key}.json", file_json(fc).encode("utf-8"),
                             "application/json")
    layer = FeatureLayer(source, name, show=show)
    layer.add_to(m)
    return layer


def hatch_id(colour: str) -> str:
    """The id of the SVG hatch pattern of ``colour`` (``#rrggbb``), as :func:`hatch_defs` writes it."""
    return "floodsim-hatch-" + "".join(c for c in str(colour) if c.isalnum()).lower()


def hatch_defs(colours) -> str:
    """A hidden inline SVG with one diagonal hatch pattern per colour (constants: registry colours).

    Leaflet draws polygons as SVG paths whose ``fill`` is the style's ``fillColor``, so a footprint
    styled ``fillColor: "url(#<hatch_id>)"`` is hatched."""
    patterns = "".join(
        f"<pattern id='{hatch_id(c)}' patternUnits='userSpaceOnUse' width='8' height='8' "
        f"patternTransform='rotate(45)'><rect width='8' height='8' fill='{html_text(c)}' fill-opacity='0.18'/>"
        f"<line x1='0' y1='0' x2='0' y2='8' stroke='{html_text(c)}' stroke-width='3'/></pattern>"
        for c in sorted(set(colours))
    )
    return ("<svg class='floodsim-hatches' width='0' height='0' aria-hidden='true' focusable='false' "
            f"style='position:absolute;width:0;height:0;overflow:hidden'><defs>{patterns}</defs></svg>")


def hatch_swatch(colour: str) -> str:
    """A legend swatch hatched like a measure footprint of ``colour``."""
    return (f"<span class='swatch' aria-hidden='true' style='border-color:{html_text(colour)}'>"
            f"<svg width='14' height='14'><rect width='14' height='14' fill='url(#{hatch_id(colour)})'/></svg>"
            "</span>")


def measure_features(run: Run) -> tuple[list[dict], list[dict]]:
    """The run's measures as GeoJSON features (EPSG:4326): ``(footprints, points)``.

    Footprints (polygons and lines) are hatched in their type's colour; points (outlets, pumps, tank
    inlets) are filled circles. Each feature carries an escaped ``label`` (the measure's name) and
    ``popup`` (name, type, peak stored volume [m³])."""
    if run.measures is None or len(run.measures) == 0:
        return [], []
    gdf = run.measures.to_crs(4326)
    footprints, points = [], []
    for _, row in gdf.iterrows():
        geom = row.geometry
        if geom is None or geom.is_empty:
            continue
        kind = row.get("type", "")
        peak = row.get("peak_stored_m3")
        peak_ok = peak is not None and np.isfinite(peak)
        text = (
            f"<b>{html_text(row.get('name', ''))}</b><br>type: {html_text(kind)}<br>"
            f"peak stored volume: {fmt_m(peak, 'm³', 1) if peak_ok else '–'}<br>"
            "Water held here by design is storage, not flooding."
        )
        colour = measure_colour(kind)
        point = geom.geom_type in ("Point", "MultiPoint")
        target = points if point else footprints
        style = ({"color": colour, "fillColor": colour, "weight": 2, "fillOpacity": 0.9} if point else
                 {"color": colour, "fillColor": f"url(#{hatch_id(colour)})", "weight": 3, "fillOpacity": 1.0})
        target.append({
            "type": "Feature",
            "id": str(len(target)),
            "geometry": page_geometry(geom),
            "properties": {"popup": text, "label": html_text(row.get("name", "")),
                           "kind": html_text(str(kind).replace("_", " ")),
                           "colour": colour, "style": style},
        })
    return footprints, points


def add_measures(m, run: Run, name: str = "Measures", show: bool = True):
    """The run's measures: hatched, named footprints (a permanent label) and points (name on hover), with
    name, type and peak stored volume in the popup. One layer (a FeatureGroup) named ``name``; None when
    the run has no measures."""
    footprints, points = measure_features(run)
    if not footprints and not points:
        return None
    group = folium.FeatureGroup(name=html_text(name), show=show)
    m.get_root().html.add_child(folium.Element(hatch_defs(f["properties"]["colour"] for f in footprints + points)))
    if footprints:
        folium.GeoJson(
            {"type": "FeatureCollection", "features": footprints},
            style_function=lambda f: f["properties"]["style"],
            popup=folium.GeoJsonPopup(fields=["popup"], labels=False),
            tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False, permanent=True, direction="center",
                                          class_name="floodsim-measure-label"),
            control=False,
        ).add_to(group)
    if points:
        folium.GeoJson(
            {"type": "FeatureCollection", "features": points},
            style_function=lambda f: f["properties"]["style"],
            marker=folium.CircleMarker(radius=6),
            popup=folium.GeoJsonPopup(fields=["popup"], labels=False),
            tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False),
            control=False,
        ).add_to(group)
    group.add_to(m)
    group.measure_kinds = sorted({(f["properties"]["kind"], f["properties"]["colour"])
                                  for f in footprints + points})
    group.has_footprints = bool(footprints)
    return group


# ------------------------------------------------------------------------------------- legend bodies
def swatch(colour: str) -> str:
    """A filled legend swatch."""
    return f"<span class='swatch' aria-hidden='true' style='background:{html_text(colour)}'></span>"


def outline_swatch(colour: str, dashed: bool = False) -> str:
    """A legend swatch drawn as an outline (changed buildings)."""
    style = "dashed" if dashed else "solid"
    return (f"<span class='swatch' aria-hidden='true' style='background:transparent;"
            f"border:3px {style} {html_text(colour)}'></span>")


def legend_table(rows) -> str:
    """``rows``: (swatch HTML, text HTML) pairs, both safe."""
    return "<table>" + "".join(f"<tr><td>{sw}</td><td>{text}</td></tr>" for sw, text in rows) + "</table>"


def note(text_html: str) -> str:
    return f"<div class='floodsim-legend-note'>{text_html}</div>"


def depth_legend_body(threshold_m: float, measures: bool = False) -> str:
    """The depth classes [m] (those of ``flood.gpkg``); a note on measure footprints when there are any."""
    rows = [(swatch(c), html_text(t)) for c, t in zip(depth_colours(threshold_m).values(),
                                                       depth_labels(threshold_m))]
    text = note(f"Water shallower than {threshold_m * 100:.0f} cm is not drawn.")
    if measures:
        text += note("Water held by design in a measure (hatched footprint) is storage, not flooding, and "
                     "is not drawn; water spilling over it is.")
    return legend_table(rows) + text


def hazard_legend_body() -> str:
    """The hazard classes with their hazard-rating ranges (HR = d·(v + 0.5) + DF, UK FD2321)."""
    from ..analysis.hazard import HAZARD_CLASSES

    bounds = ["HR &lt; 0.75", "0.75 ≤ HR &lt; 1.25", "1.25 ≤ HR ≤ 2.0", "HR &gt; 2.0"]
    rows = [(swatch(HAZARD_COLOURS[c.code]), f"{html_text(c.label)} ({b})")
            for c, b in zip([c for c in HAZARD_CLASSES if c.code > 0], bounds)]
    return legend_table(rows) + note("HR = depth × (speed + 0.5) + debris factor, from the run maxima.")


def speed_legend_body(threshold_m: float) -> str:
    """The maximum-speed classes [m/s]."""
    from .style import SPEED_LABELS, speed_colours

    rows = [(swatch(c), html_text(t)) for c, t in zip(speed_colours().values(), SPEED_LABELS)]
    return legend_table(rows) + note(f"Drawn where the water was at least {threshold_m * 100:.0f} cm deep.")


def arrival_legend_body(threshold_m: float) -> str:
    """The arrival-time classes [min] (time until the flood depth first reaches the threshold)."""
    from .style import ARRIVAL_LABELS, arrival_colours

    rows = [(swatch(c), html_text(t)) for c, t in zip(arrival_colours().values(), ARRIVAL_LABELS)]
    return legend_table(rows) + note("Minutes from the start of the modelled rain. Never reached: not drawn.")


def diff_legend_body(label_a: str, label_b: str) -> str:
    """The B − A maximum-depth difference classes (labels plain text, escaped here)."""
    from .style import DIFF_LABELS, diff_colours

    colours = diff_colours()
    rows = [(swatch(colours[k]), html_text(DIFF_LABELS[k])) for k in sorted(colours)]
    rows.insert(3, ("<span class='swatch' aria-hidden='true' style='background:transparent'></span>",
                    "within 2 cm: no change (not drawn)"))
    return (f"<div>{html_text(label_b)} compared with {html_text(label_a)}</div>" + legend_table(rows)
            + note("Maximum flood depth; water held by design in measures is left out."))


def buildings_legend_body() -> str:
    """Buildings by hazard class next to them, the "none" class (no flooding) included."""
    from ..analysis.hazard import HAZARD_CLASSES

    rows = [(f"<span class='swatch' aria-hidden='true' style='background:{HAZARD_COLOURS[c.code]};"
             f"border-color:{BUILDING_EDGE}'></span>", html_text(c.label)) for c in HAZARD_CLASSES]
    return legend_table(rows) + note("Click a building for its depth, speed and hazard.")


def measures_legend_body(kinds, footprints: bool = True) -> str:
    """One row per measure type present: ``kinds`` is a list of (escaped type, colour)."""
    rows = [(hatch_swatch(colour), kind) for kind, colour in kinds]
    text = note("Hatched: the measure's footprint, named on the map. Water it holds by design is storage, "
                "not flooding.") if footprints else ""
    return legend_table(rows) + text


#: Outline colours of changed buildings: better (a lower hazard class in B) and worse (Okabe–Ito bluish
#: green and vermillion, which stay apart for the three colour-vision deficiencies; worse is also dashed).
CHANGE_COLOURS = {"better": "#009e73", "worse": "#d55e00"}


def changed_legend_body(label_a: str, label_b: str) -> str:
    rows = [(outline_swatch(CHANGE_COLOURS["better"]), "better: a lower hazard class"),
            (outline_swatch(CHANGE_COLOURS["worse"], dashed=True), "worse: a higher hazard class")]
    return (f"<div>{html_text(label_b)} compared with {html_text(label_a)}</div>" + legend_table(rows)
            + note("Choose a building below to zoom to it."))


GAUGE_COLOUR = "#6a3d9a"


def gauges_legend_body() -> str:
    rows = [(f"<span class='swatch' aria-hidden='true' style='background:{GAUGE_COLOUR};border-radius:50%;"
             "border:2px solid #ffffff'></span>", "gauge: click it for its hydrograph")]
    return legend_table(rows)


def sewer_legend_body() -> str:
    """Pipes by the peak share of their full-pipe capacity used, and the manholes."""
    colours = sewer_capacity_colours()
    rows = [(f"<span class='swatch' aria-hidden='true' style='background:{colours[k + 1]};height:5px;"
             "vertical-align:middle'></span>", label) for k, label in enumerate(SEWER_CAPACITY_LABELS)]
    rows += [(f"<span class='swatch' aria-hidden='true' style='background:{SEWER_NODE_COLOURS[key]};"
              f"border-radius:50%'></span>", text)
             for key, text in (("surcharged", "manhole surcharged: water rose above the ground"),
                               ("other", "manhole or outfall"))]
    return legend_table(rows) + note("Peak flow over full-pipe flow (Manning). Click a pipe or a manhole for "
                                     "its numbers.")


# ------------------------------------------------------------------------------------- the sewer network
def sewer_features(run: Run) -> tuple[list[dict], list[dict]]:
    """The run's sewer network (``flood.gpkg`` layers ``sewer_pipes``, ``sewer_nodes``) as GeoJSON
    features (EPSG:4326): ``(pipes, nodes)``, each with an escaped ``label`` and ``popup`` and its style.
    Pipes are coloured by the class of their peak capacity used; surcharged manholes stand out."""
    from .rasters import classify

    pipes, nodes = [], []
    colours = sewer_capacity_colours()
    if run.sewer_pipes is not None and len(run.sewer_pipes):
        gdf = run.sewer_pipes.to_crs(4326)
        used = gdf["peak_capacity_used"].to_numpy(dtype=float) if "peak_capacity_used" in gdf else None
        codes = classify(used, SEWER_CAPACITY_EDGES) if used is not None else np.zeros(len(gdf), int)
        for k, (_, row) in enumerate(gdf.iterrows()):
            if row.geometry is None or row.geometry.is_empty:
                continue
            code = int(codes[k])
            share = "–" if used is None or not np.isfinite(used[k]) else f"{100 * used[k]:.0f} %"
            popup = (f"<b>Pipe {html_text(row.get('name', ''))}</b> ({html_text(row.get('kind', ''))})<br>"
                     f"from {html_text(row.get('from_node', ''))} to {html_text(row.get('to_node', ''))}<br>"
                     f"peak flow: {fmt_m(row.get('peak_flow_m3_s'), 'm³/s', 3)}<br>"
                     f"full-pipe flow: {fmt_m(row.get('full_flow_m3_s'), 'm³/s', 3)}<br>"
                     f"peak capacity used: {share}")
            colour = colours.get(code, "#808080")
            pipes.append({"type": "Feature", "id": str(len(pipes)), "geometry": page_geometry(row.geometry),
                          "properties": {"label": html_text(row.get("name", "")), "popup": popup,
                                         "style": {"color": colour, "weight": 5 if code == 4 else 3,
                                                   "opacity": 0.95}}})
    if run.sewer_nodes is not None and len(run.sewer_nodes):
        gdf = run.sewer_nodes.to_crs(4326)
        for _, row in gdf.iterrows():
            if row.geometry is None or row.geometry.is_empty:
                continue
            surcharged = bool(row.get("surcharged", 0))
            colour = SEWER_NODE_COLOURS["surcharged" if surcharged else "other"]
            popup = (f"<b>{html_text(row.get('kind', 'node'))} {html_text(row.get('name', ''))}</b><br>"
                     f"ground (rim): {fmt_m(row.get('rim_m'))}, invert: {fmt_m(row.get('invert_m'))}<br>"
                     f"peak head: {fmt_m(row.get('max_head_m'))}"
                     + (" — above the ground: surcharged" if surcharged else "") + "<br>"
                     f"water out onto the street: {fmt_m(row.get('flooding_volume_m3'), 'm³', 1)}")
            nodes.append({"type": "Feature", "id": str(len(nodes)), "geometry": page_geometry(row.geometry),
                          "properties": {"label": html_text(row.get("name", "")), "popup": popup,
                                         "style": {"color": "#ffffff", "weight": 1.5, "fillColor": colour,
                                                   "fillOpacity": 1.0, "radius": 7 if surcharged else 4}}})
    return pipes, nodes


def add_sewer(m, run: Run, name: str = "Sewer network", show: bool = False):
    """The run's sewer network as one layer (a FeatureGroup of pipes and manholes); None without one."""
    pipes, nodes = sewer_features(run)
    if not pipes and not nodes:
        return None
    group = folium.FeatureGroup(name=html_text(name), show=show)
    if pipes:
        folium.GeoJson({"type": "FeatureCollection", "features": pipes},
                       style_function=lambda f: f["properties"]["style"],
                       popup=folium.GeoJsonPopup(fields=["popup"], labels=False, max_width=320),
                       tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False), control=False,
                       ).add_to(group)
    if nodes:
        folium.GeoJson({"type": "FeatureCollection", "features": nodes},
                       style_function=lambda f: f["properties"]["style"],
                       marker=folium.CircleMarker(radius=5),
                       popup=folium.GeoJsonPopup(fields=["popup"], labels=False, max_width=320),
                       tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False), control=False,
                       ).add_to(group)
    group.add_to(m)
    return group


# ------------------------------------------------------------------------------------- gauges
def words_hhmmss(seconds: float) -> str:
    """``seconds`` [s] as ``hh:mm:ss``."""
    s = max(0, int(round(float(seconds))))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _plain(text: str) -> str:
    """Plain text for matplotlib (``$`` would start mathtext)."""
    return str(text).replace("$", r"\$")


def gauge_hydrograph_png(name: str, series: list[tuple[str, np.ndarray, np.ndarray]], threshold_m: float) -> bytes:
    """A PNG of the depth [m] over time [min] at one gauge, one line per scenario.

    ``series``: (scenario label, time [s], depth [m]) per scenario; the flood threshold is dashed."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.2, 2.8), dpi=90)
    ax = fig.add_subplot(1, 1, 1)
    for label, t, d in series:
        ax.plot(np.asarray(t, float) / 60.0, d, label=_plain(label), lw=1.6)
    ax.axhline(threshold_m, color="0.4", ls="--", lw=1, label=f"flood threshold {threshold_m * 100:.0f} cm")
    ax.set_xlabel("time since the start [min]")
    ax.set_ylabel("depth [m]")
    ax.set_ylim(bottom=0)
    ax.set_title(_plain(name), fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def gauge_words(label: str, gauge, dry: bool) -> str:
    """The peak of ``gauge`` (a :class:`floodsim.maps.rundata.Gauge`) in words, plain text."""
    peak, when = gauge.peak_depth_m, gauge.peak_time_s
    if dry or not np.isfinite(peak):
        return f"{label}: stayed dry."
    minutes = when / 60.0
    return (f"{label}: deepest {peak:.2f} m, {minutes:.0f} minutes after the start ({words_hhmmss(when)}).")


def gauge_features(site) -> list[dict]:
    """The gauges of the site's runs (matched by name) as GeoJSON point features with escaped ``label``
    and ``popup``: the hydrograph PNG of every scenario (``site.attach``) and each peak in words."""
    from pyproj import Transformer

    by_name: dict[str, list] = {}
    place: dict[str, tuple] = {}
    for r, run in enumerate(site.runs):
        for g in getattr(run, "gauges", None) or []:
            by_name.setdefault(g.name, []).append((r, g))
            if g.name not in place:
                place[g.name] = (g.x, g.y, run.crs)
    features = []
    for k, (name, entries) in enumerate(by_name.items()):
        x, y, crs = place[name]
        lon, lat = Transformer.from_crs(crs, 4326, always_xy=True).transform(x, y)
        if not (np.isfinite(lon) and np.isfinite(lat)):
            continue
        thr = site.runs[entries[0][0]].threshold_m
        series = [(site.labels[r], g.time_s, g.depth_m) for r, g in entries]
        png = gauge_hydrograph_png(name, series, thr)
        url = site.attach(f"planner/gauge_{k}.png", png)
        words = []
        for r, g in entries:
            summary = site.runs[r].summary
            peaks = (summary.gauges if summary is not None else None) or {}
            words.append(gauge_words(site.labels[r], g, peaks.get(name) == "dry"))
        popup = (
            f"<div class='floodsim-gauge-popup'><b>Gauge {html_text(name)}</b>"
            f"<img src='{html_text(url)}' alt='Depth over time at gauge {html_text(name)}' width='380'>"
            + "".join(f"<div>{html_text(w)}</div>" for w in words) + "</div>"
        )
        features.append({
            "type": "Feature",
            "id": str(len(features)),
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"label": html_text(name), "popup": popup},
        })
    return features


def add_gauges(m, site, name: str = "Gauges", show: bool = True):
    """The gauges as markers whose popup shows their hydrograph; None when the runs have no gauges."""
    features = gauge_features(site)
    if not features:
        return None
    layer = folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name=html_text(name),
        marker=folium.CircleMarker(radius=7, color="#ffffff", weight=2, fill=True, fill_color=GAUGE_COLOUR,
                                   fill_opacity=1.0),
        popup=folium.GeoJsonPopup(fields=["popup"], labels=False, max_width=420),
        tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False),
        show=show,
    )
    layer.add_to(m)
    return layer


# ------------------------------------------------------------------------------------- changed buildings
def changed_features(site) -> list[dict]:
    """The comparison's changed buildings (EPSG:4326) with escaped ``label``, ``popup``, ``entry`` (the
    list text), ``outline`` and ``style``: green outline for better, dashed red-orange for worse."""
    cmp = site.comparison
    if cmp is None or cmp.changed_buildings is None or len(cmp.changed_buildings) == 0:
        return []
    gdf = cmp.changed_buildings
    if "run_b" in gdf.columns and gdf["run_b"].nunique() > 1:
        from ..analysis.compare import run_labels

        want = run_labels([site.runs[cmp.index_a], site.runs[cmp.index_b]])[1]
        gdf = gdf[gdf["run_b"].astype(str) == want]
    fixed = {"run_a", "run_b", "geometry", "change", "depth_change_m"}
    cols = list(gdf.columns)
    if cols[:2] == ["run_a", "run_b"] and len(cols) > 2:      # compare.changed_buildings: the id comes next
        id_col = cols[2]
    else:
        id_col = next((c for c in cols if c not in fixed and not c.endswith(("_a", "_b"))), None)
    la, lb = site.labels[cmp.index_a], site.labels[cmp.index_b]
    b_run = site.runs[cmp.index_b]
    address = {}
    if b_run.buildings is not None and b_run.id_field is not None and b_run.address_field is not None:
        address = {str(i): a for i, a in zip(b_run.buildings[b_run.id_field], b_run.buildings[b_run.address_field])}
    wgs = gdf.to_crs(4326) if gdf.crs is not None else gdf
    features = []
    for (_, row), geom in zip(gdf.iterrows(), wgs.geometry):
        if geom is None or geom.is_empty:
            continue
        ident = "" if id_col is None else str(row[id_col])
        addr = address.get(ident)
        label = f"{ident} — {addr}" if addr not in (None, "") and ident else (ident or str(addr or ""))
        ca, cb = int(row.get("hazard_code_a", 0) or 0), int(row.get("hazard_code_b", 0) or 0)
        change = "worse" if cb > ca else "better"
        colour = CHANGE_COLOURS[change]
        popup = (
            f"<b>Building {html_text(label)}</b><br>{change}: "
            f"{html_text(hazard_label(ca))} → {html_text(hazard_label(cb))}<br>"
            f"{html_text(la)}: max depth next to it {fmt_m(row.get('max_depth_m_a'))}, "
            f"{html_text(hazard_label(ca))}<br>"
            f"{html_text(lb)}: max depth next to it {fmt_m(row.get('max_depth_m_b'))}, "
            f"{html_text(hazard_label(cb))}<br>"
            f"depth change: {fmt_m(row.get('depth_change_m'))}"
        )
        entry = (f"{html_text(label)}: {html_text(hazard_label(ca))} → {html_text(hazard_label(cb))} "
                 f"({change})")
        features.append({
            "type": "Feature",
            "id": str(len(features)),
            "geometry": page_geometry(geom),
            "properties": {
                "label": html_text(label), "popup": popup, "entry": entry, "outline": colour,
                "change": change,
                "style": {"color": colour, "weight": 4, "fillColor": colour, "fillOpacity": 0.05,
                          "dashArray": "6 4" if change == "worse" else None},
            },
        })
    return features


def add_changed_buildings(m, site, name: str = "Changed buildings", show: bool = True):
    """The changed buildings outlined (better / worse), with popups; None without any."""
    features = changed_features(site)
    if not features:
        return None
    layer = folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name=html_text(name),
        style_function=lambda f: {k: v for k, v in f["properties"]["style"].items() if v is not None},
        highlight_function=lambda f: {"weight": 6},
        popup=folium.GeoJsonPopup(fields=["popup"], labels=False, max_width=420),
        tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False),
        zoom_on_click=False,
        show=show,
    )
    layer.add_to(m)
    return layer


class ToLayerControl(MacroElement):
    """List a layer that folium does not know as one (e.g. the time slider's layer) in a layer control.

    ``label`` is plain text (escaped here: Leaflet shows layer names as HTML)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            {{ this.control.get_name() }}.addOverlay({{ this.layer.get_name() }}, {{ this.label_js }});
        {% endmacro %}
        """
    )

    def __init__(self, control, layer, label: str):
        super().__init__()
        self._name = "ToLayerControl"
        self.control = control
        self.layer = layer
        self.label = label
        self.label_js = js_json(html_text(label))
