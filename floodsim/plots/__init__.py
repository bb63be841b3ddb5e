"""Engineering figures of finished runs (matplotlib): hydrographs, outflow, volume balance, storage
measures, depth-duration. ``floodsim plot RUN [RUN_B]`` writes them as PNGs; see
:mod:`floodsim.plots.hydrographs`."""

from .hydrographs import FIGURES, plot_run, write_plots

__all__ = ["FIGURES", "plot_run", "write_plots"]
