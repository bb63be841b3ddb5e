"""The network alone: SWMM through floodsim's engine against hand formulas and a stand-alone SWMM run,
control rules, the two forms of a network, and SWMM's own refusal of a bad .inp."""

from __future__ import annotations

import math

import numpy as np
import pytest
from swmm_api.input_file.sections import Conduit, CrossSection, Junction, Outfall, Pump, Storage

from floodsim.errors import InputDataError
from floodsim.sewer.engine import SwmmEngine
from floodsim.sewer.network import Inlet, read_inp, read_layers

from .conftest import cell_xy, make_inp

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def _circle(y: float, d: float) -> tuple[float, float]:
    """Flow area [m²] and wetted perimeter [m] of a circular pipe of diameter d at depth y."""
    theta = 2.0 * math.acos(1.0 - 2.0 * y / d)
    return d * d / 8.0 * (theta - math.sin(theta)), d * theta / 2.0


def _manning(y, d, n, s):
    area, per = _circle(y, d)
    return area * (area / per) ** (2.0 / 3.0) * math.sqrt(s) / n


def test_uniform_flow_in_a_circular_pipe_matches_manning(tmp_path):
    """Reference: Manning's equation Q = (1/n) A R^(2/3) S^(1/2) (Chow 1959, ch. 5) for a full pipe
    (A = π D²/4, R = D/4) and part full (circular-segment A and P at depth y): SWMM's full flow equals
    it, and a steady flow of half the full flow runs at the Manning normal depth in a long pipe."""
    d, n, slope, length = 0.6, 0.013, 0.004, 800.0
    inp = make_inp(tmp_path / "pipe.inp",
                   [(Junction("J1", 10.0 + slope * length, 3.0), (0.5, -0.5)),
                    (Outfall("O1", 10.0, "NORMAL"), (1.5, -0.5))],
                   [Conduit("C1", "J1", "O1", length, n)], {"C1": CrossSection("C1", "CIRCULAR", d)})
    net = read_inp(inp)
    e = SwmmEngine(net, tmp_path / "run", 4000.0, 2.0)
    try:
        full = math.pi * d * d / 4.0 * (d / 4.0) ** (2.0 / 3.0) * math.sqrt(slope) / n
        assert e.link_full_flow(e.link_index["C1"]) == pytest.approx(full, rel=2e-3)
        q = 0.5 * full
        nodes = np.array([e.node_index["J1"]])
        for _ in range(1500):
            e.set_inflows(nodes, np.array([q]))
            e.step()
        flow = e.link_results(np.array([e.link_index["C1"]]), "FLOW", np.zeros(1))[0]
        depth = e.link_results(np.array([e.link_index["C1"]]), "DEPTH", np.zeros(1))[0]
        assert flow == pytest.approx(q, rel=1e-3)
        lo, hi = 1e-6, d * 0.938      # normal depth: bisection on the rising branch of Q(y)
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if _manning(mid, d, n, slope) < q else (lo, mid)
        assert depth == pytest.approx(lo, rel=0.03)
    finally:
        e.close()


def test_network_alone_driven_through_floodsim_reproduces_a_stand_alone_swmm_run(tmp_path):
    """Reference: the same .inp run by SWMM itself (pyswmm, its [INFLOWS] hydrograph). floodsim drops
    [INFLOWS] and drives the node with the same hydrograph through its engine (lateral inflow set
    before each step to the series at the step's start, where SWMM 5.2 evaluates external inflows);
    both with fixed 1 s routing steps and floodsim's iteration settings (MAX_TRIALS 20, HEAD_TOLERANCE
    0.1 mm). Node depths agree to 1e-4 relative (SWMM's float32 results)."""
    from pyswmm import Nodes, Simulation

    series = "[TIMESERIES]\nhyd 0:00 0.0\nhyd 0:10 0.25\nhyd 0:25 0.05\nhyd 0:40 0.0\n\n[INFLOWS]\nJ1 FLOW hyd\n"
    inp = make_inp(tmp_path / "alone.inp",
                   [(Junction("J1", 12.0, 3.0), (0.5, -0.5)), (Junction("J2", 11.0, 3.0), (1.5, -0.5)),
                    (Storage("S1", 10.0, 3.0, 0.0, "FUNCTIONAL", 0.0, 0.0, 60.0), (2.5, -0.5)),
                    (Outfall("O1", 9.0, "FREE"), (3.5, -0.5))],
                   [Conduit("C1", "J1", "J2", 100.0, 0.013), Conduit("C2", "J2", "S1", 100.0, 0.013),
                    Conduit("C3", "S1", "O1", 80.0, 0.013)],
                   {"C1": CrossSection("C1", "CIRCULAR", 0.45), "C2": CrossSection("C2", "CIRCULAR", 0.45),
                    "C3": CrossSection("C3", "CIRCULAR", 0.25)},
                   extra=series, options={"END_TIME": "01:00:00", "VARIABLE_STEP": "0", "MAX_TRIALS": "20",
                                          "HEAD_TOLERANCE": "0.0001"})
    names = ("J1", "J2", "S1")
    reference = {}
    with Simulation(str(inp)) as sim:
        nodes = Nodes(sim)
        for _ in sim:
            t = round((sim.current_time - sim.start_time).total_seconds())
            if t % 60 == 0:
                reference[t] = [nodes[n].depth for n in names]
    hyd_t = np.array([0, 600, 1500, 2400, 1e9])
    hyd_q = np.array([0, 0.25, 0.05, 0, 0])
    net = read_inp(inp)
    e = SwmmEngine(net, tmp_path / "run", 3600.0, 1.0)
    try:
        assert e.ignored == ["INFLOWS"]
        j1 = np.array([e.node_index["J1"]])
        idx = np.array([e.node_index[n] for n in names])
        out = np.zeros(3)
        compared = 0
        for k in range(3600):
            e.set_inflows(j1, np.array([np.interp(k * 1.0, hyd_t, hyd_q)]))
            e.step()
            t = k + 1
            if t in reference:
                e.node_results(idx, "DEPTH", out)
                np.testing.assert_allclose(out, reference[t], rtol=1e-4, atol=1e-5)
                compared += 1
        assert compared >= 50
        assert max(max(v) for v in reference.values()) > 0.2     # a real event, not a dry pipe
    finally:
        e.close()


