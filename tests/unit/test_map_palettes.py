"""Map palettes for everyone: every class stays apart for the three colour-vision deficiencies, and the
least severe class stands out from the base map.

Method (thresholds in :mod:`floodsim.maps.style`):

* **Colour-vision deficiency**: Machado, Oliveira & Fernandes (2009), "A Physiologically-based Model for
  Simulation of Color Vision Deficiency", IEEE TVCG 15(6):1291–1298, severity 1.0 matrices for protanopia,
  deuteranopia and tritanopia, applied to linear sRGB (as in their paper and in colorspacious/DaltonLens).
* **Colour difference**: CIEDE2000 (CIE 142-2001) on CIELAB (D65), implemented as in Sharma, Wu & Dalal
  (2005), "The CIEDE2000 color-difference formula: implementation notes, supplementary test data, and
  mathematical observations", Color Res. Appl. 30(1):21–30; checked against their test pairs below.
* **Drawn as on the page**: rasters are painted at :meth:`floodsim.maps.sitedata.RasterLayer.folium_layer`'s
  default opacity over each base colour of :data:`floodsim.maps.style.BASE_COLOURS` (OSM Carto fills and
  the hillshade greys); the colour seen is the sRGB alpha blend (as a browser composites).
"""

from __future__ import annotations

import inspect
from itertools import combinations, pairwise

import numpy as np
import pytest

from floodsim.analysis.hazard import HAZARD_COLOURS
from floodsim.maps import style
from floodsim.maps.sitedata import RasterLayer

# ------------------------------------------------------------------------------------- colour science

#: Machado et al. (2009), Table/supplement, severity 1.0: linear RGB -> simulated linear RGB.
MACHADO_2009 = {
    "protanopia": np.array([[0.152286, 1.052583, -0.204868],
                            [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968],
                              [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779],
                            [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}
VISIONS = ("normal", *MACHADO_2009)

#: sRGB (linear) -> XYZ, D65 (IEC 61966-2-1).
_RGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                        [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])
_D65 = np.array([0.95047, 1.0, 1.08883])


def hex_rgb(colour: str) -> np.ndarray:
    """``"#rrggbb"`` -> sRGB in [0, 1]."""
    h = colour.lstrip("#")
    assert len(h) == 6, colour
    return np.array([int(h[i:i + 2], 16) / 255.0 for i in (0, 2, 4)])


def to_linear(c):
    c = np.asarray(c, dtype=float)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def to_srgb(c):
    c = np.clip(np.asarray(c, dtype=float), 0.0, 1.0)
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055)


def simulate(rgb, vision: str) -> np.ndarray:
    """sRGB as seen with ``vision`` ("normal" or a key of :data:`MACHADO_2009`)."""
    if vision == "normal":
        return np.asarray(rgb, dtype=float)
    return to_srgb(np.clip(MACHADO_2009[vision] @ to_linear(rgb), 0.0, 1.0))


def lab(rgb) -> np.ndarray:
    """sRGB in [0, 1] -> CIELAB (D65)."""
    t = (_RGB_TO_XYZ @ to_linear(rgb)) / _D65
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def ciede2000(lab1, lab2) -> float:
    """CIEDE2000 colour difference ΔE00 (kL = kC = kH = 1), after Sharma, Wu & Dalal (2005)."""
    L1, a1, b1 = (float(v) for v in lab1)
    L2, a2, b2 = (float(v) for v in lab2)
    c_bar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_bar ** 7 / (c_bar ** 7 + 25.0 ** 7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360 if c1p else 0.0
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360 if c2p else 0.0
    d_l, d_c = L2 - L1, c2p - c1p
    if c1p * c2p == 0:
        dh = 0.0
    else:
        dh = h2p - h1p
        dh = dh - 360 if dh > 180 else dh + 360 if dh < -180 else dh
    d_h = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    l_bar, cp_bar = (L1 + L2) / 2, (c1p + c2p) / 2
    if c1p * c2p == 0:
        h_bar = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        h_bar = (h1p + h2p) / 2
    else:
        h_bar = (h1p + h2p + 360) / 2 if h1p + h2p < 360 else (h1p + h2p - 360) / 2
    t = (1 - 0.17 * np.cos(np.radians(h_bar - 30)) + 0.24 * np.cos(np.radians(2 * h_bar))
         + 0.32 * np.cos(np.radians(3 * h_bar + 6)) - 0.20 * np.cos(np.radians(4 * h_bar - 63)))
    d_theta = 30 * np.exp(-(((h_bar - 275) / 25) ** 2))
    r_c = 2 * np.sqrt(cp_bar ** 7 / (cp_bar ** 7 + 25.0 ** 7))
    s_l = 1 + 0.015 * (l_bar - 50) ** 2 / np.sqrt(20 + (l_bar - 50) ** 2)
    s_c = 1 + 0.045 * cp_bar
    s_h = 1 + 0.015 * cp_bar * t
    r_t = -np.sin(np.radians(2 * d_theta)) * r_c
    return float(np.sqrt((d_l / s_l) ** 2 + (d_c / s_c) ** 2 + (d_h / s_h) ** 2
                         + r_t * (d_c / s_c) * (d_h / s_h)))


def delta_e(c1, c2, vision: str = "normal") -> float:
    """ΔE00 between two sRGB colours (arrays or ``"#rrggbb"``) as seen with ``vision``."""
    c1 = hex_rgb(c1) if isinstance(c1, str) else c1
    c2 = hex_rgb(c2) if isinstance(c2, str) else c2
    return ciede2000(lab(simulate(c1, vision)), lab(simulate(c2, vision)))


def over(colour: str, base: str, opacity: float) -> np.ndarray:
    """``colour`` painted at ``opacity`` over ``base`` (sRGB alpha blending, as browsers composite)."""
    return opacity * hex_rgb(colour) + (1 - opacity) * hex_rgb(base)


RASTER_OPACITY = inspect.signature(RasterLayer.folium_layer).parameters["opacity"].default

# ---------------------------------------------------------------------------- the method is sound


# Sharma, Wu & Dalal (2005), Table 1: pairs 1, 7, 9, 11, 13, 17, 19, 25 (L*, a*, b*) and ΔE00.
SHARMA_PAIRS = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.49, -0.001), (50.0, -2.49, 0.0009), 7.1792),
    ((50.0, 2.49, -0.001), (50.0, -2.49, 0.0011), 7.2195),
    ((50.0, -0.001, 2.49), (50.0, 0.0009, -2.49), 4.8045),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((50.0, 2.5, 0.0), (56.0, -27.0, -3.0), 31.9030),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
]


