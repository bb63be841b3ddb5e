"""``floodsim publish``: the site folder, its atomic write, hostile texts, bad site files, tiles, MBTiles,
downloads and one-page reports. No browser here (the pages in Chromium: test_publish_browser.py).

Runs the bundled Merewether baseline and pond scenarios coarsened ×8 for 15 simulated minutes, compares
them, and makes a small likelihood "sweep" folder from their depths (return periods 5 and 100 years), so
the whole site — comparison and likelihood included — is published in seconds.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from rasterio.warp import transform as transform_points

from floodsim.analysis import risk
from floodsim.analysis.compare import compare_runs
from floodsim.cli import main
from floodsim.errors import ExitCode
from floodsim.io import runfolder as rf
from floodsim.io.raster import write_geotiff
from floodsim.maps import assets
from floodsim.maps import site as S
from floodsim.maps.rasterproducts import paint, raster_values
from floodsim.maps.rundata import map_run
from floodsim.maps.tiles import tile_transform
from floodsim.run.runner import run_scenario

from .conftest import ROOT, SCENARIOS, coarsened

EVIL = '{{7*7}} </script><script>window.__xss=1</script> "q" \u2028 {% if 1 %}x{% endif %}'
GPKG = ROOT / "gis_data" / "merewether" / "merewether.gpkg"
DESIGN = "no pond {{7*7}}"


def _asset_cache_or_skip():
    if assets.missing_releases():
        pytest.skip("offline map assets not fetched (run `floodsim map-assets`)")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Run folders, a compare folder, a likelihood sweep folder, an address layer and base tiles."""
    root = tmp_path_factory.mktemp("publish")
    base, pond = root / "base", root / "pond"
    kw = dict(duration_min=15.0, output_interval_min=5.0)
    run_scenario(coarsened(SCENARIOS / "merewether_cloudburst.toml", 8, **kw), out_dir=base)
    run_scenario(coarsened(SCENARIOS / "merewether_pond.toml", 8, **kw), out_dir=pond,
                 compare_to_baseline=False)
    cmp = root / "compare"
    compare_runs([base, pond], cmp, png=False)
    # a sweep folder: the pond's depths stand for the 5-year storm, the baseline's for the 100-year one
    sweep = root / "sweep"
    (sweep / "members").mkdir(parents=True)
    rb, rp = map_run(base), map_run(pond)
    thr = rb.threshold_m
    bands = risk.likelihood_bands(np.stack([rp.max_depth.values, rb.max_depth.values]), [5.0, 100.0], thr)
    da = rb.max_depth.copy(data=bands.astype(np.int8))
    da.attrs = {"units": "1", "long_name": f"likelihood band of flooding ≥ {thr:g} m ({DESIGN}): "
                + ", ".join(f"{k} {v}" for k, v in risk.BANDS.items())}
    write_geotiff(da, sweep / "likelihood_no_pond_7_7.tif", nodata=risk.BAND_NODATA, dtype=np.int8)
    b = rb.buildings
    first = risk.lowest_return_period(np.stack([rp.buildings["flooded"].to_numpy(bool),
                                                b["flooded"].to_numpy(bool)]), [5.0, 100.0])
    gdf = b[[rb.id_field, "geometry"]].copy()
    gdf["first_flooding_yr"] = first
    gdf["first_flooding"] = [risk.first_flooding_label(v) for v in first]
    gdf["ead_eur_per_yr"] = np.where(np.isfinite(first), 100.0, 0.0)
    gdf["design"] = DESIGN
    gdf.to_file(sweep / "risk_no_pond_7_7.gpkg", layer="buildings_first_flooding", driver="GPKG")
    pd.DataFrame({"member": ["m1", "m2"], "label": ["5-yr", "100-yr"], "design": [DESIGN, DESIGN],
                  "status": ["ok", "ok"], "run_dir": [str(pond), str(base)],
                  "param rainfall.return_period_yr": [5, 100],
                  "storm": ["20 mm in 30 min ≈ a 1-in-5-year rain today", ""]}).to_csv(sweep / "sweep.csv",
                                                                                      index=False)
    # addresses: a point in each of the first 6 buildings, one hostile, one with accents
    pts = b.geometry.iloc[:6].representative_point()
    addr = ["1 High St", "3 High St", EVIL, "Nørregade 7", "5-9 Lake Rd", "11 Lake Rd"]
    ap = root / "addresses.gpkg"
    gpd.GeoDataFrame({"addr": addr}, geometry=pts.values, crs=b.crs).to_file(ap, layer="addresses")
    return {"root": root, "base": base, "pond": pond, "compare": cmp, "sweep": sweep, "addresses": ap,
            "runs": (rb, rp)}


