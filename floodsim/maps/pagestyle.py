"""The finishing touches of every page: ``<html lang>``, ``<title>``, a zoomable viewport, a skip link and
a main landmark, and the page CSS and script for phones, keyboards and print.

:func:`finish_page` takes the rendered HTML of a folium page (``m.get_root().render()``) and the site's
:class:`~floodsim.scenario.site.PublishTexts`, and returns the page to write. It works on the rendered text,
after every Jinja pass, and puts data-derived text in only through :func:`floodsim.maps.safe.html_text`.

What the CSS and script do (the numbers are CSS pixels of the viewport):

* **Phones** (narrower than :data:`PHONE_MAX_WIDTH_PX` = 600 px): legends start collapsed to their header
  button, the layer control starts collapsed to its icon (a tap opens it, a tap on the map or Escape closes
  it), controls are at most 40 % of the viewport high (they scroll inside), the controls of the two bottom
  corners are at most half the width each (so they cannot overlap; an opened legend may take the width),
  popups are never wider than the screen less 60 px, and buttons are at least :data:`TOUCH_TARGET_PX` =
  44 px high and wide (WCAG 2.5.5).
* **Time slider**: with leaflet.timedimension's (``TimestampedGeoJson``) the bottom-right controls (the
  legends) move up above it, so it is never covered (floodsim's own ``.floodsim-timeslider`` does the same
  in :data:`floodsim.maps.controls.PLANNER_CSS`). Class ``floodsim-noprint`` hides an element in print.
* **Legends**: a legend is a control with class ``floodsim-legend`` whose first child is a
  ``<button class="floodsim-legend-toggle">`` header and whose body is ``.floodsim-legend-body``
  (:func:`legend_html` writes that markup). The button toggles the body and keeps ``aria-expanded`` true to
  what shows; the choice is remembered per legend title while the page is open (a legend that leaves with
  its layer comes back as the user left it). Where the controls would overlap each other or leave the
  map (a short laptop screen, many legends), open legends fold, tallest first, until they do not; a
  legend the user opened stays open.
* **Keyboard**: a visible focus outline on every control, a "Skip to the map" link (first in the tab
  order; it is visible while focused).
* **Print** (``@media print``): the map fills an A4 landscape page; zoom, layer and search controls, the
  time slider and ``.floodsim-noprint`` elements are hidden; legends print expanded.

Example
-------
>>> from floodsim.scenario.site import PublishTexts
>>> page = finish_page("<html><head></head><body><div class='folium-map'></div></body></html>",
...                    PublishTexts(title="Flood <risk>", language="da"))
>>> '<html lang="da">' in page and "<title>Flood &lt;risk&gt;</title>" in page
True
"""

from __future__ import annotations

import re

from .safe import html_text

#: Viewports narrower than this are phones [CSS px]: legends and the layer control start collapsed.
PHONE_MAX_WIDTH_PX = 600
#: Smallest height and width of a control a finger taps, on phones [CSS px] (WCAG 2.5.5 target size).
TOUCH_TARGET_PX = 44
#: Highest a control may be on a phone, as a fraction of the viewport height (it scrolls inside beyond).
PHONE_CONTROL_MAX_HEIGHT = 0.40
#: Gap kept between a popup and the screen edges [CSS px] (the popup is at most 100vw minus this).
POPUP_MARGIN_PX = 60

#: The id of the main landmark (the skip link's target).
MAIN_ID = "floodsim-main"

_PHONE = f"(max-width: {PHONE_MAX_WIDTH_PX - 0.02}px)"

