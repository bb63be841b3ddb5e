"""The exit-code contract of ``floodsim validate`` and ``floodsim run`` over a table of bad inputs (issue 10).

Contract (:mod:`floodsim.errors`, :mod:`floodsim.cli`): 0 success; 2 bad input (the scenario, its data
files, the output folder) with one line per problem naming the file, the field and the fix, and
**nothing written** (no output folder, no stray file beside the scenario); 3 a valid input whose
simulation became unstable; 1 only for bugs. ``validate`` catches every input error that ``run`` meets,
so every row is checked through both commands (in process, ``floodsim.cli.main``).

Each row of the table (:data:`CASES`) is a case id, a builder that writes the bad input into a fresh
project folder (the bundled Merewether scenarios, ``extends``-ed and coarsened ×8 to 52×40 cells), the
expected exit code and a fragment of the expected message (a case-insensitive regular expression).
The layer rows are a matrix: every kind of layer a scenario reads (buildings, gauges, Manning and soil
zones, impervious surfaces, inflow and boundary areas, every measure's layers) × every layer defect.
The API rows call the Python API directly: each must raise a :class:`~floodsim.errors.FloodsimError`
that maps to exit code 2. Every row passes: each message names the file (a sweep's member problems name
the sweep file and the member, one line per problem).

Classes this table found (fixed in the module that owns each): numbers finite but absurd (1e308 in
any table: overflow to inf in unit conversions, exit 0/1/3 → every scenario number within ±1e12, levels
±1e4 m, times within a year, Manning ≤ 1, slopes ≤ 1; the same for CSV values and numeric layer
attributes), arrays nested 1000 deep (RecursionError), a CRS the DEM reader cannot parse, rasters
that are not rasters or have two bands, NetCDF rain without variables or without x/y dimensions, an
inflow discharge attribute that is not a number, an empty ``features`` list, long messages from
nested YAML aliases, and messages that blamed the DEM for a terrain measure's depth.
"""

from __future__ import annotations

import functools
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from floodsim.cli import main
from floodsim.errors import ExitCode, FloodsimError, exit_code_of

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
GIS = ROOT / "gis_data" / "merewether"
MERE, STORE, TERR = GIS / "merewether.gpkg", GIS / "measures_storage.gpkg", GIS / "measures_terrain.gpkg"
DEM = GIS / "dem.tif"
CRS = "EPSG:28356"

#: Longest message accepted on stderr [characters] (echoes of input are bounded).
MAX_MESSAGE = 2000

#: The ``[simulation]`` table of every case: coarsened ×8 (52×40 cells), one simulated minute.
FAST = {"coarsen": "8", "duration_min": "1.0", "output_interval_min": "1.0"}

LEAN = f"""# the Merewether DEM, a block storm and one free edge: the base of the layer rows
name = "lean base"
[domain]
dem = "{DEM}"
[rainfall]
kind = "block"
intensity_mm_h = 60.0
duration_min = 1.0
[[boundaries]]
side = "north"
kind = "free"
slope = 0.02
[simulation]
coarsen = 8
duration_min = 1.0
output_interval_min = 1.0
"""

FULL = f"""# the bundled cloudburst (buildings, roads, Green-Ampt, gauges), coarsened
extends = "{SCENARIOS / 'merewether_cloudburst.toml'}"
name = "full base"
[simulation]
coarsen = 8
duration_min = 1.0
output_interval_min = 1.0
"""


# ------------------------------------------------------------------------------------------ builders
def toml(p: Path, body: str = "", sim: dict | None = None, base: str = "full", top: str = "",
         name: str = '"case"', file: str = "s.toml") -> Path:
    """A scenario extending ``base`` (``full`` or ``lean``): top-level keys ``top``, tables ``body``,
    and the ``[simulation]`` table :data:`FAST` updated by ``sim`` (values written as TOML)."""
    table = {**FAST, **(sim or {})}
    head = f'extends = "{base}.toml"\n' if base else ""
    if name is not None:
        head += f"name = {name}\n"
    text = head + top + "\n" + body + "\n[simulation]\n" + "".join(f"{k} = {v}\n" for k, v in table.items()
                                                                    if v is not None)
    path = p / file
    path.write_text(text, encoding="utf-8")
    return path


def raw(p: Path, text, file: str = "s.toml") -> Path:
    path = p / file
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@functools.lru_cache(maxsize=None)
def _source(gpkg: Path, layer: str):
    import geopandas as gpd

    return gpd.read_file(gpkg, layer=layer)


def write_layer(p: Path, gpkg: Path, layer: str, edit=None, file: str = "layer.gpkg", name: str = "feat",
                extra_layer: bool = False) -> Path:
    """A copy of a bundled layer, edited by ``edit(gdf) -> gdf``, written as layer ``name`` of ``file``
    (with a second layer when ``extra_layer``)."""
    import warnings

    gdf = _source(gpkg, layer).copy()
    if edit is not None:
        gdf = edit(gdf)
    path = p / file
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")        # "'crs' was not provided"
        gdf.to_file(path, layer=name, driver="GPKG")
        if extra_layer:
            gdf.to_file(path, layer="other", driver="GPKG")
    return path


def ref(path, layer=None) -> str:
    """The inside of an inline layer table: ``path = "...", layer = "..."``."""
    return f'path = "{path}"' + (f', layer = "{layer}"' if layer is not None else "")


def write_dem(path: Path, z, nodata=-9999.0, crs=CRS, transform=None):
    import rasterio
    from rasterio.transform import from_origin

    with rasterio.open(path, "w", driver="GTiff", width=z.shape[1], height=z.shape[0], count=1, dtype="float32",
                       crs=crs, transform=transform or from_origin(382250.0, 6354680.0, 8.0, 8.0),
                       nodata=nodata) as dst:
        dst.write(np.asarray(z, dtype="float32"), 1)
    return path


def small_dem():
    yy, xx = np.mgrid[0:20, 0:24]
    return 20.0 + 0.05 * yy + 0.02 * xx


def write_rain_nc(p: Path, frames=None, dims=("time", "y", "x"), name="rain", crs=CRS) -> Path:
    import rioxarray  # noqa: F401
    import xarray as xr

    x = 382250.0 + 20.0 + 40.0 * np.arange(9)
    y = 6354680.0 - 20.0 - 40.0 * np.arange(11)
    if frames is None:
        frames = np.full((2, y.size, x.size), 30.0)
    coords = {"time": [0.0, 30.0], "y": y, "x": x}
    da = xr.DataArray(frames, dims=dims, coords={d: coords[d] for d in dims}, name=name)
    if crs is not None:
        da = da.rio.write_crs(crs)
    path = p / "radar.nc"
    da.to_dataset().to_netcdf(path)
    return path


def sweep_file(p: Path, body: str, base: str = "s.toml") -> Path:
    return raw(p, f'name = "sweep"\nbase = "{base}"\n' + body, file="sweep.toml")


