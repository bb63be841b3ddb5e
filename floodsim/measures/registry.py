"""The one registry of measure types: type -> schema, builder, phase, colour, stores surface water.

Every part of floodsim that treats measure types differently asks here: the builder
(:mod:`floodsim.build.measures`), the run products (which measures store surface water), the maps
(colours). The entries are declared next to each family's physics (``MEASURE_TYPES`` in
:mod:`floodsim.measures.terrain` and :mod:`floodsim.measures.storage`); the schemas are in
:mod:`floodsim.scenario.measures`. A contract test checks that every schema has exactly one entry.
"""

from __future__ import annotations

from ..errors import ScenarioError
from . import storage, terrain
from .base import MeasureType

#: Every measure type, keyed by its ``type``.
REGISTRY: dict[str, MeasureType] = {m.type: m for m in (*terrain.MEASURE_TYPES, *storage.MEASURE_TYPES)}

#: Map colour of a measure of unknown type (e.g. read from an older run folder).
DEFAULT_COLOUR = "#e7298a"


def measure_type(name: str) -> MeasureType:
    """The registry entry of measure type ``name``."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ScenarioError(f"unknown measure type {name!r}; the types are {', '.join(REGISTRY)}.") from None


def stores_surface_water(name) -> bool:
    """True for measure types whose cells hold surface water by design (ponds, rain beds)."""
    entry = REGISTRY.get(str(name))
    return entry is not None and entry.stores_surface_water


def colour_of(name: str) -> str:
    """Map colour of measure type ``name``."""
    entry = REGISTRY.get(str(name))
    return entry.colour if entry is not None else DEFAULT_COLOUR


__all__ = ["DEFAULT_COLOUR", "REGISTRY", "MeasureType", "colour_of", "measure_type", "stores_surface_water"]
