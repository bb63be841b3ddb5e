"""Open map pages in a real headless Chromium (selenium): screenshots, console errors, network requests.

Used by the browser tests and to take the README screenshots. It needs the ``selenium`` package (test
extra) and Debian's ``chromium`` + ``chromium-driver`` (``/usr/bin/chromium``, ``/usr/bin/chromedriver``);
:func:`browser_missing` says what is missing.

Pages are served from a local :mod:`http.server` on 127.0.0.1. Chromium is started with a host resolver
rule that makes every other host name unresolvable, so a page that tries to reach the internet cannot,
and the attempt shows in the performance log (:func:`external_requests`).

Cross-cutting checks of the published pages (tests/integration/test_publish_browser.py):

* :func:`run_axe` injects axe-core (``floodsim map-assets`` fetches it from npm into the asset cache) and
  returns its serious and critical violations;
* :func:`phone_viewport` emulates a 390 × 844 CSS px phone (device metrics, touch, mobile);
* :func:`covered_fraction` is the fraction of the map's area that visible controls and popups cover;
* :func:`block_hosts` blocks URL patterns through the DevTools protocol (a blocked CDN or tile server);
* :func:`page_weight` sums the bytes a page transferred (Resource Timing: HTML, scripts, styles, tiles).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import shutil
import threading
from pathlib import Path

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
DRIVER_CANDIDATES = ("/usr/bin/chromedriver",)


def _first(paths, env: str, name: str) -> str | None:
    """``$env`` if it names an existing file, else the first existing path, else ``name`` on PATH."""
    if os.environ.get(env):
        return os.environ[env] if Path(os.environ[env]).is_file() else None
    for p in paths:
        if Path(p).exists():
            return p
    return shutil.which(name)


def chromium_path() -> str | None:
    return _first(CHROMIUM_CANDIDATES, "FLOODSIM_CHROMIUM", "chromium")


def driver_path() -> str | None:
    return _first(DRIVER_CANDIDATES, "FLOODSIM_CHROMEDRIVER", "chromedriver")


def browser_missing() -> str | None:
    """Why no browser test can run here (``None`` when selenium, chromium and chromedriver are present)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install '.[test]')"
    if chromium_path() is None:
        return "no Chromium found (apt-get install chromium chromium-driver)"
    if driver_path() is None:
        return "no chromedriver found (apt-get install chromium-driver)"
    return None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        import sys

        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return   # the browser moved on (tiles of a page it left): not an error of the page
        super().handle_error(request, client_address)


@contextlib.contextmanager
def serve_folder(folder: str | os.PathLike):
    """Serve ``folder`` over HTTP on 127.0.0.1 (a free port); yield the base URL ``http://127.0.0.1:PORT/``."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextlib.contextmanager
def chromium(width: int = 1280, height: int = 860):
    """A headless Chromium (selenium WebDriver) that can reach only 127.0.0.1, with browser and
    performance logs enabled. Quits the browser on exit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium_path()
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--disable-default-apps",
        "--metrics-recording-only",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path()), options=opts)
    try:
        driver.set_page_load_timeout(60)
        driver.set_script_timeout(60)
        # Resource Timing keeps 250 entries by default: a tiled page loads more (page_weight reads them all)
        driver.execute_cdp_cmd(
            "Page.addScriptToEvaluateOnNewDocument",
            {"source": "try { performance.setResourceTimingBufferSize(100000); } catch (e) {}"},
        )
        yield driver
    finally:
        driver.quit()


def console_errors(driver) -> list[str]:
    """SEVERE browser-console entries since the last call (JS errors, failed loads)."""
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def requested_urls(driver) -> list[str]:
    """Every URL the page requested since the last call (from Chromium's performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    return urls


def external_requests(urls, base_url: str) -> list[str]:
    """The URLs that would leave the machine (not the local server, not ``data:``/``blob:``/``about:``)."""
    local = (
        "data:",
        "blob:",
        "about:",
        "chrome:",
        "chrome-extension:",
        base_url,
        base_url.replace("127.0.0.1", "localhost"),
    )
    return [u for u in urls if not u.startswith(local)]


def wait_for_map(driver, timeout: float = 30.0) -> None:
    """Wait until Leaflet has drawn the map (its panes and at least one image overlay or path exist)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(
        lambda d: d.execute_script(
            "return document.readyState === 'complete' && typeof L !== 'undefined' && "
            "document.querySelectorAll('.leaflet-image-layer, path.leaflet-interactive').length > 0"
        )
    )


