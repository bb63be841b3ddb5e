"""Read a scenario file (TOML or YAML) into a validated :class:`~floodsim.scenario.models.Scenario`."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError

from ..errors import ScenarioError
from .models import Scenario


def _read_mapping(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"{path}: not valid TOML ({exc}).") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ScenarioError(f"{path}: YAML scenarios need PyYAML (pip install pyyaml), or use TOML.") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ScenarioError(f"{path}: not valid YAML ({exc}).") from None
        if not isinstance(data, dict):
            raise ScenarioError(f"{path}: the file must hold a mapping of settings.")
        return data
    raise ScenarioError(f"{path}: unknown scenario format '{path.suffix}'; use .toml or .yaml.")


def _location(loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def format_validation_error(path: Path, exc: ValidationError) -> str:
    """One line per problem: file, field, what is wrong and how to fix it."""
    lines = []
    for err in exc.errors():
        field = _location(err["loc"])
        if err["type"] == "extra_forbidden":
            msg = f"unknown key '{err['loc'][-1]}' — check its spelling against the scenario reference"
        elif err["type"] == "missing":
            msg = "required but missing — add it"
        else:
            msg = err["msg"].removeprefix("Value error, ")
            if "input" in err and not isinstance(err["input"], dict):
                msg += f" (got {err['input']!r})"
        lines.append(f"{path}: {field}: {msg}")
    return "\n".join(lines)


def load_scenario(path) -> Scenario:
    """Read and validate a scenario file; relative paths resolve from the file's folder.

    Raises
    ------
    ScenarioError
        If the file is missing, unreadable, or any field is invalid (all problems listed).
    """
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"{path}: scenario file not found.")
    data = _read_mapping(path)
    data.pop("source", None)
    try:
        scenario = Scenario.model_validate(data, context={"base_dir": path.parent.resolve()})
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(path, exc)) from None
    return scenario.model_copy(update={"source": path.resolve()})
