"""Colours, classes and the plain-language words the maps and figures share (presentation only).

Depth classes [m] are those of the run products (:mod:`floodsim.analysis.depth_classes`). Hazard classes,
their names and colours come from :mod:`floodsim.analysis.hazard` (UK FD2321 hazard rating), with a sentence per class for
residents.

**Palettes for everyone.** Every class palette (depth, hazard, speed, arrival, depth difference,
likelihood) is checked by ``tests/unit/test_map_palettes.py`` with a simulation of protanopia,
deuteranopia and tritanopia (Machado, Oliveira & Fernandes 2009, severity 1) and the CIEDE2000 colour
difference ΔE00:

* any two classes of a palette, opaque: ΔE00 ≥ :data:`MIN_CLASS_DELTA_E` for normal vision and each
  simulated deficiency;
* neighbouring classes drawn at the rasters' opacity over each base-map colour (:data:`BASE_COLOURS`):
  ΔE00 ≥ :data:`MIN_BLENDED_DELTA_E`;
* the lightest (least severe) class drawn over each base-map colour against that colour alone: ΔE00 ≥
  :data:`MIN_BASE_DELTA_E`, so the shallowest water stands out from streets, land, parks and hillshade.

The palettes follow sequential ColorBrewer / matplotlib ramps (PuBu, YlOrBr, BuPu, RdBu, inferno) sampled
where they pass these checks; the lightest classes are darker than the ramps' palest ends on purpose.
"""

from __future__ import annotations

from itertools import pairwise

from ..analysis.hazard import HAZARD_CLASSES, HAZARD_COLOURS
from ..analysis.depth_classes import depth_class_edges, depth_class_label

#: One colour per depth class, shallow → deep (PuBu).
DEPTH_COLOURS = ("#88b1d4", "#2c89bd", "#045e94", "#023858")

#: Thresholds of the palette checks (CIEDE2000 ΔE00; see the module docstring).
MIN_CLASS_DELTA_E = 10.0
MIN_BLENDED_DELTA_E = 8.0
MIN_BASE_DELTA_E = 10.0

#: Base-map colours a raster class must stand out from: OpenStreetMap Carto's land, residential area,
#: building, road and grass fills, and the grey hillshade at shade 0.5, 0.71 (flat ground, sun 45° high)
#: and 0.9. OSM water (#aad3df) is left out: water over water is water.
BASE_COLOURS = {
    "OSM land": "#f2efe9", "OSM residential": "#e0dfdf", "OSM building": "#d9d0c9", "OSM road": "#ffffff",
    "OSM grass": "#cdebb0", "hillshade 0.5": "#808080", "hillshade 0.71": "#b5b5b5", "hillshade 0.9": "#e6e6e6",
}

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


# ------------------------------------------------------------------ more rasters of the published pages
# (palettes are checked for the three colour-vision deficiencies in tests/unit/test_map_palettes.py)

#: Lower edges of the speed classes [m/s] (class 1: slow water below 0.5 m/s).
SPEED_EDGES = (0.0, 0.5, 1.0, 2.0)
SPEED_COLOURS = ("#febb47", "#e56910", "#b84203", "#662506")  # YlOrBr
SPEED_LABELS = ("below 0.5 m/s", "0.5–1 m/s", "1–2 m/s", "over 2 m/s")

#: Lower edges of the arrival-time classes [min]: time until the water first reaches the flood threshold.
ARRIVAL_EDGES_MIN = (0.0, 10.0, 20.0, 30.0, 60.0)
ARRIVAL_COLOURS = ("#160b39", "#7f1e6c", "#bc3754", "#ea632a", "#fbbe23")  # inferno: earliest darkest
ARRIVAL_LABELS = ("within 10 min", "10–20 min", "20–30 min", "30–60 min", "after 60 min")

#: Edges of the B − A depth-difference classes [m]; class 4 (±2 cm) is "no change" (transparent).
DIFF_EDGES = (-1e30, -0.30, -0.10, -0.02, 0.02, 0.10, 0.30)
DIFF_COLOURS = {1: "#053061", 2: "#276eb0", 3: "#62a7ce", 5: "#e27b62", 6: "#b82531", 7: "#67001f"}  # RdBu
DIFF_LABELS = {1: "over 30 cm shallower", 2: "10–30 cm shallower", 3: "2–10 cm shallower",
               5: "2–10 cm deeper", 6: "10–30 cm deeper", 7: "over 30 cm deeper"}

#: Likelihood band code (:data:`floodsim.analysis.risk.BANDS`) → colour; 0 (not flooded) transparent.
#: BuPu (purple, apart from the blue depths): very low → high.
LIKELIHOOD_COLOURS = {4: "#4d004b", 3: "#821982", 2: "#8b62ad", 1: "#93a5ce"}


def speed_colours() -> dict[int, str]:
    """Speed class (1 = slowest, :func:`floodsim.maps.rasters.classify` of :data:`SPEED_EDGES`) → colour."""
    return {k + 1: c for k, c in enumerate(SPEED_COLOURS)}


def arrival_colours() -> dict[int, str]:
    """Arrival class (1 = earliest) → colour."""
    return {k + 1: c for k, c in enumerate(ARRIVAL_COLOURS)}


def diff_colours() -> dict[int, str]:
    """Depth-difference class → colour (class 4, no change, left out: transparent)."""
    return dict(DIFF_COLOURS)


def likelihood_colours() -> dict[int, str]:
    """Likelihood band code → colour (0, not flooded, left out: transparent)."""
    return dict(LIKELIHOOD_COLOURS)

#: Lower edges of the classes of a sewer pipe's peak capacity used [-] (peak |flow| / full-pipe flow):
#: under half full, 50–80 %, 80–100 %, at or over its full-pipe capacity (surcharged or pressurised).
SEWER_CAPACITY_EDGES = (0.0, 0.5, 0.8, 1.0)
SEWER_CAPACITY_COLOURS = ("#3b528b", "#35b779", "#f98e09", "#9b1d20")
SEWER_CAPACITY_LABELS = ("under 50 % of capacity", "50–80 %", "80–100 %", "full or over (surcharged)")
#: Manholes: surcharged (head above the rim) and the others.
SEWER_NODE_COLOURS = {"surcharged": "#9b1d20", "other": "#4d4d4d"}


def sewer_capacity_colours() -> dict[int, str]:
    """Pipe class (1 = least used, :func:`floodsim.maps.rasters.classify` of :data:`SEWER_CAPACITY_EDGES`)
    → colour."""
    return {k + 1: c for k, c in enumerate(SEWER_CAPACITY_COLOURS)}
