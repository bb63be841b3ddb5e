"""Make the README's map screenshots with the same headless Chromium code as the browser tests.

    python -m floodsim run scenarios/merewether_cloudburst.toml --out outputs/base
    python -m floodsim run scenarios/merewether_pond.toml --out outputs/pond
    floodsim map-assets
    python docs/img/make_screenshots.py outputs/base outputs/pond

writes ``docs/img/planner_map.png`` (planner map of the baseline, offline page, slider at 30 min) and
``docs/img/resident_map.png`` (resident map of the baseline and the pond scenario, a building's popup open).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from floodsim.maps.browser import click_building, screenshot_page
from floodsim.maps.planner import planner_map
from floodsim.maps.publish import write_map
from floodsim.maps.resident import resident_map
from floodsim.maps.rundata import load_run

HERE = Path(__file__).resolve().parent


def _slider_to_peak(driver, steps: int = 5) -> None:
    """Move the depth time slider forward ``steps`` output times (to the end of the storm)."""
    import time

    from selenium.webdriver.common.by import By

    for _ in range(steps):
        driver.find_element(By.CSS_SELECTOR, ".timecontrol-forward").click()
        time.sleep(0.5)


def main(base_dir: str, measure_dir: str, building: str = "house021") -> None:
    base, measure = load_run(base_dir), load_run(measure_dir)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_map(planner_map([base], offline=True), tmp / "planner.html", offline=True)
        write_map(resident_map([base, measure], offline=True), tmp / "resident.html", offline=True)
        for name, before in (("planner", _slider_to_peak), ("resident", lambda d: click_building(d, building))):
            seen = screenshot_page(
                tmp / f"{name}.html", HERE / f"{name}_map.png", width=1280, height=800, before=before
            )
            print(
                f"{name}_map.png: console errors {seen['console_errors']}, "
                f"external requests {seen['external_requests']}"
            )


if __name__ == "__main__":
    main(*sys.argv[1:])
