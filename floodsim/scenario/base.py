"""Field types shared by every part of the scenario schema (models and measures).

Kept apart from :mod:`floodsim.scenario.models` so the measure schemas (:mod:`floodsim.scenario.measures`)
and the scenario itself can all use them without importing each other.

Every number in a scenario must be finite (``inf`` and ``nan`` are refused by every model). Names
(scenario, measures, inflows) may hold any printable text, ``/``, quotes and braces included: whatever
is derived from them (NetCDF variables, map labels) is made safe where it is derived. Control
characters and names longer than :data:`MAX_NAME_LENGTH` are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo

PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]

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


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class LayerRef(_Model):
    """A vector layer: a file and, for multi-layer files (GeoPackage), the layer name."""

    path: ScenarioPath
    layer: str | None = None


class LevelPoint(_Model):
    time_min: NonNegativeFloat
    level_m: float
