"""Depth classes of flooding: the one definition the products, the comparison and the maps share.

A class is a half-open depth interval ``[lo, hi)`` [m]; the first starts at the flood threshold and the
last is open (``hi = inf``). Class 0 is "below the threshold" (or no data).
"""

from __future__ import annotations

import math

import numpy as np

#: Upper depth bounds [m] of the flood-extent classes above the flood threshold (the last is open).
DEPTH_CLASS_BOUNDS_M = (0.3, 0.5, 1.0)


def depth_class_edges(threshold_m: float, bounds=DEPTH_CLASS_BOUNDS_M) -> list[float]:
    """Class edges [m]: the flood threshold, then every bound above it, then +inf."""
    return [float(threshold_m), *[float(b) for b in bounds if b > threshold_m], math.inf]


def depth_class_label(lo: float, hi: float) -> str:
    """``"0.10–0.30 m"`` or ``"> 1.00 m"`` for the open class."""
    return f"> {lo:.2f} m" if math.isinf(hi) else f"{lo:.2f}–{hi:.2f} m"


def classify_depth(depth: np.ndarray, edges: list[float]) -> np.ndarray:
    """Class number per cell: 0 below ``edges[0]`` (or NaN), k for ``edges[k-1] ≤ d < edges[k]``."""
    d = np.nan_to_num(np.asarray(depth, dtype=np.float64), nan=-1.0)
    return np.digitize(d, edges[:-1]).astype(np.int16)
