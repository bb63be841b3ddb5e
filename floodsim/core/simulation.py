"""The time loop: a :class:`Simulation` advances water over a :class:`~floodsim.core.grid.Grid`.

One step (all kernels in :mod:`floodsim.kernels`, arrays and floats only):

1. ``dt`` from the Courant condition, ``dt = cfl * min(dx, dy) / (sqrt(g h_max) + u_max)``: Bates
   et al. (2010, eq. 12) with the largest flow speed added, and ``cfl`` 0.6 by default. Their form
   (no ``u_max``) at cfl 0.7 let the Merewether park pond, coarsened to 2 m cells and filled over
   its 1.2 m edge, oscillate to 80 m/s; and at cfl 0.7 (θ = 0.8) a still, 1.1 m deep pond kept a
   2Δx checkerboard of ±10 cm for hours, where 0.6 damps it to nothing
   (tests/validation/test_terrain_measures.py). Capped at ``dt_max`` and shortened to land on
   output times and forcing changes.
2. Boundary fluxes (free outflow, critical, water level).
3. One fused sweep over the bands of rows that are wet or next to wet ones: face fluxes
   (local-inertial, in place) and, right behind them, the depth update from the flux divergence,
   rain and infiltration with the running max depth/speed (:mod:`floodsim.kernels.fused`); then the
   first row of each band and the bands that only receive rain.
5. Conservative repair of any negative depth (rare; scales outflows, keeps volume exact).
6. Inflows and roof rain routed to the ground.
7. Measures acting during the run (operators, :mod:`floodsim.core.operator`: inlets, tanks,
   tunnels, gates).
8. Volume accounting for every term (:mod:`floodsim.core.massbalance`).

The output loop (snapshots at output times, an xarray Dataset) is not here: see
:func:`floodsim.run.recorder.run_simulation`. Numerical settings are in :mod:`floodsim.core.params`,
the preallocated arrays in :mod:`floodsim.core.state`, diagnoses in :mod:`floodsim.core.diagnose`.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import numpy as np
from scipy import ndimage

from ..errors import InputDataError, MassBalanceError, StabilityError
from ..kernels.boundary import apply_boundary_fluxes
from ..kernels.continuity import record_max_state
from ..kernels.fused import finish_bands, sweep_bands
from ..kernels.inertial import snapshot_band_edges
from ..kernels.positivity import repair_negative_depths
from ..kernels.sources import add_depth, mark_wet_bands, route_roof_rain, route_uniform_roof_rain
from . import diagnose as _diag
from .boundaries import Boundary, BoundaryFaces
from .forcing import Hyetograph, RainfallRaster
from .grid import Grid
from .inflows import Inflow
from .massbalance import VolumeBalance
from .operator import BindContext, Operator
from .params import (
    MAX_OUTPUT_TIMES,
    NAN_CHECK_STEPS,
    REPAIR_SCRATCH_RELEASE_STEPS,
    REPAIR_TOLERANCE_M,
    RoofRain,
    SolverParams,
)
from .state import BandWork, State


def _solver_bed(grid: Grid, dtype) -> np.ndarray:
    """The bed [m] the kernels read: ``dtype``, 0 outside the model, read-only (nothing in the solver
    writes it, and numba compiles the kernels for read-only beds only). The grid's own array when it
    already is that (every cell valid, same dtype): a city-sized bed is not held twice."""
    if grid.z.dtype == dtype and bool(grid.valid.all()):
        return grid.z                      # (read-only: the Grid's)
    z = np.zeros(grid.shape, dtype)
    np.copyto(z, grid.z, where=grid.valid, casting="same_kind")   # (no full-size temporary)
    z.setflags(write=False)
    return z


def _nearest_ground(blocked: np.ndarray, active_ground: np.ndarray):
    """Flat (roof cell, nearest active ground cell) index pairs, by Euclidean distance transform."""
    if not blocked.any():
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if not active_ground.any():
        raise InputDataError("buildings cover every cell of the DEM; nothing is left for water to flow on.")
    ii, jj = ndimage.distance_transform_edt(~active_ground, return_distances=False, return_indices=True)
    src = np.flatnonzero(blocked).astype(np.int64)
    nx = blocked.shape[1]
    dst = ii.ravel()[src].astype(np.int64) * nx + jj.ravel()[src]
    return src, dst


class Simulation:
    """A 2-D local-inertial overland flow simulation on a regular grid.

    Parameters
    ----------
    grid : Grid
        Terrain. NaN cells (nodata) are outside the model.
    rainfall : Hyetograph, RainfallRaster or None
        Rain over the domain.
    manning : float or (ny, nx) array
        Manning's n [s m^-1/3].
    infiltration : GreenAmpt, Horton or None
        Infiltration model; ``impervious`` cells take nothing.
    impervious : (ny, nx) bool array or None
        Sealed surfaces (roads, pavements).
    blocked : (ny, nx) bool array or None
        Cells under buildings: no flow through them; their rain goes where ``roof_rain`` says.
    roof_rain : RoofRain or str
        ``"ground"`` (default) or ``"drain"``.
    boundaries : iterable of Boundary
        Open edges; every other edge is a closed wall.
    inflows : iterable of Inflow
        Inflow hydrographs over sets of cells.
    operators : iterable of Operator
        Measures acting during the run (tanks, tunnels, pond outlets, gates); see
        :mod:`floodsim.core.operator`. Their storage is part of the volume balance.
    initial_depth : float or (ny, nx) array
        Water depth at t = 0 [m].
    params : SolverParams
        Numerical settings.

    Examples
    --------
    >>> import numpy as np
    >>> from floodsim import Grid, Simulation, Hyetograph
    >>> grid = Grid.from_array(np.zeros((20, 20)), dx=1.0)
    >>> sim = Simulation(grid, rainfall=Hyetograph.block(60.0, 600.0))
    >>> sim.advance_to(600.0)
    >>> round(float(sim.state.h.mean()), 4)   # 60 mm/h for 10 min = 10 mm
    0.01
    """

    def __init__(self, grid: Grid, *, rainfall: Hyetograph | RainfallRaster | None = None,
                 manning=0.03, infiltration=None, impervious=None, blocked=None,
                 roof_rain: RoofRain | str = RoofRain.GROUND, boundaries: Iterable[Boundary] = (),
                 inflows: Iterable[Inflow] = (), operators: Iterable[Operator] = (), initial_depth=0.0,
                 params: SolverParams = SolverParams()):
        self.grid = grid
        self.params = params
        shape = grid.shape
        if rainfall is not None and not isinstance(rainfall, (Hyetograph, RainfallRaster)):
            raise InputDataError(f"rainfall must be a Hyetograph, a RainfallRaster or None, not "
                                 f"{type(rainfall).__name__} ({str(rainfall)[:40]!r}); e.g. "
                                 "Hyetograph.block(intensity_mm_h, duration_s).")
        if not isinstance(params, SolverParams):
            raise InputDataError(f"params must be a SolverParams, not {type(params).__name__}.")
        self.rainfall = rainfall
        if isinstance(rainfall, RainfallRaster) and rainfall.intensity.shape[1:] != shape:
            raise InputDataError(f"rainfall raster frames are {rainfall.intensity.shape[1:]}, the grid is "
                                 f"{shape}; regrid with floodsim.io.raster.rainfall_from_dataarray.")
        self.roof_rain = RoofRain(roof_rain)

        blocked = np.zeros(shape, bool) if blocked is None else np.asarray(blocked, bool)
        if blocked.shape != shape:
            raise InputDataError(f"blocked (buildings) mask shape {blocked.shape} != grid {shape}.")
        self.active = (grid.valid & ~blocked).astype(np.uint8)
        del blocked   # (the mask is derived from active and the grid when asked for: one byte per cell less)
        dtype = params.dtype   # of the state arrays and of every per-cell input the kernels read
        self.z = _solver_bed(grid, dtype)

        m = np.asarray(manning, dtype=np.float64)
        if m.ndim == 0:
            m = m.reshape(1, 1)
        elif m.shape != shape:
            raise InputDataError(f"Manning's n raster shape {m.shape} != grid {shape}.")
        check = m if m.size == 1 else m[grid.valid]
        if not np.all(np.isfinite(check)) or np.any(check <= 0):
            raise InputDataError("Manning's n must be finite and > 0 on every DEM cell.")
        self.manning = np.ascontiguousarray(np.where(np.isfinite(m), m, 1.0) if m.size > 1 else m,
                                            dtype=dtype if m.size > 1 else np.float64)

        if infiltration is None:
            self._infil = (0, np.zeros((1, 1)), np.zeros((1, 1)), np.zeros((1, 1)))
        else:
            from .infiltration import with_impervious

            imp = None if impervious is None else np.asarray(impervious, bool)
            model_id, *params_ = with_impervious(infiltration.kernel_arrays(shape), imp, shape)
            self._infil = (model_id, *(np.ascontiguousarray(a, dtype=dtype if a.size > 1 else np.float64)
                                       for a in params_))
        self.infiltration = infiltration

        self.boundaries = tuple(boundaries)
        self.faces = BoundaryFaces.build(self.boundaries, self.active.astype(bool))
        # level-boundary faces and their cells' beds: the outside water's wave speed enters the Courant
        # condition (a sea flooding a dry grid would otherwise be stepped with dt_max)
        self._level_faces = np.flatnonzero(self.faces.kind == 3)
        self._level_bed = self.z[self.faces.cell_i[self._level_faces], self.faces.cell_j[self._level_faces]]
        self.inflows = tuple(inflows)
        self._inflow_cells = []
        for inflow in self.inflows:
            cells = np.asarray(inflow.cells, bool)
            if cells.shape != shape:
                raise InputDataError(f"inflow {inflow.name}: cells mask shape {cells.shape} != grid {shape}.")
            cells = cells & self.active.astype(bool)
            if not cells.any():
                raise InputDataError(f"inflow {inflow.name}: all its cells are outside the DEM or under "
                                     "buildings.")
            self._inflow_cells.append(np.flatnonzero(cells).astype(np.int64))

        src, dst = _nearest_ground(self.blocked, self.active.astype(bool))
        #: ground cells that take roof rain (flat indices, ascending) and the roof cells each takes
        self.roof_dst_cells, count = np.unique(dst, return_counts=True)
        self.roof_count = count.astype(np.int32)
        #: number of roof cells
        self.roof_cells = int(src.size)
        # the (roof, ground) pairs are kept only for rain that varies in space (two int64 per roof
        # cell: a quarter of a city's cells); uniform rain is routed with the counts
        self._roof_pairs = (src, dst) if isinstance(rainfall, RainfallRaster) else None
        del src, dst
        self._n_rain_cells = int(self.active.sum()) + self.roof_cells
        self.state = State.allocate(shape, infiltration is not None, dtype)
        h0 = np.asarray(initial_depth, dtype=np.float64)
        check = h0 if h0.ndim == 0 else np.broadcast_to(h0, shape)[grid.valid]
        if not np.all(np.isfinite(check)) or np.any(check < 0):
            raise InputDataError("initial depth must be finite and >= 0.")
        if h0.ndim or h0 != 0.0:   # (zero: the allocated depths are already; no full-size temporary)
            np.copyto(self.state.h, np.broadcast_to(h0, shape), where=self.active.astype(bool),
                      casting="unsafe")
        self.bands = BandWork.allocate(shape, params.band_rows, dtype)
        self.operators = tuple(operators)
        context = BindContext(grid=grid, z=self.z, active=self.active, g=params.g, hmin=params.hmin)
        for op in self.operators:
            op.bind(context)
        self._operator_cells = [np.asarray(op.touched_cells(), np.int64) for op in self.operators]
        self._mark_always_active()
        self.balance = VolumeBalance(initial=self.stored_volume() + self.measures_volume())
        self.bands.prime(self.state.h, params.hmin, params.g)
        self._short_steps = 0   # consecutive Courant steps below dt_min (stall detection)
        self._ended = False     # end_run() was called: readable, no longer steppable
        self._repaired = False  # the positivity repair wrote its scratch since it was last given back
        self._device = None     # the GPU stepper for backend "cuda" (numba.cuda is imported only then)
        if params.backend == "cuda":
            from .cuda_backend import CudaStepper

            self._device = CudaStepper(self)

    # ------------------------------------------------------------------ set-up helpers
    def _mark_always_active(self):
        """Bands that must be computed even when dry: water can enter them from outside."""
        nx = self.grid.shape[1]
        rows = [self.faces.cell_i[self.faces.kind == 3]]
        rows += [c // nx for c in self._inflow_cells]
        rows += [np.asarray(op.active_cells(), np.int64) // nx for op in self.operators]
        self.bands.mark_always(np.concatenate(rows))

    # ------------------------------------------------------------------ queries
    def stored_volume(self) -> float:
        """Water on the surface now [m³]."""
        return float(self.state.h.sum(dtype=np.float64)) * self.grid.cell_area

    def measures_volume(self) -> float:
        """Water held by the measures (operators) now [m³]."""
        return float(sum(op.stored_volume for op in self.operators))

    def total_volume(self) -> float:
        """Water in the model now: surface plus measures [m³] (what the balance closes on)."""
        return self.stored_volume() + self.measures_volume()

    @property
    def t(self) -> float:
        return self.state.t

    @property
    def blocked(self) -> np.ndarray:
        """Cells under buildings (bool (ny, nx), a new array): the model's cells that are not active."""
        return self.grid.valid & (self.active == 0)

    def _rain_now(self, t):
        """(uniform rate [m/s], field (ny,nx) or (1,1), rain volume rate [m³/s])."""
        area = self.grid.cell_area
        n_rain_cells = self._n_rain_cells
        r = self.rainfall
        if r is None:
            return 0.0, _NO_FIELD, 0.0
        if isinstance(r, Hyetograph):
            rate = r.rate(t)
            return rate, _NO_FIELD, rate * n_rain_cells * area
        k = r.frame_index(t)
        if k < 0:
            return 0.0, _NO_FIELD, 0.0
        frame = r.intensity[k]
        if not hasattr(self, "_frame_volume") or self._frame_volume[0] != k:
            rain_cells = self.active.astype(bool) | self.blocked
            roofs = self._roof_pairs[0] if self.roof_cells else np.zeros(0, np.int64)
            self._frame_volume = (k, float(frame[rain_cells].sum()) * area,
                                  float(frame.ravel()[roofs].sum()) * area)
        return 0.0, frame, self._frame_volume[1]

    def roof_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(roof cell, ground cell that takes its rain) flat-index pairs, int64, roofs in row-major order
        (computed again unless the rain varies in space)."""
        if self._roof_pairs is not None:
            return self._roof_pairs
        return _nearest_ground(self.blocked, self.active.astype(bool))

    def _roof_volume_rate(self, rate, field_):
        if self.roof_cells == 0:
            return 0.0
        if field_.size == 1:
            return rate * self.roof_cells * self.grid.cell_area
        return self._frame_volume[2]

    def _next_event(self, t):
        nxt = np.inf
        if self.rainfall is not None:
            nxt = min(nxt, self.rainfall.next_change(t))
        nxt = min(nxt, self.faces.next_change(t))
        for inflow in self.inflows:
            k = np.searchsorted(inflow.discharge.times, t, side="right")
            if k < inflow.discharge.times.size:
                nxt = min(nxt, float(inflow.discharge.times[k]))
        for op in self.operators:
            nxt = min(nxt, op.next_change(t))
        return nxt

    # ------------------------------------------------------------------ the step
    def courant_dt(self) -> float:
        """Largest stable step for the current state [s], capped at ``dt_max``.

        The speed is the largest band Courant speed, or the wave speed ``sqrt(g (level - z))`` of the
        water outside a level boundary if that is larger (it floods in over the step).
        """
        p = self.params
        wave = float(self.bands.wave.max())
        if self._level_faces.size:
            self.faces.set_time(self.state.t)
            head = float(np.max(self.faces.level[self._level_faces] - self._level_bed))
            if head > p.hmin:
                wave = max(wave, math.sqrt(p.g * head))
        if not math.isfinite(wave):
            raise StabilityError(self._diagnose("the wave speed is not finite (NaN depth or discharge)"))
        if wave <= 0.0:
            return p.dt_max
        return min(p.dt_max, p.cfl * min(self.grid.dx, self.grid.dy) / wave)

    def _step_length(self, t_limit: float) -> float:
        """The next step's length [s] from the current time: the Courant step, cut at ``t_limit`` and at
        the next forcing event. Counts Courant steps below ``dt_min`` and stops a run whose step collapsed
        (shared by the CPU step and the CUDA stepper)."""
        p, t = self.params, self.state.t
        dt_cfl = self.courant_dt()
        dt = min(dt_cfl, t_limit - t, self._next_event(t) - t)
        if dt_cfl < p.dt_min:
            self._short_steps += 1
            if self._short_steps >= p.stall_steps:
                raise StabilityError(self._diagnose(
                    f"the time step collapsed: {dt_cfl:.3g} s < dt_min {p.dt_min} s for "
                    f"{self._short_steps} consecutive step(s)", "deepest"))
        else:
            self._short_steps = 0
        if dt <= 0:
            raise StabilityError(f"no time left to step at t = {t} s (limit {t_limit} s).")
        return dt

    @staticmethod
    def _apply_operator(op, h, t: float, dt: float):
        """``op.apply(h, t, dt)`` with its accounting checked: the change of what it holds must equal what
        it took from the surface, minus what it gave back and what left the domain [m³]."""
        held_before = op.stored_volume
        flows = op.apply(h, t, dt)
        change = op.stored_volume - held_before
        moved = flows.from_surface - flows.to_surface - flows.left_domain
        if abs(change - moved) > 1e-9 * max(1.0, abs(held_before), flows.from_surface, flows.to_surface):
            raise StabilityError(f"measure '{op.name}' does not account for its water at t = {t:.2f} s: "
                                 f"its storage changed by {change:.6g} m³ but it reported {moved:.6g} m³ "
                                 "(a bug in the measure).")
        return flows

    def end_run(self) -> None:
        """The run is over: free what only stepping needs, before the results are written.

        The face discharges ``state.qx`` and ``state.qy`` (None afterwards) and the band scheduler's
        work arrays (``bands``, None) go: 8 B/cell in single precision and 16 in double, at the moment
        the results are written, and before a second model is built (the baseline of a scenario with
        measures). The depths, running maxima, infiltration, bed, masks, operators and volume balance
        stay: the simulation can still be read (``state``, :meth:`total_volume`,
        :meth:`check_plausible`), but no longer stepped, checkpointed or restored (those raise
        :class:`RuntimeError`). Calling it again does nothing. On the GPU backend the device keeps its
        arrays until the simulation is dropped.
        """
        if self._ended:
            return
        self._ended = True
        if self._device is None:
            self.state.qx = self.state.qy = None
            self.bands = None

    def _require_running(self, what: str) -> None:
        if self._ended:
            raise RuntimeError(f"cannot {what}: this simulation's run has ended (Simulation.end_run freed "
                               "its discharges); build a new Simulation to run again.")

    def step(self, t_limit: float = np.inf) -> float:
        """Advance one step, never past ``t_limit`` [s]; return the step length [s]."""
        self._require_running("step")
        if self._device is not None:
            return self._device.step(t_limit)
        p, s, bw, grid = self.params, self.state, self.bands, self.grid
        t = s.t
        dt = self._step_length(t_limit)

        computed = bw.select()
        bands = np.flatnonzero(computed).astype(np.int64)

        rate, field_, rain_volume_rate = self._rain_now(t)
        self.faces.set_time(t + 0.5 * dt)
        z, h, qx, qy, dx, dy = self.z, s.h, s.qx, s.qy, grid.dx, grid.dy
        model, p1, p2, p3 = self._infil
        f = self.faces
        vol_out, vol_in = apply_boundary_fluxes(
            z=z, h=h, manning=self.manning, qx=qx, qy=qy, cell_i=f.cell_i, cell_j=f.cell_j, side=f.side,
            kind=f.kind, slope=f.slope, level=f.level, dt=dt, dx=dx, dy=dy, g=p.g, hmin=p.hmin)
        snapshot_band_edges(qy=qy, band_start=bw.start, edge_above=bw.edge_above, edge_below=bw.edge_below)
        infil = dict(rain_rate=rate, rain_field=field_, infil_model=model, infil_F=s.infil_F, infil_p1=p1,
                     infil_p2=p2, infil_p3=p3)
        maxima = dict(h_max=s.h_max, v2_max=s.v2_max, t_hmax=s.t_hmax, band_wet=bw.wet, band_wave=bw.wave,
                      band_infil=bw.infil, band_round=bw.round, row_negative=bw.negative)
        if bands.size:
            sweep_bands(z=z, h=h, active=self.active, manning=self.manning, qx=qx, qy=qy, bands=bands,
                        band_start=bw.start, edge_above=bw.edge_above, edge_below=bw.edge_below, work=bw.rows,
                        rain_rows=bw.rain,
                        dt=dt, dx=dx, dy=dy, g=p.g, theta=p.theta, hmin=p.hmin, t_new=t + dt, **infil, **maxima)
        # a band that was not swept takes its flux divergence if the band above (which writes their
        # shared face) was swept
        with_flux = np.zeros_like(computed)
        with_flux[1:] = computed[:-1]
        finish_bands(h=h, qx=qx, qy=qy, active=self.active, band_start=bw.start,
                     swept=computed.astype(np.uint8), with_flux=with_flux.astype(np.uint8), dt=dt, dx=dx, dy=dy,
                     t_new=t + dt, g=p.g, hmin=p.hmin, rain_rows=bw.rain, **infil, **maxima)
        infiltrated = float(bw.infil.sum()) * grid.cell_area
        rounded = float(bw.round.sum())   # [m] of depth; 0.0 in double precision
        if bw.negative.any():
            removed, given_back, repair_rounding = repair_negative_depths(
                h=h, qx=qx, qy=qy, active=self.active, infil_F=s.infil_F, row_negative=bw.negative, dt=dt,
                dx=dx, dy=dy, tol=REPAIR_TOLERANCE_M, stack=bw.stack, touched=bw.touched, visits=bw.visits)
            self._repaired = True
            if removed < 0:
                raise StabilityError(self._diagnose("negative depths could not be repaired", "negative"))
            vol_out -= removed
            infiltrated -= given_back
            rounded += repair_rounding
        inflow_volume = 0.0
        for inflow, cells in zip(self.inflows, self._inflow_cells):
            volume = inflow.discharge.integral(t, t + dt)
            rounded += add_depth(h=h, cells=cells, depth=volume / (cells.size * grid.cell_area))
            self._mark_wet(cells)
            inflow_volume += volume
        roof_volume = self._roof_volume_rate(rate, field_) * dt
        if self.roof_rain == RoofRain.GROUND and self.roof_cells and roof_volume > 0:
            if field_.size == 1:
                rounded += route_uniform_roof_rain(h=h, cells=self.roof_dst_cells, roofs=self.roof_count,
                                                   rain_rate=rate, dt=dt)
            else:
                src, dst = self._roof_pairs
                rounded += route_roof_rain(h=h, roof_src=src, roof_dst=dst, rain_rate=rate, rain_field=field_,
                                           dt=dt)
            self._mark_wet(self.roof_dst_cells)
        measure_out = 0.0
        for op, cells in zip(self.operators, self._operator_cells):
            flows = self._apply_operator(op, h, t, dt)
            measure_out += flows.left_domain
            if cells.size and flows.to_surface > 0:
                self._mark_wet(cells)
        self.balance.add_step(
            rain=rain_volume_rate * dt, inflow=inflow_volume, boundary_in=vol_in, boundary_out=vol_out,
            infiltration=infiltrated,
            roof_drainage=roof_volume if self.roof_rain == RoofRain.DRAIN else 0.0,
            measure_outflow=measure_out, rounding=rounded * grid.cell_area)
        s.t = t + dt
        s.steps += 1
        if s.steps % NAN_CHECK_STEPS == 0 and not math.isfinite(float(h.sum(dtype=np.float64))):
            raise StabilityError(self._diagnose("a depth became NaN or infinite"))
        if self._repaired and s.steps % REPAIR_SCRATCH_RELEASE_STEPS == 0:
            bw.release_repair_scratch()
            self._repaired = False
        return dt

    def _mark_wet(self, cells) -> None:
        """Band flags after water was added to ``cells`` outside the sweep (inflows, roofs, measures)."""
        p, bw = self.params, self.bands
        mark_wet_bands(h=self.state.h, cells=cells, band_rows=p.band_rows, hmin=p.hmin, g=p.g,
                       band_wet=bw.wet, band_wave=bw.wave)

    def _diagnose(self, what: str, focus: str = "deepest") -> str:
        """One-line diagnosis of the current state (:func:`floodsim.core.diagnose.diagnose`)."""
        s = self.state
        return _diag.diagnose(what, h=s.h, qx=s.qx, qy=s.qy, active=self.active, x=self.grid.x, y=self.grid.y,
                              t=s.t, steps=s.steps, hmin=self.params.hmin, g=self.params.g, focus=focus)

    def cell_speed(self, i: int, j: int) -> float:
        """Flow speed of cell (i, j) as the Courant condition sees it [m/s]
        (:func:`floodsim.core.diagnose.cell_speed`)."""
        self._require_running("give a cell's speed")
        s = self.state
        return _diag.cell_speed(s.h, s.qx, s.qy, i, j, self.params.hmin)

    # ------------------------------------------------------------------ state (checkpoints)
    #: State arrays that a checkpoint saves (everything a step reads from the previous one).
    _STATE_ARRAYS = ("h", "qx", "qy", "h_max", "v2_max", "t_hmax", "infil_F")
    #: (Not the per-thread row buffers: scratch, nothing in them carries over. A checkpoint that still has
    #: them, ``rows``, written before they were per thread, loads: they are not read.)
    _BAND_ARRAYS = ("wet", "wave", "need_prev", "infil", "negative", "edge_above", "edge_below")

    def get_state(self) -> dict:
        """The full dynamic state as a tree of plain values and numpy arrays (copies).

        Enough to continue the run bit for bit (:mod:`floodsim.run.checkpoint`): time, step count, depths
        and face discharges, running maxima, cumulative infiltration, the band activity flags and
        buffers the next step reads, the volume balance accumulators and every operator's state.
        Forcing (rain, inflows, levels) is a function of time and needs no cursor.
        """
        self._require_running("save the state")
        if self._device is not None:
            return self._device.get_state()
        s, bw = self.state, self.bands
        return {
            "t": float(s.t), "steps": int(s.steps), "short_steps": int(self._short_steps),
            "arrays": {k: getattr(s, k).copy() for k in self._STATE_ARRAYS},
            "bands": {k: getattr(bw, k).copy() for k in self._BAND_ARRAYS},
            "balance": {k: float(v) for k, v in vars(self.balance).items()},
            "operators": [op.get_state() for op in self.operators],
        }

    def set_state(self, state: dict) -> None:
        """Restore a state from :meth:`get_state` (same grid and operators; arrays copied in place)."""
        self._require_running("restore a state")
        if self._device is not None:
            return self._device.set_state(state)
        _Err = InputDataError
        s, bw = self.state, self.bands
        for group, obj, names in (("arrays", s, self._STATE_ARRAYS), ("bands", bw, self._BAND_ARRAYS)):
            for k in names:
                dst, src = getattr(obj, k), np.asarray(state[group][k])
                if src.shape != dst.shape:
                    raise _Err(f"saved state '{k}' has shape {src.shape}, this model {dst.shape}: it was "
                               "saved for another grid.")
                np.copyto(dst, src, casting="no" if src.dtype == dst.dtype else "same_kind")
        if len(state["operators"]) != len(self.operators):
            raise _Err(f"saved state has {len(state['operators'])} operators (measures), this model "
                       f"{len(self.operators)}.")
        s.t = float(state["t"])
        s.steps = int(state["steps"])
        self._short_steps = int(state["short_steps"])
        for k, v in state["balance"].items():
            setattr(self.balance, k, float(v))
        for op, st in zip(self.operators, state["operators"]):
            op.set_state(st)
        if hasattr(self, "_frame_volume"):
            del self._frame_volume

    # ------------------------------------------------------------------ runs
    def advance_to(self, t_end: float, after_step: Callable[[], None] | None = None) -> None:
        """Step until the simulation time reaches ``t_end`` [s] exactly; ``after_step()`` is called
        after every step (e.g. to write a checkpoint, :mod:`floodsim.run.checkpoint`)."""
        while self.state.t < t_end - 1e-9:
            self.step(t_end)
            if after_step is not None:
                after_step()
        self.state.t = max(self.state.t, t_end)

    def output_times(self, t0: float, duration: float, output_interval: float | None) -> np.ndarray:
        """Output times [s] of a run of ``duration`` from ``t0`` (the last is ``t0 + duration``)."""
        if not isinstance(duration, (int, float, np.integer, np.floating)) or not 0 < duration < math.inf:
            raise InputDataError(f"duration must be a finite number of seconds > 0, got {duration!r}.")
        interval = duration / 10.0 if output_interval is None else output_interval
        if not isinstance(interval, (int, float, np.integer, np.floating)) or not 0 < interval < math.inf:
            raise InputDataError(f"output interval must be a finite number of seconds > 0, got {interval!r}.")
        interval = float(interval)
        if duration / interval > MAX_OUTPUT_TIMES:
            raise InputDataError(f"{duration / interval:,.0f} output times (duration {duration:g} s every "
                                 f"{interval:g} s); at most {MAX_OUTPUT_TIMES:,}: give a longer interval.")
        times = np.arange(t0 + interval, t0 + duration + 1e-9 * duration, interval)
        if times.size == 0 or times[-1] < t0 + duration - 1e-9 * duration:
            times = np.append(times, t0 + duration)
        return times

    def record_maxima(self) -> None:
        """Fold the current state into the running maxima. Each step folds in its state after the depth
        update; this adds the current one, with what measures, inflows and the positivity repair did
        after it (the recorder, :mod:`floodsim.run.recorder`, calls it at every output time, including the initial
        state)."""
        self._require_running("record the maxima")
        if self._device is not None:
            return self._device.record_maxima()
        s = self.state
        record_max_state(h=s.h, qx=s.qx, qy=s.qy, t=s.t, hmin=self.params.hmin, h_max=s.h_max, v2_max=s.v2_max,
                         t_hmax=s.t_hmax)

    def check_finite(self) -> None:
        """Raise :class:`StabilityError` if any depth is NaN, infinite or negative.

        From the smallest and largest depth (a NaN makes both NaN, an infinity is one of them): no
        full-size temporary (``isfinite(h)`` is a byte per cell, 24 MB at 25M cells, at every output
        time)."""
        h = self.state.h
        lo, hi = float(h.min()), float(h.max())
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise StabilityError(self._diagnose("a depth became NaN or infinite"))
        if lo < 0.0:
            raise StabilityError(self._diagnose("a depth became negative", "negative"))

    def check_plausible(self) -> None:
        """Enforce the run's physical claims (called at every output time; O(cells)).

        Raises
        ------
        StabilityError
            A depth above ``params.max_depth`` or a speed above ``params.max_speed`` (running maxima):
            beyond physical sense for overland flow (a lost nodata value, a far too large inflow).
        MassBalanceError
            The relative closure error of the volume balance exceeds
            ``params.max_relative_balance_error``.
        """
        p, s = self.params, self.state
        depth = float(s.h_max.max())
        speed = math.sqrt(float(s.v2_max.max()))
        for what, value, limit in (("depth", depth, p.max_depth), ("speed", speed, p.max_speed)):
            if not value <= limit:
                arr = s.h_max if what == "depth" else s.v2_max
                i, j = (int(v) for v in np.unravel_index(int(np.argmax(arr)), arr.shape))
                raise StabilityError(
                    f"simulation stopped at t = {s.t:.3f} s after {s.steps} steps: a {what} of {value:.4g} "
                    f"{'m' if what == 'depth' else 'm/s'} (limit {limit:g}) in cell (row {i}, col {j}), map point "
                    f"({self.grid.x[j]:.1f}, {self.grid.y[i]:.1f}) is beyond physical sense. Hint: check the DEM "
                    "there (an undeclared nodata value or a spike), and inflows or levels on few cells.")
        total = self.total_volume()
        rel = self.balance.relative_error(total)
        if not abs(rel) <= p.max_relative_balance_error:
            raise MassBalanceError(
                f"simulation stopped at t = {s.t:.3f} s after {s.steps} steps: the volume balance does not close: "
                f"error {self.balance.error(total):.4g} m³, relative {rel:.3g} (limit "
                f"{p.max_relative_balance_error:g}). Hint: this follows an instability or a measure that does not "
                "account for its water; check the DEM and inputs, or report it with the scenario.")
        rounding = self.balance.relative_rounding(total)
        if not abs(rounding) <= p.max_relative_rounding:
            raise MassBalanceError(
                f"simulation stopped at t = {s.t:.3f} s after {s.steps} steps: storing depths in float32 "
                f"(precision = \"single\") has {'added' if rounding > 0 else 'lost'} "
                f"{abs(self.balance.rounding):.4g} m³ by rounding, {abs(rounding):.3g} of the volume (limit "
                f"{p.max_relative_rounding:g}). Hint: run this scenario with [simulation] precision = \"double\".")


_NO_FIELD = np.zeros((1, 1))
