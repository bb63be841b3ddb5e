"""Web maps and figures without a browser: geometry of the overlays, layers present, escaping, offline pages,
PNG figures and the ``floodsim map`` command. Runs the bundled Merewether baseline and pond scenarios
(coarsened ×4, 20 simulated minutes)."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
from affine import Affine
from rasterio.warp import transform as transform_points

from floodsim.cli import main
from floodsim.errors import ExitCode
from floodsim.errors import InputDataError, OutputError
from floodsim.maps import assets
from floodsim.maps.figures import FIGURES, figure
from floodsim.maps.planner import planner_map
from floodsim.maps.publish import render_html, write_map
from floodsim.maps.rasters import hillshade, to_web_mercator
from floodsim.maps.resident import resident_map
from floodsim.maps.rundata import map_run as load_run
from floodsim.run.runner import run_scenario

from .conftest import SCENARIOS, coarsened

EVIL_ID = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'
EVIL_NAME = 'Baseline <img src=x onerror="window.__xss = 3"> & "storm"'


_RUNS: dict[int, dict] = {}


def make_runs(tmp_path_factory):
    """Baseline and pond run folders, plus a copy of the baseline whose building id and scenario name
    carry HTML/JS (as a hostile or careless data source could). Made once per test session (the browser
    tests use the same folders)."""
    key = id(tmp_path_factory)
    if key not in _RUNS:
        _RUNS[key] = _make_runs(tmp_path_factory)
    return _RUNS[key]


def _make_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("map_runs")
    base, pond = root / "base", root / "pond"
    run_scenario(
        coarsened(SCENARIOS / "merewether_cloudburst.toml", 4, duration_min=20.0, output_interval_min=5.0),
        out_dir=base,
    )
    run_scenario(
        coarsened(SCENARIOS / "merewether_pond.toml", 4, duration_min=20.0, output_interval_min=5.0),
        out_dir=pond,
        compare_to_baseline=False,
    )
    evil = root / "evil"
    shutil.copytree(base, evil)
    b = gpd.read_file(evil / "flood.gpkg", layer="buildings")
    id_col = load_run(base).id_field
    flooded = b.index[b["hazard_code"] > 0][0]
    b[id_col] = b[id_col].astype(object)
    b.loc[flooded, id_col] = EVIL_ID
    layers = {"buildings": b}
    for name, _ in pyogrio.list_layers(evil / "flood.gpkg"):
        if name != "buildings":
            layers[name] = gpd.read_file(evil / "flood.gpkg", layer=name)
    (evil / "flood.gpkg").unlink()
    for name, gdf in layers.items():
        gdf.to_file(evil / "flood.gpkg", layer=name, driver="GPKG")
    summary = json.loads((evil / "summary.json").read_text())
    summary["scenario"] = EVIL_NAME
    (evil / "summary.json").write_text(json.dumps(summary))
    return {"base": base, "pond": pond, "evil": evil}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return make_runs(tmp_path_factory)


def asset_cache_or_skip() -> Path:
    missing = assets.missing_releases()
    if missing:
        pytest.skip(
            f"offline map assets not in {assets.cache_dir()} (missing {missing[0]}, …): run "
            f"`{assets.FETCH_COMMAND}` (npm) first; .ci/run does"
        )
    return assets.cache_dir()


# --- rasters ---------------------------------------------------------------------------------------------


def test_hillshade_lights_slopes_facing_the_sun():
    y, x = np.mgrid[0:20, 0:20].astype(float)
    facing_nw = x + y  # rises to the east and to the south (row index grows southwards)
    facing_se = -(x + y)
    flat = np.zeros((5, 5))
    assert np.nanmean(hillshade(facing_nw, 1.0, 1.0)) > 0.9
    assert np.nanmean(hillshade(facing_se, 1.0, 1.0)) < 0.1
    # flat ground: cos(zenith) = sin(altitude)
    np.testing.assert_allclose(hillshade(flat, 1.0, 1.0, altitude_deg=30.0), np.sin(np.radians(30.0)))
    z = facing_nw.copy()
    z[3, 4] = np.nan
    assert np.isnan(hillshade(z, 1.0, 1.0)[3, 4]) and np.isfinite(hillshade(z, 1.0, 1.0)).sum() == z.size - 1


def test_overlay_is_reprojected_to_web_mercator_in_the_right_place():
    """One marked cell of an MGA-56 grid must land where pyproj puts its centre (within a cell)."""
    dx = 2.0
    transform = Affine(dx, 0, 382_000.0, 0, -dx, 6_355_000.0)
    values = np.full((200, 300), np.nan, np.float32)
    i, j = 57, 211
    values[i, j] = 1.0
    img, ((south, west), (north, east)) = to_web_mercator(values, transform, "EPSG:28356")
    ii, jj = np.nonzero(np.isfinite(img))
    h, w = img.shape
    # Leaflet stretches the image linearly in web mercator between its corners
    (mx0, mx1), (my0, my1) = transform_points("EPSG:4326", "EPSG:3857", [west, east], [south, north])
    mx = mx0 + (jj.mean() + 0.5) / w * (mx1 - mx0)
    my = my1 - (ii.mean() + 0.5) / h * (my1 - my0)
    cx, cy = transform @ (j + 0.5, i + 0.5)
    (ex,), (ey,) = transform_points("EPSG:28356", "EPSG:3857", [cx], [cy])
    scale = 1.0 / np.cos(np.radians((south + north) / 2))  # web-mercator metres per ground metre
    assert abs(mx - ex) < dx * scale and abs(my - ey) < dx * scale
    assert west < east and south < north and -34 < south < -32 and 151 < west < 152


# --- the pages -------------------------------------------------------------------------------------------


def test_planner_map_has_every_layer_legend_and_the_time_slider(runs):
    pond = load_run(runs["pond"])
    page = render_html(planner_map([pond], offline=True))
    for name in (
        "Terrain (offline)",
        "Maximum depth",
        "Hazard class (max)",
        "Maximum speed",
        "Time until water reaches 10 cm",
        "Buildings by hazard class",
        "Measures",
        "Gauges",
    ):
        assert json.dumps(name) in page, name
    assert "L.control.layers" in page
    for legend in ("depth", "hazard", "speed", "arrival", "buildings", "measures", "gauges"):
        assert f'"floodsim-legend-{legend}"' in page, legend
    assert "floodsimPlanner.timeSlider(" in page and "L.timeDimension" not in page  # our slider, no GeoJSON frames
    assert len(re.findall(r"var image_overlay_\w+ = L\.imageOverlay\(", page)) == 5  # hillshade, depth, hazard, speed, arrival
    assert "floodsimPlanner.swipe(" not in page and '"floodsim-changed"' not in page  # one run: no comparison
    assert "tile.openstreetmap.org" not in page  # offline: no tiles
    online = render_html(planner_map([pond], offline=False))
    assert "tile.openstreetmap.org" in online


def test_time_slider_frames_follow_the_output_times(runs):
    from floodsim.maps.planner import _frames
    from floodsim.maps.sitedata import Site, embedded_source
    from floodsim.scenario.site import PublishTexts

    run = load_run(runs["base"])
    site = Site([run], [run.name], PublishTexts(), embedded_source)
    frames = _frames(site, 0)
    assert [f["t"] for f in frames] == [float(t) for t in run.ds["time"].values]
    assert all(f["url"].startswith("data:image/png;base64,") for f in frames)
    # the frames differ as the water rises: the last is not the first
    assert frames[0]["url"] != frames[-1]["url"]


def test_comparison_in_one_map(runs):
    page = render_html(planner_map([load_run(runs["base"]), load_run(runs["pond"])], offline=True))
    assert ".sync(" not in page and page.count("L.map(") == 1  # one map, no DualMap
    assert "floodsimPlanner.swipe(" in page and "floodsimPlanner.changedList(" in page
    assert '"floodsim-legend-diff"' in page and "Depth change " in page
    with pytest.raises(InputDataError, match="1 to 8"):
        planner_map([load_run(runs["base"])] * 9)


def test_resident_map_has_search_legend_and_every_scenario(runs):
    base, pond = load_run(runs["base"]), load_run(runs["pond"])
    page = render_html(resident_map([base, pond], offline=True))
    assert 'id = "floodsim-search-input"' in page and "floodsimSearch.match" in page  # the address search
    for c in ("No flooding", "Caution", "Danger for some", "Danger for most", "Danger for all"):
        assert c in page, c
    data = _geojson_payloads(page)
    popups = [f["properties"]["popup"] for fc in data for f in fc["features"] if "popup" in f["properties"]]
    assert len(popups) == len(base.buildings)
    assert all(base.name in p and pond.name in p for p in popups)


def _geojson_payloads(page: str) -> list[dict]:
    """The GeoJSON objects folium embedded with ``_add({...});``."""
    out = []
    for m in re.finditer(r"_add\((\{.*?\})\);\n", page):
        obj = json.loads(m.group(1))
        if obj.get("type") == "FeatureCollection":
            out.append(obj)
    return out


@pytest.mark.parametrize("kind", ["planner", "resident"])
def test_data_strings_are_escaped(runs, kind):
    evil = load_run(runs["evil"])
    m = planner_map([evil], offline=True) if kind == "planner" else resident_map([evil], offline=True)
    page = render_html(m)
    for raw in (EVIL_ID, "<script>window.__xss", 'onerror="window.__xss', "<img src=x"):
        assert raw not in page, raw
    labels = [f["properties"]["label"] for fc in _geojson_payloads(page) for f in fc["features"]]
    assert html.escape(EVIL_ID, quote=True) in labels
    assert (
        html.escape(EVIL_NAME, quote=True).replace("&", "\\u0026") in page or html.escape(EVIL_NAME) in page
    )


# --- offline publishing ----------------------------------------------------------------------------------


def _fake_cache(root: Path) -> Path:
    """A cache with every pinned release holding small stand-in files (tests the rewriting, not npm)."""
    for package, version in assets.releases():
        d = root / f"{package.replace('/', '+')}@{version}"
        d.mkdir(parents=True)
        (d / ".complete").write_text("")
    for f in assets.CDN_FILES.values():
        if f is None:
            continue
        p = root / f.folder / f.path
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.suffix == ".css" and "timedimension" in f.package:
            p.write_text(
                "@font-face{src:url('//netdna.bootstrapcdn.com/bootstrap/3.0.0/fonts/"
                "glyphicons-halflings-regular.woff') format('woff')}"
            )
        elif not p.exists():
            p.write_text(f"/* {f.spec} {f.path} */")
        for pattern in f.extra:
            extra = root / f.folder / pattern.replace("*", "x.png")
            extra.parent.mkdir(parents=True, exist_ok=True)
            extra.write_text("png")
    return root


def test_localize_rewrites_tags_and_css_urls(tmp_path):
    cache = _fake_cache(tmp_path / "cache")
    page = (
        '<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css"/>'
        '<link rel="stylesheet" href="https://netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css"/>'
        '<script src="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"></script>'
        '<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/leaflet-timedimension@1.1.1/dist/'
        'leaflet.timedimension.control.css"/>'
    )
    out, info = assets.localize_html(page, tmp_path / "site" / "map.html", cache)
    assert "http" not in out and "glyphicons.css" not in out  # mapped or dropped
    assert 'src="map_assets/leaflet@1.9.3/dist/leaflet.js"' in out
    adir = tmp_path / "site" / "map_assets"
    assert info["assets_dir"] == adir and (adir / "leaflet@1.9.3/dist/images/x.png").is_file()
    css = (adir / "leaflet-timedimension@1.1.1/dist/leaflet.timedimension.control.css").read_text()
    assert "netdna" not in css and "../../bootstrap@3.1.1/dist/fonts/glyphicons-halflings-regular.woff" in css
    assert (adir / "bootstrap@3.1.1/dist/fonts/glyphicons-halflings-regular.woff").is_file()


def test_unknown_cdn_file_and_missing_cache_fail_clearly(tmp_path):
    cache = _fake_cache(tmp_path / "cache")
    with pytest.raises(OutputError, match="CDN_FILES"):
        assets.localize_html(
            '<script src="https://unpkg.com/something@1.0/x.js"></script>', tmp_path / "m.html", cache
        )
    assert not list(tmp_path.glob("*_assets*"))  # nothing half-written
    with pytest.raises(InputDataError, match="floodsim map-assets"):
        assets.localize_html("<html></html>", tmp_path / "m.html", tmp_path / "empty")


def test_offline_page_references_only_local_files(runs, tmp_path):
    cache = asset_cache_or_skip()
    info = write_map(
        planner_map([load_run(runs["base"]), load_run(runs["pond"])], offline=True),
        tmp_path / "dual.html",
        offline=True,
        assets_root=cache,
    )
    page = (tmp_path / "dual.html").read_text()
    refs = re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"', page)
    assert refs and all(r.startswith(("dual_assets/", "data:")) for r in refs), refs
    assert all((tmp_path / r).is_file() for r in refs if not r.startswith("data:"))
    for css in info["assets_dir"].rglob("*.css"):
        assert not re.search(r"url\(\s*['\"]?(https?:)?//", css.read_text(encoding="utf-8")), css


# --- figures and the command -----------------------------------------------------------------------------


def test_figures_have_a_panel_per_run(runs):
    rs = [load_run(runs["base"]), load_run(runs["pond"])]
    for what in FIGURES:
        fig = figure(rs, what)
        panels = [ax for ax in fig.axes if ax.get_title()]
        assert [ax.get_title() for ax in panels] == [r.name for r in rs], what


def test_cli_map_planner_png_and_resident(runs, tmp_path, capsys):
    out = tmp_path / "p.html"
    assert main(["map", str(runs["base"]), str(runs["pond"]), "--out", str(out), "--png"]) == ExitCode.OK
    assert out.is_file() and out.stat().st_size > 10_000
    from PIL import Image

    for what in FIGURES:
        with Image.open(tmp_path / f"p_{what}.png") as im:
            assert im.format == "PNG" and im.width > 600
    assert (
        main(
            [
                "map",
                str(runs["base"]),
                str(runs["pond"]),
                str(runs["evil"]),
                "--resident",
                "--out",
                str(tmp_path / "r.html"),
            ]
        )
        == ExitCode.OK
    )
    assert "written" in capsys.readouterr().out


def test_cli_map_errors(runs, tmp_path, capsys, monkeypatch):
    assert main(["map", str(tmp_path / "nothing")]) == ExitCode.INPUT
    assert "results.nc" in capsys.readouterr().err
    assert main(["map", str(runs["base"])] * 9 + ["--out", str(tmp_path / "x.html")]) == ExitCode.INPUT
    assert "at most 8 run folders" in capsys.readouterr().err
    assert main(["map", str(runs["base"])] * 2 + ["--out", str(tmp_path / "x.html")]) == ExitCode.INPUT
    assert "listed twice" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()
    monkeypatch.setenv(assets.ENV_VAR, str(tmp_path / "no-assets"))
    assert main(["map", str(runs["base"]), "--offline", "--out", str(tmp_path / "o.html")]) == ExitCode.INPUT
    err = capsys.readouterr().err
    assert "floodsim map-assets" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.html").exists()


def test_run_without_products_maps_without_buildings(runs, tmp_path):
    """A run folder from before the products existed (no flood.gpkg, no hazard_rating.tif) still maps."""
    old = tmp_path / "old"
    old.mkdir()
    for name in ("results.nc", "summary.json"):
        shutil.copy(runs["base"] / name, old / name)
    run = load_run(old)
    assert run.buildings is None and run.measures is None and "flood.gpkg" in run.notes[0]
    np.testing.assert_array_equal(run.hazard_code, load_run(runs["base"]).hazard_code)
    page = render_html(planner_map([run], offline=True))
    assert json.dumps("Maximum depth") in page and json.dumps("Buildings by hazard class") not in page
