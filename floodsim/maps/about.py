"""The texts of a published site: the "About this map" panel, the print view and the one-page reports.

Every page of a site says what it shows and what it does not, from the site's
:class:`~floodsim.scenario.site.PublishTexts` (defaults filled by :func:`floodsim.maps.site.fill_texts`):
title, the event in words, that the map is a model result and not a forecast, the date it was made,
the model version, data sources, licence, disclaimer, "what you can do" advice, a contact and the
downloads (with their sizes).

* :func:`about_panel_html` is that panel as safe HTML (the page builders place it, or call
  :func:`add_about`, which adds an "About this map" button, a "Print" button and the panel as a section
  after the map: a dialog on screen, printed below the map by ``@media print``).
* :func:`report_html` is a whole one-page HTML report for one address (or building): the deepest water
  modelled next to it and the danger to people per scenario, its likelihood when the site has a sweep,
  the advice and the disclaimer; printable on one A4 page.

Every text from the site file or from data reaches the HTML through :func:`floodsim.maps.safe.html_text`
(newlines become ``<br>``); the rest is constants.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from branca.element import MacroElement
from folium.template import Template

from .safe import html_text

#: The id of the about section (the "About this map" button opens it).
ABOUT_ID = "floodsim-about"

WHAT_IT_IS = (
    "This map shows the result of a computer model: where rain water is modelled to flow and collect, "
    "the deepest water reached during the modelled storm and the danger that water poses to people "
    "(its depth and speed combined, as in the UK Flood Risks to People method)."
)
WHAT_IT_IS_NOT = (
    "It is not a forecast and not a flood warning: it does not say that a flood will happen, or when. "
    "Real storms differ from the modelled one, and drains, walls and kerbs smaller than the model's grid "
    "can change where water goes."
)
LIKELIHOOD_TEXT = (
    "Likelihood bands come from several modelled storms of different return periods: a place first "
    "flooded by a storm that happens on average once in 30 years or more often is 'high'; up to once in "
    "100 years 'medium'; up to once in 1000 years 'low'; rarer storms 'very low' (UK Environment Agency "
    "bands)."
)

#: The panel, button and print CSS (constants only).
ABOUT_CSS = f"""
#{ABOUT_ID} {{ position: fixed; z-index: 2000; top: 5vh; left: 50%; transform: translateX(-50%);
  width: min(640px, calc(100vw - 24px)); max-height: 88vh; overflow-y: auto; box-sizing: border-box;
  background: #ffffff; color: #1a1a1a; padding: 14px 18px; border-radius: 6px;
  box-shadow: 0 2px 18px rgba(0,0,0,.45); font: 14px/1.45 system-ui, sans-serif; overflow-wrap: anywhere; }}