#: The page CSS (constants only; no data).
PAGE_CSS = f"""
html, body {{ width: 100%; height: 100%; margin: 0; padding: 0; }}
main.floodsim-main {{ display: block; position: relative; width: 100%; height: 100%; }}
main.floodsim-main:focus {{ outline: none; }}
.floodsim-skip {{ position: absolute; left: 8px; top: -60px; z-index: 10000; padding: 10px 14px;
  background: #ffffff; color: #0b3d91; font: 600 15px/1.3 system-ui, sans-serif; border-radius: 4px;
  box-shadow: 0 1px 6px rgba(0,0,0,.5); text-decoration: underline; }}
.floodsim-skip:focus {{ top: 8px; }}

/* focus: always visible on every control */
.leaflet-container a:focus-visible, .leaflet-container button:focus-visible,
.leaflet-container input:focus-visible, .leaflet-container select:focus-visible,
.leaflet-container label:focus-within, .floodsim-control:focus-visible, a:focus-visible, button:focus-visible,
.leaflet-container:focus-visible {{ outline: 3px solid #0b57d0; outline-offset: 1px; }}
.leaflet-container:focus-visible {{ outline-offset: -3px; }}

/* controls: readable text, never wider than the screen */
.floodsim-control {{ max-width: min(340px, calc(100vw - 24px)); box-sizing: border-box;
  overflow-wrap: anywhere; color: #1a1a1a; }}
.leaflet-control-attribution {{ color: #333333; }}
.leaflet-control-attribution a {{ color: #0b4f8a; }}

/* legends: a header button and a body that can collapse */
.floodsim-legend {{ padding: 2px 8px 6px 8px; }}
.floodsim-legend-toggle {{ display: flex; width: 100%; align-items: center; justify-content: space-between;
  gap: 8px; min-height: 28px; margin: 0; padding: 2px 0; border: 0; background: transparent; color: #1a1a1a;
  font: 600 14px/1.3 system-ui, sans-serif; text-align: left; cursor: pointer; }}
.floodsim-legend-toggle::after {{ content: "\\25BE"; font-size: 14px; }}
.floodsim-legend-toggle[aria-expanded="false"]::after {{ content: "\\25B8"; }}
.floodsim-legend.floodsim-collapsed .floodsim-legend-body {{ display: none; }}
.floodsim-legend.floodsim-collapsed {{ padding-bottom: 2px; }}

/* popups: never wider than the screen, long words wrap, wide tables scroll */
.leaflet-popup-content-wrapper {{ max-width: calc(100vw - {POPUP_MARGIN_PX - 20}px); box-sizing: border-box; }}
.leaflet-popup-content {{ max-width: calc(100vw - {POPUP_MARGIN_PX}px); box-sizing: border-box;
  overflow-wrap: anywhere; overflow-x: auto; }}
.leaflet-popup-content img {{ max-width: 100%; height: auto; }}
.leaflet-popup-content table {{ max-width: 100%; border-collapse: collapse; }}
.leaflet-tooltip {{ max-width: calc(100vw - {POPUP_MARGIN_PX}px); white-space: normal; }}

/* the time slider (leaflet.timedimension) is never covered: bottom-right controls sit above it */
.leaflet-container:has(.leaflet-bar-timecontrol) .leaflet-bottom.leaflet-right {{ bottom: 64px; }}
.leaflet-bar-timecontrol {{ max-width: calc(100vw - 20px); }}

@media {_PHONE} {{
  .floodsim-legend:not(.floodsim-expanded) .floodsim-legend-body {{ display: none; }}
  .floodsim-legend:not(.floodsim-expanded) {{ padding-bottom: 2px; }}
  .floodsim-control, .leaflet-control-layers-expanded, .leaflet-popup-content {{
    max-height: {round(PHONE_CONTROL_MAX_HEIGHT * 100)}vh; overflow-y: auto; }}
  .floodsim-control {{ max-width: calc(100vw - 80px); font-size: 13px; }}
  /* the two bottom corners share the width (a time slider keeps the whole width: the right corner
     sits above it); a legend the user opens may take the width while open */
  .leaflet-bottom .leaflet-control.floodsim-control:not(.floodsim-timeslider):not(.leaflet-bar-timecontrol) {{
    max-width: calc(50vw - 16px); }}
  .leaflet-bottom .leaflet-control.floodsim-legend.floodsim-expanded {{ max-width: calc(100vw - 24px); }}
  .floodsim-legend-toggle {{ min-height: {TOUCH_TARGET_PX}px; }}
  .leaflet-container .leaflet-control button, .leaflet-container .leaflet-control select {{
    min-height: {TOUCH_TARGET_PX}px; }}
  .leaflet-container .leaflet-control button {{ min-width: {TOUCH_TARGET_PX}px; }}
  .leaflet-touch .leaflet-bar a, .leaflet-bar a {{ width: {TOUCH_TARGET_PX}px; height: {TOUCH_TARGET_PX}px;
    line-height: {TOUCH_TARGET_PX}px; }}
  .leaflet-control-layers-toggle, .leaflet-touch .leaflet-control-layers-toggle {{
    width: {TOUCH_TARGET_PX}px; height: {TOUCH_TARGET_PX}px; }}
  .leaflet-control-layers-expanded label {{ min-height: {TOUCH_TARGET_PX - 12}px; display: flex;
    align-items: center; }}
  .leaflet-control-layers-expanded {{ max-width: calc(100vw - 80px); }}
  .leaflet-bar-timecontrol {{ max-width: calc(100vw - 20px); flex-wrap: wrap; }}
  .leaflet-bar-timecontrol .timecontrol-slider {{ width: 110px; }}
  .leaflet-bar-timecontrol a.timecontrol-play, .leaflet-bar-timecontrol a {{ width: {TOUCH_TARGET_PX}px;
    height: {TOUCH_TARGET_PX}px; line-height: {TOUCH_TARGET_PX}px; }}
  .leaflet-control-attribution {{ font-size: 10px; max-width: 70vw; white-space: nowrap; overflow: hidden;
    text-overflow: ellipsis; }}
}}

@media print {{
  @page {{ size: A4 landscape; margin: 10mm; }}
  html, body, main.floodsim-main {{ height: auto; }}
  .folium-map, .leaflet-container {{ width: 100% !important; height: 180mm !important;
    position: relative !important; }}
  .floodsim-skip, .leaflet-control-zoom, .leaflet-control-layers, .leaflet-control-search,
  .leaflet-bar-timecontrol, .floodsim-timeslider, .floodsim-noprint {{ display: none !important; }}
  .floodsim-legend .floodsim-legend-body {{ display: block !important; }}
  .floodsim-legend-toggle::after {{ content: none; }}
  .floodsim-control {{ box-shadow: none; border: 1px solid #555555; max-height: none; overflow: visible; }}
  .leaflet-popup {{ display: none; }}
}}
"""

