"""Time series at a fine, fixed step (default 10 s), independent of the map output interval.

Hydrographs must show the peak: a 30 min storm sampled every 6 min (the map frames) misses it. The
:class:`SeriesRecorder` is called after every solver step (it never changes the stepping, so results
are those of a run without it) and, each time the simulation time passes a sample time, records the
values at that exact time by linear interpolation between the two step ends around it:

* **gauges**: depth [m], water level [m], flow speed [m/s] and unit discharge [m²/s] at each gauge cell;
  speed and discharge from the cell-centre discharge ``(|(qx_w + qx_e)/2, (qy_n + qy_s)/2|)``;
* **boundary outflow**: the instantaneous discharge [m³/s] out through each side's open faces
  (positive out of the model) and their total;
* **measure devices** (tanks, tunnels, pond outlets, pumps, gates): the water each holds [m³], its
  cumulative inflow from the surface and outflow (to the surface, out of the model or to another
  measure) [m³], from which the rates [m³/s] are the differences over the sample step, and its control
  level [m] (a pond outlet's or a structure's source level; NaN for tanks and tunnels);
* **surface stores** (ponds, rain beds, cloudburst roads: :mod:`floodsim.analysis.flooding`): the water
  held by design [m³], the level at the lowest cell [m] and the water above the design level [m³].

Sign convention: discharges out of the model are positive. All SI.
"""

from __future__ import annotations

import math

import numpy as np

#: Default step of the fine series [s].
DEFAULT_SERIES_STEP_S = 10.0

_SIDES = ("west", "east", "north", "south")


def _members(operators):
    """The storage measures of ``operators`` (networks opened into their members)."""
    out = []
    for op in operators:
        out.extend(getattr(op, "members", [op]))
    return out


