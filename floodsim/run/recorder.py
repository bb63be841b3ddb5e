"""The output loop of a run: snapshots at output times, gathered into an :class:`xarray.Dataset`.

:func:`run_simulation` steps a :class:`~floodsim.core.simulation.Simulation` to each output time and
lets a :class:`Recorder` take a snapshot (depth, the volume balance, each measure's series); the
recorder turns them into a CF-annotated Dataset with coordinates and CRS. The engine itself knows
nothing of xarray.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import xarray as xr

from ..variables import attrs

_BALANCE_KEYS = ("rain", "inflow", "boundary_in", "boundary_out", "infiltration", "roof_drainage",
                 "measure_outflow")


class Recorder:
    """Snapshots of depth and the volume balance at output times."""

    def __init__(self, sim, series=None):
        self.sim = sim
        #: the fine time series (:class:`floodsim.run.series.SeriesRecorder`), or None
        self.series = series
        self.times: list[float] = []
        self.depths: list[np.ndarray] = []
        self.balance: list[dict] = []

    def record(self) -> None:
        sim = self.sim
        sim.record_maxima()
        self.times.append(sim.state.t)
        self.depths.append(sim.state.h.astype(np.float32))
        entry = sim.balance.as_dict(sim.total_volume())
        entry["surface"] = sim.stored_volume()
        entry["measures"] = sim.measures_volume()
        self.balance.append(entry)

    def get_state(self) -> dict:
        """The snapshots recorded so far (for checkpoints): times [s], depths (n, ny, nx) float32, and
        the balance and per-measure values at each output time."""
        depths = np.stack(self.depths) if self.depths else np.zeros((0,) + self.sim.grid.shape, np.float32)
        out = {"times": [float(t) for t in self.times], "depths": depths,
               "balance": [{k: float(v) for k, v in b.items()} for b in self.balance],
               }
        if self.series is not None:
            out["series"] = self.series.get_state()
        return out

    def set_state(self, state: dict) -> None:
        """Restore snapshots from :meth:`get_state` (replaces anything recorded)."""
        depths = np.asarray(state["depths"], np.float32)
        self.times = [float(t) for t in state["times"]]
        self.depths = [depths[k].copy() for k in range(depths.shape[0])]
        self.balance = [dict(b) for b in state["balance"]]
        if self.series is not None:
            self.series.set_state(state["series"])

    def to_dataset(self) -> xr.Dataset:
        sim = self.sim
        grid = sim.grid
        valid = grid.valid
        depth = np.stack(self.depths)
        depth[:, ~valid] = np.nan
        max_depth = np.where(valid, sim.state.h_max, np.nan).astype(np.float32)
        max_speed = np.where(valid, np.sqrt(sim.state.v2_max), np.nan).astype(np.float32)
        t_max = np.where(valid & (sim.state.h_max > sim.params.hmin), sim.state.t_hmax, np.nan)
        coords = {"time": np.asarray(self.times), "y": grid.y, "x": grid.x}
        data = {
            "depth": (("time", "y", "x"), depth, attrs("depth")),
            "max_depth": (("y", "x"), max_depth, attrs("max_depth")),
            "max_speed": (("y", "x"), max_speed, attrs("max_speed")),
            "time_of_max_depth": (("y", "x"), t_max.astype(np.float32), attrs("time_of_max_depth")),
            "elevation": (("y", "x"), np.where(valid, grid.z, np.nan).astype(np.float32), attrs("elevation")),
            "volume_stored": (("time",), [b["surface"] for b in self.balance], attrs("volume_stored")),
            "volume_measures": (("time",), [b["measures"] for b in self.balance], attrs("volume_measures")),
            "volume_error": (("time",), [b["error"] for b in self.balance], attrs("volume_error")),
        }
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
        if grid.crs is not None:
            import rioxarray  # noqa: F401  (registers the .rio accessor)

            ds = ds.rio.write_crs(grid.crs)
            ds = ds.rio.write_transform(grid.transform)
        return ds


def balance_summary(ds: xr.Dataset) -> dict:
    """The final volume balance of a results dataset [m³] as a plain dict."""
    out = {k: float(ds[f"volume_{k}"].values[-1]) for k in _BALANCE_KEYS}
    out.update(initial=float(ds.attrs["initial_volume_m3"]),
               stored=float(ds["volume_stored"].values[-1] + ds["volume_measures"].values[-1]),
               surface=float(ds["volume_stored"].values[-1]), measures=float(ds["volume_measures"].values[-1]),
               error=float(ds["volume_error"].values[-1]),
               relative_error=float(ds.attrs["relative_volume_error"]))
    return out


def run_simulation(sim, duration: float, output_interval: float | None = None,
                   progress: Callable[[float, float], None] | None = None, *, recorder: Recorder | None = None,
                   after_step: Callable[[], None] | None = None) -> xr.Dataset:
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
    return recorder.to_dataset()
