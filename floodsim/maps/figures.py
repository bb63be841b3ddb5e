"""Static PNG figures for reports (matplotlib): max depth, hazard class, buildings by hazard class.

Each figure has one panel per run (side by side, e.g. baseline | with measures) on the DEM hillshade, in
the grid's CRS with axes in metres, and the same classes and colours as the web maps
(:mod:`floodsim.maps.style`). Figures are built with :class:`matplotlib.figure.Figure` (no pyplot, no
global state) and written atomically.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..analysis.hazard import HAZARD_CLASSES
from ..io.atomic import atomic_path
from .rasters import classify, hillshade
from ..io.runfolder import Run
from .style import (
    BUILDING_EDGE,
    HAZARD_COLOURS,
    depth_colours,
    depth_edges,
    depth_labels,
    hazard_colours,
    measure_colour,
)

FIGURES = ("max_depth", "hazard", "buildings")


def _text(s: str) -> str:
    """Plain text for matplotlib (``$`` would start mathtext)."""
    return str(s).replace("$", r"\$")


def _extent(run: Run):
    t = run.transform
    ny, nx = run.ds["elevation"].shape
    x0, y0 = t @ (0, 0)
    x1, y1 = t @ (nx, ny)
    return [min(x0, x1), max(x0, x1), min(y0, y1), max(y0, y1)]


def _classes_image(ax, codes: np.ndarray, colours: dict[int, str], extent) -> None:
    from matplotlib.colors import BoundaryNorm, ListedColormap

    keys = sorted(colours)
    cmap = ListedColormap([colours[k] for k in keys])
    norm = BoundaryNorm([k - 0.5 for k in keys] + [keys[-1] + 0.5], cmap.N)
    masked = np.ma.masked_where(~np.isin(codes, keys), codes)
    ax.imshow(
        masked, cmap=cmap, norm=norm, extent=extent, origin="upper", interpolation="nearest", alpha=0.85
    )


def _panel(ax, run: Run, what: str) -> None:
    extent = _extent(run)
    shade = hillshade(
        run.ds["elevation"].values, float(run.ds.attrs.get("dx_m", 1.0)), float(run.ds.attrs.get("dy_m", 1.0))
    )
    ax.imshow(
        np.ma.masked_invalid(shade),
        cmap="gray",
        vmin=0,
        vmax=1,
        extent=extent,
        origin="upper",
        interpolation="bilinear",
    )
    if what == "max_depth":
        _classes_image(
            ax,
            classify(run.ds["max_depth"].values, depth_edges(run.threshold_m)),
            depth_colours(run.threshold_m),
            extent,
        )
    elif what == "hazard":
        _classes_image(ax, run.hazard_code, hazard_colours(), extent)
    if run.measures is not None and len(run.measures):
        for kind, part in run.measures.groupby("type"):
            part.plot(ax=ax, facecolor="none", edgecolor=measure_colour(kind), linewidth=1.5)
    if run.buildings is not None and len(run.buildings):
        if what == "buildings":
            colours = [
                HAZARD_COLOURS[int(c)] for c in run.buildings.get("hazard_code", np.zeros(len(run.buildings)))
            ]
            run.buildings.plot(ax=ax, color=colours, edgecolor=BUILDING_EDGE, linewidth=0.5)
        else:
            run.buildings.plot(ax=ax, facecolor="#f7f7f7", edgecolor=BUILDING_EDGE, linewidth=0.4)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal")
    ax.set_title(_text(run.name), fontsize=10)
    ax.set_xlabel(f"x (m), {run.crs.to_string()}" if run.crs is not None else "x (m)")
    ax.ticklabel_format(useOffset=False, style="plain")
    ax.tick_params(labelsize=7)


def _legend_handles(run: Run, what: str):
    from matplotlib.patches import Patch

    if what == "max_depth":
        return [
            Patch(facecolor=c, label=lab)
            for c, lab in zip(depth_colours(run.threshold_m).values(), depth_labels(run.threshold_m))
        ], "Maximum depth"
    title = "Hazard class next to building" if what == "buildings" else "Hazard to people (UK FD2321)"
    classes = HAZARD_CLASSES if what == "buildings" else HAZARD_CLASSES[1:]
    return [
        Patch(facecolor=HAZARD_COLOURS[c.code], edgecolor="#555555", label=f"{c.name}: {c.label}")
        for c in classes
    ], title


def figure(runs: list[Run], what: str):
    """A matplotlib Figure of ``what`` (one of :data:`FIGURES`) with one panel per run."""
    from matplotlib.figure import Figure

    if what not in FIGURES:
        raise ValueError(f"figure {what!r}: use one of {', '.join(FIGURES)}")
    n = len(runs)
    fig = Figure(figsize=(4.2 * n + 2.6, 5.6), dpi=150, layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    for ax, run in zip(axes, runs):
        _panel(ax, run, what)
    axes[0].set_ylabel("y (m)")
    handles, title = _legend_handles(runs[0], what)
    fig.legend(handles=handles, title=title, loc="outside right center", fontsize=8, title_fontsize=9)
    return fig


def write_figures(runs: list[Run], prefix: str | Path) -> list[Path]:
    """Write ``<prefix>_max_depth.png``, ``<prefix>_hazard.png`` and ``<prefix>_buildings.png``."""
    prefix = Path(prefix)
    out = []
    for what in FIGURES:
        if what == "buildings" and all(r.buildings is None for r in runs):
            continue
        path = prefix.parent / f"{prefix.name}_{what}.png"
        fig = figure(runs, what)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
            os.chmod(tmp, 0o644)  # a report figure: readable like any other file
        out.append(path)
    return out
