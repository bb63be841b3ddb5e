"""Design storms: IDF evaluation, the Chicago design storm of Keifer & Chu (1957), CSV hyetographs.

References:
- IDF hand values: the shipped curves ``gis_data/idf/dahlstrom2010_sherman.toml`` evaluated by hand
  from i = a / (t + b)^c, and the formula they were fitted to, Dahlström (2010):
  i = 190 T^(1/3) ln(t) / t^0.98 + 2 l/(s·ha), T in months, t in min; 1 l/(s·ha) = 0.36 mm/h.
- Chicago design storm: Keifer & Chu (1957). By construction the storm's depth over any window that
  holds the peak at the fraction r of its length equals the IDF depth D(τ) = τ·i(τ), and no window of
  the same length holds more; the instantaneous intensity before the peak is
  i_b(t_b) = a[(1-c) t_b/r + b] / (t_b/r + b)^(1+c).
"""

import math
from pathlib import Path

import numpy as np
import pytest

from floodsim import units
from floodsim.errors import InputDataError
from floodsim.build.storms import (IDFCurve, ShermanParameters, block_storm, chicago_design_storm,
                             chicago_instantaneous_intensity_mm_h, hyetograph_from_csv)

SHIPPED = Path(__file__).resolve().parents[2] / "gis_data" / "idf" / "dahlstrom2010_sherman.toml"


@pytest.fixture(scope="module")
def idf():
    return IDFCurve.from_file(SHIPPED)


def dahlstrom_mm_h(t_min, T_yr):
    return 0.36 * (190.0 * (12.0 * T_yr) ** (1.0 / 3.0) * math.log(t_min) / t_min ** 0.98 + 2.0)


def test_idf_hand_values(idf):
    """T = 100 yr: a = 1420.961828, b = 4.493710 min, c = 0.782305 (the file).
    i(10 min) = 1420.961828 / 14.49371^0.782305 = 175.45 mm/h by hand; depth = i · 10/60 = 29.24 mm.
    Dahlström (2010) gives 488.8 l/(s·ha) = 175.97 mm/h; the fit is within its stated 0.81 %."""
    assert idf.return_periods_yr == (1, 2, 5, 10, 20, 50, 100)
    assert idf.intensity_mm_h(10.0, 100) == pytest.approx(175.45, rel=2e-4)
    assert idf.depth_mm(10.0, 100) == pytest.approx(175.45 / 6.0, rel=2e-4)
    assert idf.intensity_mm_h(10.0, 100) == pytest.approx(dahlstrom_mm_h(10.0, 100), rel=0.0081)
    # the whole shipped table against its source formula, within each curve's recorded fit error
    for p in idf.curves:
        t = np.geomspace(5.0, 360.0, 25)
        src = np.array([dahlstrom_mm_h(x, p.return_period_yr) for x in t])
        assert np.max(np.abs(p.intensity_mm_h(t) / src - 1.0)) < 0.022
    # arrays in, arrays out; depth grows with duration, intensity falls
    t = np.array([5.0, 10.0, 30.0, 60.0, 180.0])
    i = idf.intensity_mm_h(t, 10)
    assert np.all(np.diff(i) < 0) and np.all(np.diff(idf.depth_mm(t, 10)) > 0)


def test_idf_interpolation_is_linear_in_log_T(idf):
    """T = 30 yr lies between 20 and 50: w = ln(30/20)/ln(50/20) = 0.44251;
    i = (1-w) i_20 + w i_50 for every duration. Tabulated T are returned exactly."""
    w = math.log(1.5) / math.log(2.5)
    assert w == pytest.approx(0.44251, abs=1e-5)
    for t in (5.0, 30.0, 240.0):
        expect = (1 - w) * idf.intensity_mm_h(t, 20) + w * idf.intensity_mm_h(t, 50)
        assert idf.intensity_mm_h(t, 30) == pytest.approx(expect, rel=1e-14)
    p50 = idf.curves[idf.return_periods_yr.index(50)]
    assert idf.intensity_mm_h(17.0, 50) == p50.a / (17.0 + p50.b_min) ** p50.c


