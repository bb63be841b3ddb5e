"""The resident page from a Site: base map, flood layers, buildings, cards, likelihood and address search.

One bundled run (Merewether cloudburst, coarsened ×4, 20 simulated minutes) and a second scenario made
from a copy of it ("Dry streets": every building dry), an address layer made here (points and a polygon,
with accented, abbreviated, ranged and hostile addresses, one far from any building, one missing), a
named roads layer and a likelihood made from the run (buildings first flooded at 10 or 100 years).

Without a browser: the page's layers, legends, index and cards, escaping, the files of a published site.
In Chromium (skipped without one): type an address, pick it with the keyboard, see the card; the page's
matcher gives the same answers as the Python one; the flood layers are exclusive and the buildings and
legends follow them; the street map falls back to the offline base when its tile host is unreachable; a
published (not self-contained) site loads its buildings, index and cards from its files.
"""

from __future__ import annotations

import json
import re
import shutil
import time

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
from shapely.geometry import LineString

from floodsim.maps import cards as C
from floodsim.maps.basemap import FALLBACK_MESSAGE
from floodsim.maps.publish import render_html, write_map
from floodsim.maps.resident import LIKELIHOOD_NAME, resident_map, resident_page
from floodsim.maps.rundata import map_run
from floodsim.maps.safe import JINJA_DELIMITERS, html_text
from floodsim.maps.search import INDEX_FILE, build_index, make_entry, match
from floodsim.maps.sitedata import BaseMap, Likelihood, Site, embedded_source
from floodsim.run.runner import run_scenario
from floodsim.scenario.site import PublishTexts

from ..unit.test_search import ADDRESSES as MATCH_ADDRESSES
from ..unit.test_search import MATCH_QUERIES, NORMALISE_CASES
from .conftest import SCENARIOS, coarsened

HOSTILE_ADDRESS = "{{7*7}} </script><script>window.__xss = 1</script> Jinja Rd 3"
ADDRESSES = {  # building row -> address (a point inside the building)
    0: "12-14 Smith St, Merewether",
    1: "Nørregade 7B",
    2: HOSTILE_ADDRESS,
    3: "Quote \"x\" 'y' \u2028 Lane 5",
    4: "Ærøskøbing Straße 9",
}
POLYGON_ADDRESS = "Flat 2, 8 Park Ave"      # a polygon over building 5
FAR_ADDRESS = "99 Nowhere Rd"               # 1 km from every building
ROAD_NAMES = ("Smith Street", "Park Avenue", "<b>Evil</b> {{7*7}} Street")
DRY_LABEL = "Dry streets <i>{{ scenario }}</i>"
STORM_10 = "26 mm in 30 min ≈ a 1-in-10-year rain today"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("resident_runs")
    base = root / "base"
    run_scenario(
        coarsened(SCENARIOS / "merewether_cloudburst.toml", 4, duration_min=20.0, output_interval_min=10.0),
        out_dir=base,
    )
    dry = root / "dry"
    shutil.copytree(base, dry)
    gpkg = dry / "flood.gpkg"
    layers = {name: gpd.read_file(gpkg, layer=name) for name, _ in pyogrio.list_layers(gpkg)}
    layers["buildings"]["hazard_code"] = 0
    layers["buildings"]["max_depth_m"] = 0.0
    gpkg.unlink()
    for name, gdf in layers.items():
        gdf.to_file(gpkg, layer=name, driver="GPKG")
    summary = json.loads((dry / "summary.json").read_text())
    summary["scenario"] = "dry copy"
    (dry / "summary.json").write_text(json.dumps(summary))
    return [map_run(base), map_run(dry)]


def address_layer(run) -> gpd.GeoDataFrame:
    b = run.buildings
    rows = [(text, b.geometry.iloc[k].representative_point()) for k, text in ADDRESSES.items()]
    rows.append((POLYGON_ADDRESS, b.geometry.iloc[5].buffer(-0.3)))
    x0, y0, _, _ = b.total_bounds
    from shapely.geometry import Point

    rows.append((FAR_ADDRESS, Point(x0 - 1000, y0 - 1000)))
    rows.append((float("nan"), b.geometry.iloc[6].representative_point()))
    return gpd.GeoDataFrame({"address": [r[0] for r in rows]}, geometry=[r[1] for r in rows], crs=b.crs)