def test_a_control_rule_switches_a_pump_at_its_level(tmp_path):
    """Reference: the rules themselves (SWMM [CONTROLS]): the pump starts in the step after the wet
    well passes 1.5 m and stops after it falls below 0.3 m."""
    rules = ("[CONTROLS]\nRULE START\nIF NODE WW DEPTH > 1.5\nTHEN PUMP P1 STATUS = ON\nPRIORITY 1\n\n"
             "RULE STOP\nIF NODE WW DEPTH < 0.3\nTHEN PUMP P1 STATUS = OFF\nPRIORITY 2\n\n"
             "[CURVES]\nP1curve PUMP2 0 0.08\n")
    inp = make_inp(tmp_path / "pump.inp",
                   [(Storage("WW", 5.0, 3.0, 0.0, "FUNCTIONAL", 0.0, 0.0, 20.0), (0.5, -0.5)),
                    (Junction("J2", 9.0, 2.0), (1.5, -0.5)), (Outfall("O1", 8.0, "FREE"), (2.5, -0.5))],
                   [Pump("P1", "WW", "J2", "P1curve", "OFF", 0, 0), Conduit("C2", "J2", "O1", 50.0, 0.013)],
                   extra=rules)
    net = read_inp(inp)
    assert "CONTROLS" in net.inp and len(net.inp["CONTROLS"]) == 2
    e = SwmmEngine(net, tmp_path / "run", 3000.0, 1.0)
    try:
        ww, pump = np.array([e.node_index["WW"]]), np.array([e.link_index["P1"]])
        depth, flow = np.zeros(1), np.zeros(1)
        history = []
        for k in range(2400):
            e.set_inflows(ww, np.array([0.03 if k < 1500 else 0.0]))
            e.step()
            history.append((e.node_results(ww, "DEPTH", depth)[0], e.link_results(pump, "FLOW", flow)[0]))
        d = np.array([h[0] for h in history])
        q = np.array([h[1] for h in history])
        start = int(np.argmax(d > 1.5))
        assert start > 0 and np.all(q[:start] == 0.0)           # off while the well fills
        assert q[start + 2] == pytest.approx(0.08, rel=1e-6)      # on at its level
        stop = start + int(np.argmax(d[start:] < 0.3))
        assert stop > start and q[stop + 2] == 0.0               # off again below 0.3 m
        assert d[start - 1] <= 1.5 + 0.03 * 1.0 / 20.0 + 1e-9
    finally:
        e.close()


def test_inp_and_layers_convert_both_ways(tmp_path):
    inp = make_inp(tmp_path / "net.inp",
                   [(Junction("J1", 9.0, 1.5), cell_xy(1, 1)), (Junction("J2", 8.5, 1.8), cell_xy(2, 5)),
                    (Storage("T1", 7.0, 3.0, 0.0, "FUNCTIONAL", 0.0, 0.0, 50.0), cell_xy(4, 6)),
                    (Outfall("O1", 6.0, "FREE"), cell_xy(7, 7))],
                   [Conduit("C1", "J1", "J2", 30.0, 0.013), Conduit("C2", "J2", "T1", 30.0, 0.013),
                    Conduit("C3", "T1", "O1", 20.0, 0.015)],
                   {"C1": CrossSection("C1", "CIRCULAR", 0.3), "C2": CrossSection("C2", "RECT_CLOSED", 0.6, 0.9),
                    "C3": CrossSection("C3", "CIRCULAR", 0.45)})
    net = read_inp(inp, crs="EPSG:28356", inlets={"J1": Inlet(0.12, 1.4, 0.05), "J2": Inlet()})
    gpkg = net.write_layers(tmp_path / "net.gpkg")
    back = read_layers(gpkg)
    assert back.node_names() == net.node_names() and back.link_names() == net.link_names()
    assert back.inlets["J1"] == Inlet(0.12, 1.4, 0.05) and "T1" not in back.inlets
    for n in net.node_names():
        assert back.invert(n) == pytest.approx(net.invert(n))
        assert np.nan_to_num(back.rim(n)) == pytest.approx(np.nan_to_num(net.rim(n)))
        assert back.xy[n] == pytest.approx(net.xy[n])
    assert back.inp["XSECTIONS"]["C2"].parameter_2 == pytest.approx(0.9)
    again = back.write_inp(tmp_path / "again.inp")
    net2 = read_inp(again)     # SWMM accepts what floodsim wrote from the layers
    assert net2.inp["CONDUITS"]["C3"].roughness == pytest.approx(0.015)
    assert back.crs is not None and "28356" in back.crs


