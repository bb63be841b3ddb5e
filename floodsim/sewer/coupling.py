"""The coupling of the 2-D surface and a SWMM sewer network: :class:`SewerCoupling`, an Operator.

Sub-stepping (stated once, tested in tests/sewer/test_coupling.py)
-----------------------------------------------------------------
SWMM runs with a fixed routing step ``step_s`` (default 1 s), the *coupling step*; the 2-D solver
lands a step end on every coupling time (``next_change``), so each coupling step is covered by whole
2-D steps (a 2-D step longer than ``step_s`` is shortened to it). On **every 2-D step** the exchange
at each coupled node is computed from the cell's depth now and the node head SWMM had at the start
of the coupling step (:func:`floodsim.kernels.sewer_exchange.exchange_step`: weir/orifice laws,
surcharge out of the manhole), and applied to the cell at once. At the end of the coupling step the
volume exchanged at each node over it, divided by ``step_s``, is SWMM's lateral inflow at the node
for that step (negative: water out), and SWMM advances exactly one routing step. The network lags
the surface by at most one coupling step; no water is lost to it.

Volume accounting
-----------------
The operator's ``stored_volume`` is a ledger: the water SWMM holds at the start (initial depths),
plus everything taken from the surface, minus everything
given back (surcharge, overflow of sealed nodes, outfalls to a cell), minus what left through
outfalls to the outside. So the 2-D balance closes to round-off with the exchange as an exact term
(``from_surface``/``to_surface``/``left_domain`` of :class:`~floodsim.core.operator.OperatorFlows`).
The water SWMM actually holds (nodes + links) differs from the ledger by the network's own
continuity error; it is reported with SWMM's own continuity figure (:meth:`SewerCoupling.report`).

Outfalls: each goes ``"outside"`` (out of the model), to a grid ``cell`` (its discharge is put on
the cell; a stage there is not fed back) or to a ``level`` series (SWMM's outfall stage follows the
series, the water leaves the model). Through an outfall to a level without a flap gate the receiving
water can back up into the network (a rising sea, the Vejle compound case): that step's
``left_domain`` is then negative, the net volume out of the model (water entering from outside), so
the balance's ``measure_outflow`` is the net outflow of the outfalls. Overflow at sealed nodes (SWMM's flooding) is put on the node's
cell. Units SI: m, m³, m³/s, s.
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.operator import BindContext, Operator, OperatorFlows
from ..errors import InputDataError
from ..kernels.sewer_exchange import add_on_cells, exchange_step
from .network import RIM_TOLERANCE_M, Network

#: Weir coefficient of the HEC-22 sag-inlet weir law Q = Cw L d^1.5 [m^0.5/s] (Brown et al. 2013).
WEIR_COEFFICIENT = 1.66
#: Orifice discharge coefficient of a grate or manhole opening Q = Co A sqrt(2 g H) [-] (HEC-22).
ORIFICE_COEFFICIENT = 0.67


@dataclass(frozen=True)
class OutfallTarget:
    """Where an outfall's water goes: ``kind`` "outside", "cell" (at map point ``xy``) or "level"
    (``level``: a callable t [s] -> water level [m], or a float)."""

    kind: str = "outside"
    xy: tuple | None = None
    level: object = None

    def level_at(self, t: float) -> float:
        lev = self.level
        if hasattr(lev, "value"):
            return float(lev.value(t))
        if callable(lev):
            return float(lev(t))
        return float(lev)


class SewerCoupling(Operator):
    """Dual drainage: a SWMM network exchanging water with the surface cells above its nodes.

    Parameters
    ----------
    network : Network
        The network; ``network.inlets`` are the coupled nodes.
    duration_s : float
        Run length [s] (SWMM's end time).
    step_s : float
        Coupling step = SWMM's fixed routing step [s] (module docstring).
    weir_coefficient, orifice_coefficient : float
        ``Cw`` [m^0.5/s] and ``Co`` [-] of the exchange laws.
    outfalls : dict
        Outfall name -> :class:`OutfallTarget`; unnamed outfalls go "outside".
    rim_tolerance_m : float
        Accepted depth of a rim below the ground of its cell [m].
    record_step_s : float
        Step of the node/link series [s].
    folder : Path, optional
        Where SWMM's working files go (default: a temporary folder, removed at the end).
    """

    def __init__(self, network: Network, *, duration_s: float, step_s: float = 1.0,
                 weir_coefficient: float = WEIR_COEFFICIENT, orifice_coefficient: float = ORIFICE_COEFFICIENT,
                 outfalls: dict | None = None, rim_tolerance_m: float = RIM_TOLERANCE_M, record_step_s: float = 10.0,
                 folder=None, name: str = "sewer"):
        self.name = name
        self.network = network
        self.duration_s = float(duration_s)
        self.step_s = float(step_s)
        if not (0 < self.step_s <= 60):
            raise InputDataError(f"{network.source}: coupling step {step_s!r} s; give a step in (0, 60] s.")
        self.cw, self.co = float(weir_coefficient), float(orifice_coefficient)
        self.targets = dict(outfalls or {})
        unknown = [n for n in self.targets if n not in network.node_names() or network.node_kind(n) != "outfall"]
        if unknown:
            raise InputDataError(f"{network.source}: [sewer] outfalls names {', '.join(map(repr, unknown[:5]))}, not "
                                 "an outfall of the network.")
        self.rim_tolerance_m = float(rim_tolerance_m)
        self.record_step_s = float(record_step_s)
        self._folder_arg = folder
        self.engine = None
        self._held = 0.0
        self.initial_volume = 0.0
        #: Wall seconds in SWMM (steps and result reads) and in the exchange kernel, and SWMM steps taken.
        self.timing = {"swmm_s": 0.0, "exchange_s": 0.0, "steps": 0}
        self.volumes = dict(from_surface=0.0, to_surface=0.0, left_domain=0.0, outfall=0.0, surcharge=0.0,
                           overflow=0.0)

    # ---------------------------------------------------------------- binding
    def bind(self, ctx: BindContext) -> None:
        grid = ctx.grid
        blocked = grid.valid & ~ctx.active.astype(bool)
        self.cells = self.network.check_on_grid(grid, blocked, self.rim_tolerance_m)
        nx = grid.shape[1]
        self._g, self._area, self._z = float(ctx.g), float(grid.cell_area), ctx.z
        self.coupled = [n for n in self.network.node_names() if n in self.network.inlets]
        flat = np.array([self.cells[n] for n in self.coupled], np.int64)
        self._ci, self._cj = flat // nx, flat % nx
        inl = [self.network.inlets[n] for n in self.coupled]
        self._length = np.array([i.length_m for i in inl], np.float64)
        self._oarea = np.array([i.area_m2 for i in inl], np.float64)
        self._qcap = np.array([i.capacity_m3_s for i in inl], np.float64)
        m = len(self.coupled)
        self._head = np.full(m, -np.inf)
        self._avail = np.zeros(m)
        self._vol = np.zeros(m)        # exchanged over the current coupling step, + into the network [m³]
        self._t0 = 0.0
        self._k = 0                    # coupling steps done
        outs = [n for n in self.network.node_names() if self.network.node_kind(n) == "outfall"]
        self.outfall_names = outs
        self._out_cell = {}
        for n in outs:
            tgt = self.targets.get(n, OutfallTarget())
            if tgt.kind == "cell":
                x, y = tgt.xy
                i = int(math.floor((y - grid.transform.f) / grid.transform.e))
                j = int(math.floor((x - grid.transform.c) / grid.transform.a))
                if not (0 <= i < grid.shape[0] and 0 <= j < nx and ctx.active[i, j]):
                    raise InputDataError(f"{self.network.source}: outfall '{n}' discharges to ({x:.2f}, {y:.2f}), "
                                         "which is outside the DEM or on a building; give a point on open ground.")
                self._out_cell[n] = (i, j)
            elif tgt.kind not in ("outside", "level"):
                raise InputDataError(f"outfall '{n}': target kind {tgt.kind!r}; give 'outside', 'cell' or 'level'.")
        self._sealed = [n for n in self.network.node_names()
                        if n not in self.network.inlets and self.network.node_kind(n) != "outfall"]
        sealed_flat = np.array([self.cells[n] for n in self._sealed], np.int64)
        self._si, self._sj = sealed_flat // nx, sealed_flat % nx
        self._touched = np.unique(np.concatenate([flat, sealed_flat, np.array(
            [i * nx + j for i, j in self._out_cell.values()], np.int64)]))
        # series
        self.series_t, self.series_nodes, self.series_links = [], [], []
        self._next_record = 0.0
        self._q_in = np.zeros(m)
        self._q_out = np.zeros(m)
        # SWMM starts here, so that the water the network holds at the start (initial depths of storage
        # units and junctions) is part of the run's initial volume
        self._start()
        self._held = self.engine.stored_volume()
        self.initial_volume = self._held
        self._record(self._t0)
        self._next_record = self._t0 + self.record_step_s

    def fingerprint_items(self) -> dict:
        """What the run's results depend on (for checkpoint fingerprints, :mod:`floodsim.run.checkpoint`):
        the network as .inp text, node positions, inlets, outfall targets and the coupling settings; not
        the working folder or the engine's handles."""
        targets = {n: (t.kind, t.xy, repr(getattr(t.level, "values", t.level)), repr(getattr(t.level, "times", None)))
                   for n, t in sorted(self.targets.items())}
        return {"inp": self.network.inp.to_string(), "xy": {k: tuple(v) for k, v in sorted(self.network.xy.items())},
                "inlets": {k: (v.area_m2, v.length_m, v.capacity_m3_s) for k, v in sorted(self.network.inlets.items())},
                "targets": targets, "step_s": self.step_s, "cw": self.cw, "co": self.co,
                "duration_s": self.duration_s, "rim_tolerance_m": self.rim_tolerance_m,
                "record_step_s": self.record_step_s}

    def touched_cells(self) -> np.ndarray:
        return self._touched

    def next_change(self, t: float) -> float:
        k = math.floor((t - self._t0) / self.step_s + 1e-9) + 1
        return self._t0 + k * self.step_s

    @property
    def stored_volume(self) -> float:
        return self._held

    # ---------------------------------------------------------------- the engine
    def _start(self, start_offset_s: float = 0.0, hotstart=None) -> None:
        from .engine import SwmmEngine

        if self._folder_arg is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="floodsim-sewer-")
            folder = Path(self._tmp.name)
        else:
            folder = Path(self._folder_arg)
        self.engine = e = SwmmEngine(self.network, folder, self.duration_s - start_offset_s, self.step_s,
                                     coupled=self.coupled, start_offset_s=start_offset_s, hotstart=hotstart)
        self._nodes = np.array([e.node_index[n] for n in self.coupled], np.int64)
        self._sealed_idx = np.array([e.node_index[n] for n in self._sealed], np.int64)
        self._outs = np.array([e.node_index[n] for n in self.outfall_names], np.int64)
        self._all_nodes = np.array([e.node_index[n] for n in self.network.node_names()], np.int64)
        self._all_links = np.array([e.link_index[n] for n in self.network.link_names()], np.int64)
        self._full = np.array([e.link_full_flow(k) if self.network.link_kind(n) == "conduit" else np.nan
                               for n, k in zip(self.network.link_names(), self._all_links)])
        # the links at each coupled node, signed so that a positive flow enters the node: what the pipes
        # bring is what a surcharged node can give up to the surface in one step
        pos = {n: k for k, n in enumerate(self.coupled)}
        at = [(pos[end], e.link_index[ln], 1.0 if end == self.network.link_nodes(ln)[1] else -1.0)
              for ln in self.network.link_names() for end in self.network.link_nodes(ln) if end in pos]
        self._at_node = np.array([x[0] for x in at], np.int64)
        self._at_link = np.array([x[1] for x in at], np.int64)
        self._at_sign = np.array([x[2] for x in at], np.float64)
        self._buf_at = np.zeros(len(at))
        full = {k: f for k, f in zip(self._all_links, self._full)}
        self._q_full_at = np.bincount(self._at_node, weights=np.nan_to_num([full[k] for k in self._at_link]),
                                      minlength=len(self.coupled)) if at else np.zeros(len(self.coupled))
        self._buf_n = np.zeros(len(self.coupled))
        self._buf_s = np.zeros(len(self._sealed))
        self._buf_o = np.zeros(len(self.outfall_names))
        # the links at each outfall, signed so that a positive flow leaves the network there
        ends = [(k, e.link_index[ln], 1.0 if self.network.link_nodes(ln)[1] == n else -1.0)
                for k, n in enumerate(self.outfall_names) for ln in self.network.link_names()
                if n in self.network.link_nodes(ln)]
        self._out_of_link = np.array([x[0] for x in ends], np.int64)
        self._out_links = np.array([x[1] for x in ends], np.int64)
        self._out_sign = np.array([x[2] for x in ends], np.float64)
        self._buf_ol = np.zeros(len(ends))
        self._read_heads()

    def _read_heads(self) -> None:
        """Node heads for the next coupling step, and the water each node can give up over it: what it
        holds (the column over a junction's rim, a storage unit's water; SWMM takes a negative lateral
        inflow only from that)."""
        e = self.engine
        e.node_results(self._nodes, "HEAD", self._head)
        e.node_results(self._nodes, "VOLUME", self._avail)
        np.maximum(self._avail, 0.0, out=self._avail)

    def _couple(self, h) -> tuple[float, float]:
        """End the coupling step: SWMM takes the step's exchange and advances; returns (volume put on
        the surface, volume out of the model) by outfalls and overflow [m³]."""
        e, dt = self.engine, self.step_s
        t_now = self._t0 + (self._k + 1) * dt
        for n, k in zip(self.outfall_names, self._outs):
            tgt = self.targets.get(n)
            if tgt is not None and tgt.kind == "level":
                e.set_outfall_stage(k, tgt.level_at(t_now - 0.5 * dt))
        rates = self._vol / dt
        e.set_inflows(self._nodes, rates)
        self._q_in[:] = np.maximum(rates, 0.0)
        self._q_out[:] = np.maximum(-rates, 0.0)
        self._vol[:] = 0.0
        e.step()
        self._k += 1
        to_surface = left = 0.0
        e.link_results(self._out_links, "FLOW", self._buf_ol)
        np.multiply(self._buf_ol, self._out_sign, out=self._buf_ol)
        self._buf_o[:] = np.bincount(self._out_of_link, weights=self._buf_ol, minlength=len(self.outfall_names))
        for n, net in zip(self.outfall_names, self._buf_o):
            # net flow out of the network through the outfall's links (negative: the receiving water backs up)
            net = float(net)
            if n in self._out_cell:
                v = max(net, 0.0) * dt            # a free outfall onto a cell: no backflow
                i, j = self._out_cell[n]
                h[i, j] += v / self._area
                to_surface += v
            else:
                v = net * dt
                left += v
            self.volumes["outfall"] += v
        if self._sealed_idx.size:
            e.node_results(self._sealed_idx, "FLOOD", self._buf_s)
            flood = np.maximum(self._buf_s, 0.0) * dt
            if flood.any():
                v = add_on_cells(h=h, cell_i=self._si, cell_j=self._sj, volume=flood, cell_area=self._area)
                to_surface += v
                self.volumes["overflow"] += v
        self._read_heads()
        if t_now >= self._next_record - 1e-9:
            self._record(t_now)
            self._next_record = t_now + self.record_step_s
        return to_surface, left

    def apply(self, h: np.ndarray, t: float, dt: float) -> OperatorFlows:
        if self.engine is None:
            raise InputDataError(f"sewer network '{self.name}': the SWMM run has ended (its results were written); "
                                 "build a new model to run again.")
        to_surface = left = 0.0
        clock = time.perf_counter()
        while t >= self._t0 + (self._k + 1) * self.step_s - 1e-6:
            a, b = self._couple(h)
            to_surface += a
            left += b
            self.timing["steps"] += 1
        mid = time.perf_counter()
        vin, vout = exchange_step(h=h, z=self._z, cell_i=self._ci, cell_j=self._cj, node_head=self._head,
                                  length=self._length, area=self._oarea, qcap=self._qcap, cw=self.cw, co=self.co,
                                  avail=self._avail, dt=dt, g=self._g, cell_area=self._area, volume=self._vol)
        self.timing["swmm_s"] += mid - clock
        self.timing["exchange_s"] += time.perf_counter() - mid
        to_surface += vout
        self.volumes["surcharge"] += vout
        self.volumes["from_surface"] += vin
        self.volumes["to_surface"] += to_surface
        self.volumes["left_domain"] += left
        self._held += vin - to_surface - left
        return OperatorFlows(from_surface=vin, to_surface=to_surface, left_domain=left)

    # ---------------------------------------------------------------- results
    def _record(self, t: float) -> None:
        e = self.engine
        nn, nl = self._all_nodes.size, self._all_links.size
        depth, head, flood = np.zeros(nn), np.zeros(nn), np.zeros(nn)
        e.node_results(self._all_nodes, "DEPTH", depth)
        e.node_results(self._all_nodes, "HEAD", head)
        e.node_results(self._all_nodes, "FLOOD", flood)
        inflow = np.zeros(nn)
        pos = {n: k for k, n in enumerate(self.network.node_names())}
        for k, n in enumerate(self.coupled):
            inflow[pos[n]] = self._q_in[k]
            flood[pos[n]] += self._q_out[k]
        flow = np.zeros(nl)
        e.link_results(self._all_links, "FLOW", flow)
        with np.errstate(invalid="ignore", divide="ignore"):
            used = np.abs(flow) / self._full
        self.series_t.append(float(t))
        self.series_nodes.append(np.stack([depth, head, flood, inflow]))
        self.series_links.append(np.stack([flow, used]))

    def network_variables(self) -> tuple[dict, dict, dict]:
        """``(data_vars, coords, attrs)`` for results.nc (:func:`floodsim.sewer.results.network_variables`);
        ends and closes the SWMM run (the recorder calls it once, at the end)."""
        from .results import network_variables

        try:
            return network_variables(self)
        finally:
            self.close()

    def network_volume(self) -> float:
        """Water SWMM holds now [m³] (nodes + links); 0 before the first step."""
        return 0.0 if self.engine is None else self.engine.stored_volume()

    def report(self) -> dict:
        """The combined balance [m³] and the network's continuity: ledger volumes, the water SWMM holds,
        their difference, and SWMM's own flow-routing continuity error [%] (ends the SWMM run)."""
        swmm_volume = self.network_volume()
        in_transit = float(self._vol.sum())   # exchanged in the current coupling step, not yet given to SWMM
        out = {k: float(v) for k, v in self.volumes.items()}
        out.update(held_m3=float(self._held), initial_m3=float(self.initial_volume), network_volume_m3=swmm_volume, in_transit_m3=in_transit,
                   coupling_step_s=self.step_s, coupled_nodes=len(self.coupled))
        err = swmm_volume + in_transit - self._held
        scale = max(self.volumes["from_surface"] + self.initial_volume, 1e-300)
        out.update(network_continuity_error_m3=err, network_continuity_error_pct=100.0 * err / scale)
        if self.engine is not None:
            out.update(self.engine.finish())
            out["ignored_sections"] = list(self.engine.ignored)
        return out

    def close(self) -> None:
        """End SWMM and release the process's engine and the working folder (safe to call twice)."""
        if self.engine is not None:
            self.engine.close()
            self.engine = None
        tmp = getattr(self, "_tmp", None)
        if tmp is not None:
            tmp.cleanup()
            self._tmp = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    # ---------------------------------------------------------------- checkpoints (SWMM hotstart)
    def get_state(self) -> dict:
        """Ledger, the current coupling step's exchange, the series, and SWMM's state as the bytes of a
        hotstart file (node depths, link flows and depths, settings) at the last coupling time."""
        state = {"held": float(self._held), "initial": float(self.initial_volume), "ledger": dict(self.volumes), "k": int(self._k), "t0": float(self._t0),
                 "vol": self._vol.copy(), "q_in": self._q_in.copy(), "q_out": self._q_out.copy(),
                 "next_record": float(self._next_record), "series_t": list(self.series_t),
                 "series_nodes": np.array(self.series_nodes), "series_links": np.array(self.series_links),
                 "hotstart": np.zeros(0, np.uint8)}
        if self.engine is not None:
            path = Path(self.engine.folder) / "checkpoint.hsf"
            self.engine.save_hotstart(path)
            state["hotstart"] = np.frombuffer(path.read_bytes(), np.uint8).copy()
        return state

    def set_state(self, state: dict) -> None:
        """Restart SWMM at the saved coupling time from the saved hotstart file. "Correctly" here means:
        the resumed node heads and link flows equal SWMM's state at that time (what the hotstart file
        holds), and the ledger continues, so the 2-D balance closes as in an uninterrupted run; SWMM's
        internal history (its previous-step flows) restarts, so later values match an uninterrupted
        run to SWMM's precision, not bit for bit."""
        self.close()
        self._held = float(state["held"])
        self.initial_volume = float(state["initial"])
        self.volumes.update({k: float(v) for k, v in state["ledger"].items()})
        self._vol[:] = state["vol"]
        self._q_in[:] = state["q_in"]
        self._q_out[:] = state["q_out"]
        self._next_record = float(state["next_record"])
        self.series_t = [float(t) for t in state["series_t"]]
        self.series_nodes = [np.array(r) for r in np.asarray(state["series_nodes"])]
        self.series_links = [np.array(r) for r in np.asarray(state["series_links"])]
        hot = np.asarray(state["hotstart"], np.uint8)
        k, t0 = int(state["k"]), float(state["t0"])
        if hot.size == 0:
            self.engine, self._k, self._t0 = None, k, t0
            return
        offset = t0 + k * self.step_s
        self._tmp_hot = tempfile.NamedTemporaryFile(suffix=".hsf", delete=False)
        self._tmp_hot.write(hot.tobytes())
        self._tmp_hot.close()
        self._start(start_offset_s=offset, hotstart=self._tmp_hot.name)
        self._t0, self._k = offset, 0