_FIND_BUILDING_JS = """
const needle = arguments[0];
for (const k of Object.keys(window)) {
  const o = window[k];
  if (!(o instanceof L.GeoJSON) || !o._map) continue;
  for (const lyr of o.getLayers()) {
    const p = lyr.feature && lyr.feature.properties;
    if (p && p.label !== undefined && p.popup !== undefined &&
        (needle === null || p.label.includes(needle))) {
      const map = o._map;
      map.setView(lyr.getBounds().getCenter(), Math.max(map.getZoom(), 18), {animate: false});
      return {layer: k, label: p.label};
    }
  }
}
return null;
"""

_BUILDING_POINT_JS = """
const o = window[arguments[0]];
const lyr = o.getLayers().find(l => l.feature.properties.label === arguments[1]);
const map = o._map;
// a point inside the polygon: the centre of its bounds if inside, else a vertex-ward step from it
const ring = lyr.getLatLngs().flat(3);
let ll = lyr.getBounds().getCenter();
const inside = (pt) => { let c = false; for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
  const a = ring[i], b = ring[j];
  if (((a.lat > pt.lat) !== (b.lat > pt.lat)) &&
      (pt.lng < (b.lng - a.lng) * (pt.lat - a.lat) / (b.lat - a.lat) + a.lng)) c = !c; } return c; };
for (let t = 0.0; !inside(ll) && t < 1.0; t += 0.1) {
  ll = L.latLng(ll.lat + (ring[0].lat - ll.lat) * t, ll.lng + (ring[0].lng - ll.lng) * t); }
const p = map.latLngToContainerPoint(ll);
const r = map.getContainer().getBoundingClientRect();
return [p.x - r.width / 2, p.y - r.height / 2, map.getContainer().id];
"""


def click_building(driver, needle: str | None = None) -> str | None:
    """Centre the map on the first building whose (escaped) label contains ``needle`` and click it with
    the mouse, as a person would. Returns the popup's visible text (None if no building matched)."""
    import time

    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    # close any popup already open (e.g. from a search), so the one read below is this click's
    driver.execute_script(
        "document.querySelectorAll('.leaflet-popup-close-button').forEach(function (b) { b.click(); });"
    )
    WebDriverWait(driver, 10).until(lambda d: not d.find_elements(By.CSS_SELECTOR, ".leaflet-popup-content"))
    found = driver.execute_script(_FIND_BUILDING_JS, needle)
    if found is None:
        return None
    time.sleep(0.5)
    dx, dy, map_id = driver.execute_script(_BUILDING_POINT_JS, found["layer"], found["label"])
    ActionChains(driver).move_to_element_with_offset(
        driver.find_element(By.ID, map_id), int(dx), int(dy)
    ).click().perform()

    return wait_popup_text(driver)


def wait_popup_text(driver, contains: str = "", timeout: float = 10.0) -> str:
    """Wait until an open Leaflet popup shows visible text (containing ``contains``) and return it.

    Leaflet adds the popup element before its open animation has made it visible, and Selenium's
    ``.text`` is empty for invisible elements, so waiting for the element alone races the animation."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def popup_text(d):
        texts = [e.text for e in d.find_elements(By.CSS_SELECTOR, ".leaflet-popup-content")]
        return next((t for t in texts if t.strip() and contains in t), False)

    return WebDriverWait(driver, timeout).until(popup_text)


def screenshot_page(
    html_path: str | os.PathLike,
    png_path: str | os.PathLike,
    width: int = 1280,
    height: int = 860,
    settle_s: float = 1.0,
    before=None,
) -> dict:
    """Serve the page's folder locally, open it in headless Chromium and save a PNG screenshot.

    ``before(driver)`` may act on the page (open a popup, …) before the shot. Returns the console errors
    and the external requests seen (both should be empty for an offline page).
    """
    import time

    from ..io.atomic import atomic_path

    html_path = Path(html_path)
    with serve_folder(html_path.parent) as base, chromium(width, height) as driver:
        driver.get(base + html_path.name)
        wait_for_map(driver)
        time.sleep(settle_s)
        if before is not None:
            before(driver)
            time.sleep(settle_s)
        png = driver.get_screenshot_as_png()
        with atomic_path(png_path) as tmp:
            tmp.write_bytes(png)
            os.chmod(tmp, 0o644)
        return {
            "console_errors": console_errors(driver),
            "external_requests": external_requests(requested_urls(driver), base),
        }


# ------------------------------------------------------------------------ cross-cutting checks (issue 12)

#: The phone of the checks: CSS pixels of an iPhone 12–15 class screen.
PHONE_SIZE = (390, 844)


def phone_viewport(driver, width: int = PHONE_SIZE[0], height: int = PHONE_SIZE[1],
                   scale: float = 1.0) -> None:
    """Emulate a phone: a ``width`` × ``height`` CSS px mobile viewport with touch (device metrics
    emulation over the DevTools protocol; Selenium's clicks stay mouse clicks). Call it **before** ``driver.get``: Leaflet detects touch when
    it loads. ``scale`` is the device pixel ratio (screenshots are ``scale`` times the CSS size)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": scale, "mobile": True,
        "screenWidth": width, "screenHeight": height,
    })
    driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})
    # (not Emulation.setEmitTouchEventsForMouse: chromedriver's clicks then never return)


