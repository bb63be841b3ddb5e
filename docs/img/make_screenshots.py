"""Make the README's screenshots from a published site, with the headless Chromium of the browser tests.

    python -m floodsim run scenarios/merewether_cloudburst.toml --out outputs/merewether_cloudburst
    python -m floodsim run scenarios/merewether_pond.toml --out outputs/merewether_pond
    python -m floodsim compare outputs/merewether_cloudburst outputs/merewether_pond --out outputs/compare_pond
    python -m floodsim map-assets
    python docs/img/make_screenshots.py outputs/merewether_cloudburst outputs/merewether_pond outputs/compare_pond

It writes a site file into a temporary folder (the two scenarios, the comparison if given, an offline base
map of the terrain with the Merewether roads and buildings), runs ``floodsim publish`` on it, serves the
site from a local HTTP server (Chromium reaches nothing else) and writes into ``docs/img/``:

=====================  ===========================================================================
``resident_map.png``   resident page, 1280 × 800: an address search has opened a building's card
``resident_phone.png`` resident page on a 390 × 844 phone (device pixel ratio 2): legends collapsed
``planner_map.png``    planner page, 1280 × 800: the two scenarios in one map with the swipe control
``report_page.png``    a one-page report for one address, 900 × 1200
=====================  ===========================================================================

Each shot prints the console errors and the requests that left the machine (both should be empty).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))   # tests/support/browser.py

from tests.support.browser import (  # noqa: E402
    chromium,
    console_errors,
    external_requests,
    phone_viewport,
    requested_urls,
    serve_folder,
)

GIS = ROOT / "gis_data" / "merewether" / "merewether.gpkg"
DESKTOP = (1280, 800)


def site_file(folder: Path, run_a: str, run_b: str, compare: str | None) -> Path:
    """The site file of the screenshots (paths absolute; strings as JSON, which TOML reads)."""
    q = json.dumps
    lines = [
        f"out = {q(str(folder / 'site'))}",
    ]
    if compare:
        lines.append(f"compare = {q(str(Path(compare).resolve()))}")
    lines += [
        "[publish]",
        'title = "Merewether flood risk"',
        'language = "en"',
        'contact = "Floods team, flood@example.org"',
        "[[runs]]",
        f"path = {q(str(Path(run_a).resolve()))}",
        'label = "Today"',
        "[[runs]]",
        f"path = {q(str(Path(run_b).resolve()))}",
        'label = "With the detention pond"',
        "[base]",
        "online = false",
        f"roads = {{ path = {q(str(GIS))}, layer = \"roads\", name_field = \"name\" }}",
        f"buildings = {{ path = {q(str(GIS))}, layer = \"buildings\" }}",
    ]
    path = folder / "site.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def publish(toml: Path) -> Path:
    from floodsim.cli import main

    code = main(["publish", str(toml)])
    if code != 0:
        raise SystemExit(f"floodsim publish {toml} exited {code}")
    return toml.parent / "site"


def wait_ready(driver, timeout: float = 30.0) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(lambda d: d.execute_script("return document.readyState") == "complete")
    if driver.execute_script("return document.querySelectorAll('.leaflet-container').length"):
        WebDriverWait(driver, timeout).until(lambda d: d.execute_script(
            "return document.querySelectorAll('.leaflet-tile-loaded, .leaflet-image-layer, "
            "path.leaflet-interactive').length > 0"))
    time.sleep(1.5)


def save(driver, base: str, name: str) -> None:
    from floodsim.io.atomic import atomic_path

    with atomic_path(HERE / name) as tmp:
        tmp.write_bytes(driver.get_screenshot_as_png())
        os.chmod(tmp, 0o644)
    print(f"{name}: console errors {console_errors(driver)}, "
          f"external requests {external_requests(requested_urls(driver), base)}")


def search_and_open(driver, text: str) -> bool:
    """Type ``text`` into the page's search box and pick the first match; True when a card opened."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    boxes = [b for b in driver.find_elements(By.CSS_SELECTOR, ".leaflet-control input[type=search], "
                                                             ".leaflet-control input[type=text]")
             if b.is_displayed()]
    if not boxes:
        return False
    boxes[0].send_keys(text)
    time.sleep(0.8)
    boxes[0].send_keys(Keys.ENTER)
    try:
        WebDriverWait(driver, 5).until(lambda d: d.execute_script(
            "const c = document.querySelector('.leaflet-popup-content'); return !!c && c.innerText.trim() !== ''"))
    except TimeoutException:
        return False
    time.sleep(1.0)
    return True


def main(run_a: str, run_b: str, compare: str | None = None, address: str = "house021") -> None:
    with tempfile.TemporaryDirectory() as tmp:
        site = publish(site_file(Path(tmp), run_a, run_b, compare))
        reports = sorted((site / "report").glob("*.html")) if (site / "report").is_dir() else []
        with serve_folder(site) as base:
            with chromium(*DESKTOP) as driver:
                driver.get(base + "index.html")
                wait_ready(driver)
                if not search_and_open(driver, address):
                    print(f"resident_map.png: the search for {address!r} opened no card")
                save(driver, base, "resident_map.png")

                driver.get(base + "planner.html")
                wait_ready(driver)
                save(driver, base, "planner_map.png")

            if reports:
                pick = next((r for r in reports if r.name.startswith(address)), reports[0])
                with chromium(900, 1200) as driver:
                    driver.get(base + f"report/{pick.name}")
                    wait_ready(driver)
                    save(driver, base, "report_page.png")

            with chromium(*DESKTOP) as driver:
                phone_viewport(driver, scale=2.0)
                driver.get(base + "index.html")
                wait_ready(driver)
                save(driver, base, "resident_phone.png")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
