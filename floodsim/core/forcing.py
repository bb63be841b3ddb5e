"""Time-varying inputs: rainfall (uniform hyetograph or raster series) and scalar time series.

All values are SI inside (rain in m/s, discharge in m³/s, level in m, time in s from the start of the
run). Constructors with other units say so in their names and convert through :mod:`floodsim.units`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import units
from ..errors import InputDataError


def _check_times(times: np.ndarray, what: str) -> None:
    if times.ndim != 1 or times.size == 0:
        raise InputDataError(f"{what}: times must be a non-empty 1-D sequence.")
    if not np.all(np.isfinite(times)):
        raise InputDataError(f"{what}: times contain NaN or infinity.")
    if np.any(np.diff(times) <= 0):
        k = int(np.argmax(np.diff(times) <= 0))
        raise InputDataError(f"{what}: times must increase strictly; entry {k + 1} ({times[k + 1]} s) "
                             f"does not come after entry {k} ({times[k]} s). Sort the series and remove "
                             "duplicates.")


@dataclass(frozen=True, eq=False)
class Hyetograph:
    """Uniform rainfall as a step function: ``intensity[k]`` [m/s] holds from ``times[k]`` to
    ``times[k+1]`` (the last value until ``end``); zero before ``times[0]`` and after ``end``.

    Parameters
    ----------
    times : array of float
        Start of each interval [s], strictly increasing.
    intensity : array of float
        Rain intensity in each interval [m/s], non-negative.
    end : float
        Time at which the last interval ends [s].
    """

    times: np.ndarray
    intensity: np.ndarray
    end: float

    def __post_init__(self):
        t = np.asarray(self.times, dtype=np.float64)
        i = np.asarray(self.intensity, dtype=np.float64)
        _check_times(t, "hyetograph")
        if i.shape != t.shape:
            raise InputDataError(f"hyetograph: {t.size} times but {i.size} intensities.")
        if not np.all(np.isfinite(i)) or np.any(i < 0):
            k = int(np.argmax(~np.isfinite(i) | (i < 0)))
            raise InputDataError(f"hyetograph: intensity {k} is {units.m_s_to_mm_h(i[k])} mm/h; rainfall "
                                 "must be finite and non-negative.")
        if not self.end > t[-1]:
            raise InputDataError(f"hyetograph: end ({self.end} s) must come after the last start time "
                                 f"({t[-1]} s).")
        object.__setattr__(self, "times", t)
        object.__setattr__(self, "intensity", i)

    @classmethod
    def block(cls, intensity_mm_h: float, duration_s: float, start_s: float = 0.0) -> "Hyetograph":
        """Constant intensity [mm/h] for ``duration_s`` seconds."""
        return cls(np.array([start_s]), np.array([units.mm_h_to_m_s(intensity_mm_h)]), start_s + duration_s)

    @classmethod
    def from_mm_h(cls, times_s, intensity_mm_h, end_s: float | None = None) -> "Hyetograph":
        """From interval start times [s] and intensities [mm/h]; ``end_s`` defaults to one more
        interval of the last length (or 60 s for a single interval)."""
        t = np.asarray(times_s, dtype=np.float64)
        if end_s is None:
            end_s = t[-1] + (t[-1] - t[-2] if t.size > 1 else 60.0)
        return cls(t, units.mm_h_to_m_s(np.asarray(intensity_mm_h, dtype=np.float64)), float(end_s))

    def rate(self, t: float) -> float:
        """Intensity at time ``t`` [m/s]."""
        if t < self.times[0] or t >= self.end:
            return 0.0
        return float(self.intensity[np.searchsorted(self.times, t, side="right") - 1])

    def next_change(self, t: float) -> float:
        """First time after ``t`` at which the intensity may change [s] (inf if none)."""
        edges = np.append(self.times, self.end)
        k = np.searchsorted(edges, t, side="right")
        return float(edges[k]) if k < edges.size else np.inf

    def depth_between(self, t0: float, t1: float) -> float:
        """Rain depth falling between ``t0`` and ``t1`` [m] (exact integral of the step function)."""
        edges = np.append(self.times, self.end)
        lo = np.clip(edges[:-1], t0, t1)
        hi = np.clip(edges[1:], t0, t1)
        return float(np.sum(self.intensity * (hi - lo)))

    @property
    def total_depth(self) -> float:
        """Total rain depth of the event [m]."""
        return self.depth_between(self.times[0], self.end)


@dataclass(frozen=True, eq=False)
class RainfallRaster:
    """Rainfall that varies in space: frames ``intensity[k]`` (ny, nx) [m/s] holding from
    ``times[k]`` to ``times[k+1]`` (the last until ``end``), already on the model grid.

    Use :func:`floodsim.io.raster.rainfall_from_dataarray` to build one from an xarray DataArray
    (radar, NetCDF) in mm/h, which also regrids it.
    """

    times: np.ndarray
    intensity: np.ndarray
    end: float

    def __post_init__(self):
        t = np.asarray(self.times, dtype=np.float64)
        f = np.ascontiguousarray(self.intensity, dtype=np.float64)
        _check_times(t, "rainfall raster")
        if f.ndim != 3 or f.shape[0] != t.size:
            raise InputDataError(f"rainfall raster: expected frames (time, y, x) with {t.size} times, "
                                 f"got shape {f.shape}.")
        bad = ~np.isfinite(f) | (f < 0)
        if bad.any():
            k = int(np.argwhere(bad)[0][0])
            raise InputDataError(f"rainfall raster: frame {k} (t = {t[k]} s) has negative, NaN or "
                                 "infinite intensities; fill gaps with 0 before use.")
        if not self.end > t[-1]:
            raise InputDataError("rainfall raster: end must come after the last frame time.")
        object.__setattr__(self, "times", t)
        object.__setattr__(self, "intensity", f)

    def frame_index(self, t: float) -> int:
        """Index of the frame in force at ``t``, or -1 when no rain falls."""
        if t < self.times[0] or t >= self.end:
            return -1
        return int(np.searchsorted(self.times, t, side="right") - 1)

    def next_change(self, t: float) -> float:
        edges = np.append(self.times, self.end)
        k = np.searchsorted(edges, t, side="right")
        return float(edges[k]) if k < edges.size else np.inf


@dataclass(frozen=True, eq=False)
class TimeSeries:
    """A scalar series interpolated linearly in time, held constant outside its range.

    Used for inflow hydrographs [m³/s] and boundary water levels [m].
    """

    times: np.ndarray
    values: np.ndarray
    name: str = "time series"

    def __post_init__(self):
        t = np.atleast_1d(np.asarray(self.times, dtype=np.float64))
        v = np.atleast_1d(np.asarray(self.values, dtype=np.float64))
        _check_times(t, self.name)
        if v.shape != t.shape:
            raise InputDataError(f"{self.name}: {t.size} times but {v.size} values.")
        if not np.all(np.isfinite(v)):
            raise InputDataError(f"{self.name}: values contain NaN or infinity.")
        object.__setattr__(self, "times", t)
        object.__setattr__(self, "values", v)

    @classmethod
    def constant(cls, value: float, name: str = "time series") -> "TimeSeries":
        return cls(np.array([0.0]), np.array([float(value)]), name)

    def __call__(self, t: float) -> float:
        return float(np.interp(t, self.times, self.values))

    def integral(self, t0: float, t1: float) -> float:
        """Exact integral of the piecewise-linear series over [t0, t1] (value·s)."""
        knots = self.times[(self.times > t0) & (self.times < t1)]
        ts = np.concatenate(([t0], knots, [t1]))
        vs = np.interp(ts, self.times, self.values)
        return float(np.sum(0.5 * (vs[1:] + vs[:-1]) * np.diff(ts)))
