"""Parser fuzzing (hypothesis): whatever a user writes, ``floodsim validate`` answers 0 (valid) or 2 (bad
input, a short message), never 1 (a bug, a traceback) or 3, and never raises or writes a file.

Generated inputs (issue 10): scenario TOML text (valid and invalid values for the known keys, random extra
keys, random unicode with ``{{ }}``, ``/``, ``<script>``, NaN, ±inf, 1e38, 1e308, huge integers), CSV
hyetographs and hydrographs (random headers, cells and encodings), the attributes of a measure layer (a
small GeoPackage written with geopandas: random names, levels and depths of any type), and sweep files
(random parameter paths, values, bases, metrics; checked by ``load_sweep`` and ``prepare_sweep``, the
sweep's own validation, which writes nothing).

Examples are derandomised under the ``ci`` profile (tests/conftest.py) and capped at
``FLOODSIM_FUZZ_EXAMPLES`` (default 30) per test; ``HYPOTHESIS_PROFILE=explore`` uses that profile's
example count (1000) and random seeds.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import math
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from floodsim.cli import main
from floodsim.errors import ExitCode, FloodsimError, exit_code_of

ROOT = Path(__file__).resolve().parents[2]
GIS = ROOT / "gis_data" / "merewether"
DEM = GIS / "dem.tif"
MERE, STORE, TERR = GIS / "merewether.gpkg", GIS / "measures_storage.gpkg", GIS / "measures_terrain.gpkg"

#: Longest message accepted [characters] (as in test_exit_codes.py).
MAX_MESSAGE = 2000

_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                      HealthCheck.filter_too_much],
                **({"max_examples": int(os.environ.get("FLOODSIM_FUZZ_EXAMPLES", "30"))} if _PROFILE == "ci" else {}))

# ------------------------------------------------------------------------------------------ values
HOSTILE_TEXT = ["", " ", "{{ name }}", "{0}", "%s", "a/b", "../../etc/passwd", "<script>alert(1)</script>",
                "\u202eevil", "NaN", "inf", "1e308", "'; DROP TABLE x; --", "C:\\con\\aux", "é" * 300,
                "\u0000", "\x1b[31m", "null", "true", "\ud7ff\ue000"]
SPECIAL_NUMBERS = [0, -1, 1, 0.0, -0.0, 1e-300, 5e-324, 1e38, -1e38, 3.4e38, 1e308, -1e308, math.inf, -math.inf,
                   math.nan, 2**63, -(2**63), 10**30, 1e12, 1e12 + 1, 525_600.0, 525_601.0, 1e4, -1e4]

texts = st.text(max_size=24) | st.sampled_from(HOSTILE_TEXT)
numbers = (st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**30), 10**30)
           | st.sampled_from(SPECIAL_NUMBERS))
anything = numbers | texts | st.booleans() | st.lists(numbers | texts, max_size=3)


def toml_value(v) -> str:
    """``v`` as TOML (inline tables and arrays; strings through JSON, which TOML's basic strings read)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k), ensure_ascii=False)} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(type(v))


def toml_document(data: dict) -> str:
    return "".join(f"{json.dumps(str(k), ensure_ascii=False)} = {toml_value(v)}\n" for k, v in data.items())


#: Names a user may legitimately write: any printable text, hostile-looking included.
names = (st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=24).filter(str.strip)
         | st.sampled_from(["{{ name }}", "a/b", "<script>alert(1)</script>", "é" * 200, "NaN", "../x", "%s"]))


@st.composite
def mutated(draw, doc):
    """``doc`` (a valid document: nested dicts and lists) with 0–3 mutations: a value replaced by anything,
    a key added with any value, or a key removed. Half the examples stay valid, so the build is fuzzed
    too, not only the parser."""
    def places(node, path=()):
        if isinstance(node, dict):
            for k, v in node.items():
                yield path + (k,), node
                yield from places(v, path + (k,))
        elif isinstance(node, list):
            for k, v in enumerate(node):
                yield path + (k,), node
                yield from places(v, path + (k,))

    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2, 3]))):
        spots = list(places(doc))
        if not spots:
            break
        path, parent = spots[draw(st.integers(0, len(spots) - 1))]
        what = draw(st.sampled_from(["value", "value", "add", "remove"]))
        if what == "value":
            parent[path[-1]] = draw(anything)
        elif what == "add" and isinstance(parent, dict):
            parent[draw(texts | st.sampled_from(["extends", "source", "dir", "layer", "features"]))] = draw(anything)
        elif what == "remove" and isinstance(parent, dict):
            del parent[path[-1]]
    return doc