#{ABOUT_ID}[hidden] {{ display: none; }}
#{ABOUT_ID} h2 {{ font-size: 19px; margin: 0 0 8px 0; }}
#{ABOUT_ID} h3 {{ font-size: 15px; margin: 12px 0 4px 0; }}
#{ABOUT_ID} dl {{ display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 8px 0; }}
#{ABOUT_ID} dt {{ font-weight: 600; }}
#{ABOUT_ID} dd {{ margin: 0; }}
#{ABOUT_ID} ul {{ margin: 4px 0; padding-left: 20px; }}
#{ABOUT_ID} a {{ color: #0b4f8a; }}
.floodsim-about-close {{ float: right; min-width: 44px; min-height: 44px; border: 0; background: transparent;
  font-size: 22px; cursor: pointer; color: #1a1a1a; }}
.floodsim-about-buttons button {{ display: block; width: 100%; min-height: 32px; margin: 2px 0;
  border: 1px solid #555555; border-radius: 4px; background: #ffffff; color: #1a1a1a;
  font: 600 13px/1.2 system-ui, sans-serif; cursor: pointer; }}
@media (max-width: 599.98px) {{ .floodsim-about-buttons button {{ min-height: 44px; }} }}
@media print {{
  #{ABOUT_ID}, #{ABOUT_ID}[hidden] {{ display: block !important; position: static !important;
    transform: none !important; width: 100% !important; max-height: none !important; overflow: visible;
    box-shadow: none; padding: 6mm 0 0 0; font-size: 11pt; break-before: auto; }}
  .floodsim-about-close, .floodsim-about-buttons {{ display: none !important; }}
}}
"""


def _p(text) -> str:
    """Plain text as HTML: escaped, newlines as ``<br>``."""
    return html_text(text).replace("\n", "<br>")


def fmt_size(nbytes: int | None) -> str:
    """A file size for people: ``"812 bytes"``, ``"14.2 kB"``, ``"3.1 MB"`` (powers of 1000)."""
    if nbytes is None:
        return ""
    n = float(nbytes)
    if n < 1000:
        return f"{int(n)} bytes"
    for unit in ("kB", "MB", "GB"):
        n /= 1000.0
        if n < 1000 or unit == "GB":
            return f"{n:.1f} {unit}"
    return f"{n:.1f} GB"


def _downloads_html(site, root: str) -> str:
    if not site.downloads:
        return ""
    items = []
    for d in site.downloads:
        size = fmt_size(getattr(d, "size_bytes", None))
        extra = f" ({html_text(size)})" if size else ""
        desc = f" — {_p(d.description)}" if d.description else ""
        items.append(f'<li><a href="{html_text(root + d.href)}" download>{_p(d.label)}</a>{extra}{desc}</li>')
    return "<h3>Downloads</h3><ul class='floodsim-downloads'>" + "".join(items) + "</ul>"


def _likelihood_html(site) -> str:
    lk = getattr(site, "likelihood", None)
    if lk is None:
        return ""
    storms = ""
    if lk.storms:
        storms = "<ul>" + "".join(f"<li>{_p(k)}: {_p(v)}</li>" for k, v in lk.storms.items()) + "</ul>"
    periods = ", ".join(f"{float(t):g}" for t in lk.return_periods_yr)
    which = f" (return periods {html_text(periods)} years; design {_p(lk.design)})" if periods else ""
    return f"<h3>How likely</h3><p>{html_text(LIKELIHOOD_TEXT)}{which}</p>{storms}"


def about_panel_html(site, root: str | None = None) -> str:
    """The "About this map" panel of ``site`` as safe HTML (headings ``h2``/``h3``, no wrapper).

    Parameters
    ----------
    site : floodsim.maps.sitedata.Site
        Its ``texts`` (defaults filled), ``labels``, ``likelihood`` and ``downloads`` are shown.
    root : str, optional
        Relative link from the page to the site root, for the download links (default ``site.root``).
    """
    t = site.texts
    root = site.root if root is None else root
    scenarios = ""
    if site.labels:
        scenarios = ("<h3>Scenarios</h3><ul>" + "".join(f"<li>{_p(lab)}</li>" for lab in site.labels)
                     + "</ul>")
    facts = [("Event", t.event), ("Made on", t.date), ("Model", t.model_version),
             ("Data sources", t.data_sources), ("Licence", t.licence), ("Contact", t.contact)]
    dl = "".join(f"<dt>{k}</dt><dd>{_p(v)}</dd>" for k, v in facts if v)
    advice = "".join(f"<li>{_p(a)}</li>" for a in t.advice)
    return (
        f"<h2 id='{ABOUT_ID}-title'>{_p(t.title)}</h2>"
        f"<dl>{dl}</dl>"
        f"<h3>What this map is</h3><p>{html_text(WHAT_IT_IS)}</p>"
        f"<h3>What it is not</h3><p>{html_text(WHAT_IT_IS_NOT)}</p>"
        + scenarios
        + _likelihood_html(site)
        + (f"<h3>What you can do</h3><ul>{advice}</ul>" if advice else "")
        + f"<h3>Disclaimer</h3><p>{_p(t.disclaimer)}</p>"
        + _downloads_html(site, root)
    )


def about_buttons_html() -> str:
    """The "About this map" and "Print" buttons (constants) for a map control."""
    return (
        "<div class='floodsim-about-buttons floodsim-noprint'>"
        f"<button type='button' class='floodsim-about-open' aria-controls='{ABOUT_ID}' "
        "aria-expanded='false'>About this map</button>"
        "<button type='button' class='floodsim-print'>Print</button></div>"
    )


class AboutPanel(MacroElement):
    """The about panel of a page: a control with the "About this map" and "Print" buttons on the map,
    and the panel itself as a ``<section>`` after the map (hidden on screen until opened; printed below
    the map). ``panel_html`` must already be safe (:func:`about_panel_html`)."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
            <style>{{ this.css }}</style>
        {% endmacro %}
        {% macro html(this, kwargs) %}
            <section id="{{ this.section_id }}" aria-labelledby="{{ this.section_id }}-title" tabindex="-1"
                hidden><button type="button" class="floodsim-about-close" aria-label="Close">&times;</button>
            {{ this.panel_html }}</section>
        {% endmacro %}
        {% macro script(this, kwargs) %}
            (function () {
                var control = L.control({position: "topleft"});
                control.onAdd = function () {
                    var div = L.DomUtil.create("div", "floodsim-control floodsim-noprint");
                    div.innerHTML = {{ this.buttons_js }};
                    L.DomEvent.disableClickPropagation(div);
                    return div;
                };
                control.addTo({{ this._parent.get_name() }});
                var section = document.getElementById("{{ this.section_id }}");
                function show(open) {
                    section.hidden = !open;
                    var b = document.querySelectorAll(".floodsim-about-open");
                    for (var i = 0; i < b.length; i++) { b[i].setAttribute("aria-expanded", open ? "true" : "false"); }
                    if (open) { section.focus(); }
                }
                document.addEventListener("click", function (e) {
                    if (!e.target.closest) { return; }
                    if (e.target.closest(".floodsim-about-open")) { show(section.hidden); }
                    else if (e.target.closest(".floodsim-about-close")) { show(false); }
                    else if (e.target.closest(".floodsim-print")) { window.print(); }
                });
                document.addEventListener("keydown", function (e) {
                    if (e.key === "Escape" && !section.hidden) { show(false); }
                });
            })();
        {% endmacro %}
        """
    )

    def __init__(self, panel_html: str):
        super().__init__()
        self._name = "AboutPanel"
        self.section_id = ABOUT_ID
        self.css = ABOUT_CSS
        self.panel_html = panel_html
        from .safe import js_json

        self.buttons_js = js_json(about_buttons_html())


def add_about(m, site) -> AboutPanel:
    """Add the about panel of ``site`` to the folium map ``m`` (see :class:`AboutPanel`)."""
    panel = AboutPanel(about_panel_html(site))
    panel.add_to(m)
    return panel


# ------------------------------------------------------------------------------------ one-page reports
@dataclass
class ScenarioRow:
    """One scenario's numbers next to a building: max depth [m] (NaN: not modelled) and hazard code."""

    label: str
    depth_m: float
    hazard_code: int


