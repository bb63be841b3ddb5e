"""The output loop of a run: snapshots at output times, gathered into an :class:`xarray.Dataset`.

:func:`run_simulation` steps a :class:`~floodsim.core.simulation.Simulation` to each output time and
lets a :class:`Recorder` take a snapshot (depth, the volume balance, each measure's series); the
recorder turns them into a CF-annotated Dataset with coordinates and CRS. The engine itself knows
nothing of xarray.

**Depth frames are on disk, not in memory.** Each depth frame (float32, NaN outside the model) is
appended to a scratch NetCDF file as it is recorded (:class:`floodsim.io.frames.FrameStore`), and the
dataset's ``depth`` is a lazy dask array over that file, a chunk per frame and block of rows: writing
``results.nc`` and every product streams it, so a run's memory does not grow with its output times.
The recorder itself holds only the times and the balance (a few numbers per output time). A recorder
made with ``frames=False`` keeps no frames at all (``[output] depth_frames``): its dataset has no
``depth``. At the end of a run (``lazy_maxima``) the gridded maxima are lazy too, read from the
simulation as they are written.
"""

from __future__ import annotations

import uuid
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import xarray as xr

from ..errors import InputDataError
from ..io.frames import TEMP_HEAD, FrameStore
from ..io.raster import LAZY_ROWS
from ..variables import attrs

_BALANCE_KEYS = ("rain", "inflow", "boundary_in", "boundary_out", "infiltration", "roof_drainage",
                 "measure_outflow", "rounding")