def test_an_inp_swmm_rejects_names_its_error_code_and_line(tmp_path):
    inp = make_inp(tmp_path / "bad.inp",
                   [(Junction("J1", 9.0, 1.5), (0.5, -0.5)), (Outfall("O1", 6.0, "FREE"), (1.5, -0.5))],
                   [Conduit("C1", "J1", "O1", 30.0, 0.013)])
    inp.write_text(inp.read_text().replace("C1 J1 O1", "C1 J1 NOWHERE"))
    with pytest.raises(InputDataError) as err:
        read_inp(inp)
    msg = str(err.value)
    assert "bad.inp" in msg and "ERROR 2" in msg and "NOWHERE" in msg and "line" in msg


@pytest.mark.parametrize("layer, column, value, message", [
    ("junctions", "name", "MH 1", "name of 1-60 characters without spaces"),
    ("junctions", "name", "MH\u20281", "without spaces"),
    ("junctions", "invert_m", float("nan"), "has no invert_m"),
    ("junctions", "rim_m", 1e38, "rim_m = 1e+38"),
    ("junctions", "rim_m", 7.0, "rim_m 7 <= invert_m 8"),
    ("junctions", "inlet", "yes", "give 1 (takes surface water) or 0"),
    ("conduits", "manning_n", 0.5, "a pipe's n is 0.009-0.03"),
    ("conduits", "height_m", -0.3, "height_m = -0.3; give a finite number > 0"),
    ("conduits", "to_node", "{{7*7}}", "to_node = '{{7*7}}', which is not a node"),
    ("conduits", "shape", "<script>", "shape = '<script>'; give 'circular' or 'rect_closed'"),
    ("outfalls", "stage", "tidal", "give 'free' or 'fixed'"),
])
def test_hostile_layer_attributes_are_refused_naming_file_layer_feature_and_field(tmp_path, layer, column, value,
                                                                                message):
    import geopandas as gpd
    from shapely.geometry import LineString, Point

    data = {
        "junctions": ({"name": "MH1", "invert_m": 8.0, "rim_m": 10.0, "inlet": 1}, Point(1.5, -1.5)),
        "outfalls": ({"name": "OF1", "invert_m": 7.0, "stage": "free"}, Point(5.5, -5.5)),
        "conduits": ({"name": "P1", "from_node": "MH1", "to_node": "OF1", "shape": "circular", "height_m": 0.3,
                      "manning_n": 0.013, "length_m": 30.0}, LineString([(1.5, -1.5), (5.5, -5.5)])),
    }
    row, geom = data[layer]
    row = dict(row)
    row[column] = value
    data[layer] = (row, geom)
    path = tmp_path / "net.gpkg"
    for name, (attrs, g) in data.items():
        gpd.GeoDataFrame([attrs], geometry=[g], crs="EPSG:28356").to_file(path, layer=name)
    with pytest.raises(InputDataError) as err:
        read_layers(path)
    msg = str(err.value)
    assert message in msg and "net.gpkg" in msg and f"layer '{layer}'" in msg


def test_convert_command_goes_both_ways_and_refuses_bad_requests(tmp_path, capsys):
    from floodsim.errors import ExitCode
    from floodsim.sewer.convert import main

    inp = ROOT / "gis_data" / "merewether" / "sewer.inp"
    assert main([str(inp), str(tmp_path / "a.gpkg")]) == ExitCode.INPUT          # an .inp has no CRS
    assert "--crs" in capsys.readouterr().err
    assert main([str(inp), str(tmp_path / "a.gpkg"), "--crs", "EPSG:28356", "--inlets", "all"]) == ExitCode.OK
    assert main([str(tmp_path / "a.gpkg"), str(tmp_path / "b.inp")]) == ExitCode.OK
    again = read_inp(tmp_path / "b.inp")
    original = read_inp(inp)
    assert again.node_names() == original.node_names() and again.link_names() == original.link_names()
    for n in original.node_names():
        assert again.invert(n) == pytest.approx(original.invert(n)) and again.xy[n] == pytest.approx(original.xy[n])
    layers = read_layers(tmp_path / "a.gpkg")
    assert len(layers.inlets) == 30 and layers.crs is not None
    assert main([str(tmp_path / "a.gpkg"), str(tmp_path / "b.inp")]) == ExitCode.INPUT   # never overwrites
    assert main([str(inp), str(tmp_path / "c.inp")]) == ExitCode.INPUT                     # same form
