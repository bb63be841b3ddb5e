"""The members of a sweep: every combination of the grid with the explicit members, each a validated
scenario with a stable id (its position and a hash of its overrides) and a fingerprint of its inputs (the
scenario and the bytes of every data file it names), which decides whether a finished member is current."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import InputDataError, ScenarioError
from ..scenario.paths import apply_overrides, scenario_files
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
    inputs: dict = field(default_factory=dict, repr=False)
    """What the member's results depend on: ``{"scenario": sha256, "<field> <file>": sha256, ...}``
    (:func:`input_hashes`); empty until computed."""

    @property
    def fingerprint(self) -> str:
        """SHA-256 over :attr:`inputs` (computed on first use)."""
        if not self.inputs:
            self.inputs = input_hashes(self.scenario)
        return fingerprint_of(self.inputs)


#: Scenario fields that are not results' inputs (the loader's bookkeeping; the output folder).
_NOT_INPUTS = {"source", "extends"}
_OUTPUT_FIELDS = {"output.dir"}


def input_hashes(scenario, cache: dict | None = None) -> dict[str, str]:
    """SHA-256 of everything a member's results depend on: the scenario itself (its JSON, keys sorted,
    without ``source``/``extends``) under ``"scenario"``, and the content of every data file it names
    (DEM, layers, IDF file, CSVs; a Shapefile with its side files) under ``"<field> <file name>"``; plus
    the floodsim version under ``"floodsim"``.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario.
    cache : dict, optional
        Path -> digest of files already read (members share their data files).

    Raises
    ------
    InputDataError
        A file the scenario names does not exist or cannot be read.
    """
    from .. import __version__

    cache = {} if cache is None else cache
    data = scenario.model_dump(mode="json", exclude=_NOT_INPUTS)
    out = {"floodsim": __version__,
           "scenario": hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()}
    for where, path in scenario_files(scenario):
        if where in _OUTPUT_FIELDS:
            continue
        out[f"{where} {path.name}"] = _file_digest(Path(path), where, cache)
    return out


def fingerprint_of(inputs: dict) -> str:
    """One SHA-256 over the digests of :func:`input_hashes`."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def changed_inputs(stored: dict, current: dict) -> list[str]:
    """The names of :func:`input_hashes` entries that differ (or appear in only one)."""
    return [k for k in sorted(set(stored) | set(current)) if stored.get(k) != current.get(k)]


def _file_digest(path: Path, where: str, cache: dict) -> str:
    key = str(path)
    if key in cache:
        return cache[key]
    if path.is_dir():                      # a folder (a raster dataset, ...): its files, by name
        files = sorted(p for p in path.rglob("*") if p.is_file())
    elif path.is_file():
        files = [path]
        if path.suffix.lower() == ".shp":  # a Shapefile's attributes and projection live beside it
            files += sorted(p for p in path.parent.glob(path.stem + ".*") if p != path and p.is_file())
    else:
        raise InputDataError(f"{path} ({where}): file not found. Check the path (relative paths in a "
                             "scenario are taken from the scenario file's folder; in a sweep's overrides, "
                             "from the sweep file's folder).")
    h = hashlib.sha256()
    try:
        for f in files:
            h.update(f.relative_to(path.parent).as_posix().encode() + b"\0")
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    except OSError as exc:
        raise InputDataError(f"{path} ({where}): cannot be read ({exc.strerror}); check its "
                             "permissions.") from None
    cache[key] = h.hexdigest()
    return cache[key]


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
