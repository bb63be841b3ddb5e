"""What every measure type declares: its registry entry (:class:`MeasureType`).

A measure family module (:mod:`floodsim.measures.terrain`, :mod:`floodsim.measures.storage`) holds the
physics of its types, a builder per type and a ``MEASURE_TYPES`` list of entries;
:mod:`floodsim.measures.registry` gathers them into the one registry keyed by type.

A builder is ``build(spec, ctx)``: ``spec`` is the validated schema
(:mod:`floodsim.scenario.measures`), ``ctx`` the build context of :mod:`floodsim.build.context`
(``ctx.grid``, ``ctx.initial_saturation``, ``ctx.layer(...)`` and ``ctx.features(...)`` to read the
measure's vector layers onto the grid). It returns the SI measure object: a terrain measure (applied to
the surface fields before the run) or an :class:`~floodsim.core.operator.Operator` (acting during it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

#: When a measure acts: ``"terrain"`` reshapes the ground before the run; ``"operator"`` acts every step.
Phase = Literal["terrain", "operator"]


@dataclass(frozen=True)
class MeasureType:
    """One measure type: everything floodsim needs to know about it, written once.

    Parameters
    ----------
    type : str
        The ``type`` of its ``[[measures]]`` table.
    schema : type
        Its pydantic schema (:mod:`floodsim.scenario.measures`).
    phase : "terrain" or "operator"
        Applied to the ground before the run, or acting during it.
    build : callable
        ``build(spec, ctx)`` → the SI measure object (module docstring).
    colour : str
        Its colour on maps and figures (``#rrggbb``).
    stores_surface_water : bool
        Water held on its cells (a pond's basin, a rain bed's ponding zone) is storage by design, not
        flooding.
    description : str
        One line for documentation and legends.
    """

    type: str
    schema: type
    phase: Phase
    build: Callable
    colour: str
    stores_surface_water: bool
    description: str
