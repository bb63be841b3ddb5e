"""Small Leaflet controls made of our own (already escaped) HTML: legends and titles."""

from __future__ import annotations

from branca.element import MacroElement
from folium.template import Template

from .safe import js_json


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
