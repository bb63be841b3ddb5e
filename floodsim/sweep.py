"""Design sweeps: many variants of one scenario, run on dask.distributed, gathered into one table.

A sweep file (TOML) names a base scenario and the parameters to vary::

    base = "../merewether_cloudburst.toml"        # relative to this file; may use `extends`
    [grid]                                         # every combination of the listed values
    "rainfall.return_period_yr" = [5, 20, 100]
    "rainfall.climate_factor" = [1.0, 1.3]

    [[members]]                                    # and/or explicit members (tables of overrides)
    label = "small tank"
    "measures.0.volume_m3" = 400.0

Keys are dotted paths into the scenario; list items are picked by index (``measures.0.volume_m3``,
``boundaries.1.slope``). Unquoted dotted keys (TOML tables) are flattened into the same paths. An
unknown path stops the sweep before anything runs, with a message naming it. With both ``[grid]`` and
``[[members]]`` every member is combined with every grid point (where both set a key, the member's value
wins). ``label`` names a member in the table.

Each member is the base scenario's data with the overrides applied, validated again as a whole
(paths in override values are relative to the sweep file). Members run as separate tasks on a Dask
cluster, each writing its own run folder ``OUT/members/<id>/`` through
:func:`floodsim.runner.run_scenario`. The id is the member's position plus a hash of its overrides, so a
killed sweep started again skips every member whose folder holds a complete ``summary.json`` (written
last and atomically by the runner) and reruns only the rest; editing a member's overrides gives it a
new id. A member that fails is reported with its error in the table (the full message and traceback
go to its folder's ``error.txt``); the others go on.

**Threads.** The local cluster has N worker *processes* with one thread each, and each worker
process starts with ``NUMBA_NUM_THREADS=1``: the members already use every core between them, and
numba's own threads on top would oversubscribe the (shared, 2-core) machine and slow every member
down. On an existing cluster, start the workers the same way (see the README).

The gathered table (one row per member) holds the parameters and, per member: flooded buildings,
hazard area, maximum stored volume in the measures, peak outflow, the volume-balance error and the
building damage; see :data:`METRICS`. When the return period varies, the expected annual damage of
each design (the other parameters held fixed) and its benefit against the first design are added.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import time
import traceback
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import FloodsimError, OutputError, ScenarioError, StabilityError
from .io.atomic import atomic_path

#: Metric columns of the gathered table: name -> (unit, meaning).
METRICS: dict[str, tuple[str, str]] = {
    "flooded_buildings": ("1", "buildings with max depth ≥ flood threshold at a wall (floodsim.exposure)"),
    "hazard_area_m2": ("m2", "area of hazard class moderate or worse (HR ≥ 0.75, floodsim.hazard)"),
    "max_extent_area_m2": ("m2", "area that was ever ≥ flood threshold deep"),
    "max_depth_m": ("m", "largest depth anywhere"),
    "max_stored_volume_m3": ("m3", "peak volume held by each measure store (ponds, tanks, tunnels, ...), "
                                   "summed over the stores"),
    "peak_outflow_m3_s": ("m3 s-1", "peak outflow over the open boundaries (mean over an output interval)"),
    "volume_error_relative": ("1", "relative closure error of the volume balance"),
    "damage_eur": ("EUR2010", "damage of the flooded buildings (depth ≥ flood threshold at a wall), JRC "
                                       "depth-damage curves (floodsim.damage)"),
}

#: Metrics where less is better (the ranking sorts these ascending).
_LOWER_IS_BETTER = set(METRICS) - {"max_stored_volume_m3"}
RETURN_PERIOD_KEY = "rainfall.return_period_yr"


# --------------------------------------------------------------------------------------------- spec
class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DamageSettings(_Strict):
    """How buildings are valued (see :mod:`floodsim.damage`)."""

    use_field: str = Field("use", description="Building attribute holding the use (residential, commercial).")
    default_use: str = Field("residential", description="Use of a building without the attribute.")
    country: str = Field("EU", description="ISO3 code of the country whose maximum damages apply, or EU.")
    curves: Path | None = Field(None, description="Depth-damage CSV (default: the shipped JRC Europe "
                                                  "curves).")
    costs: Path | None = Field(None, description="Construction-cost CSV (default: the shipped JRC table).")


class EADSettings(_Strict):
    """The tails rule of the expected annual damage (see :func:`floodsim.damage.expected_annual_damage`)."""

    zero_damage_return_period_yr: float | None = Field(None, gt=0)
    rare_tail: Literal["constant", "none"] = "constant"


class SweepSpec(_Strict):
    """A sweep file, validated (unknown keys rejected)."""

    name: str | None = None
    base: Path = Field(description="Base scenario file, relative to the sweep file.")
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="Parameter path -> values; every "
                                       "combination is a member.")
    members: list[dict[str, Any]] = Field(default_factory=list, description="Explicit members: tables of "
                                          "parameter path -> value (and an optional label).")
    rank_by: str = Field("damage_eur", description="Metric the printed comparison is ranked by.")
    damage: DamageSettings = DamageSettings()
    ead: EADSettings = EADSettings()
    source: Path | None = None

    @field_validator("grid", mode="before")
    @classmethod
    def _flatten_grid(cls, value):
        if not isinstance(value, dict):
            return value
        flat = _flatten(value, stop=lambda v: not isinstance(v, dict))
        empty = [k for k, v in flat.items() if isinstance(v, list) and not v]
        if empty:
            raise ValueError(f"grid parameter(s) {', '.join(empty)} have no values")
        return {k: (v if isinstance(v, list) else [v]) for k, v in flat.items()}

    @field_validator("members", mode="before")
    @classmethod
    def _flatten_members(cls, value):
        if not isinstance(value, list):
            return value
        return [_flatten(m) if isinstance(m, dict) else m for m in value]


def _flatten(table: dict, prefix: str = "", stop=lambda v: not isinstance(v, dict)) -> dict:
    out = {}
    for key, value in table.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and not stop(value):
            out.update(_flatten(value, path, stop))
        else:
            out[path] = value
    return out


def load_sweep(path) -> SweepSpec:
    """Read and validate a sweep file (TOML); relative paths resolve from the file's folder.

    Raises
    ------
    ScenarioError
        Unreadable file, unknown keys, nothing to vary, or an unknown parameter path.
    """
    import tomllib

    from .scenario.load import format_validation_error

    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"{path}: sweep file not found.")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML ({exc}).") from None
    try:
        spec = SweepSpec.model_validate({**data, "source": path.resolve()})
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(path, exc)) from None
    folder = path.resolve().parent
    damage = spec.damage.model_copy(update={k: folder / v for k, v in (("curves", spec.damage.curves),
                                                                        ("costs", spec.damage.costs))
                                            if v is not None and not v.is_absolute()})
    spec = spec.model_copy(update={"base": folder / spec.base, "damage": damage})
    if not spec.grid and not spec.members:
        raise ScenarioError(f"{path}: nothing to vary; add a [grid] table (\"path.to.field\" = [values]) or "
                            "[[members]] tables of overrides.")
    if spec.rank_by not in METRICS:
        raise ScenarioError(f"{path}: rank_by: unknown metric '{spec.rank_by}'; use one of "
                            f"{', '.join(METRICS)}.")
    for key in [*spec.grid, *(k for m in spec.members for k in m if k != "label")]:
        if problem := check_parameter_path(key):
            raise ScenarioError(f"{path}: unknown parameter path '{key}': {problem}.")
    return spec


# ------------------------------------------------------------------------------- parameter paths
def check_parameter_path(path: str, annotation=None) -> str | None:
    """None if the dotted ``path`` can name a scenario field, else what is wrong (for messages).

    Tables are followed by field name, tuples by integer index; for a union (e.g. the measure types)
    the path is accepted if any member type has it.
    """
    from .scenario.models import Scenario

    return _walk(Scenario if annotation is None else annotation, path.split("."), "")


def _walk(annotation, parts: list[str], where: str) -> str | None:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _walk(typing.get_args(annotation)[0], parts, where)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        problems = [_walk(a, parts, where) for a in options]
        return None if any(p is None for p in problems) else problems[0]
    if not parts:
        return None
    head, rest = parts[0], parts[1:]
    here = f"{where}.{head}" if where else head
    if origin in (tuple, list):
        if not head.isdigit():
            return f"'{where}' is a list; pick an item by its index ({where}.0...)"
        return _walk(typing.get_args(annotation)[0], rest, here)
    if origin is dict or annotation is dict or annotation is Any:
        return None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        fields = annotation.model_fields
        if head not in fields:
            return (f"{annotation.__name__} has no field '{head}'"
                    + (f" (at '{where}')" if where else "") + f"; it has {', '.join(fields)}")
        f = fields[head]
        ann = typing.Annotated[(f.annotation, *f.metadata)] if f.metadata else f.annotation
        return _walk(ann, rest, here)
    return f"'{where}' is a value, not a table or list"


def _mutable(obj):
    if isinstance(obj, dict):
        return {k: _mutable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_mutable(v) for v in obj]
    return obj


def apply_overrides(data: dict, overrides: dict[str, Any]) -> dict:
    """A copy of raw scenario ``data`` with each dotted-path override set (intermediate tables are
    created when absent)."""
    out = _mutable(data)
    for path, value in overrides.items():
        node = out
        parts = path.split(".")
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                k = int(part)
                if k >= len(node):
                    raise ScenarioError(f"parameter '{path}': '{'.'.join(parts[:i]) or path}' has only "
                                        f"{len(node)} item(s) in the base scenario (index {k}).")
                if last:
                    node[k] = value
                else:
                    node = node[k]
            else:
                if last:
                    node[part] = value
                else:
                    if node.get(part) is None:
                        node[part] = {}
                    node = node[part]
    return out


# ----------------------------------------------------------------------------------------- members
@dataclass
class Member:
    """One scenario of the sweep."""

    id: str
    label: str
    overrides: dict
    scenario: Any = field(repr=False)
    design: str = ""
    """The member's label without the return period: members of one design share it (EAD)."""


