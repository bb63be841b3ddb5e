"""Address search on the resident page: the index (built here from the site's layers), the tolerant
matcher (here in Python and, with the same rules, in the page's script) and the search control.

**The index** (:func:`build_index`) holds one entry per searchable place, in this order of sources:

* addresses of the site's address layer (``site.addresses``: points or polygons with an ``address``
  column), each linked to the building it lies in, else to the nearest building within
  :data:`LINK_DISTANCE_M` (:func:`link_addresses`); without an address layer, the buildings' own address
  attribute when the buildings layer has one;
* building ids (every building of the reference run);
* street names: the roads layer's name field (``site.base.vector["roads"]``) and the street part of every
  address (the text before the first comma, without house numbers).

Picking an address or a building zooms to the building and opens its card; picking a street zooms to it.

**Matching** (:func:`parse`, :func:`match`). Text is folded (:func:`fold`: Unicode NFKD, combining marks
dropped, case folded, ``ß``→``ss``, ``æ``→``ae``, ``ø``→``o``, ``œ``→``oe``, ``đ``/``ð``→``d``,
``ł``→``l``, ``þ``→``th``, ``ı``→``i``), word-final ``g.``/``v.``/``str.`` expand to ``gade``/``vej``/
``strasse`` (Danish and German abbreviations: ``Nørreg.`` is ``Nørregade``), and the text is cut into
words (letters and digits of any script; every other character separates) and house numbers: a number
of at most :data:`MAX_NUMBER_DIGITS` digits with an optional letter (``12A``, ``12 a``) or a range
(``12-14``, ``12–14``). Abbreviated words match their full form (:data:`ABBREVIATIONS`: St/Street,
Rd/Road, Ave/Avenue, V/Vej, G/Gade, …). An entry matches a query when every query word equals or
begins one of its words and every query number falls on one of its numbers or ranges. The score of a
query word is 3 for an equal word and 1 for a prefix; of a number 3 for the same number, 2 for a number
inside a range (``13`` in ``12-14``) or the number without its letter (``12`` finds ``12A``), 1 for a
number that lacks the query's letter (``12A`` finds ``12``), ½ for the start of a number (``1`` while
typing ``12``). Results are sorted by score (highest first), then by fewer words (the more specific
entry first), then by the entry's place in the index (which is sorted by text).

The page's script (:data:`SEARCH_JS`) implements :func:`fold`, :func:`parse`, :func:`normalise` and
:func:`match` with the same rules; ``tests/integration/test_resident_page.py`` runs it in Chromium on
the cases of ``tests/unit/test_search.py`` and compares.

The index reaches the page only as :func:`floodsim.maps.safe.js_json` (inline on a self-contained page,
else as the site file :data:`INDEX_FILE`, fetched on first use); the suggestions show it through
``textContent`` (never as HTML).
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

import numpy as np
from branca.element import MacroElement
from folium.template import Template

from .safe import html_text, js_json

#: Farthest an address point may lie from a building and still be its address [m].
LINK_DISTANCE_M = 5.0
#: Longest run of digits read as a house number (longer runs are words: ids, postcodes of some lands).
MAX_NUMBER_DIGITS = 6
#: Most suggestions shown.
MAX_RESULTS = 8
#: Site file of the index on a published (not self-contained) site.
INDEX_FILE = "data/search_index.json"

#: Abbreviation → the full word it stands for (both sides of a match use the full word).
ABBREVIATIONS: dict[str, str] = {
    "st": "street", "str": "strasse", "rd": "road", "ave": "avenue", "av": "avenue", "dr": "drive",
    "ln": "lane", "pl": "place", "cres": "crescent", "ct": "court", "pde": "parade", "hwy": "highway",
    "sq": "square", "tce": "terrace", "blvd": "boulevard", "pkwy": "parkway", "cl": "close",
    "v": "vej", "g": "gade",
}

# Characters folded beyond NFKD + case folding (same table in SEARCH_JS).
_SPECIAL = {"ß": "ss", "æ": "ae", "ø": "o", "œ": "oe", "đ": "d", "ð": "d", "ł": "l", "þ": "th", "ı": "i",
            "ς": "σ"}
_SPECIAL_RE = re.compile("[" + "".join(_SPECIAL) + "]")
# Combining marks dropped after NFKD (the same ranges in SEARCH_JS).
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
# Word-final abbreviations with a dot inside a word: "nørreg." → "nørregade", "hauptstr." → "hauptstrasse".
_DOT_ABBREV = re.compile(r"([^\W\d_]{2,})(str|g|v)\.")
_DOT_FULL = {"str": "strasse", "g": "gade", "v": "vej"}
# A token: a house-number range, or a run of letters/digits (of any script).
_TOKEN = re.compile(r"([0-9]+)([a-z]?)\s*[-\u2010-\u2015]\s*([0-9]+)([a-z]?)(?![^\W_])|[^\W_]+")
_NUMBER = re.compile(r"^([0-9]+)([a-z]?)$")


def fold(text) -> str:
    """``text`` for comparison: NFKD, combining marks dropped, case folded, special letters spelt out.

    >>> fold("Ærøskøbing STRAßE Åbenrå")
    'aeroskobing strasse abenra'
    """
    s = unicodedata.normalize("NFKD", "" if text is None else str(text))
    s = _MARKS.sub("", s).casefold()
    return _SPECIAL_RE.sub(lambda m: _SPECIAL[m.group(0)], s)


@dataclass(frozen=True)
class Number:
    """A house number or range: ``lo``–``hi`` and a letter (``""`` for none; ranges carry none)."""

    lo: int
    hi: int
    letter: str = ""

    def text(self) -> str:
        return f"{self.lo}-{self.hi}" if self.hi != self.lo else f"{self.lo}{self.letter}"


@dataclass(frozen=True)
class Parsed:
    """A text cut into words (as written, folded) and house numbers, in order."""

    words: tuple[str, ...]
    numbers: tuple[Number, ...]
    #: True when the text ends with a house number (the query's last token is a number)
    ends_with_number: bool = False


def _dot_abbrev(match: re.Match) -> str:
    return match.group(1) + _DOT_FULL[match.group(2)]


def parse(text) -> Parsed:
    """Cut ``text`` into words and house numbers (module docstring). Words are folded, not expanded.

    >>> parse("12–14 Smith St.").numbers
    (Number(lo=12, hi=14, letter=''),)
    >>> parse("Nørreg. 7 B").words, parse("Nørreg. 7 B").numbers
    (('norregade',), (Number(lo=7, hi=7, letter='b'),))
    """
    s = _DOT_ABBREV.sub(_dot_abbrev, fold(text))
    words: list[str] = []
    numbers: list[Number] = []
    last_number = False
    for m in _TOKEN.finditer(s):
        if m.group(1) is not None:
            a, b = m.group(1), m.group(3)
            if len(a) <= MAX_NUMBER_DIGITS and len(b) <= MAX_NUMBER_DIGITS:
                lo, hi = sorted((int(a), int(b)))
                if lo == hi:
                    numbers.append(Number(lo, hi, m.group(2) if m.group(2) == m.group(4) else ""))
                else:
                    numbers.append(Number(lo, hi))
                last_number = True
                continue
            # too long for house numbers: the two parts are words
            words.extend(t for t in (a + m.group(2), b + m.group(4)))
            last_number = False
            continue
        tok = m.group(0)
        n = _NUMBER.match(tok)
        if n and len(n.group(1)) <= MAX_NUMBER_DIGITS:
            numbers.append(Number(int(n.group(1)), int(n.group(1)), n.group(2)))
            last_number = True
            continue
        if (len(tok) == 1 and "a" <= tok <= "z" and last_number and numbers
                and numbers[-1].lo == numbers[-1].hi and not numbers[-1].letter):
            numbers[-1] = Number(numbers[-1].lo, numbers[-1].hi, tok)   # "12 a" is 12a
            continue
        words.append(tok)
        last_number = False
    return Parsed(tuple(words), tuple(numbers), last_number)


def expand(word: str) -> str:
    """The full word of an abbreviation (:data:`ABBREVIATIONS`), else the word itself."""
    return ABBREVIATIONS.get(word, word)


def normalise(text) -> str:
    """The canonical form of ``text``: its words expanded and its numbers, joined by spaces (words
    first, each group in order). Two addresses that read the same give the same form.

    >>> normalise("12-14, Smith St.")
    'smith street 12-14'
    >>> normalise("SMITH STREET 12–14")
    'smith street 12-14'
    """
    p = parse(text)
    return " ".join([*(expand(w) for w in p.words), *(n.text() for n in p.numbers)])


@dataclass
class Entry:
    """One searchable place. ``kind``: ``"a"`` address, ``"b"`` building id, ``"s"`` street.

    ``building`` is the row of the reference run's buildings (None: no building); ``latlon`` the point
    to show; ``bounds`` ``[[south, west], [north, east]]`` for a street.
    """

    text: str
    kind: str
    words: tuple[str, ...]
    numbers: tuple[Number, ...]
    building: int | None = None
    latlon: tuple[float, float] | None = None
    bounds: list | None = None


def make_entry(text: str, kind: str, building=None, latlon=None, bounds=None) -> Entry | None:
    """An index entry for ``text`` (None when it has nothing to search: no letter or digit)."""
    p = parse(text)
    words = tuple(dict.fromkeys(expand(w) for w in p.words))
    if not words and not p.numbers:
        return None
    return Entry(str(text), kind, words, tuple(dict.fromkeys(p.numbers)), building, latlon, bounds)


def _word_score(q: str, entry_words) -> float:
    e = expand(q)
    best = 0.0
    for w in entry_words:
        if w == q or w == e:
            return 3.0
        if w.startswith(q) or w.startswith(e):
            best = 1.0
    return best


def _number_score(q: Number, entry_numbers, is_last: bool) -> float:
    best = 0.0
    for n in entry_numbers:
        if q == n:
            return 3.0
        if q.lo <= n.hi and n.lo <= q.hi:
            if n.lo != n.hi or q.lo != q.hi or not q.letter:
                s = 2.0
            elif not n.letter:
                s = 1.0
            else:
                s = 0.0            # 12a is not 12b
        elif is_last and q.lo == q.hi and not q.letter and str(n.lo).startswith(str(q.lo)):
            s = 0.5
        else:
            s = 0.0
        best = max(best, s)
    return best


def score(query: Parsed, entry: Entry) -> float:
    """The match score of ``entry`` for a parsed query (0: no match; see the module docstring)."""
    if not query.words and not query.numbers:
        return 0.0
    total = 0.0
    for w in query.words:
        s = _word_score(w, entry.words)
        if s == 0.0:
            return 0.0
        total += s
    for k, n in enumerate(query.numbers):
        s = _number_score(n, entry.numbers, query.ends_with_number and k == len(query.numbers) - 1)
        if s == 0.0:
            return 0.0
        total += s
    return total


def match(entries: list[Entry], text, limit: int = MAX_RESULTS) -> list[tuple[float, Entry]]:
    """The best ``limit`` entries for the query ``text``, best first (module docstring)."""
    q = parse(text)
    hits = []
    for order, e in enumerate(entries):
        s = score(q, e)
        if s > 0:
            hits.append((-s, len(e.words) + len(e.numbers), order, e))
    hits.sort(key=lambda h: h[:3])
    return [(-h[0], h[3]) for h in hits[:limit]]


# --------------------------------------------------------------------------------------- the index


def _metric_crs(gdf):
    """A CRS in metres for distances: the layer's own when projected, else its UTM zone."""
    if gdf.crs is None or not gdf.crs.is_geographic:
        return gdf.crs
    return gdf.estimate_utm_crs()


