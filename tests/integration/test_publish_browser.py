"""A published site in a real browser: the checks every page must pass (issue 12).

``floodsim publish`` writes the site; it is served from a local HTTP server and opened in headless
Chromium (tests/support/browser.py; Chromium resolves no host but 127.0.0.1). Checked on every page of
the site (resident, planner, the other top-level pages, a one-page report):

* no console error, and no request leaving the machine on an offline site;
* ``<html lang>`` and ``<title>`` from the ``[publish]`` texts (shown literally, hostile text included),
  and a viewport that lets people zoom;
* the print view: the map prints without its zoom and layer controls, with its legends open;
* axe-core (npm, injected into the page): no serious or critical violation, on a desktop and on a phone;
* no map control overlaps another (desktop 1280 × 860 and phone);
* on a 390 × 844 phone: the controls cover at most 40 % of the map, legends start collapsed and open with
  their button, popups fit the screen, controls are 44 px touch targets, the time slider is not covered;
* an online site whose street-tile server is blocked says so and shows the offline base;
* page weight at a million cells: the HTML stays under 1 MB and a first visit transfers about what a
  small site does (tiles, not embedded rasters).

Search, swipe and legend-follows-layer checks are in the resident and planner browser tests.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from floodsim.errors import ExitCode
from tests.support.browser import (
    PHONE_SIZE,
    block_hosts,
    browser_missing,
    chromium,
    console_errors,
    covered_fractions,
    disable_cache,
    external_requests,
    format_violations,
    overflowing_popups,
    overlapping_controls,
    page_weight,
    phone_viewport,
    requested_urls,
    run_axe,
    serve_folder,
)

from .test_maps import asset_cache_or_skip, make_runs

_MISSING = browser_missing()
pytestmark = pytest.mark.skipif(_MISSING is not None, reason=f"no headless browser here: {_MISSING}")

#: A site title and language that must reach every page literally (escaped, never interpreted).
TITLE = 'Flood map {{7*7}} </title><script>window.__xss = 1</script> "Ørsted" & co'
LANGUAGE = "da"
#: Most of the map a phone may have covered by controls (issue 12).
MAX_COVERED = 0.40
#: Smallest touch target on a phone [CSS px].
TOUCH_PX = 44
#: The largest HTML page of a published site [bytes] (issue 12: "its HTML is under 1 MB").
MAX_HTML_BYTES = 1_000_000
#: The longest a published page may take to load (navigation start to load event) [ms] (issue 12).
MAX_LOAD_MS = 3000


def _publish_missing() -> str | None:
    """Why ``floodsim publish`` cannot be used yet (None when the verb is there)."""
    import argparse

    from floodsim.cli import build_parser

    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction) and "publish" in action.choices:
            return None
    return "`floodsim publish` is not registered yet (site engineer: floodsim/cli/publish.py)"


def _publish(args) -> None:
    from floodsim.cli import main

    missing = _publish_missing()
    if missing:
        pytest.skip(missing)
    code = main(["publish", *map(str, args)])
    assert code == ExitCode.OK, f"floodsim publish {' '.join(map(str, args))} exited {code}"


@pytest.fixture(scope="module")
def cache():
    from floodsim.errors import InputDataError
    from floodsim.maps.assets import axe_script

    root = asset_cache_or_skip()
    try:
        axe_script(root)
    except InputDataError as exc:
        pytest.skip(str(exc))
    return root


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return make_runs(tmp_path_factory)


@pytest.fixture(scope="module")
def offline_site(runs, cache, tmp_path_factory):
    """Two scenarios, offline (no online street map), a hostile title in Danish."""
    root = tmp_path_factory.mktemp("site_offline")
    toml = root / "site.toml"
    toml.write_text(
        f"out = {_toml_str(str(root / 'site'))}\n"
        "[publish]\n"
        f"title = {_toml_str(TITLE)}\n"
        f'language = "{LANGUAGE}"\n'
        'event = "60 mm in 30 minutes <b>not bold</b>"\n'
        "[[runs]]\n"
        f"path = {_toml_str(str(runs['base']))}\n"
        'label = "Today"\n'
        "[[runs]]\n"
        f"path = {_toml_str(str(runs['pond']))}\n"
        'label = "With the pond"\n'
        "[base]\n"
        "online = false\n",
        encoding="utf-8",
    )
    _publish([toml])
    return root / "site"


@pytest.fixture(scope="module")
def online_site(runs, cache, tmp_path_factory):
    """The command-line form, with its defaults: online street map on."""
    out = tmp_path_factory.mktemp("site_online") / "site"
    _publish([runs["base"], runs["pond"], "--out", out])
    return out


def _toml_str(text: str) -> str:
    import json

    return json.dumps(text)   # a JSON string is a valid TOML basic string


def _pages(site: Path) -> list[Path]:
    """The top-level pages and one report page (if the site has reports)."""
    top = sorted(site.glob("*.html"))
    assert len(top) >= 2, f"expected the resident and planner pages in {site}, found {[p.name for p in top]}"
    reports = sorted(p for p in site.rglob("*.html")
                     if p.parent != site and not any("assets" in part for part in p.relative_to(site).parts))
    return top + reports[:1]


def _rel(site: Path, page: Path) -> str:
    return page.relative_to(site).as_posix()


def _has_map(driver) -> bool:
    return bool(driver.execute_script("return document.querySelectorAll('.leaflet-container').length"))


def _open(driver, url: str, timeout: float = 30.0) -> None:
    """Load ``url`` and wait until the page is complete and Leaflet has drawn something (if it has a map)."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, timeout).until(lambda d: d.execute_script("return document.readyState") == "complete")
    if _has_map(driver):
        WebDriverWait(driver, timeout).until(lambda d: d.execute_script(
            "return document.querySelectorAll('.leaflet-tile-loaded, .leaflet-image-layer, "
            "path.leaflet-interactive, .leaflet-marker-icon').length > 0"))
    time.sleep(0.6)   # Leaflet's fade-in and our page script's first pass


