"""floodsim: a Numba-accelerated 2-D flood and stormwater scenario simulator.

Public API: :class:`Grid`, :class:`Simulation`, :class:`SolverParams`, forcing
(:class:`Hyetograph`, :class:`RainfallRaster`, :class:`TimeSeries`), boundaries
(:class:`Boundary`, :class:`Inflow`), infiltration (:class:`GreenAmpt`, :class:`Horton`),
:func:`read_dem`, :func:`load_scenario` and :func:`run_scenario`.
"""

from .boundaries import Boundary, Inflow
from .forcing import Hyetograph, RainfallRaster, TimeSeries
from .grid import Grid
from .infiltration import GreenAmpt, Horton
from .solver import Simulation, SolverParams

__version__ = "0.1.0"


def read_dem(path, **kwargs):
    """Read a DEM (GeoTIFF, ESRI ASCII grid, ...) into a :class:`Grid`; see :func:`floodsim.io.raster.read_dem`."""
    from .io.raster import read_dem as _read

    return _read(path, **kwargs)


def load_scenario(path):
    """Read and validate a scenario file; see :func:`floodsim.scenario.load.load_scenario`."""
    from .scenario.load import load_scenario as _load

    return _load(path)


def run_scenario(path_or_scenario, **kwargs):
    """Load, run and write a scenario; see :func:`floodsim.runner.run_scenario`."""
    from .runner import run_scenario as _run

    return _run(path_or_scenario, **kwargs)


__all__ = ["Boundary", "GreenAmpt", "Grid", "Horton", "Hyetograph", "Inflow", "RainfallRaster",
           "Simulation", "SolverParams", "TimeSeries", "load_scenario", "read_dem", "run_scenario",
           "__version__"]