def test_cds_total_depth_equals_idf_depth(idf):
    """The storm's total depth is the IDF depth for its full duration (T tabulated or interpolated)."""
    for T, dur, step, r in ((100, 60.0, 1.0, 0.4), (10, 120.0, 5.0, 0.3), (30, 90.0, 5.0, 0.5),
                            (5, 30.0, 1.0, 0.0), (5, 30.0, 1.0, 1.0)):
        h = chicago_design_storm(idf, T, dur, peak_position=r, step_min=step)
        assert units.m_to_mm(h.total_depth) == pytest.approx(idf.depth_mm(dur, T), rel=1e-12)
        assert h.times.size == round(dur / step)
        assert h.end - h.times[0] == units.minutes_to_s(dur)


@pytest.mark.parametrize("r, taus", [(0.4, (5.0, 10.0, 20.0, 40.0, 60.0)), (0.25, (4.0, 8.0, 20.0, 40.0, 60.0)),
                                     (0.5, (2.0, 6.0, 30.0, 60.0))])
def test_cds_window_around_peak_holds_idf_depth_and_is_the_maximum(idf, r, taus):
    """For windows of τ holding the peak at r τ (τ chosen so both ends fall on 1-min block edges):
    depth = D(τ) exactly; the heaviest step-aligned window of each length holds no more than D(τ)."""
    dur, step, T = 60.0, 1.0, 100
    h = chicago_design_storm(idf, T, dur, peak_position=r, step_min=step)
    tp = units.minutes_to_s(r * dur)
    for tau in taus:
        tau_s = units.minutes_to_s(tau)
        around = h.depth_between(tp - r * tau_s, tp + (1 - r) * tau_s)
        assert units.m_to_mm(around) == pytest.approx(idf.depth_mm(tau, T), rel=1e-11)
        starts = h.times[h.times + tau_s <= h.end + 1e-9]
        best = max(h.depth_between(s, s + tau_s) for s in starts)
        assert units.m_to_mm(best) <= idf.depth_mm(tau, T) * (1 + 1e-11)


def test_cds_peak_position_and_shape(idf):
    """The heaviest block touches t_p = r · t_d; intensities rise to it and fall after."""
    for r in (0.2, 0.4, 0.7):
        h = chicago_design_storm(idf, 10, 100.0, peak_position=r, step_min=5.0)
        k = int(np.argmax(h.intensity))
        assert h.times[k] <= units.minutes_to_s(r * 100.0) <= h.times[k] + 300.0
        assert np.all(np.diff(h.intensity[: k + 1]) > 0) and np.all(np.diff(h.intensity[k:]) < 0)


def test_cds_blocks_match_keifer_chu_instantaneous_intensity():
    """With fine steps each block's mean equals the closed-form instantaneous intensity (Keifer & Chu)
    at its midpoint, before and after the peak, to the midpoint-rule error."""
    p = ShermanParameters(10, 609.788064, 4.041165, 0.760731)
    idf = IDFCurve((p,), duration_range_min=(5.0, 360.0))
    r, dur, step = 0.4, 60.0, 0.1
    h = chicago_design_storm(idf, 10, dur, peak_position=r, step_min=step)
    mid_min = (h.times + units.minutes_to_s(step) / 2) / units.SECONDS_PER_MINUTE
    tp = r * dur
    before = mid_min < tp - step
    after = mid_min > tp + step
    got = units.m_s_to_mm_h(h.intensity)
    np.testing.assert_allclose(got[before], chicago_instantaneous_intensity_mm_h(p, tp - mid_min[before], True, r),
                               rtol=2e-3)
    np.testing.assert_allclose(got[after], chicago_instantaneous_intensity_mm_h(p, mid_min[after] - tp, False, r),
                               rtol=2e-3)
    # the peak itself: i(0) = a b / b^(1+c) = a / b^c
    assert chicago_instantaneous_intensity_mm_h(p, 0.0, True, r) == pytest.approx(p.a / p.b_min ** p.c, rel=1e-14)


def test_climate_factor_and_start(idf):
    """A climate factor of 1.3 multiplies every block, so the depth is 1.3 D(t_d); start_min shifts."""
    base = chicago_design_storm(idf, 100, 60.0, step_min=5.0)
    cf = chicago_design_storm(idf, 100, 60.0, step_min=5.0, climate_factor=1.3, start_min=10.0)
    np.testing.assert_allclose(cf.intensity, 1.3 * base.intensity, rtol=1e-15)
    assert cf.total_depth == pytest.approx(1.3 * units.mm_to_m(idf.depth_mm(60.0, 100)), rel=1e-12)
    assert cf.times[0] == 600.0 and cf.end == 600.0 + 3600.0