def roads_layer(run) -> gpd.GeoDataFrame:
    x0, y0, x1, y1 = run.buildings.total_bounds
    lines = [LineString([(x0, y0 + (y1 - y0) * f), (x1, y0 + (y1 - y0) * f)]) for f in (0.25, 0.5, 0.75)]
    return gpd.GeoDataFrame({"name": list(ROAD_NAMES)}, geometry=lines, crs=run.buildings.crs)


def likelihood(run) -> Likelihood:
    from floodsim.analysis.risk import likelihood_bands

    depth = run.ds["max_depth"].values
    bands = run.ds["max_depth"].copy(data=likelihood_bands(np.stack([depth, depth * 2]), [10.0, 100.0],
                                                           run.threshold_m))
    first = [10.0 if c > 0 else (100.0 if k % 2 else np.nan)
             for k, c in enumerate(run.buildings["hazard_code"])]
    b = run.buildings[[run.id_field, "geometry"]].copy()
    b["first_flooding_yr"] = first
    return Likelihood(design="baseline", bands=bands, buildings=b, return_periods_yr=[10.0, 100.0],
                      storms={10.0: STORM_10})


def make_site(runs, *, embed=True, with_likelihood=True, online=False, addresses=True, roads=True,
              event="A 60 mm cloudburst") -> Site:
    return Site(
        runs=runs, labels=["Today", DRY_LABEL][: len(runs)],
        texts=PublishTexts(title="Merewether <flood> risk", event=event),
        raster_source=embedded_source,
        likelihood=likelihood(runs[0]) if with_likelihood else None,
        addresses=address_layer(runs[0]) if addresses else None,
        base=BaseMap(online=online, vector={"roads": (roads_layer(runs[0]), "name")} if roads else {}),
        offline=not online, embed=embed,
    )


def _index_from_page(page: str) -> list[dict]:
    m = re.search(r"var source = (\[.*?\]);\n", page)
    assert m, "no inline search index"
    return [{"t": r[0], "k": r[1], "b": r[2]} for r in json.loads(m.group(1))]


def _buildings_from_page(page: str) -> dict:
    for m in re.finditer(r"_add\((\{.*?\})\);\n", page):
        fc = json.loads(m.group(1))
        if fc["features"] and "h" in fc["features"][0]["properties"]:
            return fc
    raise AssertionError("no inline buildings layer")


def _unescape_html(text: str) -> str:
    import html

    return html.unescape(re.sub(r"<[^>]*>", "", text))


# --- without a browser ----------------------------------------------------------------------------------


def test_page_has_exclusive_flood_layers_buildings_legends_and_search(runs):
    site = make_site(runs)
    page = render_html(resident_page(site))
    flood = re.search(r"L\.control\.layers\(\{(.*?)\}, \{\}, \{collapsed: false", page, re.S).group(1)
    names = [_unescape_html(json.loads(s)) for s in re.findall(r'^\s*("(?:[^"\\]|\\.)*") : \w+,$', flood, re.M)]
    assert names == [LIKELIHOOD_NAME, "Danger to people — Today", f"Danger to people — {DRY_LABEL}"]
    main = re.search(r"base_layers : \{(.*?)\},\s*overlays :  \{(.*?)\},", page, re.S)
    assert "Danger to people" not in main.group(0) and "Terrain (offline)" in main.group(1)
    assert "Streets (city data)" in main.group(2) and "Street names" in main.group(2)
    assert "Buildings" in main.group(2)
    fc = _buildings_from_page(page)
    assert len(fc["features"]) == len(runs[0].buildings)
    codes = [f["properties"]["h"] for f in fc["features"]]
    assert all(h[1] == 0 for h in codes) and any(h[0] > 0 for h in codes)    # the dry copy is dry
    assert {f["properties"]["l"] for f in fc["features"]} <= {0, 3, 4}         # 10 yr: high, 100 yr: medium
    assert "Danger to people from flood water" in page and "Buildings: no flooding" in page
    assert "first floods in the 1-in-100-year storm" in page                   # the likelihood legend
    assert page.count("legend.addTo(map)") == 2                                # two legends that follow
    index = _index_from_page(page)
    texts = {e["t"] for e in index}
    assert set(ADDRESSES.values()) | {POLYGON_ADDRESS, FAR_ADDRESS} <= texts
    assert {"Smith Street", "Park Avenue", ROAD_NAMES[2], "Nørregade"} <= texts          # streets
    assert {str(i) for i in runs[0].buildings[runs[0].id_field]} <= texts                 # building ids
    assert "A single modelled event" not in page.split("<script>")[0]


