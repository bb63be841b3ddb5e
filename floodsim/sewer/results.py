"""What a coupled run says about its sewer network: ``results.nc`` variables, summary, flood.gpkg layers.

* :func:`network_variables` — the node and link series of a :class:`~floodsim.sewer.coupling.SewerCoupling`
  as Dataset variables on the ``node``, ``link`` and ``sewer_time`` dimensions (names, units and long
  names from :mod:`floodsim.variables`), and the network's volume report as ``sewer_*`` attributes;
* :func:`sewer_summary` — the summary's ``sewer`` block (from the Dataset only): the combined balance
  (surface + network + outfalls), SWMM's continuity error, peaks, surcharged nodes;
* :func:`write_network_layers` — ``sewer_pipes`` (lines, peak flow and peak capacity used) and
  ``sewer_nodes`` (points, peak depth/head, surcharged, water out onto the surface) into flood.gpkg.

Sign conventions: ``node_inflow`` is water from the surface into the node, ``node_flooding`` water
out of the node onto the surface (surcharge and overflow), both ≥ 0 [m³/s]; ``link_flow`` is positive
from the link's first node to its second [m³/s]; ``link_capacity_used`` = |flow| / Manning full-pipe
flow [-] (conduits; NaN for pumps, orifices and weirs).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

_NODE_VARS = ("node_depth", "node_head", "node_flooding", "node_inflow")
_LINK_VARS = ("link_flow", "link_capacity_used")


def network_variables(op) -> tuple[dict, dict, dict]:
    """``(data_vars, coords, attrs)`` of a coupling operator's network for the results Dataset."""
    from ..variables import attrs

    net = op.network
    nodes, links = net.node_names(), net.link_names()
    t = np.asarray(op.series_t, np.float64)
    coords = {
        "sewer_time": ("sewer_time", t, attrs("sewer_time")),
        "node": ("node", np.array(nodes, dtype=object), attrs("node")),
        "link": ("link", np.array(links, dtype=object), attrs("link")),
        "node_x": ("node", np.array([net.xy[n][0] for n in nodes]), attrs("node_x")),
        "node_y": ("node", np.array([net.xy[n][1] for n in nodes]), attrs("node_y")),
        "node_kind": ("node", np.array([net.node_kind(n) for n in nodes], dtype=object), attrs("node_kind")),
        "node_rim": ("node", np.array([net.rim(n) for n in nodes]), attrs("node_rim")),
        "node_invert": ("node", np.array([net.invert(n) for n in nodes]), attrs("node_invert")),
        "node_inlet": ("node", np.array([int(n in net.inlets) for n in nodes], np.int8), attrs("node_inlet")),
        "link_kind": ("link", np.array([net.link_kind(n) for n in links], dtype=object), attrs("link_kind")),
        "link_from": ("link", np.array([net.link_nodes(n)[0] for n in links], dtype=object), attrs("link_from")),
        "link_to": ("link", np.array([net.link_nodes(n)[1] for n in links], dtype=object), attrs("link_to")),
    }
    data = {}
    nt = t.size
    node_block = np.array(op.series_nodes, np.float64).reshape(nt, 4, len(nodes))
    link_block = np.array(op.series_links, np.float64).reshape(nt, 2, len(links))
    for k, key in enumerate(_NODE_VARS):
        data[key] = (("node", "sewer_time"), node_block[:, k, :].T.copy(), attrs(key))
    for k, key in enumerate(_LINK_VARS):
        data[key] = (("link", "sewer_time"), link_block[:, k, :].T.copy(), attrs(key))
    full = getattr(op, "_full", np.full(len(links), np.nan))
    data["link_full_flow"] = (("link",), np.asarray(full, np.float64), attrs("link_full_flow"))
    report = op.report()
    out_attrs = {}
    for key, value in report.items():
        if isinstance(value, (int, float)):
            out_attrs[f"sewer_{key}"] = float(value)
        elif isinstance(value, list):
            out_attrs[f"sewer_{key}"] = ", ".join(map(str, value)) or "none"
    out_attrs["sewer_source"] = net.source
    return data, coords, out_attrs


