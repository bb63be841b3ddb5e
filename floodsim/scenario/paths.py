"""Walking the scenario schema by its types: path resolution, dotted parameter paths and overrides.

One walker serves the loader (relative file paths made absolute against the file that wrote them) and
sweeps (``"measures.0.volume_m3" = 400`` checked against the schema, then set in the raw data).
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any

from pydantic import AfterValidator, BaseModel

from ..errors import ScenarioError
from .base import _resolve


def field_annotation(field):
    """A pydantic field's annotation with its own metadata (pydantic keeps them apart)."""
    return typing.Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation


def _is_path(annotation) -> bool:
    """True for ``ScenarioPath`` (an Annotated Path with the folder-resolving validator)."""
    if typing.get_origin(annotation) is typing.Annotated:
        return any(isinstance(m, AfterValidator) and m.func is _resolve for m in typing.get_args(annotation)[1:])
    return False


def _options(annotation) -> list | None:
    """The member types of a union (None for anything else)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(annotation) if a is not type(None)]
    return None


def resolve_paths(data, annotation, base_dir: Path):
    """Make every relative ``ScenarioPath`` in raw ``data`` absolute against ``base_dir``, guided by
    the schema ``annotation``; anything that does not fit the schema is left for validation to report."""
    if _is_path(annotation):
        if isinstance(data, str) and data and not Path(data).is_absolute():
            return str(base_dir / data)
        return data
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return resolve_paths(data, typing.get_args(annotation)[0], base_dir)
    if (options := _options(annotation)) is not None:
        for arg in options:
            data = resolve_paths(data, arg, base_dir)
        return data
    if origin in (tuple, list) and isinstance(data, list):
        inner = typing.get_args(annotation)[0]
        return [resolve_paths(v, inner, base_dir) for v in data]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(data, dict):
        out = dict(data)
        for key, field in annotation.model_fields.items():
            if key in out:
                out[key] = resolve_paths(out[key], field_annotation(field), base_dir)
        return out
    return data


def check_parameter_path(path: str, annotation=None) -> str | None:
    """None if the dotted ``path`` can name a field of ``annotation`` (default: the scenario), else what
    is wrong (for messages).

    Tables are followed by field name, tuples by integer index; for a union (e.g. the measure types)
    the path is accepted if any member type has it.
    """
    if annotation is None:
        from .models import Scenario

        annotation = Scenario
    return _walk(annotation, path.split("."), "")


def _walk(annotation, parts: list[str], where: str) -> str | None:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _walk(typing.get_args(annotation)[0], parts, where)
    if (options := _options(annotation)) is not None:
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
        return _walk(field_annotation(fields[head]), rest, here)
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


def _holds_path(annotation) -> bool:
    """True when a ``ScenarioPath`` appears anywhere in ``annotation`` (``ScenarioPath | None``,
    ``tuple[ScenarioPath, ...]``, ...)."""
    if _is_path(annotation):
        return True
    return any(_holds_path(a) for a in typing.get_args(annotation) if a is not type(None))


def scenario_files(model: BaseModel, where: str = "") -> list[tuple[str, Path]]:
    """Every path written in a validated scenario (``ScenarioPath`` fields: DEM, layers, IDF file, CSVs,
    the output folder), as ``(dotted field path, path)`` pairs in schema order.

    Pure: reads no file. The loader's own bookkeeping (``source``, ``extends``: plain ``Path`` fields)
    is not included.

    Examples
    --------
    >>> from floodsim.scenario.base import LayerRef
    >>> scenario_files(LayerRef(path="a.gpkg", layer="roads"), "surface.zones.0")
    [('surface.zones.0.path', PosixPath('a.gpkg'))]
    """
    out: list[tuple[str, Path]] = []
    for key, field in type(model).model_fields.items():
        _collect(getattr(model, key), field_annotation(field), f"{where}.{key}" if where else key, out)
    return out


def _collect(value, annotation, where: str, out: list) -> None:
    if isinstance(value, BaseModel):
        out.extend(scenario_files(value, where))
    elif isinstance(value, (list, tuple)):
        for k, item in enumerate(value):
            _collect(item, annotation, f"{where}.{k}", out)
    elif isinstance(value, dict):
        for k, item in value.items():
            _collect(item, annotation, f"{where}.{k}", out)
    elif isinstance(value, Path) and _holds_path(annotation):
        out.append((where, value))
