"""Running a sweep's members on dask.distributed: one task per member, each writing its own run folder;
failures are reported per member and never stop the others."""

from __future__ import annotations

import json
import os
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import FloodsimError, InputDataError, OutputError, StabilityError
from ..io import runfolder as rf
from ..io.atomic import atomic_path
from .members import Member, changed_inputs, expand_members, input_hashes
from .metrics import check_building_uses, damage_model, member_metrics
from .risk import risk_outputs, storm_descriptions
from .spec import SweepSpec, load_sweep
from .tables import MATRIX_CSV, ead_table, gather_table, matrix_table, write_tables


def process_member(member: Member, out_root: str, damage=None) -> dict:
    """Run one member (unless its folder holds a complete run of the same inputs) and return its table
    row. Never raises: a failure is returned as ``status = "failed"`` with the error message. Runs on a
    Dask worker.

    A member's folder is complete when it has ``summary.json`` (written last by the runner) and a
    ``member.json`` whose ``fingerprint`` equals the member's current one (:attr:`Member.fingerprint`:
    the scenario plus the bytes of every data file it names). A complete folder is skipped; one whose
    inputs changed since is run again (status ``rerun (inputs changed: ...)``).

    ``damage``: the :class:`~floodsim.analysis.damage.DamageModel` built by :func:`run_sweep` (or
    :class:`~floodsim.sweep.spec.DamageSettings` to build it from).
    """
    from ..run.runner import run_scenario

    run_dir = Path(out_root) / rf.SWEEP_MEMBERS_DIR / member.id
    row = {"member": member.id, "label": member.label, "design": member.design, "status": "ok", "error": "",
           "error_kind": "",
           "run_dir": str(run_dir), **{f"param {k}": v for k, v in member.params.items()}}
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        fingerprint = member.fingerprint
        stored = read_member_record(run_dir)
        complete = rf.read_summary(run_dir) is not None
        if complete and stored.get("fingerprint") == fingerprint:
            row["status"] = "skipped (complete)"
        else:
            if complete:
                row["status"] = _rerun_status(stored, member.inputs)
            for name in (rf.SUMMARY_JSON, rf.MEMBER_JSON, rf.MEMBER_ERROR_TXT):   # stale: not complete now
                (run_dir / name).unlink(missing_ok=True)
            run_scenario(member.scenario, out_dir=run_dir, write=True)
            with atomic_path(run_dir / rf.MEMBER_JSON) as tmp:      # last: marks the run as of these inputs
                tmp.write_text(json.dumps({"id": member.id, "label": member.label,
                                           "overrides": member.overrides, "fingerprint": fingerprint,
                                           "inputs": member.inputs}, indent=2, default=str))
        row.update(member_metrics(run_dir, member.scenario, damage))
    except Exception as exc:  # noqa: BLE001 - every failure is reported per member, never raised
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}".splitlines()[0][:500],
                   error_kind=_error_kind(exc))
        try:   # the whole message and traceback, next to the member's (incomplete) results
            with atomic_path(run_dir / rf.MEMBER_ERROR_TXT) as tmp:
                tmp.write_text(f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()}")
        except OutputError:
            pass
    row["task_wall_s"] = time.perf_counter() - t0
    row["task_cpu_s"] = time.process_time() - c0      # CPU of the worker process during the task
    return row