def link_addresses(addresses, buildings, distance_m: float = LINK_DISTANCE_M) -> list[int | None]:
    """For each address (row of ``addresses``), the row position of its building in ``buildings``:
    the building it lies in (a polygon address: its representative point), else the nearest building
    within ``distance_m`` [m], else None.

    Both layers must have a CRS; ``addresses`` is brought to that of ``buildings``.
    """
    import geopandas as gpd

    n = len(addresses)
    if n == 0 or buildings is None or len(buildings) == 0:
        return [None] * n
    b = buildings.reset_index(drop=True)
    a = addresses.to_crs(b.crs) if addresses.crs != b.crs else addresses
    crs = _metric_crs(b)
    b = b.to_crs(crs)[["geometry"]].copy()
    b["_row"] = np.arange(len(b))
    pts = gpd.GeoDataFrame({"_addr": np.arange(n)}, geometry=a.geometry.to_crs(crs).representative_point()
                           .values, crs=crs)
    valid = pts[~(pts.geometry.is_empty | pts.geometry.isna())]
    out: list[int | None] = [None] * n
    inside = gpd.sjoin(valid, b[~(b.geometry.is_empty | b.geometry.isna())], predicate="within", how="inner")
    for addr, row in inside.sort_values(["_addr", "_row"]).groupby("_addr")["_row"].first().items():
        out[int(addr)] = int(row)
    rest = valid[[out[int(k)] is None for k in valid["_addr"]]]
    if len(rest):
        near = gpd.sjoin_nearest(rest, b, how="inner", max_distance=distance_m, distance_col="_d")
        for addr, row in near.sort_values(["_addr", "_d", "_row"]).groupby("_addr")["_row"].first().items():
            out[int(addr)] = int(row)
    return out


