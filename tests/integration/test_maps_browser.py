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
    phone_viewport,
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

    from selenium.webdriver.common.action_chains import ActionChains

    control = driver.find_element(By.CSS_SELECTOR, ".leaflet-control-layers")
    if "leaflet-control-layers-expanded" not in control.get_attribute("class"):
        ActionChains(driver).move_to_element(control).perform()  # a folded layer control opens on hover
    for label in driver.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers label"):
        if label.get_attribute("textContent").strip() == label_text:
            box = label.find_element(By.TAG_NAME, "input")
            driver.execute_script("arguments[0].scrollIntoView({block: 'nearest'});", box)  # a long list scrolls
            return box
    raise AssertionError(f"no layer named {label_text!r} in the layer control")


def _toggle(driver, label_text):
    """Tick or untick a layer in the layer control (a click event on its checkbox: the folded control
    opens on hover, and Selenium's pointer leaving it folds it again between actions)."""
    driver.execute_script("arguments[0].click();", _checkbox(driver, label_text))


def _legend_shown(driver, legend_id):
    return driver.execute_script(
        "var e = document.getElementById(arguments[0]); return !!e && e.style.display !== 'none';", legend_id
    )


def _move_slider(driver, key):
    """Move the time slider with the keyboard; return (time shown, frame index shown)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    box = driver.find_element(By.ID, "floodsim-timeslider-time")
    before = driver.find_element(By.CSS_SELECTOR, "#floodsim-timeslider output").text
    box.send_keys(key)
    WebDriverWait(driver, 10).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#floodsim-timeslider output").text != before
    )
    shown = WebDriverWait(driver, 10).until(
        lambda d: d.execute_script(
            "var e = document.querySelector('.leaflet-floodsimFrames-pane .floodsim-frame-shown');"
            "return e && e.style.opacity > 0 ? e.getAttribute('data-frame') : null;"
        )
    )
    return driver.find_element(By.CSS_SELECTOR, "#floodsim-timeslider output").text, shown


def test_planner_page_offline_layers_time_slider_screenshot(runs, cache, tmp_path):
    from PIL import Image
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

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
        assert before == 2  # hillshade + max depth (the rest start hidden; no frame before the slider moves)
        assert _legend_shown(d, "floodsim-legend-depth") and not _legend_shown(d, "floodsim-legend-hazard")
        assert not d.find_elements(By.CSS_SELECTOR, ".floodsim-swipe")  # one run: no swipe
        _toggle(d, "Maximum depth")
        assert n_images() == before - 1 and not _legend_shown(d, "floodsim-legend-depth")
        _toggle(d, "Hazard class (max)")
        assert _legend_shown(d, "floodsim-legend-hazard")
        _toggle(d, "Time until water reaches 10 cm")
        assert _legend_shown(d, "floodsim-legend-arrival") and n_images() == before + 1

        def n_paths():
            return len(d.find_elements(By.CSS_SELECTOR, "path.leaflet-interactive"))

        paths = n_paths()
        assert _legend_shown(d, "floodsim-legend-buildings")
        _toggle(d, "Buildings by hazard class")
        assert n_paths() < paths and not _legend_shown(d, "floodsim-legend-buildings")
        # the legend header folds its body, and says so
        toggle = d.find_element(By.CSS_SELECTOR, "#floodsim-legend-hazard .floodsim-legend-toggle")
        assert toggle.get_attribute("aria-expanded") == "true"
        toggle.click()
        body = d.find_element(By.CSS_SELECTOR, "#floodsim-legend-hazard .floodsim-legend-body")
        from selenium.webdriver.support.ui import WebDriverWait

        # the fold is asserted as before, once the page has handled the click (a loaded 2-core machine
        # once read the body before it was hidden)
        WebDriverWait(d, 5).until(lambda _: not body.is_displayed())
        assert body.is_displayed() is False
        assert toggle.get_attribute("aria-expanded") == "false"
        # the time slider: a labelled range input; moving it shows the next frame (and its legend)
        label = d.find_element(By.CSS_SELECTOR, "label[for='floodsim-timeslider-time']").text
        assert label == "Time since the start"
        t1, f1 = _move_slider(d, Keys.ARROW_RIGHT)
        t2, f2 = _move_slider(d, Keys.ARROW_RIGHT)
        assert (t1, f1) == ("00:05:00", "1") and (t2, f2) == ("00:10:00", "2")
        assert _checkbox(d, "Depth at the slider time").is_selected() and _legend_shown(d, "floodsim-legend-depth")
        # the neighbours are loaded, transparent
        frames = d.execute_script(
            "return Array.from(document.querySelectorAll('.leaflet-floodsimFrames-pane img'))"
            ".map(function (e) { return [e.getAttribute('data-frame'), Number(e.style.opacity)]; });"
        )
        assert sorted(frames) == [["1", 0.0], ["2", 0.85], ["3", 0.0]]
        d.find_element(By.CSS_SELECTOR, "#floodsim-timeslider .floodsim-play").click()
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(d, 15).until(
            lambda dd: dd.find_element(By.CSS_SELECTOR, "#floodsim-timeslider output").text == "00:20:00"
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
        box = d.find_element(By.ID, "floodsim-search-input")
        box.send_keys(target)
        tip = WebDriverWait(d, 10).until(
            lambda dd: next((t for t in dd.find_elements(By.CSS_SELECTOR, ".floodsim-search-text")
                             if t.text == target), False)
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
        assert text is not None
        # the card is tall (long hostile names): read it once the popup has panned into view
        text = wait_popup_text(d, contains=f"{HOSTILE[0]} — {ADDRESSES[0]}")
        assert HOSTILE[-2] in text
        title = d.find_element(By.CSS_SELECTOR, ".leaflet-bottom.leaflet-left .floodsim-control").text
        assert HOSTILE[1] in title and HOSTILE[-2] in title  # {% … %} and {{ cycler… }} as typed
        assert console_errors(d) == []  # and no alert(1) (an open alert fails every later command)


def _clip_x(driver, pane):
    """The x [px, layer coordinates] where a swipe pane is clipped: its right edge (A) or left edge (B)."""
    clip = driver.execute_script("return document.querySelector('.leaflet-' + arguments[0] + '-pane').style.clip;",
                                 pane)
    top, right, bottom, left = (float(v) for v in clip[5:-1].replace("px", "").split(","))
    return right if pane.endswith("A") else left


def _check_swipe(d):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    swipe = d.find_element(By.CSS_SELECTOR, ".floodsim-swipe input[type=range]")
    assert swipe.get_attribute("aria-label").startswith("Swipe:")
    x0 = _clip_x(d, "floodsimSwipeA")
    assert x0 == _clip_x(d, "floodsimSwipeB")
    rect = swipe.rect
    # drag the divider's handle 300 px to the left, as a person would
    ActionChains(d).move_to_element_with_offset(swipe, 0, 0).click_and_hold().move_by_offset(-150, 0) \
        .move_by_offset(-150, 0).release().perform()
    x1 = _clip_x(d, "floodsimSwipeA")
    assert abs((x0 - x1) - 300) < 20 and x1 == _clip_x(d, "floodsimSwipeB"), (x0, x1, rect)
    assert float(swipe.get_attribute("value")) < 0.35
    swipe.send_keys(Keys.ARROW_RIGHT)  # the keyboard moves it too: 1 % of the map a key
    x2 = _clip_x(d, "floodsimSwipeA")
    assert 0.005 < (x2 - x1) / d.execute_script("return window.innerWidth") < 0.015
    assert console_errors(d) == []


def test_planner_comparison_swipe_legends_changed_list_slider(runs, cache, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    a, b = load_run(runs["base"]), load_run(runs["pond"])
    write_map(planner_map([a, b], offline=True), tmp_path / "compare.html", offline=True, assets_root=cache)
    with serve_folder(tmp_path) as base, chromium() as d:
        _open(d, base, "compare.html")
        _assert_clean(d, base)
        assert d.execute_script("return Object.keys(window).filter(k => window[k] instanceof L.Map).length") == 1
        _check_swipe(d)
        # legends follow their layers
        assert _legend_shown(d, "floodsim-legend-depth") and not _legend_shown(d, "floodsim-legend-diff")
        _toggle(d, f"Depth change {b.name} − {a.name}")
        assert _legend_shown(d, "floodsim-legend-diff")
        _toggle(d, f"Maximum depth · {a.name}")
        assert d.find_element(By.CSS_SELECTOR, ".floodsim-swipe").get_attribute("data-active") == "0"
        assert not d.find_element(By.CSS_SELECTOR, ".floodsim-swipe").is_displayed()
        assert _legend_shown(d, "floodsim-legend-depth")  # B's depth is still on
        _toggle(d, f"Maximum depth · {b.name}")
        assert not _legend_shown(d, "floodsim-legend-depth")
        _toggle(d, f"Maximum depth · {a.name}")
        _toggle(d, f"Maximum depth · {b.name}")
        assert d.find_element(By.CSS_SELECTOR, ".floodsim-swipe").get_attribute("data-active") == "1"
        # the changed-buildings list: an entry zooms to its building and opens its popup
        ActionChains(d).move_to_element(d.find_element(By.ID, "floodsim-timeslider")).perform()  # folds it
        entries = d.find_elements(By.CSS_SELECTOR, "#floodsim-changed .floodsim-changed-list button")
        assert len(entries) >= 2
        target = entries[1].text.split(":")[0]
        z0 = d.execute_script("return Object.values(window).find(v => v instanceof L.Map).getZoom()")
        entries[1].click()
        text = wait_popup_text(d, contains=target)
        assert f"Building {target}" in text and a.name in text and b.name in text
        assert d.execute_script("return Object.values(window).find(v => v instanceof L.Map).getZoom()") > z0
        # the time slider of scenario B, then A
        _move_slider(d, Keys.ARROW_RIGHT)
        Select = __import__("selenium.webdriver.support.select", fromlist=["Select"]).Select
        Select(d.find_element(By.ID, "floodsim-timeslider-run")).select_by_index(1)
        t, f = _move_slider(d, Keys.ARROW_RIGHT)
        assert (t, f) == ("00:10:00", "2")
        # on a phone, no legend covers the time slider
        phone_viewport(d)
        time.sleep(0.5)
        covering = d.execute_script(
            "var s = document.getElementById('floodsim-timeslider').getBoundingClientRect();"
            "return Array.from(document.querySelectorAll('.leaflet-bottom.leaflet-right .leaflet-control'))"
            ".filter(function (e) { return e.style.display !== 'none' && e.offsetHeight > 0; })"
            ".map(function (e) { return e.getBoundingClientRect(); })"
            ".filter(function (r) { return r.left < s.right && r.right > s.left && r.top < s.bottom && "
            "r.bottom > s.top; }).length;"
        )
        assert covering == 0
        assert console_errors(d) == []


def test_planner_published_tiles_swipe_and_time_frames(runs, cache, tmp_path):
    """The swipe and the time slider with tile pyramids (a published site), not embedded images."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    from floodsim.maps.planner import comparison_of, planner_page
    from floodsim.maps.sitedata import Site
    from floodsim.maps.tiles import tile_source
    from floodsim.scenario.site import PublishTexts

    a, b = load_run(runs["base"]), load_run(runs["pond"])
    labels = ["Today", "With the pond"]
    site = Site([a, b], labels, PublishTexts(), tile_source, comparison=comparison_of([a, b], labels),
                offline=True, embed=False, folder=tmp_path)
    write_map(planner_page(site), tmp_path / "planner.html", offline=True, assets_root=cache)
    for rel, data in site.files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    page = (tmp_path / "planner.html").read_text()
    assert "data:image/png" not in page  # rasters and hydrographs are files of the site
    with serve_folder(tmp_path) as base, chromium() as d:
        _open(d, base, "planner.html")
        _assert_clean(d, base)
        tiles = d.execute_script("return document.querySelectorAll('.leaflet-floodsimSwipeA-pane img.leaflet-tile,"
                                 " .leaflet-floodsimSwipeB-pane img.leaflet-tile').length")
        assert tiles > 0
        _check_swipe(d)
        box = d.find_element(By.ID, "floodsim-timeslider-time")
        box.send_keys(Keys.END)
        WebDriverWait(d, 10).until(
            lambda dd: dd.find_element(By.CSS_SELECTOR, "#floodsim-timeslider output").text == "00:20:00")
        WebDriverWait(d, 10).until(lambda dd: dd.execute_script(
            "var c = document.querySelector('.leaflet-floodsimFrames-pane .floodsim-frame-shown');"
            "return c && c.querySelectorAll('img.leaflet-tile-loaded').length > 0;"))
        assert console_errors(d) == []