def read_member_record(run_dir: Path) -> dict:
    """The member's ``member.json`` (id, label, overrides, fingerprint, inputs); {} when absent or
    unreadable."""
    try:
        data = json.loads((Path(run_dir) / rf.MEMBER_JSON).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _rerun_status(stored: dict, inputs: dict) -> str:
    if not stored.get("fingerprint") or not isinstance(stored.get("inputs"), dict):
        return "rerun (inputs not recorded)"
    names = list(dict.fromkeys(k.split(" ", 1)[-1] for k in changed_inputs(stored["inputs"], inputs)))
    shown = ", ".join(names[:3]) + (f", +{len(names) - 3} more" if len(names) > 3 else "")
    return f"rerun (inputs changed: {shown or 'unknown'})"


def _error_kind(exc: BaseException) -> str:
    if isinstance(exc, StabilityError):
        return "unstable"
    return "input" if isinstance(exc, FloodsimError) else "bug"


@dataclass
class SweepResult:
    """The gathered outputs of a sweep."""

    table: pd.DataFrame
    ead: pd.DataFrame | None
    files: dict[str, Path]
    wall_s: float
    matrix: pd.DataFrame | None = None
    """Designs × return periods with % change against the member without measures (``matrix.csv``)."""
    service_goal: pd.DataFrame | None = None
    """Per design: area breaking the service goal, buildings next to it, pass/fail."""
    notes: list = None
    """Lines for the printed output (matrix reference, likelihood bands, first flooding, service goal)."""


def make_client(scheduler: str | None = None, workers: int | None = None):
    """A Dask client: to ``scheduler`` (an address such as ``tcp://10.0.0.5:8786``) or to a new local
    cluster of ``workers`` processes with one thread each and ``NUMBA_NUM_THREADS=1`` (loopback only,
    no dashboard). Returns ``(client, cluster_or_None)``; close both when done."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="20s"), None
        except OSError as exc:
            raise OutputError(f"cannot reach the Dask scheduler at {scheduler} ({exc}); start it with "
                              "`dask scheduler` or omit --scheduler for a local cluster.") from None
    n = workers or os.cpu_count() or 1
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, env={"NUMBA_NUM_THREADS": "1"})
    return Client(cluster), cluster


def prepare_sweep(spec: SweepSpec):
    """Check everything a sweep needs before any member runs: every member's scenario (validated), every
    data file the members name (read once, fingerprinted for resume), the damage curves and costs, and
    the building uses. Writes nothing.

    Returns
    -------
    (list of Member, DamageModel)
        The members, with their input hashes, and the damage model their metrics use.

    Raises
    ------
    ScenarioError, InputDataError
        The first problem found, naming the file and the fix.
    """
    members = expand_members(spec)
    cache: dict = {}
    for m in members:
        try:
            m.inputs = input_hashes(m.scenario, cache)
        except InputDataError as exc:
            raise InputDataError(f"member {m.id} ({m.described or m.label}): {exc}") from None
    damage = damage_model(spec.damage, spec.source)
    check_building_uses(damage, [m.scenario for m in members], spec.source)
    return members, damage


def run_sweep(spec, out_dir=None, scheduler: str | None = None, workers: int | None = None,
              progress: bool = True, client=None) -> SweepResult:
    """Run every member of a sweep on Dask and gather the table.

    Parameters
    ----------
    spec : SweepSpec or path
        The sweep (file).
    out_dir : path, optional
        Output folder (default ``outputs/<sweep file name>``); members go to ``out_dir/members/<id>``.
    scheduler : str, optional
        Address of an existing Dask scheduler; default a :class:`~dask.distributed.LocalCluster`.
    workers : int, optional
        Worker processes of the local cluster (default: the number of cores).
    progress : bool
        Show a progress bar over finished members (stderr).
    client : dask.distributed.Client, optional
        Use this client (and leave it open) instead of making one.
    """
    from dask.distributed import as_completed
    from tqdm import tqdm

    spec = spec if isinstance(spec, SweepSpec) else load_sweep(spec)
    members, damage = prepare_sweep(spec)        # every input checked before anything is written
    stem = spec.source.stem if spec.source else "sweep"
    out = Path(out_dir) if out_dir is not None else Path("outputs") / stem
    try:
        (out / rf.SWEEP_MEMBERS_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out}: output folder is not writable ({exc.strerror}); choose another with "
                          "--out.") from None
    t0 = time.perf_counter()
    own = client is None
    cluster = None
    if own:
        client, cluster = make_client(scheduler, workers or min(os.cpu_count() or 1, len(members)))
    rows = []
    try:
        futures = {client.submit(process_member, m, str(out.resolve()), damage, pure=False,
                                 key=f"floodsim-member-{m.id}-{time.time_ns()}"): m for m in members}
        bar = tqdm(total=len(futures), unit="member", disable=not progress, desc="sweep")
        for fut in as_completed(futures):
            m = futures[fut]
            try:
                rows.append(fut.result())
            except Exception as exc:  # the worker itself died (KilledWorker) or the task was lost
                rows.append({"member": m.id, "label": m.label, "design": m.design, "status": "failed",
                             "error": f"{type(exc).__name__}: {exc}".splitlines()[0][:500],
                             "error_kind": "bug",
                             "run_dir": str(out / rf.SWEEP_MEMBERS_DIR / m.id),
                             **{f"param {k}": v for k, v in m.params.items()}})
            bar.update(1)
        bar.close()
    finally:
        if own:
            client.close()
            if cluster is not None:
                cluster.close()
    table = gather_table(rows, members)
    storms = storm_descriptions(members)
    if storms:
        table["storm"] = table["member"].map(storms).fillna("")
    ead = ead_table(table, spec.ead)
    files = write_tables(table, ead, out, spec)
    notes = []
    matrix, note = matrix_table(table, members)
    if matrix is not None:
        with atomic_path(out / MATRIX_CSV) as tmp:
            matrix.to_csv(tmp, index=False)
        files["matrix"] = out / MATRIX_CSV
        notes.append(f"matrix.csv: designs × return periods; {note}")
    risk_files, lines, goal = risk_outputs(table, members, out, spec, damage)
    files.update(risk_files)
    notes += lines
    return SweepResult(table, ead, files, time.perf_counter() - t0, matrix, goal, notes)
