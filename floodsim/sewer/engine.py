"""One running SWMM 5.2 model (the engine of swmm-toolkit, which pyswmm wraps), driven step by step.

:class:`SwmmEngine` writes a *working copy* of the network's ``.inp`` into a folder and runs it:

* the 2-D surface makes the runoff, so SWMM's own hydrology and external inputs are left out of the
  working copy: ``[SUBCATCHMENTS]``, ``[SUBAREAS]``, ``[INFILTRATION]``, ``[RAINGAGES]``,
  ``[LID_USAGE]``, ``[GROUNDWATER]``, ``[RDII]``, ``[DWF]``, ``[INFLOWS]`` (listed in
  :attr:`SwmmEngine.ignored`, reported in the summary);
* ``FLOW_ROUTING = DYNWAVE`` (heads, surcharge and backflow need the dynamic wave),
  ``VARIABLE_STEP = 0`` and ``ROUTING_STEP = step_s``: every :meth:`SwmmEngine.step` is exactly one
  SWMM routing step of ``step_s`` seconds (checked), so the coupling knows the interval each inflow
  rate held for;
* coupled junctions get a ponded area of :data:`POND_AREA_M2` (a 1.2 m manhole shaft) above their
  rim, ``ALLOW_PONDING = YES``: water pushed above the rim is held in SWMM as a column over the
  manhole (its head rises above the ground) and returns to the surface through the orifice law of
  the coupling, which SWMM honours because the column has volume (SWMM takes a negative lateral
  inflow only from water a node holds; a junction without one holds none); coupled storage units get
  a surcharge depth of :data:`SURCHARGE_DEPTH_M` for the same reason;
* ``THREADS = 1``: SWMM's OpenMP threads would otherwise spin between its steps and take the cores
  from the 2-D kernels (measured: 20× slower 2-D steps);
* sealed nodes (not coupled) that overflow lose the water in SWMM (no ponded area), and the coupling
  puts it on the surface at the node's cell.

Flows through the toolkit are in the ``.inp``'s flow units; this module converts them to m³/s with
:data:`floodsim.sewer.network.FLOW_UNIT_FACTORS` (lengths and volumes are metric already).

SWMM keeps its model in global variables: one model per process. :func:`engine_lock` guards it; a
second model in the same process is refused with :class:`~floodsim.errors.InputDataError`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import math
import threading
import warnings
from pathlib import Path

import numpy as np

from ..errors import InputDataError, StabilityError

#: Surcharge depth given to coupled nodes [m]: above any head a flood reaches, so SWMM does not
#: remove their water as "flooding"; the coupling's orifice law returns it to the surface instead.
SURCHARGE_DEPTH_M = 1000.0

#: Ponded area over a coupled junction's rim [m²]: the plan area of a 1.2 m diameter manhole shaft.
POND_AREA_M2 = 1.13

#: Sections of an .inp that feed SWMM water of its own (the 2-D model makes the runoff).
IGNORED_SECTIONS = ("SUBCATCHMENTS", "SUBAREAS", "INFILTRATION", "RAINGAGES", "LID_USAGE", "GROUNDWATER",
                    "GWF", "AQUIFERS", "SNOWPACKS", "RDII", "HYDROGRAPHS", "DWF", "INFLOWS", "LOADINGS", "COVERAGES",
                    "BUILDUP", "WASHOFF", "POLYGONS", "FILES")

_LOCK = threading.Lock()
_HOLDER: list[str] = []


@contextlib.contextmanager
def engine_lock(what: str):
    """Hold the process's one SWMM engine for ``what``; refuse if another model holds it."""
    if not _LOCK.acquire(blocking=False):
        raise InputDataError(f"{what}: another SWMM model is running in this process ({_HOLDER[0] if _HOLDER else '?'})"
                             "; SWMM runs one model per process. Run the next one after it, or in another "
                             "process (sweeps run members in separate processes).")
    _HOLDER[:] = [what]
    try:
        yield
    finally:
        _HOLDER[:] = []
        _LOCK.release()


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