def test_block_storm(idf):
    h = block_storm(idf, 10, 30.0, climate_factor=1.2)
    assert h.times.size == 1 and h.end == 1800.0
    assert units.m_to_mm(h.total_depth) == pytest.approx(1.2 * idf.depth_mm(30.0, 10), rel=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    (dict(return_period_yr=200), "return period 200 yr is outside the tabulated range 1–100 yr"),
    (dict(return_period_yr=0.5), "outside the tabulated range"),
    (dict(duration_min=600.0), "duration_min = 600 is outside the 5–360 min range"),
    (dict(duration_min=2.0, step_min=1.0), "duration_min = 2 is outside"),
    (dict(peak_position=1.5), "peak_position must lie in \\[0, 1\\]"),
    (dict(step_min=7.0), "not a whole number of steps of step_min = 7"),
    (dict(step_min=0.0), "step_min must be a positive number"),
    (dict(climate_factor=0.0), "climate_factor must be a positive number"),
    (dict(start_min=-1.0), "start_min must be ≥ 0"),
])
def test_bad_storm_inputs(idf, kwargs, message):
    args = dict(return_period_yr=10, duration_min=60.0, peak_position=0.4, step_min=5.0)
    args.update(kwargs)
    with pytest.raises(InputDataError, match=message):
        chicago_design_storm(idf, **args)


def test_bad_idf_files(tmp_path):
    with pytest.raises(InputDataError, match="nothere.toml \\(IDF curve\\): file not found"):
        IDFCurve.from_file(tmp_path / "nothere.toml")
    (tmp_path / "c.toml").write_text("[[curve]]\nreturn_period_yr = 10\na = 600\nb_min = 4\nc = 1.2\n")
    with pytest.raises(InputDataError, match="c.toml: .*exponent c = 1.2 must lie in \\(0, 1\\)"):
        IDFCurve.from_file(tmp_path / "c.toml")
    (tmp_path / "m.toml").write_text("[[curve]]\nreturn_period_yr = 10\na = 600\nc = 0.7\n")
    with pytest.raises(InputDataError, match="m.toml \\(IDF curve\\): curve 0 lacks b_min"):
        IDFCurve.from_file(tmp_path / "m.toml")
    (tmp_path / "e.toml").write_text('name = "x"\n')
    with pytest.raises(InputDataError, match="no \\[\\[curve\\]\\] tables"):
        IDFCurve.from_file(tmp_path / "e.toml")
    (tmp_path / "d.csv").write_text("return_period_yr,a,b_min,c\n10,600,4,0.7\n10,700,4,0.7\n")
    with pytest.raises(InputDataError, match="return period listed twice"):
        IDFCurve.from_file(tmp_path / "d.csv")
    (tmp_path / "ok.csv").write_text("# T, a [mm/h min^c], b [min], c\nreturn_period_yr,a,b_min,c\n10,600,4,0.7\n")
    assert IDFCurve.from_file(tmp_path / "ok.csv").intensity_mm_h(6.0, 10) == pytest.approx(600 / 10 ** 0.7)


def test_hyetograph_from_csv(tmp_path):
    """Minutes and mm/h become seconds and m/s: 0-5 min 36 mm/h, 5-10 min 72 mm/h -> 3 + 6 = 9 mm."""
    (tmp_path / "h.csv").write_text("time_min,intensity_mm_h\n0,36\n5,72\n")
    h = hyetograph_from_csv(tmp_path / "h.csv", start_min=2.0)
    assert list(h.times) == [120.0, 420.0] and h.end == 720.0
    assert h.total_depth == pytest.approx(0.009, rel=1e-14)
    (tmp_path / "bad.csv").write_text("time,intensity_mm_h\n0,36\n")
    with pytest.raises(InputDataError, match="bad.csv \\(hyetograph\\): missing column\\(s\\) time_min"):
        hyetograph_from_csv(tmp_path / "bad.csv")
