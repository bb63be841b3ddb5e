"""floodsim: a Numba-accelerated 2-D flood and stormwater scenario simulator.

Public API (imported on first use, so ``import floodsim.scenario`` stays free of numba and geopandas):
the engine (:class:`Grid`, :class:`Simulation`, :class:`SolverParams`, forcing :class:`Hyetograph`,
:class:`RainfallRaster`, :class:`TimeSeries`, :class:`Boundary`, :class:`Inflow`, infiltration
:class:`GreenAmpt`, :class:`Horton`, the :class:`Operator` interface), :func:`run_simulation` (the output
loop, an xarray Dataset), :func:`read_dem`, :func:`load_scenario` and :func:`run_scenario`. The layers are
described in docs/architecture.md.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("floodsim")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

#: public name -> module that defines it
_EXPORTS = {
    "Boundary": "floodsim.core.boundaries",
    "BindContext": "floodsim.core.operator",
    "GreenAmpt": "floodsim.core.infiltration",
    "Grid": "floodsim.core.grid",
    "Horton": "floodsim.core.infiltration",
    "Hyetograph": "floodsim.core.forcing",
    "Inflow": "floodsim.core.inflows",
    "Operator": "floodsim.core.operator",
    "OperatorFlows": "floodsim.core.operator",
    "RainfallRaster": "floodsim.core.forcing",
    "Simulation": "floodsim.core.simulation",
    "SolverParams": "floodsim.core.params",
    "TimeSeries": "floodsim.core.forcing",
    "run_simulation": "floodsim.run.recorder",
    "read_dem": "floodsim.io.raster",
    "load_scenario": "floodsim.scenario.load",
    "run_scenario": "floodsim.run.runner",
}

__all__ = [*sorted(_EXPORTS), "__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'floodsim' has no attribute {name!r}")


def __dir__():
    return __all__
