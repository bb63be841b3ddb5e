"""The planner page without a browser: which layers exist, legends bound to their layers, measures not
painted as flooding, gauges with hydrographs, the comparison from a ``floodsim compare`` folder, and
hostile gauge, measure and building names shown literally. Uses the coarsened Merewether runs of
test_maps.py (made once per session)."""

from __future__ import annotations

import base64
import io
import re
import shutil

import numpy as np
import pytest
import xarray as xr

from floodsim.analysis.compare import compare_runs
from floodsim.analysis.flooding import storage_depth_of
from floodsim.io import runfolder as rf
from floodsim.maps.controls import PLANNER_CSS, PLANNER_JS
from floodsim.maps.planner import planner_map, planner_page
from floodsim.maps.publish import render_html
from floodsim.maps.rasterproducts import raster_values
from floodsim.maps.rundata import map_run
from floodsim.maps.safe import JINJA_DELIMITERS
from floodsim.maps.sitedata import Comparison, Site, embedded_source
from floodsim.scenario.site import PublishTexts

from .test_maps import make_runs
from .test_maps_security import HOSTILE, assert_inert, hostile_run

_JS_STRING = r'"(?:[^"\\]|\\.)*"'


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return make_runs(tmp_path_factory)


@pytest.fixture(scope="module")
def compared(runs, tmp_path_factory):
    """A site of base (A) and pond (B) with the comparison read from a `floodsim compare` folder."""
    out = tmp_path_factory.mktemp("compare")
    compare_runs([runs["base"], runs["pond"]], out, png=False)
    import geopandas as gpd
    import rioxarray

    diff = rioxarray.open_rasterio(out / "max_depth_diff.tif", masked=True).squeeze("band", drop=True)
    changed = gpd.read_file(out / rf.CHANGED_BUILDINGS_GPKG, layer=rf.LAYER_CHANGED_BUILDINGS)
    a, b = map_run(runs["base"]), map_run(runs["pond"])
    site = Site([a, b], ["Today", "With the pond"], PublishTexts(), embedded_source,
                comparison=Comparison(0, 1, depth_diff=diff, changed_buildings=changed), offline=True)
    return site, changed


def _layers(page: str) -> dict[str, str]:
    """Layer-control name -> JS variable of the layer."""
    import json

    out = {}
    for name, var in re.findall(rf"^\s*({_JS_STRING}) : (\w+),$", page, flags=re.M):
        out[json.loads(name)] = var
    for var, name in re.findall(rf"\.addOverlay\((\w+), ({_JS_STRING})\);", page):
        out[json.loads(name)] = var
    return out


def _legends(page: str) -> dict[str, list[str]]:
    """Legend id -> the JS variables of the layers it is bound to."""
    out = {}
    for names, opts in re.findall(r"floodsimPlanner\.legend\(\w+,\s*\[([^\]]*)\], (\{.*?\})\);", page, flags=re.S):
        legend_id = re.search(r'"id": "([^"]+)"', opts).group(1)
        out[legend_id] = [n.strip() for n in names.split(",") if n.strip()]
    return out


def test_script_has_no_template_delimiters():
    """PLANNER_JS/CSS go into the page as a Jinja template (branca): no delimiter may be in them."""
    for delimiter in JINJA_DELIMITERS:
        assert delimiter not in PLANNER_JS + PLANNER_CSS, delimiter