class SwmmEngine:
    """A SWMM model open and started, advanced one fixed routing step at a time.

    Parameters
    ----------
    network : floodsim.sewer.network.Network
        The network.
    folder : Path
        Where the working ``.inp``, its report (``.rpt``) and binary output go.
    duration_s : float
        Length of the run [s] (SWMM's end time is set a few steps beyond it).
    step_s : float
        SWMM routing step = coupling step [s] (> 0).
    coupled : sequence of str
        Names of the coupled nodes (their surcharge depth is raised, see the module docstring).
    start_offset_s : float
        Start SWMM this many seconds after the ``.inp``'s start (resuming from a hotstart file).
    hotstart : Path, optional
        A SWMM hotstart file to start from.
    """

    def __init__(self, network, folder, duration_s: float, step_s: float, coupled=(), start_offset_s: float = 0.0,
                 hotstart=None):
        from swmm.toolkit import shared_enum as se
        from swmm.toolkit import solver
        from swmm_api.input_file.sections import OptionSection

        self._lock, self._open, self.ended = None, False, False
        if not (0 < step_s <= 60):
            raise InputDataError(f"sewer coupling step must be in (0, 60] s, got {step_s!r}.")
        self._solver, self._se = solver, se
        self.network = network
        self.step_s = float(step_s)
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ff = network.flow_factor
        inp = network.inp.copy()
        self.ignored = [s for s in IGNORED_SECTIONS if s in inp and len(inp[s])]
        for s in IGNORED_SECTIONS:
            if s in inp:
                del inp[s]
        for s in ("REPORT", "TAGS", "MAP", "SYMBOLS", "LABELS", "BACKDROP", "PROFILES"):
            if s in inp:
                del inp[s]
        if "OPTIONS" not in inp:
            inp.add_new_section(OptionSection())
        opts = inp["OPTIONS"]
        start = _dt.datetime(2000, 1, 1)
        if opts.get("START_DATE") is not None:
            d = opts["START_DATE"]
            tm = opts.get("START_TIME") or _dt.time(0, 0)
            start = _dt.datetime.combine(d, tm) if isinstance(d, _dt.date) else start
        start = start + _dt.timedelta(seconds=float(start_offset_s))
        self.start = start
        end = start + _dt.timedelta(seconds=float(duration_s) + 4.0 * step_s + 60.0)
        for k in ("REPORT_START_DATE", "REPORT_START_TIME", "END_DATE", "END_TIME", "START_DATE", "START_TIME",
                  "SWEEP_START", "SWEEP_END", "VARIABLE_STEP", "ROUTING_STEP", "REPORT_STEP", "WET_STEP",
                  "DRY_STEP"):
            if k in opts:
                del opts[k]
        opts.update({
            "FLOW_ROUTING": "DYNWAVE", "ALLOW_PONDING": "YES",
            "START_DATE": start.strftime("%m/%d/%Y"), "START_TIME": start.strftime("%H:%M:%S"),
            "REPORT_START_DATE": start.strftime("%m/%d/%Y"), "REPORT_START_TIME": start.strftime("%H:%M:%S"),
            "END_DATE": end.strftime("%m/%d/%Y"), "END_TIME": end.strftime("%H:%M:%S"),
            "ROUTING_STEP": f"{self.step_s:g}", "VARIABLE_STEP": "0",
            "REPORT_STEP": _hms(max(60.0, duration_s)), "WET_STEP": "00:01:00", "DRY_STEP": "01:00:00",
            "MAX_TRIALS": "20", "HEAD_TOLERANCE": "0.0001",
            "THREADS": "1", "IGNORE_RAINFALL": "YES", "IGNORE_SNOWMELT": "YES", "IGNORE_GROUNDWATER": "YES", "IGNORE_RDII": "YES",
        })
        for s in ("JUNCTIONS", "STORAGE"):
            for name, node in (inp[s].items() if s in inp else []):
                if hasattr(node, "area_ponded"):
                    node.area_ponded = 0.0
        coupled = set(coupled)
        for name in coupled:
            if "JUNCTIONS" in inp and name in inp["JUNCTIONS"]:
                inp["JUNCTIONS"][name].depth_surcharge = 0.0
                inp["JUNCTIONS"][name].area_ponded = POND_AREA_M2
            if "STORAGE" in inp and name in inp["STORAGE"]:
                inp["STORAGE"][name].depth_surcharge = SURCHARGE_DEPTH_M
        self.inp_path = self.folder / "network_run.inp"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            inp.write_file(str(self.inp_path))
        lock = engine_lock(f"sewer network {network.source}")
        lock.__enter__()
        self._lock = lock
        try:
            self.rpt = self.folder / "network_run.rpt"
            try:
                solver.swmm_open(str(self.inp_path), str(self.rpt), str(self.folder / "network_run.out"))
                self._open = True
                if hotstart is not None:
                    solver.swmm_hotstart(se.HotstartFile.USE, str(hotstart))
                solver.swmm_start(0)
            except Exception as exc:  # noqa: BLE001 - the toolkit raises SWMMException
                from .network import _swmm_errors

                errors = _swmm_errors(self.rpt) or [str(exc)]
                raise InputDataError(f"{network.source}: SWMM rejects the network prepared for the coupled run "
                                     f"({self.inp_path.name}): " + "; ".join(errors[:6])) from None
            N, L = se.ObjectType.NODE, se.ObjectType.LINK
            self.node_names = [solver.project_get_id(N, k) for k in range(solver.project_get_count(N))]
            self.link_names = [solver.project_get_id(L, k) for k in range(solver.project_get_count(L))]
            self.node_index = {n: k for k, n in enumerate(self.node_names)}
            self.link_index = {n: k for k, n in enumerate(self.link_names)}
            self.outfalls = [n for k, n in enumerate(self.node_names)
                             if solver.node_get_type(k) == se.NodeType.OUTFALL]
            self.ended = False
            self.t = 0.0        # seconds since this engine's start
            self._steps = 0
        except BaseException:
            self.close()
            raise

    # ---------------------------------------------------------------- per step
    def set_inflows(self, nodes: np.ndarray, rates_m3_s: np.ndarray) -> None:
        """Lateral inflow [m³/s] at nodes (toolkit indices), held for the next step (negative: out)."""
        setter = self._solver.node_set_total_inflow
        ff = self.ff
        for k in range(nodes.size):
            setter(int(nodes[k]), float(rates_m3_s[k]) / ff)

    def set_outfall_stage(self, node: int, level_m: float) -> None:
        self._solver.outfall_set_stage(int(node), float(level_m))

    def step(self) -> None:
        """Advance exactly one routing step of ``step_s`` seconds."""
        elapsed = self._solver.swmm_step()
        self._steps += 1
        self.t = self._steps * self.step_s
        if elapsed <= 0.0 or abs(elapsed * 86400.0 - self.t) > 1e-3:
            raise StabilityError(f"{self.network.source}: SWMM advanced to {elapsed * 86400.0:.4f} s instead of "
                                 f"{self.t:.4f} s (step {self._steps}); the coupling needs fixed routing steps.")

    def node_results(self, nodes: np.ndarray, what: str, out: np.ndarray) -> np.ndarray:
        """``out[k]`` = result ``what`` (HEAD m, DEPTH m, VOLUME m³, FLOOD m³/s, TOTAL_INFLOW m³/s,
        LATERAL_INFLOW m³/s) of node ``nodes[k]``."""
        kind = self._se.NodeResult[what]
        get = self._solver.node_get_result
        factor = self.ff if what in ("FLOOD", "TOTAL_INFLOW", "LATERAL_INFLOW", "TOTAL_OUTFLOW", "LOSSES") else 1.0
        for k in range(nodes.size):
            out[k] = get(int(nodes[k]), kind) * factor
        return out

    def link_results(self, links: np.ndarray, what: str, out: np.ndarray) -> np.ndarray:
        """``out[k]`` = result ``what`` (FLOW m³/s, DEPTH m, VOLUME m³, SETTING) of link ``links[k]``."""
        kind = self._se.LinkResult[what]
        get = self._solver.link_get_result
        factor = self.ff if what == "FLOW" else 1.0
        for k in range(links.size):
            out[k] = get(int(links[k]), kind) * factor
        return out

    def link_full_flow(self, link: int) -> float:
        """Manning full-pipe flow of a conduit [m³/s] as SWMM computes it (``swmm_LINK_FULLFLOW``)."""
        import ctypes

        from swmm.toolkit import solver
        lib = ctypes.CDLL(str(Path(solver.__file__).with_name("libswmm5.so")))
        lib.swmm_getValue.restype = ctypes.c_double
        return float(lib.swmm_getValue(solver.swmm_LINK_FULLFLOW, int(link))) * self.ff

    def stored_volume(self) -> float:
        """Water in the network now [m³]: every node's and every link's volume."""
        s, se = self._solver, self._se
        v = sum(s.node_get_result(k, se.NodeResult.VOLUME) for k in range(len(self.node_names)))
        v += sum(s.link_get_result(k, se.LinkResult.VOLUME) for k in range(len(self.link_names)))
        return float(v)

    def save_hotstart(self, path) -> None:
        self._solver.swmm_hotstart(self._se.HotstartFile.SAVE, str(path))

    # ---------------------------------------------------------------- end
    def finish(self) -> dict:
        """End the SWMM run and return its continuity errors [%] (SWMM's own report: runoff, flow
        routing, quality); idempotent."""
        if self._open and not self.ended:
            self._solver.swmm_end()
            self.ended = True
            self._errors = list(self._solver.swmm_get_mass_balance())
        errors = getattr(self, "_errors", [math.nan] * 3)
        return {"flow_routing_continuity_error_pct": float(errors[1])}

    def close(self) -> None:
        """End and close SWMM and release the process's engine (safe to call twice)."""
        try:
            if self._open:
                try:
                    self.finish()
                    self._solver.swmm_report()
                finally:
                    self._solver.swmm_close()
                    self._open = False
        finally:
            if self._lock is not None:
                self._lock.__exit__(None, None, None)
                self._lock = None

    def __del__(self):
        with contextlib.suppress(Exception):
            self.close()