#: The page script: legends that collapse, the layer control on phones, scrollable controls focusable.
#: Constants only (no data); it runs once the DOM is ready and watches for controls added later.
PAGE_JS = f"""
(function () {{
  "use strict";
  var phone = window.matchMedia("{_PHONE}");
  var chosen = {{}};   // legend title -> true (open) / false (closed), remembered while the page is open
  function bodyShown(legend) {{
    var body = legend.querySelector(".floodsim-legend-body");
    return !!body && window.getComputedStyle(body).display !== "none";
  }}
  function setOpen(legend, open) {{
    legend.classList.toggle("floodsim-expanded", open);
    legend.classList.toggle("floodsim-collapsed", !open);
    sync(legend);
  }}
  function sync(legend) {{
    var button = legend.querySelector(".floodsim-legend-toggle");
    if (button) {{ button.setAttribute("aria-expanded", bodyShown(legend) ? "true" : "false"); }}
  }}
  function initLegend(legend) {{
    if (legend.getAttribute("data-floodsim-init")) {{ return; }}
    legend.setAttribute("data-floodsim-init", "1");
    var button = legend.querySelector(".floodsim-legend-toggle");
    var key = button ? button.textContent : "";
    if (Object.prototype.hasOwnProperty.call(chosen, key)) {{ setOpen(legend, chosen[key]); }}
    else {{ sync(legend); }}
  }}
  function scrollableFocusable(el) {{
    if (el.scrollHeight > el.clientHeight + 1 && !el.hasAttribute("tabindex") &&
        !el.querySelector("a[href], button, input, select, textarea, [tabindex]")) {{
      el.setAttribute("tabindex", "0");
    }}
  }}
  function collapseLayerControls(except) {{
    var all = document.querySelectorAll(".leaflet-control-layers-expanded");
    for (var i = 0; i < all.length; i++) {{
      if (all[i] !== except) {{ all[i].classList.remove("leaflet-control-layers-expanded"); }}
    }}
  }}
  // names for controls that plugins leave unnamed (axe: "Form elements must have labels")
  var NAMES = [[".leaflet-sbs-range", "Swipe between the left and the right scenario"],
               [".timecontrol-slider .slider, .leaflet-bar-timecontrol .ui-slider-handle", "Time"],
               [".leaflet-control-layers-toggle", "Layers"]];
  function nameControls(root) {{
    for (var i = 0; i < NAMES.length; i++) {{
      var els = (root || document).querySelectorAll(NAMES[i][0]);
      for (var j = 0; j < els.length; j++) {{
        if (!els[j].getAttribute("aria-label") && !els[j].textContent.trim()) {{
          els[j].setAttribute("aria-label", NAMES[i][1]);
        }}
      }}
    }}
  }}
  // Crowded maps (a short laptop screen, many legends): fold open legends, tallest first, until no
  // control overlaps another or leaves the map; a legend the user opened stays open.
  function shown(el) {{
    var r = el.getBoundingClientRect(), cs = window.getComputedStyle(el);
    return r.width > 0 && r.height > 0 && cs.display !== "none" && cs.visibility !== "hidden";
  }}
  function crowded(map) {{
    var box = map.getBoundingClientRect(), list = map.querySelectorAll(".leaflet-control"), ctl = [];
    for (var i = 0; i < list.length; i++) {{
      if (!list[i].parentElement.closest(".leaflet-control") && shown(list[i])) {{
        ctl.push(list[i].getBoundingClientRect());
      }}
    }}
    for (var a = 0; a < ctl.length; a++) {{
      if (ctl[a].top < box.top - 1 || ctl[a].bottom > box.bottom + 1) {{ return true; }}
      for (var b = a + 1; b < ctl.length; b++) {{
        if (Math.min(ctl[a].right, ctl[b].right) - Math.max(ctl[a].left, ctl[b].left) > 2 &&
            Math.min(ctl[a].bottom, ctl[b].bottom) - Math.max(ctl[a].top, ctl[b].top) > 2) {{ return true; }}
      }}
    }}
    return false;
  }}
  function fit() {{
    var maps = document.querySelectorAll(".leaflet-container");
    for (var m = 0; m < maps.length; m++) {{
      for (var guard = 0; guard < 30 && crowded(maps[m]); guard++) {{
        var legends = maps[m].querySelectorAll(".floodsim-legend"), best = null, tallest = 0;
        for (var i = 0; i < legends.length; i++) {{
          var button = legends[i].querySelector(".floodsim-legend-toggle");
          if (!bodyShown(legends[i]) || (button && chosen[button.textContent] === true)) {{ continue; }}
          var h = legends[i].getBoundingClientRect().height;
          if (h > tallest) {{ tallest = h; best = legends[i]; }}
        }}
        if (best === null) {{ break; }}
        setOpen(best, false);
      }}
    }}
  }}
  function init(root) {{
    nameControls(root);
    var legends = (root || document).querySelectorAll(".floodsim-legend");
    for (var i = 0; i < legends.length; i++) {{ initLegend(legends[i]); }}
    var controls = (root || document).querySelectorAll(".floodsim-control");
    for (var j = 0; j < controls.length; j++) {{ scrollableFocusable(controls[j]); }}
    fit();
  }}
  document.addEventListener("click", function (e) {{
    var button = e.target.closest ? e.target.closest(".floodsim-legend-toggle") : null;
    if (button) {{
      var legend = button.closest(".floodsim-legend");
      var open = !bodyShown(legend);
      chosen[button.textContent] = open;
      setOpen(legend, open);
      e.preventDefault();
      return;
    }}
    if (phone.matches && e.target.closest && !e.target.closest(".leaflet-control-layers") &&
        e.target.closest(".leaflet-container")) {{
      collapseLayerControls(null);
    }}
  }});
  document.addEventListener("keydown", function (e) {{
    if (e.key === "Escape") {{ collapseLayerControls(null); }}
  }});
  function start() {{
    if (phone.matches) {{ collapseLayerControls(null); }}
    init(document);
    // Controls added later (a legend that follows its layer, a plugin's control): one pass per frame,
    // watching only the maps' control corners (never the panes, where thousands of shapes may come).
    if (window.MutationObserver) {{
      var pending = false;
      var observer = new MutationObserver(function () {{
        if (pending) {{ return; }}
        pending = true;
        window.requestAnimationFrame(function () {{ pending = false; init(document); }});
      }});
      var corners = document.querySelectorAll(".leaflet-control-container");
      for (var c = 0; c < corners.length; c++) {{
        observer.observe(corners[c], {{ childList: true, subtree: true }});
      }}
    }}
    var onChange = function () {{
      var legends = document.querySelectorAll(".floodsim-legend");
      for (var i = 0; i < legends.length; i++) {{ sync(legends[i]); }}
    }};
    if (phone.addEventListener) {{ phone.addEventListener("change", onChange); }}
    var resizing = false;
    window.addEventListener("resize", function () {{
      if (resizing) {{ return; }}
      resizing = true;
      window.requestAnimationFrame(function () {{ resizing = false; fit(); }});
    }});
  }}
  if (document.readyState === "loading") {{ document.addEventListener("DOMContentLoaded", start); }}
  else {{ start(); }}
}})();
"""