@pytest.mark.parametrize("lab1, lab2, expected", SHARMA_PAIRS)
def test_ciede2000_matches_sharma_test_data(lab1, lab2, expected):
    assert ciede2000(lab1, lab2) == pytest.approx(expected, abs=1e-4)
    assert ciede2000(lab2, lab1) == pytest.approx(expected, abs=1e-4)   # symmetric


def test_lab_of_white_and_mid_grey():
    np.testing.assert_allclose(lab(np.ones(3)), [100.0, 0.0, 0.0], atol=1e-3)
    L, a, b = lab(np.full(3, 119 / 255))       # sRGB 119 is L* ≈ 50
    assert L == pytest.approx(50.0, abs=0.3) and abs(a) < 1e-3 and abs(b) < 1e-3


@pytest.mark.parametrize("vision", list(MACHADO_2009))
def test_simulation_keeps_greys(vision):
    """Each row of a Machado matrix sums to 1: white and greys are seen unchanged."""
    for g in (0.0, 0.3, 0.7, 1.0):
        np.testing.assert_allclose(simulate(np.full(3, g), vision), np.full(3, g), atol=2e-6)


def test_simulation_merges_the_classic_confusions():
    """The simulation does what it must: red/green fall together for protanopes and deuteranopes
    (ColorBrewer's RdYlGn ends, which it marks as not colour-blind safe) but not for tritanopes, and the
    issue's white "No flooding" / pale yellow "Caution" (#ffff99) fall together for tritanopes."""
    red, green = "#d73027", "#1a9850"
    normal = delta_e(red, green)
    assert normal > 60
    assert delta_e(red, green, "deuteranopia") < 0.2 * normal
    assert delta_e("#ff0000", "#008000", "protanopia") < 0.15 * delta_e("#ff0000", "#008000")
    assert delta_e(red, green, "tritanopia") > 0.8 * normal
    old_none, old_caution = "#ffffff", "#ffff99"
    assert delta_e(old_none, old_caution, "tritanopia") < style.MIN_CLASS_DELTA_E    # the reported merge
    assert delta_e(old_none, old_caution) > style.MIN_CLASS_DELTA_E                 # fine for normal vision


# ------------------------------------------------------------------------------------ the palettes

def _ordered(colours: dict[int, str]) -> list[str]:
    return [colours[k] for k in sorted(colours)]


#: name -> (classes in order of severity or value, indices of the least severe classes)
PALETTES = {
    "depth": (_ordered(style.depth_colours(0.1)), [0]),
    "hazard": (_ordered(style.hazard_colours()), [0]),
    "speed": (_ordered(style.speed_colours()), [0]),
    "arrival": (_ordered(style.arrival_colours()), [len(style.ARRIVAL_COLOURS) - 1]),   # "after 60 min"
    "difference": (_ordered(style.diff_colours()), [2, 3]),                              # ±2–10 cm
    "likelihood": (_ordered(style.likelihood_colours()), [0]),                            # very low
    "sewer pipes": (_ordered(style.sewer_capacity_colours()), [0]),                       # under 50 %
}


