"""The building card: what a resident reads about one building, on the resident page (its popup) and on
the one-page report of an address (``report/<slug>.html``, written by :mod:`floodsim.maps.site`).

:func:`building_card_html` gives, for building ``i`` (its row in the reference run's buildings layer):

* its name (id, and address when the layer has one) and the addresses linked to it;
* per published scenario (``site.labels``): the deepest water next to the building [m] and the danger
  to people in words (the hazard class of the building, UK FD2321, with what it means);
* the likelihood (``site.likelihood`` from a sweep): the most frequent modelled storm that floods it
  (its return period ``T`` [years], "a 1-in-T-year storm") and its band (high / medium / low / very
  low, the UK Environment Agency's wording, :data:`BAND_WORDS`); without a sweep, "a single modelled
  event: <event>";
* the advice of the site (``site.texts.advice``), folded in a ``<details>``;
* a link to the building's report page (published sites only: a self-contained page has none).

The HTML is narrow (stacked rows, no wide table) so that a popup fits a phone. Every data-derived text
goes through :func:`floodsim.maps.safe.html_text`.

Buildings are matched between scenarios by their id (``run.id_field``), and to the likelihood layer by
that id when it has the column, else by row when it has as many rows.
"""

from __future__ import annotations

import hashlib
import math
import re

import numpy as np

from ..analysis.hazard import HAZARD_COLOURS
from ..analysis.risk import BANDS, band_of_aep
from .safe import html_text
from .search import fold
from .style import HAZARD_ADVICE, hazard_label

#: Longest readable part of a report slug [characters] (a hash is added after it).
SLUG_MAX = 60

#: What each likelihood band means (UK Environment Agency, Risk of Flooding from Surface Water).
BAND_WORDS: dict[int, str] = {
    4: "High: each year, a chance of flooding of more than 3.3 % (1 in 30)",
    3: "Medium: each year, a chance of flooding between 1 % (1 in 100) and 3.3 % (1 in 30)",
    2: "Low: each year, a chance of flooding between 0.1 % (1 in 1000) and 1 % (1 in 100)",
    1: "Very low: each year, a chance of flooding of less than 0.1 % (1 in 1000)",
}


def report_slug(label: str) -> str:
    """The file name stem of the report page of an address or building (``report/<slug>.html``).

    ASCII letters, digits and ``-`` only: the label folded (:func:`floodsim.maps.search.fold`) to ASCII, other characters
    as ``-``, at most :data:`SLUG_MAX` characters, then ``-`` and 8 hex digits of the SHA-1 of the whole
    label (so two labels never share a page, and hostile text cannot name a path).

    >>> report_slug("12-14 Smith St, Merewether")[:26]
    '12-14-smith-st-merewether-'
    >>> len(report_slug("Nørregade 7")), report_slug("<script>")[:7]
    (20, 'script-')
    """
    text = "" if label is None else str(label)
    ascii_ = fold(text).encode("ascii", "ignore").decode("ascii")
    stem = re.sub(r"[^a-z0-9]+", "-", ascii_).strip("-")[:SLUG_MAX].strip("-") or "building"
    digest = hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{stem}-{digest}"