def test_comparison_page_layers_and_legends_bound_to_them(compared):
    site, changed = compared
    page = render_html(planner_page(site))
    layers, legends = _layers(page), _legends(page)
    for r, label in enumerate(site.labels):
        for what in ("Maximum depth", "Hazard class (max)", "Maximum speed", "Time until water reaches 10 cm",
                     "Buildings by hazard class"):
            assert f"{what} · {label}" in layers, (what, label)
    assert "Measures · With the pond" in layers and "Measures · Today" not in layers  # base has none
    diff_name = "Depth change With the pond − Today"
    for name in (diff_name, "Changed buildings", "Gauges", "Depth at the slider time"):
        assert name in layers, name

    def bound(legend_id):
        return {n for n, v in layers.items() if v in legends[legend_id]}

    assert bound("floodsim-legend-depth") == {"Maximum depth · Today", "Maximum depth · With the pond",
                                              "Depth at the slider time"}
    assert bound("floodsim-legend-hazard") == {f"Hazard class (max) · {x}" for x in site.labels}
    assert bound("floodsim-legend-speed") == {f"Maximum speed · {x}" for x in site.labels}
    assert bound("floodsim-legend-arrival") == {f"Time until water reaches 10 cm · {x}" for x in site.labels}
    assert bound("floodsim-legend-diff") == {diff_name}
    assert bound("floodsim-legend-buildings") == {f"Buildings by hazard class · {x}" for x in site.labels}
    assert bound("floodsim-legend-measures") == {"Measures · With the pond"}
    assert bound("floodsim-legend-gauges") == {"Gauges"}
    assert bound("floodsim-changed") == {"Changed buildings"}
    # the swipe is between A's and B's maximum depth, each in its own pane
    swipe = re.search(r"floodsimPlanner\.swipe\(\w+,\s*(\w+), (\w+),", page)
    assert swipe.groups() == (layers["Maximum depth · Today"], layers["Maximum depth · With the pond"])
    for var, pane in ((swipe.group(1), "floodsimSwipeA"), (swipe.group(2), "floodsimSwipeB")):
        assert re.search(rf"var {var} = L\.imageOverlay\((?:(?!var ).)*?\"pane\": \"{pane}\"", page, flags=re.S), pane
    # complete legends: the "no flooding" buildings, the difference classes with "no change", the measures
    assert "No flooding" in page and "within 2 cm: no change (not drawn)" in page
    assert "over 30 cm shallower" in page and "over 30 cm deeper" in page
    assert "pond" in page and "floodsim-hatch-" in page
    # one list entry per changed building of the compare folder
    assert f"Changed buildings ({len(changed)})" in page


def test_changed_buildings_from_the_compare_folder(compared):
    from floodsim.maps.layers import CHANGE_COLOURS, changed_features

    site, changed = compared
    feats = changed_features(site)
    id_col = list(changed.columns)[2]
    assert [f["properties"]["label"] for f in feats] == [str(i) for i in changed[id_col]]
    for f, (_, row) in zip(feats, changed.iterrows()):
        p = f["properties"]
        assert p["change"] == row["change"] and p["outline"] == CHANGE_COLOURS[row["change"]]
        assert "Today" in p["popup"] and "With the pond" in p["popup"] and "→" in p["entry"]
        assert (p["style"]["dashArray"] is not None) == (row["change"] == "worse")


def test_measures_are_not_painted_as_flooding(compared):
    """The pond holds water by design (0.5–1 m deep in this short run): its footprint is not flooding on
    the depth, hazard or frame rasters, nor "deeper" on the difference."""
    site, _ = compared
    pond = site.runs[1]
    storage = storage_depth_of(pond.ds)
    assert storage is not None
    inside = storage > 0
    raw = pond.ds["max_depth"].values
    assert np.nanmax(raw[inside]) > 0.5  # the water held in the pond
    shown, *_ = raster_values(site, 1, "max_depth")
    np.testing.assert_allclose(shown[inside], np.maximum(raw[inside] - storage[inside], 0), atol=1e-5)
    assert np.nanmax(shown[inside]) < pond.threshold_m   # it did not spill in this run
    assert (pond.hazard_code[inside & (shown < pond.threshold_m)] == 0).all()
    last = pond.ds.sizes["time"] - 1
    frame, *_ = raster_values(site, 1, f"depth@{last}")
    assert np.nanmax(frame[inside]) < np.nanmax(pond.ds["depth"].values[last][inside])
    # B − A: the file says "deeper" in the dug pond; the page shows the flood depths' difference there
    file_diff = np.asarray(site.comparison.depth_diff.values, dtype=np.float64)
    page_diff, *_ = raster_values(site, None, "depth_diff")
    flood_a, _ = raster_values(site, 0, "max_depth")[:2]
    np.testing.assert_allclose(page_diff[inside], shown[inside] - flood_a[inside], atol=1e-5)
    assert np.nanmax(file_diff[inside]) > 0.5 and np.nanmax(page_diff[inside]) < 0.1
    outside = ~inside & np.isfinite(file_diff)
    np.testing.assert_allclose(page_diff[outside], file_diff[outside], atol=1e-6)