#: The viewport of every page: zooming allowed (no ``maximum-scale``, no ``user-scalable=no``).
VIEWPORT_META = '<meta name="viewport" content="width=device-width, initial-scale=1">'

_MARKER = "<!-- floodsim:finish_page -->"
_HTML_TAG = re.compile(r"<html\b[^>]*>", re.IGNORECASE)
_VIEWPORT = re.compile(r"<meta\s+name=[\"']viewport[\"'][^>]*>", re.IGNORECASE | re.DOTALL)
_TITLE = re.compile(r"<title\b[^>]*>.*?</title>", re.IGNORECASE | re.DOTALL)
_HEAD_OPEN = re.compile(r"<head\b[^>]*>", re.IGNORECASE)
_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.IGNORECASE)


def legend_html(title_html: str, body_html: str) -> str:
    """The inner HTML of a collapsible legend: a header button and its body.

    Both arguments must already be safe HTML (constants and :func:`~floodsim.maps.safe.html_text`-ed
    data). Put it in a control whose classes include ``floodsim-control floodsim-legend`` (for example
    ``HtmlControl(legend_html(...), css_class=LEGEND_CSS_CLASS)``).
    """
    return (f'<button type="button" class="floodsim-legend-toggle" aria-expanded="true">{title_html}</button>'
            f'<div class="floodsim-legend-body">{body_html}</div>')