class SeriesRecorder:
    """Samples gauges, boundary outflow and measure devices every ``step_s`` seconds of simulated time.

    Parameters
    ----------
    sim : Simulation
        The (bound) simulation.
    gauges : dict
        Gauge name -> (x, y) map point [m].
    step_s : float
        Sample step [s] (> 0).
    stores : dict, optional
        Terrain measures that hold surface water by design: name -> (bool (ny, nx) cells, (ny, nx)
        storage depth [m]). Each is sampled as a store: the water held [m³] (``min(h, storage
        depth)``), its level [m] (at its lowest cell) and the water above its design level [m³].
    """

    def __init__(self, sim, gauges: dict, step_s: float = DEFAULT_SERIES_STEP_S, stores: dict | None = None):
        if not (isinstance(step_s, (int, float)) and 0 < step_s < math.inf):
            raise ValueError(f"series step must be a finite number of seconds > 0, got {step_s!r}")
        self.sim = sim
        self.step_s = float(step_s)
        self.gauge_names = list(gauges)
        self.gauge_xy = np.array([tuple(map(float, xy)) for xy in gauges.values()], np.float64).reshape(-1, 2)
        cells = [sim.grid.cell_of(x, y) for x, y in gauges.values()]
        self._gi = np.array([c[0] for c in cells], np.int64)
        self._gj = np.array([c[1] for c in cells], np.int64)
        f = sim.faces
        self._face_side = f.side
        self._face_i, self._face_j = f.cell_i, f.cell_j
        self._devices = [m for m in _members(sim.operators) if hasattr(m, "ledger")]
        self.device_names = [m.name for m in self._devices]
        self.store_names, self._stores = [], []
        for name, (cells, storage) in (stores or {}).items():
            flat = np.flatnonzero(np.asarray(cells, bool))
            depth = np.asarray(storage, np.float64).ravel()[flat]
            z = sim.z.ravel()[flat]
            self.store_names.append(name)
            self._stores.append((flat, depth, int(flat[np.argmin(z)]), float(sim.grid.cell_area)))
        self.times: list[float] = []
        self.rows: list[np.ndarray] = []
        self._next = sim.state.t
        self._prev = None
        self._t_last = sim.state.t
        self.after_step()   # the initial state

    # ------------------------------------------------------------------ one row of values
    def _row(self) -> np.ndarray:
        s, g = self.sim.state, self.sim.grid
        h, qx, qy = s.h, s.qx, s.qy
        i, j = self._gi, self._gj
        hg = h[i, j]
        ux = 0.5 * (qx[i, j] + qx[i, j + 1])
        uy = 0.5 * (qy[i, j] + qy[i + 1, j])
        q = np.hypot(ux, uy)
        with np.errstate(invalid="ignore", divide="ignore"):
            speed = np.where(hg > 10.0 * self.sim.params.hmin, q / hg, 0.0)
        level = self.sim.z[i, j] + hg
        out_side = np.zeros(4)
        if self._face_side.size:
            fi, fj, side = self._face_i, self._face_j, self._face_side
            # outward discharge per face [m³/s]: west faces carry qx[i, j] (positive east = into the model)
            rate = np.where(side == 0, -qx[fi, fj] * g.dy, 0.0)
            rate = np.where(side == 1, qx[fi, fj + 1] * g.dy, rate)
            rate = np.where(side == 2, -qy[fi, fj] * g.dx, rate)
            rate = np.where(side == 3, qy[fi + 1, fj] * g.dx, rate)
            out_side = np.bincount(side, weights=rate, minlength=4)[:4]
        dev = []
        for m in self._devices:
            led = m.ledger
            dev += [m.stored_volume, led["from_surface"] + led["received"],
                    led["to_surface"] + led["left_domain"] + led["sent"], m.device_level(h)]
        hv, zv = h.ravel(), self.sim.z.ravel()
        for flat, depth, sump, area in self._stores:
            hs = np.maximum(hv[flat], 0.0)
            dev += [float(np.minimum(hs, depth).sum()) * area, float(zv[sump] + hv[sump]),
                    float(np.maximum(hs - depth, 0.0).sum()) * area]
        return np.concatenate([hg, level, speed, q, out_side, [out_side.sum()], np.asarray(dev, np.float64)])

    def after_step(self) -> None:
        """Call after every step: records every sample time passed since the previous step.

        The row of values is built only at the step ends next to a sample time: the step that crosses
        it, and the one before when the last step length says the next one may cross (so the sample
        is interpolated between them); elsewhere this costs one comparison.
        """
        t = self.sim.state.t
        last_dt, self._t_last = t - self._t_last, t
        if t + 1e-9 < self._next:
            # the next step may cross the sample time: keep this step's values to interpolate from
            self._prev = (t, self._row()) if t + 1.5 * last_dt >= self._next else None
            return
        row = self._row()
        prev = self._prev if self._prev is not None and self._prev[0] == t - last_dt else None
        while self._next <= t + 1e-9:
            if prev is None or abs(t - self._next) <= 1e-9:
                value = row
            else:
                t0, r0 = prev
                w = (self._next - t0) / (t - t0)
                value = r0 + w * (row - r0)
            self.times.append(self._next)
            self.rows.append(value)
            self._next += self.step_s
        self._prev = None

    # ------------------------------------------------------------------ checkpoints
    def get_state(self) -> dict:
        rows = np.stack(self.rows) if self.rows else np.zeros((0, 0))
        return {"times": [float(t) for t in self.times], "rows": rows, "next": float(self._next)}

    def set_state(self, state: dict) -> None:
        self.times = [float(t) for t in state["times"]]
        rows = np.asarray(state["rows"], np.float64)
        self.rows = [rows[k].copy() for k in range(rows.shape[0])]
        self._next = float(state["next"])
        self._prev = None
        self._t_last = self.sim.state.t

    # ------------------------------------------------------------------ output
    def to_variables(self) -> tuple[dict, dict]:
        """``(data_vars, coords)`` for the results Dataset (names and attributes from floodsim.variables)."""
        from ..variables import attrs

        rows = np.stack(self.rows)
        ng, nd = len(self.gauge_names), len(self._devices)
        k = 0
        data = {}
        coords = {"series_time": ("series_time", np.asarray(self.times), attrs("series_time"))}
        if ng:
            coords["gauge"] = ("gauge", np.array(self.gauge_names, dtype=object), attrs("gauge"))
            coords["gauge_x"] = ("gauge", self.gauge_xy[:, 0].copy(), attrs("gauge_x"))   # where the maps put it
            coords["gauge_y"] = ("gauge", self.gauge_xy[:, 1].copy(), attrs("gauge_y"))
            for key in ("gauge_depth", "gauge_level", "gauge_speed", "gauge_unit_discharge"):
                data[key] = (("gauge", "series_time"), rows[:, k:k + ng].T.copy(), attrs(key))
                k += ng
        for n, side in enumerate(_SIDES):
            data[f"outflow_{side}"] = (("series_time",), rows[:, k + n].copy(), attrs(f"outflow_{side}"))
        data["outflow_total"] = (("series_time",), rows[:, k + 4].copy(), attrs("outflow_total"))
        k += 5
        if nd:
            coords["device"] = ("device", np.array(self.device_names, dtype=object), attrs("device"))
            block = rows[:, k:k + 4 * nd].reshape(len(self.times), nd, 4)
            t = np.asarray(self.times)
            for n, key in enumerate(("device_storage", "device_inflow_volume", "device_outflow_volume",
                                     "device_level")):
                data[key] = (("device", "series_time"), block[:, :, n].T.copy(), attrs(key))
            for key, src in (("device_inflow", 1), ("device_outflow", 2)):
                cum = block[:, :, src].T
                rate = np.zeros_like(cum)
                if t.size > 1:
                    rate[:, 1:] = np.diff(cum, axis=1) / np.diff(t)
                data[key] = (("device", "series_time"), rate, attrs(key))
            k += 4 * nd
        if self._stores:
            ns = len(self._stores)
            coords["store"] = ("store", np.array(self.store_names, dtype=object), attrs("store"))
            block = rows[:, k:k + 3 * ns].reshape(len(self.times), ns, 3)
            for n, key in enumerate(("store_volume", "store_level", "store_volume_above_design")):
                data[key] = (("store", "series_time"), block[:, :, n].T.copy(), attrs(key))
        return data, coords