def fmt_depth(value) -> str:
    """A depth [m] as shown ("0.34 m"); "–" when unknown."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "–"
    return f"{v:.2f} m" if math.isfinite(v) else "–"


def building_name(run, row: int) -> str:
    """Plain text naming building ``row`` of ``run``: its id, and its address when the layer has one."""
    b = run.buildings.iloc[row]
    ident = "" if run.id_field is None else _text(b[run.id_field])
    addr_field = getattr(run, "address_field", None)
    addr = _text(b[addr_field]) if addr_field else ""
    if addr:
        return f"{ident} — {addr}" if ident else addr
    return ident or f"building {row + 1}"


def _text(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _lookup(site) -> list[dict]:
    """Per run, building id → row (cached on the site)."""
    key = ("cards", "lookup")
    if key not in site._cache:
        out = []
        for run in site.runs:
            if run.buildings is None or run.id_field is None:
                out.append({})
            else:
                out.append({_text(v): k for k, v in enumerate(run.buildings[run.id_field])})
        site._cache[key] = out
    return site._cache[key]


def scenario_rows(site, i: int) -> list[tuple[str, int | None, float | None]]:
    """Per published scenario: ``(label, hazard code or None when the building is not in it, depth [m])``."""
    base = site.runs[0]
    ident = _text(base.buildings.iloc[i][base.id_field]) if base.id_field else None
    out = []
    for k, (run, label, table) in enumerate(zip(site.runs, site.labels, _lookup(site))):
        if k == 0:
            row = i
        elif ident is not None and ident in table:
            row = table[ident]
        else:
            out.append((label, None, None))
            continue
        r = run.buildings.iloc[row]
        code = _code(r.get("hazard_code"))
        out.append((label, code, _float(r.get("max_depth_m"))))
    return out


def _code(value) -> int:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return 0
    return int(v) if math.isfinite(v) and 0 <= v <= 4 else 0


def _float(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def likelihood_rows(site) -> list[float | None] | None:
    """Per building of the reference run, the return period [years] at which it first floods (None:
    not flooded by any modelled storm); None when the site has no likelihood or it cannot be matched."""
    key = ("cards", "likelihood")
    if key in site._cache:
        return site._cache[key]
    lk, base = site.likelihood, site.runs[0]
    out = None
    if lk is not None and lk.buildings is not None and base.buildings is not None:
        lb = lk.buildings
        first = [_float(v) for v in lb["first_flooding_yr"]]
        if base.id_field is not None and base.id_field in lb.columns:
            by_id = {_text(v): t for v, t in zip(lb[base.id_field], first)}
            ids = [_text(v) for v in base.buildings[base.id_field]]
            if any(i in by_id for i in ids):
                out = [by_id.get(i) for i in ids]
        if out is None and len(lb) == len(base.buildings):
            out = first
    site._cache[key] = out
    return out


def band_of_return_period(t: float | None) -> int:
    """The likelihood band code (:data:`floodsim.analysis.risk.BANDS`) of a building first flooded by
    the storm of return period ``t`` [years] (0 when none floods it)."""
    if t is None or not t > 0:
        return 0
    return int(band_of_aep(np.array([1.0 / t]))[0])


def storm_words(site, t: float) -> str:
    """The modelled storm of return period ``t`` in words, when the sweep described it, else ``""``."""
    storms = site.likelihood.storms if site.likelihood is not None else {}
    for k, v in (storms or {}).items():
        try:
            if math.isclose(float(str(k).removesuffix("-yr")), t):
                return str(v)
        except ValueError:
            continue
    return ""


def likelihood_html(site, t: float | None) -> str:
    """The likelihood of a building first flooded at return period ``t`` [years], as card HTML."""
    rps = sorted(float(r) for r in (site.likelihood.return_periods_yr or []) if _float(r))
    if t is None:
        rarest = f" (the rarest was a 1-in-{rps[-1]:g}-year storm)" if rps else ""
        return ("<div class='floodsim-card-row'><b>Likelihood of flooding:</b> not flooded by any of the "
                f"modelled storms{html_text(rarest)}.</div>")
    band = band_of_return_period(t)
    storm = storm_words(site, t)
    return (
        f"<div class='floodsim-card-row'><b>Likelihood of flooding:</b> "
        f"{html_text(BAND_WORDS.get(band, BANDS.get(band, '')))}.<br>"
        f"The most frequent modelled storm that floods it is a 1-in-{t:g}-year storm"
        + (f" ({html_text(storm)})" if storm else "")
        + ".</div>"
    )


def event_text(site) -> str:
    """The modelled event in words: the site's ``[publish] event``, else the scenarios' names."""
    ev = site.texts.event if site.texts is not None else None
    return str(ev) if ev else "; ".join(str(x) for x in site.labels)


def single_event_html(site) -> str:
    """"A single modelled event: <event>." as safe HTML (the event text alone when it says so itself)."""
    ev = event_text(site).rstrip(". ")
    if "single modelled event" in ev.lower():
        return f"{html_text(ev)}."
    return f"A single modelled event: {html_text(ev)}."


def linked_addresses(site) -> dict[int, list[str]]:
    """Building row → the addresses linked to it (:func:`floodsim.maps.search.site_addresses`: the address
    layer's, else the buildings' own address attribute; cached)."""
    key = ("cards", "addresses")
    if key not in site._cache:
        from .search import site_addresses

        out: dict[int, list[str]] = {}
        texts, links, _ = site_addresses(site)
        for text, row in zip(texts, links):
            if row is not None:
                out.setdefault(int(row), []).append(text)
        site._cache[key] = out
    return site._cache[key]


def report_labels(site, i: int) -> list[str]:
    """The labels whose report pages cover building ``i``: its linked addresses, else its name."""
    return linked_addresses(site).get(i) or [building_name(site.runs[0], i)]


def advice_html(site) -> str:
    """The site's "What you can do" advice as a folded ``<details>`` (safe HTML; "" without advice)."""
    advice = list(site.texts.advice) if site.texts is not None else []
    if not advice:
        return ""
    items = "".join(f"<li>{html_text(a)}</li>" for a in advice)
    return f"<details class='floodsim-card-advice'><summary>What you can do</summary><ul>{items}</ul></details>"