#: The classes of a legend control (for :class:`floodsim.maps.controls.HtmlControl`'s ``css_class``).
LEGEND_CSS_CLASS = "floodsim-control floodsim-legend"


def page_title(texts, page: str | None = None) -> str:
    """The plain-text ``<title>`` of a page: ``"<page> – <site title>"`` or the site title alone."""
    title = str(getattr(texts, "title", None) or "Flood risk map")
    return f"{page} – {title}" if page else title


def finish_page(html: str, texts, page: str | None = None, skip_label: str = "Skip to the map") -> str:
    """Finish a rendered page: ``lang``, ``<title>``, viewport, skip link, main landmark, CSS and script.

    Parameters
    ----------
    html
        The rendered page (``folium.Map.get_root().render()``).
    texts
        The site's :class:`~floodsim.scenario.site.PublishTexts` (its ``title`` and ``language`` are
        used; any object with those attributes will do).
    page
        Optional name of this page (plain text, e.g. ``"Planner"``), put before the site title.
    skip_label
        The text of the skip link (plain text).

    Returns
    -------
    str
        The page, finished once: calling it again on its own output changes only title and lang.
    """
    language = str(getattr(texts, "language", None) or "en")
    title = page_title(texts, page)
    lang_attr = f'lang="{html_text(language)}"'

    # <html lang>: keep other attributes of the tag, replace any lang.
    m = _HTML_TAG.search(html)
    if m:
        tag = re.sub(r"\s+lang=(\"[^\"]*\"|'[^']*'|\S+)", "", m.group(0), flags=re.IGNORECASE)
        tag = tag[:-1].rstrip() + f" {lang_attr}>"
        html = html[: m.start()] + tag + html[m.end():]
    else:
        html = f"<!DOCTYPE html>\n<html {lang_attr}>" + html + "</html>"

    title_tag = f"<title>{html_text(title)}</title>"
    if _TITLE.search(html):
        html = _TITLE.sub(lambda _m: title_tag, html, count=1)
        had_title = True
    else:
        had_title = False

    if _MARKER in html:
        return html

    html = _VIEWPORT.sub("", html)
    head = [_MARKER, '<meta charset="utf-8">' if "charset" not in html[:2000].lower() else "", VIEWPORT_META,
            "" if had_title else title_tag,
            '<link rel="icon" href="data:,">' if 'rel="icon"' not in html else ""]
    head_html = "\n".join(h for h in head if h) + "\n"
    # the page CSS last in <head>: after the libraries' stylesheets, so it wins at equal specificity
    tail_html = f"<style>{PAGE_CSS}</style>\n<script>{PAGE_JS}</script>\n"
    m = _HEAD_OPEN.search(html)
    if m is None:
        m = _HTML_TAG.search(html)
        html = html[: m.end()] + "\n<head>\n</head>" + html[m.end():]
        m = _HEAD_OPEN.search(html)
    html = html[: m.end()] + "\n" + head_html + html[m.end():]
    end = html.lower().find("</head>")
    html = html[:end] + tail_html + html[end:]

    # A skip link and the main landmark around the body's content (unless the page has its own <main>).
    skip = f'<a class="floodsim-skip" href="#{MAIN_ID}">{html_text(skip_label)}</a>'
    m = _BODY_OPEN.search(html)
    if m is None:
        return html
    end = html.lower().rfind("</body>")
    own = re.search(r"<main\b[^>]*>", html[m.end(): end if end >= 0 else len(html)], re.IGNORECASE)
    if own:
        got = re.search(r"\bid=[\"']([^\"']+)[\"']", own.group(0))
        if got:
            skip = skip.replace(f'href="#{MAIN_ID}"', f'href="#{got.group(1)}"')
        return html[: m.end()] + "\n" + skip + html[m.end():]
    main_open = f'<main id="{MAIN_ID}" class="floodsim-main" tabindex="-1">'
    if end < 0:
        return html[: m.end()] + "\n" + skip + main_open + html[m.end():] + "</main>"
    return html[: m.end()] + "\n" + skip + main_open + html[m.end(): end] + "</main>\n" + html[end:]


__all__ = ["LEGEND_CSS_CLASS", "MAIN_ID", "PAGE_CSS", "PAGE_JS", "PHONE_MAX_WIDTH_PX", "TOUCH_TARGET_PX",
           "VIEWPORT_META", "finish_page", "legend_html", "page_title"]