_SHAPES_JS = """
// The centres of the largest visible interactive shapes (the first arguments[0]).
const vw = window.innerWidth, vh = window.innerHeight;
return [...document.querySelectorAll('path.leaflet-interactive')].map((p, i) => [i, p.getBoundingClientRect()])
  .filter(([i, r]) => r.width > 2 && r.height > 2 && r.left > 0 && r.top > 0 && r.right < vw && r.bottom < vh)
  .sort((a, b) => b[1].width * b[1].height - a[1].width * a[1].height)
  .slice(0, arguments[0]).map(([i, r]) => [i, r.left + r.width / 2, r.top + r.height / 2]);
"""

_CLICK_SHAPE_JS = """
// A click on shape arguments[0] at (arguments[1], arguments[2]), as Leaflet receives a click.
const p = document.querySelectorAll('path.leaflet-interactive')[arguments[0]];
if (p) p.dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true, view: window,
                                                clientX: arguments[1], clientY: arguments[2]}));
"""


def _open_a_popup(driver, tries: int = 12) -> bool:
    """Click the largest visible shapes one by one until a popup shows (cards may load first)."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    for index, x, y in driver.execute_script(_SHAPES_JS, tries):
        driver.execute_script(_CLICK_SHAPE_JS, index, x, y)
        try:
            WebDriverWait(driver, 2.0).until(lambda d: d.execute_script(
                "const c = document.querySelector('.leaflet-popup-content');"
                "return !!c && c.innerText.trim().length > 0"))
            return True
        except TimeoutException:
            continue
    return False


_TIME_SLIDER_OVERLAP_JS = """
// Controls whose box overlaps the time slider's (ours or leaflet.timedimension's), if the page has one.
const slider = document.querySelector('.floodsim-timeslider, .leaflet-bar-timecontrol');
if (!slider) return null;
const s = slider.getBoundingClientRect();
const visible = e => { const r = e.getBoundingClientRect(); const cs = getComputedStyle(e);
  return r.width > 0 && r.height > 0 && cs.visibility !== 'hidden' && cs.display !== 'none'; };
