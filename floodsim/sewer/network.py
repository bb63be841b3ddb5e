"""The sewer network in its two forms, a SWMM ``.inp`` file and GeoPackage layers, and its checks.

A :class:`Network` holds the network as a swmm-api :class:`~swmm_api.input_file.SwmmInput` (the
``.inp`` sections), the map position of every node, its CRS, and which nodes take water from the
surface (:class:`Inlet`). Either form converts to the other: :func:`read_inp` / :meth:`Network.write_inp`
and :func:`read_layers` / :meth:`Network.write_layers`. Units are SI throughout: the ``.inp`` must use
metric flow units (``CMS``, ``LPS`` or ``MLD``; lengths and elevations in m).

GeoPackage layers
-----------------
One GeoPackage, one layer per object kind; layers that a network does not use may be absent. Names
are unique across nodes and across links. Elevations are on the DEM's vertical datum [m].

``junctions`` (points) — manholes and pipe junctions:
    ``name``; ``invert_m`` (bottom of the manhole); ``rim_m`` (top, the ground at the manhole);
    ``inlet`` (1: takes surface water through a grate at its cell, 0: sealed lid); ``inlet_area_m2``
    (open area of the grate, orifice law), ``inlet_length_m`` (its perimeter, weir law),
    ``inlet_capacity_m3_s`` (largest intake of the gully, empty = no limit beyond the laws).
``storage`` (points) — tanks, shafts, tunnel chambers: ``name``, ``invert_m``, ``rim_m``,
    ``area_m2`` (plan area, constant with depth) and the four inlet attributes.
``outfalls`` (points): ``name``, ``invert_m``, ``stage`` (``free``; ``fixed`` with ``stage_m``; the
    scenario can put an outfall to a level series, to a grid cell or out of the model), ``flap_gate``
    (1 = no backflow).
``conduits`` (lines from the upstream to the downstream node): ``name``, ``from_node``, ``to_node``,
    ``shape`` (``circular`` or ``rect_closed``), ``height_m`` (diameter), ``width_m`` (rect_closed),
    ``length_m`` (empty: the line's length), ``manning_n`` [s m^-1/3], ``from_offset_m``,
    ``to_offset_m`` (pipe invert above the node invert).
``pumps`` (lines): ``name``, ``from_node``, ``to_node``, ``capacity_m3_s`` (flow when running),
    ``on_depth_m``, ``off_depth_m`` (depth at the wet well that starts and stops it; SWMM ``[CONTROLS]``
    rules, kept in the ``controls`` table, override them).
``orifices`` (lines): ``name``, ``from_node``, ``to_node``, ``orientation`` (``side``/``bottom``),
    ``shape`` (``circular``/``rect_closed``), ``height_m``, ``width_m``, ``offset_m``, ``cd``.
``weirs`` (lines): ``name``, ``from_node``, ``to_node``, ``crest_m`` (crest above the upstream node's
    invert), ``length_m`` (crest length), ``cd`` (SWMM's coefficient: Q = cd L H^1.5, SI).
``controls`` (table without geometry): ``rule`` — one SWMM control rule per row (``RULE … IF … THEN``).

Checks (:meth:`Network.check_on_grid`), each an :class:`~floodsim.errors.InputDataError` naming the
feature: a node outside the DEM or on a nodata cell; a CRS other than the DEM's; an inlet on a
building cell; an inlet's rim more than ``rim_tolerance_m`` below the ground of its cell. An ``.inp`` that SWMM
rejects is refused by :func:`check_inp_with_swmm` with SWMM's error code, message and line.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputDataError

#: Metric SWMM flow units and their factor to m³/s (lengths are then metres).
FLOW_UNIT_FACTORS = {"CMS": 1.0, "LPS": 1.0e-3, "MLD": 1.0e6 / 1000.0 / 86400.0}

#: Default rim tolerance [m]: a rim this far below the DEM ground of its cell is still accepted
#: (a DEM cell averages the ground around a manhole; survey and DEM differ by decimetres).
RIM_TOLERANCE_M = 0.3

NODE_LAYERS = ("junctions", "storage", "outfalls")
LINK_LAYERS = ("conduits", "pumps", "orifices", "weirs")
SHAPES = {"circular": "CIRCULAR", "rect_closed": "RECT_CLOSED"}


@dataclass(frozen=True)
class Inlet:
    """How a node takes water from (and gives it back to) the surface cell above it.

    Parameters
    ----------
    area_m2 : float
        Open area of the grate or manhole opening [m²] (orifice law).
    length_m : float
        Perimeter of the opening [m] (weir law).
    capacity_m3_s : float
        Largest intake [m³/s] (a gully's capacity); ``inf`` for none beyond the laws.
    """

    area_m2: float = 0.1
    length_m: float = 1.2
    capacity_m3_s: float = math.inf


def _label(path, layer=None) -> str:
    return f"{path}" + (f" layer '{layer}'" if layer else "")


# ---------------------------------------------------------------------------- SWMM's own check
def _swmm_errors(rpt: Path) -> list[str]:
    """ERROR lines of a SWMM report, each with the input line SWMM quotes after it."""
    if not rpt.is_file():
        return []
    lines = rpt.read_text(errors="replace").splitlines()
    out = []
    for k, line in enumerate(lines):
        if "ERROR" in line:
            text = line.strip()
            nxt = lines[k + 1].strip() if k + 1 < len(lines) else ""
            if nxt and "ERROR" not in nxt and not nxt.startswith("*"):
                text += f" (the line reads: {nxt[:120]!r})"
            out.append(text)
    return out


def check_inp_with_swmm(path: Path) -> None:
    """Open ``path`` with the SWMM engine and close it; raise :class:`InputDataError` with SWMM's
    error codes, messages and line numbers if SWMM rejects it. The file is read exactly as given, so
    the line numbers are the user's."""
    import tempfile

    from .engine import engine_lock

    path = Path(path)
    with engine_lock(f"checking {path}"), tempfile.TemporaryDirectory(prefix="floodsim-swmm-") as tmp:
        from swmm.toolkit import solver

        rpt, out = Path(tmp) / "check.rpt", Path(tmp) / "check.out"
        failure = None
        try:
            solver.swmm_open(str(path), str(rpt), str(out))
        except Exception as exc:  # noqa: BLE001 - the toolkit raises its own SWMMException type
            failure = " ".join(str(exc).split())
        finally:
            try:
                solver.swmm_close()   # also flushes the report that holds the errors
            except Exception:  # noqa: BLE001 - closing after a failed open
                pass
        if failure is not None:
            errors = [e for e in _swmm_errors(rpt) if "ERROR 200" not in e] or [failure]
            raise InputDataError(f"{path} (sewer network): SWMM rejects the file: " + "; ".join(errors[:8])
                                 + ("; ..." if len(errors) > 8 else "") + ". Fix the named lines (SWMM 5.2 "
                                 "input format, EPA SWMM user's manual appendix D).")


# ---------------------------------------------------------------------------- the network
@dataclass
class Network:
    """A sewer network: the ``.inp`` sections, node positions, CRS and the surface inlets.

    Parameters
    ----------
    inp : swmm_api.input_file.SwmmInput
        The network (metric units).
    xy : dict
        Node name -> (x, y) map coordinates [m], in ``crs``.
    crs : str or None
        CRS of ``xy`` (e.g. ``"EPSG:28356"``); ``None`` when the source had none (an ``.inp``).
    inlets : dict
        Node name -> :class:`Inlet`: the nodes coupled to the surface.
    source : str
        Where the network came from (for messages).
    """

    inp: object
    xy: dict
    crs: str | None = None
    inlets: dict = field(default_factory=dict)
    source: str = "sewer network"

    # ---------------------------------------------------------------- queries
    @property
    def flow_factor(self) -> float:
        """m³/s per flow unit of the ``.inp``."""
        return FLOW_UNIT_FACTORS[_flow_units(self.inp, self.source)]

    def section(self, name: str) -> dict:
        return self.inp[name] if name in self.inp else {}

    def node_names(self) -> list[str]:
        return [n for s in ("JUNCTIONS", "STORAGE", "OUTFALLS", "DIVIDERS") for n in self.section(s)]

    def link_names(self) -> list[str]:
        return [n for s in ("CONDUITS", "PUMPS", "ORIFICES", "WEIRS", "OUTLETS") for n in self.section(s)]

    def node_kind(self, name: str) -> str:
        for s, kind in (("JUNCTIONS", "junction"), ("STORAGE", "storage"), ("OUTFALLS", "outfall"),
                        ("DIVIDERS", "divider")):
            if name in self.section(s):
                return kind
        raise KeyError(name)

    def invert(self, name: str) -> float:
        for s in ("JUNCTIONS", "STORAGE", "OUTFALLS", "DIVIDERS"):
            if name in self.section(s):
                return float(self.section(s)[name].elevation)
        raise KeyError(name)

    def rim(self, name: str) -> float:
        """Top of a junction or storage node [m] (invert + max depth); NaN for outfalls."""
        if name in self.section("JUNCTIONS"):
            j = self.section("JUNCTIONS")[name]
            return float(j.elevation) + float(j.depth_max)
        if name in self.section("STORAGE"):
            s = self.section("STORAGE")[name]
            return float(s.elevation) + float(s.depth_max)
        return math.nan

    def link_nodes(self, name: str) -> tuple[str, str]:
        for s in ("CONDUITS", "PUMPS", "ORIFICES", "WEIRS", "OUTLETS"):
            if name in self.section(s):
                link = self.section(s)[name]
                return str(link.from_node), str(link.to_node)
        raise KeyError(name)

    def link_kind(self, name: str) -> str:
        for s, kind in (("CONDUITS", "conduit"), ("PUMPS", "pump"), ("ORIFICES", "orifice"), ("WEIRS", "weir"),
                        ("OUTLETS", "outlet")):
            if name in self.section(s):
                return kind
        raise KeyError(name)

    # ---------------------------------------------------------------- checks against the grid
    def check_on_grid(self, grid, blocked=None, rim_tolerance_m: float = RIM_TOLERANCE_M) -> dict:
        """Place every node on ``grid``; return node name -> flat cell index.

        Raises :class:`InputDataError` naming the node for a CRS other than the grid's, a node outside
        the DEM or on a nodata cell, an inlet on a building cell (``blocked``), or an inlet whose rim is
        more than ``rim_tolerance_m`` [m] below the ground of its cell (a sealed node, such as a buried
        tank or a deep junction, may lie below the ground).
        """
        if self.crs is not None and grid.crs is not None:
            from pyproj import CRS

            if CRS.from_user_input(self.crs) != CRS.from_user_input(grid.crs):
                raise InputDataError(f"{self.source}: the network's CRS ({_crs_name(self.crs)}) is not the DEM's "
                                     f"({_crs_name(grid.crs)}); reproject the layers to the DEM's CRS (the "
                                     "node elevations must stay on the DEM's datum).")
        ny, nx = grid.shape
        cells = {}
        for name in self.node_names():
            if name not in self.xy:
                raise InputDataError(f"{self.source}: node '{name}' has no map position; give it one "
                                     "([COORDINATES] in an .inp, a point geometry in the layers).")
            x, y = self.xy[name]
            inside = False
            if math.isfinite(x) and math.isfinite(y):
                j = int(math.floor((x - grid.transform.c) / grid.transform.a))
                i = int(math.floor((y - grid.transform.f) / grid.transform.e))
                inside = 0 <= i < ny and 0 <= j < nx and bool(grid.valid[i, j])
            if not inside:
                raise InputDataError(f"{self.source}: node '{name}' at ({x:.2f}, {y:.2f}) is outside the DEM "
                                     f"(or on a nodata cell); the DEM covers x {grid.x.min():.1f}..{grid.x.max():.1f}"
                                     f", y {grid.y.min():.1f}..{grid.y.max():.1f}. Move the node or drop it.")
            ground = float(grid.z[i, j])
            if name in self.inlets and blocked is not None and bool(blocked[i, j]):
                raise InputDataError(f"{self.source}: inlet node '{name}' at ({x:.2f}, {y:.2f}) lies on a building "
                                     "cell; water cannot reach it there. Move the inlet to the street or make it "
                                     "a sealed node (inlet = 0).")
            rim = self.rim(name)
            if name in self.inlets and math.isfinite(rim) and rim < ground - rim_tolerance_m:
                raise InputDataError(f"{self.source}: node '{name}' has its rim at {rim:.2f} m, {ground - rim:.2f} m "
                                     f"below the ground of its cell ({ground:.2f} m; tolerance {rim_tolerance_m:g} "
                                     "m). Check its invert and depth (rim_m) against the DEM's datum.")
            cells[name] = i * nx + j
        return cells

    # ---------------------------------------------------------------- the two forms
    def write_inp(self, path) -> Path:
        """Write the network as a SWMM ``.inp`` (swmm-api), coordinates included; return the path."""
        path = Path(path)
        inp = self.inp.copy()
        from swmm_api.input_file.sections import Coordinate

        if "COORDINATES" in inp:
            del inp["COORDINATES"]
        for name in self.node_names():
            if name in self.xy:
                inp.add_obj(Coordinate(name, *self.xy[name]))
        inp.write_file(str(path))
        return path

    def write_layers(self, path) -> Path:
        """Write the network as GeoPackage layers (module docstring); return the path.

        Raises :class:`InputDataError` for objects the layer form cannot hold (a cross-section shape
        other than circular/rect_closed, a pump curve other than one flow, dividers and outlets).
        """
        import geopandas as gpd
        from shapely.geometry import LineString, Point

        path = Path(path)
        if path.exists():
            path.unlink()
        for s in ("DIVIDERS", "OUTLETS"):
            if self.section(s):
                raise InputDataError(f"{self.source}: [{s}] {next(iter(self.section(s)))!r} cannot be written as "
                                     "layers (only junctions, storage, outfalls, conduits, pumps, orifices and "
                                     "weirs); keep the .inp form.")
        q = self.flow_factor
        rows = {k: [] for k in NODE_LAYERS + LINK_LAYERS}

        def inlet_attrs(name):
            inl = self.inlets.get(name)
            if inl is None:
                return dict(inlet=0, inlet_area_m2=None, inlet_length_m=None, inlet_capacity_m3_s=None)
            cap = None if math.isinf(inl.capacity_m3_s) else inl.capacity_m3_s
            return dict(inlet=1, inlet_area_m2=inl.area_m2, inlet_length_m=inl.length_m, inlet_capacity_m3_s=cap)

        for name, j in self.section("JUNCTIONS").items():
            rows["junctions"].append(dict(name=name, invert_m=float(j.elevation),
                                          rim_m=float(j.elevation) + float(j.depth_max), **inlet_attrs(name),
                                          geometry=Point(self.xy[name])))
        for name, s in self.section("STORAGE").items():
            if str(s.kind).upper() != "FUNCTIONAL" or float(s.data[1]) != 0.0:
                raise InputDataError(f"{self.source}: storage '{name}' has a {s.kind} area curve; the layers hold a "
                                     "constant plan area only (area_m2); keep the .inp form.")
            area = float(s.data[2]) + float(s.data[0])
            rows["storage"].append(dict(name=name, invert_m=float(s.elevation),
                                        rim_m=float(s.elevation) + float(s.depth_max), area_m2=area,
                                        **inlet_attrs(name), geometry=Point(self.xy[name])))
        for name, o in self.section("OUTFALLS").items():
            kind = str(o.kind).upper()
            if kind not in ("FREE", "FIXED"):
                raise InputDataError(f"{self.source}: outfall '{name}' is {kind}; the layers hold free or fixed "
                                     "outfalls (a level series is given in the scenario, [sewer] outfalls).")
            rows["outfalls"].append(dict(name=name, invert_m=float(o.elevation), stage=kind.lower(),
                                         stage_m=float(o.data) if kind == "FIXED" else None,
                                         flap_gate=int(bool(o.has_flap_gate) and str(o.has_flap_gate) != "NO"),
                                         geometry=Point(self.xy[name])))
        xs = self.section("XSECTIONS")

        def line(a, b):
            return LineString([self.xy[a], self.xy[b]])

        def shape_of(name):
            x = xs[name]
            for key, swmm in SHAPES.items():
                if str(x.shape).upper() == swmm:
                    return key, float(x.height), float(x.parameter_2) if swmm == "RECT_CLOSED" else None
            raise InputDataError(f"{self.source}: link '{name}' has shape {x.shape}; the layers hold circular and "
                                 "rect_closed cross-sections; keep the .inp form.")

        for name, c in self.section("CONDUITS").items():
            shape, height, width = shape_of(name)
            rows["conduits"].append(dict(name=name, from_node=str(c.from_node), to_node=str(c.to_node), shape=shape,
                                         height_m=height, width_m=width, length_m=float(c.length),
                                         manning_n=float(c.roughness), from_offset_m=float(c.offset_upstream),
                                         to_offset_m=float(c.offset_downstream),
                                         geometry=line(c.from_node, c.to_node)))
        curves = self.section("CURVES")
        for name, p in self.section("PUMPS").items():
            curve = curves.get(str(p.curve_name))
            pts = [] if curve is None else list(curve.points)
            if curve is None or str(curve.kind).upper() != "PUMP2" or len({float(v) for _, v in pts}) != 1:
                raise InputDataError(f"{self.source}: pump '{name}' has curve {p.curve_name!r}; the layers hold a "
                                     "pump of one flow (a PUMP2 curve with one flow); keep the .inp form.")
            rows["pumps"].append(dict(name=name, from_node=str(p.from_node), to_node=str(p.to_node),
                                      capacity_m3_s=float(pts[0][1]) * q, on_depth_m=float(p.depth_on),
                                      off_depth_m=float(p.depth_off), geometry=line(p.from_node, p.to_node)))
        for name, o in self.section("ORIFICES").items():
            shape, height, width = shape_of(name)
            rows["orifices"].append(dict(name=name, from_node=str(o.from_node), to_node=str(o.to_node),
                                         orientation=str(o.orientation).lower(), shape=shape, height_m=height,
                                         width_m=width, offset_m=float(o.offset), cd=float(o.discharge_coefficient),
                                         geometry=line(o.from_node, o.to_node)))
        for name, w in self.section("WEIRS").items():
            if str(w.form).upper() != "TRANSVERSE":
                raise InputDataError(f"{self.source}: weir '{name}' is {w.form}; the layers hold transverse weirs; "
                                     "keep the .inp form.")
            rows["weirs"].append(dict(name=name, from_node=str(w.from_node), to_node=str(w.to_node),
                                      crest_m=float(w.height_crest), length_m=float(xs[name].parameter_2),
                                      cd=float(w.discharge_coefficient), geometry=line(w.from_node, w.to_node)))
        for layer, data in rows.items():
            if data:
                gpd.GeoDataFrame(data, geometry="geometry", crs=self.crs).to_file(path, layer=layer, driver="GPKG")
        if "CONTROLS" in self.inp:
            import pandas as pd
            import pyogrio

            text = self.inp["CONTROLS"].to_inp_lines()
            rules = [r.strip() for r in re.split(r"(?=^\s*RULE\s)", text, flags=re.M | re.I) if r.strip()]
            pyogrio.write_dataframe(pd.DataFrame({"rule": rules}), path, layer="controls", driver="GPKG")
        return path


def _crs_name(crs) -> str:
    try:
        from pyproj import CRS

        c = CRS.from_user_input(crs)
        epsg = c.to_epsg()
        return f"EPSG:{epsg}" if epsg else c.name
    except Exception:  # noqa: BLE001 - only for a message
        return str(crs)[:60]


def _flow_units(inp, source) -> str:
    units = str(inp["OPTIONS"].get("FLOW_UNITS", "CFS")).upper() if "OPTIONS" in inp else "CFS"
    if units not in FLOW_UNIT_FACTORS:
        raise InputDataError(f"{source}: FLOW_UNITS is {units}; floodsim runs SWMM in metric units (CMS, LPS or "
                             "MLD, lengths in m on the DEM's datum). Convert the model to metric units.")
    return units


# ---------------------------------------------------------------------------- reading an .inp
def read_inp(path, crs: str | None = None, inlets: dict | None = None) -> Network:
    """Read a SWMM ``.inp`` (checked by SWMM itself first, then parsed with swmm-api).

    ``crs``: the CRS of its ``[COORDINATES]`` (an ``.inp`` has none; default: the DEM's). ``inlets``:
    node name -> :class:`Inlet` of the coupled nodes (the scenario says which).
    """
    path = Path(path)
    if not path.is_file():
        raise InputDataError(f"{path} (sewer network): file not found. Check the path (relative paths in a "
                             "scenario are taken from the scenario file's folder).")
    check_inp_with_swmm(path)
    from swmm_api.input_file import SwmmInput

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            inp = SwmmInput.read_file(str(path))
            inp.force_convert_all()
    except Exception as exc:  # noqa: BLE001 - swmm-api raises many types for text it cannot convert
        raise InputDataError(f"{path} (sewer network): swmm-api cannot read it ({type(exc).__name__}: "
                             f"{str(exc)[:200]}).") from None
    net = Network(inp, {}, crs, dict(inlets or {}), source=f"{path} (sewer network)")
    _flow_units(inp, net.source)
    for name, c in (inp["COORDINATES"].items() if "COORDINATES" in inp else []):
        net.xy[name] = (float(c.x), float(c.y))
    unknown = sorted(set(net.inlets) - set(net.node_names()))
    if unknown:
        raise InputDataError(f"{net.source}: inlets name node(s) {', '.join(map(repr, unknown[:5]))} that the network "
                             "does not have.")
    for name in net.inlets:
        if net.node_kind(name) == "outfall":
            raise InputDataError(f"{net.source}: outfall '{name}' cannot be an inlet; couple junctions or storage "
                                 "units (an outfall's discharge goes where [sewer] outfalls says).")
    return net


# ---------------------------------------------------------------------------- reading layers
_NUMERIC = {
    "junctions": ("invert_m", "rim_m"),
    "storage": ("invert_m", "rim_m", "area_m2"),
    "outfalls": ("invert_m",),
    "conduits": ("height_m", "manning_n"),
    "pumps": ("capacity_m3_s", "on_depth_m", "off_depth_m"),
    "orifices": ("height_m", "offset_m", "cd"),
    "weirs": ("crest_m", "length_m", "cd"),
}
_TEXT = {"outfalls": ("stage",), "conduits": ("from_node", "to_node", "shape"), "pumps": ("from_node", "to_node"),
         "orifices": ("from_node", "to_node", "orientation", "shape"), "weirs": ("from_node", "to_node")}


def _num(value, label, row_name, column, *, positive=False, required=True, default=math.nan) -> float:
    try:
        v = float(value) if value is not None else math.nan
    except (TypeError, ValueError):
        v = math.nan
        if value not in (None, ""):
            raise InputDataError(f"{label}: feature '{row_name}' has {column} = {str(value)[:40]!r}, not a number."
                                 ) from None
    if math.isnan(v):
        if required:
            raise InputDataError(f"{label}: feature '{row_name}' has no {column}; give a number.")
        return default
    if not math.isfinite(v) or abs(v) > 1.0e6 or (positive and v <= 0):
        raise InputDataError(f"{label}: feature '{row_name}' has {column} = {v!r}; give a finite number"
                             + (" > 0." if positive else " within ±1e6."))
    return v


def read_layers(path, default_inlet: Inlet = Inlet()) -> Network:
    """Read the GeoPackage layers of a network (module docstring) into a :class:`Network`.

    Inlet attributes left empty take ``default_inlet``'s. Raises :class:`InputDataError` naming the
    file, layer, feature and attribute for anything missing or out of range.
    """
    import geopandas as gpd
    import pyogrio
    from swmm_api.input_file import SwmmInput
    from swmm_api.input_file.sections import (
        Conduit,
        CrossSection,
        Curve,
        Junction,
        OptionSection,
        Orifice,
        Outfall,
        Pump,
        Storage,
        Weir,
    )

    path = Path(path)
    if not path.is_file():
        raise InputDataError(f"{path} (sewer network layers): file not found.")
    try:
        present = {row[0] for row in pyogrio.list_layers(path)}
    except Exception as exc:  # noqa: BLE001 - pyogrio raises several types for an unreadable file
        raise InputDataError(f"{path} (sewer network layers): cannot read it as a GeoPackage ({exc}).") from None
    if not present & set(NODE_LAYERS):
        raise InputDataError(f"{path} (sewer network layers): no layer named {', '.join(NODE_LAYERS)}; it has "
                             f"{', '.join(sorted(present)) or 'none'}.")
    inp = SwmmInput()
    inp.add_new_section(OptionSection())
    # a valid stand-alone .inp: one day from 2000-01-01 (a coupled run sets its own times)
    inp["OPTIONS"].update({"FLOW_UNITS": "CMS", "FLOW_ROUTING": "DYNWAVE", "START_DATE": "01/01/2000",
                           "START_TIME": "00:00:00", "END_DATE": "01/02/2000", "END_TIME": "00:00:00",
                           "ROUTING_STEP": "1", "REPORT_STEP": "00:05:00"})
    net = Network(inp, {}, None, {}, source=f"{path} (sewer network layers)")
    crs_seen = None
    seen = {"node": set(), "link": set()}
    frames = {}
    for layer in NODE_LAYERS + LINK_LAYERS:
        if layer not in present:
            continue
        label = _label(path, layer)
        gdf = gpd.read_file(path, layer=layer)
        if gdf.crs is None:
            raise InputDataError(f"{label}: the layer has no CRS; set the DEM's CRS on it.")
        if crs_seen is not None and gdf.crs != crs_seen:
            raise InputDataError(f"{label}: CRS {_crs_name(gdf.crs)} differs from the other layers' "
                                 f"({_crs_name(crs_seen)}); give every layer the DEM's CRS.")
        crs_seen = gdf.crs
        need = ("name",) + _NUMERIC.get(layer, ()) + _TEXT.get(layer, ())
        missing = [c for c in need if c not in gdf.columns]
        if missing:
            raise InputDataError(f"{label}: missing attribute(s) {', '.join(missing)} (see floodsim.sewer.network "
                                 "for the attribute names).")
        kind = "node" if layer in NODE_LAYERS else "link"
        for k, name in enumerate(gdf["name"]):
            if name is None or str(name).strip() == "" or any(ch.isspace() for ch in str(name)) or \
                    str(name).startswith(";") or len(str(name)) > 60:
                raise InputDataError(f"{label}: feature {k} has name {str(name)[:40]!r}; give every {kind} a name "
                                     "of 1-60 characters without spaces or a leading ';' (SWMM's IDs).")
            if str(name) in seen[kind]:
                raise InputDataError(f"{label}: a second {kind} is named {str(name)!r}; {kind} names must be unique.")
            seen[kind].add(str(name))
        frames[layer] = gdf
    net.crs = None if crs_seen is None else crs_seen.to_string()

    def inlet_of(label, name, row):
        flag = row.get("inlet", 0)
        if flag in (None, "") or (isinstance(flag, float) and math.isnan(flag)):
            flag = 0
        if str(flag) not in ("0", "1", "True", "False", "0.0", "1.0"):
            raise InputDataError(f"{label}: feature '{name}' has inlet = {str(flag)[:20]!r}; give 1 (takes surface "
                                 "water) or 0 (sealed).")
        if str(flag) in ("0", "False", "0.0"):
            return
        area = _num(row.get("inlet_area_m2"), label, name, "inlet_area_m2", positive=True, required=False,
                    default=default_inlet.area_m2)
        length = _num(row.get("inlet_length_m"), label, name, "inlet_length_m", positive=True, required=False,
                      default=default_inlet.length_m)
        cap = _num(row.get("inlet_capacity_m3_s"), label, name, "inlet_capacity_m3_s", positive=True, required=False,
                   default=default_inlet.capacity_m3_s)
        net.inlets[name] = Inlet(area, length, cap)

    def point(label, name, geom):
        if geom is None or geom.is_empty or geom.geom_type != "Point":
            raise InputDataError(f"{label}: feature '{name}' needs a point geometry (the node's position).")
        net.xy[name] = (float(geom.x), float(geom.y))

    def check_depth(label, name, invert, rim):
        if not rim > invert:
            raise InputDataError(f"{label}: feature '{name}' has rim_m {rim:g} <= invert_m {invert:g}; the rim is the "
                                 "top of the manhole, above its invert.")

    for layer in NODE_LAYERS:
        gdf = frames.get(layer)
        if gdf is None:
            continue
        label = _label(path, layer)
        for _, row in gdf.iterrows():
            name = str(row["name"])
            point(label, name, row.geometry)
            invert = _num(row["invert_m"], label, name, "invert_m")
            if layer == "junctions":
                rim = _num(row["rim_m"], label, name, "rim_m")
                check_depth(label, name, invert, rim)
                inp.add_obj(Junction(name, invert, rim - invert, 0.0, 0.0, 0.0))
                inlet_of(label, name, row)
            elif layer == "storage":
                rim = _num(row["rim_m"], label, name, "rim_m")
                check_depth(label, name, invert, rim)
                area = _num(row["area_m2"], label, name, "area_m2", positive=True)
                inp.add_obj(Storage(name, invert, rim - invert, 0.0, Storage.TYPES.FUNCTIONAL, 0.0, 0.0, area))
                inlet_of(label, name, row)
            else:
                stage = str(row["stage"]).strip().lower()
                flap = str(row.get("flap_gate", 0)) in ("1", "1.0", "True")
                if stage == "free":
                    inp.add_obj(Outfall(name, invert, Outfall.TYPES.FREE, has_flap_gate=flap))
                elif stage == "fixed":
                    level = _num(row.get("stage_m"), label, name, "stage_m")
                    inp.add_obj(Outfall(name, invert, Outfall.TYPES.FIXED, data=level, has_flap_gate=flap))
                else:
                    raise InputDataError(f"{label}: feature '{name}' has stage = {str(row['stage'])[:20]!r}; give "
                                         "'free' or 'fixed' (with stage_m).")
    nodes = seen["node"]

    def ends(label, name, row):
        a, b = str(row["from_node"]), str(row["to_node"])
        for end, n in (("from_node", a), ("to_node", b)):
            if n not in nodes:
                raise InputDataError(f"{label}: feature '{name}' has {end} = {n[:40]!r}, which is not a node of the "
                                     "junctions, storage or outfalls layers.")
        if a == b:
            raise InputDataError(f"{label}: feature '{name}' joins node {a!r} to itself.")
        return a, b

    def section(label, name, row, link_kind):
        shape = str(row["shape"]).strip().lower()
        if shape not in SHAPES:
            raise InputDataError(f"{label}: feature '{name}' has shape = {shape[:20]!r}; give 'circular' or "
                                 "'rect_closed'.")
        height = _num(row["height_m"], label, name, "height_m", positive=True)
        width = 0.0
        if shape == "rect_closed":
            width = _num(row.get("width_m"), label, name, "width_m", positive=True)
        inp.add_obj(CrossSection(name, SHAPES[shape], height, width))

    for layer in LINK_LAYERS:
        gdf = frames.get(layer)
        if gdf is None:
            continue
        label = _label(path, layer)
        for _, row in gdf.iterrows():
            name = str(row["name"])
            a, b = ends(label, name, row)
            if layer == "conduits":
                length = _num(row.get("length_m"), label, name, "length_m", positive=True, required=False)
                if math.isnan(length):
                    length = float(row.geometry.length) if row.geometry is not None else math.nan
                    if not length > 0:
                        raise InputDataError(f"{label}: feature '{name}' has no length_m and no line to measure.")
                n = _num(row["manning_n"], label, name, "manning_n", positive=True)
                if n > 0.1:
                    raise InputDataError(f"{label}: feature '{name}' has manning_n = {n:g}; a pipe's n is 0.009-0.03.")
                off1 = _num(row.get("from_offset_m"), label, name, "from_offset_m", required=False, default=0.0)
                off2 = _num(row.get("to_offset_m"), label, name, "to_offset_m", required=False, default=0.0)
                inp.add_obj(Conduit(name, a, b, length, n, off1, off2, 0.0))
                section(label, name, row, "conduit")
            elif layer == "pumps":
                cap = _num(row["capacity_m3_s"], label, name, "capacity_m3_s", positive=True)
                on = _num(row["on_depth_m"], label, name, "on_depth_m")
                off = _num(row["off_depth_m"], label, name, "off_depth_m")
                inp.add_obj(Curve(f"{name}_curve", Curve.TYPES.PUMP2, [[0.0, cap]]))
                inp.add_obj(Pump(name, a, b, f"{name}_curve", "OFF" if on > 0 else "ON", on, off))
            elif layer == "orifices":
                orient = str(row["orientation"]).strip().upper()
                if orient not in ("SIDE", "BOTTOM"):
                    raise InputDataError(f"{label}: feature '{name}' has orientation = {orient[:20]!r}; give 'side' "
                                         "or 'bottom'.")
                off = _num(row["offset_m"], label, name, "offset_m")
                cd = _num(row["cd"], label, name, "cd", positive=True)
                inp.add_obj(Orifice(name, a, b, orient, off, cd))
                section(label, name, row, "orifice")
            else:
                crest = _num(row["crest_m"], label, name, "crest_m")
                length = _num(row["length_m"], label, name, "length_m", positive=True)
                cd = _num(row["cd"], label, name, "cd", positive=True)
                inp.add_obj(Weir(name, a, b, Weir.FORMS.TRANSVERSE, crest, cd))
                # a transverse weir's opening: height above the crest it can pass before surcharging, and length
                inp.add_obj(CrossSection(name, "RECT_OPEN", 100.0, length))
    if "controls" in present:
        table = pyogrio.read_dataframe(path, layer="controls", read_geometry=False)
        if "rule" not in table.columns:
            raise InputDataError(f"{_label(path, 'controls')}: needs a 'rule' column (one SWMM control rule per row).")
        text = "\n".join(str(r) for r in table["rule"] if r is not None and str(r).strip())
        if text:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parsed = SwmmInput.read_text("[CONTROLS]\n" + text + "\n")
                parsed.force_convert_all()
            inp["CONTROLS"] = parsed["CONTROLS"]
    return net


def inlets_for(net: Network, nodes, default: Inlet) -> dict:
    """Inlets for ``nodes`` (``"all"``: every junction and storage node) with ``default`` parameters."""
    if nodes == "all":
        names = [n for n in net.node_names() if net.node_kind(n) in ("junction", "storage")]
    else:
        names = list(nodes)
    return {n: default for n in names}


__all__ = ["Inlet", "Network", "read_inp", "read_layers", "check_inp_with_swmm", "inlets_for", "FLOW_UNIT_FACTORS",
           "RIM_TOLERANCE_M"]