def _failures(pairs, threshold, describe):
    out = []
    for vision in VISIONS:
        for a, b, label in pairs:
            d = delta_e(a, b, vision)
            if d < threshold:
                out.append(f"{describe(label)} ΔE00 {d:.1f} < {threshold} ({vision})")
    return out


def test_palettes_cover_their_classes():
    assert len(PALETTES["depth"][0]) == len(style.depth_edges(0.1)) == 4
    assert len(PALETTES["speed"][0]) == len(style.SPEED_EDGES) == len(style.SPEED_LABELS)
    assert len(PALETTES["arrival"][0]) == len(style.ARRIVAL_EDGES_MIN) == len(style.ARRIVAL_LABELS)
    assert set(style.diff_colours()) == set(style.DIFF_LABELS) == {1, 2, 3, 5, 6, 7}
    assert set(style.likelihood_colours()) == {1, 2, 3, 4}
    assert set(HAZARD_COLOURS) == {0, 1, 2, 3, 4}
    for name, (colours, _) in PALETTES.items():
        for c in colours:
            hex_rgb(c)   # every colour is #rrggbb
        assert len(set(colours)) == len(colours), name


@pytest.mark.parametrize("name", list(PALETTES))
def test_any_two_classes_differ_for_every_vision(name):
    colours, _ = PALETTES[name]
    pairs = [(a, b, (i, j)) for (i, a), (j, b) in combinations(enumerate(colours), 2)]
    bad = _failures(pairs, style.MIN_CLASS_DELTA_E, lambda ij: f"{name} classes {ij[0] + 1} and {ij[1] + 1}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("name", list(PALETTES))
def test_neighbouring_classes_differ_as_drawn_over_the_base_map(name):
    colours, _ = PALETTES[name]
    pairs = [(over(a, base, RASTER_OPACITY), over(b, base, RASTER_OPACITY), (i, base_name))
             for base_name, base in style.BASE_COLOURS.items()
             for i, (a, b) in enumerate(pairwise(colours))]
    bad = _failures(pairs, style.MIN_BLENDED_DELTA_E,
                    lambda lb: f"{name} classes {lb[0] + 1}/{lb[0] + 2} over {lb[1]}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("name", list(PALETTES))
def test_every_class_stands_out_from_the_base_map(name):
    """The least severe classes (shallowest water, "after 60 min", ±2–10 cm, "very low") included."""
    colours, least = PALETTES[name]
    assert least, name
    pairs = [(over(c, base, RASTER_OPACITY), hex_rgb(base), (i, base_name))
             for base_name, base in style.BASE_COLOURS.items() for i, c in enumerate(colours)]
    bad = _failures(pairs, style.MIN_BASE_DELTA_E,
                    lambda lb: f"{name} class {lb[0] + 1}{' (least severe)' if lb[0] in least else ''} "
                               f"over {lb[1]}")
    assert not bad, "\n".join(bad)


def test_building_hazard_colours_no_flooding_apart_from_caution():
    """Buildings are filled with :data:`HAZARD_COLOURS` including white for "no flooding" (code 0)."""
    pairs = [(HAZARD_COLOURS[a], HAZARD_COLOURS[b], (a, b)) for a, b in combinations(sorted(HAZARD_COLOURS), 2)]
    bad = _failures(pairs, style.MIN_CLASS_DELTA_E, lambda ab: f"hazard codes {ab[0]} and {ab[1]}")
    assert not bad, "\n".join(bad)
    assert style.hazard_colours() == {k: v for k, v in HAZARD_COLOURS.items() if k > 0}


def test_the_checks_reject_the_old_palettes():
    """The thresholds have teeth: the palettes before issue 12 fail them (the merging "No flooding" and
    "Caution", the grey "after 60 min" that vanished on OSM's residential grey, the pale blue that vanished
    on parks for tritanopes)."""
    old_arrival_latest = "#e0e0e0"
    assert delta_e(over(old_arrival_latest, "#e0dfdf", RASTER_OPACITY), "#e0dfdf") < style.MIN_BASE_DELTA_E
    old_depth_shallowest = "#c6dbef"
    assert (delta_e(over(old_depth_shallowest, "#cdebb0", RASTER_OPACITY), "#cdebb0", "tritanopia")
            < style.MIN_BASE_DELTA_E)
    assert delta_e("#ffffff", "#ffff99", "tritanopia") < style.MIN_CLASS_DELTA_E
