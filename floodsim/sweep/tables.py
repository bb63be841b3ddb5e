"""The gathered table of a sweep (one row per member), the expected annual damage per design, the files
``sweep.csv``, ``sweep.nc`` and ``ead.csv``, and the ranking."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ScenarioError
from ..io import runfolder as rf
from ..io.atomic import atomic_path
from .members import Member
from .metrics import LOWER_IS_BETTER, METRICS
from .spec import RETURN_PERIOD_KEY, EADSettings, SweepSpec


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
    """The ranked comparison as text (one line per member)."""
    r = ranked(table, rank_by)
    params = [c for c in r.columns if c.startswith("param ")]
    cols = ["rank", "member", *params, *[c for c in METRICS if c in r.columns], "status"]
    view = r[cols].rename(columns={c: c.removeprefix("param ").rsplit(".", 1)[-1] for c in params})
    text = view.to_string(index=False, float_format=lambda v: f"{v:,.4g}" if abs(v) < 1e-2 else f"{v:,.2f}")
    failed = r[r["status"] == "failed"]
    messages = failed["error"] if "error" in failed.columns else pd.Series("", index=failed.index)
    errors = [f"  {m}: {e}" for m, e in zip(failed["member"], messages)]
    return text + ("\nfailed members:\n" + "\n".join(errors) if errors else "")
