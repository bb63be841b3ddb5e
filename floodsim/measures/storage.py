"""Measures that act during a run: tanks, drainage tunnels, pond outlets and controlled structures.

Each measure is an :class:`floodsim.core.operator.Operator`. It takes water from surface cells, holds it
in its own store, and sends it on to a *target*, which is one of:

* ``"outside"`` — the water leaves the model (a treatment works, the sea, a trunk sewer); reported
  as ``left_domain``;
* a boolean ``(ny, nx)`` mask of surface cells — the water is spread evenly over them (an outfall on
  a street, a pump into a river); reported as ``to_surface``;
* another measure with a ``receive(volume) -> accepted`` method (a tank pumping into a tunnel, a pond
  draining into a tunnel); the receiver takes what fits, the sender keeps the rest.

Linked measures and the volume balance
--------------------------------------
The solver checks each operator it is given on its own: ``Δstorage = from_surface − to_surface −
left_domain`` every step. Water passed from measure A to measure B is none of these three terms for
A or B alone (it neither leaves the surface nor the model), so linked measures are wrapped in one
:class:`StorageNetwork`, which is the operator the solver sees. The network applies its members in
order (senders before their receivers), sums their surface and outside flows, and reports the sum of
their stores; transfers between members cancel inside it, so the network's check and the run's
balance close exactly. Each member keeps its own cumulative ledger, including ``sent`` and
``received``, and :meth:`StorageMeasure.ledger_error` checks ``stored − initial = from_surface −
to_surface − left_domain − sent + received`` for it alone. A measure with another measure as target
that is given to the solver directly (not inside a network) is refused at ``bind``.

Everything is SI: volumes m³, discharges m³/s, levels m (DEM datum), times s. The schemas are in
:mod:`floodsim.scenario.measures`; the builders (``build_*``) and registry entries
(:data:`MEASURE_TYPES`) are at the end of this module.
The numerical work (taking and spreading water, discharge laws) is in
:mod:`floodsim.kernels.exchange`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import units
from ..core.forcing import TimeSeries
from ..core.operator import BindContext, Operator, OperatorFlows
from ..errors import InputDataError
from ..kernels.exchange import (orifice_discharge, spread_volume, take_volume, weir_discharge)
from ..scenario import measures as schema
from .base import MeasureType

OUTSIDE = "outside"


def _as_level(value) -> TimeSeries | None:
    if value is None or isinstance(value, TimeSeries):
        return value
    return TimeSeries.constant(float(value), "level")


def _crossings(series: TimeSeries, level: float, t: float) -> float:
    """First time after ``t`` [s] at which the piecewise-linear ``series`` crosses ``level``."""
    ts, vs = series.times, series.values - level
    best = np.inf
    for k in range(ts.size - 1):
        if ts[k + 1] <= t:
            continue
        a, b = vs[k], vs[k + 1]
        if a == b:
            continue
        if (a < 0.0) != (b < 0.0):
            tc = ts[k] + (0.0 - a) / (b - a) * (ts[k + 1] - ts[k])
            if tc > t:
                best = min(best, float(tc))
    return best


class StorageMeasure(Operator):
    """Common machinery: cells, the target, and a per-measure ledger of every volume moved.

    Subclasses implement :meth:`_act` and hold their water in ``self._held`` (or override
    :attr:`stored_volume`).
    """

    #: Whether other measures may send water into this one (tanks and tunnels store it; outlets and
    #: structures only pass it on).
    holds_water: bool = True

    def __init__(self, name: str, target=OUTSIDE):
        self.name = name
        if isinstance(target, str) and target != OUTSIDE:
            raise InputDataError(f"measure '{name}': target must be 'outside', a cell mask or a measure, "
                                 f"got {target!r}.")
        self.target = target
        self._network = None
        self._held = 0.0
        self.ledger = dict(from_surface=0.0, to_surface=0.0, left_domain=0.0, sent=0.0, received=0.0)
        self.initial_volume = 0.0
        self._target_cells = np.zeros(0, np.int64)

    # ---------------------------------------------------------------- binding
    #: Attributes carried from step to step (saved by :meth:`get_state`); subclasses extend it.
    _state_attrs: tuple[str, ...] = ("_held", "initial_volume", "ledger")

    def get_state(self) -> dict:
        out = {}
        for a in self._state_attrs:
            v = getattr(self, a)
            out[a] = v.copy() if isinstance(v, (np.ndarray, dict)) else v
        return out

    def set_state(self, state: dict) -> None:
        if set(state) != set(self._state_attrs):
            raise InputDataError(f"measure '{self.name}': saved state has {sorted(state)}, expected "
                                 f"{sorted(self._state_attrs)}; the checkpoint belongs to another model.")
        for a in self._state_attrs:
            v = getattr(self, a)
            if isinstance(v, np.ndarray):
                v[...] = state[a]
            elif isinstance(v, dict):
                v.update({k: float(x) for k, x in state[a].items()})
            else:
                setattr(self, a, type(v)(state[a]))

    def _cells(self, ctx: BindContext, mask, what: str) -> np.ndarray:
        """Flat indices of the active cells of ``mask`` (bool (ny, nx)); error if none."""
        mask = np.asarray(mask, bool)
        if mask.shape != ctx.grid.shape:
            raise InputDataError(f"measure '{self.name}': {what} mask shape {mask.shape} != grid "
                                 f"{ctx.grid.shape}.")
        cells = np.flatnonzero(mask & ctx.active.astype(bool)).astype(np.int64)
        if cells.size == 0:
            raise InputDataError(f"measure '{self.name}': all its {what} cells are outside the DEM or "
                                 "under buildings; move them onto open ground.")
        return cells

    def _sump(self, cells: np.ndarray) -> int:
        """The cell of ``cells`` with the lowest bed (where the water level is read)."""
        return int(cells[np.argmin(self._z.ravel()[cells])])

    def bind(self, ctx: BindContext) -> None:
        self._area = float(ctx.grid.cell_area)
        self._z = ctx.z
        self._g = float(ctx.g)
        self._hmin = float(ctx.hmin)
        if isinstance(self.target, Operator):
            if not hasattr(self.target, "receive"):
                raise InputDataError(f"measure '{self.name}': its target '{self.target.name}' cannot "
                                     "receive water.")
            if self._network is None or self.target not in self._network.members:
                raise InputDataError(f"measure '{self.name}' sends water to '{self.target.name}'; put both "
                                     "in one StorageNetwork so the volume balance closes.")
        elif not (isinstance(self.target, str) and self.target == OUTSIDE):
            self._target_cells = self._cells(ctx, self.target, "target")
        self.initial_volume = self.stored_volume

    # ---------------------------------------------------------------- interface
    @property
    def stored_volume(self) -> float:
        return self._held

    def receive(self, volume: float) -> float:
        """Accept up to ``volume`` [m³] from another measure; return what was accepted [m³]."""
        accepted = max(0.0, min(volume, self.free_volume()))
        self._held += accepted
        self.ledger["received"] += accepted
        return accepted

    def free_volume(self) -> float:
        """Room left in the store [m³] (infinite for pass-through measures, which never receive)."""
        return 0.0

    def device_level(self, h) -> float:
        """The water level that controls the device [m] (NaN for stores without one: tanks, tunnels)."""
        return float("nan")

    def apply(self, h, t, dt) -> OperatorFlows:
        flows = self._act(h, t, dt)
        self.ledger["from_surface"] += flows.from_surface
        self.ledger["to_surface"] += flows.to_surface
        self.ledger["left_domain"] += flows.left_domain
        return flows

    def _act(self, h, t, dt) -> OperatorFlows:  # pragma: no cover - abstract
        raise NotImplementedError

    def ledger_error(self) -> float:
        """``stored − initial − (from − to − left − sent + received)`` [m³]: zero up to round-off."""
        L = self.ledger
        return (self.stored_volume - self.initial_volume
                - (L["from_surface"] - L["to_surface"] - L["left_domain"] - L["sent"] + L["received"]))

    def touched_cells(self) -> np.ndarray:
        return self._target_cells

    # ---------------------------------------------------------------- helpers
    def _deliver(self, h, volume: float, return_cells: np.ndarray | None = None):
        """Send ``volume`` [m³] from the store to the target; return (to_surface, left_domain).

        The store (``self._held``) is reduced by what went. Water a receiving measure refuses stays
        in the store, or, for pass-through measures (``return_cells`` given), goes back onto those
        cells (to_surface).
        """
        volume = min(volume, self._held)
        if volume <= 0.0:
            return 0.0, 0.0
        to_surface = left = 0.0
        if isinstance(self.target, Operator):
            sent = self.target.receive(volume)
            self.ledger["sent"] += sent
            self._held -= sent
            if return_cells is not None and volume - sent > 0.0:
                back = spread_volume(h, return_cells, volume - sent, self._area)
                self._held -= back
                to_surface = back
        elif self._target_cells.size:
            added = spread_volume(h, self._target_cells, volume, self._area)
            self._held -= added
            to_surface = added
        else:
            self._held -= volume
            left = volume
        return to_surface, left


class UndergroundTank(StorageMeasure):
    """An underground storage tank fed by street inlets and emptied by a pump.

    Each step the inlets take ``min(capacity·dt, free storage, water on the inlet cells)``, shared
    over the inlet cells in proportion to their depths; once the tank is full they take nothing and
    the water stays on the street. From ``pump_start`` the pump empties the tank at ``pump_rate``
    (before the inlets act, so the room it frees is available in the same step) to the target.

    Parameters
    ----------
    name : str
        Name in reports and errors.
    inlet_cells : bool (ny, nx)
        Cells of all the inlets (gullies, grates).
    inflow_capacity : float
        Total inflow capacity of the inlets [m³/s].
    volume : float
        Storage volume of the tank [m³].
    pump_rate : float
        Emptying pump rate [m³/s] (0: no pump).
    pump_start : float
        Time the pump starts [s].
    target : "outside", bool (ny, nx) or measure
        Where the pump sends the water.
    initial_volume : float
        Water in the tank at t = 0 [m³].
    """

    def __init__(self, name, inlet_cells, inflow_capacity, volume, pump_rate=0.0, pump_start=0.0,
                 target=OUTSIDE, initial_volume=0.0):
        super().__init__(name, target)
        if not (inflow_capacity >= 0 and volume > 0 and pump_rate >= 0 and 0 <= initial_volume <= volume):
            raise InputDataError(f"tank '{name}': need inflow capacity >= 0, volume > 0, pump rate >= 0 "
                                 "and 0 <= initial volume <= volume.")
        self.inlet_mask = inlet_cells
        self.inflow_capacity = float(inflow_capacity)
        self.volume = float(volume)
        self.pump_rate = float(pump_rate)
        self.pump_start = float(pump_start)
        self._held = float(initial_volume)

    def bind(self, ctx):
        self._inlets = self._cells(ctx, self.inlet_mask, "inlet")
        super().bind(ctx)

    def free_volume(self):
        return max(0.0, self.volume - self._held)

    def active_cells(self):
        return np.union1d(self._inlets, self._target_cells)

    def next_change(self, t):
        return self.pump_start if self.pump_start > t else np.inf

    def _act(self, h, t, dt):
        to_surface = left = 0.0
        if self.pump_rate > 0 and t >= self.pump_start:
            to_surface, left = self._deliver(h, self.pump_rate * dt)
        want = min(self.inflow_capacity * dt, self.free_volume())
        taken = take_volume(h, self._inlets, want, self._area)
        self._held += taken
        return OperatorFlows(taken, to_surface, left)


@dataclass(frozen=True)
class TunnelIntake:
    """One intake shaft of a tunnel: its cells (bool (ny, nx)), capacity [m³/s] and segment index
    (0 = the upstream segment)."""

    name: str
    cells: np.ndarray
    capacity: float
    segment: int


class DrainageTunnel(StorageMeasure):
    """A drainage tunnel as a chain of linked storages with capped intakes and an outfall.

    Simplification (documented): the tunnel is a cascade of storage segments, not a pressurised
    pipe. Each step, in this order:

    1. **Outfall** from the last segment: ``min(outfall_capacity·dt, V_last)`` while the receiving
       water level (``outfall_level``, e.g. the sea, a TimeSeries) is below ``outfall_invert`` — the
       level at which the tunnel discharges (a flap valve shuts otherwise); 0 when it is at or above.
    2. **Conveyance** from segment ``k`` to ``k+1`` (downstream links first):
       ``min(conveyance·dt, V_k, free_{k+1})``.
    3. **Intakes** take ``min(capacity·dt, free room of their segment, water on their cells)``.

    There are no pressure, surge or travel-time effects: water moves at most one segment per step
    and never faster than the capacities allow. ``receive`` (from a tank or a pond outlet) puts water
    into the upstream segment.

    Parameters
    ----------
    name : str
    intakes : list of TunnelIntake
    segment_volumes : sequence of float
        Volume of each segment [m³], upstream first (e.g. 5 × 18,000 m³ for a 90,000 m³ tunnel).
    conveyance : float
        Capacity of each link between segments [m³/s].
    outfall_capacity : float
        Outfall capacity [m³/s].
    outfall_invert : float
        Level at which the tunnel discharges [m]; the outfall runs while the receiving level is
        below it.
    outfall_level : float, TimeSeries or None
        Receiving water level [m] (None: the outfall is never blocked).
    target : "outside" or bool (ny, nx) or measure
        Where the outfall goes.
    """

    def __init__(self, name, intakes, segment_volumes, conveyance, outfall_capacity, outfall_invert=0.0,
                 outfall_level=None, target=OUTSIDE):
        super().__init__(name, target)
        self.intakes = list(intakes)
        self.capacity = np.asarray(segment_volumes, np.float64)
        if self.capacity.ndim != 1 or self.capacity.size == 0 or np.any(self.capacity <= 0):
            raise InputDataError(f"tunnel '{name}': segment volumes must be a non-empty list of values > 0.")
        if not (conveyance >= 0 and outfall_capacity >= 0):
            raise InputDataError(f"tunnel '{name}': conveyance and outfall capacity must be >= 0.")
        for it in self.intakes:
            if not (0 <= it.segment < self.capacity.size) or not it.capacity >= 0:
                raise InputDataError(f"tunnel '{name}' intake '{it.name}': segment {it.segment} is not in "
                                     f"0..{self.capacity.size - 1} or its capacity is negative.")
        self.segments = np.zeros_like(self.capacity)
        self.conveyance = float(conveyance)
        self.outfall_capacity = float(outfall_capacity)
        self.outfall_invert = float(outfall_invert)
        self.outfall_level = _as_level(outfall_level)
        #: largest rates seen [m³/s] per link and at the outfall, for checks.
        self.max_link_rate = np.zeros(max(self.capacity.size - 1, 0))
        self.max_outfall_rate = 0.0
        self.outfall_volume = 0.0

    _state_attrs = StorageMeasure._state_attrs + ("segments", "max_link_rate", "max_outfall_rate",
                                                  "outfall_volume")

    def bind(self, ctx):
        self._intake_cells = [self._cells(ctx, it.cells, f"intake '{it.name}'") for it in self.intakes]
        super().bind(ctx)

    @property
    def stored_volume(self):
        return float(self.segments.sum())

    def free_volume(self):
        return float(self.capacity[0] - self.segments[0])

    def receive(self, volume):
        accepted = max(0.0, min(volume, self.free_volume()))
        self.segments[0] += accepted
        self.ledger["received"] += accepted
        return accepted

    def active_cells(self):
        cells = [self._target_cells] + self._intake_cells
        return np.unique(np.concatenate(cells)) if cells else np.zeros(0, np.int64)

    def outfall_open(self, t: float) -> bool:
        return self.outfall_level is None or self.outfall_level(t) < self.outfall_invert

    def next_change(self, t):
        if self.outfall_level is None:
            return np.inf
        return _crossings(self.outfall_level, self.outfall_invert, t)

    def _act(self, h, t, dt):
        seg, cap = self.segments, self.capacity
        to_surface = left = 0.0
        if self.outfall_open(t + 0.5 * dt):
            want = min(self.outfall_capacity * dt, seg[-1])
            self._held = seg[-1]
            to_surface, left = self._deliver(h, want)
            moved = seg[-1] - self._held
            seg[-1] = self._held
            self._held = 0.0
            self.outfall_volume += float(moved)
            self.max_outfall_rate = max(self.max_outfall_rate, moved / dt)
        for k in range(seg.size - 2, -1, -1):
            v = max(0.0, min(self.conveyance * dt, seg[k], cap[k + 1] - seg[k + 1]))
            seg[k] -= v
            seg[k + 1] += v
            self.max_link_rate[k] = max(self.max_link_rate[k], v / dt)
        taken_total = 0.0
        for it, cells in zip(self.intakes, self._intake_cells):
            want = min(it.capacity * dt, max(0.0, cap[it.segment] - seg[it.segment]))
            taken = take_volume(h, cells, want, self._area)
            seg[it.segment] += taken
            taken_total += taken
        return OperatorFlows(taken_total, to_surface, left)


class PondOutlet(StorageMeasure):
    """The outlet of a buffer pond: an orifice and/or a weir draining the pond to a target.

    The water level is read in the pond's outlet cell (the lowest-bed cell of ``outlet_cells``,
    ``η = z + h``). The discharge is ``Q = Cd A sqrt(2 g (η − z_orifice))`` through the orifice plus
    ``Q = Cw L (η − z_crest)^1.5`` over the weir (:mod:`floodsim.kernels.exchange`), taken from the
    outlet cells over the step (limited to the water on them; the 2-D model refills them from the
    rest of the pond). The head is measured to the orifice level given (use the orifice centre for
    a large orifice); orifice-to-weir transition at low heads and a submerged outlet are not
    modelled. Overflow over the pond's rim onto the street happens in the 2-D model by itself. The
    outlet holds no water: what a receiving measure refuses is put back on the outlet cells.

    Parameters
    ----------
    name : str
    outlet_cells : bool (ny, nx)
    orifice : (Cd [-], area [m²], level [m]) or None
    weir : (Cw [m^0.5/s], length [m], crest level [m]) or None
    target : "outside", bool (ny, nx) or measure
    """

    holds_water = False

    def __init__(self, name, outlet_cells, orifice=None, weir=None, target=OUTSIDE):
        super().__init__(name, target)
        if orifice is None and weir is None:
            raise InputDataError(f"pond outlet '{name}': give an orifice, a weir or both.")
        if orifice is not None and not (orifice[0] > 0 and orifice[1] > 0):
            raise InputDataError(f"pond outlet '{name}': orifice Cd and area must be > 0.")
        if weir is not None and not (weir[0] > 0 and weir[1] > 0):
            raise InputDataError(f"pond outlet '{name}': weir Cw and length must be > 0.")
        self.outlet_mask = outlet_cells
        self.orifice = orifice
        self.weir = weir
        self.discharged = 0.0
        self.last_discharge = 0.0

    _state_attrs = StorageMeasure._state_attrs + ("discharged", "last_discharge")

    def bind(self, ctx):
        self._outlet = self._cells(ctx, self.outlet_mask, "outlet")
        super().bind(ctx)
        self._sump_cell = self._sump(self._outlet)

    def touched_cells(self):
        return np.union1d(self._target_cells, self._outlet)

    def device_level(self, h) -> float:
        return self.level(h)

    def level(self, h) -> float:
        """Water level in the outlet cell [m]."""
        c = self._sump_cell
        return float(self._z.ravel()[c] + h.ravel()[c])

    def discharge(self, level: float) -> float:
        """Outlet discharge at water level ``level`` [m³/s]."""
        q = 0.0
        if self.orifice is not None:
            Cd, area, z0 = self.orifice
            q += orifice_discharge(Cd, area, level - z0, self._g)
        if self.weir is not None:
            Cw, length, crest = self.weir
            q += weir_discharge(Cw, length, level - crest)
        return q

    def _act(self, h, t, dt):
        q = self.discharge(self.level(h))
        taken = take_volume(h, self._outlet, q * dt, self._area)
        self._held += taken
        to_surface, left = self._deliver(h, taken, return_cells=self._outlet)
        returned = to_surface if isinstance(self.target, Operator) else 0.0
        self.last_discharge = (taken - returned) / dt
        self.discharged += taken
        return OperatorFlows(taken, to_surface, left)


@dataclass(frozen=True)
class TimeRule:
    """Setting ``value`` (rate [m³/s] for a pump, opening fraction for a gate) from ``start`` to
    ``end`` [s]."""

    start: float
    end: float
    value: float


@dataclass(frozen=True)
class LevelRule:
    """Hysteresis on the water level at a sensor: switch on (setting ``value``) when the level
    rises above ``start_level`` [m], off when it falls below ``stop_level`` [m] (< start_level)."""

    sensor_cells: np.ndarray
    start_level: float
    stop_level: float
    value: float


class ControlledStructure(StorageMeasure):
    """A pump or gate moving water from cells A to a target, following declared rules.

    The setting in force over a step is decided at its start:

    * a **time rule** covering ``t`` (``start <= t < end``) sets it (later rules win where they
      overlap);
    * otherwise the **level rule**, if any, sets it: it switches on when the level at its sensor
      (``η = z + h`` at the sensor's lowest cell) exceeds ``start_level`` and stays on until the level
      falls below ``stop_level`` (hysteresis);
    * otherwise the setting is 0 (stopped / closed).

    A **pump** moves ``setting`` [m³/s]. A **gate** is an orifice of full area ``gate_area`` [m²]
    opened by the fraction ``setting``: ``Q = setting·Cd·A·sqrt(2 g Δη)`` with ``Δη = η_A −
    max(η_B, sill)``, ``η_A`` read at A's lowest cell and ``η_B`` at the target's lowest cell (only the
    sill when the target is outside or a measure); the step's volume is also capped at the volume
    that would level A and B (no overshoot). Either way the volume is limited to the water on A.
    The structure holds no water itself.

    Parameters
    ----------
    name : str
    source_cells : bool (ny, nx)
    target : "outside", bool (ny, nx) or measure
    kind : "pump" or "gate"
    time_rules : list of TimeRule
    level_rule : LevelRule or None
    gate_cd, gate_area, sill_level : float
        Gate discharge coefficient [-], full opening area [m²], sill level [m] (gates only).
    """

    holds_water = False

    def __init__(self, name, source_cells, target=OUTSIDE, kind="pump", time_rules=(), level_rule=None,
                 gate_cd=0.6, gate_area=0.0, sill_level=-np.inf):
        super().__init__(name, target)
        if kind not in ("pump", "gate"):
            raise InputDataError(f"controlled structure '{name}': kind must be 'pump' or 'gate'.")
        if kind == "gate" and not (gate_cd > 0 and gate_area > 0):
            raise InputDataError(f"controlled structure '{name}': a gate needs gate_cd > 0 and gate_area > 0.")
        self.kind = kind
        self.source_mask = source_cells
        self.time_rules = tuple(time_rules)
        for r in self.time_rules:
            if not (r.end > r.start and r.value >= 0 and (kind == "pump" or r.value <= 1)):
                raise InputDataError(f"controlled structure '{name}': time rule {r} needs end > start and a "
                                     "setting >= 0 (<= 1 for a gate opening).")
        self.level_rule = level_rule
        if level_rule is not None and not (level_rule.stop_level < level_rule.start_level and
                                           level_rule.value >= 0 and (kind == "pump" or level_rule.value <= 1)):
            raise InputDataError(f"controlled structure '{name}': the level rule needs stop level < start "
                                 "level and a setting >= 0 (<= 1 for a gate).")
        self.gate_cd, self.gate_area, self.sill_level = float(gate_cd), float(gate_area), float(sill_level)
        self.on = False
        self.setting = 0.0
        self.sensor_level = np.nan
        self.moved = 0.0

    _state_attrs = StorageMeasure._state_attrs + ("on", "setting", "sensor_level", "moved")

    def bind(self, ctx):
        self._source = self._cells(ctx, self.source_mask, "source")
        self._sensor = (self._cells(ctx, self.level_rule.sensor_cells, "sensor")
                        if self.level_rule is not None else np.zeros(0, np.int64))
        super().bind(ctx)
        self._source_sump = self._sump(self._source)
        self._sensor_sump = self._sump(self._sensor) if self._sensor.size else -1
        self._target_sump = self._sump(self._target_cells) if self._target_cells.size else -1

    def touched_cells(self):
        return np.union1d(self._target_cells, self._source)

    def active_cells(self):
        return np.union1d(self.touched_cells(), self._sensor)

    def next_change(self, t):
        edges = [e for r in self.time_rules for e in (r.start, r.end) if e > t]
        return float(min(edges)) if edges else np.inf

    def device_level(self, h) -> float:
        """Water level at the source's lowest cell [m]."""
        return self._eta(h, self._source_sump)

    def _eta(self, h, c):
        return float(self._z.ravel()[c] + h.ravel()[c])

    def setting_at(self, h, t) -> float:
        """Update the level controller and return the setting in force from ``t``."""
        if self.level_rule is not None:
            self.sensor_level = eta = self._eta(h, self._sensor_sump)
            if not self.on and eta > self.level_rule.start_level:
                self.on = True
            elif self.on and eta < self.level_rule.stop_level:
                self.on = False
        for r in reversed(self.time_rules):
            if r.start <= t < r.end:
                return r.value
        if self.level_rule is not None and self.on:
            return self.level_rule.value
        return 0.0

    def _act(self, h, t, dt):
        self.setting = s = self.setting_at(h, t)
        if s <= 0.0:
            return OperatorFlows()
        if self.kind == "pump":
            want = s * dt
        else:
            eta_a = self._eta(h, self._source_sump)
            down = self.sill_level
            if self._target_sump >= 0:
                down = max(down, self._eta(h, self._target_sump))
            head = eta_a - down
            want = s * orifice_discharge(self.gate_cd, self.gate_area, head, self._g) * dt
            if self._target_sump >= 0 and head > 0:
                a_a = self._source.size * self._area
                a_b = self._target_cells.size * self._area
                want = min(want, head * a_a * a_b / (a_a + a_b))
        taken = take_volume(h, self._source, want, self._area)
        self._held += taken
        to_surface, left = self._deliver(h, taken, return_cells=self._source)
        self.moved += taken - (to_surface if isinstance(self.target, Operator) else 0.0)
        return OperatorFlows(taken, to_surface, left)


class StorageNetwork(Operator):
    """Several measures linked by transfers (a tank pumping into a tunnel, a pond into a tunnel),
    seen by the solver as one operator so the transfers between them cancel in its balance.

    Members are applied senders first (a topological order of the links), so water sent in a step
    reaches its receiver in the same step. Its storage is the sum of the members', its flows the sum
    of their surface and outside flows.
    """

    def __init__(self, name: str, members):
        self.name = name
        self.members = list(members)
        if not self.members:
            raise InputDataError(f"storage network '{name}': it has no members.")
        for m in self.members:
            if not isinstance(m, StorageMeasure):
                raise InputDataError(f"storage network '{name}': '{getattr(m, 'name', m)}' is not a storage "
                                     "measure.")
            m._network = self
        order, seen = [], set()

        def visit(m, stack=()):
            if id(m) in seen:
                return
            if m in stack:
                raise InputDataError(f"storage network '{name}': the links form a loop through '{m.name}'.")
            # senders to m go first
            for other in self.members:
                if other.target is m:
                    visit(other, stack + (m,))
            seen.add(id(m))
            order.append(m)

        for m in self.members:
            visit(m)
        self.members = order

    def bind(self, ctx):
        for m in self.members:
            m.bind(ctx)

    def get_state(self):
        return {"members": [m.get_state() for m in self.members]}

    def set_state(self, state):
        members = state.get("members", [])
        if len(members) != len(self.members):
            raise InputDataError(f"storage network '{self.name}': saved state has {len(members)} members, "
                                 f"this model {len(self.members)}.")
        for m, st in zip(self.members, members):
            m.set_state(st)

    def apply(self, h, t, dt):
        f = t_ = l = 0.0
        for m in self.members:
            flows = m.apply(h, t, dt)
            f += flows.from_surface
            t_ += flows.to_surface
            l += flows.left_domain
        return OperatorFlows(f, t_, l)

    @property
    def stored_volume(self):
        return float(sum(m.stored_volume for m in self.members))

    def touched_cells(self):
        return np.unique(np.concatenate([np.asarray(m.touched_cells(), np.int64) for m in self.members]))

    def active_cells(self):
        return np.unique(np.concatenate([np.asarray(m.active_cells(), np.int64) for m in self.members]))

    def next_change(self, t):
        return min(m.next_change(t) for m in self.members)


def group_linked(measures) -> list[Operator]:
    """Wrap measures linked by transfers into :class:`StorageNetwork` s (one per connected group,
    named after its members); unlinked measures are returned as they are, in their order."""
    measures = list(measures)
    parent = {id(m): id(m) for m in measures}
    byid = {id(m): m for m in measures}

    def root(k):
        while parent[k] != k:
            k = parent[k]
        return k

    for m in measures:
        if isinstance(m.target, Operator):
            if id(m.target) not in byid:
                raise InputDataError(f"measure '{m.name}' sends water to '{m.target.name}', which is not "
                                     "among the measures.")
            parent[root(id(m))] = root(id(m.target))
    groups: dict[int, list] = {}
    for m in measures:
        groups.setdefault(root(id(m)), []).append(m)
    out, done = [], set()
    for m in measures:
        r = root(id(m))
        if r in done:
            continue
        done.add(r)
        g = groups[r]
        out.append(g[0] if len(g) == 1 else StorageNetwork(" + ".join(x.name for x in g), g))
    return out


# --------------------------------------------------------------------------------------------------
# Builders (scenario schema + the measure's layers -> operators) and the registry entries
# --------------------------------------------------------------------------------------------------

def _union(feats):
    return np.logical_or.reduce([m for _, _, m in feats])


def _number(row, field, label, fname, name_field, what, minimum=0.0):
    value = row[field]
    shown = value.item() if hasattr(value, "item") else value
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = float("nan")
    if not np.isfinite(value) or value < minimum:
        raise InputDataError(f"{label} ({what}): feature {name_field}={fname!r} field '{field}' = {shown!r}; "
                             f"it must be a number >= {minimum:g}.")
    return value


def _target(spec, ctx):
    """Where the measure sends its water: OUTSIDE, a cell mask, or (``target = "measure"``) OUTSIDE for
    now, linked to the receiving measure by :func:`floodsim.build.measures.build_operators`."""
    if spec.target == "surface":
        feats, _ = ctx.features(spec.target_layer, f"{spec.type} '{spec.name}' target")
        return _union(feats)
    return OUTSIDE


def build_tank(spec, ctx) -> UndergroundTank:
    target = _target(spec, ctx)
    feats, _ = ctx.features(spec.inlets, f"tank '{spec.name}' inlets", main=True)
    return UndergroundTank(spec.name, _union(feats), spec.inflow_capacity_m3_s, spec.volume_m3,
                           spec.pump_rate_m3_s, units.minutes_to_s(spec.pump_start_min), target,
                           spec.initial_volume_m3)


def build_tunnel(spec, ctx) -> DrainageTunnel:
    what = f"tunnel '{spec.name}'"
    target = _target(spec, ctx)
    ref = spec.intakes
    feats, label = ctx.features(ref, f"{what} intakes", required=(spec.capacity_field, spec.segment_field),
                                main=True)
    nseg = len(spec.segment_volumes_m3)
    intakes = []
    for fname, row, mask in feats:
        cap = _number(row, spec.capacity_field, label, fname, ref.name_field, f"{what} intakes")
        seg = _number(row, spec.segment_field, label, fname, ref.name_field, f"{what} intakes", 1.0)
        if seg != int(seg) or seg > nseg:
            raise InputDataError(f"{label} ({what} intakes): feature {ref.name_field}={fname!r} field "
                                 f"'{spec.segment_field}' = {seg:g}; it must be a segment number 1..{nseg}.")
        intakes.append(TunnelIntake(fname, mask, cap, int(seg) - 1))
    level = spec.outfall_level_m
    if spec.outfall_level_series:
        level = TimeSeries([units.minutes_to_s(p.time_min) for p in spec.outfall_level_series],
                           [p.level_m for p in spec.outfall_level_series], f"{what} outfall_level_series")
    return DrainageTunnel(spec.name, intakes, spec.segment_volumes_m3, spec.conveyance_m3_s,
                          spec.outfall_capacity_m3_s, spec.outfall_invert_m, level, target)


def build_pond_outlet(spec, ctx) -> PondOutlet:
    target = _target(spec, ctx)
    feats, _ = ctx.features(spec.outlet, f"pond_outlet '{spec.name}' outlet", main=True)
    orifice = None if spec.orifice_cd is None else (spec.orifice_cd, spec.orifice_area_m2, spec.orifice_level_m)
    weir = None if spec.weir_cw is None else (spec.weir_cw, spec.weir_length_m, spec.weir_crest_m)
    return PondOutlet(spec.name, _union(feats), orifice, weir, target)


def build_controlled_structure(spec, ctx) -> ControlledStructure:
    what = f"controlled_structure '{spec.name}'"
    target = _target(spec, ctx)
    feats, _ = ctx.features(spec.source, f"{what} source", main=True)
    value = "rate_m3_s" if spec.kind == "pump" else "opening_fraction"
    rules = [TimeRule(units.minutes_to_s(r.start_min), units.minutes_to_s(r.end_min), getattr(r, value))
             for r in spec.time_rules]
    level_rule = None
    if spec.level_rule is not None:
        lr = spec.level_rule
        sensor, _ = ctx.features(lr.sensor, f"{what} level_rule sensor")
        level_rule = LevelRule(_union(sensor), lr.start_level_m, lr.stop_level_m, getattr(lr, value))
    return ControlledStructure(spec.name, _union(feats), target, spec.kind, rules, level_rule,
                               spec.gate_cd, spec.gate_area_m2 or 0.0,
                               -np.inf if spec.sill_level_m is None else spec.sill_level_m)


#: Registry entries of the storage measures (:mod:`floodsim.measures.registry`).
MEASURE_TYPES = (
    MeasureType("tank", schema.TankSpec, "operator", build_tank, "#7570b3", stores_surface_water=False,
                description="underground tank fed by inlets, emptied by a pump"),
    MeasureType("tunnel", schema.TunnelSpec, "operator", build_tunnel, "#d95f02", stores_surface_water=False,
                description="drainage tunnel: linked storage segments with intakes and an outfall"),
    MeasureType("pond_outlet", schema.PondOutletSpec, "operator", build_pond_outlet, "#e7298a",
                stores_surface_water=False, description="orifice and/or weir draining a pond"),
    MeasureType("controlled_structure", schema.ControlledStructureSpec, "operator", build_controlled_structure,
                "#e7298a", stores_surface_water=False, description="pump or gate following time/level rules"),
)


__all__ = ["OUTSIDE", "StorageMeasure", "UndergroundTank", "TunnelIntake", "DrainageTunnel", "PondOutlet",
           "TimeRule", "LevelRule", "ControlledStructure", "StorageNetwork", "group_linked"]
