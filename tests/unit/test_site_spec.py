"""The site file of ``floodsim publish`` (schema and messages), the texts' defaults, and the tile maths
(web-mercator tile grid against morecantile; a tile pixel shows the class of the grid cell under it)."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from affine import Affine
from rasterio.enums import Resampling
from rasterio.warp import transform as transform_points

from floodsim.errors import ScenarioError
from floodsim.maps import tiles as T
from floodsim.maps.site import fill_texts, rain_in_words
from floodsim.scenario.site import DEFAULT_ADVICE, DEFAULT_DISCLAIMER, PublishTexts, load_site

HOSTILE = '{{7*7}} </script><script>alert(1)</script> "quoted" \u2028 {% x %} Ørsted'


def _write(tmp_path: Path, text: str, name: str = "site.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_full_site_file_resolves_paths_from_its_folder(tmp_path):
    p = _write(tmp_path, f"""
compare = "cmp"
sweep = "sw"
design = "baseline"
out = "site/x"

[publish]
title = {json.dumps(HOSTILE)}
language = "en-GB"
event = "A 60 mm cloudburst"
advice = ["Move valuables upstairs"]
contact = "flood@example.org"

[[runs]]
path = "../outputs/base"
label = "Today"
[[runs]]
path = "/abs/pond"

[addresses]
path = "addr.gpkg"
layer = "addresses"
field = "addr"