def _mbtiles(path: Path, run, zooms=(15, 16)) -> dict:
    """An MBTiles file over the run's area: each tile a PNG whose colour encodes (z, x, y in XYZ)."""
    from floodsim.maps.site import _area_bounds_lonlat, _tile_window

    con = sqlite3.connect(path)
    con.execute("CREATE TABLE metadata (name text, value text)")
    con.execute("CREATE TABLE tiles (zoom_level integer, tile_column integer, tile_row integer, tile_data blob)")
    con.executemany("INSERT INTO metadata VALUES (?, ?)", [("name", "test"), ("format", "png")])
    box = _area_bounds_lonlat(run)
    colours = {}
    for z in zooms:
        x0, y0, x1, y1 = _tile_window(box, z)
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                colour = (z * 10 % 256, x % 256, y % 256, 255)
                import io

                buf = io.BytesIO()
                Image.new("RGBA", (256, 256), colour).save(buf, format="PNG")
                tms_row = 2 ** z - 1 - y
                con.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, tms_row, buf.getvalue()))
                colours[(z, x, y)] = colour
    con.commit()
    con.close()
    return colours


def _site_file(tmp: Path, inputs, **extra) -> Path:
    """A site file with every part: hostile texts and labels, compare, sweep, addresses, MBTiles, roads."""
    lines = [
        f"compare = {json.dumps(str(inputs['compare']))}",
        f"sweep = {json.dumps(str(inputs['sweep']))}",
        f"design = {json.dumps(DESIGN)}",
        f"out = {json.dumps(str(tmp / 'site'))}",
        "[publish]",
        f"title = {json.dumps('Merewether ' + EVIL)}",
        'language = "en-AU"',
        f"contact = {json.dumps(EVIL)}",
        f"advice = [{json.dumps(EVIL)}, \"Keep drains clear\"]",
        "[[runs]]",
        f"path = {json.dumps(str(inputs['base']))}",
        f"label = {json.dumps('Today ' + EVIL)}",
        "[[runs]]",
        f"path = {json.dumps(str(inputs['pond']))}",
        'label = "With the pond"',
        "[addresses]",
        f"path = {json.dumps(str(inputs['addresses']))}",
        'layer = "addresses"',
        'field = "addr"',
        "[base]",
        "online = false",
        f"roads = {{ path = {json.dumps(str(GPKG))}, layer = \"roads\", name_field = \"name\" }}",
    ]
    if "tiles" in extra:
        lines.append(f"tiles = {json.dumps(str(extra['tiles']))}")
    p = tmp / "site.toml"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def published(inputs, tmp_path_factory):
    _asset_cache_or_skip()
    tmp = tmp_path_factory.mktemp("site")
    mb = tmp / "base.mbtiles"
    colours = _mbtiles(mb, inputs["runs"][0])
    toml = _site_file(tmp, inputs, tiles=mb)
    assert main(["publish", str(toml)]) == ExitCode.OK
    return {"out": tmp / "site", "toml": toml, "colours": colours, "tmp": tmp}