def test_single_event_page_says_so(runs):
    page = render_html(resident_page(make_site(runs[:1], with_likelihood=False)))
    assert "A single modelled event: A 60 mm cloudburst. This map does not show how likely" in page
    assert LIKELIHOOD_NAME not in page
    assert "classList.add(\"floodsim-flood-layers\")" not in page      # one flood layer: no radio control
    assert json.dumps("Danger to people — Today") in page       # an overlay of the main layer control


def test_search_index_links_addresses_to_buildings(runs):
    site = make_site(runs)
    entries = build_index(site)
    by_text = {e.text: e for e in entries if e.kind == "a"}
    for row, text in ADDRESSES.items():
        assert by_text[text].building == row, text
    assert by_text[POLYGON_ADDRESS].building == 5
    assert by_text[FAR_ADDRESS].building is None and by_text[FAR_ADDRESS].latlon is not None
    assert len(by_text) == len(ADDRESSES) + 2                     # the missing (NaN) address left out
    streets = {e.text: e for e in entries if e.kind == "s"}
    assert streets["Smith Street"].bounds is not None
    assert match(entries, "13 smith street")[0][1].text == ADDRESSES[0]
    assert match(entries, "AEROSKOBING STRASSE 9")[0][1].text == ADDRESSES[4]
    assert match(entries, "norregade 7 b")[0][1].building == 1
    assert match(entries, "8 park avenue")[0][1].text == POLYGON_ADDRESS


def test_cards(runs):
    site = make_site(runs)
    card = C.building_card_html(site, 0)
    shown = _unescape_html(card)
    assert ADDRESSES[0] in shown and "Today" in shown and DRY_LABEL in shown
    assert "Likelihood of flooding" in shown and "What you can do" in shown
    assert "report/" not in card                                  # a self-contained page has no reports
    first = C.likelihood_rows(site)[0]
    if first == 10.0:
        assert "High: each year" in shown and STORM_10 in shown
    hostile = C.building_card_html(site, 2)
    assert HOSTILE_ADDRESS in _unescape_html(hostile)
    for raw in (*JINJA_DELIMITERS, "<script", "</script", "\u2028"):
        assert raw not in hostile and raw not in C.building_card_html(site, 3)
    published = make_site(runs, embed=False)
    link = re.search(r"href='([^']+)'", C.building_card_html(published, 0)).group(1)
    assert link == f"report/{C.report_slug(ADDRESSES[0])}.html"
    assert C.report_labels(published, 0) == [ADDRESSES[0]]
    single = C.building_card_html(make_site(runs, with_likelihood=False), 0)
    assert "A single modelled event: A 60 mm cloudburst" in single and "Likelihood" not in single
    assert len(re.findall(r"<table", card)) == 0                  # stacked rows: narrow on a phone


def test_hostile_data_is_inert_and_shown_verbatim(runs):
    page = render_html(resident_page(make_site(runs)))
    for d in JINJA_DELIMITERS:
        assert d not in page, d
    assert "<script>window.__xss" not in page and "\u2028" not in page and "<b>Evil" not in page
    assert page.lower().count("<script") == page.lower().count("</script")
    index = _index_from_page(page)
    assert HOSTILE_ADDRESS in {e["t"] for e in index} and ADDRESSES[3] in {e["t"] for e in index}
    labels = [json.loads(s) for s in re.findall(r'var \w+ = L\.layerGroup\(\(function \(labels\) \{.*?\}\)\((\[.*?\])\)\);',
                                                page, re.S)]
    assert [_unescape_html(t[2]) for t in labels[0]].count(ROAD_NAMES[2]) == 1
    fc = _buildings_from_page(page)
    assert HOSTILE_ADDRESS in _unescape_html(fc["features"][2]["properties"]["popup"])