# measure tables reused by the rows (the layer refs are filled in per row)
TANK = ('[[measures]]\ntype = "tank"\nname = "tank"\ninlets = {{ {r} }}\ninflow_capacity_m3_s = 0.6\n'
        'volume_m3 = 800.0\n')
TUNNEL = ('[[measures]]\ntype = "tunnel"\nname = "tunnel"\nintakes = {{ {r} }}\n'
          'segment_volumes_m3 = [600.0, 600.0, 600.0, 600.0, 600.0]\nconveyance_m3_s = 1.0\n'
          'outfall_capacity_m3_s = 0.4\noutfall_invert_m = 16.0\noutfall_level_m = 15.0\n')
POND = '[[measures]]\ntype = "pond"\nname = "pond"\nlayer = {{ {r} }}\n'
OUTLET = ('[[measures]]\ntype = "pond_outlet"\nname = "outlet"\noutlet = {{ {r} }}\norifice_cd = 0.6\n'
          'orifice_area_m2 = 0.03\norifice_level_m = 20.8\n')
PUMP = ('[[measures]]\ntype = "controlled_structure"\nname = "pump"\nsource = {{ {r} }}\n'
        'time_rules = [{{ start_min = 0.0, end_min = 1.0, rate_m3_s = 0.1 }}]\n')
SENSOR = ('[[measures]]\ntype = "controlled_structure"\nname = "pump"\n'
          f'source = {{{{ {ref(STORE, "pond_outlet")} }}}}\n'
          'level_rule = {{ sensor = {{ {r} }}, start_level_m = 21.6, stop_level_m = 21.0, rate_m3_s = 0.1 }}\n')
TARGET = ('[[measures]]\ntype = "tank"\nname = "tank"\n'
          f'inlets = {{{{ {ref(STORE, "tank_inlets")} }}}}\n'
          'inflow_capacity_m3_s = 0.6\nvolume_m3 = 800.0\ntarget = "surface"\ntarget_layer = {{ {r} }}\n')
ROAD = '[[measures]]\ntype = "cloudburst_road"\nname = "road"\nlayer = {{ {r} }}\n'
CHANNEL = '[[measures]]\ntype = "channel"\nname = "channel"\nlayer = {{ {r} }}\n'
RAIN_BED = '[[measures]]\ntype = "rain_bed"\nname = "beds"\nlayer = {{ {r} }}\n'
GREEN = '[[measures]]\ntype = "green_area"\nname = "green"\nlayer = {{ {r} }}\nsoil = "loam"\n'
DESEAL = '[[measures]]\ntype = "hard_surface_limit"\nname = "deseal"\nlayer = {{ {r} }}\nsoil = "loam"\n'


# ------------------------------------------------------------------------------------------ the table
@dataclass
class Case:
    id: str
    build: Callable[[Path], Path]
    match: str
    code: int = ExitCode.INPUT
    commands: tuple[str, ...] = ("validate", "run")
    marks: tuple = ()
    #: arguments after the file (``run`` always gets ``--out`` and ``--quiet``)
    args: tuple[str, ...] = ()
    #: ``--out`` of ``run`` and ``sweep``, relative to the test's folder (None: no ``--out``)
    out: str | None = "out"
    max_message: int = MAX_MESSAGE
    #: lines of the message: one per problem (None: as many as the message budget allows)
    lines: int | None = 1
    extra: dict = field(default_factory=dict)


CASES: list[Case] = []


def case(id, build, match, code=ExitCode.INPUT, commands=("validate", "run"), marks=(), **kw):
    CASES.append(Case(id, build, match, code, commands, marks, **kw))


def nested_yaml_bomb(levels: int = 9, fanout: int = 9) -> str:
    """``levels`` anchors, each a list of ``fanout`` aliases of the one before: ~1 KB of text for
    ``fanout ** levels`` (387 million) leaves."""
    names = [f"l{k}" for k in range(levels)]
    items = [f"&{names[0]} [" + ", ".join(["lol"] * fanout) + "]"]
    for k in range(1, levels):
        items.append(f"&{names[k]} [" + ", ".join([f"*{names[k - 1]}"] * fanout) + "]")
    return "[" + ", ".join(items) + "]"


# --- the scenario file itself ------------------------------------------------------------------------
case("toml-syntax", lambda p: raw(p, 'name = "unclosed\n[domain]\n'), r"s\.toml: not valid TOML")
case("toml-duplicate-key", lambda p: toml(p, '[rainfall]\nkind = "block"\nkind = "block"\n'),
     r"not valid TOML")
case("yaml-syntax", lambda p: raw(p, "name: [unclosed\ndomain: {\n", "s.yaml"), r"s\.yaml: not valid YAML")
case("yaml-not-a-mapping", lambda p: raw(p, "- a\n- b\n", "s.yaml"), r"must hold a mapping")
case("yaml-alias-bomb-in-a-string-field",
     lambda p: raw(p, f"extends: full.toml\nname: bomb\ndescription: {nested_yaml_bomb()}\n", "s.yaml"),
     r"description: .*valid string")
case("yaml-alias-bomb-in-a-table-list",
     lambda p: raw(p, f"extends: full.toml\nname: bomb\nboundaries: {nested_yaml_bomb()}\n", "s.yaml"),
     r"boundaries\[0\].*and \d more problems", lines=None)
case("yaml-python-tag", lambda p: raw(p, "name: !!python/object/apply:os.system ['true']\n", "s.yaml"),
     r"not valid YAML")
case("toml-nested-arrays-1000-deep", lambda p: raw(p, 'name = "x"\na = ' + "[" * 1000 + "]" * 1000 + "\n"),
     r"nested too deeply")
case("yaml-nested-lists-1000-deep", lambda p: raw(p, "name: x\na: " + "[" * 1000 + "]" * 1000 + "\n", "s.yaml"),
     r"nested too deeply")
case("toml-key-with-control-character", lambda p: toml(p, top='"bad\\u0000key" = 1\n'), r"unknown key")
case("unknown-format", lambda p: raw(p, '{"name": "x"}', "s.json"), r"unknown scenario format '\.json'")
case("scenario-missing", lambda p: p / "nothere.toml", r"nothere\.toml: scenario file not found")
case("scenario-is-a-folder", lambda p: (p / "folder.toml").mkdir() or p / "folder.toml",
     r"folder\.toml: scenario file not found")
case("non-utf8-bytes", lambda p: raw(p, b'name = "caf\xe9"\n'), r"not UTF-8 text .*save the scenario file as UTF-8")
case("non-utf8-yaml", lambda p: raw(p, b"name: caf\xe9\n", "s.yaml"), r"not UTF-8 text")
case("unknown-top-level-key", lambda p: toml(p, top='colour = "red"\n'), r"unknown key 'colour'")
case("unknown-nested-key", lambda p: toml(p, sim={"coarsn": "2"}), r"simulation\.coarsn: unknown key")
case("misspelt-table", lambda p: toml(p, "[rainfal]\nkind = \"block\"\n"), r"unknown key 'rainfal'")
case("wrong-type-duration", lambda p: toml(p, sim={"duration_min": '"long"'}),
     r"simulation\.duration_min: .*valid number")
