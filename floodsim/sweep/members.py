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
    params: dict = field(default_factory=dict)
    """Every parameter the sweep sets in any member -> this member's value: its override, else the value
    in its merged scenario (the base scenario's, defaults included), else ``"n/a"`` where the path does
    not exist in this member (e.g. ``measures.1.orifice_area_m2`` of a member with ``measures = []``)."""
    has_measures: bool = True
    described: str = ""
    """The member's label and every override as ``key=value`` (error messages)."""
    """Whether the member's scenario has any measure (the reference of ``matrix.csv`` has none)."""
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
        if any(c in str(path) for c in "*?["):     # a glob of DEM tiles: the files it matches now
            from ..io.raster import dem_files

            for tile in dem_files(path):
                out[f"{where} {tile.name}"] = _file_digest(tile, where, cache)
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


#: Shown for a parameter whose path does not exist in a member (e.g. a measure it removed).
NOT_APPLICABLE = "n/a"


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(_scalar(value))


def _scalar(value):
    """A table cell: numbers, text and booleans as they are; lists and tables in short words."""
    if isinstance(value, (list, tuple)):
        return "none" if not value else f"{len(value)} item(s)"
    if isinstance(value, dict):
        return f"table of {len(value)}"
    return value


def lookup(data, path: str):
    """The value at a dotted ``path`` in nested dicts/lists (list items by index); :data:`NOT_APPLICABLE`
    when the path does not exist."""
    node = data
    for part in path.split("."):
        if isinstance(node, (list, tuple)):
            if not part.isdigit() or int(part) >= len(node):
                return NOT_APPLICABLE
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return NOT_APPLICABLE
    return node


def readable_label(label: str, varied: dict, return_period=None) -> str:
    """An engineer's label: the member's ``label``, then each varied parameter as ``<last path part>
    <value>``, then the return period as ``N-yr``, joined by " · " (e.g. ``pond, 0.3 m pipe · 20-yr``,
    ``climate_factor 1.3 · 100-yr``)."""
    parts = [label] if label else []
    parts += [f"{k.rsplit('.', 1)[-1]} {_fmt(v)}" for k, v in varied.items()]
    if return_period is not None:
        parts.append(f"{_fmt(float(return_period))}-yr")
    return " · ".join(parts) or "base scenario"


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
    combos = [(m, g, {**g, **{k: v for k, v in m.items() if k != "label"}})      # the member's own value wins
              for m, g in itertools.product(explicit, grid_points)]
    keys = list(dict.fromkeys(k for _, _, o in combos for k in o))
    missing = object()

    def varies(key):
        return len({json.dumps(o.get(key, "\0missing"), sort_keys=True, default=str) for _, _, o in combos}) > 1

    varying = [k for k in keys if varies(k)]
    for index, (m, g, overrides) in enumerate(combos):
        digest = hashlib.sha1(json.dumps(overrides, sort_keys=True, default=str).encode()).hexdigest()[:8]
        mid = f"m{index:03d}-{digest}"
        own = str(m.get("label", ""))
        # a labelled member names its own overrides; the grid's varied values (and an unlabelled member's
        # own overrides) are spelled out; the return period comes last as N-yr
        shown = {k: overrides[k] for k in varying if k != RETURN_PERIOD_KEY and k in overrides
                 and (not own or (k in g and k not in m))}
        rp = overrides.get(RETURN_PERIOD_KEY, missing)
        if not own and not shown and not (rp is not missing and RETURN_PERIOD_KEY in varying):
            shown = {k: v for k, v in overrides.items() if k != RETURN_PERIOD_KEY}  # nothing varies: say what is set
        design = readable_label(own, shown)
        label = readable_label(own, shown, None if rp is missing or RETURN_PERIOD_KEY not in varying else rp)
        described = ", ".join(p for p in (own, _describe(overrides)) if p) or label   # for messages
        where = spec.source or Path("sweep")
        try:
            raw = apply_overrides(data, overrides)
        except ScenarioError as exc:
            raise ScenarioError(f"{where}: {exc}") from None
        raw["name"] = f"{base.name} [{mid}]"
        if "compare_to_baseline" in Output.model_fields and "output.compare_to_baseline" not in overrides:
            # a sweep's baseline is a member of its own; do not run it again inside every member
            raw.setdefault("output", {})["compare_to_baseline"] = False
        try:
            sc = Scenario.model_validate(raw, context={"base_dir": folder})
        except ValidationError as exc:
            # one line per problem, each naming the sweep file and the member
            lines = format_validation_error(where, exc).splitlines()
            head = f"{where}: "
            raise ScenarioError("\n".join(
                f"{head}member {mid} ({described}): {line.removeprefix(head)}" for line in lines)) from None
        merged = sc.model_dump(mode="json")
        params = {k: _scalar(overrides[k] if k in overrides else lookup(merged, k)) for k in keys}
        members.append(Member(mid, label, overrides, sc.model_copy(update={"source": base.source}), design,
                              params=params, has_measures=bool(getattr(sc, "measures", None)),
                              described=described))
    return members
