"""Text from data is shown on a map page, never interpreted: not as Jinja, HTML or JavaScript.

branca renders every element's script twice as a Jinja template, so ``{{7*7}}`` in a building id once
showed 49 and ``{{ cycler.__init__.__globals__.os… }}`` reached ``os``. A copy of the pond run holds
hostile strings in every place a map takes text from: the scenario name (``summary.json``), building ids
and an address attribute (``flood.gpkg`` ``buildings``), measure names and types (``measures``). Each page
(planner, before/after planner, resident; through :mod:`floodsim.maps` and through ``floodsim map``) must
keep no Jinja delimiter, tag, script end or line separator from the data, and must show every string
exactly as it is in the data. No browser here (see ``test_maps_browser.py`` for one).
"""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import geopandas as gpd
import jinja2
import pyogrio
import pytest

from floodsim.cli import main
from floodsim.errors import ExitCode
from floodsim.maps import map_run, planner_map, resident_map, write_map
from floodsim.maps.safe import JINJA_DELIMITERS, html_text, js_json

from .test_maps import _geojson_payloads, make_runs

#: Strings a hostile or careless data source could put in any text field.
HOSTILE = (
    "{{7*7}}",
    "{% if true %}X{% endif %}",
    "${7*7}",
    "</script><script>alert(1)</script>",
    "line\u2028separator\u2029paragraph",
    "quotes '\" here",
    "<b>bold</b>",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{# comment #}{{",
)
HOSTILE_NAME = "Scenario " + " ".join(HOSTILE)
#: Address of the building whose id is ``HOSTILE[k]``.
ADDRESSES = tuple(f"{k} Main St {s}" for k, s in enumerate(reversed(HOSTILE)))
#: What a page would show had a template evaluated the data.
EVALUATED = ("Scenario 49", "uid=", "alert(1)</script>")

_HOSTILE: dict[int, Path] = {}


def hostile_run(tmp_path_factory) -> Path:
    """A copy of the pond run with :data:`HOSTILE` text in its scenario name, building ids, an address
    attribute and measure names and types. Made once per test session (the browser test uses it too)."""
    key = id(tmp_path_factory)
    if key not in _HOSTILE:
        pond = make_runs(tmp_path_factory)["pond"]
        folder = tmp_path_factory.mktemp("hostile_run") / "hostile"
        shutil.copytree(pond, folder)
        gpkg = folder / "flood.gpkg"
        layers = {name: gpd.read_file(gpkg, layer=name) for name, _ in pyogrio.list_layers(gpkg)}
        b = layers["buildings"]
        id_col = map_run(pond).id_field
        b[id_col] = b[id_col].astype(object)
        b["address"] = [f"{k} Main St" for k in range(len(b))]
        for k, text in enumerate(HOSTILE):
            b.loc[b.index[k], [id_col, "address"]] = [text, ADDRESSES[k]]
        m = layers["measures"]
        for k in range(len(m)):
            m.loc[m.index[k], ["name", "type"]] = [HOSTILE[k % len(HOSTILE)], HOSTILE[-1 - k]]
        m.loc[m.index[0], "name"] = HOSTILE_NAME
        gpkg.unlink()
        for name, gdf in layers.items():
            gdf.to_file(gpkg, layer=name, driver="GPKG")
        summary = json.loads((folder / "summary.json").read_text())
        summary["scenario"] = HOSTILE_NAME
        (folder / "summary.json").write_text(json.dumps(summary))
        _HOSTILE[key] = folder
    return _HOSTILE[key]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return {**make_runs(tmp_path_factory), "hostile": hostile_run(tmp_path_factory)}


def test_hostile_run_reads_back_as_written(runs):
    run = map_run(runs["hostile"])
    assert run.name == HOSTILE_NAME and run.address_field == "address"
    assert set(HOSTILE) <= set(run.buildings[run.id_field])
    assert set(ADDRESSES) <= set(run.buildings["address"])
    assert HOSTILE_NAME in set(run.measures["name"]) and len(run.measures) >= 2


# --- the helpers -----------------------------------------------------------------------------------------


def _render_twice(text: str) -> str:
    """What branca does to a script: render it as a Jinja template (twice, to be sure)."""
    return jinja2.Template(jinja2.Template(text).render()).render()


@pytest.mark.parametrize("text", [*HOSTILE, HOSTILE_NAME, "", "plain & simple"])
def test_html_text_shows_the_same_characters_and_is_inert(text):
    out = html_text(text)
    assert html.unescape(out) == text
    for bad in ("{", "}", "<", ">", '"', "'", "\u2028", "\u2029"):
        assert bad not in out, bad
    assert _render_twice(out) == out
    assert html_text(None) == "" and html_text(7) == "7"


@pytest.mark.parametrize("text", [*HOSTILE, HOSTILE_NAME])
def test_js_json_reads_back_exactly_and_is_inert(text):
    for value in (text, {"a": [text, 1.5, None, {}], text: {"nested": {"deeper": text}}}):
        out = js_json(value)
        assert json.loads(out) == value
        for bad in (*JINJA_DELIMITERS, "<", ">", "&", "'", "\u2028", "\u2029"):
            assert bad not in out, bad
        assert _render_twice(out) == out


def test_maps_modules_escape_only_through_safe():
    """One escaping path: no other module of floodsim.maps escapes or serialises text itself."""
    import floodsim.maps

    for path in Path(floodsim.maps.__file__).parent.glob("*.py"):
        if path.name == "safe.py":
            continue
        src = path.read_text(encoding="utf-8")
        for bypass in ("html.escape", "json.dumps", "|tojson", "| tojson", "|safe", "Markup("):
            assert bypass not in src, f"{path.name} uses {bypass}: use floodsim.maps.safe instead"


# --- the pages -------------------------------------------------------------------------------------------


def _shown(fragment: str) -> str:
    """The text a browser shows for an HTML fragment (tags dropped, character references decoded)."""
    return html.unescape(re.sub(r"<[^>]*>", "", fragment))


_JS_STRING = r'"(?:[^"\\]|\\.)*"'


def _controls(page: str) -> list[str]:
    """The text of every HtmlControl (legends and titles)."""
    return [_shown(json.loads(s)) for s in re.findall(rf"div\.innerHTML = ({_JS_STRING});", page)]


def _layer_names(page: str) -> list[str]:
    """The names listed in the layer controls."""
    names = re.findall(rf"^\s*({_JS_STRING}) : \w+,$", page, flags=re.M)
    names += re.findall(rf"\.addOverlay\(\w+, ({_JS_STRING})\);", page)
    return [_shown(json.loads(s)) for s in names]


def _features(page: str) -> list[dict]:
    return [f["properties"] for fc in _geojson_payloads(page) for f in fc["features"]]


def assert_inert(page: str) -> None:
    """Nothing from :data:`HOSTILE` reached the page as markup, script or template."""
    for delimiter in JINJA_DELIMITERS:
        assert delimiter not in page, delimiter
    for evaluated in EVALUATED:
        assert evaluated not in page, evaluated
    for raw in ("<script>alert", "<b>bold", "\u2028", "\u2029"):
        assert raw not in page, raw
    assert page.lower().count("<script") == page.lower().count("</script")


def assert_shown(page: str, kind: str, after=None) -> None:
    """Every hostile string is on the page, shown exactly as it is in the data."""
    controls, layers, props = _controls(page), _layer_names(page), _features(page)
    labels = {_shown(p["label"]) for p in props if "label" in p}
    popups = [_shown(p["popup"]) for p in props if "popup" in p]
    assert {f"{s} — {a}" for s, a in zip(HOSTILE, ADDRESSES)} <= labels
    for s, a in zip(HOSTILE, ADDRESSES):
        assert any(s in p and a in p for p in popups), s
    if kind == "resident":
        assert any(HOSTILE_NAME in c and "Flood risk map" in c for c in controls)
        assert f"Danger to people — {HOSTILE_NAME}" in layers
        assert sum(HOSTILE_NAME in p for p in popups) >= len(HOSTILE)  # a row per scenario
        return
    if kind == "dual":  # one map comparing A | B (the hostile run is B)
        assert any(c.startswith("floodsim — ") and c.endswith(f" | {HOSTILE_NAME}") for c in controls)
        buildings = f"Buildings by hazard class · {HOSTILE_NAME}"
    else:
        assert f"floodsim — {HOSTILE_NAME}" in controls
        buildings = "Buildings by hazard class"
    assert HOSTILE_NAME in labels  # the first measure's name
    assert set(HOSTILE[1:3]) <= labels
    assert any(f"type: {HOSTILE[-1]}" in p for p in popups)
    assert "Depth at the slider time" in layers and buildings in layers


def _pages(runs) -> dict:
    hostile, base, pond = (map_run(runs[k]) for k in ("hostile", "base", "pond"))
    return {
        "planner": planner_map([hostile], offline=True),
        "dual": planner_map([base, hostile], offline=True),
        "resident": resident_map([hostile, pond], offline=True),
    }


@pytest.fixture(scope="module")
def pages(runs):
    return _pages(runs)


@pytest.mark.parametrize("kind", ["planner", "dual", "resident"])
def test_pages_show_data_literally_and_evaluate_nothing(pages, kind, tmp_path):
    info = write_map(pages[kind], tmp_path / f"{kind}.html")
    page = info["html"].read_text(encoding="utf-8")
    assert_inert(page)
    assert_shown(page, kind)


def test_cli_pages_show_data_literally_and_evaluate_nothing(runs, tmp_path, capsys):
    h, base, pond = (str(runs[k]) for k in ("hostile", "base", "pond"))
    commands = {
        "planner": [h],
        "dual": [base, h],
        "resident": [h, pond, "--resident"],
    }
    for kind, args in commands.items():
        out = tmp_path / f"{kind}.html"
        assert main(["map", *args, "--out", str(out)]) == ExitCode.OK, capsys.readouterr().err
        page = out.read_text(encoding="utf-8")
        assert_inert(page)
        assert_shown(page, kind)