def test_published_site_keeps_data_in_files(runs):
    site = make_site(runs, embed=False, online=True)
    page = render_html(resident_page(site))
    assert {INDEX_FILE, "data/buildings.json", "data/cards/0.json", "data/base_roads.json"} <= set(site.files)
    cards = json.loads(site.files["data/cards/0.json"])
    assert len(cards) == min(len(runs[0].buildings), 200) and "Likelihood of flooding" in cards["0"]
    assert "What you can do" not in cards["0"]                                           # advice sent once
    assert "What you can do" in json.loads(re.search(r'_advice = ("(?:[^"\\]|\\.)*");', page).group(1))
    assert "Likelihood of flooding:" not in page and "Deepest water" not in page   # no card in the HTML
    assert "tile.openstreetmap.org" in page and "openstreetmap.org/copyright" in page   # with attribution
    index = json.loads(site.files[INDEX_FILE])
    assert HOSTILE_ADDRESS in {row[0] for row in index}
    for name, data in site.files.items():
        if name.endswith(".json"):
            text = data.decode("ascii")
            assert "<" not in text and not any(d in text for d in JINJA_DELIMITERS), name


def test_resident_map_wrapper(runs):
    page = render_html(resident_map(runs, offline=True))
    assert "tile.openstreetmap.org" not in page and "floodsim-search-input" in page
    assert "Flood risk map" in page and "dry copy" in page


# --- in a browser ---------------------------------------------------------------------------------------

from tests.support.browser import (  # noqa: E402
    browser_missing,
    chromium,
    console_errors,
    serve_folder,
    wait_for_map,
)

_MISSING = browser_missing()
browser = pytest.mark.skipif(_MISSING is not None, reason=f"no headless browser here: {_MISSING}")


@pytest.fixture(scope="module")
def cache():
    from floodsim.maps import assets

    missing = assets.missing_releases()
    if missing:
        pytest.skip(f"offline map assets missing ({missing[0]}): run `{assets.FETCH_COMMAND}` first")
    return assets.cache_dir()


def _write(site, folder, cache, name="index.html"):
    folder.mkdir(parents=True, exist_ok=True)
    m = resident_page(site)
    write_map(m, folder / name, offline=True, assets_root=cache)
    for rel, data in site.files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    return folder / name


def _open(d, url):
    d.get(url)
    wait_for_map(d)
    time.sleep(0.5)