class Recorder:
    """Snapshots of depth and the volume balance at output times.

    Parameters
    ----------
    sim : Simulation
        The simulation recorded.
    series : SeriesRecorder, optional
        The fine time series.
    frames : bool
        Keep the depth frames (on disk); False: maxima only, the dataset has no ``depth``.
    scratch : (folder, prefix), optional
        Where the frames' scratch folder is made (:func:`floodsim.io.runfolder.frames_scratch`);
        default the system temp.
    """

    def __init__(self, sim, series=None, *, frames: bool = True, scratch: tuple[Path, str] | None = None):
        self.sim = sim
        #: the fine time series (:class:`floodsim.run.series.SeriesRecorder`), or None
        self.series = series
        self.times: list[float] = []
        self.balance: list[dict] = []
        #: whether depth frames are kept
        self.keep_frames = bool(frames)
        self.scratch = scratch
        #: the frames recorded so far (None until the first, and without frames)
        self.store: FrameStore | None = None

    @property
    def frame_count(self) -> int:
        return 0 if self.store is None else self.store.count

    def _new_store(self) -> FrameStore:
        folder, head = self.scratch if self.scratch is not None else (None, TEMP_HEAD)
        return FrameStore(self.sim.grid.shape, folder, head)

    def record(self) -> None:
        sim = self.sim
        sim.record_maxima()
        self.times.append(sim.state.t)
        if self.keep_frames:
            if self.store is None:
                self.store = self._new_store()
            self.store.append(sim.state.h, sim.grid.valid)
        entry = sim.balance.as_dict(sim.total_volume())
        entry["surface"] = sim.stored_volume()
        entry["measures"] = sim.measures_volume()
        self.balance.append(entry)

    def close(self) -> None:
        """Remove the frames' scratch folder (a dataset made before then can no longer read ``depth``)."""
        if self.store is not None:
            self.store.close()

    def save_frames(self, dest) -> Path | None:
        """Copy the frames recorded so far to ``dest`` atomically (for a checkpoint); None when there are
        none."""
        if self.store is None or self.store.count == 0:
            return None
        return self.store.copy_to(dest)

    def get_state(self) -> dict:
        """The snapshots recorded so far (for checkpoints): times [s], the balance and per-measure values
        at each output time, and ``frames``, the number of depth frames (None without frames). The frames
        themselves stay on disk: :meth:`save_frames` copies them."""
        out = {"times": [float(t) for t in self.times],
               "frames": self.frame_count if self.keep_frames else None,
               "balance": [{k: float(v) for k, v in b.items()} for b in self.balance],
               }
        if self.series is not None:
            out["series"] = self.series.get_state()
        return out

    def set_state(self, state: dict, frames_file=None) -> None:
        """Restore snapshots from :meth:`get_state` (replaces anything recorded); the depth frames are
        copied, frame by frame, from the first ``state["frames"]`` of ``frames_file``.

        Raises
        ------
        InputDataError
            Frames are kept but the state has none, or ``frames_file`` lacks them.
        """
        times = [float(t) for t in state["times"]]
        if self.store is not None:
            self.store.close()
            self.store = None
        if self.keep_frames and times:
            n = state.get("frames")
            fix = "run with --restart to discard it and start again"
            if n is None:
                raise InputDataError("the checkpoint was written without depth frames ([output] depth_frames); "
                                     f"{fix}, or set depth_frames as it was.")
            if n != len(times):
                raise InputDataError(f"the checkpoint holds {n} depth frames for {len(times)} output times; {fix}.")
            if n:
                if frames_file is None or not Path(frames_file).is_file():
                    raise InputDataError(f"{frames_file}: the depth frames of the checkpoint are missing; {fix}.")
                folder, head = self.scratch if self.scratch is not None else (None, TEMP_HEAD)
                try:
                    self.store = FrameStore.from_file(frames_file, n, self.sim.grid.shape, folder, head)
                except (OSError, ValueError, KeyError, IndexError) as exc:
                    raise InputDataError(f"{frames_file}: cannot read the checkpoint's depth frames "
                                         f"({type(exc).__name__}: {exc}); {fix}.") from None
        self.times = times
        self.balance = [dict(b) for b in state["balance"]]
        if self.series is not None:
            self.series.set_state(state["series"])

    def to_dataset(self, *, lazy_maxima: bool = False) -> xr.Dataset:
        """The results as a Dataset; ``depth`` (with frames) is lazy: read from the scratch file, a frame
        and a block of rows per chunk, while this dataset (or anything made from it) exists.

        With ``lazy_maxima`` the gridded fields (``max_depth``, ``max_speed``, ``time_of_max_depth``,
        ``elevation``) are lazy too: dask reads them from the simulation's own arrays,
        :data:`~floodsim.io.raster.LAZY_ROWS` rows at a time, when the dataset is written or its values
        are used, instead of four float32 copies of the grid (400 MB at 25M cells, at the moment results
        are written). They then follow
        the simulation if it is advanced further: use it at the end of a run (``floodsim run`` does).
        """
        sim = self.sim
        grid = sim.grid
        state = sim.state
        # float32, NaN outside the model: lazy (block by block) or a copy each, masked in place (no
        # float64 or where() temporaries: at 25M cells each is 100-200 MB on top of the model)
        specs = {"max_depth": (_masked, state.h_max), "max_speed": (_speed, state.v2_max),
                 "time_of_max_depth": (partial(_arrival, hmin=sim.params.hmin), state.t_hmax, state.h_max),
                 "elevation": (_masked, grid.z)}
        fields = {name: _lazy_field(func, grid.shape, *arrays, grid.valid) if lazy_maxima
                  else func(*arrays, grid.valid) for name, (func, *arrays) in specs.items()}
        coords = {"time": np.asarray(self.times), "y": grid.y, "x": grid.x}
        data = {}
        if self.keep_frames:
            if self.store is None:
                self.store = self._new_store()
            data["depth"] = (("time", "y", "x"), self.store.lazy(), attrs("depth"))
        data.update({
            **{name: (("y", "x"), values, attrs(name)) for name, values in fields.items()},
            "volume_stored": (("time",), [b["surface"] for b in self.balance], attrs("volume_stored")),
            "volume_measures": (("time",), [b["measures"] for b in self.balance], attrs("volume_measures")),
            "volume_error": (("time",), [b["error"] for b in self.balance], attrs("volume_error")),
        })
        for key in _BALANCE_KEYS:
            data[f"volume_{key}"] = (("time",), [b[key] for b in self.balance], attrs(f"volume_{key}"))
        if self.series is not None and self.series.times:
            extra, extra_coords = self.series.to_variables()
            data.update(extra)
            coords.update(extra_coords)
        network_attrs = {}
        for op in sim.operators:   # a sewer network (floodsim.sewer.coupling): node and link series
            if hasattr(op, "network_variables"):
                extra, extra_coords, network_attrs = op.network_variables()
                data.update(extra)
                coords.update(extra_coords)
        ds = xr.Dataset(data, coords=coords)
        ds.attrs.update(network_attrs)
        ds["time"].attrs.update(units="s", long_name="time since start of simulation", axis="T")
        ds["x"].attrs.update(units="m", long_name="x coordinate of cell centre", axis="X")
        ds["y"].attrs.update(units="m", long_name="y coordinate of cell centre", axis="Y")
        final = self.balance[-1]
        p = sim.params
        ds.attrs.update(
            title="floodsim results",
            Conventions="CF-1.8",
            initial_volume_m3=final["initial"], final_volume_m3=final["stored"],
            volume_error_m3=final["error"], relative_volume_error=final["relative_error"],
            steps=sim.state.steps, cfl=p.cfl, theta=p.theta, hmin_m=p.hmin, dt_max_s=p.dt_max,
            dx_m=grid.dx, dy_m=grid.dy,
        )
        if not self.keep_frames:   # (with frames the dataset is as it always was)
            ds.attrs["depth_frames"] = "none"
        if grid.crs is not None:
            import rioxarray  # noqa: F401  (registers the .rio accessor)

            ds = ds.rio.write_crs(grid.crs)
            ds = ds.rio.write_transform(grid.transform)
        return ds


