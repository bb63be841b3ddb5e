"""Shared helpers for the physics validation tests."""

import numpy as np


def outflow_rate(ds):
    """Boundary outflow rate [m³/s] between output times, from the cumulative volume series;
    returned at the interval midpoints (times, rates)."""
    t = ds["time"].values
    v = ds["volume_boundary_out"].values
    return 0.5 * (t[1:] + t[:-1]), np.diff(v) / np.diff(t)


def nash_sutcliffe(sim, ref):
    sim, ref = np.asarray(sim, float), np.asarray(ref, float)
    return 1.0 - np.sum((sim - ref) ** 2) / np.sum((ref - ref.mean()) ** 2)
