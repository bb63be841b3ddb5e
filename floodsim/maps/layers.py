"""Folium layers built from a run: hillshade, depth, hazard, buildings, measures, the depth time slider.

Every string that comes from data (building ids, attributes and addresses, scenario and measure names
and types) reaches the page only through :func:`floodsim.maps.safe.html_text` (Leaflet puts layer names,
popups, tooltips and search tips into the page as HTML, and branca renders the page's script twice as a
Jinja template); what our own templates paste into a script goes through
:func:`floodsim.maps.safe.js_json`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import folium
import numpy as np
from branca.element import MacroElement
from folium.plugins import TimestampedGeoJson
from folium.template import Template
from rasterio.enums import Resampling
from shapely.geometry import mapping

from .controls import HtmlControl
from .safe import JsonPayload, html_text, js_json
from .rasters import classify, grey_rgba, hillshade, paint_classes, png_data_uri, to_web_mercator
from ..io.runfolder import Run
from .style import (
    BUILDING_EDGE,
    HAZARD_COLOURS,
    depth_colours,
    depth_edges,
    depth_labels,
    hazard_colours,
    hazard_label,
    hazard_name,
    measure_colour,
)

#: Simulation time 0 is shown on the time slider as this instant; the label format shows hh:mm:ss since start.
TIME_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)


def fmt_m(value, unit: str = "m", digits: int = 2) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.{digits}f} {unit}"


def overlay_bounds(run: Run) -> list[list[float]]:
    """Lat/lon corners of the run's grid in web mercator (for ``fit_bounds``)."""
    _, bounds = to_web_mercator(np.zeros(run.ds["elevation"].shape, np.float32), run.transform, run.crs)
    return bounds


def add_hillshade(m, run: Run, name: str = "Terrain (hillshade)", overlay: bool = False):
    """The DEM hillshade as an embedded image (the base layer: no tiles are fetched)."""
    z = run.ds["elevation"].values
    shade = hillshade(z, float(run.ds.attrs.get("dx_m", 1.0)), float(run.ds.attrs.get("dy_m", 1.0)))
    img, bounds = to_web_mercator(shade, run.transform, run.crs, Resampling.bilinear)
    folium.raster_layers.ImageOverlay(
        png_data_uri(grey_rgba(img)),
        bounds=bounds,
        name=html_text(name),
        overlay=overlay,
        control=True,
        zindex=1,
    ).add_to(m)
    return bounds


def add_depth(m, run: Run, name: str, show: bool = True, opacity: float = 0.8):
    """Maximum depth by class as an image overlay."""
    codes = classify(run.ds["max_depth"].values, depth_edges(run.threshold_m))
    img, bounds = to_web_mercator(codes.astype(np.float32), run.transform, run.crs)
    rgba = paint_classes(np.nan_to_num(img, nan=0).astype(np.int16), depth_colours(run.threshold_m))
    folium.raster_layers.ImageOverlay(
        png_data_uri(rgba), bounds=bounds, name=html_text(name), opacity=opacity, show=show, zindex=3
    ).add_to(m)


def add_hazard(m, run: Run, name: str, show: bool = False, opacity: float = 0.8):
    """Hazard class of the run maxima as an image overlay."""
    img, bounds = to_web_mercator(run.hazard_code.astype(np.float32), run.transform, run.crs)
    rgba = paint_classes(np.nan_to_num(img, nan=0).astype(np.int16), hazard_colours())
    folium.raster_layers.ImageOverlay(
        png_data_uri(rgba), bounds=bounds, name=html_text(name), opacity=opacity, show=show, zindex=4
    ).add_to(m)


def _legend_rows(items) -> str:
    return "".join(
        f"<tr><td><span class='swatch' style='background:{colour}'></span></td><td>{text}</td></tr>"
        for colour, text in items
    )


def depth_legend(threshold_m: float) -> HtmlControl:
    """Legend of the depth classes [m] (the classes of ``flood.gpkg``)."""
    items = zip(depth_colours(threshold_m).values(), depth_labels(threshold_m))
    return HtmlControl(
        "<h4>Maximum water depth</h4><table>" + _legend_rows(items) + "</table>", position="bottomright"
    )


def hazard_legend() -> HtmlControl:
    """Legend of the hazard classes with their hazard-rating ranges (HR = d·(v + 0.5) + DF)."""
    from ..analysis.hazard import HAZARD_CLASSES

    bounds = ["HR &lt; 0.75", "0.75 ≤ HR &lt; 1.25", "1.25 ≤ HR ≤ 2.0", "HR &gt; 2.0"]
    items = [
        (HAZARD_COLOURS[c.code], f"{html_text(c.name)}: {html_text(c.label)} ({b})")
        for c, b in zip([c for c in HAZARD_CLASSES if c.code > 0], bounds)
    ]
    return HtmlControl(
        "<h4>Hazard to people (UK FD2321)</h4><table>" + _legend_rows(items) + "</table>",
        position="bottomright",
    )


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
                "geometry": mapping(geom),
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


def add_buildings(m, runs: list[Run], name: str, mode: str):
    """Buildings coloured by hazard class, with an escaped popup and tooltip; returns the GeoJson layer."""
    fc = buildings_feature_collection(runs, mode)
    if fc is None:
        return None
    layer = folium.GeoJson(
        fc,
        name=html_text(name),
        style_function=lambda f: f["properties"]["style"],
        highlight_function=lambda f: {"weight": 3, "color": "#000000"},
        popup=folium.GeoJsonPopup(fields=["popup"], labels=False, max_width=420),
        tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False),
        zoom_on_click=False,
    )
    layer.add_to(m)
    return layer


