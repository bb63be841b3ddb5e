"""Colours, classes and the plain-language words the maps and figures share (presentation only).

Depth classes [m] are those of the run products (:mod:`floodsim.analysis.depth_classes`). Hazard classes,
their names and colours come from :mod:`floodsim.analysis.hazard` (UK FD2321 hazard rating), with a sentence per class for
residents.
"""

from __future__ import annotations

from itertools import pairwise

from ..analysis.hazard import HAZARD_CLASSES, HAZARD_COLOURS
from ..analysis.depth_classes import depth_class_edges, depth_class_label

#: One colour per depth class, shallow → deep.
DEPTH_COLOURS = ("#c6dbef", "#6baed6", "#2171b5", "#08306b")

#: What each hazard class means for a person in the water, in plain language (FD2321 TR2, Table 13.1).
HAZARD_ADVICE = {
    0: "No water above the flood threshold was modelled next to the building.",
    1: "Shallow or slow water. Take care; keep children away.",
    2: "Dangerous for some people, for example children, the elderly and the infirm.",
    3: "Dangerous for most people, including the general public.",
    4: "Dangerous for everyone, including emergency services.",
}

BUILDING_EDGE = "#333333"


def depth_edges(threshold_m: float) -> list[float]:
    """Lower edges of the depth classes [m], as in ``flood.gpkg``
    (:func:`floodsim.analysis.depth_classes.depth_class_edges`)."""
    return depth_class_edges(threshold_m)[:-1]


def depth_labels(threshold_m: float) -> list[str]:
    """Legend label per depth class (``"0.10–0.30 m"`` … ``"> 1.00 m"``)."""
    edges = depth_class_edges(threshold_m)
    return [depth_class_label(a, b) for a, b in pairwise(edges)]


def depth_colours(threshold_m: float) -> dict[int, str]:
    """Class index (1 = shallowest, as :func:`floodsim.maps.rasters.classify` numbers them) → colour."""
    n = len(depth_edges(threshold_m))
    return {k + 1: DEPTH_COLOURS[k + len(DEPTH_COLOURS) - n] for k in range(n)}


def hazard_colours() -> dict[int, str]:
    """Hazard code → colour for codes 1–4 (code 0, no flooding, is left transparent on rasters)."""
    return {c.code: HAZARD_COLOURS[c.code] for c in HAZARD_CLASSES if c.code > 0}


def hazard_label(code: int) -> str:
    """Plain-language label of a hazard code (``"Danger for some"``)."""
    return HAZARD_CLASSES[int(code)].label


def hazard_name(code: int) -> str:
    """Short name of a hazard code (``"moderate"``)."""
    return HAZARD_CLASSES[int(code)].name


def measure_colour(kind: str) -> str:
    """Map colour of a measure type (:mod:`floodsim.measures.registry`)."""
    from ..measures.registry import colour_of

    return colour_of(str(kind))