def _describe(overrides: dict) -> str:
    return ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in overrides.items())


def expand_members(spec: SweepSpec) -> list[Member]:
    """Every member of the sweep, built from the base scenario and validated.

    Raises
    ------
    ScenarioError
        The base scenario is invalid, an override index is out of range, or a member's scenario does
        not validate (all of a member's problems, naming the sweep file and the member).
    """
    from .scenario.load import format_validation_error, load_scenario
    from .scenario.models import Output, Scenario

    base = load_scenario(spec.base)
    data = base.model_dump(mode="python", exclude_unset=True, exclude={"source", "extends"})
    grid_keys = list(spec.grid)
    grid_points = [dict(zip(grid_keys, combo)) for combo in itertools.product(*spec.grid.values())] or [{}]
    explicit = spec.members or [{}]
    folder = spec.source.parent if spec.source else Path.cwd()
    members = []
    for index, (m, g) in enumerate(itertools.product(explicit, grid_points)):
        overrides = {**g, **{k: v for k, v in m.items() if k != "label"}}     # the member's own value wins
        digest = hashlib.sha1(json.dumps(overrides, sort_keys=True, default=str).encode()).hexdigest()[:8]
        mid = f"m{index:03d}-{digest}"
        design = str(m.get("label", "")) or _describe({k: v for k, v in overrides.items()
                                                       if k != RETURN_PERIOD_KEY})
        label = ", ".join(p for p in (str(m.get("label", "")), _describe(g)) if p) or _describe(overrides)
        raw = apply_overrides(data, overrides)
        raw["name"] = f"{base.name} [{mid}]"
        if "compare_to_baseline" in Output.model_fields and "output.compare_to_baseline" not in overrides:
            # a sweep's baseline is a member of its own; do not run it again inside every member
            raw.setdefault("output", {})["compare_to_baseline"] = False
        try:
            sc = Scenario.model_validate(raw, context={"base_dir": folder})
        except ValidationError as exc:
            where = spec.source or Path("sweep")
            raise ScenarioError(f"member {mid} ({label}):\n"
                                + format_validation_error(where, exc)) from None
        members.append(Member(mid, label, overrides, sc.model_copy(update={"source": base.source}), design))
    return members