def add_measures(m, run: Run, name: str = "Measures"):
    """The run's measures (ponds, tanks, …) with name, type and peak stored volume."""
    if run.measures is None or len(run.measures) == 0:
        return None
    gdf = run.measures.to_crs(4326)
    features = []
    for _, row in gdf.iterrows():
        if row.geometry is None or row.geometry.is_empty:
            continue
        kind = row.get("type", "")
        peak = row.get("peak_stored_m3")
        text = (
            f"<b>{html_text(row.get('name', ''))}</b><br>type: {html_text(kind)}<br>"
            f"peak stored volume: {fmt_m(peak, 'm³', 1) if peak is not None else '–'}"
        )
        colour = measure_colour(kind)
        features.append(
            {
                "type": "Feature",
                "id": str(len(features)),
                "geometry": mapping(row.geometry),
                "properties": {
                    "popup": text,
                    "label": html_text(row.get("name", "")),
                    "style": {"color": colour, "fillColor": colour, "weight": 3, "fillOpacity": 0.35},
                },
            }
        )
    if not features:
        return None
    layer = folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name=html_text(name),
        style_function=lambda f: f["properties"]["style"],
        marker=folium.CircleMarker(radius=6),
        popup=folium.GeoJsonPopup(fields=["popup"], labels=False),
        tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False),
    )
    layer.add_to(m)
    return layer


def depth_frames(run: Run, simplify_cells: float = 0.5) -> list[dict]:
    """Depth-class polygons per output time as GeoJSON features for the time slider (EPSG:4326).

    One MultiPolygon per (time, class), from :func:`rasterio.features.shapes`, simplified by
    ``simplify_cells`` cells. Each feature carries one ISO time per polygon part, as leaflet-timedimension
    slices coordinates by time.
    """
    import geopandas as gpd
    from rasterio.features import shapes
    from shapely.geometry import shape

    edges = depth_edges(run.threshold_m)
    colours = depth_colours(run.threshold_m)
    labels = depth_labels(run.threshold_m)
    depth = run.ds["depth"]
    tol = simplify_cells * float(run.ds.attrs.get("dx_m", 1.0))
    rows = []
    for k, t in enumerate(run.ds["time"].values):
        codes = classify(depth.values[k], edges)
        if not (codes > 0).any():
            continue
        for geom, value in shapes(codes, mask=codes > 0, transform=run.transform, connectivity=4):
            rows.append({"t": float(t), "code": int(value), "geometry": shape(geom)})
    if not rows:
        return []
    gdf = gpd.GeoDataFrame(rows, crs=run.crs)
    gdf["geometry"] = gdf.geometry.simplify(tol)
    gdf = gdf.dissolve(by=["t", "code"], as_index=False).to_crs(4326)
    features = []
    for _, r in gdf.iterrows():
        geom = mapping(r.geometry)
        parts = len(geom["coordinates"])
        iso = (TIME_ORIGIN + timedelta(seconds=r["t"])).strftime("%Y-%m-%dT%H:%M:%SZ")
        colour = colours[int(r["code"])]
        features.append(
            {
                "type": "Feature",
                "geometry": geom,
                "properties": {
                    "times": [iso] * parts,
                    "popup": f"depth {html_text(labels[int(r['code']) - 1])}",
                    "style": {"color": colour, "fillColor": colour, "weight": 0, "fillOpacity": 0.75},
                },
            }
        )
    return features


class DepthTimeSlider(TimestampedGeoJson):
    """folium's TimestampedGeoJson with the time shown as UTC ``hh:mm:ss`` since the start of the run.

    folium's template formats the slider time in the browser's time zone (and logs every date to the
    console); simulation time has no time zone, so this template formats it with ``moment.utc``.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            L.Control.TimeDimensionCustom = L.Control.TimeDimension.extend({
                _getDisplayDateFormat: function(date){
                    return moment.utc(date).format({{ this.date_options_js }});
                }
            });
            {{this._parent.get_name()}}.timeDimension = L.timeDimension(
                {period: {{ this.period_js }}}
            );
            var {{ this.get_name() }}_control = new L.Control.TimeDimensionCustom(
                {{ this.options|tojavascript }}
            );
            {{this._parent.get_name()}}.addControl({{ this.get_name() }}_control);
            var {{ this.get_name() }}_base = L.geoJson({{ this.data }}, {
                style: function (feature) { return feature.properties.style; },
                onEachFeature: function (feature, layer) {
                    if (feature.properties.popup) { layer.bindPopup(feature.properties.popup); }
                }
            });
            var {{ this.get_name() }} = L.timeDimension.layer.geoJson(
                {{ this.get_name() }}_base,
                {updateTimeDimension: true, addlastPoint: false, duration: {{ this.duration }}}
            ).addTo({{this._parent.get_name()}});
        {% endmacro %}
        """
    )

    def render(self, **kwargs):
        self.date_options_js, self.period_js = js_json(self.date_options), js_json(self.period)
        super().render(**kwargs)


def add_time_slider(m, run: Run):
    """A time slider of depth classes (leaflet-timedimension via folium's TimestampedGeoJson)."""
    features = depth_frames(run)
    if not features:
        return None
    times = run.ds["time"].values
    step = float(np.min(np.diff(times))) if times.size > 1 else 60.0
    slider = DepthTimeSlider(
        JsonPayload({"type": "FeatureCollection", "features": features}),
        period=f"PT{max(1, round(step))}S",
        duration=f"PT{max(1, int(step // 2))}S",
        transition_time=400,
        auto_play=False,
        loop=False,
        add_last_point=False,
        date_options="HH:mm:ss",
        time_slider_drag_update=True,
        speed_slider=False,
    )
    slider.add_to(m)
    return slider


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
