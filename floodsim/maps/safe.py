"""The one way text from data reaches a map page: :func:`html_text` for HTML, :func:`js_json` for script.

A map page shows text that comes from data: the scenario name (``summary.json``) or the run folder's
name, building ids, attributes and addresses and measure names and types (``flood.gpkg``, often open
data). None of it may be *interpreted*, and :func:`html.escape` alone is not enough:

* **Jinja, twice.** branca renders each element's macros and then renders their output *again* as a
  Jinja template (``MacroElement.render`` wraps it in ``Element(template)``). So ``{{ … }}``,
  ``{% … %}`` or ``{# … #}`` anywhere in a page's script, inside a JSON string or not, is evaluated:
  ``{{7*7}}`` would show 49, and an expression can reach ``os``.
* **HTML.** Leaflet inserts layer names, popups, tooltips, search tips and our legends and titles with
  ``innerHTML``.
* **Script.** The text travels inside JavaScript literals in a ``<script>`` block, where ``</script>``
  would end the block and U+2028/U+2029 could end a line.

So the rule: a value from a run folder goes into a folium or branca object only as ``html_text(value)``
(HTML shown by Leaflet), and a Python value pasted into a script by one of our templates goes through
``js_json`` (folium's own ``tojson`` escapes ``< > & '`` but not ``{``). Constants may be written as HTML.

* :func:`html_text`: HTML-escaped (``& < > " '``), with ``{`` and ``}`` written as ``&#123;`` and
  ``&#125;`` (no Jinja delimiter is left) and U+2028/U+2029 as ``&#8232;``/``&#8233;``. The browser
  shows exactly the original characters.
* :func:`js_json`: JSON (a JavaScript literal) with ``< > & '`` as ``\\u`` escapes everywhere and ``{ }``
  as ``\\u007b``/``\\u007d`` inside strings; non-ASCII (U+2028/U+2029 included) as ``\\u`` escapes.
  ``JSON.parse`` or the JavaScript engine reads back exactly the value.
"""

from __future__ import annotations

import html
import json
import re

#: After :func:`html.escape`: what else must not reach the page as itself.
_HTML_EXTRA = str.maketrans({"{": "&#123;", "}": "&#125;", "\u2028": "&#8232;", "\u2029": "&#8233;"})
#: Outside and inside JSON strings: characters that could close a script block or open a tag or entity.
_JS_EXTRA = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "'": "\\u0027"})
#: Inside JSON strings only: braces, so that no Jinja delimiter is left (structural JSON braces are
#: followed by ``"``, ``}`` or ``]`` and so never form ``{{``, ``{%`` or ``{#``).
_JS_BRACES = str.maketrans({"{": "\\u007b", "}": "\\u007d"})
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')

#: The openings of Jinja blocks: none may reach a page from data.
JINJA_DELIMITERS = ("{{", "{%", "{#")


def html_text(value) -> str:
    """``value`` as HTML text that shows literally and that no Jinja render can evaluate.

    ``None`` gives the empty string; anything else is ``str(value)``. Safe in element content and in
    quoted attribute values.

    >>> html_text("{{7*7}} <b>&'")
    '&#123;&#123;7*7&#125;&#125; &lt;b&gt;&amp;&#x27;'
    """
    text = "" if value is None else str(value)
    return html.escape(text, quote=True).translate(_HTML_EXTRA)


def _braces(match: re.Match) -> str:
    return match.group(0).translate(_JS_BRACES)


def js_json(value) -> str:
    """``value`` as a JavaScript literal (JSON) safe inside a ``<script>`` block and a Jinja template.

    >>> js_json({"name": "{{7*7}}</script>"})
    '{"name": "\\\\u007b\\\\u007b7*7\\\\u007d\\\\u007d\\\\u003c/script\\\\u003e"}'
    """
    text = json.dumps(value, ensure_ascii=True)
    if "{" in text or "}" in text:
        text = _JSON_STRING.sub(_braces, text)
    return text.translate(_JS_EXTRA)


def file_json(value) -> str:
    """``value`` as the text of a JSON data file of a site (``site.json``): indented, UTF-8, not for
    pasting into a page (use :func:`js_json` there)."""
    return json.dumps(value, indent=2, ensure_ascii=False)


class JsonPayload:
    """A file-like :func:`js_json` text, for folium classes that embed ``data.read()`` as it is
    (:class:`folium.plugins.TimestampedGeoJson`)."""

    def __init__(self, value):
        self._text = js_json(value)

    def read(self) -> str:
        return self._text


__all__ = ["JINJA_DELIMITERS", "JsonPayload", "file_json", "html_text", "js_json"]