def layer_ref(gpkg: Path, layer: str):
    return st.just({"path": str(gpkg), "layer": layer})


def finite(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


MEASURES = {
    "tank": lambda: st.fixed_dictionaries(
        {"type": st.just("tank"), "name": names, "inlets": layer_ref(STORE, "tank_inlets"),
         "inflow_capacity_m3_s": finite(0, 2), "volume_m3": finite(1, 2000)},
        optional={"pump_rate_m3_s": finite(0, 1), "pump_start_min": finite(0, 60)}),
    "pond": lambda: st.fixed_dictionaries(
        {"type": st.just("pond"), "name": names, "layer": layer_ref(TERR, "pond")},
        optional={"bottom_level_m": finite(15.0, 25.0), "manning": finite(0.01, 0.2)}),
    "rain_bed": lambda: st.fixed_dictionaries(
        {"type": st.just("rain_bed"), "name": names, "layer": layer_ref(TERR, "rain_beds")},
        optional={"storage_depth_m": finite(0.01, 1.0), "ks_mm_h": finite(1, 300),
                  "soil": st.sampled_from(["loam", "sand"])}),
    "pond_outlet": lambda: st.fixed_dictionaries(
        {"type": st.just("pond_outlet"), "name": names, "outlet": layer_ref(STORE, "pond_outlet"),
         "orifice_cd": finite(0.1, 1), "orifice_area_m2": finite(0.001, 1), "orifice_level_m": finite(15, 25)}),
}


@st.composite
def valid_scenarios(draw) -> dict:
    doc = {"name": draw(names), "domain": {"dem": str(DEM)},
           "simulation": draw(st.fixed_dictionaries(
               {"duration_min": finite(0.5, 2.0), "coarsen": st.just(8)},
               optional={"output_interval_min": finite(0.5, 1.0), "cfl": finite(0.01, 1.0), "theta": finite(0, 1),
                         "hmin_m": finite(1e-4, 0.01), "dt_max_s": finite(0.01, 10)}))}
    if draw(st.booleans()):
        doc["rainfall"] = draw(st.fixed_dictionaries({"kind": st.just("block"), "intensity_mm_h": finite(0, 200),
                                                      "duration_min": finite(1, 60)},
                                                     optional={"start_min": finite(0, 10)}))
    if draw(st.booleans()):
        doc["infiltration"] = draw(st.sampled_from([
            {"model": "horton", "f0_mm_h": 50.0, "fc_mm_h": 5.0, "k_per_h": 2.0},
            {"model": "green-ampt", "soil": "loam", "initial_saturation": 0.4},
            {"model": "none"}]))
    if draw(st.booleans()):
        doc["surface"] = {"manning": draw(finite(0.01, 0.2))}
    if draw(st.booleans()):
        doc["boundaries"] = draw(st.lists(st.fixed_dictionaries(
            {"side": st.sampled_from(["north", "south", "east", "west"]), "kind": st.sampled_from(["free", "critical"])},
            optional={"slope": finite(1e-4, 0.1)}), max_size=1))
    if draw(st.booleans()):
        doc["inflows"] = [{"name": draw(names), "area": {"path": str(MERE), "layer": "inflow_area"},
                           "discharge_m3_s": draw(finite(0, 5))}]
    if draw(st.booleans()):
        kinds = draw(st.lists(st.sampled_from(sorted(MEASURES)), max_size=2, unique=True))
        doc["measures"] = [draw(MEASURES[k]()) for k in kinds]
        if any(k in ("pond", "rain_bed") for k in kinds) and doc.get("infiltration", {}).get("model") == "horton":
            del doc["infiltration"]
    if draw(st.booleans()):
        doc["output"] = {"flood_threshold_m": draw(finite(0.01, 1)), "compare_to_baseline": draw(st.booleans())}
    return doc


def scenarios():
    return valid_scenarios().flatmap(mutated)


# ------------------------------------------------------------------------------------------ harness
_counter = itertools.count()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@contextlib.contextmanager
def example_folder(workdir: Path):
    folder = workdir / f"ex{next(_counter)}"
    folder.mkdir()
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def listing(folder: Path) -> set[str]:
    return {str(p) for p in folder.rglob("*")}


def validate(path: Path) -> tuple[int, str]:
    """``floodsim validate PATH`` in process: (exit code, stderr). Fails the test on a bug (exit 1, an
    exception), on exit 3, on a long or traceback message, or on a file written."""
    before = listing(path.parent) | listing(GIS)
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["validate", str(path)])
    text = err.getvalue()
    event(f"exit {int(code)}")   # --hypothesis-show-statistics shows how many examples were valid
    assert code in (ExitCode.OK, ExitCode.INPUT), f"exit {code} for\n{path.read_bytes()[:3000]!r}\n{text[-3000:]}"
    assert "Traceback" not in text, text
    if code == ExitCode.INPUT:
        assert text.startswith("floodsim: error: ") and len(text) < MAX_MESSAGE, text[:3000]
    assert listing(path.parent) | listing(GIS) == before, "validate wrote a file"
    return code, text