return [...document.querySelectorAll('.leaflet-control')]
  .filter(e => e !== slider && !slider.contains(e) && !e.contains(slider) && visible(e))
  .filter(e => { const r = e.getBoundingClientRect();
    return r.left < s.right - 1 && r.right > s.left + 1 && r.top < s.bottom - 1 && r.bottom > s.top + 1; })
  .map(e => e.className);
"""

_SMALL_TARGETS_JS = """
// Visible controls a finger taps that are smaller than arguments[0] px.
const min = arguments[0], out = [];
const sel = '.leaflet-control-zoom a, .leaflet-control-layers-toggle, .floodsim-legend-toggle, ' +
            '.leaflet-bar-timecontrol a, .floodsim-timeslider button, .floodsim-timeslider select';
for (const e of document.querySelectorAll(sel)) {
  const r = e.getBoundingClientRect(), cs = getComputedStyle(e);
  if (r.width === 0 || r.height === 0 || cs.display === 'none' || cs.visibility === 'hidden') continue;
  if (r.height < min - 0.5 || r.width < min - 0.5) out.push(e.className + ' ' + r.width + 'x' + r.height);
}
return out;
"""


def _common_checks(driver, base: str, page: str) -> list[str]:
    """Problems every page must not have (lang, title, viewport, injected script)."""
    problems = []
    lang = driver.execute_script("return document.documentElement.getAttribute('lang')")
    if lang != LANGUAGE:
        problems.append(f"{page}: <html lang={lang!r}>, expected {LANGUAGE!r}")
    title = driver.execute_script("return document.title")
    if TITLE not in title:
        problems.append(f"{page}: <title> {title!r} does not show the site title literally")
    viewport = driver.execute_script(
        "var m = document.querySelector('meta[name=viewport]'); return m ? m.content : null") or ""
    if "user-scalable=no" in viewport.replace(" ", "") or "maximum-scale" in viewport:
        problems.append(f"{page}: the viewport stops zooming ({viewport!r})")
    if driver.execute_script("return window.__xss"):
        problems.append(f"{page}: text from the site file ran as script")
    return problems


def test_offline_site_every_page_clean_titled_and_accessible(offline_site):
    """Desktop: every page has lang, title, a zoomable viewport, no console error, no request leaving
    the machine and no serious or critical axe-core violation."""
    problems = []
    with serve_folder(offline_site) as base, chromium() as driver:
        for page in _pages(offline_site):
            name = _rel(offline_site, page)
            _open(driver, base + name)
            problems += _common_checks(driver, base, name)
            urls = requested_urls(driver)
            problems += [f"{name}: request leaves the machine: {u}" for u in external_requests(urls, base)]
            problems += [f"{name}: console: {e}" for e in console_errors(driver)]
            violations = run_axe(driver)
            if violations:
                problems.append(f"{name}: axe-core\n{format_violations(violations)}")
            if _has_map(driver):
                problems += [f"{name}: control {a!r} overlaps {b!r} by {w}×{h} px"
                             for a, b, w, h in overlapping_controls(driver)]
                problems += [f"{name} (print): {p}" for p in _print_problems(driver)]
    assert not problems, "\n".join(problems)


_PRINT_JS = """
const shown = e => { const r = e.getBoundingClientRect(); const cs = getComputedStyle(e);
  return r.width > 0 && r.height > 0 && cs.display !== 'none' && cs.visibility !== 'hidden'; };
const out = [];
for (const e of document.querySelectorAll('.leaflet-control-zoom, .leaflet-control-layers, .floodsim-skip'))
  if (shown(e)) out.push('still printed: ' + e.className);
for (const b of document.querySelectorAll('.floodsim-legend-body'))
  if (b.closest('.leaflet-control') && shown(b.closest('.leaflet-control')) && !shown(b))
    out.push('a legend prints collapsed: ' + b.parentElement.innerText.slice(0, 40));
