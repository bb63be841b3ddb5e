"""The engine: a 2-D local-inertial simulation on a regular grid (numpy and :mod:`floodsim.kernels` only).

=================  =======================================================================================
module             what it holds
=================  =======================================================================================
``grid``           :class:`Grid` (DEM, transform) and the staggering / sign convention of every array
``forcing``        rain (:class:`Hyetograph`, :class:`RainfallRaster`) and scalar :class:`TimeSeries`
``infiltration``   :class:`GreenAmpt`, :class:`Horton` and the Rawls et al. (1983) soil table
``boundaries``     :class:`Boundary` conditions on the domain edges and their faces
``inflows``        :class:`Inflow` hydrographs over sets of cells
``params``         :class:`SolverParams`: the numeric defaults and bounds of the time loop
``state``          preallocated arrays: :class:`State` and the band scheduler's :class:`BandWork`
``operator``       the :class:`Operator` interface through which measures act during a run
``massbalance``    :class:`VolumeBalance`: every volume in and out, and the closure error
``diagnose``       one-line diagnoses of a failed state (where, what, a hint)
``simulation``     :class:`Simulation`: one step, ``advance_to``, ``courant_dt``, get/set_state
=================  =======================================================================================

Nothing here reads files, prints, or imports xarray, pydantic or geopandas.
"""

from .boundaries import Boundary
from .forcing import Hyetograph, RainfallRaster, TimeSeries
from .grid import Grid
from .infiltration import GreenAmpt, Horton
from .inflows import Inflow
from .operator import BindContext, Operator, OperatorFlows
from .params import RoofRain, SolverParams
from .simulation import Simulation

__all__ = ["BindContext", "Boundary", "GreenAmpt", "Grid", "Horton", "Hyetograph", "Inflow", "Operator",
           "OperatorFlows", "RainfallRaster", "RoofRain", "Simulation", "SolverParams", "TimeSeries"]