def street_part(address: str) -> str:
    """The street of an address: its text before the first comma, without house numbers
    (``"12-14 Smith St, Merewether"`` → ``"Smith St"``; ``"Nørregade 7B, 2. th"`` → ``"Nørregade"``)."""
    head = str(address).split(",", 1)[0]
    head = re.sub(r"(?<![^\W_])\d+\s*[a-zA-Z]?\s*[-\u2010-\u2015]\s*\d+[a-zA-Z]?(?![^\W_])", " ", head)
    head = re.sub(r"(?<![^\W_])\d+(\s*[a-zA-Z](?![^\W_]))?(?![^\W_])", " ", head)
    return " ".join(head.split())


def _text_value(value) -> str | None:
    """A text attribute as shown (None for missing values: None, NaN, empty)."""
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else str(value)
    text = str(value).strip()
    return text or None


def _latlon(geom_4326) -> tuple[float, float] | None:
    if geom_4326 is None or geom_4326.is_empty:
        return None
    p = geom_4326.representative_point()
    return (round(float(p.y), 6), round(float(p.x), 6))


def _bounds(geoms_4326) -> list | None:
    geoms = [g for g in geoms_4326 if g is not None and not g.is_empty]
    if not geoms:
        return None
    b = np.array([g.bounds for g in geoms])
    return [[round(float(b[:, 1].min()), 6), round(float(b[:, 0].min()), 6)],
            [round(float(b[:, 3].max()), 6), round(float(b[:, 2].max()), 6)]]