def _masked(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """float32 ``values``, NaN outside the model."""
    out = values.astype(np.float32)
    out[~valid] = np.nan
    return out


def _speed(v2: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Speed [m/s] from squared speed [m²/s²], NaN outside the model."""
    out = np.sqrt(v2, dtype=np.float32)
    out[~valid] = np.nan
    return out


def _arrival(t: np.ndarray, h_max: np.ndarray, valid: np.ndarray, hmin: float) -> np.ndarray:
    """Time of maximum depth [s], NaN outside the model and where the cell never got wet."""
    out = t.astype(np.float32)
    out[~(valid & (h_max > hmin))] = np.nan
    return out


class _Field:
    """A (ny, nx) float32 field that dask reads block by block: ``func(*(a[key] for a in arrays))``.
    Holds the arrays, never the simulation (a pickled dataset carries the arrays only)."""

    def __init__(self, func, shape, arrays):
        self.func, self.arrays = func, arrays
        self.shape, self.dtype, self.ndim = tuple(shape), np.dtype(np.float32), 2

    def __getitem__(self, key):
        return self.func(*(a[key] for a in self.arrays))


def _lazy_field(func, shape, *arrays):
    import dask.array as da

    return da.from_array(_Field(func, shape, arrays), chunks=(min(LAZY_ROWS, shape[0]), shape[1]),
                         name=f"field-{uuid.uuid4().hex}", meta=np.empty((0, 0), np.float32), asarray=True,
                         fancy=False)


def balance_summary(ds: xr.Dataset) -> dict:
    """The final volume balance of a results dataset [m³] as a plain dict."""
    # (results of runs before single precision have no volume_rounding: it was 0)
    out = {k: float(ds[f"volume_{k}"].values[-1]) if f"volume_{k}" in ds else 0.0 for k in _BALANCE_KEYS}
    out.update(initial=float(ds.attrs["initial_volume_m3"]),
               stored=float(ds["volume_stored"].values[-1] + ds["volume_measures"].values[-1]),
               surface=float(ds["volume_stored"].values[-1]), measures=float(ds["volume_measures"].values[-1]),
               error=float(ds["volume_error"].values[-1]),
               relative_error=float(ds.attrs["relative_volume_error"]))
    return out


def run_simulation(sim, duration: float, output_interval: float | None = None,
                   progress: Callable[[float, float], None] | None = None, *, recorder: Recorder | None = None,
                   after_step: Callable[[], None] | None = None, lazy_maxima: bool = False) -> xr.Dataset:
    """Run ``sim`` for ``duration`` seconds and return the results as an :class:`xarray.Dataset`.

    Parameters
    ----------
    sim : Simulation
        A built simulation (:class:`floodsim.core.simulation.Simulation`).
    duration : float
        Simulated time [s].
    output_interval : float, optional
        Interval between depth snapshots [s]; default ``duration / 10``.
    progress : callable, optional
        Called as ``progress(t, duration)`` after every output time.
    recorder : Recorder, optional
        Collects the outputs; pass one restored from a checkpoint (with the simulation's state
        restored by :meth:`~floodsim.core.simulation.Simulation.set_state`) to continue a run where it
        stopped.
    after_step : callable, optional
        Called with no argument after every step (checkpoints, see :mod:`floodsim.run.checkpoint`).
    lazy_maxima : bool
        The gridded maxima are read from the simulation when used, not copied
        (:meth:`Recorder.to_dataset`); for a simulation that is not advanced further.

    Examples
    --------
    >>> import numpy as np
    >>> from floodsim import Grid, Hyetograph, Simulation, run_simulation
    >>> sim = Simulation(Grid.from_array(np.zeros((20, 20)), dx=1.0), rainfall=Hyetograph.block(60.0, 600.0))
    >>> ds = run_simulation(sim, 600.0, output_interval=300.0)
    >>> round(float(ds["depth"].isel(time=-1).mean()), 4)   # 60 mm/h for 10 min = 10 mm
    0.01
    """
    recorder = Recorder(sim) if recorder is None else recorder
    if recorder.series is not None:   # the fine series samples after every step, before any checkpoint
        sample, user = recorder.series.after_step, after_step
        after_step = sample if user is None else (lambda: (sample(), user()))
    t0 = recorder.times[0] if recorder.times else sim.state.t
    times = sim.output_times(t0, duration, output_interval)
    if not recorder.times:
        recorder.record()
    for t_out in times[len(recorder.times) - 1:]:
        sim.advance_to(float(t_out), after_step)
        sim.check_finite()
        recorder.record()
        sim.check_plausible()
        if progress is not None:
            progress(sim.state.t - t0, duration)
    return recorder.to_dataset(lazy_maxima=lazy_maxima)
