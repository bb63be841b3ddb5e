"""Forcing series and unit conversions: exact integrals and clear input errors.

References: the integrals of a step function and of a piecewise-linear function are computed by
hand (rectangles and trapezoids) in each test; unit factors 1 mm/h = 1/3.6e6 m/s.
"""

import numpy as np
import pytest

from floodsim import units
from floodsim.errors import InputDataError
from floodsim.core.forcing import Hyetograph, TimeSeries


def test_unit_conversions():
    """1 mm/h = 1/3.6e6 m/s exactly; round trip is identity; scalar in, float out; arrays too."""
    assert units.mm_h_to_m_s(36.0) == pytest.approx(1e-5, rel=1e-15)
    assert units.m_s_to_mm_h(units.mm_h_to_m_s(10.8)) == pytest.approx(10.8, rel=1e-15)
    assert isinstance(units.mm_h_to_m_s(1), float)
    np.testing.assert_allclose(units.mm_h_to_m_s(np.array([3.6, 36.0])), [1e-6, 1e-5], rtol=1e-15)
    assert units.hours_to_s(1.5) == 5400 and units.minutes_to_s(90) == 5400
    assert units.mm_to_m(25.0) == 0.025


def test_hyetograph_depth_between_exact():
    """Step hyetograph 0-600 s: 36 mm/h, 600-1200 s: 72 mm/h, 1200-1800 s: 0, end 1800 s.
    Hand integrals: whole event 6 + 12 = 18 mm; 300-900 s: 3 + 6 = 9 mm; before/after: 0."""
    hy = Hyetograph.from_mm_h([0.0, 600.0, 1200.0], [36.0, 72.0, 0.0], end_s=1800.0)
    assert hy.total_depth == pytest.approx(0.018, rel=1e-14)
    assert hy.depth_between(300.0, 900.0) == pytest.approx(0.009, rel=1e-14)
    assert hy.depth_between(-100.0, 0.0) == 0.0
    assert hy.depth_between(1800.0, 5000.0) == 0.0
    assert hy.depth_between(0.0, 1e9) == pytest.approx(0.018, rel=1e-14)
    assert hy.rate(599.999) == pytest.approx(1e-5, rel=1e-15)
    assert hy.rate(600.0) == pytest.approx(2e-5, rel=1e-15)
    assert hy.rate(1800.0) == 0.0 and hy.rate(-1.0) == 0.0
    assert hy.next_change(0.0) == 600.0 and hy.next_change(1800.0) == np.inf
    # additivity over an arbitrary partition
    cuts = np.sort(np.random.default_rng(1).uniform(0, 1800, 50))
    parts = sum(hy.depth_between(a, b) for a, b in zip(np.r_[0.0, cuts], np.r_[cuts, 1800.0]))
    assert parts == pytest.approx(0.018, rel=1e-13)


def test_hyetograph_block():
    """Hyetograph.block(60 mm/h, 600 s) delivers 10 mm (the example in Simulation's docstring)."""
    hy = Hyetograph.block(60.0, 600.0, start_s=120.0)
    assert hy.total_depth == pytest.approx(0.010, rel=1e-14)
    assert hy.depth_between(0.0, 120.0) == 0.0


def test_hyetograph_rejects_unsorted_times():
    with pytest.raises(InputDataError, match="times must increase strictly"):
        Hyetograph.from_mm_h([0.0, 600.0, 300.0], [10.0, 10.0, 10.0], end_s=900.0)
    with pytest.raises(InputDataError, match="Sort the series"):
        Hyetograph(np.array([0.0, 0.0]), np.array([1e-6, 1e-6]), 60.0)


def test_hyetograph_rejects_negative_rain():
    with pytest.raises(InputDataError, match=r"intensity 1 is -5(\.0)? mm/h; rainfall must be finite and non-negative"):
        Hyetograph.from_mm_h([0.0, 60.0], [10.0, -5.0], end_s=120.0)
    with pytest.raises(InputDataError, match="finite and non-negative"):
        Hyetograph(np.array([0.0]), np.array([np.nan]), 60.0)


def test_hyetograph_rejects_end_before_last_start():
    with pytest.raises(InputDataError, match="end .* must come after the last start time"):
        Hyetograph.from_mm_h([0.0, 60.0], [10.0, 5.0], end_s=60.0)


def test_timeseries_integral_exact_on_trapezoids():
    """Series (0 s, 0), (10 s, 10), (20 s, 0), constant outside. Hand integrals:
    [0, 20] = 100; [5, 15] = 37.5 + 37.5 = 75; [-10, 0] = 0; [20, 30] = 0; [-5, 25] = 100;
    a series held at 2 before its first knot at t = 10: [0, 10] = 20."""
    ts = TimeSeries([0.0, 10.0, 20.0], [0.0, 10.0, 0.0])
    assert ts.integral(0.0, 20.0) == pytest.approx(100.0, rel=1e-15)
    assert ts.integral(5.0, 15.0) == pytest.approx(75.0, rel=1e-15)
    assert ts.integral(-10.0, 0.0) == 0.0
    assert ts.integral(20.0, 30.0) == 0.0
    assert ts.integral(-5.0, 25.0) == pytest.approx(100.0, rel=1e-15)
    held = TimeSeries([10.0, 20.0], [2.0, 4.0])
    assert held.integral(0.0, 10.0) == pytest.approx(20.0, rel=1e-15)
    assert held.integral(15.0, 40.0) == pytest.approx(0.5 * (3 + 4) * 5 + 4 * 20, rel=1e-15)
    assert ts(5.0) == 5.0 and ts(100.0) == 0.0
    # additivity over random partitions of a random series
    rng = np.random.default_rng(7)
    t = np.cumsum(rng.uniform(0.1, 5.0, 40))
    v = rng.uniform(0.0, 3.0, 40)
    rs = TimeSeries(t, v)
    exact = np.trapezoid(v, t) if hasattr(np, "trapezoid") else np.trapz(v, t)
    cuts = np.sort(rng.uniform(t[0], t[-1], 25))
    edges = np.r_[t[0], cuts, t[-1]]
    assert sum(rs.integral(a, b) for a, b in zip(edges[:-1], edges[1:])) == pytest.approx(exact, rel=1e-13)


def test_timeseries_rejects_bad_input():
    with pytest.raises(InputDataError, match="times must increase strictly"):
        TimeSeries([0.0, 5.0, 5.0], [1.0, 2.0, 3.0], name="inflow A")
    with pytest.raises(InputDataError, match="inflow A: 2 times but 3 values"):
        TimeSeries([0.0, 5.0], [1.0, 2.0, 3.0], name="inflow A")
    with pytest.raises(InputDataError, match="NaN or infinity"):
        TimeSeries([0.0, 5.0], [1.0, np.inf])
