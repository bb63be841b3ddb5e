"""Field types shared by every part of the scenario schema (models and measures).

Kept apart from :mod:`floodsim.scenario.models` so the measure schemas
(:mod:`~floodsim.scenario.measures_terrain`, :mod:`~floodsim.scenario.measures_storage`) and the
scenario itself can all use them without importing each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo

PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]


def _resolve(value: Path, info: ValidationInfo) -> Path:
    """Relative paths are taken from the scenario file's folder (validation context ``base_dir``)."""
    base = (info.context or {}).get("base_dir")
    return Path(base) / value if base is not None and not value.is_absolute() else value


#: A path written in a scenario file, resolved against the file's folder.
ScenarioPath = Annotated[Path, AfterValidator(_resolve)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LayerRef(_Model):
    """A vector layer: a file and, for multi-layer files (GeoPackage), the layer name."""

    path: ScenarioPath
    layer: str | None = None


class LevelPoint(_Model):
    time_min: NonNegativeFloat
    level_m: float
