"""Scenario files: a validated, frozen description of one simulation (pure pydantic).

``models`` (the schema), ``measures`` (the measure schemas), ``load`` (TOML/YAML, ``extends``),
``paths`` (the schema walker: path resolution, dotted parameter paths, overrides). Nothing here imports
numba, geopandas or the engine: ``python -c "import floodsim.scenario"`` stays light.
"""

from .load import load_scenario
from .models import Scenario

__all__ = ["Scenario", "load_scenario"]
