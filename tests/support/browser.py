"""Open map pages in a real headless Chromium (selenium): screenshots, console errors, network requests.

Used by the browser tests and to take the README screenshots. It needs the ``selenium`` package (test
extra) and Debian's ``chromium`` + ``chromium-driver`` (``/usr/bin/chromium``, ``/usr/bin/chromedriver``);
:func:`browser_missing` says what is missing.

Pages are served from a local :mod:`http.server` on 127.0.0.1. Chromium is started with a host resolver
rule that makes every other host name unresolvable, so a page that tries to reach the internet cannot,
and the attempt shows in the performance log (:func:`external_requests`).
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


@contextlib.contextmanager
def serve_folder(folder: str | os.PathLike):
    """Serve ``folder`` over HTTP on 127.0.0.1 (a free port); yield the base URL ``http://127.0.0.1:PORT/``."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
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
