"""Exchange kernels (floodsim.kernels.exchange) against short numpy references and hand values.

References: orifice Q = Cd A sqrt(2 g H) and weir Q = Cw L H^1.5 (HEC-22, Brown et al. 2013;
Chow 1959 ch. 14), evaluated by hand; take/spread against numpy (exact volume, no negative depth).
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from floodsim.kernels.exchange import (orifice_discharge, spread_volume, take_volume, water_on_cells,
                                       weir_discharge)


def test_orifice_hand_value():
    """Cd 0.6, A 0.1 m², H 2 m, g 9.81: Q = 0.6·0.1·sqrt(39.24) = 0.375851 m³/s."""
    assert orifice_discharge(0.6, 0.1, 2.0, 9.81) == pytest.approx(0.06 * math.sqrt(39.24), rel=1e-14)
    assert orifice_discharge(0.6, 0.1, 2.0, 9.81) == pytest.approx(0.375851, rel=1e-6)
    assert orifice_discharge(0.6, 0.1, 0.0, 9.81) == 0.0
    assert orifice_discharge(0.6, 0.1, -1.0, 9.81) == 0.0


def test_weir_hand_value():
    """Cw 1.7, L 3 m, H 0.25 m: Q = 1.7·3·0.125 = 0.6375 m³/s."""
    assert weir_discharge(1.7, 3.0, 0.25) == pytest.approx(0.6375, rel=1e-14)
    assert weir_discharge(1.7, 3.0, -0.1) == 0.0


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), frac=st.floats(0.0, 2.0), area=st.floats(0.25, 25.0))
def test_take_volume_matches_numpy(seed, frac, area):
    """Takes min(volume, available), scaling depths by one factor; never negative; exact volume."""
    rng = np.random.default_rng(seed)
    h = rng.uniform(0, 0.5, (6, 7)) * (rng.uniform(size=(6, 7)) > 0.3)
    cells = rng.choice(42, size=10, replace=False).astype(np.int64)
    avail = h.ravel()[cells].sum() * area
    assert water_on_cells(h, cells, area) == pytest.approx(avail, rel=1e-13, abs=1e-15)
    want = frac * avail
    ref = h.copy()
    if avail > 0:
        ref.ravel()[cells] *= max(0.0, 1.0 - want / avail)
    before = h.sum() * area
    taken = take_volume(h, cells, want, area)
    np.testing.assert_allclose(h, ref, rtol=1e-12, atol=1e-15)
    assert np.all(h >= 0)
    assert taken == pytest.approx(min(want, avail), rel=1e-12, abs=1e-14)
    assert before - h.sum() * area == pytest.approx(taken, rel=1e-10, abs=1e-12)


def test_spread_volume_exact():
    h = np.zeros((3, 4))
    cells = np.array([0, 5, 11], np.int64)
    added = spread_volume(h, cells, 6.0, 2.0)
    assert added == pytest.approx(6.0, rel=1e-15)
    assert h.ravel()[cells] == pytest.approx([1.0, 1.0, 1.0])
    assert h.sum() == pytest.approx(3.0)
    assert spread_volume(h, cells, 0.0, 2.0) == 0.0