def site_addresses(site) -> tuple[list[str], list[int | None], list]:
    """The addresses the site searches: ``(texts, building row or None, geometries in EPSG:4326)``.

    From ``site.addresses`` (column ``address``), else from the reference run's buildings' address
    attribute (``run.address_field``), else none. Missing addresses (None, NaN, empty) are left out.
    """
    base = site.runs[0]
    buildings = base.buildings
    if site.addresses is not None and len(site.addresses):
        a = site.addresses
        if a.crs is None or "address" not in a.columns:
            from ..errors import InputDataError

            raise InputDataError("the address layer needs a CRS and an 'address' column (set [addresses] "
                                 "field to the column holding the addresses; give the layer a CRS).")
        texts = [_text_value(v) for v in a["address"]]
        links = link_addresses(a, buildings)
        geoms = list(a.to_crs(4326).geometry)
    elif buildings is not None and getattr(base, "address_field", None):
        texts = [_text_value(v) for v in buildings[base.address_field]]
        links = list(range(len(buildings)))
        geoms = list(buildings.to_crs(4326).geometry)
    else:
        return [], [], []
    keep = [k for k, t in enumerate(texts) if t is not None]
    return [texts[k] for k in keep], [links[k] for k in keep], [geoms[k] for k in keep]


def build_index(site) -> list[Entry]:
    """The search index of the site (module docstring), sorted by text within each kind: addresses,
    then building ids, then streets."""
    base = site.runs[0]
    addresses, streets, ids = [], {}, []
    roads = site.base.vector.get("roads") if site.base is not None else None
    if roads is not None and roads[1]:         # the roads' own spelling of a street comes first
        gdf, name_field = roads
        if name_field in gdf.columns and len(gdf):
            for name, geom in zip(gdf[name_field], gdf.to_crs(4326).geometry):
                text = _text_value(name)
                key = normalise(text) if text else ""
                if key:
                    streets.setdefault(key, [text, []])[1].append(geom)
    texts, links, geoms = site_addresses(site)
    for text, link, geom in zip(texts, links, geoms):
        e = make_entry(text, "a", link, _latlon(geom))
        if e is not None:
            addresses.append(e)
        street = street_part(text)
        if street:
            key = normalise(street)
            if key:
                streets.setdefault(key, [street, []])[1].append(geom)
    if base.buildings is not None and len(base.buildings) and getattr(base, "id_field", None):
        b4326 = base.buildings.to_crs(4326).geometry
        for row, (ident, geom) in enumerate(zip(base.buildings[base.id_field], b4326)):
            text = _text_value(ident)
            if text is not None:
                e = make_entry(text, "b", row, _latlon(geom))
                if e is not None:
                    ids.append(e)
    street_entries = []
    for text, geoms_ in streets.values():
        bounds = _bounds(geoms_)
        if bounds is None:
            continue
        centre = ((bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2)
        e = make_entry(text, "s", None, centre, bounds)
        if e is not None:
            street_entries.append(e)
    out = []
    for group in (addresses, ids, street_entries):
        out.extend(sorted(group, key=lambda e: (e.text, e.building if e.building is not None else -1)))
    return out


def index_payload(entries: list[Entry]) -> list[list]:
    """The index as the page's script reads it (JSON-ready; strings as they are, for ``js_json``): one
    row per entry, ``[text, kind, building row (-1: none), lat, lon]`` and, for a street, its bounds
    ``south, west, north, east`` [°] after them. The page derives the words and numbers from the text
    with the same rules as :func:`make_entry` (``floodsimSearch.entries``), so they are not sent."""
    out = []
    for e in entries:
        lat, lon = e.latlon if e.latlon is not None else (None, None)
        row = [e.text, e.kind, -1 if e.building is None else int(e.building), lat, lon]
        if e.bounds is not None:
            (s, w), (n, east) = e.bounds
            row += [s, w, n, east]
        out.append(row)
    return out


# --------------------------------------------------------------------------------------- the page

#: The matcher in the page (same rules as :func:`fold`, :func:`parse`, :func:`normalise`, :func:`match`).
#: Constants only; no Jinja delimiter may appear in it (checked by the tests).
SEARCH_JS = r"""
var floodsimSearch = (function () {
  "use strict";
  var ABBREV = __ABBREV__;
  var SPECIAL = __SPECIAL__;
  var MAX_DIGITS = __MAX_DIGITS__;
  var MARKS = /[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]/g;
  var SPECIAL_RE = new RegExp("[" + Object.keys(SPECIAL).join("") + "]", "g");
  var DOT_ABBREV = /([\p{L}]{2,})(str|g|v)\./gu;
  var DOT_FULL = {str: "strasse", g: "gade", v: "vej"};
  var TOKEN = /(\d+)([a-z]?)\s*[-\u2010-\u2015]\s*(\d+)([a-z]?)(?![\p{L}\p{N}])|[\p{L}\p{N}]+/gu;
  var NUMBER = /^(\d+)([a-z]?)$/;
  var ASCII_DIGITS = /^[0-9]+$/;
  function fold(text) {
    var s = String(text === null || text === undefined ? "" : text).normalize("NFKD").replace(MARKS, "");
    s = s.toLowerCase().replace(/\u1e9e/g, "\u00df");
    return s.replace(SPECIAL_RE, function (c) { return SPECIAL[c]; });
  }
  function num(lo, hi, letter) { return {lo: lo, hi: hi, letter: letter}; }
  function parse(text) {
    var s = fold(text).replace(DOT_ABBREV, function (m, a, b) { return a + DOT_FULL[b]; });
    var words = [], numbers = [], lastNumber = false, m;
    TOKEN.lastIndex = 0;
    while ((m = TOKEN.exec(s)) !== null) {
      if (m[1] !== undefined) {
        if (ASCII_DIGITS.test(m[1]) && ASCII_DIGITS.test(m[3]) &&
            m[1].length <= MAX_DIGITS && m[3].length <= MAX_DIGITS) {
          var a = parseInt(m[1], 10), b = parseInt(m[3], 10);
          var lo = Math.min(a, b), hi = Math.max(a, b);
          numbers.push(lo === hi ? num(lo, hi, m[2] === m[4] ? m[2] : "") : num(lo, hi, ""));
          lastNumber = true;
          continue;
        }
        words.push(m[1] + m[2], m[3] + m[4]);
        lastNumber = false;
        continue;
      }
      var tok = m[0], n = NUMBER.exec(tok);
      if (n && ASCII_DIGITS.test(n[1]) && n[1].length <= MAX_DIGITS) {
        var v = parseInt(n[1], 10);
        numbers.push(num(v, v, n[2]));
        lastNumber = true;
        continue;
      }
      var prev = numbers.length ? numbers[numbers.length - 1] : null;
      if (tok.length === 1 && tok >= "a" && tok <= "z" && lastNumber && prev &&
          prev.lo === prev.hi && !prev.letter) {
        numbers[numbers.length - 1] = num(prev.lo, prev.hi, tok);
        continue;
      }
      words.push(tok);
      lastNumber = false;
    }
    return {words: words, numbers: numbers, endsWithNumber: lastNumber};
  }
  function expand(w) { return Object.prototype.hasOwnProperty.call(ABBREV, w) ? ABBREV[w] : w; }
  function numText(n) { return n.hi !== n.lo ? n.lo + "-" + n.hi : n.lo + n.letter; }
  function normalise(text) {
    var p = parse(text);
    return p.words.map(expand).concat(p.numbers.map(numText)).join(" ");
  }
  function wordScore(q, words) {
    var e = expand(q), best = 0;
    for (var i = 0; i < words.length; i++) {
      var w = words[i];
      if (w === q || w === e) { return 3; }
      if (w.indexOf(q) === 0 || w.indexOf(e) === 0) { best = 1; }
    }
    return best;
  }
  function numberScore(q, numbers, isLast) {
    var best = 0;
    for (var i = 0; i < numbers.length; i++) {
      var n = numbers[i], s = 0;   // n = [lo, hi, letter]
      if (q.lo === n[0] && q.hi === n[1] && q.letter === n[2]) { return 3; }
      if (q.lo <= n[1] && n[0] <= q.hi) {
        if (n[0] !== n[1] || q.lo !== q.hi || !q.letter) { s = 2; }
        else if (!n[2]) { s = 1; }
      } else if (isLast && q.lo === q.hi && !q.letter && String(n[0]).indexOf(String(q.lo)) === 0) {
        s = 0.5;
      }
      if (s > best) { best = s; }
    }
    return best;
  }
  function score(q, entry) {
    if (!q.words.length && !q.numbers.length) { return 0; }
    var total = 0, s, k;
    for (k = 0; k < q.words.length; k++) {
      s = wordScore(q.words[k], entry.w);
      if (s === 0) { return 0; }
      total += s;
    }
    for (k = 0; k < q.numbers.length; k++) {
      s = numberScore(q.numbers[k], entry.n, q.endsWithNumber && k === q.numbers.length - 1);
      if (s === 0) { return 0; }
      total += s;
    }
    return total;
  }
  // the entries of index rows (search.index_payload): words and numbers as make_entry derives them
  function entries(rows) {
    return rows.map(function (r) {
      var p = parse(r[0]), w = [], n = [], seenW = {}, seenN = {};
      p.words.forEach(function (x) {
        var e = expand(x);
        if (!Object.prototype.hasOwnProperty.call(seenW, e)) { seenW[e] = 1; w.push(e); }
      });
      p.numbers.forEach(function (x) {
        var key = x.lo + "|" + x.hi + "|" + x.letter;
        if (!Object.prototype.hasOwnProperty.call(seenN, key)) { seenN[key] = 1; n.push([x.lo, x.hi, x.letter]); }
      });
      var e = {t: r[0], k: r[1], w: w, n: n};
      if (r[2] >= 0) { e.b = r[2]; }
      if (r[3] !== null && r[4] !== null) { e.c = [r[3], r[4]]; }
      if (r.length >= 9) { e.x = [[r[5], r[6]], [r[7], r[8]]]; }
      return e;
    });
  }
  function match(entries, text, limit) {
    var q = parse(text), hits = [];
    for (var i = 0; i < entries.length; i++) {
      var s = score(q, entries[i]);
      if (s > 0) { hits.push([-s, entries[i].w.length + entries[i].n.length, i]); }
    }
    hits.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1] || a[2] - b[2]; });
    return hits.slice(0, limit || __MAX_RESULTS__).map(function (h) { return [-h[0], entries[h[2]]]; });
  }
  return {fold: fold, parse: parse, normalise: normalise, match: match, expand: expand, entries: entries};
})();
"""
SEARCH_JS = (SEARCH_JS.replace("__ABBREV__", js_json(ABBREVIATIONS))
             .replace("__SPECIAL__", js_json(_SPECIAL))
             .replace("__MAX_DIGITS__", str(MAX_NUMBER_DIGITS))
             .replace("__MAX_RESULTS__", str(MAX_RESULTS)))

#: Text of the search box's label and its placeholder (constants).
SEARCH_LABEL = "Find an address, street or building"
SEARCH_PLACEHOLDER = "e.g. 12 Smith Street"


class SearchControl(MacroElement):
    """The address search box: a labelled ``<input>`` (a combobox) with a listbox of suggestions.

    Arrow keys move through the suggestions, Enter picks (the first when none is chosen), Escape
    closes. Picking calls ``floodsimResident.pick(entry)`` (see :mod:`floodsim.maps.resident`).

    ``index`` is the JSON-ready index (:func:`index_payload`), or ``index_url`` a site file holding it
    (fetched when the box is first used).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
          var map = {{ this._parent.get_name() }};
          var source = {{ this.source_js }};
          var entries = null, loading = null;
          function load() {
            if (entries) { return Promise.resolve(entries); }
            if (!loading) {
              loading = (typeof source === "string" ? fetch(source).then(function (r) {
                if (!r.ok) { throw new Error("search index: HTTP " + r.status); }
                return r.json();
              }) : Promise.resolve(source)).then(function (rows) {
                entries = floodsimSearch.entries(rows);
                return entries;
              });
            }
            return loading;
          }
          var control = L.control({position: "topleft"});
          control.onAdd = function () {
            var div = L.DomUtil.create("div", "floodsim-control floodsim-search");
            div.setAttribute("role", "search");
            var label = L.DomUtil.create("label", "floodsim-search-label", div);
            label.setAttribute("for", "floodsim-search-input");
            label.textContent = {{ this.label_js }};
            var input = L.DomUtil.create("input", "floodsim-search-input", div);
            input.id = "floodsim-search-input";
            input.type = "search";
            input.autocomplete = "off";
            input.spellcheck = false;
            input.placeholder = {{ this.placeholder_js }};
            input.setAttribute("role", "combobox");
            input.setAttribute("aria-autocomplete", "list");
            input.setAttribute("aria-expanded", "false");
            input.setAttribute("aria-controls", "floodsim-search-list");
            var list = L.DomUtil.create("ul", "floodsim-search-list", div);
            list.id = "floodsim-search-list";
            list.setAttribute("role", "listbox");
            list.setAttribute("aria-label", "Suggestions");
            list.hidden = true;
            var status = L.DomUtil.create("div", "floodsim-search-status", div);
            status.setAttribute("role", "status");
            status.setAttribute("aria-live", "polite");
            var shown = [], active = -1, timer = null;
            var KIND = {a: "address", b: "building", s: "street"};
            function close() {
              list.hidden = true; list.textContent = ""; shown = []; active = -1;
              input.setAttribute("aria-expanded", "false");
              input.removeAttribute("aria-activedescendant");
            }
            function setActive(k) {
              var items = list.children;
              for (var i = 0; i < items.length; i++) {
                items[i].setAttribute("aria-selected", i === k ? "true" : "false");
              }
              active = k;
              if (k >= 0 && items[k]) {
                input.setAttribute("aria-activedescendant", items[k].id);
                items[k].scrollIntoView({block: "nearest"});
              } else {
                input.removeAttribute("aria-activedescendant");
              }
            }
            function pick(k) {
              var entry = shown[k];
              if (!entry) { return; }
              input.value = entry.t;
              close();
              status.textContent = "";
              floodsimResident.pick(map, entry);
            }
            function update() {
              var text = input.value;
              load().then(function (all) {
                if (input.value !== text) { return; }
                var hits = floodsimSearch.match(all, text);
                list.textContent = "";
                shown = hits.map(function (h) { return h[1]; });
                shown.forEach(function (entry, i) {
                  var li = L.DomUtil.create("li", "floodsim-search-option", list);
                  li.id = "floodsim-search-option-" + i;
                  li.setAttribute("role", "option");
                  li.setAttribute("aria-selected", "false");
                  var main = L.DomUtil.create("span", "floodsim-search-text", li);
                  main.textContent = entry.t;
                  var kind = L.DomUtil.create("span", "floodsim-search-kind", li);
                  kind.textContent = KIND[entry.k] || "";
                  li.addEventListener("mousedown", function (e) { e.preventDefault(); });
                  // stop here: the option leaves the page on pick, and Leaflet would take the click
                  // of a detached element for a click on the map (which closes the card)
                  li.addEventListener("click", function (e) { e.stopPropagation(); pick(i); });
                });
                var any = shown.length > 0;
                list.setAttribute("data-query", text);
                list.hidden = !any;
                input.setAttribute("aria-expanded", any ? "true" : "false");
                active = -1;
                status.textContent = text.trim() === "" ? "" :
                  (any ? shown.length + (shown.length === 1 ? " suggestion" : " suggestions")
                       : "Nothing found. Try the street name alone, or a building id.");
              }).catch(function (err) {
                status.textContent = "The search index could not be loaded.";
                if (window.console) { console.warn(err); }
              });
            }
            input.addEventListener("input", function () {
              if (timer) { clearTimeout(timer); }
              timer = setTimeout(update, 80);
            });
            input.addEventListener("focus", function () { load().catch(function () {}); });
            input.addEventListener("keydown", function (e) {
              if (e.key === "ArrowDown") {
                if (shown.length) { setActive((active + 1) % shown.length); }
                e.preventDefault();
              } else if (e.key === "ArrowUp") {
                if (shown.length) { setActive(active <= 0 ? shown.length - 1 : active - 1); }
                e.preventDefault();
              } else if (e.key === "Enter") {
                if (timer) { clearTimeout(timer); timer = null; }
                if (shown.length) { pick(active >= 0 ? active : 0); }
                else { update(); }
                e.preventDefault();
              } else if (e.key === "Escape") {
                close();
              }
            });
            input.addEventListener("blur", function () {
              setTimeout(function () { if (document.activeElement !== input) { close(); } }, 150);
            });
            L.DomEvent.disableClickPropagation(div);
            L.DomEvent.disableScrollPropagation(div);
            return div;
          };
          control.addTo(map);
        })();
        {% endmacro %}
        """
    )

    def __init__(self, index: list[dict] | None = None, index_url: str | None = None):
        super().__init__()
        self._name = "SearchControl"
        self.source_js = js_json(index_url if index_url is not None else (index or []))
        self.label_js = js_json(SEARCH_LABEL)
        self.placeholder_js = js_json(SEARCH_PLACEHOLDER)


