"""The sweep file: a base scenario, the parameters to vary, damage and EAD settings (validated, frozen)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import ScenarioError
from ..scenario.paths import check_parameter_path
from .metrics import METRICS

RETURN_PERIOD_KEY = "rainfall.return_period_yr"


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class DamageSettings(_Strict):
    """How buildings are valued (see :mod:`floodsim.analysis.damage`)."""

    use_field: str = Field("use", description="Building attribute holding the use (residential, commercial).")
    default_use: str = Field("residential", description="Use of a building without the attribute.")
    country: str = Field("EU", description="ISO3 code of the country whose maximum damages apply, or EU.")
    curves: Path | None = Field(None, description="Depth-damage CSV (default: the shipped JRC Europe "
                                                  "curves).")
    costs: Path | None = Field(None, description="Construction-cost CSV (default: the shipped JRC table).")


class EADSettings(_Strict):
    """The tails rule of the expected annual damage (see :func:`floodsim.analysis.damage.expected_annual_damage`)."""

    zero_damage_return_period_yr: float | None = Field(None, gt=0)
    rare_tail: Literal["constant", "none"] = "constant"


class ServiceGoal(_Strict):
    """A service goal checked per design on the member(s) of its return period, e.g. Copenhagen's "no
    more than 10 cm of water on terrain in a 100-year rain": ``max_depth_m = 0.10``,
    ``return_period_yr = 100``. A cell breaks it where the max flood depth (water held by measures by
    design not counted) is greater than ``max_depth_m``; a building is next to it where the flood depth
    at its wall is. Written to ``service_goal.csv`` and ``service_goal_<design>.tif``."""

    max_depth_m: float = Field(gt=0, description="Largest flood depth allowed on terrain [m].")
    return_period_yr: float = Field(gt=0, description="Return period [years] of the storm the goal is for; "
                                    "the sweep needs a member with this rainfall.return_period_yr.")


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
    service_goal: ServiceGoal | None = Field(None, description="Optional [service_goal]: max_depth_m, "
                                             "return_period_yr.")
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
    from ..scenario.load import format_validation_error, read_toml

    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"{path}: sweep file not found.")
    data = read_toml(path, "sweep")
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