def test_site_folder_layout(published):
    out = published["out"]
    for name in ("index.html", "planner.html", "site.json", "assets", "tiles", "downloads", "report", "basemap"):
        assert (out / name).exists(), name
    # no staging or per-page asset folders left, nothing beside the site
    assert not [p for p in out.parent.iterdir() if rf.STAGING_INFIX in p.name or rf.ASIDE_INFIX in p.name]
    assert not list(out.glob("*_assets"))
    record = json.loads((out / "site.json").read_text())
    assert record["generator"] == S.GENERATOR and record["versions"]["floodsim"]
    assert record["tiles"]["tiles"] == len(list((out / "tiles").rglob("*.png"))) > 0
    assert record["tiles"]["bytes"] == sum(p.stat().st_size for p in (out / "tiles").rglob("*.png"))
    assert record["design"] == DESIGN and len(record["runs"]) == 2
    for page in ("index.html", "planner.html"):
        html = (out / page).read_text(encoding="utf-8")
        assert record["pages"][page]["bytes"] == len(html.encode())
        # every asset a page loads is in assets/, and only those are there
        for src in re.findall(r'(?:src|href)="(assets/[^"]+)"', html):
            assert (out / src).is_file(), src
    used = set()
    for page in ("index.html", "planner.html"):
        used |= set(record["pages"][page]["assets"])
    on_disk = {p.relative_to(out / "assets").as_posix() for p in (out / "assets").rglob("*") if p.is_file()}
    assert on_disk == used
    # files are readable by a web server
    assert all(p.stat().st_mode & 0o004 for p in out.rglob("*"))
    # the planner's buildings are files the page fetches, not inline data (the HTML does not grow with them)
    planner = (out / "planner.html").read_text(encoding="utf-8")
    for r in range(2):
        data = json.loads((out / "planner" / f"buildings_{r}.json").read_text(encoding="utf-8"))
        assert data["type"] == "FeatureCollection" and data["features"]
        assert f'"planner/buildings_{r}.json"' in planner
    assert "max depth next to it:" not in planner        # the buildings' popups are in the files only


def test_pages_are_offline_and_titled(published):
    out = published["out"]
    for page in ("index.html", "planner.html"):
        html = (out / page).read_text(encoding="utf-8")
        assert '<html lang="en-AU"' in html
        assert re.search(r"<title>[^<]*Merewether &#123;&#123;7\*7&#125;&#125;", html)
        assert not re.search(r"""(?:src|href)=["'](?:https?:)?//""", html), "an offline page loads from the web"
        assert "tile.openstreetmap.org" not in html


def test_hostile_texts_are_shown_never_interpreted(published):
    out = published["out"]
    pages = [out / "index.html", out / "planner.html", *sorted((out / "report").glob("*.html"))]
    for p in pages:
        html = p.read_text(encoding="utf-8")
        assert "<script>window.__xss" not in html, p.name
        assert "\u2028" not in html, p.name
        for delim in ("{{7*7}}", "{% if", "{{ 7"):
            assert delim not in html, (p.name, delim)
    about = (out / "index.html").read_text(encoding="utf-8")
    assert "&#123;&#123;7*7&#125;&#125; &lt;/script&gt;&lt;script&gt;window.__xss=1&lt;/script&gt;" in about


def test_downloads_present_linked_with_sizes(published):
    out = published["out"]
    record = json.loads((out / "site.json").read_text())
    hrefs = {d["href"] for d in record["downloads"]}
    for k in (1, 2):
        for name in ("max_depth.tif", "hazard_class.tif", "flood.gpkg", "summary.csv"):
            assert f"downloads/run-{k}/{name}" in hrefs
    for name in ("comparison.csv", "changed_buildings.gpkg", "max_depth_diff.tif"):
        assert f"downloads/compare/{name}" in hrefs
    assert "downloads/likelihood/likelihood_no_pond_7_7.tif" in hrefs
    assert "downloads/likelihood/risk_no_pond_7_7.gpkg" in hrefs
    index = (out / "index.html").read_text(encoding="utf-8")
    from floodsim.maps.about import fmt_size

    for d in record["downloads"]:
        f = out / d["href"]
        assert f.is_file() and f.stat().st_size == d["bytes"] > 0
        assert f'href="{d["href"]}"' in index, d["href"]            # linked from the about panel
        assert fmt_size(d["bytes"]) in index
    # copied, not changed
    assert (out / "downloads/run-1/max_depth.tif").read_bytes() == \
        (Path(record["runs"][0]["path"]) / "max_depth.tif").read_bytes()