# ------------------------------------------------------------------------------------------ tests
@FUZZ
@given(scenarios())
def test_fuzzed_scenario_toml_validates_to_0_or_2(workdir, doc):
    with example_folder(workdir) as folder:
        path = folder / "s.toml"
        path.write_text(toml_document(doc), encoding="utf-8")
        validate(path)


@FUZZ
@given(st.text(max_size=400) | st.binary(max_size=400))
def test_fuzzed_scenario_bytes_validate_to_0_or_2(workdir, text):
    """Arbitrary text or bytes after a valid head: TOML or YAML syntax errors, stray keys, encodings."""
    head = f'name = "fuzz"\n[domain]\ndem = "{DEM}"\n[simulation]\nduration_min = 1.0\ncoarsen = 8\n'
    with example_folder(workdir) as folder:
        for suffix in (".toml", ".yaml"):
            path = folder / f"s{suffix}"
            body = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
            path.write_bytes(head.encode() + body if suffix == ".toml" else body)
            validate(path)


CSV_HEADERS = ["time_min,intensity_mm_h", "time_min,discharge_m3_s", "intensity_mm_h,time_min",
               "time_min;intensity_mm_h", "time_min,intensity_mm_h,extra", "", "time_min"]
cells = (numbers.map(lambda v: repr(v) if isinstance(v, float) else str(v)) | texts
         | st.sampled_from(["", " ", "1e308", "-0", "0x10", "1,5", "\"3\"", "nan", "NaN", "-inf"]))


@st.composite
def csv_series(draw, value_column: str):
    """A valid series (increasing times, values >= 0), then 0–3 mutations: a cell, a row or the header
    replaced, or a row dropped or repeated."""
    n = draw(st.integers(1, 6))
    times = np.cumsum(draw(st.lists(finite(0.1, 30), min_size=n, max_size=n))) - 0.1
    rows = [[repr(float(tm)), repr(draw(finite(0, 200)))] for tm in times]
    header = f"time_min,{value_column}"
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2, 3]))):
        what = draw(st.sampled_from(["cell", "cell", "row", "header", "drop", "repeat"]))
        k = draw(st.integers(0, len(rows) - 1)) if rows else 0
        if what == "cell" and rows:
            rows[k][draw(st.integers(0, 1))] = draw(cells)
        elif what == "row" and rows:
            rows[k] = draw(st.lists(cells, min_size=1, max_size=3))
        elif what == "header":
            header = draw(st.sampled_from(CSV_HEADERS) | texts)
        elif what == "drop" and rows:
            del rows[k]
        elif what == "repeat" and rows:
            rows.insert(k, list(rows[k]))
    return header + "\n" + "".join(",".join(r) + "\n" for r in rows)


@FUZZ
@given(data=st.data(), encoding=st.sampled_from(["utf-8", "utf-8", "latin-1", "utf-16"]),
       use=st.sampled_from(["hyetograph", "hydrograph"]))