case("wrong-type-coarsen-float", lambda p: toml(p, sim={"coarsen": "2.5"}), r"simulation\.coarsen")
case("wrong-type-boundaries", lambda p: toml(p, top='boundaries = "north"\n'), r"boundaries")
case("wrong-type-bool", lambda p: toml(p, "[output]\ncompare_to_baseline = \"maybe\"\n"),
     r"output\.compare_to_baseline")
case("wrong-enum-side", lambda p: toml(p, '[[boundaries]]\nside = "up"\nkind = "free"\n'), r"boundaries\[0\]\.side")
case("empty-name", lambda p: toml(p, name='""'), r"name: .*(at least 1|empty)")
case("blank-name", lambda p: toml(p, name='"   "'), r"name: a name must not be empty")
case("control-character-name", lambda p: toml(p, name='"a\\u0007b"'), r"control characters")
case("empty-measure-name", lambda p: toml(p, TANK.format(r=ref(STORE, "tank_inlets")).replace(
    'name = "tank"', 'name = ""')), r"measures\[0\]\.tank\.name")
case("blank-inflow-name", lambda p: toml(p, f'[[inflows]]\nname = "  "\narea = {{ {ref(MERE, "inflow_area")} }}\n'
                                         'discharge_m3_s = 1.0\n'), r"inflows\[0\]\.name")
case("duplicate-measure-names", lambda p: toml(p, TANK.format(r=ref(STORE, "tank_inlets")) * 2),
     r"second measure is named 'tank'")
case("output-dir-empty", lambda p: toml(p, '[output]\ndir = ""\n'), r"output\.dir: give a file or folder path")
case("extends-missing", lambda p: raw(p, 'extends = "nothere.toml"\nname = "x"\n'),
     r"base scenario .*nothere\.toml not found")
case("extends-not-a-string", lambda p: raw(p, 'extends = 3\nname = "x"\n'), r"extends: give the base scenario")
case("extends-cycle", lambda p: (raw(p, 'extends = "s.toml"\nname = "b"\n', "b.toml"),
                                 raw(p, 'extends = "b.toml"\nname = "s"\n'))[1], r"makes a cycle")


def _deep_chain(p: Path, depth: int = 1000) -> Path:
    chain = p / "chain"
    chain.mkdir()
    for k in range(1, depth):
        (chain / f"c{k}.toml").write_text(f'extends = "c{k - 1}.toml"\nname = "c{k}"\n')
    (chain / "c0.toml").write_text(FULL.replace('extends = "', 'extends = "').replace("full base", "c0"))
    return raw(p, f'extends = "chain/c{depth - 1}.toml"\nname = "deep"\n')


case("extends-chain-1000-deep", _deep_chain, r"extends chain is more than 32 files deep")

# --- every numeric table: inf, nan, huge --------------------------------------------------------------
for key, value, match in [
    ("duration_min", "inf", r"simulation\.duration_min: .*finite"),
    ("duration_min", "nan", r"simulation\.duration_min: .*finite"),
    ("duration_min", "1e12", r"simulation\.duration_min: .*less than or equal"),
    ("duration_min", "-1.0", r"simulation\.duration_min: .*greater than 0"),
    ("output_interval_min", "inf", r"simulation\.output_interval_min: .*finite"),
    ("output_interval_min", "1e-9", r"output times"),
    ("cfl", "1e-300", r"simulation\.cfl: .*greater than or equal"),
    ("cfl", "nan", r"simulation\.cfl: .*finite"),
    ("theta", "inf", r"simulation\.theta"),
    ("hmin_m", "1e308", r"simulation\.hmin_m"),
    ("dt_max_s", "1e-6", r"simulation\.dt_max_s: .*greater than or equal"),
    ("dt_max_s", "1e308", r"simulation\.dt_max_s"),
    ("coarsen", "9223372036854775807", r"coarsen=.* fewer than 2×2 cells"),
    ("coarsen", "0", r"simulation\.coarsen"),
]:
    case(f"simulation-{key}={value}", lambda p, k=key, v=value: toml(p, sim={k: v}), match)

