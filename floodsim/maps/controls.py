"""Leaflet controls of our own: :class:`HtmlControl` (a block of already escaped HTML), and the planner
page's :class:`LegendControl` (shown only while its layers are), :class:`TimeSlider` (depth frames),
:class:`Swipe` (scenario A | B on one map) and :class:`ChangedBuildingsList` (a list that zooms to each
changed building).

The behaviour lives in one script, :data:`PLANNER_JS` (constants only; added once per page by
:func:`add_planner_script`); each control's template calls it with its options as one
:func:`floodsim.maps.safe.js_json` value. Text from data reaches these controls already escaped with
:func:`floodsim.maps.safe.html_text` (legend and list rows, scenario labels), and the script puts it into
the page as HTML only where the escaped text is meant to show (``innerHTML`` of an escaped string), and
as ``textContent`` otherwise.

Legends use the markup of :func:`floodsim.maps.pagestyle.legend_html` (a header
``<button aria-expanded>`` and a body): the page script of :mod:`floodsim.maps.pagestyle` collapses them
on phones and toggles them; on a page without it, :data:`PLANNER_JS` does the same.
"""

from __future__ import annotations

import folium
from branca.element import Element, MacroElement
from folium.template import Template

from .safe import html_text, js_json


class HtmlControl(MacroElement):
    """A Leaflet control showing a block of HTML at a corner of the map.

    ``html`` must already be safe: callers build it from constants and
    :func:`floodsim.maps.safe.html_text`-ed data. It is passed to the page as a
    :func:`floodsim.maps.safe.js_json` string, never pasted into the script as it is.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.control({position: {{ this.position_js }}});
            {{ this.get_name() }}.onAdd = function (map) {
                var div = L.DomUtil.create('div', {{ this.css_class_js }});
                div.innerHTML = {{ this.html_js }};
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, html: str, position: str = "bottomright", css_class: str = "floodsim-control"):
        super().__init__()
        self._name = "HtmlControl"
        self.html = html
        self.position = position
        self.css_class = css_class
        self.html_js, self.position_js, self.css_class_js = (js_json(v) for v in (html, position, css_class))


CONTROL_CSS = """
<link rel="icon" href="data:,">
<style>
.floodsim-control { background: rgba(255,255,255,0.92); padding: 6px 10px; border-radius: 5px;
  box-shadow: 0 1px 5px rgba(0,0,0,0.4); font: 13px/1.35 system-ui, sans-serif; max-width: 330px; }
.floodsim-control h4 { font-size: 14px; margin: 0 0 4px 0; }
.floodsim-control .swatch { display: inline-block; width: 14px; height: 14px; border: 1px solid #555;
  margin-right: 6px; vertical-align: -2px; }