def test_fuzzed_csv_series_validate_to_0_or_2(workdir, data, encoding, use):
    text = data.draw(csv_series("intensity_mm_h" if use == "hyetograph" else "discharge_m3_s"))
    with example_folder(workdir) as folder:
        try:
            (folder / "series.csv").write_bytes(text.encode(encoding))
        except UnicodeEncodeError:
            assume(False)
        if use == "hyetograph":
            body = 'rainfall = { kind = "hyetograph", csv = "series.csv" }\n'
        else:
            body = (f'inflows = [{{ name = "creek", area = {{ path = "{MERE}", layer = "inflow_area" }}, '
                    'hydrograph_csv = "series.csv" }]\n')
        path = folder / "s.toml"
        path.write_text(f'name = "fuzz"\ndomain = {{ dem = "{DEM}" }}\nsimulation = {{ duration_min = 2.0, '
                        f'coarsen = 8 }}\n{body}', encoding="utf-8")
        validate(path)


attribute_values = (numbers | texts | st.none() | st.sampled_from(["12.5", "-3", "1e400", " 20 ", ""]))


def _write_layer(gdf, path: Path) -> None:
    """Write ``gdf``; values the GeoPackage writer itself refuses are not inputs a user can have."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gdf.to_file(path, layer="feat", driver="GPKG")
    except Exception:  # noqa: BLE001 - pyogrio/GDAL refuse some mixed or exotic column values
        assume(False)


@FUZZ
@given(kind=st.sampled_from(["pond", "rain_bed", "cloudburst_road", "tank", "tunnel"]),
       names=st.lists(texts, min_size=1, max_size=5), values=st.lists(attribute_values, min_size=1, max_size=5),
       extra=st.dictionaries(st.sampled_from(["width_m", "depth_m", "segment", "note"]), attribute_values,
                             max_size=2),
       select=st.none() | st.lists(texts, max_size=2), from_scenario=st.booleans())
def test_fuzzed_measure_layer_attributes_validate_to_0_or_2(workdir, kind, names, values, extra, select,
                                                            from_scenario):
    """A measure layer whose attributes (feature names, the per-feature depth/level/capacity the measure
    reads, stray columns) hold anything a GIS can store."""
    import geopandas as gpd

    source, layer, column = {"pond": (TERR, "pond", "bottom_level_m"),
                             "rain_bed": (TERR, "rain_beds", "storage_depth_m"),
                             "cloudburst_road": (TERR, "cloudburst_road", "width_m"),
                             "tank": (STORE, "tank_inlets", "bed_m"),
                             "tunnel": (STORE, "tunnel_intakes", "capacity_m3_s")}[kind]
    gdf = gpd.read_file(source, layer=layer)[["geometry"]]
    n = len(gdf)
    gdf["name"] = [names[k % len(names)] for k in range(n)]
    column_values = [values[k % len(values)] for k in range(n)]
    gdf[column] = column_values if len({type(v) for v in column_values}) == 1 else [str(v) for v in column_values]
    for key, value in extra.items():
        gdf[key] = [value] * n
    with example_folder(workdir) as folder:
        _write_layer(gdf, folder / "layer.gpkg")
        ref = {"path": "layer.gpkg", "name_field": "name"} if kind in ("tank", "tunnel") else {"path": "layer.gpkg"}
        if select is not None and kind in ("tank", "tunnel"):
            ref["features"] = select
        measure = {"type": kind, "name": "m"}
        if kind in ("pond", "rain_bed", "cloudburst_road"):
            measure["layer"] = ref
            if select is not None:
                measure["features"] = select
            if from_scenario:
                measure.update({"pond": {"bottom_level_m": 20.0}, "rain_bed": {"storage_depth_m": 0.2},
                                "cloudburst_road": {"depth_m": 0.3}}[kind])
            elif kind == "cloudburst_road":
                measure["depth_m"] = 0.3
        elif kind == "tank":
            measure.update(inlets=ref, inflow_capacity_m3_s=0.5, volume_m3=100.0)
        else:
            measure.update(intakes=ref, segment_volumes_m3=[100.0, 100.0, 100.0, 100.0, 100.0], conveyance_m3_s=1.0,
                           outfall_capacity_m3_s=0.5, outfall_invert_m=16.0)
        doc = {"name": "fuzz", "domain": {"dem": str(DEM)}, "simulation": {"duration_min": 1.0, "coarsen": 8},
               "measures": [measure]}
        path = folder / "s.toml"
        path.write_text(toml_document(doc), encoding="utf-8")
        validate(path)


PARAMETER_PATHS = ["measures.0.volume_m3", "measures.0.inflow_capacity_m3_s", "simulation.duration_min",
                   "rainfall.intensity_mm_h", "boundaries.0.slope", "measures.3.volume_m3", "measures.x.volume_m3",
                   "name", "domain.dem", "rainfall.return_period_yr", "simulation", ""]
VALID_GRID = {"measures.0.volume_m3": finite(10, 2000), "measures.0.inflow_capacity_m3_s": finite(0, 2),
              "simulation.duration_min": finite(0.5, 2)}


@st.composite
def sweep_files(draw) -> dict:
    keys = draw(st.lists(st.sampled_from(sorted(VALID_GRID)), min_size=1, max_size=2, unique=True))
    doc = {"base": "s.toml", "grid": {k: draw(st.lists(VALID_GRID[k], min_size=1, max_size=2)) for k in keys}}
    if draw(st.booleans()):
        doc["members"] = [{"label": draw(names), "measures.0.volume_m3": draw(finite(10, 2000))}]
    if draw(st.booleans()):
        doc["rank_by"] = draw(st.sampled_from(["damage_eur", "max_depth_m", "max_stored_volume_m3"]))
    for _ in range(draw(st.sampled_from([0, 1, 1, 2]))):
        what = draw(st.sampled_from(["base", "key", "values", "rank_by", "member", "top"]))
        if what == "base":
            doc["base"] = draw(st.sampled_from(["nothere.toml", "", "s.toml/", ".", "sweep.toml"]) | texts)
        elif what == "key":
            doc["grid"][draw(st.sampled_from(PARAMETER_PATHS) | texts)] = draw(st.lists(anything, max_size=3))
        elif what == "values":
            doc["grid"][keys[0]] = draw(st.lists(anything, max_size=3) | anything)
        elif what == "rank_by":
            doc["rank_by"] = draw(anything)
        elif what == "member":
            doc["members"] = draw(st.lists(st.dictionaries(st.sampled_from(PARAMETER_PATHS + ["label"]), anything,
                                                           max_size=2), max_size=2) | anything)
        else:
            doc[draw(texts | st.sampled_from(["damage", "ead", "source"]))] = draw(anything)
    return doc


@FUZZ
@given(sweep_files())
def test_fuzzed_sweep_files_are_accepted_or_refused_as_input(workdir, doc):
    """A sweep file is checked by ``load_sweep`` and ``prepare_sweep`` (every member validated, every data
    file read, damage settings checked; nothing written): it passes, or raises an error of exit code 2."""
    from floodsim.sweep import load_sweep
    from floodsim.sweep.execute import prepare_sweep

    with example_folder(workdir) as folder:
        (folder / "s.toml").write_text(
            f'name = "base"\ndomain = {{ dem = "{DEM}" }}\nsimulation = {{ duration_min = 1.0, coarsen = 8 }}\n'
            f'measures = [{{ type = "tank", name = "tank", inlets = {{ path = "{STORE}", layer = "tank_inlets" }}, '
            'inflow_capacity_m3_s = 0.5, volume_m3 = 100.0 }]\n', encoding="utf-8")
        path = folder / "sweep.toml"
        path.write_text(toml_document(doc), encoding="utf-8")
        before = listing(folder)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                prepare_sweep(load_sweep(path))
            event("accepted")
        except FloodsimError as exc:
            event("refused")
            assert exit_code_of(exc) == ExitCode.INPUT, exc
            assert len(str(exc)) < MAX_MESSAGE, str(exc)[:3000]
        assert listing(folder) == before


def test_toml_writer_round_trips():
    import tomllib

    doc = {"a": [1, 2.5, math.inf], "b": {"c": "x\"y\n{{ }}</script>", "d": True}, "é": -0.0, "n": 10**30}
    back = tomllib.loads(toml_document(doc))
    assert back["b"] == doc["b"] and back["a"][:2] == [1, 2.5] and math.isinf(back["a"][2]) and back["n"] == 10**30
    assert np.signbit(back["é"])