def desktop_viewport(driver) -> None:
    """Undo :func:`phone_viewport` (back to the window size, mouse input)."""
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": False})


_COVERED_JS = """
const step = arguments[0], extra = arguments[1];
function visible(el) {
  const r = el.getBoundingClientRect();
  if (r.width < 1 || r.height < 1) return null;
  for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
    const cs = getComputedStyle(e);
    if (cs.display === 'none' || cs.visibility === 'hidden' || parseFloat(cs.opacity) === 0) return null;
  }
  return r;
}
const out = [];
for (const map of document.querySelectorAll('.leaflet-container')) {
  const m = visible(map);
  if (!m) continue;
  // everything that lies over the map: its controls and popups, and page elements named by `extra`
  const covers = [...map.querySelectorAll('.leaflet-control, .leaflet-popup')];
  if (extra) covers.push(...document.querySelectorAll(extra));
  const rects = [];
  for (const el of covers) {
    // a control inside another counted control adds nothing
    if (covers.some(o => o !== el && o.contains(el))) continue;
    const r = visible(el);
    if (r) rects.push(r);
  }
  const x0 = Math.max(m.left, 0), y0 = Math.max(m.top, 0);
  const x1 = Math.min(m.right, window.innerWidth), y1 = Math.min(m.bottom, window.innerHeight);
  let total = 0, hit = 0;
  for (let y = y0 + step / 2; y < y1; y += step) {
    for (let x = x0 + step / 2; x < x1; x += step) {
      total++;
      for (const r of rects) {
        if (x >= r.left && x < r.right && y >= r.top && y < r.bottom) { hit++; break; }
      }
    }
  }
  out.push({id: map.id, fraction: total ? hit / total : 0, rects: rects.length});
}
return out;
"""


def covered_fractions(driver, extra_selector: str | None = None, step_px: float = 2.0) -> list[dict]:
    """Per visible map (``.leaflet-container``): ``{"id", "fraction", "rects"}``, the fraction of its
    on-screen area [0–1] under the union of its visible controls (``.leaflet-control``) and popups, plus
    page elements matching ``extra_selector`` (panels laid over the map). Computed in the page from the
    elements' bounding rectangles, sampled every ``step_px`` CSS px."""
    return driver.execute_script(_COVERED_JS, step_px, extra_selector)


def covered_fraction(driver, extra_selector: str | None = None) -> float:
    """The largest :func:`covered_fractions` over the visible maps (0.0 when no map is visible)."""
    return max((m["fraction"] for m in covered_fractions(driver, extra_selector)), default=0.0)


def overflowing_popups(driver, tooltips: bool = False) -> list[dict]:
    """Open popups (with ``tooltips``, also hover tooltips; permanent labels never) that reach outside
    the viewport: ``{"left", "right", "width", "viewport"}`` in CSS px; empty when every one fits."""
    return driver.execute_script("""
        const w = window.innerWidth, out = [];
        const sel = arguments[0] ? '.leaflet-popup-content-wrapper, .leaflet-tooltip:not(.leaflet-tooltip-permanent)'
                                 : '.leaflet-popup-content-wrapper';
        for (const el of document.querySelectorAll(sel)) {
          const r = el.getBoundingClientRect();
          if (r.width < 1) continue;
          if (r.left < -0.5 || r.right > w + 0.5) out.push({left: r.left, right: r.right, width: r.width, viewport: w});
        }
        return out;""", tooltips)


def block_hosts(driver, patterns) -> None:
    """Block requests whose URL matches any of ``patterns`` (DevTools ``Network.setBlockedURLs``
    wildcards, e.g. ``"*tile.openstreetmap.org*"``): they fail as a blocked CDN or tile server would.
    Call before ``driver.get``; an empty list unblocks."""
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": list(patterns)})


def disable_cache(driver) -> None:
    """Make every load a first visit (DevTools ``Network.setCacheDisabled``), for :func:`page_weight`."""
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})


