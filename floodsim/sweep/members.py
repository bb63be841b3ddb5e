"""The members of a sweep: every combination of the grid with the explicit members, each a validated
scenario with a stable id (its position and a hash of its overrides)."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import ScenarioError
from ..scenario.paths import apply_overrides
from .spec import RETURN_PERIOD_KEY, SweepSpec


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
    from ..scenario.load import format_validation_error, load_scenario
    from ..scenario.models import Output, Scenario

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