for body, match, tag in [
    ('[rainfall]\nintensity_mm_h = inf\n', r"rainfall\.intensity_mm_h: .*finite", "intensity=inf"),
    ('[rainfall]\ndepth_mm = nan\n', r"rainfall\.depth_mm: .*finite", "depth=nan"),
    ('[rainfall]\nintensity_mm_h = 1e308\n', r"rainfall\.intensity_mm_h", "intensity=1e308"),
    ('[rainfall]\nduration_min = 1e308\n', r"rainfall\.duration_min", "duration=1e308"),
    ('[rainfall]\nstart_min = 1e308\n', r"rainfall\.start_min", "start=1e308"),
    ('[rainfall]\nstart_min = -inf\n', r"rainfall\.start_min", "start=-inf"),
    ('[infiltration]\nmodel = "horton"\nf0_mm_h = inf\nfc_mm_h = 1.0\nk_per_h = 2.0\n', r"infiltration\.f0_mm_h",
     "horton-f0=inf"),
    ('[infiltration]\nmodel = "horton"\nf0_mm_h = 10.0\nfc_mm_h = 1.0\nk_per_h = 1e308\n', r"infiltration\.k_per_h",
     "horton-k=1e308"),
    ('[infiltration]\nmodel = "green-ampt"\nsoil = "loam"\nks_mm_h = nan\n', r"infiltration\.ks_mm_h", "ks=nan"),
    ('[infiltration]\nsuction_mm = 1e308\nks_mm_h = 1.0\nmoisture_deficit = 0.3\n', r"infiltration\.suction_mm",
     "suction=1e308"),
    ('[infiltration]\ninitial_saturation = nan\n', r"infiltration\.initial_saturation", "saturation=nan"),
    ('[infiltration]\nsoil = "quicksand"\n', r"quicksand", "unknown-soil"),
    ('[[boundaries]]\nside = "north"\nkind = "free"\nslope = inf\n', r"boundaries\[0\]\.slope", "slope=inf"),
    ('[[boundaries]]\nside = "north"\nkind = "free"\nslope = 1e308\n', r"boundaries\[0\]\.slope", "slope=1e308"),
    ('[[boundaries]]\nside = "north"\nkind = "level"\nlevel_m = nan\n', r"boundaries\[0\]\.level_m", "level=nan"),
    ('[[boundaries]]\nside = "north"\nkind = "level"\nlevel_m = 1e308\n', r"boundaries\[0\]\.level_m",
     "level=1e308"),
    ('[[boundaries]]\nside = "north"\nkind = "level"\nlevel_series = [{ time_min = 0.0, level_m = 16.0 }, '
     '{ time_min = 1e308, level_m = 17.0 }]\n', r"boundaries\[0\]\.level_series\[1\]\.time_min", "series-time=1e308"),
    ('[[boundaries]]\nside = "north"\nkind = "level"\nlevel_series = [{ time_min = 0.0, level_m = inf }]\n',
     r"boundaries\[0\]\.level_series\[0\]\.level_m", "series-level=inf"),
    (f'[[inflows]]\nname = "creek"\narea = {{ {ref(MERE, "inflow_area")} }}\ndischarge_m3_s = inf\n',
     r"inflows\[0\]\.discharge_m3_s", "inflow=inf"),
    (f'[[inflows]]\nname = "creek"\narea = {{ {ref(MERE, "inflow_area")} }}\ndischarge_m3_s = nan\n',
     r"inflows\[0\]\.discharge_m3_s", "inflow=nan"),
    (f'[[inflows]]\nname = "creek"\narea = {{ {ref(MERE, "inflow_area")} }}\ndischarge_m3_s = 1e308\n',
     r"inflows\[0\]\.discharge_m3_s", "inflow=1e308"),
    ("[output]\nflood_threshold_m = inf\n", r"output\.flood_threshold_m", "threshold=inf"),
    ("[surface]\nmanning = nan\n", r"surface\.manning", "manning=nan"),
    ("[surface]\nmanning = 1e308\n", r"surface\.manning", "manning=1e308"),
    (TANK.format(r=ref(STORE, "tank_inlets")).replace("800.0", "inf"), r"measures\[0\]\.tank\.volume_m3",
     "tank-volume=inf"),
    (TANK.format(r=ref(STORE, "tank_inlets")).replace("= 0.6", "= nan"),
     r"measures\[0\]\.tank\.inflow_capacity_m3_s", "tank-capacity=nan"),
    (TANK.format(r=ref(STORE, "tank_inlets")) + "pump_start_min = 1e308\n", r"measures\[0\]\.tank\.pump_start_min",
     "tank-pump-start=1e308"),
    (TANK.format(r=ref(STORE, "tank_inlets")) + "pump_rate_m3_s = 1e308\n", r"measures\[0\]\.tank\.pump_rate_m3_s",
     "tank-pump=1e308"),
    (TUNNEL.format(r=ref(STORE, "tunnel_intakes")).replace("[600.0, ", "[inf, "),
     r"measures\[0\]\.tunnel\.segment_volumes_m3", "tunnel-segment=inf"),
    (TUNNEL.format(r=ref(STORE, "tunnel_intakes")).replace("= 16.0", "= nan"),
     r"measures\[0\]\.tunnel\.outfall_invert_m", "tunnel-invert=nan"),
    (POND.format(r=ref(TERR, "pond")) + "bottom_level_m = inf\n", r"measures\[0\]\.pond\.bottom_level_m",
     "pond-bottom=inf"),
    (POND.format(r=ref(TERR, "pond")) + "bottom_level_m = -1e308\n", r"pond", "pond-bottom=-1e308"),
    (ROAD.format(r=ref(TERR, "cloudburst_road")) + "width_m = 1e308\n", r"measures\[0\]\.cloudburst_road\.width_m",
     "road-width=1e308"),
    (GREEN.format(r=ref(TERR, "green_areas")) + "depression_storage_mm = 1e308\n",
     r"measures\[0\]\.green_area\.depression_storage_mm", "green-depression=1e308"),
    (OUTLET.format(r=ref(STORE, "pond_outlet")).replace("= 0.03", "= inf"),
     r"measures\[0\]\.pond_outlet\.orifice_area_m2", "outlet-area=inf"),
    (PUMP.format(r=ref(STORE, "pond_outlet")).replace("rate_m3_s = 0.1", "rate_m3_s = nan"),
     r"measures\[0\]\.controlled_structure\.time_rules\[0\]\.rate_m3_s", "pump-rate=nan"),
]:
    # the full base gives the storm as depth_mm: an intensity goes on the lean base
    case(f"number-{tag}", lambda p, b=body, t=tag: toml(p, b, base="lean" if "intensity" in t else "full"), match)

# --- rasters ----------------------------------------------------------------------------------------
case("dem-missing", lambda p: toml(p, '[domain]\ndem = "nothere.tif"\n', base="lean"),
     r"nothere\.tif: DEM file not found")
case("dem-not-a-raster", lambda p: (raw(p, "just text\n", "dem.tif"), toml(p, '[domain]\ndem = "dem.tif"\n',
                                                                           base="lean"))[1],
     r"dem\.tif: not a readable raster")