@dataclass
class ReportEntry:
    """What the report of one address (or building) shows. ``first_flooding_yr`` is the lowest return
    period [years] that floods the building (NaN: none of the modelled storms; None: no sweep)."""

    slug: str
    title: str                  # the address, or "Building <id>"
    building_id: str | None
    rows: list[ScenarioRow] = field(default_factory=list)
    first_flooding_yr: float | None = None
    band: str | None = None
    ead_eur_per_yr: float | None = None
    distance_m: float | None = None   # from the address point to the building it was matched with


REPORT_CSS = """
body { font: 15px/1.45 system-ui, sans-serif; color: #1a1a1a; margin: 0 auto; padding: 16px;
  max-width: 760px; overflow-wrap: anywhere; }
h1 { font-size: 22px; margin: 0 0 4px 0; } h2 { font-size: 17px; margin: 16px 0 4px 0; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 4px 8px;
  border-bottom: 1px solid #cccccc; vertical-align: top; }
.swatch { display: inline-block; width: 14px; height: 14px; border: 1px solid #555555; margin-right: 6px;
  vertical-align: -2px; }
.small { font-size: 13px; color: #333333; }
a { color: #0b4f8a; }
nav button { min-height: 44px; padding: 0 14px; font: 600 14px system-ui, sans-serif; }
@media print { @page { size: A4 portrait; margin: 14mm; } body { font-size: 10.5pt; padding: 0; }
  nav { display: none; } }
"""


def _depth_words(depth_m: float, threshold_m: float) -> str:
    if depth_m is None or not math.isfinite(depth_m):
        return "not modelled here"
    if depth_m < threshold_m:
        return f"less than {threshold_m * 100:.0f} cm"
    return f"{depth_m:.2f} m"


