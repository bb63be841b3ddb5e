"""Checkpoints: save a run's full state to one file and resume from it, bit for bit.

A checkpoint is a single uncompressed ``.npz`` file written atomically (temporary name, ``fsync``,
rename; :func:`floodsim.io.atomic.atomic_path`), so a run killed while writing leaves the previous
checkpoint intact. It holds:

* every array the next step reads (:meth:`floodsim.core.simulation.Simulation.get_state`: depths, face
  discharges, running maxima, cumulative infiltration, band flags and buffers), the time, the step
  count, the volume balance accumulators and each operator's state (tanks, tunnels, gates);
* the outputs recorded so far (:meth:`floodsim.run.recorder.Recorder.get_state`): times, the balance,
  the fine series and the number of depth frames. The frames themselves are not in the ``.npz`` (that
  would load them all): they are copied, atomically and before the ``.npz`` is written, to a NetCDF file
  beside it (``checkpoint.npz`` → ``checkpoint.frames.nc``, :func:`frames_file`); a resume copies the
  first ``frames`` of them, one at a time, into the run's new scratch file. (A kill between the two
  renames leaves a frames file one checkpoint ahead of the ``.npz``: its first frames are the same);
* JSON metadata (array ``__meta__``): the format version, the run's duration and output interval, the
  numba thread count, and a SHA-256 **fingerprint** of the model's inputs (terrain, roughness, soil,
  rain, boundaries, inflows, measures, numerical settings and the initial state), so a checkpoint is
  refused when anything it was computed from has changed.

Forcing needs no cursor: rain, inflows and boundary levels are functions of time. Resuming restores
the state into a freshly built model and continues the time loop where it stopped; with the same
inputs, floodsim version and thread count the results are identical to an uninterrupted run (tested
in ``tests/integration/test_checkpoint.py``).

Checkpoints are taken after a step when either interval has passed: ``every_wall_s`` seconds of wall
clock or ``every_sim_s`` seconds of simulated time.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import inspect
import json
import os
import time
from pathlib import Path

import numpy as np

from ..errors import InputDataError, OutputError
from ..io.atomic import atomic_path
from ..io.runfolder import CHECKPOINT_NPZ

#: Bumped whenever the layout of a checkpoint changes; other versions are refused.
#: 3: the depth frames in a NetCDF file beside the ``.npz`` (:func:`frames_file`), no longer in it.
FORMAT_VERSION = 3

#: Default file name, in the run's output folder.
DEFAULT_NAME = CHECKPOINT_NPZ


# ---------------------------------------------------------------------------- fingerprint
def _feed(h, obj, seen: set) -> None:
    """Feed a deterministic description of ``obj`` into the hash ``h`` (no memory addresses)."""
    if obj is None or isinstance(obj, (bool, int, float, str, np.generic)):
        h.update(f"{type(obj).__name__}:{obj!r};".encode())
    elif isinstance(obj, enum.Enum):
        h.update(f"enum:{obj.value!r};".encode())
    elif isinstance(obj, np.ndarray):
        a = np.ascontiguousarray(obj)
        h.update(f"nd:{a.dtype.str}:{a.shape};".encode())
        h.update(a.tobytes())
    elif isinstance(obj, Path):
        h.update(f"path:{obj};".encode())
    elif isinstance(obj, dict):
        h.update(b"{")
        for k in sorted(obj, key=str):
            _feed(h, str(k), seen)
            _feed(h, obj[k], seen)
        h.update(b"}")
    elif isinstance(obj, (list, tuple)):
        h.update(f"seq:{len(obj)}[".encode())
        for v in obj:
            _feed(h, v, seen)
        h.update(b"]")
    elif hasattr(obj, "to_wkt"):        # a CRS
        h.update(f"crs:{obj.to_wkt()};".encode())
    elif hasattr(obj, "fingerprint_items"):   # an object that says what its results depend on (a sewer)
        _feed(h, obj.fingerprint_items(), seen)
    elif id(obj) in seen:                # a back-reference (a measure's network)
        h.update(f"ref:{type(obj).__name__};".encode())
    elif dataclasses.is_dataclass(obj) or hasattr(obj, "__dict__"):
        seen.add(id(obj))
        h.update(f"obj:{type(obj).__module__}.{type(obj).__qualname__}".encode())
        fields = (vars(obj) if hasattr(obj, "__dict__")
                  else {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)})
        _feed(h, {k: v for k, v in fields.items() if not inspect.isroutine(v)}, seen)
    else:
        h.update(f"other:{type(obj).__qualname__};".encode())


def fingerprint(sim, duration: float, output_interval: float | None) -> str:
    """SHA-256 of everything a run's results depend on, taken before the first step.

    Parameters
    ----------
    sim : Simulation
        A freshly built simulation (not yet stepped; operators bound).
    duration, output_interval : float
        The run's length and output interval [s].
    """
    h = hashlib.sha256()
    g = sim.grid
    _feed(h, {"format": FORMAT_VERSION, "duration": float(duration),
              "interval": None if output_interval is None else float(output_interval),
              "z": g.z, "transform": tuple(g.transform), "crs": g.crs, "params": sim.params,
              "active": sim.active, "blocked": sim.blocked, "manning": sim.manning,
              "roof_rain": sim.roof_rain, "infiltration": sim._infil, "rainfall": sim.rainfall,
              "boundaries": sim.boundaries, "faces": sim.faces, "inflows": sim.inflows,
              "h0": sim.state.h, "operators": [op for op in sim.operators]}, set())
    return h.hexdigest()


def frames_file(path) -> Path:
    """The depth frames of checkpoint ``path``: ``checkpoint.npz`` → ``checkpoint.frames.nc`` beside it."""
    path = Path(path)
    return path.with_name(f"{path.stem}.frames.nc")


def remove(path) -> None:
    """Delete checkpoint ``path`` and its frames file (those that exist)."""
    for p in (Path(path), frames_file(path)):
        p.unlink(missing_ok=True)


# ---------------------------------------------------------------------------- state tree <-> npz
def _flatten(tree, prefix: str, arrays: dict):
    """Replace the arrays of a nested tree by ``{"__npz__": key}`` (arrays go into ``arrays``)."""
    if isinstance(tree, np.ndarray):
        key = f"a{len(arrays)}:{prefix}"
        arrays[key] = tree
        return {"__npz__": key}
    if isinstance(tree, dict):
        return {str(k): _flatten(v, f"{prefix}/{k}", arrays) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [_flatten(v, f"{prefix}/{k}", arrays) for k, v in enumerate(tree)]
    if isinstance(tree, (np.bool_, bool)):
        return bool(tree)
    if isinstance(tree, np.integer):
        return int(tree)
    if isinstance(tree, np.floating):
        return float(tree)
    return tree


def _unflatten(tree, arrays):
    if isinstance(tree, dict):
        if set(tree) == {"__npz__"}:
            return arrays[tree["__npz__"]]
        return {k: _unflatten(v, arrays) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_unflatten(v, arrays) for v in tree]
    return tree


def save(path, sim, recorder, fp: str, duration: float, output_interval: float | None) -> Path:
    """Write a checkpoint of ``sim`` and ``recorder`` to ``path`` atomically (fsync before rename)."""
    import numba

    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    tree = _flatten({"simulation": sim.get_state(), "recorder": recorder.get_state()}, "", arrays)
    try:   # the frames first: a kill before the .npz's rename leaves them ahead of it, which resume allows
        saved = recorder.save_frames(frames_file(path))
    except OSError as exc:
        saved, error = None, exc
    else:
        error = None
    meta = {"format_version": FORMAT_VERSION, "fingerprint": fp, "duration_s": float(duration),
            "frames_file": None if saved is None else saved.name,
            "output_interval_s": None if output_interval is None else float(output_interval),
            "t_s": float(sim.state.t), "steps": int(sim.state.steps),
            "numba_threads": int(numba.get_num_threads()), "written_unix": time.time(), "state": tree}
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    try:
        if error is not None:
            raise error
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:     # a full disk, a quota, a read-only file system: the last checkpoint stays
        import shutil

        try:
            free = f"; {shutil.disk_usage(path.parent).free / 2**20:,.0f} MiB free"
        except OSError:
            free = ""
        raise OutputError(f"{path}: cannot write the checkpoint ({exc.strerror or exc}{free}); the previous "
                          "checkpoint, if any, is intact. Free some space or choose another folder with "
                          "--out.") from None
    return path


def read_meta(path) -> dict | None:
    """The metadata of a checkpoint without its arrays (None when the file is unreadable)."""
    try:
        with np.load(Path(path), allow_pickle=False) as z:
            meta = json.loads(z["__meta__"].tobytes().decode())
    except Exception:  # noqa: BLE001 - truncated or foreign file
        return None
    if not isinstance(meta, dict):
        return None
    meta.pop("state", None)
    return meta


def read(path) -> tuple[dict, dict]:
    """(metadata, state tree) of a checkpoint file; arrays are loaded into memory."""
    path = Path(path)
    if not path.is_file():
        raise InputDataError(f"{path}: no checkpoint to resume from; run without --resume to start from "
                             "the beginning.")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(arrays.pop("__meta__").tobytes().decode())
    except Exception as exc:  # noqa: BLE001 - truncated or foreign file: zipfile, json, numpy raise various types
        raise InputDataError(f"{path}: not a readable floodsim checkpoint ({type(exc).__name__}: {exc}); "
                             "delete it, or run with --restart to discard it and start again.") from None
    return meta, _unflatten(meta.pop("state"), arrays)


def restore(path, sim, recorder, fp: str, duration: float, output_interval: float | None) -> dict:
    """Load a checkpoint into a freshly built ``sim`` and ``recorder``; return its metadata.

    Raises
    ------
    InputDataError
        If the file is missing, unreadable, of another format version, or was written for other
        inputs or another run length / output interval.
    """
    import numba

    path = Path(path)
    meta, tree = read(path)
    fix = "run with --restart (instead of --resume) to discard it and start again"
    if meta.get("format_version") != FORMAT_VERSION:
        raise InputDataError(f"{path}: checkpoint format version {meta.get('format_version')} != "
                             f"{FORMAT_VERSION} of this floodsim; {fix}.")
    if meta["fingerprint"] != fp:
        raise InputDataError(f"{path}: the checkpoint was written for different inputs (scenario, data or "
                             f"settings changed: fingerprint {meta['fingerprint'][:12]} != {fp[:12]}); "
                             f"{fix}.")
    interval = None if output_interval is None else float(output_interval)
    if meta["duration_s"] != float(duration) or meta["output_interval_s"] != interval:
        raise InputDataError(f"{path}: the checkpoint is of a run of {meta['duration_s']} s with outputs every "
                             f"{meta['output_interval_s']} s, not {duration} s / {interval} s; {fix}.")
    sim.set_state(tree["simulation"])
    frames = meta.get("frames_file")
    recorder.set_state(tree["recorder"], frames_file=frames_file(path) if frames is None else path.with_name(frames))
    meta["thread_mismatch"] = meta.get("numba_threads") != numba.get_num_threads()
    return meta


class Checkpointer:
    """Call after each step: writes a checkpoint when a wall-clock or simulated interval has passed.

    Parameters
    ----------
    path : str or Path
        Checkpoint file.
    sim, recorder : Simulation, Recorder
        The run to save.
    fp : str
        :func:`fingerprint` of the run's inputs.
    duration, output_interval : float
        The run's length and output interval [s] (saved, checked on resume).
    every_wall_s : float, optional
        Wall-clock seconds between checkpoints.
    every_sim_s : float, optional
        Simulated seconds between checkpoints.
    """

    def __init__(self, path, sim, recorder, fp, duration, output_interval, every_wall_s=None,
                 every_sim_s=None):
        for name, v in (("checkpoint every (wall clock)", every_wall_s), ("checkpoint every (simulated)",
                                                                           every_sim_s)):
            if v is not None and not v > 0:
                raise InputDataError(f"{name}: must be > 0 s, got {v}.")
        self.path = Path(path)
        self.sim, self.recorder, self.fp = sim, recorder, fp
        self.duration, self.output_interval = duration, output_interval
        self.every_wall_s, self.every_sim_s = every_wall_s, every_sim_s
        self._wall_next = time.monotonic() + every_wall_s if every_wall_s else np.inf
        self._sim_next = (sim.state.t + every_sim_s) if every_sim_s else np.inf
        self.written = 0
        self.write_seconds = 0.0

    def __call__(self) -> None:
        t = self.sim.state.t
        now = time.monotonic()
        if now < self._wall_next and t < self._sim_next - 1e-9:
            return
        self.save()
        if self.every_wall_s:
            self._wall_next = time.monotonic() + self.every_wall_s
        if self.every_sim_s:
            while self._sim_next <= t + 1e-9:
                self._sim_next += self.every_sim_s

    def save(self) -> Path:
        t0 = time.perf_counter()
        save(self.path, self.sim, self.recorder, self.fp, self.duration, self.output_interval)
        self.written += 1
        self.write_seconds += time.perf_counter() - t0
        return self.path




def prepare_run(sim, duration: float, output_interval: float | None, path, *, every_wall_s=None,
                every_sim_s=None, resume: bool = False, series=None, frames: bool = True, scratch=None):
    """Set up checkpointing (and resuming) for ``sim.run``: return ``(recorder, after_step, info)``.

    ``recorder`` and ``after_step`` go to :meth:`floodsim.core.simulation.Simulation.run`; ``after_step`` is
    None when no checkpoints are wanted. With ``resume`` the state in ``path`` is restored first
    (refused if it does not match the inputs). ``frames`` and ``scratch`` go to the
    :class:`~floodsim.run.recorder.Recorder` (keep depth frames; where their scratch folder goes).
    ``info`` is a dict (``resumed_from_s``,
    ``thread_mismatch``, ``checkpointer``) for reports.
    """
    from .recorder import Recorder

    recorder = Recorder(sim, series, frames=frames, scratch=scratch)
    info: dict = {"resumed_from_s": None, "thread_mismatch": False, "checkpointer": None}
    wanted = every_wall_s is not None or every_sim_s is not None
    if not (resume or wanted):
        return recorder, None, info
    fp = fingerprint(sim, duration, output_interval)
    if resume:
        meta = restore(path, sim, recorder, fp, duration, output_interval)
        info.update(resumed_from_s=meta["t_s"], thread_mismatch=meta["thread_mismatch"])
    after_step = None
    if wanted:
        after_step = Checkpointer(path, sim, recorder, fp, duration, output_interval, every_wall_s, every_sim_s)
        info["checkpointer"] = after_step
    return recorder, after_step, info


__all__ = [
    "DEFAULT_NAME",
    "FORMAT_VERSION",
    "Checkpointer",
    "fingerprint",
    "frames_file",
    "prepare_run",
    "read",
    "read_meta",
    "remove",
    "restore",
    "save",
]