[base]
online = false
tiles = "base.mbtiles"
roads = {{ path = "city.gpkg", layer = "roads", name_field = "name" }}
""")
    spec = load_site(p)
    assert spec.publish.title == HOSTILE      # kept literally: escaped where it is shown
    assert spec.publish.language == "en-GB"
    assert spec.runs[0].path == tmp_path / "../outputs/base"
    assert spec.runs[1].path == Path("/abs/pond")
    assert spec.runs[0].label == "Today" and spec.runs[1].label is None
    assert spec.compare == tmp_path / "cmp" and spec.sweep == tmp_path / "sw" and spec.design == "baseline"
    assert spec.addresses.field == "addr" and spec.addresses.path == tmp_path / "addr.gpkg"
    assert spec.base.online is False and spec.base.tiles == tmp_path / "base.mbtiles"
    assert spec.base.roads.name_field == "name"
    assert spec.out == tmp_path / "site/x"
    assert spec.source == p.resolve()


def test_defaults_are_sensible(tmp_path):
    spec = load_site(_write(tmp_path, '[[runs]]\npath = "r"\n'))
    t = spec.publish
    assert t.title and t.language == "en"
    assert t.disclaimer == DEFAULT_DISCLAIMER and "not a forecast" in t.disclaimer
    assert list(t.advice) == list(DEFAULT_ADVICE)
    assert t.event is None and t.date is None and t.model_version is None   # filled from the runs
    assert spec.base.online is True and spec.compare is None and spec.sweep is None


@pytest.mark.parametrize(
    "body, field, fix",
    [
        ('[[runs]]\npath = "r"\nbogus = 1\n', "bogus", "spelling"),
        ('[[runs]]\npath = "r"\n[publish]\nlanguage = "english please"\n', "publish.language", "BCP 47"),
        ('[[runs]]\npath = "r"\n[publish]\ntitle = "a\\u0007b"\n', "publish.title", ""),
        ('[[runs]]\npath = "r"\n[publish]\ndisclaimer = "a\\u0000b"\n', "publish.disclaimer", "control"),
        ('[[runs]]\npath = "r"\n[[runs]]\npath = "r"\n', "runs", "twice"),
        ('runs = []\n', "runs", ""),
        ('[publish]\ntitle = "x"\n', "runs", ""),
        ('source = "x"\n[[runs]]\npath = "r"\n', "source", "unknown"),
        ('[[runs]]\npath = ""\n', "runs", "empty"),
        ('[[runs]]\npath = "r"\n[addresses]\nfield = "a"\n', "addresses.path", ""),
        ('[[runs]]\npath = "r"\n[base]\nonline = "yes please"\n', "base.online", ""),
        ('[[runs]]\npath = "r"\n[publish]\nadvice = "one string"\n', "publish.advice", ""),
        (f'[[runs]]\npath = "r"\n[publish]\ndisclaimer = "{"x" * 5000}"\n', "publish.disclaimer", ""),
        ('[[runs]\npath = "r"\n', "TOML", ""),
        ('[[runs]]\npath = "r"\ncompare = "c"\n', "runs[0].compare", "before the first table"),
    ],
)
def test_bad_site_files_name_the_file_and_the_field(tmp_path, body, field, fix):
    p = _write(tmp_path, body)
    with pytest.raises(ScenarioError) as err:
        load_site(p)
    msg = str(err.value)
    assert str(p) in msg
    assert field in msg, msg
    assert fix in msg, msg


def test_missing_site_file(tmp_path):
    with pytest.raises(ScenarioError, match="site file not found"):
        load_site(tmp_path / "nope.toml")


# ------------------------------------------------------------------------------------- texts' defaults
class _FakeRun:
    """What :func:`rain_in_words` reads of a run: the cumulative rain volume and the grid."""

    def __init__(self, rain_m3, times_s, cells=(10, 20), cell_m=2.0, nan_cells=0):
        ny, nx = cells
        elev = np.zeros((ny, nx), np.float32)
        elev.ravel()[:nan_cells] = np.nan
        self.ds = xr.Dataset({"volume_rain": ("time", np.asarray(rain_m3, float)),
                              "elevation": (("y", "x"), elev)},
                             coords={"time": np.asarray(times_s, float)},
                             attrs={"dx_m": cell_m, "dy_m": cell_m})
        self.transform = Affine(cell_m, 0, 0, 0, -cell_m, 0)


def test_rain_in_words_from_the_cumulative_volume():
    # 200 valid cells of 4 m² = 800 m²; 24 m³ = 30 mm, all fallen by 20 min of 30
    run = _FakeRun([0, 12, 24, 24], [0, 600, 1200, 1800])
    assert rain_in_words(run) == "30 mm of rain over the model area within 20 minutes"
    # NaN cells are outside the model: 100 valid cells → 60 mm
    run = _FakeRun([0, 24], [0, 300], nan_cells=100)
    assert rain_in_words(run).startswith("60 mm")
    assert rain_in_words(_FakeRun([0, 0], [0, 60])) is None            # no rain (inflow scenario)


def test_fill_texts_defaults_and_keeps_given_texts():
    run = _FakeRun([0, 12, 24], [0, 600, 1200])
    t = fill_texts(PublishTexts(), [run], ["Today"], today=dt.date(2026, 5, 4))
    import floodsim

    assert t.event == "Today: 30 mm of rain over the model area within 20 minutes, a single modelled event"
    assert t.date == "2026-05-04"
    assert t.model_version == f"floodsim {floodsim.__version__}"
    given = PublishTexts(event=HOSTILE, date="spring", model_version="v9")
    assert fill_texts(given, [run], ["Today"]) == given


def test_fill_texts_with_likelihood_names_the_design_storms():
    from floodsim.maps.sitedata import Likelihood

    lk = Likelihood(design="no pond", return_periods_yr=[5.0, 100.0],
                    storms={"5-yr": "20 mm in 30 min ≈ a 1-in-5-year rain today"})
    t = fill_texts(PublishTexts(), [_FakeRun([0, 24], [0, 60])], ["Today"], lk)
    assert t.event.startswith("Today: 30 mm of rain over the model area within 1 minute, a single modelled "
                              "event. Likelihood: design storms of 5, 100-year return periods (sweep design "
                              "no pond): 20 mm in 30 min")
    assert "1-in-5-year" in t.event


# -------------------------------------------------------------------------------------------- tiles
@pytest.mark.parametrize("z, x, y", [(0, 0, 0), (5, 3, 17), (16, 60391, 39125), (18, 241567, 156501)])
def test_tile_transform_matches_morecantile(z, x, y):
    morecantile = pytest.importorskip("morecantile")
    b = morecantile.tms.get("WebMercatorQuad").xy_bounds(x, y, z)
    t = T.tile_transform(z, x, y)
    left, top = t * (0, 0)
    right, bottom = t * (256, 256)
    assert np.allclose([left, bottom, right, top], [b.left, b.bottom, b.right, b.top], atol=1e-6)


def test_tile_range_covers_the_bounds():
    bounds = (100.0, -2000.0, 5000.0, 3000.0)
    for z in (10, 14, 17):
        x0, y0, x1, y1 = T.tile_range(bounds, z)
        a, b = T.tile_transform(z, x0, y0), T.tile_transform(z, x1, y1)
        assert (a * (0, 0))[0] <= bounds[0] < (a * (256, 0))[0]
        assert (a * (0, 0))[1] >= bounds[3] > (a * (0, 256))[1]
        assert (b * (256, 0))[0] >= bounds[2] > (b * (0, 0))[0]
        assert (b * (0, 256))[1] <= bounds[1] < (b * (0, 0))[1]


def test_native_zoom_follows_the_cell_size():
    # 1 m cells at 33° S (MGA 56): a zoom-17 ground pixel is 1.0 m there
    t1 = Affine(1.0, 0, 382000.0, 0, -1.0, 6355000.0)
    assert T.native_zoom(t1, "EPSG:28356", (100, 100)) == 17
    t4 = Affine(4.0, 0, 382000.0, 0, -4.0, 6355000.0)
    assert T.native_zoom(t4, "EPSG:28356", (100, 100)) == 15
    assert T.zoom_range(t4, "EPSG:28356", (100, 100)) == (12, 16)


def test_tile_pixels_show_the_class_of_the_cell_under_them(tmp_path):
    """Classes on a 4 m grid in MGA 56: every opaque tile pixel at the deepest level equals the painted
    class of the grid cell under its centre; transparent pixels lie over empty cells; only non-empty
    tiles are written and the index lists exactly those."""
    from PIL import Image

    rng = np.random.default_rng(3)
    ny, nx = 60, 80
    values = rng.integers(1, 5, size=(ny, nx)).astype(np.float32)
    values[:, :30] = np.nan                     # the west part is empty: some tiles have nothing
    transform = Affine(4.0, 0, 382000.0, 0, -4.0, 6355000.0)
    colours = {1: (255, 0, 0), 2: (0, 255, 0), 3: (0, 0, 255), 4: (255, 255, 0)}

    def painter(v):
        rgba = np.zeros(v.shape + (4,), np.uint8)
        for k, c in colours.items():
            rgba[v == k] = (*c, 255)
        return rgba

    info = T.write_pyramid(values, transform, "EPSG:28356", Resampling.nearest, painter, tmp_path)
    zmin, zmax = info["zoom"]
    assert (zmin, zmax) == (12, 16)
    files = sorted(tmp_path.rglob("*.png"))
    assert len(files) == info["tiles"] > 0
    assert info["bytes"] == sum(f.stat().st_size for f in files)
    # the index lists exactly the files written
    listed = set()
    for z, (x0, y0, nxt, nyt, bits) in info["index"].items():
        import base64

        b = np.unpackbits(np.frombuffer(base64.b64decode(bits), np.uint8), bitorder="little")[:nxt * nyt]
        for k in np.flatnonzero(b):
            listed.add((int(z), x0 + k % nxt, y0 + k // nxt))
    assert listed == {(int(f.parts[-3]), int(f.parts[-2]), int(f.stem)) for f in files}
    checked = 0
    inv = ~transform
    for f in files:
        z, x, y = int(f.parts[-3]), int(f.parts[-2]), int(f.stem)
        if z != zmax:
            continue
        img = np.asarray(Image.open(f).convert("RGBA"))
        tt = T.tile_transform(z, x, y)
        rows, cols = np.mgrid[0:256:3, 0:256:3]
        mx, my = tt * (cols + 0.5, rows + 0.5)
        ex, ey = transform_points("EPSG:3857", "EPSG:28356", mx.ravel(), my.ravel())
        fc, fr = inv * (np.asarray(ex), np.asarray(ey))
        for pr, pc, fx, fy in zip(rows.ravel(), cols.ravel(), fc, fr):
            if abs(fx - round(fx)) < 1e-3 or abs(fy - round(fy)) < 1e-3:
                continue            # within a hair of a cell edge: float rounding decides those
            px = img[pr, pc]
            ci, ri = int(math.floor(fx)), int(math.floor(fy))
            inside = 0 <= ci < nx and 0 <= ri < ny
            if not inside or math.isnan(values[ri, ci]):
                assert px[3] == 0
            else:
                assert tuple(px) == (*colours[int(values[ri, ci])], 255)
                checked += 1
    assert checked > 500


def test_the_bundled_site_file_is_valid():
    """scenarios/publish/merewether_site.toml validates (its run folders are made by the commands it lists)."""
    from pathlib import Path

    from floodsim.scenario.site import load_site

    root = Path(__file__).resolve().parents[2]
    spec = load_site(root / "scenarios" / "publish" / "merewether_site.toml")
    assert [r.label for r in spec.runs] == ["Today", "With the park buffer pond"]
    assert spec.publish.language == "en-AU" and spec.compare is not None and spec.sweep is not None
    assert spec.base.roads is not None and spec.base.roads.name_field is None