#: CSS of the search box (constants).
SEARCH_CSS = """
.floodsim-search { width: 300px; max-width: calc(100vw - 80px); padding: 6px 8px; }
.floodsim-search-label { display: block; font-weight: 600; margin-bottom: 3px; }
.floodsim-search-input { width: 100%; box-sizing: border-box; font: 15px/1.3 system-ui, sans-serif;
  padding: 6px 8px; border: 1px solid #555555; border-radius: 4px; min-height: 36px; }
.floodsim-search-list { list-style: none; margin: 4px 0 0 0; padding: 0; max-height: 40vh; overflow-y: auto;
  border: 1px solid #999999; border-radius: 4px; background: #ffffff; }
.floodsim-search-option { padding: 7px 8px; cursor: pointer; display: flex; justify-content: space-between;
  gap: 8px; min-height: 30px; align-items: center; border-bottom: 1px solid #eeeeee; }
.floodsim-search-option[aria-selected="true"], .floodsim-search-option:hover { background: #dbe8fb; }
.floodsim-search-kind { color: #4a4a4a; font-size: 12px; white-space: nowrap; }
.floodsim-search-status { font-size: 12px; color: #333333; min-height: 0; }
.floodsim-search-status:empty { display: none; }
"""

__all__ = ["ABBREVIATIONS", "Entry", "INDEX_FILE", "LINK_DISTANCE_M", "Number", "Parsed", "SEARCH_CSS",
           "SEARCH_JS", "SearchControl", "build_index", "expand", "fold", "html_text", "index_payload",
           "link_addresses", "make_entry", "match", "normalise", "parse", "site_addresses", "street_part"]
