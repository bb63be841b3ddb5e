"""The surface ↔ manhole exchange against the laws computed by hand.

References: HEC-22 (Brown et al. 2013, FHWA-NHI-10-009), sag inlets: weir Q = Cw P d^1.5 (Cw = 1.66
m^0.5/s SI, eq. 4-26) and orifice Q = Co A sqrt(2 g d) (Co = 0.67, eq. 4-27), the smaller of the two
governing (the transition between them); a surcharged manhole discharges onto the street through its
opening by the orifice law Q = Co A sqrt(2 g (H_node - H_surface)).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from swmm_api.input_file.sections import Conduit, Junction, Outfall, Storage

from floodsim.core.operator import BindContext
from floodsim.sewer.coupling import SewerCoupling
from floodsim.sewer.network import Inlet, read_inp

from .conftest import cell_xy, make_inp

G = 9.81
CW, CO = 1.66, 0.67


def _bound(op, grid):
    z = np.where(grid.valid, grid.z, 0.0)
    op.bind(BindContext(grid=grid, z=z, active=grid.valid.astype(np.uint8), g=G, hmin=0.001))
    return z


def _one_inlet(tmp_path, inlet: Inlet, invert=8.0):
    inp = make_inp(tmp_path / "one.inp",
                   [(Junction("J1", invert, 2.0), cell_xy(4, 4)), (Outfall("O1", 7.0, "FREE"), cell_xy(8, 8))],
                   [Conduit("C1", "J1", "O1", 50.0, 0.013)])
    return read_inp(inp, inlets={"J1": inlet})


@pytest.mark.parametrize("depth, governs", [(0.05, "weir"), (0.5, "orifice")])
def test_inlet_capture_matches_the_weir_and_orifice_laws_by_hand(tmp_path, flat_grid, depth, governs):
    """A free inlet (node head below the ground) on a cell of depth d takes min(weir, orifice) × dt."""
    inlet = Inlet(area_m2=0.1, length_m=1.2)
    op = SewerCoupling(_one_inlet(tmp_path, inlet), duration_s=60.0, step_s=1.0)
    try:
        _bound(op, flat_grid)
        h = np.full(flat_grid.shape, depth)
        dt = 0.25
        flows = op.apply(h, 0.0, dt)
        weir = CW * 1.2 * depth ** 1.5                  # 0.0223 m³/s at 5 cm
        orifice = CO * 0.1 * math.sqrt(2 * G * depth)   # 0.2098 m³/s at 50 cm
        q = min(weir, orifice)
        assert (weir < orifice) == (governs == "weir")
        assert flows.from_surface == pytest.approx(q * dt, rel=1e-12)
        assert h[4, 4] == pytest.approx(depth - q * dt / 1.0, rel=1e-12)
        assert np.all(np.delete(h.ravel(), 4 * 9 + 4) == depth)       # no other cell touched
        assert op.stored_volume - op.initial_volume == pytest.approx(q * dt, rel=1e-12)   # in the ledger
        # at the end of the coupling step SWMM receives the step's volume as its lateral inflow
        for k in range(1, 4):
            op.apply(h, k * dt, dt)
        taken = op.volumes["from_surface"]
        op.apply(h, 1.0, dt)    # crosses the coupling time: SWMM steps with rate = volume / 1 s
        lat = op.engine.node_results(np.array([op.engine.node_index["J1"]]), "LATERAL_INFLOW", np.zeros(1))[0]
        assert lat == pytest.approx(taken / 1.0, rel=1e-6)
    finally:
        op.close()


def test_inlet_capacity_and_the_water_the_cell_holds_cap_the_intake(tmp_path, flat_grid):
    op = SewerCoupling(_one_inlet(tmp_path, Inlet(area_m2=0.1, length_m=1.2, capacity_m3_s=0.01)),
                       duration_s=60.0, step_s=1.0)
    try:
        _bound(op, flat_grid)
        h = np.full(flat_grid.shape, 0.3)
        assert op.apply(h, 0.0, 0.5).from_surface == pytest.approx(0.01 * 0.5, rel=1e-12)   # the gully's capacity
    finally:
        op.close()
    # a huge grate over a thin film: the law would take 2.1 m³ in 1 s, the cell holds 2 mm × 1 m²
    op = SewerCoupling(_one_inlet(tmp_path, Inlet(area_m2=50.0, length_m=100.0)), duration_s=60.0, step_s=1.0)
    try:
        _bound(op, flat_grid)
        h = np.full(flat_grid.shape, 0.002)
        flows = op.apply(h, 0.0, 1.0)
        assert flows.from_surface == pytest.approx(0.002, rel=1e-12)
        assert h[4, 4] == 0.0
    finally:
        op.close()


def test_surcharged_manhole_returns_water_at_the_orifice_law_rate(tmp_path, flat_grid):
    """A full storage unit upstream pressurises a pipe into J2, whose rim is the ground (10 m): the node
    head rises above the ground and water comes out of J2's opening onto its cell at Co A sqrt(2 g ΔH),
    ΔH = node head − surface head, and SWMM gives that water up (negative lateral inflow)."""
    inp = make_inp(tmp_path / "surcharge.inp",
                   [(Storage("S1", 11.0, 6.0, 5.5, "FUNCTIONAL", 0.0, 0.0, 400.0), cell_xy(0, 0)),
                    (Junction("J2", 8.5, 1.5), cell_xy(4, 4)), (Outfall("O1", 5.0, "FREE"), cell_xy(8, 8))],
                   [Conduit("C1", "S1", "J2", 40.0, 0.013), Conduit("C2", "J2", "O1", 40.0, 0.013)],
                   xsections={})
    from swmm_api.input_file.sections import CrossSection

    text = inp.read_text().replace("C2 CIRCULAR 0.3", "C2 CIRCULAR 0.1")   # a throttle downstream of J2
    inp.write_text(text)
    assert "C2 CIRCULAR 0.1" in text, CrossSection
    net = read_inp(inp, inlets={"J2": Inlet(area_m2=0.05, length_m=0.9)})
    op = SewerCoupling(net, duration_s=600.0, step_s=1.0)
    try:
        z = _bound(op, flat_grid)
        h = np.zeros(flat_grid.shape)
        t, dt = 0.0, 0.5
        seen = False
        while t < 300.0:
            head = float(op._head[0]) if op.engine is not None else -np.inf
            h_before = float(h[4, 4])
            flows = op.apply(h, t, dt)
            # the head used by the step is the one SWMM had at the start of its coupling step
            head = float(op._head[0])
            hs = z[4, 4] + h_before
            if head > hs + 0.05 and flows.to_surface > 0 and t > 5.0:
                expected = CO * 0.05 * math.sqrt(2 * G * (head - hs)) * dt
                got = op.volumes["surcharge"] - getattr(op, "_prev_surcharge", 0.0)
                if expected < op._avail[0] and expected < (head - hs) * 1.0:   # not capped this step
                    assert got == pytest.approx(expected, rel=1e-9)
                    assert h[4, 4] == pytest.approx(h_before + expected, rel=1e-9)
                    seen = True
            op._prev_surcharge = op.volumes["surcharge"]
            h[4, 4] = 0.0      # the street drains the water away (keeps the surface head at the ground)
            t += dt
        assert seen, "the manhole never surcharged"
        assert op.volumes["surcharge"] > 1.0
        lat = op.engine.node_results(np.array([op.engine.node_index["J2"]]), "LATERAL_INFLOW", np.zeros(1))[0]
        assert lat < 0   # SWMM gives the water up at J2
        report = op.report()
        assert abs(report["network_continuity_error_pct"]) < 2.0
    finally:
        op.close()


def test_a_rising_level_backs_up_through_the_outfall_and_out_of_the_manhole(tmp_path, flat_grid):
    """Compound flooding (Vejle): the receiving water at an outfall without a flap gate rises from 6 m
    to 10.4 m, above the street (10 m). It backs up through the pipe (the net outflow is negative: water
    entering the model) and comes out of the manhole onto the street (drained away each step) by the
    orifice law once the node head passes the ground. The ledger and the water SWMM holds differ by
    less than the pipe's volume: SWMM fills a conduit's volume from the stage at its outfall end before
    any flow enters it (3.5 m³ here), a property of its dynamic-wave volumes."""
    from floodsim.core.forcing import TimeSeries
    from floodsim.sewer.coupling import OutfallTarget

    inp = make_inp(tmp_path / "sea.inp",
                   [(Junction("J1", 8.0, 2.0), cell_xy(4, 4)), (Outfall("O1", 6.0, "FREE"), cell_xy(8, 8))],
                   [Conduit("C1", "J1", "O1", 50.0, 0.013)])
    net = read_inp(inp, inlets={"J1": Inlet(0.1, 1.2)})
    sea = TimeSeries(np.array([0.0, 600.0, 1200.0]), np.array([6.0, 10.4, 10.4]), "sea level")
    op = SewerCoupling(net, duration_s=1200.0, step_s=1.0, outfalls={"O1": OutfallTarget("level", level=sea)})
    try:
        z = _bound(op, flat_grid)
        h = np.zeros(flat_grid.shape)
        left, checked = 0.0, 0
        for k in range(2 * 1100):
            head, before, avail = float(op._head[0]), op.volumes["surcharge"], float(op._avail[0])
            left += op.apply(h, 0.5 * k, 0.5).left_domain
            out = op.volumes["surcharge"] - before
            if k % 2 == 1 and head > z[4, 4]:   # inside a coupling step: the head SWMM had at its start
                law = CO * 0.1 * math.sqrt(2 * G * (head - z[4, 4])) * 0.5
                assert out == pytest.approx(min(law, avail, head - z[4, 4]), rel=1e-9)
                checked += law < avail
            h[4, 4] = 0.0
        assert left < -10.0                                  # the sea came in through the outfall
        assert op.volumes["surcharge"] > 10.0                # and out of the manhole onto the street
        assert 10.0 < op._head[0] < 10.4
        assert checked > 100                                 # steps at the orifice law's rate, uncapped
        report = op.report()
        pipe = math.pi * 0.3 ** 2 / 4 * 50.0
        assert abs(report["network_continuity_error_m3"]) < pipe, report
    finally:
        op.close()