const maps = [...document.querySelectorAll('.leaflet-container')].filter(shown);
if (!maps.length) out.push('no map is printed');
return out;
"""


def _print_problems(driver) -> list[str]:
    """The print view (CSS ``@media print`` emulated): the map prints, its zoom and layer controls do
    not, legends print open."""
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        time.sleep(0.2)
        return driver.execute_script(_PRINT_JS)
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})


#: A 1366 × 768 laptop screen less the browser's bars [CSS px]: the smallest common desktop view.
LAPTOP = (1366, 657)


def test_no_control_overlaps_another_on_a_laptop_screen(offline_site):
    """On a small laptop screen the controls of the four corners still do not run into each other
    (a legend stack taller than the map would hide the buttons under it)."""
    problems = []
    with serve_folder(offline_site) as base, chromium(*LAPTOP) as driver:
        for page in sorted(offline_site.glob("*.html")):
            _open(driver, base + page.name)
            if _has_map(driver):
                problems += [f"{page.name} ({LAPTOP[0]}×{LAPTOP[1]}): control {a!r} overlaps {b!r} by {w}×{h} px"
                             for a, b, w, h in overlapping_controls(driver)]
    assert not problems, "\n".join(problems)


def test_offline_site_on_a_phone(offline_site):
    """390 × 844: controls cover ≤ 40 % of the map, legends start collapsed and open with their button,
    a popup fits the screen, controls are 44 px targets, the time slider is not covered, axe is clean."""
    from selenium.webdriver.common.by import By

    problems, popups_opened = [], 0
    with serve_folder(offline_site) as base, chromium() as driver:
        phone_viewport(driver)
        for page in _pages(offline_site):
            name = _rel(offline_site, page)
            _open(driver, base + name)
            width = driver.execute_script("return window.innerWidth")
            assert width == PHONE_SIZE[0], f"{name}: the phone viewport is {width} px wide"
            scroll = driver.execute_script("return document.documentElement.scrollWidth")
            if scroll > width + 1:
                problems.append(f"{name}: the page scrolls sideways on a phone ({scroll} px > {width} px)")
            violations = run_axe(driver)
            if violations:
                problems.append(f"{name} (phone): axe-core\n{format_violations(violations)}")
            problems += [f"{name} (phone): console: {e}" for e in console_errors(driver)]
            if not _has_map(driver):
                continue
            for m in covered_fractions(driver):
                if m["fraction"] > MAX_COVERED:
                    problems.append(f"{name}: controls cover {m['fraction']:.0%} of map {m['id']} on a phone")
            problems += [f"{name} (phone): control {a!r} overlaps {b!r} by {w}×{h} px"
                         for a, b, w, h in overlapping_controls(driver)]
            small = driver.execute_script(_SMALL_TARGETS_JS, TOUCH_PX)
            problems += [f"{name}: touch target under {TOUCH_PX} px: {s}" for s in small]
            overlap = driver.execute_script(_TIME_SLIDER_OVERLAP_JS)
            if overlap:
                problems.append(f"{name}: the time slider is covered by {overlap}")

            # legends: collapsed on a phone; the button opens one and closes it again
            toggles = [b for b in driver.find_elements(By.CSS_SELECTOR, ".floodsim-legend-toggle") if b.is_displayed()]
            for b in toggles:
                if b.get_attribute("aria-expanded") != "false":
                    problems.append(f"{name}: legend {b.text!r} starts open on a phone")
            if toggles:
                b = toggles[0]
                body = b.find_element(By.XPATH, "./following-sibling::*[contains(@class, 'floodsim-legend-body')]")
                b.click()
                time.sleep(0.2)
                if b.get_attribute("aria-expanded") != "true" or not body.is_displayed():
                    problems.append(f"{name}: legend {b.text!r} does not open with its button")
                b.click()
                time.sleep(0.2)
                if b.get_attribute("aria-expanded") != "false" or body.is_displayed():
                    problems.append(f"{name}: legend {b.text!r} does not close with its button")

            # a popup fits the screen
            if _open_a_popup(driver):
                popups_opened += 1
                time.sleep(0.6)   # autopan
                problems += [f"{name}: popup wider than the screen: {p}" for p in overflowing_popups(driver)]
    assert popups_opened >= 1, "no page opened a popup on a click: nothing to check for fitting the screen"
    assert not problems, "\n".join(problems)


def test_online_page_with_blocked_tile_server_falls_back(online_site):
    """The street tiles cannot load: the page says so and shows the offline base (terrain and the
    project's layers), with no other error."""
    from selenium.webdriver.support.ui import WebDriverWait

    from floodsim.maps.basemap import FALLBACK_MESSAGE

    blocked = ["*tile.openstreetmap.org*", "*openstreetmap*", "*cdn.jsdelivr.net*", "*cdnjs.cloudflare.com*",
               "*unpkg.com*"]
    with serve_folder(online_site) as base, chromium() as driver:
        block_hosts(driver, blocked)
        checked = 0
        for page in sorted(online_site.glob("*.html")):
            name = _rel(online_site, page)
            driver.get(base + name)
            WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
            if not _has_map(driver):
                continue
            if not any("openstreetmap" in u for u in requested_urls(driver)):
                continue   # a page without the online street map (nothing to fall back from)
            checked += 1
            WebDriverWait(driver, 30).until(lambda d: d.execute_script(
                "return [...document.querySelectorAll('.leaflet-container')]"
                ".every(c => c.getAttribute('data-floodsim-basemap') === 'offline')"))
            notes = driver.execute_script(
                "return [...document.querySelectorAll('.floodsim-basemap-note')]"
                ".filter(n => n.getBoundingClientRect().height > 0).map(n => n.innerText)")
            assert any(FALLBACK_MESSAGE in n for n in notes), f"{name}: no visible fallback message ({notes})"
            time.sleep(0.5)
            offline_base = driver.execute_script("""
                const local = arguments[0];
                const imgs = [...document.querySelectorAll('.leaflet-pane img')].filter(i =>
                    i.complete && i.naturalWidth > 0 && (i.src.startsWith(local) || i.src.startsWith('data:'))
                    && i.getBoundingClientRect().width > 0);
                const paths = [...document.querySelectorAll('.leaflet-pane path')]
                    .filter(p => p.getBoundingClientRect().width > 0);
                return imgs.length + paths.length;""", base)
            assert offline_base > 0, f"{name}: nothing of the offline base is drawn after the fallback"
            errors = [e for e in console_errors(driver)
                      if "ERR_BLOCKED_BY_CLIENT" not in e and "ERR_NAME_NOT_RESOLVED" not in e]
            assert errors == [], f"{name}: console errors besides the blocked tiles: {errors}"
            leaving = [u for u in external_requests(requested_urls(driver), base) if "openstreetmap" not in u]
            assert leaving == [], f"{name}: an online page loads more than street tiles from afar: {leaving}"
        assert checked >= 1, "no page of the online site loads the OpenStreetMap street map"


# ------------------------------------------------------------------------------ page weight at 1M cells

#: A synthetic city of 1000 × 1000 cells of 1 m (a million cells).
BIG_N = 1000


def _synthetic_city(root: Path, n: int) -> Path:
    """A run folder of an ``n`` × ``n`` 1 m grid: a tilted DEM with a valley, 400 buildings, 20 mm of rain
    in 2 minutes (a real ``floodsim run``, kept short)."""
    import geopandas as gpd
    import rasterio
    from rasterio.transform import from_origin
    from shapely.geometry import box

    from floodsim.run.runner import run_scenario

    root.mkdir(parents=True, exist_ok=True)
    x0, y0, crs = 382000.0, 6356000.0, "EPSG:28356"
    y, x = np.mgrid[0:n, 0:n].astype(float)
    z = 20.0 - 0.01 * x - 0.005 * y - 0.8 * np.exp(-((x - n / 2) ** 2) / (2 * (n / 10) ** 2))
    z += 0.05 * np.sin(x / 7.0) * np.cos(y / 11.0)
    with rasterio.open(root / "dem.tif", "w", driver="GTiff", width=n, height=n, count=1, dtype="float32",
                       crs=crs, transform=from_origin(x0, y0, 1.0, 1.0)) as dst:
        dst.write(z.astype("float32"), 1)
    boxes = [box(x0 + n * (i + 0.5) / 20 - 6, y0 - n * (j + 0.5) / 20 - 5,
                 x0 + n * (i + 0.5) / 20 + 6, y0 - n * (j + 0.5) / 20 + 5) for i in range(20) for j in range(20)]
    gpd.GeoDataFrame({"building_id": [f"b{k:03d}" for k in range(len(boxes))]}, geometry=boxes,
                     crs=crs).to_file(root / "city.gpkg", layer="buildings")
    (root / "city.toml").write_text(f"""
name = "Synthetic city {n} x {n}"
[domain]
dem = "dem.tif"
[buildings]
path = "city.gpkg"
layer = "buildings"
id_field = "building_id"
[rainfall]
kind = "block"
depth_mm = 20.0
duration_min = 2.0
[[boundaries]]
side = "east"
kind = "free"
slope = 0.01
[simulation]
duration_min = 2.0
output_interval_min = 1.0
[output]
flood_threshold_m = 0.01
""")
    run_scenario(root / "city.toml", out_dir=root / "run")
    return root / "run"


def _weights(site: Path) -> dict[str, dict]:
    """First-visit weight and load time of each top-level page of ``site``."""
    out = {}
    with serve_folder(site) as base, chromium() as driver:
        disable_cache(driver)
        for page in sorted(site.glob("*.html")):
            _open(driver, base + page.name)
            time.sleep(1.0)   # tiles of the first view
            w = page_weight(driver)
            w["load_ms"] = driver.execute_script(
                "const n = performance.getEntriesByType('navigation')[0]; return n ? n.loadEventEnd : null")
            w["html_bytes"] = page.stat().st_size
            out[page.name] = w
    return out


def test_page_weight_does_not_grow_with_the_area(offline_site, tmp_path):
    """A million-cell run: every page's HTML stays under 1 MB and a first visit transfers at most a
    little more than the small site's (the rasters are tiles: the first view loads a screenful)."""
    big_run = _synthetic_city(tmp_path / "city", BIG_N)
    site = tmp_path / "big_site"
    toml = tmp_path / "big_site.toml"
    toml.write_text(f"out = {_toml_str(str(site))}\n[[runs]]\npath = {_toml_str(str(big_run))}\n"
                    "[base]\nonline = false\n", encoding="utf-8")
    _publish([toml])
    big = _weights(site)
    small = _weights(offline_site)
    summary = {k: (v["html_bytes"], v["total"], v["count"], v["load_ms"]) for k, v in big.items()}
    print(f"\npage weight at {BIG_N * BIG_N} cells (html bytes, first-visit bytes, requests, load ms): {summary}")
    print("small site:", {k: (v["html_bytes"], v["total"], v["count"], v["load_ms"]) for k, v in small.items()})
    for name, w in big.items():
        assert w["html_bytes"] < MAX_HTML_BYTES, f"{name}: {w['html_bytes']} bytes of HTML at {BIG_N}² cells"
        assert w["document"] < MAX_HTML_BYTES, f"{name}: {w['document']} bytes transferred for the HTML"
    small_max = max(w["total"] for w in small.values())
    for name, w in big.items():
        # a screenful of tiles and the same scripts: within 1 MB of the small site's heaviest page
        # (measured: 0.92 and 1.19 MB against 0.88 MB; one embedded 1M-cell raster would add megabytes)
        assert w["total"] < small_max + 1_000_000, (
            f"{name}: a first visit transfers {w['total']} bytes at {BIG_N}² cells against {small_max} for "
            f"the small site; largest: {w['largest']}")
        # issue 12: a published run opens in under 3 s from a local server (measured 0.3–0.8 s here)
        assert w["load_ms"] is not None and w["load_ms"] < MAX_LOAD_MS, f"{name}: load took {w['load_ms']} ms"
