"""The interface through which measures act on the surface water during a run (operators).

An operator is applied once per step, after the surface flow, rain, infiltration and inflows
(a fractional step, as ANUGA's operators). It takes water from surface cells (inlets, intakes, a
pond outlet), holds it (a tank, a tunnel), returns it to the surface somewhere else, or sends it out
of the model (an outfall to the sea, a pump to a treatment works). It must report every volume it
moves, so the run's balance closes including its storage:

    Δ(operator storage) = from_surface − to_surface − left_domain        (checked every step)

All volumes are m³ and non-negative; depths in ``h`` are m. Operators see plain numpy arrays, never
the scenario or the :class:`~floodsim.core.simulation.Simulation`: at ``bind`` they get a
:class:`BindContext` (grid, bed, active cells, g, hmin). Their numerical work lives in
:mod:`floodsim.kernels`. The engine owns this interface (it calls it every step); the measures that
implement it live in :mod:`floodsim.measures`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class BindContext:
    """What an operator may know of the run it joins, given once at :meth:`Operator.bind`.

    Parameters
    ----------
    grid : Grid
        The model grid (shape, cell size, map coordinates).
    z : (ny, nx) float64
        Bed elevation used by the solver [m] (0 on nodata cells; read-only by convention).
    active : (ny, nx) uint8
        1 where water may flow (DEM data, not a building).
    g : float
        Gravitational acceleration [m/s²].
    hmin : float
        Depth below which a cell counts as dry [m].
    """

    grid: object
    z: np.ndarray
    active: np.ndarray
    g: float
    hmin: float


@dataclass(frozen=True)
class OperatorFlows:
    """Volumes an operator moved during one step [m³], all ≥ 0."""

    from_surface: float = 0.0
    to_surface: float = 0.0
    left_domain: float = 0.0


class Operator(ABC):
    """Base class of the measures that act during a run (ponds' outlets, tanks, tunnels, gates)."""

    #: Name used in reports, errors and the results' per-measure series.
    name: str = "operator"

    def bind(self, ctx: BindContext) -> None:
        """Resolve grid-dependent data before the first step.

        Called once by :class:`floodsim.core.simulation.Simulation`; the default does nothing.
        """

    @abstractmethod
    def apply(self, h: np.ndarray, t: float, dt: float) -> OperatorFlows:
        """Act on the depths ``h`` [m] (in place) over the step from ``t`` to ``t + dt`` [s]."""

    @property
    @abstractmethod
    def stored_volume(self) -> float:
        """Water held by the measure now [m³] (not counting water on the surface)."""

    def touched_cells(self) -> np.ndarray:
        """Flat indices of surface cells this operator may add water to (for band activity)."""
        return np.zeros(0, np.int64)

    def active_cells(self) -> np.ndarray:
        """Flat indices of surface cells this operator reads or changes (their bands stay active)."""
        return self.touched_cells()

    def next_change(self, t: float) -> float:
        """Next time after ``t`` at which the operator's behaviour changes abruptly (a rule) [s]."""
        return np.inf

    def get_state(self) -> dict:
        """Everything the operator carries from one step to the next (volumes held, ledgers,
        controller on/off), as a dict of floats, ints, bools, strings, lists and numpy arrays, for
        checkpoints (:mod:`floodsim.run.checkpoint`). The default is no state: an operator that holds
        anything between steps must override this and :meth:`set_state`."""
        return {}

    def set_state(self, state: dict) -> None:
        """Restore what :meth:`get_state` returned (the operator is already bound to the run)."""
        if state:
            from ..errors import InputDataError

            raise InputDataError(f"operator '{self.name}' ({type(self).__name__}) keeps no state but was "
                                 f"given {sorted(state)}; the checkpoint belongs to another model.")