def test_report_per_address(published, inputs):
    from floodsim.maps.cards import report_slug

    out = published["out"]
    reports = sorted((out / "report").glob("*.html"))
    rb = inputs["runs"][0]
    names = {p.stem for p in reports}
    addr = gpd.read_file(inputs["addresses"], layer="addresses")["addr"]
    for a in addr:
        assert report_slug(a) in names, a
    # an address linked to a building: its report shows the building's depth and hazard per scenario,
    # its likelihood and the advice; buildings without an address get a report by their name
    html = (out / "report" / f"{report_slug('1 High St')}.html").read_text(encoding="utf-8")
    row = rb.buildings.iloc[0]
    depth = float(row["max_depth_m"])
    assert (f"{depth:.2f} m" in html) or ("less than" in html)
    assert "How likely" in html and "Likelihood band" in html or "None of the modelled storms" in html
    assert "Keep drains clear" in html and "not a forecast" in html
    assert '<html lang="en-AU"' in html and "@media print" in html
    assert len(reports) == len(addr) + len(rb.buildings) - 6


def test_tiles_show_the_painted_class_of_the_cell_under_them(published, inputs):
    """At the deepest zoom of the max-depth pyramid, tile pixels equal the painted class of the grid
    cell under their centre (checked on a sample of pixels of every tile)."""
    out = published["out"]
    rb = inputs["runs"][0]
    from floodsim.maps.sitedata import Site
    from floodsim.scenario.site import PublishTexts

    site = Site(runs=[rb], labels=["a"], texts=PublishTexts(), raster_source=None)
    values, transform, crs, _ = raster_values(site, 0, "max_depth")
    painted = paint(site, 0, "max_depth", values)
    inv = ~transform
    root = out / "tiles" / "run-1" / "max_depth"
    zmax = max(int(p.name) for p in root.iterdir())
    checked = wet = 0
    for f in (root / str(zmax)).rglob("*.png"):
        x, y = int(f.parent.name), int(f.stem)
        img = np.asarray(Image.open(f).convert("RGBA"))
        tt = tile_transform(zmax, x, y)
        rows, cols = np.mgrid[0:256:2, 0:256:2]
        mx, my = tt * (cols + 0.5, rows + 0.5)
        ex, ey = transform_points("EPSG:3857", crs, mx.ravel(), my.ravel())
        fc, fr = inv * (np.asarray(ex), np.asarray(ey))
        for pr, pc, c, r in zip(rows.ravel(), cols.ravel(), fc, fr):
            if abs(c - round(c)) < 1e-3 or abs(r - round(r)) < 1e-3:
                continue
            ci, ri = int(math.floor(c)), int(math.floor(r))
            if 0 <= ri < values.shape[0] and 0 <= ci < values.shape[1]:
                assert tuple(img[pr, pc]) == tuple(painted[ri, ci]), (f, pr, pc)
                checked += 1
                wet += int(painted[ri, ci, 3] > 0)
            else:
                assert img[pr, pc, 3] == 0
    assert checked > 1000 and wet > 50, (checked, wet)


def test_mbtiles_unpacked_with_y_flipped(published):
    out = published["out"]
    colours = published["colours"]
    record = json.loads((out / "site.json").read_text())
    assert record["basemap"]["kind"] == "mbtiles" and record["basemap"]["tiles"] == len(colours)
    for (z, x, y), colour in colours.items():
        f = out / "basemap" / str(z) / str(x) / f"{y}.png"      # XYZ: y counted from the north
        assert f.is_file(), (z, x, y)
        assert Image.open(f).convert("RGBA").getpixel((5, 5)) == colour
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "basemap/" in index


def test_republish_replaces_the_site_and_refuses_other_folders(published, inputs, tmp_path, capsys):
    _asset_cache_or_skip()
    out = tmp_path / "s"
    assert main(["publish", str(inputs["base"]), "--out", str(out), "--offline"]) == ExitCode.OK
    (out / "stale.txt").write_text("old")
    assert main(["publish", str(inputs["base"]), str(inputs["pond"]), "--out", str(out), "--offline"]) == 0
    assert not (out / "stale.txt").exists()
    assert len(json.loads((out / "site.json").read_text())["runs"]) == 2
    # a folder that is not a floodsim site is never replaced
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.docx").write_text("precious")
    capsys.readouterr()
    assert main(["publish", str(inputs["base"]), "--out", str(foreign)]) == ExitCode.INPUT
    err = capsys.readouterr().err
    assert "not a floodsim site" in err and "--out" in err
    assert sorted(p.name for p in foreign.iterdir()) == ["thesis.docx"]