.floodsim-control table td { padding: 1px 4px 1px 0; vertical-align: top; }
.floodsim-title { font-weight: 600; }
table.floodsim-popup th, table.floodsim-popup td { padding: 2px 6px; border-bottom: 1px solid #ddd; }
</style>
"""


#: Styles the planner controls need to work (layout only; colours, phones and print: pagestyle.py).
PLANNER_CSS = """
<style>
.floodsim-legend.floodsim-collapsed .floodsim-legend-body { display: none; }
.floodsim-legend .swatch svg { display: block; }
.floodsim-legend-body { max-height: 45vh; overflow-y: auto; }
.floodsim-legend-note { margin-top: 4px; color: #444444; font-size: 12px; }
.floodsim-timeslider { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 8px; }
.floodsim-timeslider input[type=range] { width: 180px; max-width: 50vw; }
.floodsim-timeslider button { min-width: 32px; min-height: 28px; font-size: 14px; cursor: pointer; }
.floodsim-timeslider output { font-variant-numeric: tabular-nums; font-weight: 600; }
.floodsim-swipe { position: absolute; inset: 0; pointer-events: none; z-index: 450; }
.floodsim-swipe-line { position: absolute; top: 0; bottom: 0; width: 4px; margin-left: -2px;
  background: #ffffff; box-shadow: 0 0 3px rgba(0,0,0,.8); }
.floodsim-swipe input[type=range] { position: absolute; top: 50%; left: 0; width: 100%; height: 46px;
  margin: -23px 0 0 0; padding: 0; -webkit-appearance: none; appearance: none; background: transparent;
  pointer-events: none; outline-offset: -2px; }
.floodsim-swipe input[type=range]::-webkit-slider-runnable-track { background: transparent; height: 46px; }
.floodsim-swipe input[type=range]::-webkit-slider-thumb { -webkit-appearance: none; appearance: none;
  pointer-events: auto; width: 34px; height: 46px; border-radius: 6px; cursor: ew-resize;
  background: #ffffff; border: 2px solid #333333; box-shadow: 0 1px 4px rgba(0,0,0,.6); }
.floodsim-swipe input[type=range]::-moz-range-thumb { pointer-events: auto; width: 34px; height: 46px;
  border-radius: 6px; cursor: ew-resize; background: #ffffff; border: 2px solid #333333; }
.floodsim-swipe-label { position: absolute; top: calc(50% + 32px); max-width: 35vw; padding: 2px 8px; border-radius: 4px;
  background: rgba(255,255,255,.92); color: #1a1a1a; font: 600 13px/1.3 system-ui, sans-serif;
  box-shadow: 0 1px 4px rgba(0,0,0,.4); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.floodsim-swipe-a { right: calc(100% + 8px); } .floodsim-swipe-b { left: 8px; }
.floodsim-changed-list { list-style: none; margin: 4px 0 0 0; padding: 0; max-height: 30vh; overflow-y: auto; }
.floodsim-changed-list button { display: flex; gap: 6px; align-items: flex-start; width: 100%; margin: 1px 0;
  padding: 3px 4px; border: 1px solid transparent; background: transparent; text-align: left; cursor: pointer;
  font: 13px/1.3 system-ui, sans-serif; color: #1a1a1a; }
.floodsim-changed-list button:hover { border-color: #777777; }
.floodsim-outline { display: inline-block; width: 14px; height: 14px; border: 3px solid; box-sizing: border-box;
  flex: none; margin-top: 1px; }
.floodsim-gauge-popup img { display: block; width: 380px; max-width: 100%; height: auto; }
.leaflet-tooltip.floodsim-measure-label { white-space: nowrap; font-weight: 600; }
@media (max-width: PHONE_PXpx) {
  /* phones: the time slider is never covered (the bottom-right legends sit above it), the title goes */
  .leaflet-container.floodsim-has-slider .leaflet-bottom.leaflet-right {
    bottom: calc(var(--floodsim-slider-h, 0px) + 4px); }
  .leaflet-control:has(> .floodsim-title) { display: none; }
  .floodsim-timeslider input[type=range] { width: 150px; }
  .floodsim-timeslider select { max-width: 60vw; }
}
</style>
"""

#: The planner page's script (constants only: no data, no Jinja delimiters). Defines
#: ``window.floodsimPlanner`` with ``legend``, ``timeSlider``, ``swipe`` and ``changedList``.
PLANNER_JS = """
(function () {
  'use strict';
  var F = window.floodsimPlanner = window.floodsimPlanner || {};
  var PHONE = '(max-width: PHONE_PXpx)';
  function el(tag, cls, parent) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (parent) { parent.appendChild(e); }
    return e;
  }
  function onMap(map, layers) {
    for (var i = 0; i < layers.length; i++) { if (layers[i] && map.hasLayer(layers[i])) { return true; } }
    return false;
  }
  // seconds since the start -> "hh:mm:ss"
  F.hhmmss = function (s) {
    s = Math.max(0, Math.round(Number(s) || 0));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), x = s % 60;
    return String(h).padStart(2, '0') + ':' + String(m).padStart(2, '0') + ':' + String(x).padStart(2, '0');
  };
  // a legend (pagestyle.legend_html markup) shown only while one of its layers is on the map
  F.legend = function (map, layers, o) {
    var ctl = L.control({position: o.position});
    var div;
    ctl.onAdd = function () {
      div = L.DomUtil.create('div', o.cssClass);
      div.id = o.id;
      div.innerHTML = o.html;
      var button = div.querySelector('.floodsim-legend-toggle');
      var body = div.querySelector('.floodsim-legend-body');
      if (body) { body.id = o.id + '-body'; }
      var shown = function () { return !!body && window.getComputedStyle(body).display !== 'none'; };
      var sync = function () { if (button) { button.setAttribute('aria-expanded', shown() ? 'true' : 'false'); } };
      if (window.matchMedia && window.matchMedia(PHONE).matches) { div.classList.add('floodsim-collapsed'); }
      if (button) {
        button.setAttribute('aria-controls', o.id + '-body');
        // the page script (pagestyle) toggles legends from a document listener; where there is none,
        // this one does (it acts only when the click left the legend as it was)
        L.DomEvent.on(button, 'click', function () {
          var before = shown();
          window.setTimeout(function () {
            if (shown() === before) {
              div.classList.toggle('floodsim-collapsed', before);
              div.classList.toggle('floodsim-expanded', !before);
            }
            sync();
          }, 0);
        });
      }
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      window.setTimeout(sync, 0);
      return div;
    };
    ctl.addTo(map);
    ctl.update = function () {
      var on = onMap(map, layers);
      div.style.display = on ? '' : 'none';
      div.setAttribute('data-visible', on ? '1' : '0');
    };
    map.on('overlayadd overlayremove baselayerchange layeradd layerremove', ctl.update);
    ctl.update();
    ctl.body = function () { return div.querySelector('.floodsim-legend-body'); };
    return ctl;
  };
  // the depth frames, switched by a range input; the frames next to the shown one are loaded too
  F.timeSlider = function (map, group, o) {
    var run = 0, k = 0, timer = null, cache = {};
    var ctl = L.control({position: o.position});
    var input, out, play, select, div;
    function frames() { return o.runs[run].frames; }
    function make(r, i) {
      var key = r + ':' + i;
      if (cache[key]) { return cache[key]; }
      var f = o.runs[r].frames[i], lyr;
      if (f.tiles) {
        var to = {pane: o.pane, opacity: 0, bounds: L.latLngBounds(f.bounds), minZoom: f.minNativeZoom, maxZoom: 22,
                  minNativeZoom: f.minNativeZoom, maxNativeZoom: f.maxNativeZoom, className: 'floodsim-frame'};
        // a site's tile pyramid lists its tiles (sitedata.IndexedTileLayer): ask only for those
        lyr = L.FloodsimTiles ? new L.FloodsimTiles(f.tiles, to, f.index) : L.tileLayer(f.tiles, to);
      } else {
        lyr = L.imageOverlay(f.url, f.bounds, {pane: o.pane, opacity: 0, className: 'floodsim-frame'});
      }
      lyr.floodsimFrame = i;
      cache[key] = lyr;
      return lyr;
    }
    function show() {
      var fs = frames(), keep = {};
      k = Math.max(0, Math.min(k, fs.length - 1));
      for (var i = k - 1; i <= k + 1; i++) {
        if (i < 0 || i >= fs.length) { continue; }
        var lyr = make(run, i);
        keep[L.stamp(lyr)] = true;
        if (!group.hasLayer(lyr)) { group.addLayer(lyr); }
        lyr.setOpacity(i === k ? o.opacity : 0);
        var elt = lyr.getElement ? lyr.getElement() : lyr.getContainer();
        if (elt) { elt.setAttribute('data-frame', String(i)); elt.classList.toggle('floodsim-frame-shown', i === k); }
      }
      group.eachLayer(function (l) { if (!keep[L.stamp(l)]) { group.removeLayer(l); } });
      var text = F.hhmmss(fs[k].t);
      input.max = String(fs.length - 1);
      input.value = String(k);
      input.setAttribute('aria-valuetext', text + ' from the start');
      out.textContent = text;
      div.setAttribute('data-frame', String(k));
    }
    function stop() {
      if (timer !== null) { window.clearInterval(timer); timer = null; }
      play.textContent = 'Play';
      play.setAttribute('aria-pressed', 'false');
    }
    function ensureShown() { if (!map.hasLayer(group)) { group.addTo(map); } }
    ctl.onAdd = function () {
      div = L.DomUtil.create('div', 'floodsim-control floodsim-timeslider');
      div.id = o.id;
      div.setAttribute('role', 'group');
      div.setAttribute('aria-label', o.title);
      if (o.runs.length > 1) {
        var sl = el('label', null, div);
        sl.htmlFor = o.id + '-run';
        sl.textContent = 'Scenario';
        select = el('select', null, div);
        select.id = o.id + '-run';
        for (var r = 0; r < o.runs.length; r++) {
          var opt = el('option', null, select);
          opt.value = String(r);
          opt.innerHTML = o.runs[r].label;
        }
        select.value = String(run);
      }
      play = el('button', 'floodsim-play', div);
      play.type = 'button';
      var label = el('label', null, div);
      label.htmlFor = o.id + '-time';
      label.textContent = o.title;
      input = el('input', null, div);
      input.type = 'range';
      input.id = o.id + '-time';
      input.min = '0';
      input.step = '1';
      out = el('output', null, div);
      out.htmlFor = o.id + '-time';
      out.setAttribute('aria-live', 'off');
      stop();
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      L.DomEvent.on(input, 'input change', function () { k = Number(input.value); ensureShown(); show(); });
      if (select) {
        L.DomEvent.on(select, 'change', function () {
          var t = frames()[k].t, fs;
          run = Number(select.value);
          fs = frames();
          k = 0;
          for (var i = 0; i < fs.length; i++) { if (Math.abs(fs[i].t - t) < Math.abs(fs[k].t - t)) { k = i; } }
          ensureShown();
          show();
        });
      }
      L.DomEvent.on(play, 'click', function () {
        if (timer !== null) { stop(); return; }
        ensureShown();
        if (k >= frames().length - 1) { k = 0; show(); }
        play.textContent = 'Pause';
        play.setAttribute('aria-pressed', 'true');
        timer = window.setInterval(function () {
          if (k >= frames().length - 1) { stop(); return; }
          k += 1;
          show();
        }, o.intervalMs);
      });
      return div;
    };
    ctl.addTo(map);
    show();
    group.on('remove', stop);
    // the slider's height, for the page CSS that keeps other controls off it on phones
    var box = map.getContainer();
    // (from the map's bottom edge to the slider's top: the scale bar may sit below it)
    var measure = function () {
      var h = box.getBoundingClientRect().bottom - div.getBoundingClientRect().top;
      box.style.setProperty('--floodsim-slider-h', Math.max(0, Math.round(h)) + 'px');
    };
    box.classList.add('floodsim-has-slider');
    measure();
    window.setTimeout(measure, 0);
    map.on('resize', measure);
    window.addEventListener('resize', function () { window.setTimeout(measure, 0); });
    F.sliders = (F.sliders || []).concat([{control: ctl, group: group}]);
    return ctl;
  };
  // scenario A left of a divider, B right of it: two panes clipped at the divider
  F.swipe = function (map, left, right, o) {
    var pa = map.getPane(o.paneA), pb = map.getPane(o.paneB), pos = 0.5;
    var box = el('div', 'floodsim-swipe floodsim-noprint', map.getContainer());
    box.id = o.id;
    var line = el('div', 'floodsim-swipe-line', box);
    var la = el('div', 'floodsim-swipe-label floodsim-swipe-a', line);
    la.innerHTML = o.labelA;
    var lb = el('div', 'floodsim-swipe-label floodsim-swipe-b', line);
    lb.innerHTML = o.labelB;
    var input = el('input', null, box);
    input.type = 'range';
    input.min = '0';
    input.max = '1';
    input.step = '0.01';   // arrow keys move the divider by 1 % of the map
    input.value = String(pos);
    input.setAttribute('aria-label', o.ariaLabel);
    L.DomEvent.disableClickPropagation(input);
    var stopDrag = function () { map.dragging.enable(); };
    L.DomEvent.on(input, 'mousedown touchstart pointerdown', function (e) {
      L.DomEvent.stopPropagation(e);
      map.dragging.disable();
    });
    L.DomEvent.on(document, 'mouseup touchend pointerup', stopDrag);
    function clip() {
      var active = map.hasLayer(left) && map.hasLayer(right);
      box.style.display = active ? '' : 'none';
      box.setAttribute('data-active', active ? '1' : '0');
      if (!active) { pa.style.clip = ''; pb.style.clip = ''; return; }
      var size = map.getSize();
      var nw = map.containerPointToLayerPoint([0, 0]), se = map.containerPointToLayerPoint(size);
      var x = Math.round(nw.x + size.x * pos);
      pa.style.clip = 'rect(' + [nw.y, x, se.y, nw.x].join('px,') + 'px)';
      pb.style.clip = 'rect(' + [nw.y, se.x, se.y, x].join('px,') + 'px)';
      line.style.left = Math.round(size.x * pos) + 'px';
      input.setAttribute('aria-valuetext', Math.round(pos * 100) + ' % of the map shows ' + la.textContent);
    }
    L.DomEvent.on(input, 'input change', function () { pos = Number(input.value); clip(); });
    map.on('move moveend zoom zoomend resize layeradd layerremove overlayadd overlayremove', clip);
    clip();
    F.swipes = (F.swipes || []).concat([{box: box, input: input, clip: clip,
                                          position: function () { return pos; }}]);
    return {box: box, input: input, clip: clip};
  };
  // the changed-buildings list inside a legend: each entry zooms to its building and opens its popup
  F.changedList = function (map, layer, legend, o) {
    var body = legend.body();
    var ul = el('ul', 'floodsim-changed-list', body);
    ul.setAttribute('aria-label', o.listLabel);
    layer.eachLayer(function (sub) {
      var p = sub.feature && sub.feature.properties;
      if (!p) { return; }
      var li = el('li', null, ul);
      var b = el('button', null, li);
      b.type = 'button';
      var sw = el('span', 'floodsim-outline', b);
      sw.style.borderColor = p.outline;
      var t = el('span', null, b);
      t.innerHTML = p.entry;
      L.DomEvent.on(b, 'click', function () {
        if (!map.hasLayer(layer)) { map.addLayer(layer); }
        var bounds = sub.getBounds();
        map.fitBounds(bounds, {maxZoom: o.maxZoom, animate: false});
        sub.fire('click', {latlng: bounds.getCenter()}, true);
      });
    });
    return ul;
  };
})();
"""


def planner_script() -> str:
    """:data:`PLANNER_CSS` and :data:`PLANNER_JS` as the HTML to put in a page's head (the phone width of
    :mod:`floodsim.maps.pagestyle` filled in; imported here, as pagestyle may import this module)."""
    from .pagestyle import PHONE_MAX_WIDTH_PX

    px = f"{PHONE_MAX_WIDTH_PX - 0.02:g}"
    return PLANNER_CSS.replace("PHONE_PX", px) + "<script>" + PLANNER_JS.replace("PHONE_PX", px) + "</script>"


def add_planner_script(m) -> None:
    """Add :func:`planner_script` to the page of ``m`` (once)."""
    root = m.get_root()
    if "floodsim_planner_script" not in root.header._children:
        root.header.add_child(Element(planner_script()), name="floodsim_planner_script")


def _names(layers) -> list[str]:
    return [layer.get_name() for layer in layers if layer is not None]


class LegendControl(MacroElement):
    """A collapsible legend shown only while at least one of ``layers`` is on the map.

    ``title_html`` and ``body_html`` must be safe HTML (constants and html_text-ed data). The legend
    follows its layers through Leaflet's ``overlayadd``/``overlayremove``/``baselayerchange`` and
    ``layeradd``/``layerremove`` events; its header is a ``<button aria-expanded>`` (collapsed at first on
    phones). ``legend_id`` is the HTML id of the control (for tests and links).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = window.floodsimPlanner.legend({{ this._parent.get_name() }},
                [{{ this.layer_names|join(", ") }}], {{ this.options_js }});
        {% endmacro %}
        """
    )

    def __init__(self, title_html: str, body_html: str, layers, legend_id: str, position: str = "bottomright"):
        from .pagestyle import LEGEND_CSS_CLASS, legend_html

        super().__init__()
        self._name = "LegendControl"
        self.layers = [layer for layer in layers if layer is not None]
        self.title_html, self.body_html, self.legend_id = title_html, body_html, legend_id
        self.options = {"html": legend_html(title_html, body_html), "id": legend_id, "position": position,
                        "cssClass": LEGEND_CSS_CLASS}

    def render(self, **kwargs):
        self.layer_names = _names(self.layers)
        self.options_js = js_json(self.options)
        super().render(**kwargs)


class TimeSlider(MacroElement):
    """The depth time slider: a layer group of depth frames switched by our own control.

    ``runs`` is a list of ``{"label": html_text-ed scenario label, "frames": [{"t": seconds since the
    start, "url": image URI | "tiles": XYZ URL template, "bounds": [[s, w], [n, e]],
    "maxNativeZoom": int}]}``. The control is a real ``<input type=range>`` with a ``<label>``, a
    play/pause button, the time as hh:mm:ss from the start, and a scenario ``<select>`` when there are
    several. The frame shown and its two neighbours are on the map (the neighbours transparent), so the
    next frame is loaded before it is asked for. The group is a layer of its own (``get_name()``): list
    it in the layer control and bind the depth legend to it; moving the slider turns it on.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.layerGroup();
            {{ this.get_name() }}_control = window.floodsimPlanner.timeSlider({{ this._parent.get_name() }},
                {{ this.get_name() }}, {{ this.options_js }});
            {% if this.show %}{{ this.get_name() }}.addTo({{ this._parent.get_name() }});{% endif %}
        {% endmacro %}
        """
    )

    def __init__(self, runs: list[dict], pane: str, title: str = "Time since the start",
                 position: str = "bottomleft", opacity: float = 0.85, interval_ms: int = 1200,
                 show: bool = False, slider_id: str = "floodsim-timeslider"):
        super().__init__()
        self._name = "TimeSlider"
        self.show = show
        self.options = {"runs": runs, "pane": pane, "title": title, "position": position, "opacity": opacity,
                        "intervalMs": int(interval_ms), "id": slider_id}

    def render(self, **kwargs):
        self.options_js = js_json(self.options)
        super().render(**kwargs)


class Swipe(MacroElement):
    """Scenario A left of a draggable divider and B right of it, on one map.

    ``left`` and ``right`` are folium layers (tile layers or image overlays) placed in the panes
    ``pane_a`` and ``pane_b``; the script clips each pane at the divider (CSS ``clip`` in layer
    coordinates, updated as the map moves), so it works for any layer type. The divider is a real
    ``<input type=range>`` (keyboard: arrow keys) and shows only while both layers are on the map.
    ``label_a``/``label_b`` are plain text (escaped here).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = window.floodsimPlanner.swipe({{ this._parent.get_name() }},
                {{ this.left.get_name() }}, {{ this.right.get_name() }}, {{ this.options_js }});
        {% endmacro %}
        """
    )

    def __init__(self, left, right, pane_a: str, pane_b: str, label_a: str, label_b: str,
                 swipe_id: str = "floodsim-swipe"):
        super().__init__()
        self._name = "Swipe"
        self.left, self.right = left, right
        self.options = {
            "paneA": pane_a, "paneB": pane_b, "id": swipe_id,
            "labelA": "\u25c0 " + html_text(label_a), "labelB": html_text(label_b) + " \u25b6",
            "ariaLabel": f"Swipe: {label_a} left of the divider, {label_b} right of it",
        }

    def render(self, **kwargs):
        self.options_js = js_json(self.options)
        super().render(**kwargs)


class ChangedBuildingsList(MacroElement):
    """The list of changed buildings, inside ``legend`` (a :class:`LegendControl` bound to ``layer``).

    ``layer`` is a GeoJson whose features carry ``entry`` (safe HTML: the building and its change) and
    ``outline`` (a colour); each entry is a button that zooms to the building and opens its popup.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            window.floodsimPlanner.changedList({{ this._parent.get_name() }}, {{ this.layer.get_name() }},
                {{ this.legend.get_name() }}, {{ this.options_js }});
        {% endmacro %}
        """
    )

    def __init__(self, layer, legend: LegendControl, list_label: str = "Changed buildings", max_zoom: int = 19):
        super().__init__()
        self._name = "ChangedBuildingsList"
        self.layer, self.legend = layer, legend
        self.options = {"listLabel": list_label, "maxZoom": int(max_zoom)}

    def render(self, **kwargs):
        self.options_js = js_json(self.options)
        super().render(**kwargs)


def add_pane(m, name: str, z_index: int) -> None:
    """A Leaflet map pane for rasters (no pointer events) at ``z_index`` (overlayPane is 400)."""
    folium.map.CustomPane(name, z_index=z_index, pointer_events=False).add_to(m)