def _complete_summary(run_dir: Path) -> dict | None:
    try:
        summary = json.loads((run_dir / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    return summary if isinstance(summary, dict) and "volume_balance_m3" in summary else None


# ------------------------------------------------------------------------------------ per member
def member_metrics(run_dir: Path, scenario, damage: DamageSettings | None = None) -> dict:
    """The metrics of :data:`METRICS` for a finished run folder (``results.nc`` + ``summary.json``)."""
    import rioxarray  # noqa: F401
    import xarray as xr

    from .damage import DEFAULT_COSTS, DEFAULT_CURVES, DamageModel
    from .hazard import hazard_class, hazard_rating

    damage = damage or DamageSettings()
    summary = _complete_summary(run_dir)
    if summary is None:
        raise OutputError(f"{run_dir}: no complete summary.json; the run did not finish.")
    with xr.open_dataset(run_dir / "results.nc", decode_coords="all") as ds:
        ds = ds.load()
    thr = scenario.output.flood_threshold_m
    cell_area = float(ds.attrs["dx_m"]) * float(ds.attrs["dy_m"])
    depth = ds["max_depth"].values.astype(np.float64)
    speed = ds["max_speed"].values.astype(np.float64)
    codes = hazard_class(hazard_rating(depth, speed), depth, thr)
    t = ds["time"].values.astype(np.float64)
    out_vol = ds["volume_boundary_out"].values.astype(np.float64)
    rates = np.diff(out_vol) / np.diff(t) if t.size > 1 else np.zeros(0)
    row = {
        "flooded_buildings": 0,
        "hazard_area_m2": float((codes >= 2).sum()) * cell_area,
        "max_extent_area_m2": float(summary["max_extent_area_m2"]),
        "max_depth_m": float(summary["max_depth_m"]),
        "max_stored_volume_m3": float(np.max(ds["volume_measures"].values)),
        "peak_outflow_m3_s": float(rates.max()) if rates.size else 0.0,
        **_summary_peaks(summary),
        "volume_error_relative": float(summary["volume_balance_m3"]["relative_error"]),
        "damage_eur": 0.0,
        "wall_time_s": float(summary.get("wall_time_s", math.nan)),
    }
    if scenario.buildings is not None:
        from .exposure import building_exposure
        from .io.vector import read_layer

        b = scenario.buildings
        layer = read_layer(b.path, b.layer, what="buildings")
        id_field = b.id_field or "_row"
        if b.id_field is None:
            layer = layer.assign(_row=np.arange(len(layer)))
        exposure = building_exposure(ds, layer, id_field, thr)
        if damage.use_field in layer.columns:
            exposure[damage.use_field] = layer[damage.use_field].to_numpy()
        model = DamageModel.jrc_europe(damage.country, damage.use_field, damage.default_use,
                                       damage.curves or DEFAULT_CURVES, damage.costs or DEFAULT_COSTS)
        row["flooded_buildings"] = int(exposure["flooded"].sum())
        depth_at = exposure["max_depth_m"].where(exposure["flooded"], 0.0)   # below threshold: no damage
        row["damage_eur"] = model.event_damage(exposure.assign(damage_depth_m=depth_at), "damage_depth_m")
    return row


def _summary_peaks(summary: dict) -> dict:
    """Peaks the runner's summary already reports (preferred to recomputing them when present)."""
    out = {}
    stores = summary.get("peak_volume_m3_by_store")
    if isinstance(stores, dict):
        out["max_stored_volume_m3"] = float(sum(v for k, v in stores.items() if k != "surface"))
    if "peak_boundary_outflow_m3_s" in summary:
        out["peak_outflow_m3_s"] = float(summary["peak_boundary_outflow_m3_s"])
    return out


def process_member(member: Member, out_root: str, damage: DamageSettings | None = None) -> dict:
    """Run one member (unless its folder is complete) and return its table row. Never raises: a
    failure is returned as ``status = "failed"`` with the error message. Runs on a Dask worker."""
    from .runner import run_scenario

    run_dir = Path(out_root) / "members" / member.id
    row = {"member": member.id, "label": member.label, "design": member.design, "status": "ok", "error": "",
           "error_kind": "",
           "run_dir": str(run_dir), **{f"param {k}": v for k, v in member.overrides.items()}}
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        if _complete_summary(run_dir) is not None:
            row["status"] = "skipped (complete)"
        else:
            (run_dir / "error.txt").unlink(missing_ok=True)
            run_scenario(member.scenario, out_dir=run_dir, write=True)
            with atomic_path(run_dir / "member.json") as tmp:
                tmp.write_text(json.dumps({"id": member.id, "label": member.label,
                                           "overrides": member.overrides}, indent=2, default=str))
        row.update(member_metrics(run_dir, member.scenario, damage))
    except Exception as exc:  # noqa: BLE001 - every failure is reported per member, never raised
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}".splitlines()[0][:500],
                   error_kind=_error_kind(exc))
        try:   # the whole message and traceback, next to the member's (incomplete) results
            with atomic_path(run_dir / "error.txt") as tmp:
                tmp.write_text(f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()}")
        except OutputError:
            pass
    row["task_wall_s"] = time.perf_counter() - t0
    row["task_cpu_s"] = time.process_time() - c0      # CPU of the worker process during the task
    return row