def test_a_failure_mid_way_leaves_the_former_site_or_nothing(published, inputs, tmp_path, monkeypatch):
    _asset_cache_or_skip()
    import floodsim.maps.site as site_mod

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    out = tmp_path / "new"
    monkeypatch.setattr(site_mod, "report_html", boom)
    with pytest.raises(RuntimeError):
        site_mod.write_site(site_mod.spec_from_runs([inputs["base"]]), out=out, offline=True)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == []           # no staging folder left either
    monkeypatch.undo()
    site_mod.write_site(site_mod.spec_from_runs([inputs["base"]]), out=out, offline=True)
    before = {p.relative_to(out): p.stat().st_mtime_ns for p in out.rglob("*")}
    monkeypatch.setattr(site_mod, "page_builders", lambda: (boom, boom))
    with pytest.raises(RuntimeError):
        site_mod.write_site(site_mod.spec_from_runs([inputs["base"], inputs["pond"]]), out=out, offline=True)
    assert {p.relative_to(out): p.stat().st_mtime_ns for p in out.rglob("*")} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new"]


def _bad(tmp: Path, inputs, edit) -> tuple[Path, str]:
    toml = _site_file(tmp, inputs)
    text = toml.read_text(encoding="utf-8")
    text = edit(text)
    toml.write_text(text, encoding="utf-8")
    return toml, text


@pytest.fixture(scope="module")
def other_grid(inputs):
    """A run on another grid (coarsened ×16)."""
    d = inputs["root"] / "coarse"
    if not d.exists():
        run_scenario(coarsened(SCENARIOS / "merewether_cloudburst.toml", 16, duration_min=5.0,
                               output_interval_min=5.0), out_dir=d)
    return d


def _corrupt_mbtiles(tmp: Path) -> Path:
    p = tmp / "broken.mbtiles"
    p.write_bytes(b"SQLite format 3\x00" + os.urandom(3000))
    return p


def _xyz_elsewhere(tmp: Path) -> Path:
    d = tmp / "xyz"
    (d / "3" / "1").mkdir(parents=True)
    Image.new("RGB", (256, 256)).save(d / "3" / "1" / "2.png")
    return d