def _truncated_dem(p: Path) -> Path:
    data = DEM.read_bytes()
    (p / "dem.tif").write_bytes(data[: len(data) // 3])
    return toml(p, '[domain]\ndem = "dem.tif"\n', base="lean")


case("dem-truncated", _truncated_dem, r"dem\.tif: .*(not a readable raster|truncated|cannot read)")
case("dem-all-nodata", lambda p: (write_dem(p / "dem.tif", np.full((20, 24), -9999.0)),
                                  toml(p, '[domain]\ndem = "dem.tif"\n', base="lean", sim={"coarsen": "1"}))[1],
     r"dem\.tif: the DEM has no valid")


def _pit_dem(p: Path) -> Path:
    z = small_dem()
    z[7, 9] = -3.4e38
    write_dem(p / "dem.tif", z, nodata=None)
    return toml(p, '[domain]\ndem = "dem.tif"\n', base="lean", sim={"coarsen": "1"})


case("dem-undeclared-nodata-pit", _pit_dem, r"elevation beyond .*nodata value the file does not declare")


def _rotated_dem(p: Path) -> Path:
    from affine import Affine

    write_dem(p / "dem.tif", small_dem(), transform=Affine(7.9, 1.0, 382250.0, 1.0, -7.9, 6354680.0))
    return toml(p, '[domain]\ndem = "dem.tif"\n', base="lean", sim={"coarsen": "1"})


case("dem-rotated", _rotated_dem, r"rotated rasters are not supported")
case("dem-one-cell", lambda p: (write_dem(p / "dem.tif", np.ones((1, 1))),
                                toml(p, '[domain]\ndem = "dem.tif"\n', base="lean", sim={"coarsen": "1"}))[1],
     r"at least 2×2 cells")
case("dem-geographic-crs", lambda p: (write_dem(p / "dem.tif", small_dem(), crs="EPSG:4326",
                                                transform=__import__("rasterio.transform").transform.from_origin(
                                                    151.7, -32.9, 1e-4, 1e-4)),
                                      toml(p, '[domain]\ndem = "dem.tif"\n', base="lean", sim={"coarsen": "1"}))[1],
     r"geographic \(degrees\)")
case("dem-no-crs", lambda p: (write_dem(p / "dem.tif", small_dem(), crs=None),
                              toml(p, '[domain]\ndem = "dem.tif"\n', base="lean", sim={"coarsen": "1"}))[1],
     r"the raster has no coordinate reference system")
case("dem-crs-nonsense", lambda p: toml(p, '[domain]\ncrs = "EPSG:nonsense"\n', base="lean"), r"crs")


def _two_bands(path: Path) -> Path:
    import rasterio
    from rasterio.transform import from_origin

    with rasterio.open(path, "w", driver="GTiff", width=40, height=52, count=2, dtype="float32", crs=CRS,
                       transform=from_origin(382250.0, 6354680.0, 8.0, 8.0)) as dst:
        dst.write(np.full((2, 52, 40), 0.03, dtype="float32"))
    return path


def _manning_raster(p: Path, value) -> Path:
    z = np.full((52, 40), value)
    write_dem(p / "n.tif", z, nodata=None)
    return toml(p, '[surface]\nmanning_raster = "n.tif"\n', base="lean")


case("manning-raster-out-of-range", lambda p: _manning_raster(p, 5.0), r"n\.tif \(Manning raster\): .*outside")
case("manning-raster-negative", lambda p: _manning_raster(p, -0.03), r"n\.tif \(Manning raster\): .*outside")
case("manning-raster-missing", lambda p: toml(p, '[surface]\nmanning_raster = "n.tif"\n', base="lean"),
     r"n\.tif: raster file not found")
case("manning-raster-not-a-raster", lambda p: (raw(p, "n = 0.03\n", "n.tif"),
                                               toml(p, '[surface]\nmanning_raster = "n.tif"\n', base="lean"))[1],
     r"n\.tif.*(not a readable raster|cannot read)")
case("manning-raster-two-bands", lambda p: (_two_bands(p / "n.tif"),
                                            toml(p, '[surface]\nmanning_raster = "n.tif"\n', base="lean"))[1],
     r"n\.tif: the raster has 2 bands; give a single-band raster")
case("manning-raster-no-crs", lambda p: (write_dem(p / "n.tif", np.full((52, 40), 0.03), crs=None),
                                         toml(p, '[surface]\nmanning_raster = "n.tif"\n', base="lean"))[1],
     r"n\.tif: the raster has no CRS")

# --- CSV time series --------------------------------------------------------------------------------
HYETO = '[rainfall]\nkind = "hyetograph"\ncsv = "storm.csv"\n'
HYDRO = (f'[[inflows]]\nname = "creek"\narea = {{ {ref(MERE, "inflow_area")} }}\n'
         'hydrograph_csv = "q.csv"\n')
for tag, rows, match in [
    ("abc", "0,10\n5,abc\n", r"row 3, column {col}: 'abc' is not a finite number"),
    ("inf", "0,10\n5,inf\n", r"row 3, column {col}: 'inf' is not a finite number"),
    ("header-only", "", r"has a header but no rows"),
    ("unsorted", "0,10\n10,20\n5,0\n", r"must increase strictly"),
    ("negative", "0,10\n5,-3\n10,0\n", r"(negative|non-negative|>= 0)"),
    ("time-1e308", "0,10\n1e308,0\n", r"(time|finite)"),
    ("empty-file", None, r"cannot read it as CSV"),
    ("value-1e308", "0,10\n5,1e308\n", r"row 3, column {col}: 1e\+308 is beyond"),
    ("missing-column", "x", r"missing column"),
]:
    for what, table, file, cols in [("hyetograph", HYETO, "storm.csv", ("time_min", "intensity_mm_h")),
                                    ("hydrograph", HYDRO, "q.csv", ("time_min", "discharge_m3_s"))]:
        if rows is None:
            text = ""
        elif rows == "x":
            text = "time_min,rate\n0,1\n"
        else:
            text = ",".join(cols) + "\n" + rows
        case(f"csv-{what}-{tag}", lambda p, t=text, b=table, f=file: (raw(p, t, f), toml(p, b))[1],
             match.format(col=cols[1]))
case("csv-not-utf8", lambda p: (raw(p, b"time_min,intensity_mm_h\n0,1\xff\xfe\n", "storm.csv"), toml(p, HYETO))[1],
     r"storm\.csv")
case("csv-missing", lambda p: toml(p, HYETO), r"storm\.csv \(hyetograph\): file not found")

# --- NetCDF rain ------------------------------------------------------------------------------------
RADAR = '[rainfall]\nkind = "raster"\nnetcdf = "radar.nc"\nvariable = "rain"\n'
case("netcdf-not-netcdf", lambda p: (raw(p, "not netcdf\n", "radar.nc"), toml(p, RADAR))[1],
     r"radar\.nc \(rainfall raster\): not a readable NetCDF")
case("netcdf-missing", lambda p: toml(p, RADAR), r"radar\.nc \(rainfall raster\): file not found")
case("netcdf-missing-variable", lambda p: (write_rain_nc(p, name="precip"), toml(p, RADAR))[1],
     r"radar\.nc: no variable 'rain'")
case("netcdf-inf-values", lambda p: (write_rain_nc(p, np.full((2, 11, 9), np.inf)), toml(p, RADAR))[1],
     r"radar\.nc.*(finite|inf)")
case("netcdf-negative-values", lambda p: (write_rain_nc(p, np.full((2, 11, 9), -5.0)), toml(p, RADAR))[1],
     r"radar\.nc.*(negative|>= 0)")
case("netcdf-no-time-dimension", lambda p: (write_rain_nc(p, np.full((11, 9), 30.0), dims=("y", "x")),
                                            toml(p, RADAR))[1], r"radar\.nc.*'time' dimension")
case("netcdf-no-variables", lambda p: (__import__("xarray").Dataset().to_netcdf(p / "radar.nc"),
                                       toml(p, RADAR.replace('variable = "rain"\n', "")))[1],
     r"radar\.nc \(rainfall raster\): the file holds no variable")
case("netcdf-lat-lon-dimensions", lambda p: (write_rain_nc(p, np.full((2, 11, 9), 30.0), dims=("time", "y", "x"))
                                             and __import__("xarray").open_dataset(p / "radar.nc").load()
                                             .rename({"y": "lat", "x": "lon"}).to_netcdf(p / "radar2.nc"),
                                             toml(p, RADAR.replace("radar.nc", "radar2.nc")))[1],
     r"radar2\.nc")
case("netcdf-no-crs", lambda p: (write_rain_nc(p, crs=None), toml(p, RADAR))[1], r"radar\.nc.*no CRS")


# --- layers: every kind of layer × every defect ------------------------------------------------------
@dataclass(frozen=True)
class Slot:
    """A place in a scenario where a vector layer is read."""

    gpkg: Path
    layer: str
    body: str                    # TOML with {r} for the inside of the layer's inline table
    attribute: str | None = None  # an attribute the scenario reads from the layer
    base: str = "lean"


SLOTS = {
    "buildings": Slot(MERE, "buildings", "[buildings]\n{r}\n"),
    "gauges": Slot(MERE, "gauges", "[output]\ngauges = {{ {r} }}\n", "name"),
    "manning-zone": Slot(MERE, "roads", '[surface]\nzones = [{{ {r}, field = "manning_n" }}]\n', "manning_n"),
    "impervious": Slot(MERE, "roads", '[infiltration]\nmodel = "green-ampt"\nsoil = "loam"\n'
                                      'impervious = [{{ {r} }}]\n'),
    "soil-zone": Slot(MERE, "roads", '[infiltration]\nmodel = "green-ampt"\nsoil = "loam"\n'
                                     'zones = [{{ {r}, soil = "clay" }}]\n'),
    "inflow-area": Slot(MERE, "inflow_area", '[[inflows]]\nname = "creek"\narea = {{ {r} }}\n'
                                             'discharge_field = "discharge_m3_s"\n', "discharge_m3_s"),
    "boundary-area": Slot(MERE, "extent", '[[boundaries]]\nside = "north"\nkind = "free"\narea = {{ {r} }}\n'),
    "road": Slot(TERR, "cloudburst_road", ROAD, "width_m"),
    "channel": Slot(TERR, "cloudburst_road", CHANNEL, "depth_m"),
    "rain-bed": Slot(TERR, "rain_beds", RAIN_BED, "storage_depth_m"),
    "green-area": Slot(TERR, "green_areas", GREEN),
    "hard-surface-limit": Slot(TERR, "hard_surface_limit", DESEAL),
    "pond": Slot(TERR, "pond", POND, "bottom_level_m"),
    "tank-inlets": Slot(STORE, "tank_inlets", TANK),
    "tunnel-intakes": Slot(STORE, "tunnel_intakes", TUNNEL, "capacity_m3_s"),
    "pond-outlet": Slot(STORE, "pond_outlet", OUTLET),
    "pump-source": Slot(STORE, "pond_outlet", PUMP),
    "pump-sensor": Slot(STORE, "pond_outlet", SENSOR),
    "target-layer": Slot(STORE, "tunnel_outfall", TARGET),
}


def _layer_body(slot: Slot, r: str) -> str:
    return slot.body.replace("{r}\n", r.replace(", ", "\n") + "\n") if slot.body.startswith("[buildings]") \
        else slot.body.format(r=r)


def _bowtie(gdf):
    from shapely.geometry import Polygon

    x, y = gdf.geometry.iloc[0].representative_point().coords[0]
    gdf = gdf.copy()
    gdf.loc[gdf.index[0], "geometry"] = Polygon([(x, y), (x + 9, y + 9), (x + 9, y), (x, y + 9)])
    return gdf


def _empty_geometry(gdf):
    from shapely.geometry import GeometryCollection

    gdf = gdf.copy()
    gdf.loc[gdf.index[-1], "geometry"] = GeometryCollection()
    return gdf


def _nan_attribute(column):
    def edit(gdf):
        gdf = gdf.copy()
        if gdf[column].dtype.kind in "fi":
            gdf[column] = gdf[column].astype(float)
            gdf.loc[gdf.index[0], column] = np.nan
        else:
            gdf[column] = gdf[column].astype(object)
            gdf.loc[gdf.index[0], column] = None
        return gdf
    return edit


def _set_attribute(column, value):
    def edit(gdf):
        gdf = gdf.copy()
        gdf[column] = gdf[column].astype(object)
        gdf.loc[gdf.index[0], column] = value
        if isinstance(value, str):
            gdf[column] = gdf[column].astype(str)
        return gdf
    return edit


DEFECTS = {
    # defect: (write the layer -> the inside of its inline table, message)
    "missing-file": (lambda p, s: ref(p / "nothere.gpkg", "feat"), r"nothere\.gpkg layer 'feat' .*file not found"),
    "wrong-layer-name": (lambda p, s: ref(write_layer(p, s.gpkg, s.layer), "nope"),
                         r"layer 'nope' .*no such layer; the file has feat"),
    "multi-layer-without-layer": (lambda p, s: ref(write_layer(p, s.gpkg, s.layer, extra_layer=True)),
                                  r"layer\.gpkg .*the file has 2 layers .*say which one"),
    "no-crs": (lambda p, s: ref(write_layer(p, s.gpkg, s.layer, lambda g: g.set_crs(None, allow_override=True)),
                                "feat"), r"layer\.gpkg layer 'feat' .*the layer has no CRS"),
    "outside-the-dem": (lambda p, s: ref(write_layer(p, s.gpkg, s.layer, lambda g: g.translate(50_000.0, 0.0)
                                                     .pipe(lambda geo: g.set_geometry(geo))), "feat"),
                        r"lies entirely outside the DEM"),
    "empty-geometry": (lambda p, s: ref(write_layer(p, s.gpkg, s.layer, _empty_geometry), "feat"),
                       r"has an empty geometry; delete it or draw it"),
    "invalid-geometry": (lambda p, s: ref(write_layer(p, s.gpkg, s.layer, _bowtie), "feat"),
                         r"has an invalid geometry \(Self-intersection"),
    "not-a-vector-file": (lambda p, s: ref(raw(p, "not a geopackage\n", "layer.gpkg"), "feat"),
                          r"layer\.gpkg layer 'feat' .*cannot read it as a vector layer"),
}

for slot_id, slot in SLOTS.items():
    for defect_id, (make, match) in DEFECTS.items():
        case(f"layer-{slot_id}-{defect_id}",
             lambda p, s=slot, m=make: toml(p, _layer_body(s, m(p, s)), base=s.base), match)
    if slot.attribute:
        a = slot.attribute
        case(f"layer-{slot_id}-missing-attribute",
             lambda p, s=slot, a=a: toml(p, _layer_body(s, ref(write_layer(p, s.gpkg, s.layer,
                                                                            lambda g: g.drop(columns=[a])), "feat")),
                                         base=s.base),
             rf"missing attribute '{a}'|'{a}'")
        case(f"layer-{slot_id}-nan-attribute",
             lambda p, s=slot, a=a: toml(p, _layer_body(s, ref(write_layer(p, s.gpkg, s.layer, _nan_attribute(a)),
                                                                "feat")), base=s.base),
             rf"no value for '{a}'|'{a}'")

# attribute values that are not usable numbers
for slot_id, value, match in [
    ("manning-zone", "abc", r"manning_n = 'abc'; Manning's n must be a number"),
    ("manning-zone", -1.0, r"manning_n = '-1\.0'; Manning's n must be a number"),
    ("manning-zone", np.inf, r"'manning_n' = 'inf'; give a finite number within ±1e\+12"),
    ("manning-zone", 1e38, r"'manning_n' = '1e\+38'; give a finite number within ±1e\+12"),
    ("manning-zone", 2.0, r"manning_n = '2\.0'; Manning's n must be a number in \(0, 1\]"),
    ("inflow-area", "abc", r"discharge_m3_s.*'abc'"),
    ("inflow-area", -1.0, r"discharge_m3_s.*-1"),
    ("inflow-area", np.inf, r"discharge_m3_s.*inf"),
    ("tunnel-intakes", -1.0, r"capacity_m3_s' = '?-1\.0'?; it must be a number >= 0"),
    ("tunnel-intakes", "abc", r"capacity_m3_s' = 'abc'; it must be a number >= 0"),
    ("road", -1.0, r"width"),
    ("road", "abc", r"attribute 'width_m' must be numeric"),
    ("rain-bed", "abc", r"attribute 'storage_depth_m' must be numeric"),
    ("pond", np.inf, r"bottom_level"),
    ("pond", 1e38, r"bottom_level"),
    ("pond", -5e4, r"terrain measure\(s\) 'pond' put the ground at -50000 m"),
    ("road", 1e38, r"width"),
    ("channel", 1e38, r"depth_m|terrain measure"),
    ("rain-bed", np.inf, r"storage_depth"),
    ("tunnel-intakes", 1e308, r"capacity_m3_s"),
    ("inflow-area", 1e300, r"'discharge_m3_s' = '1e\+300'; give a finite number within ±1e\+12"),
]:
    slot = SLOTS[slot_id]
    case(f"layer-{slot_id}-{slot.attribute}={value}",
         lambda p, s=slot, v=value: toml(p, _layer_body(s, ref(write_layer(p, s.gpkg, s.layer,
                                                                          _set_attribute(s.attribute, v)), "feat")),
                                         base=s.base), match)
# found by test_fuzz_inputs.py: a strip buffered from a width of ~0 was an empty polygon that crashed the
# rasteriser (exit 1); the road now takes the cells its centre line touches (valid)
case("layer-road-width_m=1e-300-is-valid",
     lambda p: toml(p, ROAD.format(r=ref(write_layer(p, TERR, "cloudburst_road", _set_attribute("width_m", 1e-300)),
                                         "feat")), base="lean"), r"OK", code=ExitCode.OK, commands=("validate",))
case("layer-tunnel-intakes-segment=99",
     lambda p: toml(p, TUNNEL.format(r=ref(write_layer(p, STORE, "tunnel_intakes", _set_attribute("segment", 99)),
                                           "feat")), base="lean"), r"it must be a segment number 1\.\.5")
case("layer-tunnel-intakes-segment=abc",
     lambda p: toml(p, TUNNEL.format(r=ref(write_layer(p, STORE, "tunnel_intakes", _set_attribute("segment", "abc")),
                                           "feat")), base="lean"), r"segment' = 'abc'")
case("layer-gauges-duplicate-names",
     lambda p: toml(p, SLOTS["gauges"].body.format(r=ref(write_layer(p, MERE, "gauges", _set_attribute("name", "G2 main road")), "feat")), base="lean"),
     r"two gauges are named 'G2 main road'")
case("layer-measure-features-unknown",
     lambda p: toml(p, TANK.format(r=ref(STORE, "tank_inlets") + ', features = ["nope"]'), base="lean"),
     r"no feature with name = 'nope'")
case("layer-measure-features-empty",
     lambda p: toml(p, TANK.format(r=ref(STORE, "tank_inlets") + ", features = []"), base="lean"),
     r"measures\[0\]\.tank\.inlets\.features: .*at least 1")
case("layer-terrain-measure-features-empty",
     lambda p: toml(p, POND.format(r=ref(TERR, "pond")) + "features = []\n", base="lean"),
     r"measures\[0\]\.pond\.features: .*at least 1")
case("layer-terrain-measure-with-horton",
     lambda p: toml(p, POND.format(r=ref(TERR, "pond")) + '[infiltration]\nmodel = "horton"\nf0_mm_h = 10.0\n'
                       'fc_mm_h = 1.0\nk_per_h = 2.0\n', base="lean"), r"use infiltration model 'green-ampt'")

# --- the output folder ------------------------------------------------------------------------------
case("out-is-a-file", lambda p: (raw(p.parent, "not a folder\n", "out"), toml(p, base="lean"))[1],
     r"out: output folder is not writable", commands=("run",))
case("out-inside-a-file", lambda p: (raw(p.parent, "not a folder\n", "afile"), toml(p, base="lean"))[1],
     r"afile.*(not writable|not a folder)", commands=("run",), out="afile/out")
case("out-is-a-folder-of-other-files", lambda p: ((p.parent / "out").mkdir(), raw(p.parent / "out", "x", "thesis.docx"),
                                                  toml(p, base="lean"))[2],
     r"out: the folder holds other files \(thesis\.docx\) and no floodsim run", commands=("run",))
case("out-is-the-current-folder", lambda p: toml(p, base="lean"), r"(current|started from)", commands=("run",),
     out=".")
def _output_dir_is_a_file(p: Path) -> Path:
    raw(p, "not a folder\n", "afile")
    return toml(p, '[output]\ndir = "afile"\n', base="lean")


case("output-dir-in-scenario-is-a-file", _output_dir_is_a_file, r"afile.*(not writable|not a folder)", out=None,
     commands=("run",))
case("output-dir-in-scenario-is-a-file", _output_dir_is_a_file, r"afile.*(not writable|not a folder)", out=None,
     commands=("validate",))

# --- valid inputs whose run becomes unstable: exit 3 from run (validate accepts them) ----------------
case("unstable-huge-inflow",
     lambda p: toml(p, f'[[inflows]]\nname = "burst main"\narea = {{ {ref(GIS / "measures_storage.gpkg", "pond_outlet")} }}\n'
                       'discharge_m3_s = 1e9\n', base="lean", sim={"coarsen": "16"}),
     r"(depth|speed|time step)", code=ExitCode.UNSTABLE, commands=("run",))
case("unstable-huge-inflow-validates",
     lambda p: toml(p, f'[[inflows]]\nname = "burst main"\narea = {{ {ref(GIS / "measures_storage.gpkg", "pond_outlet")} }}\n'
                       'discharge_m3_s = 1e9\n', base="lean", sim={"coarsen": "16"}),
     r"OK", code=ExitCode.OK, commands=("validate",))

# --- sweeps -----------------------------------------------------------------------------------------
SWEEP_BASE = TANK.format(r=ref(STORE, "tank_inlets"))
case("sweep-unknown-parameter-path", lambda p: (toml(p, SWEEP_BASE, base="lean"),
                                                sweep_file(p, '[grid]\n"measures.0.volum_m3" = [1.0, 2.0]\n'))[1],
     r"unknown parameter path 'measures\.0\.volum_m3'", commands=("sweep",))
case("sweep-empty-grid-list", lambda p: (toml(p, SWEEP_BASE, base="lean"),
                                         sweep_file(p, '[grid]\n"measures.0.volume_m3" = []\n'))[1],
     r"have no values", commands=("sweep",))
case("sweep-index-out-of-range", lambda p: (toml(p, SWEEP_BASE, base="lean"),
                                            sweep_file(p, '[grid]\n"measures.5.volume_m3" = [1.0, 2.0]\n'))[1],
     r"sweep\.toml.*measures\.5", commands=("sweep",))
case("sweep-base-missing", lambda p: sweep_file(p, '[grid]\n"measures.0.volume_m3" = [1.0, 2.0]\n',
                                                base="nothere.toml"),
     r"nothere\.toml", commands=("sweep",))
case("sweep-base-invalid", lambda p: (toml(p, SWEEP_BASE, sim={"duration_min": "inf"}, base="lean"),
                                      sweep_file(p, '[grid]\n"measures.0.volume_m3" = [1.0, 2.0]\n'))[1],
     r"duration_min", commands=("sweep",))
case("sweep-value-invalid", lambda p: (toml(p, SWEEP_BASE, base="lean"),
                                       sweep_file(p, '[grid]\n"measures.0.volume_m3" = [-1.0, 2.0]\n'))[1],
     r"sweep\.toml: member m000-\w+ \(volume_m3=-1\.0\): measures\[0\]\.tank\.volume_m3", commands=("sweep",))
case("sweep-toml-nested-1000-deep", lambda p: raw(p, 'name = "x"\na = ' + "[" * 1000 + "]" * 1000 + "\n", "sweep.toml"),
     r"sweep\.toml.*nested", commands=("sweep",))
case("sweep-toml-syntax", lambda p: raw(p, "[grid\n", "sweep.toml"), r"not valid TOML", commands=("sweep",))


# ------------------------------------------------------------------------------------------ the test
def _listing(*folders: Path) -> set[str]:
    return {str(q) for f in folders if f.exists() for q in f.rglob("*")}


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder with the two bases; the current directory is the test's own folder, so that a
    default ``outputs/`` would be seen."""
    p = tmp_path / "project"
    p.mkdir()
    (p / "lean.toml").write_text(LEAN)
    (p / "full.toml").write_text(FULL)
    monkeypatch.chdir(tmp_path)
    return p


def run_case(c: Case, command: str, project: Path, capsys) -> tuple[int, str]:
    target = c.build(project)
    out = project.parent / (c.out or "out")
    existed = out.exists()
    before = _listing(project.parent, SCENARIOS, GIS)
    argv = [command, str(target)]
    if command in ("run", "sweep"):
        argv += (["--out", str(out)] if c.out is not None else []) + ["--quiet"]
    capsys.readouterr()
    t0 = time.perf_counter()
    code = main([*argv, *c.args])
    elapsed = time.perf_counter() - t0
    err = capsys.readouterr().err
    after = _listing(project.parent, SCENARIOS, GIS)
    assert code == c.code, f"{c.id} ({command}): exit {code}, expected {int(c.code)}\n{err[-3000:]}"
    assert "Traceback" not in err, err
    if c.code != ExitCode.OK:
        assert err.startswith("floodsim: error: "), err[:500]
        assert len(err) < c.max_message, f"{len(err)} characters:\n{err[:3000]}"
        assert c.lines is None or len(err.strip().splitlines()) == c.lines, err[:3000]
        assert re.search(c.match, err, re.IGNORECASE | re.DOTALL), f"{c.match!r} not in:\n{err[:3000]}"
        assert out.exists() == existed, f"{command} wrote {out} on bad input"
        assert after == before, f"{command} wrote {sorted(after - before)} / removed {sorted(before - after)}"
    assert elapsed < 30, f"{c.id}: {elapsed:.1f} s"
    return code, err


PARAMS = [pytest.param(c, cmd, id=f"{c.id}-{cmd}", marks=c.marks) for c in CASES for cmd in c.commands]


@pytest.mark.parametrize("c, command", PARAMS)
def test_bad_input_exit_code(c: Case, command: str, project, capsys):
    run_case(c, command, project, capsys)


def test_the_table_is_large():
    assert len(CASES) >= 60
    assert len({(c.id, c.commands) for c in CASES}) == len(CASES)


def test_the_bounds_agree_across_layers():
    """The scenario schema, the table and layer readers, and the engine each hold a copy of the number
    bounds (the layers do not import each other): they must agree."""
    from floodsim.core.grid import MAX_ABS_ELEVATION_M
    from floodsim.io.tables import MAX_MAGNITUDE as TABLES
    from floodsim.scenario.base import MAX_ABS_LEVEL_M, MAX_MAGNITUDE

    assert MAX_ABS_LEVEL_M == MAX_ABS_ELEVATION_M and TABLES == MAX_MAGNITUDE


# ------------------------------------------------------------------------------------------ the API
def _api_cases():
    from floodsim import Boundary, Grid, Hyetograph, Simulation, SolverParams

    z = np.zeros((4, 5))
    grid = lambda: Grid.from_array(z, 1.0)  # noqa: E731
    return [
        ("simulation-rainfall-lots", lambda: Simulation(grid(), rainfall="lots"), r"rainfall must be"),
        ("boundary-up", lambda: Boundary("up", "free"), r"not one of"),
        ("boundary-slope-inf", lambda: Boundary("north", "free", slope=float("inf")), r"slope must be a finite"),
        ("output-times-inf", lambda: Simulation(grid()).output_times(0.0, float("inf"), None),
         r"duration must be a finite"),
        ("output-times-interval-nan", lambda: Simulation(grid()).output_times(0.0, 60.0, float("nan")),
         r"output interval must be a finite"),
        ("grid-dx-inf", lambda: Grid.from_array(z, dx=float("inf")), r"dx = inf must be a finite number"),
        ("grid-dx-zero", lambda: Grid.from_array(z, dx=0.0), r"must be > 0"),
        ("grid-1d", lambda: Grid.from_array(np.zeros(5), 1.0), r"2-D raster"),
        ("solver-cfl-0", lambda: SolverParams(cfl=0), r"cfl=0 .* out of range"),
        ("solver-theta-nan", lambda: SolverParams(theta=float("nan")), r"theta=nan"),
        ("solver-params-not-params", lambda: Simulation(grid(), params={"cfl": 0.5}), r"params must be"),
        ("hyetograph-inf", lambda: Hyetograph.block(float("inf"), 60.0), r"(finite|rain)"),
        ("manning-zero", lambda: Simulation(grid(), manning=0.0), r"Manning"),
        ("initial-depth-nan", lambda: Simulation(grid(), initial_depth=float("nan")), r"initial depth"),
    ]


@pytest.mark.parametrize("make, match", [pytest.param(m, r, id=i) for i, m, r in _api_cases()])
def test_api_bad_arguments_raise_input_errors(make, match):
    with pytest.raises(FloodsimError) as info:
        make()
    assert exit_code_of(info.value) == ExitCode.INPUT
    assert re.search(match, str(info.value), re.IGNORECASE), str(info.value)