def wait_popup_text(d, contains: str = "", timeout: float = 10.0) -> str:
    """The visible text of the open popup containing ``contains`` (a popup closing meanwhile is skipped)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def text(dd):
        shown = [e.text for e in dd.find_elements(By.CSS_SELECTOR, ".leaflet-popup-content")]
        return next((t for t in shown if t.strip() and contains in t), False)

    return WebDriverWait(d, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(text)


def _search(d, text):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    box = d.find_element(By.ID, "floodsim-search-input")
    box.clear()
    box.send_keys(text)
    WebDriverWait(d, 10).until(lambda dd: dd.execute_script(
        "const l = document.getElementById('floodsim-search-list');"
        "return l.getAttribute('data-query') === arguments[0] && l.children.length > 0;", text))
    return box, [o.text.split("\n")[0] for o in d.find_elements(By.CSS_SELECTOR, ".floodsim-search-option")]


@browser
def test_search_by_keyboard_opens_the_card(runs, cache, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    page = _write(make_site(runs), tmp_path, cache)
    with serve_folder(tmp_path) as base, chromium() as d:
        _open(d, base + page.name)
        label = d.find_element(By.CSS_SELECTOR, "label[for='floodsim-search-input']")
        assert label.text and d.find_element(By.ID, "floodsim-search-input").get_attribute("role") == "combobox"
        box, options = _search(d, "13 smith street")
        assert options[0] == ADDRESSES[0]
        assert d.find_element(By.ID, "floodsim-search-list").get_attribute("role") == "listbox"
        box.send_keys(Keys.ARROW_DOWN)
        assert d.find_element(By.ID, "floodsim-search-option-0").get_attribute("aria-selected") == "true"
        assert box.get_attribute("aria-activedescendant") == "floodsim-search-option-0"
        box.send_keys(Keys.ENTER)
        text = wait_popup_text(d, contains=ADDRESSES[0])
        assert "Today" in text and "Dry streets <i>{{ scenario }}</i>" in text and "Likelihood of flooding" in text
        assert "What you can do" in text                       # the site's advice, sent once for all cards
        # accents, case and abbreviations; a pick by mouse
        box, options = _search(d, "AEROSKOBING STR 9")
        assert options[0] == ADDRESSES[4]
        d.find_element(By.ID, "floodsim-search-option-0").click()
        assert ADDRESSES[4] in wait_popup_text(d, contains=ADDRESSES[4])
        # hostile text: listed and shown as typed, nothing runs
        box, options = _search(d, "jinja rd 3")
        assert options[0] == HOSTILE_ADDRESS
        box.send_keys(Keys.ENTER)
        assert HOSTILE_ADDRESS in wait_popup_text(d, contains="Jinja Rd 3")
        assert d.execute_script("return window.__xss === undefined")
        # an address without a building: a popup says so
        box, options = _search(d, "99 nowhere")
        box.send_keys(Keys.ENTER)
        assert "No building of the flood model" in wait_popup_text(d, contains=FAR_ADDRESS)
        # a street zooms to it
        d.execute_script("Object.values(window).find(v => v instanceof L.Map).closePopup()")
        box, options = _search(d, "park avenue")
        d.find_element(By.ID, f"floodsim-search-option-{options.index('Park Avenue')}").click()
        time.sleep(0.5)
        lat, lon = d.execute_script("const c = Object.values(window).find(v => v instanceof L.Map)"
                                    ".getCenter(); return [c.lat, c.lng];")
        street = next(e for e in build_index(make_site(runs)) if e.text == "Park Avenue")
        (s, w), (n, e) = street.bounds
        assert s - 1e-4 <= lat <= n + 1e-4 and w - 1e-4 <= lon <= e + 1e-4
        assert console_errors(d) == []


@browser
def test_page_matcher_equals_python(runs, cache, tmp_path):
    from floodsim.maps.search import index_payload

    page = _write(make_site(runs[:1], with_likelihood=False, addresses=False, roads=False), tmp_path, cache)
    entries = [make_entry(a, "a") for a in MATCH_ADDRESSES]
    payload = index_payload(entries)
    with serve_folder(tmp_path) as base, chromium() as d:
        _open(d, base + page.name)
        got = d.execute_script("return arguments[0].map(t => floodsimSearch.normalise(t));",
                               list(NORMALISE_CASES))
        assert got == list(NORMALISE_CASES.values())
        js = d.execute_script(
            "const entries = floodsimSearch.entries(arguments[0]);"
            "return arguments[1].map(q => floodsimSearch.match(entries, q).map(h => [h[0], h[1].t]));",
            payload, list(MATCH_QUERIES))
        words = d.execute_script("return floodsimSearch.entries(arguments[0]).map(e => [e.w, e.n]);", payload)
        assert words == [[list(e.words), [[n.lo, n.hi, n.letter] for n in e.numbers]] for e in entries]
        py = [[[s, e.text] for s, e in match(entries, q)] for q in MATCH_QUERIES]
        assert js == py


@browser
def test_flood_layers_are_exclusive_and_buildings_and_legends_follow(runs, cache, tmp_path):
    from selenium.webdriver.common.by import By

    page = _write(make_site(runs), tmp_path, cache)
    fills = "return floodsimResident.buildings.getLayers().map(l => l.options.fillColor);"
    legends = ("return Array.from(document.querySelectorAll('.floodsim-legend')).map("
               "e => e.querySelector('.floodsim-legend-toggle').textContent);")
    with serve_folder(tmp_path) as base, chromium() as d:
        _open(d, base + page.name)
        radios = d.find_elements(By.CSS_SELECTOR, ".floodsim-flood-layers input[type=radio]")
        assert len(radios) == 3 and radios[0].is_selected()
        assert d.execute_script(legends) == [LIKELIHOOD_NAME]
        by_likelihood = d.execute_script(fills)
        radios[1].click()                         # Today's danger
        time.sleep(0.3)
        today = d.execute_script(fills)
        assert d.execute_script(legends) == ["Danger to people from flood water"]
        n_images = len(d.find_elements(By.CSS_SELECTOR, ".leaflet-overlay-pane img.leaflet-image-layer"))
        radios = d.find_elements(By.CSS_SELECTOR, ".floodsim-flood-layers input[type=radio]")
        radios[2].click()                         # the dry copy
        time.sleep(0.3)
        dry = d.execute_script(fills)
        assert len(d.find_elements(By.CSS_SELECTOR, ".leaflet-overlay-pane img.leaflet-image-layer")) == n_images == 1
        assert today != dry != by_likelihood and len(set(dry)) == 1     # the dry copy: all "no flooding"
        assert console_errors(d) == []


@browser
def test_blocked_street_tiles_fall_back_to_the_offline_base(runs, cache, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    page = _write(make_site(runs, online=True), tmp_path, cache)
    with serve_folder(tmp_path) as base, chromium() as d:      # Chromium reaches only 127.0.0.1
        d.get(base + page.name)
        WebDriverWait(d, 20).until(lambda dd: dd.find_elements(By.CSS_SELECTOR, ".floodsim-basemap-note"))
        note = d.find_element(By.CSS_SELECTOR, ".floodsim-basemap-note")
        assert FALLBACK_MESSAGE in note.text and note.is_displayed()
        assert d.execute_script("return document.querySelector('.leaflet-container')"
                                ".getAttribute('data-floodsim-basemap')") == "offline"
        assert d.find_elements(By.CSS_SELECTOR, ".leaflet-floodsimTerrain-pane img")   # terrain
        assert d.find_elements(By.CSS_SELECTOR, ".leaflet-floodsimBase-pane path")                # streets
        assert not d.find_elements(By.CSS_SELECTOR, ".leaflet-tile-pane img[src*='openstreetmap']")
        checked = d.execute_script(
            "return Array.from(document.querySelectorAll('.leaflet-control-layers-base label'))"
            ".filter(l => l.querySelector('input').checked).map(l => l.textContent.trim());")
        assert "Terrain (offline)" in checked and "Street map (OpenStreetMap)" not in checked
        # street names: shown as typed (hostile too), from zoom 16 on
        labels = "return [...document.querySelectorAll('.floodsim-label span')].filter(e => e.offsetParent)" \
                 ".map(e => e.textContent);"
        d.execute_script("Object.values(window).find(v => v instanceof L.Map).setZoom(17, {animate: false});")
        time.sleep(0.3)
        assert sorted(d.execute_script(labels)) == sorted(ROAD_NAMES)
        d.execute_script("Object.values(window).find(v => v instanceof L.Map).setZoom(14, {animate: false});")
        time.sleep(0.3)
        assert d.execute_script(labels) == []
        others = [e for e in console_errors(d) if "openstreetmap.org" not in e]
        assert others == []


@browser
def test_published_site_loads_buildings_index_and_cards_from_files(runs, cache, tmp_path):
    from selenium.webdriver.common.keys import Keys

    site = make_site(runs, embed=False)
    page = _write(site, tmp_path, cache)
    with serve_folder(tmp_path) as base, chromium() as d:
        _open(d, base + page.name)
        box, options = _search(d, "norregade 7b")
        assert options[0] == ADDRESSES[1]
        box.send_keys(Keys.ENTER)
        text = wait_popup_text(d, contains=ADDRESSES[1])        # the card's title, once panned into view
        assert "Likelihood of flooding" in text
        href = d.execute_script("return document.querySelector('.leaflet-popup-content a').getAttribute('href')")
        assert href == f"report/{C.report_slug(ADDRESSES[1])}.html"
        assert console_errors(d) == []
        assert html_text(ADDRESSES[1]) not in page.read_text(encoding="utf-8")     # not in the HTML