BAD_CASES = {
    "missing run": (lambda t, i: lambda s: s.replace(str(i["pond"]), str(t / "nope")), "runs[1].path",
                    "floodsim run"),
    "other grid": (lambda t, i: None, "runs[1].path", "another grid"),
    "compare without files": (lambda t, i: lambda s: s.replace(json.dumps(str(i["compare"])),
                                                               json.dumps(str(t))), "compare",
                              "floodsim compare"),
    "compare of other runs": (lambda t, i: None, "compare", "the site's runs"),
    "sweep not a sweep": (lambda t, i: lambda s: s.replace(json.dumps(str(i["sweep"])), json.dumps(str(t))),
                          "sweep", "floodsim sweep"),
    "unknown design": (lambda t, i: lambda s: s.replace(json.dumps(DESIGN), '"other"'), "design", "use one of"),
    "address field missing": (lambda t, i: lambda s: s.replace('field = "addr"', 'field = "street"'),
                              "addresses.field", "has no field 'street'"),
    "address layer missing": (lambda t, i: lambda s: s.replace('layer = "addresses"', 'layer = "nope"'),
                              "addresses.layer", "layer"),
    "road name field": (lambda t, i: lambda s: s.replace('name_field = "name"', 'name_field = "nom"'),
                        "base.roads.name_field", "nom"),
    "corrupt mbtiles": (lambda t, i: lambda s: s + f"tiles = {json.dumps(str(_corrupt_mbtiles(t)))}\n",
                        "base.tiles", "MBTiles"),
    "tiles elsewhere": (lambda t, i: lambda s: s + f"tiles = {json.dumps(str(_xyz_elsewhere(t)))}\n",
                        "base.tiles", "no tiles over the runs' area"),
    "bad toml": (lambda t, i: lambda s: s + "[[runs]\n", "TOML", ""),
    "out is a file": (lambda t, i: lambda s: s.replace(json.dumps(str(t / "site")), json.dumps(str(t / "site.toml"))),
                      "site.toml", "not a folder"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_site_files_exit_2_and_write_nothing(case, inputs, other_grid, tmp_path, capsys):
    make, fld, words = BAD_CASES[case]
    edit = make(tmp_path, inputs)
    if case == "other grid":
        edit = lambda s: s.replace(str(inputs["pond"]), str(other_grid))  # noqa: E731
    elif case == "compare of other runs":       # a compare folder of two runs that are not the site's
        cmp = tmp_path / "cmp"
        compare_runs([inputs["base"], inputs["pond"]], cmp, png=False)
        csv = cmp / "comparison.csv"
        csv.write_text(csv.read_text().replace("pond", "other_b").replace("base", "other_a"))
        edit = lambda s: s.replace(json.dumps(str(inputs["compare"])), json.dumps(str(cmp)))  # noqa: E731
    toml, _ = _bad(tmp_path, inputs, edit)
    listing = sorted(p.name for p in tmp_path.iterdir())
    capsys.readouterr()
    code = main(["publish", str(toml)])
    err = capsys.readouterr().err
    assert code == ExitCode.INPUT, err
    assert str(toml) in err or case == "out is a file", err
    assert fld in err, err
    assert words in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == listing            # nothing written


def test_publish_run_folders_without_a_site_file_uses_defaults(inputs, tmp_path):
    _asset_cache_or_skip()
    out = tmp_path / "plain"
    assert main(["publish", str(inputs["base"]), "--out", str(out), "--offline"]) == ExitCode.OK
    record = json.loads((out / "site.json").read_text())
    t = record["texts"]
    assert "a single modelled event" in t["event"] and "mm of rain" in t["event"]
    assert t["date"] and t["model_version"].startswith("floodsim ")
    assert record["reports"] == len(inputs["runs"][0].buildings)          # no address layer: per building
    html = (out / "index.html").read_text(encoding="utf-8")
    assert '<html lang="en"' in html and "<title>" in html and "not a forecast" in html
    # tiles, not embedded rasters
    assert "data:image/png;base64" not in html or len(html) < 400_000


def test_publish_rejects_a_mix_of_site_file_and_runs(inputs, tmp_path, capsys):
    toml = _site_file(tmp_path, inputs)
    assert main(["publish", str(toml), str(inputs["base"])]) == ExitCode.INPUT
    assert "not both" in capsys.readouterr().err
    assert main(["publish", str(tmp_path / "nothing_here")]) == ExitCode.INPUT


def test_map_command_writes_one_self_contained_page(inputs, tmp_path):
    out = tmp_path / "m.html"
    assert main(["map", str(inputs["base"]), str(inputs["pond"]), "--out", str(out)]) == ExitCode.OK
    html = out.read_text(encoding="utf-8")
    assert "data:image/png;base64," in html                    # rasters embedded, no tiles folder
    assert not (tmp_path / "tiles").exists()
    assert "<title>" in html and "<html lang=" in html
    b64 = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)
    assert b64 and all(base64.b64decode(x)[:8] == b"\x89PNG\r\n\x1a\n" for x in b64[:5])


def test_missing_offline_assets_exit_2_and_write_nothing(inputs, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FLOODSIM_ASSETS", str(tmp_path / "empty_cache"))
    out = tmp_path / "site"
    assert main(["publish", str(inputs["base"]), "--out", str(out)]) == ExitCode.INPUT
    assert "floodsim map-assets" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_killed_publish_leaves_nothing_the_next_one_keeps(inputs, tmp_path):
    """The staging folder of a publish killed on this host (its process gone) is removed by the next."""
    _asset_cache_or_skip()
    out = tmp_path / "site"
    host = rf.process_tag().rpartition("-")[0]
    dead = 2 ** 22 + 12345                      # above Linux's pid_max default: no such process
    stale = tmp_path / f"site{rf.STAGING_INFIX}{host}-{dead}"
    stale.mkdir()
    (stale / "index.html").write_text("half")
    S.write_site(S.spec_from_runs([inputs["base"]]), out=out, offline=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]
