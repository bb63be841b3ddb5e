"""The device stepper: :class:`~floodsim.core.simulation.Simulation` steps on an NVIDIA GPU (numba-cuda).

``[simulation] backend = "cuda"`` (:class:`~floodsim.core.params.SolverParams` ``backend="cuda"``) makes
the simulation hand every step to a :class:`CudaStepper`. It runs the CPU step
(:meth:`Simulation.step <floodsim.core.simulation.Simulation.step>`) with the kernels of
:mod:`floodsim.kernels.cuda`:

1. the time step from the Courant speed of the previous step (a device reduction), with the CPU's
   rules (``dt_max``, output times, forcing changes, level boundaries, stall detection);
2. boundary fluxes, face fluxes of the swept bands (double-buffered), the depth update with rain,
   infiltration, running maxima and the per-row Courant speeds, reduced per block on the device;
3. the positivity repair, only in steps that left a negative depth: the CPU algorithm in one device
   thread, in the CPU's order (:mod:`floodsim.kernels.cuda.repair`);
4. inflows and roof rain on the device; measures (operators) on the host, with the depths copied out
   and back around them, only when the model has operators;
5. the volume balance on the host, from the few numbers the device reduced, including the rounding of
   single precision (below).

State stays on the device between steps. Each step sends one byte per band (its plan) and copies back
the per-block sums (boundary volumes, infiltration, Courant speed, negative depths) and one byte per
row and band (wet flags): a few kilobytes, whatever the grid. The full arrays leave the device only
when something reads them: :attr:`Simulation.state` becomes a :class:`DeviceState` whose arrays
are fetched on access (at output times: depth frames, maxima, checks) and are read-only, so a write
that the device would not see fails loudly. Checkpoints (get/set_state) are interchangeable with the
CPU backend's.

The device follows the CPU's schedule of bands of rows (which bands are swept, updated, left alone:
:meth:`~floodsim.core.state.BandWork.select` on the host, one byte per band sent each step, the wet
flags of the rows sent back); see :mod:`floodsim.kernels.cuda.step` for why sweeping every band would
not reproduce the CPU. In float64 the two backends agree to round-off (tests/cuda, under numba's CUDA
simulator).

Precision (``[simulation] precision``, :attr:`SolverParams.dtype <floodsim.core.params.SolverParams.dtype>`)
is the CPU's: for ``"single"`` the device holds what :class:`Simulation` allocates, the depth, discharges
and cumulative infiltration (:class:`~floodsim.core.state.State`), the bed ``Simulation.z`` and per-cell
Manning's n and infiltration parameters in float32 (uniform values stay float64 scalars), the maxima in
float32 as always. The face fluxes are computed in float32, the depth update and every volume in float64
from widened loads, the wet flags, Courant speeds and maxima in float32 from the stored values
(:mod:`floodsim.kernels.cuda.step`); the reductions and the balance are float64. The depth update and
the sources (inflows, roof rain) measure the rounding of every depth they store and reduce it per block;
:meth:`CudaStepper.step` adds it, times the cell area, to the balance's ``rounding`` term as
:meth:`Simulation.step` does, so ``check_plausible`` bounds it the same way. One addition: the device's
positivity repair ledgers the rounding of its own float32 stores too (:mod:`floodsim.kernels.cuda.repair`),
which the CPU's repair does not yet, so in steps with repairs the device's closure error stays at double
round-off where the CPU's single precision shows ~1e-9. Single precision agrees with the CPU's single
precision to float32 round-off, not to the last bit (tests/cuda/test_cuda_single.py: the two compute the
cube root of the friction term differently, and the compilers fuse different multiply-adds), and the
rounding terms of the two backends have the same magnitude.

Importing this module imports :mod:`numba.cuda`; :mod:`floodsim.core.simulation` imports it only for
``backend = "cuda"``. :func:`require_cuda` turns a missing package, driver or GPU into an
:class:`~floodsim.errors.InputDataError` (exit 2) that says what to do.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputDataError, StabilityError
from ..kernels.continuity import SPEED_DEPTH_FACTOR
from .params import NAN_CHECK_STEPS, REPAIR_TOLERANCE_M, RoofRain

#: Threads per block on a GPU (a power of two, at most floodsim.kernels.cuda.step.MAX_THREADS).
GPU_THREADS = 256
#: Blocks per streaming multiprocessor for the grid-stride kernels.
BLOCKS_PER_SM = 16

_FIX = ('set [simulation] backend = "cpu" (the default), or run on a machine with an NVIDIA GPU, its '
        'driver and `pip install "floodsim[cuda]"`')


def require_cuda():
    """Import and return :mod:`numba.cuda`, or raise :class:`InputDataError` saying why it cannot run.

    Under numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, for tests without a GPU) it is always
    available.
    """
    try:
        from numba import cuda
    except ImportError as exc:   # pragma: no cover - numba without its CUDA target
        raise InputDataError(f'[simulation] backend = "cuda": numba\'s CUDA target cannot be imported '
                             f"({exc}); {_FIX}.") from None
    if cuda.is_available():
        return cuda
    try:
        cuda.get_current_device()
        reason = "no usable CUDA GPU was found"
    except Exception as exc:   # the driver's own words (no driver library, no device, ...)
        reason = " ".join(str(exc).split()).rstrip(" :")[:300] or type(exc).__name__
    raise InputDataError(f'[simulation] backend = "cuda": no CUDA GPU or driver is available here '
                         f"(numba.cuda: {reason}); {_FIX}.")


def is_simulator() -> bool:
    """True when numba runs CUDA kernels in its Python simulator (``NUMBA_ENABLE_CUDASIM=1``)."""
    from numba import config

    return bool(config.ENABLE_CUDASIM)


class DeviceState:
    """:class:`~floodsim.core.state.State` of a simulation stepped on the device.

    ``t`` [s] and ``steps`` are plain attributes; the arrays (same names, shapes, dtypes and units as
    :class:`State`: ``h``, ``qx``, ``qy``, ``infil_F`` float64, or float32 for ``precision = "single"``;
    the maxima float32) are copied from the device when read after the device changed them, and are
    read-only (change the state through :meth:`Simulation.set_state`).
    """

    def __init__(self, stepper: "CudaStepper", t: float, steps: int):
        self._stepper = stepper
        self.t = t
        self.steps = steps

    h = property(lambda self: self._stepper.host("h"), doc="depth [m] (ny, nx)")
    qx = property(lambda self: self._stepper.host("qx"), doc="[m²/s] (ny, nx+1), positive east")
    qy = property(lambda self: self._stepper.host("qy"), doc="[m²/s] (ny+1, nx), positive south")
    h_max = property(lambda self: self._stepper.host("h_max"), doc="float32 [m]")
    v2_max = property(lambda self: self._stepper.host("v2_max"), doc="float32 maximum squared speed [m²/s²]")
    t_hmax = property(lambda self: self._stepper.host("t_hmax"), doc="float32 [s]")
    infil_F = property(lambda self: self._stepper.host("infil_F"), doc="cumulative infiltration [m]")


_STATE_ARRAYS = ("h", "qx", "qy", "h_max", "v2_max", "t_hmax", "infil_F")


class CudaStepper:
    """Steps a :class:`~floodsim.core.simulation.Simulation` on the device (see the module docstring).

    Parameters
    ----------
    sim : Simulation
        A fully built simulation; its state is copied to the device and ``sim.state`` replaced by a
        :class:`DeviceState`.
    threads, blocks : int, optional
        Launch configuration (threads per block, a power of two; largest number of blocks). Default:
        256 threads and 16 blocks per multiprocessor on a GPU, one thread in the simulator (where each
        simulated thread is a Python thread). Results do not depend on it.
    """

    def __init__(self, sim, threads: int | None = None, blocks: int | None = None):
        cuda = require_cuda()
        from ..kernels.cuda import repair as rk
        from ..kernels.cuda import step as sk

        self.cuda, self._sk, self._rk = cuda, sk, rk
        from numba import config as numba_config

        # small launches (boundary faces, source cells, the repair's one thread) are deliberate: no warning
        numba_config.CUDA_LOW_OCCUPANCY_WARNINGS = 0
        self.sim = sim
        simulator = is_simulator()
        if threads is None:
            threads = 1 if simulator else GPU_THREADS
        if blocks is None:
            blocks = 1 if simulator else BLOCKS_PER_SM * cuda.get_current_device().MULTIPROCESSOR_COUNT
        if threads < 1 or threads > sk.MAX_THREADS or threads & (threads - 1):
            raise InputDataError(f"CUDA threads per block must be a power of two from 1 to {sk.MAX_THREADS}, "
                                 f"got {threads}.")
        self.threads, self.max_blocks = int(threads), max(1, int(blocks))
        s, p = sim.state, sim.params
        ny, nx = sim.grid.shape
        self.shape = (ny, nx)
        self.h_speed = SPEED_DEPTH_FACTOR * p.hmin
        to = cuda.to_device
        # constant inputs, in the host's dtypes: the bed and a per-cell Manning's n in the state's dtype
        # (float32 for precision = "single", as Simulation stores them), a uniform n as a float64 (1, 1)
        self.dtype = np.dtype(s.h.dtype)
        self.single = bool(self.dtype == np.float32)
        self.face_fluxes = sk.face_fluxes_for(self.dtype)
        self.update_depth = sk.update_depth_for(self.dtype)
        self.record_max_state = sk.record_max_state_for(self.dtype)
        self.z, self.active, self.manning = to(np.ascontiguousarray(sim.z)), to(sim.active), \
            to(np.ascontiguousarray(sim.manning))
        model, p1, p2, p3 = sim._infil
        self.infil_model = int(model)
        self.p1, self.p2, self.p3 = (to(np.ascontiguousarray(a)) for a in (p1, p2, p3))
        f = sim.faces
        self.n_faces = int(f.cell_i.size)
        self.faces = tuple(to(np.ascontiguousarray(a)) for a in (f.cell_i, f.cell_j, f.side, f.kind, f.slope))
        self.level = to(f.level)
        self.inflow_cells = [to(c) for c in sim._inflow_cells]
        # roof rain grouped by receiving cell, each group in the CPU's order (a stable sort)
        roof_src, roof_dst = sim.roof_pairs()
        order = np.argsort(roof_dst, kind="stable")
        dst_sorted = roof_dst[order]
        self.roof_dst, first = np.unique(dst_sorted, return_index=True)
        self.d_roof_dst = to(np.ascontiguousarray(self.roof_dst, np.int64))
        self.d_roof_start = to(np.append(first, dst_sorted.size).astype(np.int64))
        self.d_roof_src = to(np.ascontiguousarray(roof_src[order], np.int64))
        del roof_src, roof_dst
        self.d_roof_cells = to(np.ascontiguousarray(sim.roof_dst_cells, np.int64))
        # the state, double-buffered fluxes
        self.dev = {k: to(np.ascontiguousarray(getattr(s, k))) for k in _STATE_ARRAYS}
        self.q_spare = (cuda.device_array_like(self.dev["qx"]), cuda.device_array_like(self.dev["qy"]))
        self.q_spare[0].copy_to_device(self.dev["qx"])
        self.q_spare[1].copy_to_device(self.dev["qy"])
        self._host = {k: np.array(getattr(s, k), copy=True) for k in _STATE_ARRAYS}
        for arr in self._host.values():
            arr.flags.writeable = False
        self._dirty: set[str] = set()
        # reductions: one row per quantity, one column per block: the step's (step.SLOTS), then per inflow
        # and for the roof rain the Courant speed of the water put there and the rounding of its depths
        self.n_inflows = len(self.inflow_cells)
        self.slot_inflow = sk.SLOTS
        self.slot_roof = sk.SLOTS + self.n_inflows
        self.slot_inflow_round = self.slot_roof + 1
        self.slot_roof_round = self.slot_inflow_round + self.n_inflows
        self.slot_sum = self.slot_roof_round + 1
        self.parts = cuda.device_array((self.slot_sum + 1, self.max_blocks), np.float64)
        self.parts_host = np.zeros((self.slot_sum + 1, self.max_blocks))
        self.band_rows = int(p.band_rows)
        nbands = sim.bands.start.size - 1
        self.plan_host = np.zeros(nbands, np.uint8)
        self.plan = cuda.to_device(self.plan_host)
        self.flags_host = np.zeros(ny + nbands, np.uint8)
        self.flags = cuda.to_device(self.flags_host)
        self.b_rows = self._blocks(ny, per_block=1)
        self.b_cells = self._blocks(ny * nx)
        self.b_faces = self._blocks(self.n_faces)
        self._rain_key = None
        self._rain_dev = self._no_rain_field = to(np.zeros((1, 1)))
        self._repair = None   # device scratch of the positivity repair, allocated at its first use
        self.repairs = 0      # steps that needed the repair (a diagnostic)
        # the Courant speed lives in the band speeds, as on the CPU: the largest in band 0, the rest 0
        bw = sim.bands
        wave = float(bw.wave.max())
        bw.wave[:] = 0.0
        bw.wave[0] = wave
        sim.state = DeviceState(self, s.t, s.steps)

    # ------------------------------------------------------------------ helpers
    def _blocks(self, items: int, per_block: int | None = None) -> int:
        per = self.threads if per_block is None else per_block
        return max(1, min(self.max_blocks, -(-max(items, 1) // per)))

    def _q(self):
        return self.dev["qx"], self.dev["qy"]

    def host(self, name: str) -> np.ndarray:
        """The host copy of state array ``name``, fetched from the device if it changed there (read-only)."""
        arr = self._host[name]
        if name in self._dirty:
            arr.flags.writeable = True
            self.dev[name].copy_to_host(arr)
            arr.flags.writeable = False
            self._dirty.discard(name)
        return arr

    def _upload(self, name: str, values: np.ndarray) -> None:
        arr = self._host[name]
        arr.flags.writeable = True
        np.copyto(arr, values, casting="no" if values.dtype == arr.dtype else "same_kind")
        arr.flags.writeable = False
        self.dev[name].copy_to_device(arr)
        self._dirty.discard(name)

    def _reduce(self, slot: int, blocks: int, how) -> float:
        return float(how(self.parts_host[slot, :blocks]))

    def _fetch_parts(self) -> None:
        self.parts.copy_to_host(self.parts_host)

    def _rain_field(self, field_) -> object:
        if field_.size == 1:
            return self._no_rain_field
        key = (field_.__array_interface__["data"][0], field_.shape)
        if key != self._rain_key:
            self._rain_dev = self.cuda.to_device(np.ascontiguousarray(field_))
            self._rain_key = key
        return self._rain_dev

    # ------------------------------------------------------------------ the step
    def step(self, t_limit: float = np.inf) -> float:
        """One step of :meth:`Simulation.step` on the device; returns the step length [s]."""
        sim, sk = self.sim, self._sk
        p, s, grid = sim.params, sim.state, sim.grid
        t = s.t
        dt = sim._step_length(t_limit)

        # the CPU's band schedule (Simulation.step): swept bands, bands with the flux of the band above,
        # bands with only rain or infiltration, and bands left as they are
        bw = sim.bands
        computed = bw.select()
        with_flux = np.zeros_like(computed)
        with_flux[1:] = computed[:-1]
        rate, field_, rain_volume_rate = sim._rain_now(t)
        has_sources = self.infil_model != 0 or rate != 0.0 or field_.shape != (1, 1)
        plan = self.plan_host
        plan[:] = np.where(computed, sk.SWEPT | sk.UPDATE | sk.FLUX,
                           np.where(with_flux, sk.UPDATE | sk.FLUX, sk.UPDATE if has_sources else 0))
        self.plan.copy_to_device(plan)
        rain_dev = self._rain_field(field_)
        sim.faces.set_time(t + 0.5 * dt)
        dx, dy, T, band_rows = grid.dx, grid.dy, self.threads, self.band_rows
        qx, qy = self._q()
        if self.n_faces:
            if sim._level_faces.size:
                self.level.copy_to_device(sim.faces.level)
            ci, cj, side, kind, slope = self.faces
            sk.boundary_fluxes[self.b_faces, T](self.z, self.dev["h"], self.manning, qx, qy, ci, cj, side, kind,
                                                slope, self.level, dt, dx, dy, p.g, p.hmin, self.parts)
        qx_new, qy_new = self.q_spare
        self.face_fluxes[self.b_cells, T](self.z, self.dev["h"], self.active, self.manning, qx, qy, qx_new, qy_new,
                                          self.plan, band_rows, dt, dx, dy, p.g, p.theta, p.hmin)
        self.q_spare = (qx, qy)
        self.dev["qx"], self.dev["qy"] = qx_new, qy_new
        self.update_depth[self.b_rows, T](
            self.dev["h"], qx_new, qy_new, self.active, self.plan, band_rows, rate, rain_dev, self.infil_model,
            self.dev["infil_F"], self.p1, self.p2, self.p3, dt, dx, dy, p.g, p.hmin, self.h_speed, t + dt,
            self.dev["h_max"], self.dev["v2_max"], self.dev["t_hmax"], self.parts, self.flags)
        self._dirty.update(_STATE_ARRAYS)
        self._fetch_parts()
        wave = self._reduce(sk.WAVE, self.b_rows, np.max)
        if self.n_faces:
            vol_out = self._reduce(sk.VOL_OUT, self.b_faces, np.sum)
            vol_in = self._reduce(sk.VOL_IN, self.b_faces, np.sum)
        else:
            vol_out = vol_in = 0.0
        infiltrated = self._reduce(sk.INFIL, self.b_rows, np.sum) * grid.cell_area
        rounded = self._reduce(sk.ROUND, self.b_rows, np.sum)   # [m] of depth; 0.0 in double precision
        if self._reduce(sk.NEGATIVE, self.b_rows, np.sum) > 0:
            removed, given_back, repair_rounded = self._repair_negative(dt)
            if removed < 0:
                raise StabilityError(sim._diagnose("negative depths could not be repaired", "negative"))
            vol_out -= removed
            infiltrated -= given_back
            # the repair's float32 stores (the CPU's repair does not ledger them yet: see kernels.cuda.repair)
            rounded += repair_rounded
        inflow_volume, sources = 0.0, []
        for k, (inflow, cells) in enumerate(zip(sim.inflows, self.inflow_cells)):
            volume = inflow.discharge.integral(t, t + dt)
            b = self._blocks(cells.size)
            sk.add_depth[b, T](self.dev["h"], cells, volume / (cells.size * grid.cell_area), self.parts,
                               self.slot_inflow_round + k)
            sk.cells_wave[b, T](self.dev["h"], cells, p.hmin, p.g, band_rows, self.flags, self.parts,
                                self.slot_inflow + k)
            sources.append((self.slot_inflow + k, b, self.slot_inflow_round + k, b))
            inflow_volume += volume
        roof_volume = sim._roof_volume_rate(rate, field_) * dt
        if sim.roof_rain == RoofRain.GROUND and sim.roof_cells and roof_volume > 0:
            b_route = self._blocks(self.roof_dst.size)
            sk.route_roof_rain[b_route, T](self.dev["h"], self.d_roof_dst, self.d_roof_start, self.d_roof_src, rate,
                                           rain_dev, dt, self.parts, self.slot_roof_round)
            b = self._blocks(self.d_roof_cells.size)
            sk.cells_wave[b, T](self.dev["h"], self.d_roof_cells, p.hmin, p.g, band_rows, self.flags, self.parts,
                                self.slot_roof)
            sources.append((self.slot_roof, b, self.slot_roof_round, b_route))
        if sources:
            self._fetch_parts()
            for slot, b, slot_round, b_round in sources:
                wave = max(wave, self._reduce(slot, b, np.max)) if not math.isnan(wave) else wave
                rounded += self._reduce(slot_round, b_round, np.sum)
        # band wet flags for the next schedule: rows with a cell deeper than hmin, and the sources' marks
        self.flags.copy_to_host(self.flags_host)
        ny = self.shape[0]
        bw.wet[:] = np.maximum.reduceat(self.flags_host[:ny], bw.start[:-1]) | self.flags_host[ny:]
        measure_out = 0.0
        if sim.operators:
            measure_out, wave = self._operators(t, dt, wave)
        bw.wave[0] = wave
        sim.balance.add_step(
            rain=rain_volume_rate * dt, inflow=inflow_volume, boundary_in=vol_in, boundary_out=vol_out,
            infiltration=infiltrated,
            roof_drainage=roof_volume if sim.roof_rain == RoofRain.DRAIN else 0.0,
            measure_outflow=measure_out, rounding=rounded * grid.cell_area)
        s.t = t + dt
        s.steps += 1
        if s.steps % NAN_CHECK_STEPS == 0 and not math.isfinite(self._depth_sum()):
            raise StabilityError(sim._diagnose("a depth became NaN or infinite"))
        return dt

    def _depth_sum(self) -> float:
        sk = self._sk
        sk.depth_sum[self.b_cells, self.threads](self.dev["h"], self.parts, self.slot_sum)
        self._fetch_parts()
        return self._reduce(self.slot_sum, self.b_cells, np.sum)

    def _repair_negative(self, dt: float):
        """The positivity repair (:mod:`floodsim.kernels.cuda.repair`); returns (boundary volume no longer
        leaving [m³], infiltration given back [m³], rounding of its float32 stores [m] of depth, 0 in double
        precision), or (-1, 0, 0) for a broken state."""
        cuda, rk, sim = self.cuda, self._rk, self.sim
        ny, nx = self.shape
        if self._repair is None:
            self._repair = dict(
                stack=cuda.to_device(np.zeros(ny * nx + 8, np.int32)),
                touched=cuda.to_device(np.zeros(ny * nx + 8, np.int32)),
                visits=cuda.to_device(np.zeros(ny * nx, np.uint8)),
                count=cuda.to_device(np.zeros(1, np.int32)), out=cuda.to_device(np.zeros(3)))
        r = self._repair
        r["count"].copy_to_device(np.zeros(1, np.int32))
        rk.collect_negatives[self.b_cells, self.threads](self.dev["h"], self.active, REPAIR_TOLERANCE_M,
                                                         r["stack"], r["count"])
        n = int(r["count"].copy_to_host()[0])
        if n == 0:
            return 0.0, 0.0, 0.0
        self.repairs += 1
        cells = np.sort(r["stack"][:n].copy_to_host())   # the CPU's row-major scan order
        r["stack"][:n].copy_to_device(cells)
        q = self._q()
        rk.repair[1, 1](self.dev["h"], q[0], q[1], self.active, self.dev["infil_F"], n, dt, sim.grid.dx,
                        sim.grid.dy, REPAIR_TOLERANCE_M, r["stack"], r["touched"], r["visits"], self.single, r["out"])
        removed, given_back, rounded = r["out"].copy_to_host()
        return float(removed), float(given_back), float(rounded)

    def _operators(self, t: float, dt: float, wave: float):
        """Measures acting during the run, on a host copy of the depths (as in :meth:`Simulation.step`);
        returns (volume that left the domain through them [m³], Courant speed with their water)."""
        sim, p = self.sim, self.sim.params
        h = self.host("h")
        h.flags.writeable = True
        try:
            measure_out = 0.0
            for op, cells in zip(sim.operators, sim._operator_cells):
                flows = sim._apply_operator(op, h, t, dt)
                measure_out += flows.left_domain
                if cells.size and flows.to_surface > 0:   # Simulation._mark_wet
                    depth = h.ravel()[cells]
                    wet = depth > p.hmin
                    if wet.any():
                        sim.bands.wet[np.unique(cells[wet] // self.shape[1] // self.band_rows)] = 1
                        if not math.isnan(wave):
                            wave = max(wave, float(np.sqrt(p.g * depth[wet]).max()))
            self.dev["h"].copy_to_device(h)
        finally:
            h.flags.writeable = False
        return measure_out, wave

    # ------------------------------------------------------------------ outputs and checkpoints
    def record_maxima(self) -> None:
        """:meth:`Simulation.record_maxima` on the device."""
        qx, qy = self._q()
        self.record_max_state[self.b_cells, self.threads](
            self.dev["h"], qx, qy, self.sim.state.t, self.h_speed, self.dev["h_max"], self.dev["v2_max"],
            self.dev["t_hmax"])
        self._dirty.update(("h_max", "v2_max", "t_hmax"))

    def get_state(self) -> dict:
        """:meth:`Simulation.get_state`, readable by either backend (band 0 carries the Courant speed)."""
        sim = self.sim
        s, bw = sim.state, sim.bands
        bands = {k: getattr(bw, k).copy() for k in sim._BAND_ARRAYS}
        return {
            "t": float(s.t), "steps": int(s.steps), "short_steps": int(sim._short_steps),
            "arrays": {k: self.host(k).copy() for k in _STATE_ARRAYS},
            "bands": bands,
            "balance": {k: float(v) for k, v in vars(sim.balance).items()},
            "operators": [op.get_state() for op in sim.operators],
        }

    def set_state(self, state: dict) -> None:
        """:meth:`Simulation.set_state` on the device (a state saved by either backend)."""
        sim = self.sim
        arrays = {}
        for k in _STATE_ARRAYS:
            src = np.asarray(state["arrays"][k])
            if src.shape != self._host[k].shape:
                raise InputDataError(f"saved state '{k}' has shape {src.shape}, this model {self._host[k].shape}: "
                                     "it was saved for another grid.")
            arrays[k] = src
        for k in sim._BAND_ARRAYS:
            src, dst = np.asarray(state["bands"][k]), getattr(sim.bands, k)
            if src.shape != dst.shape:
                raise InputDataError(f"saved state '{k}' has shape {src.shape}, this model {dst.shape}: it was "
                                     "saved for another grid.")
        if len(state["operators"]) != len(sim.operators):
            raise InputDataError(f"saved state has {len(state['operators'])} operators (measures), this model "
                                 f"{len(sim.operators)}.")
        for k, src in arrays.items():
            self._upload(k, src)
        self.q_spare[0].copy_to_device(self.dev["qx"])
        self.q_spare[1].copy_to_device(self.dev["qy"])
        for k in sim._BAND_ARRAYS:
            src, dst = np.asarray(state["bands"][k]), getattr(sim.bands, k)
            np.copyto(dst, src, casting="no" if src.dtype == dst.dtype else "same_kind")
        wave = float(sim.bands.wave.max())
        sim.bands.wave[:] = 0.0
        sim.bands.wave[0] = wave
        s = sim.state
        s.t = float(state["t"])
        s.steps = int(state["steps"])
        sim._short_steps = int(state["short_steps"])
        for k, v in state["balance"].items():
            setattr(sim.balance, k, float(v))
        for op, st in zip(sim.operators, state["operators"]):
            op.set_state(st)
        if hasattr(sim, "_frame_volume"):
            del sim._frame_volume


__all__ = ["CudaStepper", "DeviceState", "is_simulator", "require_cuda"]