def test_arrival_time_is_the_run_product(runs):
    import rasterio

    run = map_run(runs["base"])
    site = Site([run], ["Today"], PublishTexts(), embedded_source)
    values, *_ = raster_values(site, 0, "arrival_time")
    with rasterio.open(runs["base"] / rf.ARRIVAL_TIME_TIF) as src:
        product = src.read(1, masked=True).filled(np.nan)
    np.testing.assert_allclose(values, product, rtol=1e-5, equal_nan=True)
    assert np.isfinite(values).any()


def test_gauges_have_a_hydrograph_and_their_peak_in_words(runs, tmp_path):
    from PIL import Image

    from floodsim.maps.layers import gauge_features

    base, pond = map_run(runs["base"]), map_run(runs["pond"])
    assert [g.name for g in pond.gauges] == [str(n) for n in pond.ds["gauge"].values]  # dry ones too
    site = Site([base, pond], ["Today", "With the pond"], PublishTexts(), embedded_source)
    feats = gauge_features(site)
    assert len(feats) == len(pond.gauges)
    summary = pond.summary.gauges
    for f, g in zip(feats, pond.gauges):
        popup = f["properties"]["popup"]
        uri = re.search(r"src='(data:image/png;base64,[^']+)'", popup).group(1)
        with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as im:
            assert im.format == "PNG" and im.width > 300
        assert "Today:" in popup and "With the pond:" in popup
        if summary[g.name] == "dry":
            assert "With the pond: stayed dry." in popup
        else:
            peak = summary[g.name]["max_depth_m"]
            assert f"With the pond: deepest {g.peak_depth_m:.2f} m" in popup
            assert abs(g.peak_depth_m - peak) < 0.02  # the fine series and the map maxima agree
            assert re.search(r"minutes after the start \(\d\d:\d\d:\d\d\)", popup)
    # a published site: the PNG is a file of the site, the popup links it
    site = Site([pond], ["With the pond"], PublishTexts(), embedded_source, embed=False, root="../")
    feats = gauge_features(site)
    assert sorted(site.files) == [f"planner/gauge_{k}.png" for k in range(len(feats))]
    assert "src='../planner/gauge_0.png'" in feats[0]["properties"]["popup"]


def test_hostile_gauge_measure_and_building_names_are_shown_literally(runs, tmp_path, tmp_path_factory):
    folder = tmp_path / "hostile"
    shutil.copytree(hostile_run(tmp_path_factory), folder)
    with xr.open_dataset(folder / rf.RESULTS_NC) as src:
        ds = src.load()
    names = [HOSTILE[k % len(HOSTILE)] + f" #{k}" for k in range(ds.sizes["gauge"])]
    ds = ds.assign_coords(gauge=("gauge", np.array(names, dtype=object), ds["gauge"].attrs))
    (folder / rf.RESULTS_NC).unlink()
    ds.to_netcdf(folder / rf.RESULTS_NC)
    hostile = map_run(folder)
    assert [g.name for g in hostile.gauges] == names
    for pages in (planner_map([hostile], offline=True), planner_map([map_run(runs["base"]), hostile], offline=True)):
        page = render_html(pages)
        assert_inert(page)
        import html as html_mod
        import json

        props = [f["properties"] for m in re.finditer(r"_add\((\{.*?\})\);\n", page)
                 for f in json.loads(m.group(1)).get("features", [])]
        shown = {html_mod.unescape(re.sub(r"<[^>]*>", "", p.get("popup", ""))) for p in props}
        for name in names:
            assert any(f"Gauge {name}" in s for s in shown), name
        labels = {html_mod.unescape(p.get("label", "")) for p in props}
        assert set(names) <= labels


def test_page_weight_without_geojson_frames(runs):
    """The time slider carries the depth frames as images (tiles when published), not as GeoJSON."""
    page = render_html(planner_map([map_run(runs["pond"])], offline=True))
    assert "TimestampedGeoJson" not in page and "timeDimension" not in page
    assert len(page.encode()) < 600_000