def report_html(site, entry: ReportEntry, root: str = "../") -> str:
    """The one-page HTML report of ``entry`` (a whole document; ``root`` links back to the site)."""
    from .style import HAZARD_ADVICE, HAZARD_COLOURS, hazard_label

    t = site.texts
    thr = site.runs[0].threshold_m if site.runs else 0.1
    rows = "".join(
        f"<tr><td>{_p(r.label)}</td><td>{html_text(_depth_words(r.depth_m, thr))}</td>"
        f"<td><span class='swatch' style='background:{HAZARD_COLOURS[int(r.hazard_code)]}'></span>"
        f"<b>{html_text(hazard_label(r.hazard_code))}</b><br>"
        f"<span class='small'>{html_text(HAZARD_ADVICE[int(r.hazard_code)])}</span></td></tr>"
        for r in entry.rows
    )
    likelihood = ""
    if entry.first_flooding_yr is not None:
        if entry.first_flooding_yr != entry.first_flooding_yr:    # NaN: no modelled storm floods it
            words = "None of the modelled storms floods the ground next to this building."
        else:
            words = (f"The ground next to this building first floods in the modelled storm that happens "
                     f"on average once in {entry.first_flooding_yr:g} years (about a "
                     f"{100.0 / entry.first_flooding_yr:.2g} % chance each year).")
        band = f" Likelihood band: <b>{html_text(entry.band)}</b>." if entry.band else ""
        ead = ""
        if entry.ead_eur_per_yr is not None and math.isfinite(entry.ead_eur_per_yr):
            ead = (f" Expected annual damage to the building (model estimate): "
                   f"{entry.ead_eur_per_yr:,.0f} EUR per year.")
        lk = getattr(site, "likelihood", None)
        which = ""
        if lk is not None:
            periods = ", ".join(f"{float(t):g}" for t in lk.return_periods_yr)
            which = (f"<p class='small'>From the modelled storms of {html_text(periods or 'several')}-year "
                     f"return periods (sweep design {_p(lk.design)}).</p>")
        likelihood = f"<h2>How likely</h2><p>{html_text(words)}{band}{html_text(ead)}</p>{which}"
    else:
        likelihood = (f"<h2>How likely</h2><p>{html_text(t.event or 'A single modelled event')}: the "
                      "numbers above are for this one event; the site has no likelihood bands.</p>")
    bid = f"<p class='small'>Building {_p(entry.building_id)}" if entry.building_id else "<p class='small'>"
    if entry.distance_m is not None and entry.distance_m > 0.5:
        bid += f" (the nearest building, {entry.distance_m:.0f} m from the address point)"
    bid += "</p>"
    advice = "".join(f"<li>{_p(a)}</li>" for a in t.advice)
    contact = f"<p><b>Contact:</b> {_p(t.contact)}</p>" if t.contact else ""
    return (
        "<!DOCTYPE html>\n"
        f"<html lang=\"{html_text(t.language)}\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{html_text(entry.title)} – {html_text(t.title)}</title>"
        "<link rel=\"icon\" href=\"data:,\">"
        f"<style>{REPORT_CSS}</style></head><body><main>"
        f"<nav><a href=\"{html_text(root)}index.html\">Back to the map</a> "
        "<button type=\"button\" onclick=\"window.print()\">Print</button></nav>"
        f"<h1>{_p(entry.title)}</h1>"
        f"<p>{_p(t.title)}. {_p(t.event or '')}</p>{bid}"
        "<h2>Flood water next to the building</h2>"
        "<table><thead><tr><th scope='col'>Scenario</th><th scope='col'>Deepest water</th>"
        "<th scope='col'>Danger to people</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        f"<p class='small'>Depth is the deepest modelled water next to the building; water shallower than "
        f"{thr * 100:.0f} cm is not counted as flooding.</p>"
        f"{likelihood}"
        f"<h2>What you can do</h2><ul>{advice}</ul>"
        f"<h2>Please note</h2><p>{html_text(WHAT_IT_IS_NOT)}</p><p>{_p(t.disclaimer)}</p>"
        f"{contact}"
        f"<p class='small'>Made on {_p(t.date or '')} with {_p(t.model_version or '')}. "
        f"Data: {_p(t.data_sources)} Licence: {_p(t.licence)}</p>"
        "</main></body></html>\n"
    )


__all__ = ["ABOUT_CSS", "ABOUT_ID", "AboutPanel", "ReportEntry", "ScenarioRow", "about_buttons_html",
           "about_panel_html", "add_about", "fmt_size", "report_html"]