def _error_kind(exc: BaseException) -> str:
    if isinstance(exc, StabilityError):
        return "unstable"
    return "input" if isinstance(exc, FloodsimError) else "bug"


# ------------------------------------------------------------------------------------- the sweep
@dataclass
class SweepResult:
    """The gathered outputs of a sweep."""

    table: pd.DataFrame
    ead: pd.DataFrame | None
    files: dict[str, Path]
    wall_s: float


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
    members = expand_members(spec)
    stem = spec.source.stem if spec.source else "sweep"
    out = Path(out_dir) if out_dir is not None else Path("outputs") / stem
    try:
        (out / "members").mkdir(parents=True, exist_ok=True)
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
        futures = {client.submit(process_member, m, str(out.resolve()), spec.damage, pure=False,
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
                             "run_dir": str(out / "members" / m.id),
                             **{f"param {k}": v for k, v in m.overrides.items()}})
            bar.update(1)
        bar.close()
    finally:
        if own:
            client.close()
            if cluster is not None:
                cluster.close()
    table = gather_table(rows, members)
    ead = ead_table(table, spec.ead)
    files = write_tables(table, ead, out, spec)
    return SweepResult(table, ead, files, time.perf_counter() - t0)


def gather_table(rows: list[dict], members: list[Member]) -> pd.DataFrame:
    """One row per member in sweep order; parameter columns first, then status, metrics, error."""
    order = {m.id: i for i, m in enumerate(members)}
    df = pd.DataFrame(rows)
    df = df.assign(_o=df["member"].map(order)).sort_values("_o").drop(columns="_o").reset_index(drop=True)
    params = [c for c in df.columns if c.startswith("param ")]
    first = ["member", "label", "design", *params, "status"]
    metrics = [c for c in METRICS if c in df.columns]
    rest = [c for c in df.columns if c not in (*first, *metrics)]
    for c in metrics:
        df[c] = pd.to_numeric(df[c])
    if "flooded_buildings" in df:
        df["flooded_buildings"] = df["flooded_buildings"].astype("Int64")
    return df[first + metrics + rest]


