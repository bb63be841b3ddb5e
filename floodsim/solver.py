"""The time loop: a :class:`Simulation` advances water over a :class:`~floodsim.grid.Grid`.

One step (all kernels in :mod:`floodsim.kernels`, arrays and floats only):

1. ``dt`` from the Courant condition of the local-inertial scheme, ``dt = cfl * min(dx, dy) /
   sqrt(g h_max)`` (Bates et al. 2010 eq. 12; advection is neglected by the scheme, so the flow speed
   does not enter), capped at ``dt_max`` and shortened to land on output times and forcing changes.
2. Boundary fluxes (free outflow, critical, water level).
3. One fused sweep over the bands of rows that are wet or next to wet ones: face fluxes
   (local-inertial, in place) and, right behind them, the depth update from the flux divergence,
   rain and infiltration with the running max depth/speed (:mod:`floodsim.kernels.sweep`); then the
   first row of each band and the bands that only receive rain.
5. Conservative repair of any negative depth (rare; scales outflows, keeps volume exact).
6. Inflows and roof rain routed to the ground.
7. Measures acting during the run (:mod:`floodsim.operators`: inlets, tanks, tunnels, gates).
8. Volume accounting for every term (:mod:`floodsim.massbalance`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Callable, Iterable

import numpy as np
from scipy import ndimage

from .boundaries import Boundary, BoundaryFaces, Inflow
from .errors import InputDataError, StabilityError
from .forcing import Hyetograph, RainfallRaster
from .grid import Grid
from .kernels.boundary import apply_boundary_fluxes
from .kernels.continuity import record_max_state
from .kernels.inertial import WORK_ROWS, snapshot_band_edges
from .kernels.positivity import repair_negative_depths
from .kernels.sources import add_depth, mark_wet_bands, route_roof_rain
from .kernels.sweep import finish_bands, sweep_bands
from .massbalance import VolumeBalance
from .operators import Operator


class RoofRain(StrEnum):
    """What happens to rain falling on a building footprint."""

    GROUND = "ground"  # runs off to the nearest ground cell (downpipes discharge at the wall)
    DRAIN = "drain"    # leaves through the piped system; reported as 'roof_drainage'


@dataclass(frozen=True)
class SolverParams:
    """Numerical settings (SI). Defaults follow Bates et al. (2010) and de Almeida et al. (2012).

    Parameters
    ----------
    cfl : float
        Courant number α in ``dt = α min(dx,dy) / sqrt(g h_max)``; 0.7 is the usual maximum.
    theta : float
        de Almeida θ-weighting; 1 is the original Bates et al. scheme, 0.7–0.9 damps oscillations.
    hmin : float
        Depth [m] below which a face carries no flow and a cell counts as dry.
    dt_max : float
        Largest time step [s] (the first steps on a dry grid would otherwise be absurd).
    dt_min : float
        A step shorter than this [s] stops the run with a diagnosis (:class:`StabilityError`).
    g : float
        Gravitational acceleration [m/s²].
    band_rows : int
        Rows per band, the unit of parallel work and of skipping dry areas.
    """

    cfl: float = 0.7
    theta: float = 0.8
    hmin: float = 0.001
    dt_max: float = 5.0
    dt_min: float = 1e-4
    g: float = 9.80665
    band_rows: int = 16

    def __post_init__(self):
        checks = {"cfl": 0 < self.cfl <= 1, "theta": 0 <= self.theta <= 1, "hmin": self.hmin > 0,
                  "dt_max": self.dt_max > 0, "dt_min": 0 < self.dt_min < self.dt_max, "g": self.g > 0,
                  "band_rows": self.band_rows >= 1}
        for name, ok in checks.items():
            if not ok:
                raise InputDataError(f"solver parameter {name}={getattr(self, name)} is out of range.")


@dataclass(eq=False)
class State:
    """Every array the time loop touches, allocated once. Arrays are float64 unless stated."""

    h: np.ndarray                 # depth [m] (ny, nx)
    qx: np.ndarray                # [m²/s] (ny, nx+1), positive east
    qy: np.ndarray                # [m²/s] (ny+1, nx), positive south
    h_max: np.ndarray             # float32 [m]
    v2_max: np.ndarray            # float32, maximum squared speed [m²/s²]
    t_hmax: np.ndarray            # float32 [s]
    infil_F: np.ndarray           # cumulative infiltration [m] ((1,1) when no infiltration)
    t: float = 0.0                # [s]
    steps: int = 0

    @classmethod
    def allocate(cls, shape, infiltration: bool) -> "State":
        ny, nx = shape
        return cls(h=np.zeros(shape), qx=np.zeros((ny, nx + 1)), qy=np.zeros((ny + 1, nx)),
                   h_max=np.zeros(shape, np.float32), v2_max=np.zeros(shape, np.float32),
                   t_hmax=np.full(shape, np.nan, np.float32),
                   infil_F=np.zeros(shape if infiltration else (1, 1)))


@dataclass(eq=False)
class _BandWork:
    """Per-band scratch and reductions."""

    start: np.ndarray
    edge_above: np.ndarray
    edge_below: np.ndarray
    rows: np.ndarray
    wet: np.ndarray
    wave: np.ndarray
    infil: np.ndarray
    negative: np.ndarray
    always: np.ndarray
    need_prev: np.ndarray
    stack: np.ndarray          # scratch of the positivity repair
    touched: np.ndarray
    visits: np.ndarray

    @classmethod
    def allocate(cls, shape, band_rows):
        ny, nx = shape
        start = np.append(np.arange(0, ny, band_rows), ny).astype(np.int64)
        nb = start.size - 1
        return cls(start, np.zeros((nb, nx)), np.zeros((nb, nx)), np.zeros((nb, WORK_ROWS, nx + 1)),
                   np.zeros(nb, np.uint8), np.zeros(nb), np.zeros(nb), np.zeros(nb, np.int64),
                   np.zeros(nb, bool), np.ones(nb, bool), np.zeros(ny * nx + 8, np.int32),
                   np.zeros(ny * nx + 8, np.int32), np.zeros(ny * nx, np.uint8))

    def band_of_rows(self, rows):
        return np.searchsorted(self.start, rows, side="right") - 1


def _nearest_ground(blocked: np.ndarray, active_ground: np.ndarray):
    """Flat (roof cell, nearest active ground cell) index pairs, by Euclidean distance transform."""
    if not blocked.any():
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if not active_ground.any():
        raise InputDataError("buildings cover every cell of the DEM; nothing is left for water to flow on.")
    _, (ii, jj) = ndimage.distance_transform_edt(~active_ground, return_indices=True)
    src = np.flatnonzero(blocked)
    nx = blocked.shape[1]
    dst = ii.ravel()[src] * nx + jj.ravel()[src]
    return src.astype(np.int64), dst.astype(np.int64)


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
        :mod:`floodsim.operators`. Their storage is part of the volume balance.
    initial_depth : float or (ny, nx) array
        Water depth at t = 0 [m].
    params : SolverParams
        Numerical settings.

    Examples
    --------
    >>> import numpy as np
    >>> from floodsim import Grid, Simulation, Hyetograph
    >>> grid = Grid.from_array(np.zeros((20, 20)), dx=1.0)
    >>> ds = Simulation(grid, rainfall=Hyetograph.block(60.0, 600.0)).run(600.0, output_interval=300.0)
    >>> round(float(ds["depth"].isel(time=-1).mean()), 4)   # 60 mm/h for 10 min = 10 mm
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
        self.rainfall = rainfall
        if isinstance(rainfall, RainfallRaster) and rainfall.intensity.shape[1:] != shape:
            raise InputDataError(f"rainfall raster frames are {rainfall.intensity.shape[1:]}, the grid is "
                                 f"{shape}; regrid with floodsim.io.raster.rainfall_from_dataarray.")
        self.roof_rain = RoofRain(roof_rain)

        blocked = np.zeros(shape, bool) if blocked is None else np.asarray(blocked, bool)
        if blocked.shape != shape:
            raise InputDataError(f"blocked (buildings) mask shape {blocked.shape} != grid {shape}.")
        self.blocked = blocked & grid.valid
        self.active = (grid.valid & ~blocked).astype(np.uint8)
        self.z = np.where(grid.valid, grid.z, 0.0)

        m = np.asarray(manning, dtype=np.float64)
        if m.ndim == 0:
            m = m.reshape(1, 1)
        elif m.shape != shape:
            raise InputDataError(f"Manning's n raster shape {m.shape} != grid {shape}.")
        check = m if m.size == 1 else m[grid.valid]
        if not np.all(np.isfinite(check)) or np.any(check <= 0):
            raise InputDataError("Manning's n must be finite and > 0 on every DEM cell.")
        self.manning = np.ascontiguousarray(np.where(np.isfinite(m), m, 1.0) if m.size > 1 else m)

        if infiltration is None:
            self._infil = (0, np.zeros((1, 1)), np.zeros((1, 1)), np.zeros((1, 1)))
        else:
            from .infiltration import with_impervious
            imp = None if impervious is None else np.asarray(impervious, bool)
            self._infil = with_impervious(infiltration.kernel_arrays(shape), imp, shape)
        self.infiltration = infiltration

        self.boundaries = tuple(boundaries)
        self.faces = BoundaryFaces.build(self.boundaries, self.active.astype(bool))
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

        self.roof_src, self.roof_dst = _nearest_ground(self.blocked, self.active.astype(bool))
        self.roof_dst_cells = np.unique(self.roof_dst)
        self._n_rain_cells = int(self.active.sum()) + self.roof_src.size
        self.state = State.allocate(shape, infiltration is not None)
        h0 = np.broadcast_to(np.asarray(initial_depth, dtype=np.float64), shape)
        if np.any(~np.isfinite(h0[grid.valid])) or np.any(h0 < 0):
            raise InputDataError("initial depth must be finite and >= 0.")
        self.state.h[:] = np.where(self.active.astype(bool), h0, 0.0)
        self.bands = _BandWork.allocate(shape, params.band_rows)
        self.operators = tuple(operators)
        for op in self.operators:
            op.bind(self)
        self._operator_cells = [np.asarray(op.touched_cells(), np.int64) for op in self.operators]
        self._mark_always_active()
        self.balance = VolumeBalance(initial=self.stored_volume() + self.measures_volume())
        self._prime_band_flags()

    # ------------------------------------------------------------------ set-up helpers
    def _mark_always_active(self):
        """Bands that must be computed even when dry: water can enter them from outside."""
        rows = [self.faces.cell_i[self.faces.kind == 3]]
        rows += [c // self.grid.shape[1] for c in self._inflow_cells]
        rows += [np.asarray(op.active_cells(), np.int64) // self.grid.shape[1] for op in self.operators]
        rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        if rows.size:
            self.bands.always[np.unique(self.bands.band_of_rows(rows))] = True

    def _prime_band_flags(self):
        h = self.state.h
        for b in range(self.bands.start.size - 1):
            sl = slice(self.bands.start[b], self.bands.start[b + 1])
            hb = h[sl]
            self.bands.wet[b] = np.any(hb > self.params.hmin)
            self.bands.wave[b] = np.sqrt(self.params.g * hb.max()) if hb.max() > self.params.hmin else 0.0

    # ------------------------------------------------------------------ queries
    def stored_volume(self) -> float:
        """Water on the surface now [m³]."""
        return float(self.state.h.sum()) * self.grid.cell_area

    def measures_volume(self) -> float:
        """Water held by the measures (operators) now [m³]."""
        return float(sum(op.stored_volume for op in self.operators))

    def total_volume(self) -> float:
        """Water in the model now: surface plus measures [m³] (what the balance closes on)."""
        return self.stored_volume() + self.measures_volume()

    @property
    def t(self) -> float:
        return self.state.t

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
            self._frame_volume = (k, float(frame[rain_cells].sum()) * area,
                                  float(frame.ravel()[self.roof_src].sum()) * area)
        return 0.0, frame, self._frame_volume[1]

    def _roof_volume_rate(self, rate, field_):
        if self.roof_src.size == 0:
            return 0.0
        if field_.size == 1:
            return rate * self.roof_src.size * self.grid.cell_area
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
        """Largest stable step for the current state [s], capped at ``dt_max``."""
        p = self.params
        wave = float(self.bands.wave.max())
        if not math.isfinite(wave):
            raise StabilityError(self._diagnose("the wave speed is not finite (NaN depth or discharge)"))
        if wave <= 0.0:
            return p.dt_max
        return min(p.dt_max, p.cfl * min(self.grid.dx, self.grid.dy) / wave)

    def step(self, t_limit: float = np.inf) -> float:
        """Advance one step, never past ``t_limit`` [s]; return the step length [s]."""
        p, s, bw, grid = self.params, self.state, self.bands, self.grid
        t = s.t
        dt_cfl = self.courant_dt()
        dt = min(dt_cfl, t_limit - t, self._next_event(t) - t)
        if dt_cfl < p.dt_min:
            raise StabilityError(self._diagnose(f"the time step fell to {dt_cfl:.3g} s (< dt_min "
                                                f"{p.dt_min} s)"))
        if dt <= 0:
            raise StabilityError(f"no time left to step at t = {t} s (limit {t_limit} s).")

        wet = bw.wet.astype(bool)
        need = wet | bw.always
        need[1:] |= wet[:-1]
        need[:-1] |= wet[1:]
        computed = need | bw.need_prev
        bw.need_prev = need
        bands = np.flatnonzero(computed).astype(np.int64)

        rate, field_, rain_volume_rate = self._rain_now(t)
        self.faces.set_time(t + 0.5 * dt)
        z, h, qx, qy, dx, dy = self.z, s.h, s.qx, s.qy, grid.dx, grid.dy
        model, p1, p2, p3 = self._infil
        vol_out, vol_in = apply_boundary_fluxes(
            z, h, self.manning, qx, qy, self.faces.cell_i, self.faces.cell_j, self.faces.side,
            self.faces.kind, self.faces.slope, self.faces.level, dt, dx, dy, p.g, p.hmin)
        snapshot_band_edges(qy, bw.start, bw.edge_above, bw.edge_below)
        if bands.size:
            sweep_bands(z, h, self.active, self.manning, qx, qy, bands, bw.start, bw.edge_above,
                        bw.edge_below, bw.rows, dt, dx, dy, p.g, p.theta, p.hmin,
                        rate, field_, model, s.infil_F, p1, p2, p3, t,
                        s.h_max, s.v2_max, s.t_hmax, bw.wet, bw.wave, bw.infil, bw.negative)
        # a band that was not swept takes its flux divergence if the band above (which writes their
        # shared face) was swept
        with_flux = np.zeros_like(computed)
        with_flux[1:] = computed[:-1]
        finish_bands(h, qx, qy, self.active, bw.start, computed.astype(np.uint8), with_flux.astype(np.uint8),
                     bw.edge_above,
                     rate, field_, model, s.infil_F, p1, p2, p3, dt, dx, dy, t, p.g, p.hmin,
                     s.h_max, s.v2_max, s.t_hmax, bw.wet, bw.wave, bw.infil, bw.negative, bw.rows)
        infiltrated = float(bw.infil.sum()) * grid.cell_area
        if bw.negative.any():
            removed, given_back = repair_negative_depths(h, qx, qy, self.active, s.infil_F, bw.start,
                                                         bw.negative, dt, dx, dy, REPAIR_TOLERANCE_M,
                                                         bw.stack, bw.touched, bw.visits)
            if removed < 0:
                raise StabilityError(self._diagnose("negative depths could not be repaired"))
            vol_out -= removed
            infiltrated -= given_back
        inflow_volume = 0.0
        for inflow, cells in zip(self.inflows, self._inflow_cells):
            volume = inflow.discharge.integral(t, t + dt)
            add_depth(h, cells, volume / (cells.size * grid.cell_area))
            mark_wet_bands(h, cells, p.band_rows, p.hmin, p.g, bw.wet, bw.wave)
            inflow_volume += volume
        roof_volume = self._roof_volume_rate(rate, field_) * dt
        if self.roof_rain == RoofRain.GROUND and self.roof_src.size and roof_volume > 0:
            route_roof_rain(h, self.roof_src, self.roof_dst, rate, field_, dt)
            mark_wet_bands(h, self.roof_dst_cells, p.band_rows, p.hmin, p.g, bw.wet, bw.wave)
        measure_out = 0.0
        for op, cells in zip(self.operators, self._operator_cells):
            held_before = op.stored_volume
            flows = op.apply(h, t, dt)
            change = op.stored_volume - held_before
            moved = flows.from_surface - flows.to_surface - flows.left_domain
            if abs(change - moved) > 1e-9 * max(1.0, abs(held_before), flows.from_surface, flows.to_surface):
                raise StabilityError(f"measure '{op.name}' does not account for its water at t = {t:.2f} s: "
                                     f"its storage changed by {change:.6g} m³ but it reported {moved:.6g} m³ "
                                     "(a bug in the measure).")
            measure_out += flows.left_domain
            if cells.size and flows.to_surface > 0:
                mark_wet_bands(h, cells, p.band_rows, p.hmin, p.g, bw.wet, bw.wave)
        self.balance.add_step(
            rain=rain_volume_rate * dt, inflow=inflow_volume, boundary_in=vol_in, boundary_out=vol_out,
            infiltration=infiltrated,
            roof_drainage=roof_volume if self.roof_rain == RoofRain.DRAIN else 0.0,
            measure_outflow=measure_out)
        s.t = t + dt
        s.steps += 1
        return dt

    def _diagnose(self, what: str) -> str:
        h = self.state.h
        bad = ~np.isfinite(h)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            where = f"first non-finite depth at cell (row {i}, col {j})"
        else:
            i, j = np.unravel_index(int(np.argmax(h)), h.shape)
            where = f"deepest cell (row {i}, col {j}) holds {h[i, j]:.3f} m"
        x, y = self.grid.x[j], self.grid.y[i]
        return (f"simulation stopped at t = {self.state.t:.2f} s after {self.state.steps} steps: {what}; "
                f"{where}, map point ({x:.1f}, {y:.1f}). Check the DEM there for spikes or pits, lower cfl, "
                "or raise hmin.")

    # ------------------------------------------------------------------ runs
    def advance_to(self, t_end: float) -> None:
        """Step until the simulation time reaches ``t_end`` [s] exactly."""
        while self.state.t < t_end - 1e-9:
            self.step(t_end)
        self.state.t = max(self.state.t, t_end)

    def run(self, duration: float, output_interval: float | None = None,
            progress: Callable[[float, float], None] | None = None):
        """Run for ``duration`` seconds and return the results as an :class:`xarray.Dataset`.

        Parameters
        ----------
        duration : float
            Simulated time [s].
        output_interval : float, optional
            Interval between depth snapshots [s]; default ``duration / 10``.
        progress : callable, optional
            Called as ``progress(t, duration)`` after every output time.
        """
        from .results import Recorder

        if not duration > 0:
            raise InputDataError(f"duration must be > 0 s, got {duration}.")
        interval = duration / 10.0 if output_interval is None else float(output_interval)
        if not interval > 0:
            raise InputDataError(f"output interval must be > 0 s, got {interval}.")
        recorder = Recorder(self)
        recorder.record()
        t0 = self.state.t
        times = np.arange(t0 + interval, t0 + duration + 1e-9 * duration, interval)
        if times.size == 0 or times[-1] < t0 + duration - 1e-9 * duration:
            times = np.append(times, t0 + duration)
        for t_out in times:
            self.advance_to(float(t_out))
            self.check_finite()
            recorder.record()
            if progress is not None:
                progress(self.state.t - t0, duration)
        return recorder.to_dataset()

    def record_maxima(self) -> None:
        """Fold the current state into the running maxima (steps fold in their start-of-step state;
        this adds the latest one, e.g. the final state of a run)."""
        s = self.state
        record_max_state(s.h, s.qx, s.qy, s.t, self.params.hmin, s.h_max, s.v2_max, s.t_hmax)

    def check_finite(self) -> None:
        """Raise :class:`StabilityError` if any depth is NaN or infinite."""
        if not np.isfinite(self.state.h).all():
            raise StabilityError(self._diagnose("a depth became NaN or infinite"))


_NO_FIELD = np.zeros((1, 1))

#: Negative depths shallower than this are round-off, set to zero by the positivity repair [m].
REPAIR_TOLERANCE_M = 1e-15
