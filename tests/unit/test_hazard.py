"""UK flood hazard rating (Defra/EA FD2321, 2006; EA 2008 note) against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from floodsim.analysis.hazard import HAZARD_CLASSES, debris_factor_table, hazard_class, hazard_rating


@pytest.mark.parametrize("d, v, land_use, expected", [
    # HR = d (v + 0.5) + DF, DF from FD2321 Table 3.1, computed by hand
    (0.20, 0.5, "urban", 0.20 * 1.0 + 0.0),     # shallow: DF 0
    (0.30, 1.0, "urban", 0.30 * 1.5 + 1.0),     # 0.25 < d <= 0.75 urban: DF 1
    (1.00, 0.0, "urban", 1.00 * 0.5 + 1.0),     # deep: DF 1
    (1.00, 0.0, "pasture", 1.00 * 0.5 + 0.5),   # deep pasture: DF 0.5
    (0.50, 0.5, "woodland", 0.50 * 1.0 + 0.5),  # medium woodland: DF 0.5
    (0.50, 0.5, "pasture", 0.50 * 1.0 + 0.0),   # medium pasture: DF 0
    (0.20, 2.5, "urban", 0.20 * 3.0 + 1.0),     # fast (v > 2): DF 1 even when shallow
    (0.20, 2.5, "pasture", 0.20 * 3.0 + 0.5),
    (0.25, 0.0, "urban", 0.25 * 0.5 + 0.0),     # 0.25 itself is still the shallow row
])
def test_hazard_rating_fd2321_table(d, v, land_use, expected):
    assert hazard_rating(d, v, land_use=land_use) == pytest.approx(expected, rel=1e-12)


def test_constant_debris_factor_and_dry_cells():
    d = np.array([0.0, 0.5, 0.2, np.nan])
    v = np.array([3.0, 1.0, np.nan, 1.0])
    hr = hazard_rating(d, v, debris_factor=0.5)
    np.testing.assert_allclose(hr[:3], [0.0, 0.5 * 1.5 + 0.5, 0.2 * 0.5 + 0.5], rtol=1e-12)
    assert np.isnan(hr[3])


def test_debris_factor_table_rejects_unknown_land_use():
    with pytest.raises(ValueError, match="urban"):
        debris_factor_table(1.0, 1.0, land_use="desert")


def test_class_boundaries():
    hr = np.array([0.0, 0.7499, 0.75, 1.2499, 1.25, 2.0, 2.0001, 10.0])
    codes = hazard_class(hr, np.ones_like(hr), threshold_m=0.1)
    assert codes.dtype == np.int8
    assert codes.tolist() == [1, 1, 2, 2, 3, 3, 4, 4]
    names = [HAZARD_CLASSES[c].name for c in codes]
    assert names[2] == "moderate" and names[-1] == "extreme"


def test_class_zero_below_threshold_and_outside_model():
    hr = np.array([5.0, 5.0, np.nan, 5.0])
    depth = np.array([0.099, 0.1, 1.0, np.nan])
    assert hazard_class(hr, depth, threshold_m=0.1).tolist() == [0, 4, 0, 0]


def test_class_records():
    assert [c.code for c in HAZARD_CLASSES] == [0, 1, 2, 3, 4]
    assert [c.name for c in HAZARD_CLASSES] == ["none", "low", "moderate", "significant", "extreme"]
    assert [c.lower_hr for c in HAZARD_CLASSES[1:]] == [0.0, 0.75, 1.25, 2.0]
    assert all(c.label for c in HAZARD_CLASSES)