def ead_table(table: pd.DataFrame, settings: EADSettings | None = None) -> pd.DataFrame | None:
    """Expected annual damage per design when the return period varies: members grouped by design (the
    member label) and every other parameter; benefit = EAD(first design) − EAD(design). None when the
    return period does not vary."""
    from .damage import expected_annual_damage

    settings = settings or EADSettings()
    rp = f"param {RETURN_PERIOD_KEY}"
    if rp not in table.columns or table[rp].nunique() < 2:
        return None
    others = [c for c in table.columns if c.startswith("param ") and c != rp]
    keys = [table["design"].astype(object)] + [
        table[c].map(lambda v: json.dumps(None if _missing(v) else v, default=str)) for c in others]
    groups = table.groupby(keys, sort=False, dropna=False)
    rows = []
    for key, grp in groups:
        key = key if isinstance(key, tuple) else (key,)
        ok = grp["status"] != "failed"
        row = {"design": grp["design"].iloc[0], **{c: grp[c].iloc[0] for c in others}}
        row["return_periods_yr"] = " ".join(str(v) for v in sorted(grp[rp].astype(float)))
        if grp[rp].astype(float).duplicated().any():
            row["ead_eur_per_yr"] = math.nan
            row["note"] = "a return period repeats within this design; EAD needs one event per return period"
        elif ok.all():
            row["ead_eur_per_yr"] = expected_annual_damage(grp[rp].astype(float), grp["damage_eur"],
                                                           settings.zero_damage_return_period_yr,
                                                           settings.rare_tail)
            row["note"] = ""
        else:
            row["ead_eur_per_yr"] = math.nan
            row["note"] = f"{int((~ok).sum())} member(s) failed: " + ", ".join(grp.loc[~ok, "member"])
        rows.append(row)
    ead = pd.DataFrame(rows)
    ead["benefit_eur_per_yr"] = ead["ead_eur_per_yr"].iloc[0] - ead["ead_eur_per_yr"]
    return ead


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def write_tables(table: pd.DataFrame, ead: pd.DataFrame | None, out: Path,
                 spec: SweepSpec) -> dict[str, Path]:
    """``sweep.csv``, ``sweep.nc`` (dimension ``member``) and ``ead.csv`` (when present), atomically."""
    import xarray as xr

    files = {}
    with atomic_path(out / "sweep.csv") as tmp:
        table.to_csv(tmp, index=False)
    files["csv"] = out / "sweep.csv"
    ds = xr.Dataset.from_dataframe(_netcdf_safe(table.set_index("member")))
    for name, (unit, meaning) in METRICS.items():
        if name in ds:
            ds[name].attrs.update(units=unit, long_name=meaning)
    ds.attrs.update(title=f"floodsim sweep {spec.name or (spec.source.stem if spec.source else '')}",
                    base_scenario=str(spec.base), rank_by=spec.rank_by)
    with atomic_path(out / "sweep.nc") as tmp:
        ds.to_netcdf(tmp, engine="netcdf4")
    files["netcdf"] = out / "sweep.nc"
    if ead is not None:
        with atomic_path(out / "ead.csv") as tmp:
            ead.to_csv(tmp, index=False)
        files["ead"] = out / "ead.csv"
    return files


