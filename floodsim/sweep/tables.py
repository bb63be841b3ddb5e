"""The gathered table of a sweep (one row per member), the expected annual damage per design, the files
``sweep.csv``, ``sweep.nc`` and ``ead.csv``, and the ranking."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis.risk import percent_change
from ..errors import ScenarioError
from ..io import runfolder as rf
from ..io.atomic import atomic_path
from .members import Member
from .metrics import LOWER_IS_BETTER, METRICS
from .spec import RETURN_PERIOD_KEY, EADSettings, SweepSpec

#: Designs × return periods, written when the return period varies.
MATRIX_CSV = "matrix.csv"


def gather_table(rows: list[dict], members: list[Member]) -> pd.DataFrame:
    """One row per member in sweep order; parameter columns first, then status, metrics, error. Every
    metric of :data:`METRICS` has a column, empty (NaN) for members that failed, even when all did."""
    order = {m.id: i for i, m in enumerate(members)}
    df = pd.DataFrame(rows)
    for c in ("status", "error", "error_kind"):
        if c not in df.columns:
            df[c] = ""
    for c in METRICS:
        if c not in df.columns:
            df[c] = np.nan
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
    from ..analysis.damage import expected_annual_damage

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
        elif ok.all() and "damage_eur" in grp.columns:
            row["ead_eur_per_yr"] = expected_annual_damage(grp[rp].astype(float), grp["damage_eur"],
                                                           settings.zero_damage_return_period_yr,
                                                           settings.rare_tail)
            row["note"] = ""
        else:
            row["ead_eur_per_yr"] = math.nan
            row["note"] = (f"{int((~ok).sum())} member(s) failed: " + ", ".join(grp.loc[~ok, "member"])
                           if not ok.all() else "no damage_eur column")
        rows.append(row)
    ead = pd.DataFrame(rows)
    ead["benefit_eur_per_yr"] = ead["ead_eur_per_yr"].iloc[0] - ead["ead_eur_per_yr"]
    return ead


def matrix_table(table: pd.DataFrame, members: list[Member]) -> tuple[pd.DataFrame | None, str]:
    """Designs × return periods (``matrix.csv``) when the return period varies: one row per member
    (design, return period, label, metrics) and, per metric, ``"<metric> change_%"`` against the
    **reference member of the same return period**: the first member (sweep order) whose merged scenario
    has no measures (``measures = []`` or none in the base) and whose other non-measure parameters
    (every ``param`` column not under ``measures``) are equal to the row's. Without any member without
    measures, the % columns are left out. Returns ``(matrix or None, note)``."""
    rp = f"param {RETURN_PERIOD_KEY}"
    if rp not in table.columns or table[rp].nunique() < 2:
        return None, ""
    no_measures = {m.id for m in members if not m.has_measures}
    others = [c for c in table.columns if c.startswith("param ") and c != rp
              and not c.removeprefix("param ").startswith("measures")]
    metrics = [c for c in METRICS if c in table.columns]
    rows = table[["design", rp, "label", "member", "status", *metrics]].rename(columns={rp: "return_period_yr"})
    rows = rows.assign(_o=range(len(rows)))

    def key(i):
        return json.dumps([str(table.at[i, c]) for c in [rp, *others]])

    refs = {}
    for i in table.index:
        if table.at[i, "member"] in no_measures and table.at[i, "status"] != "failed":
            refs.setdefault(key(i), i)
    if not no_measures:
        note = ("no member without measures, so matrix.csv has no % change columns (add a member with "
                "measures = [] as the reference)")
        rows = rows.assign(_rp=pd.to_numeric(rows["return_period_yr"], errors="coerce"))
        return rows.sort_values(["_rp", "_o"], kind="stable").drop(columns=["_o", "_rp"]).reset_index(drop=True), note
    ref_idx = [refs.get(key(i)) for i in table.index]
    rows["reference"] = [table.at[j, "label"] if j is not None else "" for j in ref_idx]
    for c in metrics:
        ref_vals = pd.Series([table.at[j, c] if j is not None else np.nan for j in ref_idx], index=table.index)
        rows[f"{c} change_%"] = percent_change(table[c], ref_vals).round(2)
    note = "% change against the member without measures of the same return period"
    missing_ref = int(sum(j is None for j in ref_idx))
    if missing_ref:
        note += f" ({missing_ref} row(s) have no such member: empty % columns)"
    order = rows.assign(_rp=pd.to_numeric(rows["return_period_yr"], errors="coerce"))
    order = order.sort_values(["_rp", "_o"], kind="stable").drop(columns=["_o", "_rp"])
    return order.reset_index(drop=True), note


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def write_tables(table: pd.DataFrame, ead: pd.DataFrame | None, out: Path,
                 spec: SweepSpec) -> dict[str, Path]:
    """``sweep.csv``, ``sweep.nc`` (dimension ``member``) and ``ead.csv`` (when present), atomically."""
    import xarray as xr

    files = {}
    with atomic_path(out / rf.SWEEP_CSV) as tmp:
        table.to_csv(tmp, index=False)
    files["csv"] = out / rf.SWEEP_CSV
    ds = xr.Dataset.from_dataframe(_netcdf_safe(table.set_index("member")))
    for name, (unit, meaning) in METRICS.items():
        if name in ds:
            ds[name].attrs.update(units=unit, long_name=meaning)
    ds.attrs.update(title=f"floodsim sweep {spec.name or (spec.source.stem if spec.source else '')}",
                    base_scenario=str(spec.base), rank_by=spec.rank_by)
    with atomic_path(out / rf.SWEEP_NC) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4")
    files["netcdf"] = out / rf.SWEEP_NC
    if ead is not None:
        with atomic_path(out / rf.EAD_CSV) as tmp:
            ead.to_csv(tmp, index=False)
        files["ead"] = out / rf.EAD_CSV
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
    if rank_by not in table.columns:          # no member ran (or a hand-made table): nothing to rank by
        table = table.assign(**{rank_by: np.nan})
    ok = table[table["status"] != "failed"].sort_values(rank_by, ascending=rank_by in LOWER_IS_BETTER,
                                                        kind="stable", na_position="last")
    ok = ok.assign(rank=np.arange(1, len(ok) + 1))
    failed = table[table["status"] == "failed"].assign(rank=pd.NA)
    return pd.concat([ok, failed], ignore_index=True) if len(failed) else ok.reset_index(drop=True)


def format_ranking(table: pd.DataFrame, rank_by: str = "damage_eur") -> str:
    """The ranked comparison as text (one line per member, named by its readable label). When the
    return period varies, designs are ranked within each return period, one block per return period
    (a 5-year and a 100-year storm are never ranked against each other)."""
    rp = f"param {RETURN_PERIOD_KEY}"
    if rp in table.columns and table[rp].nunique() > 1:
        blocks = []
        for t, grp in table.groupby(table[rp].astype(str), sort=False):
            tval = pd.to_numeric(grp[rp], errors="coerce").iloc[0]
            head = f"return period {tval:g} years:" if np.isfinite(tval) else f"return period {t}:"
            blocks.append(head + "\n" + _format_block(grp.reset_index(drop=True), rank_by))
        return "\n".join(blocks)
    return _format_block(table, rank_by)


def _format_block(table: pd.DataFrame, rank_by: str) -> str:
    r = ranked(table, rank_by)
    params = [c for c in r.columns if c.startswith("param ")]
    name = "label" if "label" in r.columns else "member"
    cols = ["rank", name, *params, *[c for c in METRICS if c in r.columns], "status"]
    view = r[cols].rename(columns={c: c.removeprefix("param ").rsplit(".", 1)[-1] for c in params})
    text = view.to_string(index=False, float_format=lambda v: f"{v:,.4g}" if abs(v) < 1e-2 else f"{v:,.2f}")
    failed = r[r["status"] == "failed"]
    messages = failed["error"] if "error" in failed.columns else pd.Series("", index=failed.index)
    errors = [f"  {m}: {e}" for m, e in zip(failed[name], messages)]
    return text + ("\nfailed members:\n" + "\n".join(errors) if errors else "")