def sewer_summary(ds) -> dict | None:
    """The summary's ``sewer`` block from a results Dataset (``None`` without a network)."""
    if "node" not in ds.dims:
        return None
    a = ds.attrs

    def num(key):
        v = a.get(f"sewer_{key}")
        return None if v is None else float(v)

    head = ds["node_head"].values
    rim = ds["node_rim"].values
    with np.errstate(invalid="ignore"):
        surcharged = [str(n) for n, h, r in zip(ds["node"].values, np.nanmax(head, axis=1), rim)
                      if math.isfinite(r) and h > r]
    used = ds["link_capacity_used"].values
    peak_used = np.nanmax(np.where(np.isfinite(used), used, -np.inf), axis=1) if used.size else np.zeros(0)
    full_pipes = [str(n) for n, u in zip(ds["link"].values, peak_used) if u >= 1.0]
    balance = {
        "from_surface_m3": num("from_surface"), "to_surface_m3": num("to_surface"),
        "surcharge_to_surface_m3": num("surcharge"), "overflow_to_surface_m3": num("overflow"),
        "outfalls_m3": num("outfall"), "outfalls_out_of_model_m3": num("left_domain"),
        "network_ledger_m3": num("held_m3"), "network_swmm_volume_m3": num("network_volume_m3"),
        "in_transit_m3": num("in_transit_m3"),
        "network_continuity_error_m3": num("network_continuity_error_m3"),
        "network_continuity_error_pct": num("network_continuity_error_pct"),
        "swmm_flow_routing_continuity_error_pct": num("flow_routing_continuity_error_pct"),
    }
    surface = float(ds["volume_stored"].values[-1])
    measures = float(ds["volume_measures"].values[-1])
    combined = {
        "surface_m3": surface,
        "network_m3": balance["network_swmm_volume_m3"],
        "other_measures_m3": measures - (balance["network_ledger_m3"] or 0.0),
        "out_through_outfalls_m3": balance["outfalls_out_of_model_m3"],
        "surface_closure_error_m3": float(ds["volume_error"].values[-1]),
    }
    return {
        "coupling_step_s": num("coupling_step_s"), "coupled_nodes": int(num("coupled_nodes") or 0),
        "nodes": int(ds.sizes["node"]), "links": int(ds.sizes["link"]),
        "ignored_sections": a.get("sewer_ignored_sections", "none"),
        "balance_m3": balance, "combined_balance_m3": combined,
        "surcharged_nodes": surcharged, "links_at_or_over_full_capacity": full_pipes,
        "peak_inflow_from_surface_m3_s": float(np.nanmax(ds["node_inflow"].values.sum(axis=0))) if head.size else 0.0,
        "peak_flooding_to_surface_m3_s": float(np.nanmax(ds["node_flooding"].values.sum(axis=0))) if head.size else 0.0,
    }


def format_balance(block: dict) -> str:
    """The combined balance as printed lines (surface + network + outfalls) [m³]."""
    b, c = block["balance_m3"], block["combined_balance_m3"]
    rows = [
        ("taken from the surface by inlets", b["from_surface_m3"]),
        ("returned to the surface (surcharge, overflow, outfalls to cells)", b["to_surface_m3"]),
        ("left the model through outfalls", b["outfalls_out_of_model_m3"]),
        ("held by the network (ledger)", b["network_ledger_m3"]),
        ("held by the network (SWMM: nodes + links)", b["network_swmm_volume_m3"]),
        ("network continuity error (SWMM - ledger)", b["network_continuity_error_m3"]),
        ("on the surface at the end", c["surface_m3"]),
        ("surface (2-D) closure error", c["surface_closure_error_m3"]),
    ]
    lines = ["sewer network balance [m³]:"] + [f"  {k:<66} {v:14.4f}" for k, v in rows if v is not None]
    lines.append(f"  network continuity error {b['network_continuity_error_pct']:.3f} %; SWMM's own flow routing "
                 f"continuity error {b['swmm_flow_routing_continuity_error_pct']:.3f} %")
    return "\n".join(lines)


def write_network_layers(ds, path, crs=None) -> list[str]:
    """Append ``sewer_pipes`` and ``sewer_nodes`` to the GeoPackage ``path``; return the layer names."""
    if "node" not in ds.dims:
        return []
    import geopandas as gpd
    from shapely.geometry import LineString, Point

    names = [str(n) for n in ds["node"].values]
    xy = {n: (float(x), float(y)) for n, x, y in zip(names, ds["node_x"].values, ds["node_y"].values)}
    head = ds["node_head"].values
    depth = ds["node_depth"].values
    flood = ds["node_flooding"].values
    t = ds["sewer_time"].values
    dt = np.diff(t, prepend=t[0]) if t.size else t
    rim = ds["node_rim"].values
    with np.errstate(invalid="ignore"):
        max_head = np.nanmax(head, axis=1)
    nodes = gpd.GeoDataFrame({
        "name": names,
        "kind": [str(k) for k in ds["node_kind"].values],
        "inlet": ds["node_inlet"].values.astype(int),
        "invert_m": ds["node_invert"].values,
        "rim_m": rim,
        "max_depth_m": np.nanmax(depth, axis=1),
        "max_head_m": max_head,
        "surcharged": [int(math.isfinite(r) and h > r) for h, r in zip(max_head, rim)],
        "peak_flooding_m3_s": np.nanmax(flood, axis=1),
        "flooding_volume_m3": (flood * dt).sum(axis=1),
        "peak_inflow_m3_s": np.nanmax(ds["node_inflow"].values, axis=1),
    }, geometry=[Point(xy[n]) for n in names], crs=crs)
    flow = ds["link_flow"].values
    used = ds["link_capacity_used"].values
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        peak_used = np.nanmax(used, axis=1)
    links = gpd.GeoDataFrame({
        "name": [str(n) for n in ds["link"].values],
        "kind": [str(k) for k in ds["link_kind"].values],
        "from_node": [str(n) for n in ds["link_from"].values],
        "to_node": [str(n) for n in ds["link_to"].values],
        "peak_flow_m3_s": np.nanmax(np.abs(flow), axis=1),
        "full_flow_m3_s": ds["link_full_flow"].values,
        "peak_capacity_used": peak_used,
    }, geometry=[LineString([xy[str(a)], xy[str(b)]]) for a, b in zip(ds["link_from"].values, ds["link_to"].values)],
        crs=crs)
    from ..io.runfolder import LAYER_SEWER_NODES, LAYER_SEWER_PIPES

    links.to_file(path, layer=LAYER_SEWER_PIPES, driver="GPKG")
    nodes.to_file(path, layer=LAYER_SEWER_NODES, driver="GPKG")
    return [LAYER_SEWER_PIPES, LAYER_SEWER_NODES]