def _netcdf_safe(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.Int64Dtype):
            out[c] = out[c].astype("float64")          # NetCDF has no missing-value integers: NaN
        elif not (pd.api.types.is_numeric_dtype(out[c]) or pd.api.types.is_bool_dtype(out[c])):
            out[c] = out[c].astype(str).replace({"nan": "", "None": ""}).astype(object)
    return out


def ranked(table: pd.DataFrame, rank_by: str = "damage_eur") -> pd.DataFrame:
    """The members that ran, best first by ``rank_by`` (ascending except for stored volume), with a
    ``rank`` column; failed members last without a rank."""
    if rank_by not in METRICS:
        raise ScenarioError(f"--rank-by: unknown metric '{rank_by}'; use one of {', '.join(METRICS)}.")
    ok = table[table["status"] != "failed"].sort_values(rank_by, ascending=rank_by in _LOWER_IS_BETTER,
                                                        kind="stable")
    ok = ok.assign(rank=np.arange(1, len(ok) + 1))
    failed = table[table["status"] == "failed"].assign(rank=pd.NA)
    return pd.concat([ok, failed], ignore_index=True) if len(failed) else ok.reset_index(drop=True)


def format_ranking(table: pd.DataFrame, rank_by: str = "damage_eur") -> str:
    """The ranked comparison as text (one line per member)."""
    r = ranked(table, rank_by)
    params = [c for c in r.columns if c.startswith("param ")]
    cols = ["rank", "member", *params, *[c for c in METRICS if c in r.columns], "status"]
    view = r[cols].rename(columns={c: c.removeprefix("param ").rsplit(".", 1)[-1] for c in params})
    text = view.to_string(index=False, float_format=lambda v: f"{v:,.4g}" if abs(v) < 1e-2 else f"{v:,.2f}")
    errors = [f"  {row.member}: {row.error}" for row in r.itertuples() if row.status == "failed"]
    return text + ("\nfailed members:\n" + "\n".join(errors) if errors else "")
