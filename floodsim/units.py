"""The only place where units are converted. Everything inside floodsim is SI: m, s, m³, m³/s.

Scenario fields and user-facing helpers that take other units carry the unit in their name
(``intensity_mm_h``, ``duration_min``) and convert here, once, at the edge.
"""

from __future__ import annotations

import numpy as np

MM_PER_M = 1000.0
SECONDS_PER_HOUR = 3600.0
SECONDS_PER_MINUTE = 60.0
M2_PER_HECTARE = 10_000.0
M3_PER_LITRE = 1e-3


def mm_h_to_m_s(value):
    """Rain or infiltration intensity: mm/h -> m/s (scalar or array)."""
    return np.asarray(value, dtype=np.float64) / (MM_PER_M * SECONDS_PER_HOUR) if np.ndim(value) else (
        float(value) / (MM_PER_M * SECONDS_PER_HOUR))


def m_s_to_mm_h(value):
    """Intensity: m/s -> mm/h (scalar or array)."""
    return np.asarray(value, dtype=np.float64) * (MM_PER_M * SECONDS_PER_HOUR) if np.ndim(value) else (
        float(value) * (MM_PER_M * SECONDS_PER_HOUR))


def mm_to_m(value):
    """Depth: mm -> m."""
    return value / MM_PER_M


def m_to_mm(value):
    """Depth: m -> mm."""
    return value * MM_PER_M


def minutes_to_s(value):
    """Duration: minutes -> s."""
    return value * SECONDS_PER_MINUTE


def hours_to_s(value):
    """Duration: hours -> s."""
    return value * SECONDS_PER_HOUR


def litres_to_m3(value):
    """Volume: L -> m³."""
    return value * M3_PER_LITRE


def hectares_to_m2(value):
    """Area: ha -> m²."""
    return value * M2_PER_HECTARE
