"""Field types shared by every part of the scenario schema (models and measures).

Kept apart from :mod:`floodsim.scenario.models` so the measure schemas (:mod:`floodsim.scenario.measures`)
and the scenario itself can all use them without importing each other.

Every number in a scenario must be finite (``inf`` and ``nan`` are refused by every model) and within
±:data:`MAX_MAGNITUDE` (a larger number is a typo or a unit mistake, and converting it to SI could
overflow to infinity); water levels are within ±:data:`MAX_ABS_LEVEL_M` (the DEM's bound), times in
minutes within [0, :data:`MAX_DURATION_MIN`] (one year) and Manning's n within (0, :data:`MAX_MANNING`]. Names
(scenario, measures, inflows) may hold any printable text, ``/``, quotes and braces included: whatever
is derived from them (NetCDF variables, map labels) is made safe where it is derived. Control
characters and names longer than :data:`MAX_NAME_LENGTH` are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

#: Largest magnitude of any number in a scenario.
MAX_MAGNITUDE = 1.0e12

#: Largest magnitude of a water or ground level [m]: the DEM's bound
#: (:data:`floodsim.core.grid.MAX_ABS_ELEVATION_M`; the scenario layer does not import the engine).
MAX_ABS_LEVEL_M = 1.0e4

#: Longest time a scenario may name [min] (one year): run length, storm start and length, series times.
MAX_DURATION_MIN = 525_600.0

#: Largest Manning's n accepted [s m^-1/3] (dense vegetation is ~0.2; beyond 1 it is a unit mistake).
MAX_MANNING = 1.0

PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
#: A water or ground level [m].
Level = Annotated[float, Field(ge=-MAX_ABS_LEVEL_M, le=MAX_ABS_LEVEL_M)]
#: A time from the start of the run, or a length of time [min].
Minutes = Annotated[float, Field(ge=0, le=MAX_DURATION_MIN)]
#: Manning's n [s m^-1/3].
Manning = Annotated[float, Field(gt=0, le=MAX_MANNING)]

#: Longest name accepted for a scenario, a measure or an inflow [characters].
MAX_NAME_LENGTH = 200


def _printable(value: str) -> str:
    if not value.strip():
        raise ValueError("a name must not be empty or only spaces")
    bad = [c for c in value if ord(c) < 32 or ord(c) == 127 or 0x80 <= ord(c) < 0xA0]
    if bad:
        raise ValueError(f"a name must not contain control characters (found {bad[0]!r}); use printable text")
    return value


#: A name typed by a user: any printable text up to MAX_NAME_LENGTH characters.
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH), AfterValidator(_printable)]


def _resolve(value: Path, info: ValidationInfo) -> Path:
    """Relative paths are taken from the scenario file's folder (validation context ``base_dir``)."""
    if not str(value).strip() or str(value) == ".":
        raise ValueError("give a file or folder path (it is empty)")
    base = (info.context or {}).get("base_dir")
    return Path(base) / value if base is not None and not value.is_absolute() else value


#: A path written in a scenario file, resolved against the file's folder.
ScenarioPath = Annotated[Path, AfterValidator(_resolve)]


def _bounded(value):
    """``value`` (a number, or a tuple/list of them) when every number is within ±MAX_MAGNITUDE."""
    if isinstance(value, float) and abs(value) > MAX_MAGNITUDE:
        raise ValueError(f"a number beyond ±{MAX_MAGNITUDE:g} is a typo or a unit mistake; check its value "
                         "and unit")
    if isinstance(value, (tuple, list)):
        for v in value:
            _bounded(v)
    return value


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _magnitude(cls, value):
        return _bounded(value)


class LayerRef(_Model):
    """A vector layer: a file and, for multi-layer files (GeoPackage), the layer name."""

    path: ScenarioPath
    layer: str | None = None


class LevelPoint(_Model):
    time_min: Minutes
    level_m: Level