def building_card_html(site, building_index: int, report_link: bool = True, advice: bool = True) -> str:
    """The card of building ``building_index`` (row of ``site.runs[0].buildings``) as safe HTML.

    ``report_link``: link the building's report page(s) (only on a published site, ``site.embed``
    False; a report page itself passes False). ``advice``: end with :func:`advice_html` (the resident
    page adds it once for all cards instead).
    """
    base = site.runs[0]
    i = int(building_index)
    name = building_name(base, i)
    parts = [f"<div class='floodsim-card'><h3 class='floodsim-card-title'>{html_text(name)}</h3>"]
    addrs = linked_addresses(site).get(i, [])
    if addrs and site.addresses is not None:      # (the buildings' own address is in the name already)
        shown = ", ".join(html_text(a) for a in addrs[:5])
        more = f" and {len(addrs) - 5} more" if len(addrs) > 5 else ""
        parts.append(f"<div class='floodsim-card-address'>{shown}{more}</div>")
    thr = base.threshold_m
    for label, code, depth in scenario_rows(site, i):
        parts.append(f"<div class='floodsim-card-row'><div class='floodsim-card-scenario'>{html_text(label)}"
                     "</div>")
        if code is None:
            parts.append("<div>This building is not in this scenario.</div></div>")
            continue
        if code == 0:
            water = (f"No water {thr * 100:.0f} cm deep or more next to the building"
                     + (f" (deepest {fmt_depth(depth)})" if depth is not None and depth > 0 else "") + ".")
        else:
            water = f"Deepest water next to the building: <b>{fmt_depth(depth)}</b>."
        parts.append(
            f"<div>{water}</div><div><span class='floodsim-swatch' aria-hidden='true' "
            f"style='background:{HAZARD_COLOURS[code]}'></span>Danger to people: "
            f"<b>{html_text(hazard_label(code))}</b>. {html_text(HAZARD_ADVICE[code])}</div></div>"
        )
    firsts = likelihood_rows(site)
    if firsts is not None:
        parts.append(likelihood_html(site, firsts[i]))
    else:
        parts.append(f"<div class='floodsim-card-row floodsim-card-event'>{single_event_html(site)} "
                     "It does not say how likely flooding is.</div>")
    if advice:
        parts.append(advice_html(site))
    if report_link and not site.embed:
        links = [f"<a href='{html_text(site.root)}report/{report_slug(lbl)}.html'>"
                 f"{'One-page report' if len(addrs) <= 1 else 'Report: ' + html_text(lbl)}</a>"
                 for lbl in report_labels(site, i)[:5]]
        parts.append("<div class='floodsim-card-links'>" + " · ".join(links) + "</div>")
    parts.append("</div>")
    return "".join(parts)


#: CSS of the card (constants): stacked rows, narrow enough for a phone.
CARD_CSS = """
.floodsim-card { max-width: 300px; font: 13px/1.4 system-ui, sans-serif; }
.floodsim-card-title { font-size: 15px; margin: 0 0 4px 0; overflow-wrap: anywhere; }
.floodsim-card-address { color: #333333; margin-bottom: 4px; }
.floodsim-card-row { border-top: 1px solid #dddddd; padding: 4px 0; }
.floodsim-card-scenario { font-weight: 600; }
.floodsim-swatch { display: inline-block; width: 12px; height: 12px; border: 1px solid #555555;
  margin-right: 5px; vertical-align: -1px; }
.floodsim-card-advice summary { cursor: pointer; font-weight: 600; padding: 4px 0; }
.floodsim-card-advice ul { margin: 2px 0 4px 0; padding-left: 18px; }
.floodsim-card-links { border-top: 1px solid #dddddd; padding-top: 4px; }
"""

__all__ = ["BAND_WORDS", "CARD_CSS", "advice_html", "band_of_return_period", "building_card_html", "building_name",
           "event_text", "likelihood_rows", "single_event_html", "linked_addresses", "report_labels", "report_slug",
           "scenario_rows"]
