"""The offline map pages in a real headless Chromium (Debian's chromium + chromium-driver, via selenium).

Each page is written with ``--offline`` assets and served from a local http.server; Chromium can resolve
no host but 127.0.0.1. Checked as a person would: the page loads with no console error and no request
leaving the machine, layers toggle, the time slider moves, the search finds a building, a click shows its
numbers, hostile text in the data shows as text and runs nothing, and a screenshot is written.
"""

from __future__ import annotations

import time

import pytest

from tests.support.browser import (
    browser_missing,
    chromium,
    click_building,
    console_errors,
    external_requests,
    requested_urls,
    serve_folder,
    wait_for_map,
    wait_popup_text,
)
from floodsim.maps.planner import planner_map
from floodsim.maps.publish import write_map
from floodsim.maps.resident import resident_map
from floodsim.maps.rundata import map_run as load_run
from floodsim.maps.safe import html_text

from .test_maps import EVIL_ID, asset_cache_or_skip, make_runs
from .test_maps_security import ADDRESSES, HOSTILE, hostile_run

_MISSING = browser_missing()
pytestmark = pytest.mark.skipif(_MISSING is not None, reason=f"no headless browser here: {_MISSING}")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return make_runs(tmp_path_factory)


@pytest.fixture(scope="module")
def cache():
    return asset_cache_or_skip()


def _open(driver, base, name):
    driver.get(base + name)
    wait_for_map(driver)
    time.sleep(0.5)


def _assert_clean(driver, base):
    urls = requested_urls(driver)
    assert any(u.endswith("/leaflet.js") for u in urls), "the performance log saw no asset request"
    assert external_requests(urls, base) == []
    assert console_errors(driver) == []


def _checkbox(driver, label_text):
    from selenium.webdriver.common.by import By

    for label in driver.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers label"):
        if label.text.strip() == label_text:
            return label.find_element(By.TAG_NAME, "input")
    raise AssertionError(f"no layer named {label_text!r} in the layer control")


def test_planner_page_offline_layers_time_slider_screenshot(runs, cache, tmp_path):
    from PIL import Image
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    write_map(
        planner_map([load_run(runs["pond"])], offline=True),
        tmp_path / "planner.html",
        offline=True,
        assets_root=cache,
    )
    with serve_folder(tmp_path) as base, chromium() as d:
        _open(d, base, "planner.html")
        _assert_clean(d, base)
        def n_images():
            return len(d.find_elements(By.CSS_SELECTOR, ".leaflet-image-layer"))

        before = n_images()
        assert before == 2  # hillshade + max depth (hazard starts hidden)
        _checkbox(d, "Maximum depth").click()
        assert n_images() == before - 1
        _checkbox(d, "Hazard class (max)").click()
        _checkbox(d, "Maximum depth").click()
        assert n_images() == before + 1
        def n_paths():
            return len(d.find_elements(By.CSS_SELECTOR, "path.leaflet-interactive"))

        paths = n_paths()
        _checkbox(d, "Buildings by hazard class").click()
        assert n_paths() < paths
        shown = d.find_element(By.CSS_SELECTOR, ".timecontrol-date").text
        d.find_element(By.CSS_SELECTOR, ".timecontrol-forward").click()
        WebDriverWait(d, 10).until(
            lambda dd: dd.find_element(By.CSS_SELECTOR, ".timecontrol-date").text != shown
        )
        assert console_errors(d) == []
        d.save_screenshot(str(tmp_path / "planner.png"))
    with Image.open(tmp_path / "planner.png") as im:
        assert (
            im.format == "PNG"
            and im.width >= 800
            and len(im.convert("L").getcolors(maxcolors=1 << 16) or ()) > 20
        )


def test_resident_page_search_click_and_escaping(runs, cache, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    evil, pond = load_run(runs["evil"]), load_run(runs["pond"])
    write_map(
        resident_map([evil, pond], offline=True), tmp_path / "resident.html", offline=True, assets_root=cache
    )
    target = next(
        str(i)
        for i in pond.buildings[pond.id_field]
        if str(i) in set(map(str, evil.buildings[evil.id_field]))
    )
    with serve_folder(tmp_path) as base, chromium() as d:
        _open(d, base, "resident.html")
        _assert_clean(d, base)
        box = d.find_element(By.CSS_SELECTOR, ".leaflet-control-search input.search-input")
        box.send_keys(target)
        tip = WebDriverWait(d, 10).until(
            lambda dd: next((t for t in dd.find_elements(By.CSS_SELECTOR, ".search-tip") if t.text == target), False)
        )
        tip.click()
        text = wait_popup_text(d, contains=target)
        assert target in text and evil.name in text and pond.name in text  # one row per scenario
        text = click_building(d, "&lt;script&gt;")  # the hostile building id
        assert text is not None and EVIL_ID in text  # shown as text …
        assert evil.name in text
        assert d.execute_script("return window.__xss === undefined")  # … and nothing ran
        assert console_errors(d) == []


def test_template_text_in_data_shows_literally(runs, cache, tmp_path, tmp_path_factory):
    """Jinja/JS/HTML in a building id, an address and the scenario name show as typed; nothing runs."""
    from selenium.webdriver.common.by import By

    hostile = load_run(hostile_run(tmp_path_factory))
    m = resident_map([hostile, load_run(runs["pond"])], offline=True)
    write_map(m, tmp_path / "hostile.html", offline=True, assets_root=cache)
    with serve_folder(tmp_path) as base, chromium() as d:
        _open(d, base, "hostile.html")
        _assert_clean(d, base)
        text = click_building(d, html_text(f"{HOSTILE[0]} — {ADDRESSES[0]}"))  # id {{7*7}}
        assert text is not None and f"{HOSTILE[0]} — {ADDRESSES[0]}" in text and HOSTILE[-2] in text
        title = d.find_element(By.CSS_SELECTOR, ".leaflet-bottom.leaflet-left .floodsim-control").text
        assert HOSTILE[1] in title and HOSTILE[-2] in title  # {% … %} and {{ cycler… }} as typed
        assert console_errors(d) == []  # and no alert(1) (an open alert fails every later command)


def test_before_after_maps_move_together(runs, cache, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    write_map(
        planner_map([load_run(runs["base"]), load_run(runs["pond"])], offline=True),
        tmp_path / "dual.html",
        offline=True,
        assets_root=cache,
    )
    with serve_folder(tmp_path) as base, chromium() as d:
        _open(d, base, "dual.html")
        _assert_clean(d, base)
        zooms = (
            "return Object.keys(window).filter(k => window[k] instanceof L.Map).map(k => window[k].getZoom())"
        )
        z0 = d.execute_script(zooms)
        assert len(z0) == 2 and z0[0] == z0[1]
        d.find_elements(By.CSS_SELECTOR, ".leaflet-control-zoom-in")[0].click()
        # wait for both maps to settle on the new zoom (the sync follows the first map's animation)
        WebDriverWait(d, 10).until(lambda dd: (lambda z: z[0] == z[1] > z0[0])(dd.execute_script(zooms)))
        z1 = d.execute_script(zooms)
        assert z1[0] == z1[1] > z0[0]
        assert console_errors(d) == []
