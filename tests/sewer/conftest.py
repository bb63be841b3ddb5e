"""Small SWMM networks for the sewer tests, built with swmm-api (metric units, node positions on a grid
of ``Grid.from_array`` cells: x = j + 0.5, y = -(i + 0.5) for 1 m cells)."""

from __future__ import annotations

import numpy as np
import pytest

from floodsim.core.grid import Grid


def cell_xy(i: int, j: int, dx: float = 1.0) -> tuple[float, float]:
    """Map point of the centre of cell (i, j) of ``Grid.from_array(z, dx)``."""
    return ((j + 0.5) * dx, -(i + 0.5) * dx)


def make_inp(path, nodes, links, xsections=None, extra: str = "", options=None):
    """Write an .inp: ``nodes`` = list of swmm-api node objects with ``xy`` map points (name -> (x, y)),
    ``links`` = swmm-api links; circular 0.3 m cross-sections unless given; ``extra`` raw sections."""
    from swmm_api.input_file import SwmmInput
    from swmm_api.input_file.sections import Coordinate, CrossSection, OptionSection

    inp = SwmmInput()
    inp.add_new_section(OptionSection())
    inp["OPTIONS"].update({"FLOW_UNITS": "CMS", "FLOW_ROUTING": "DYNWAVE", "START_DATE": "01/01/2000",
                           "START_TIME": "00:00:00", "END_DATE": "01/01/2000", "END_TIME": "06:00:00",
                           "ROUTING_STEP": "1", "REPORT_STEP": "00:01:00", "REPORT_START_DATE": "01/01/2000",
                           "REPORT_START_TIME": "00:00:00", **(options or {})})
    for obj, xy in nodes:
        inp.add_obj(obj)
        inp.add_obj(Coordinate(obj.name, *xy))
    xs = dict(xsections or {})
    for link in links:
        inp.add_obj(link)
        if type(link).__name__ in ("Conduit", "Orifice"):
            inp.add_obj(xs.get(link.name, CrossSection(link.name, "CIRCULAR", 0.3)))
        elif type(link).__name__ == "Weir":
            inp.add_obj(xs[link.name])
    text = inp.to_string() + "\n" + extra
    path.write_text(text)
    return path


@pytest.fixture
def flat_grid():
    """A flat 9 × 9 grid of 1 m cells at 10 m."""
    return Grid.from_array(np.full((9, 9), 10.0), dx=1.0)