def page_weight(driver) -> dict:
    """What the current page transferred, from the Resource Timing API [bytes].

    ``{"total", "document", "resources", "by_type": {initiatorType: bytes}, "count", "largest":
    [(url, bytes)…]}``; each entry counts its ``transferSize`` (headers + encoded body; same-origin
    files report it), falling back to ``encodedBodySize``. A fresh browser has an empty cache, so this is
    the weight of a first visit (after :func:`disable_cache`, every visit is). ``data:`` URIs inside the HTML are part of the document's bytes."""
    return driver.execute_script("""
        const nav = performance.getEntriesByType('navigation')[0];
        const size = e => (e.transferSize || e.encodedBodySize || 0);
        const res = performance.getEntriesByType('resource');
        const by = {};
        let sum = 0;
        for (const e of res) { const s = size(e); sum += s; by[e.initiatorType] = (by[e.initiatorType] || 0) + s; }
        const doc = nav ? size(nav) : 0;
        const largest = res.map(e => [e.name, size(e)]).sort((a, b) => b[1] - a[1]).slice(0, 5);
        return {total: doc + sum, document: doc, resources: sum, by_type: by, count: res.length, largest: largest};""")


def run_axe(driver, impacts=("serious", "critical"), axe_path=None) -> list[dict]:
    """Run axe-core on the current page; return its violations of the given ``impacts``.

    axe-core (``axe.min.js`` of :data:`floodsim.maps.assets.TEST_RELEASES`, from the npm asset cache that
    ``floodsim map-assets`` fills) is injected with ``execute_script``; ``axe.run`` checks the whole
    document with its default rules (WCAG 2.0/2.1 A and AA and best practices). Each violation is
    ``{"id", "impact", "help", "nodes": [{"target", "html", "summary"}…]}`` (at most 5 nodes).

    Raises
    ------
    floodsim.errors.InputDataError
        axe-core is not in the asset cache (run ``floodsim map-assets``).
    """
    from floodsim.maps.assets import axe_script

    source = Path(axe_path or axe_script()).read_text(encoding="utf-8")
    driver.execute_script(source)
    result = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        window.axe.run(document, {resultTypes: ['violations']})
          .then(r => done({ok: true, violations: r.violations.map(v => ({
              id: v.id, impact: v.impact, help: v.help,
              nodes: v.nodes.slice(0, 5).map(n => ({target: n.target, html: n.html.slice(0, 300),
                                                    summary: n.failureSummary}))}))}))
          .catch(e => done({ok: false, error: String(e)}));""")
    if not result.get("ok"):
        raise RuntimeError(f"axe-core failed on the page: {result.get('error')}")
    return [v for v in result["violations"] if v["impact"] in impacts]


def format_violations(violations) -> str:
    """axe violations as readable lines (for assertion messages)."""
    lines = []
    for v in violations:
        lines.append(f"{v['impact']}: {v['id']} – {v['help']}")
        for n in v["nodes"]:
            lines.append(f"    {n['target']}: {n['html'][:160]}")
    return "\n".join(lines)


_OVERLAP_JS = """
const tol = arguments[0], out = [];
function visible(el) {
  const r = el.getBoundingClientRect();
  if (r.width < 1 || r.height < 1) return null;
  for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
    const cs = getComputedStyle(e);
    if (cs.display === 'none' || cs.visibility === 'hidden' || parseFloat(cs.opacity) === 0) return null;
  }
  return r;
}
const label = e => (e.getAttribute('aria-label') || e.innerText || e.className).trim().split('\\n')[0].slice(0, 50);
for (const map of document.querySelectorAll('.leaflet-container')) {
  const ctl = [...map.querySelectorAll('.leaflet-control')].filter(e => !e.parentElement.closest('.leaflet-control'))
    .map(e => [e, visible(e)]).filter(([e, r]) => r);
  for (let i = 0; i < ctl.length; i++) for (let j = i + 1; j < ctl.length; j++) {
    const a = ctl[i][1], b = ctl[j][1];
    const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
    const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
    if (w > tol && h > tol) out.push([label(ctl[i][0]), label(ctl[j][0]), Math.round(w), Math.round(h)]);
  }
}
return out;
"""


def overlapping_controls(driver, tolerance_px: float = 2.0) -> list[tuple]:
    """Pairs of visible map controls (``.leaflet-control``, outermost) whose boxes overlap by more than
    ``tolerance_px`` both ways: ``(label A, label B, overlap width, overlap height)`` in CSS px. One
    control hiding another hides its buttons and text."""
    return [tuple(x) for x in driver.execute_script(_OVERLAP_JS, tolerance_px)]
