"""Read a scenario file (TOML or YAML) into a validated :class:`~floodsim.scenario.models.Scenario`.

A scenario may start from another one with a top-level ``extends = "baseline.toml"`` (a path relative
to the extending file). The rules:

- The base is read first (it may extend another file in turn; a cycle is an error naming the files)
  and must be a complete, valid scenario on its own: it is the baseline, and its errors are reported
  against its own file.
- Each file's relative paths are resolved against **its own** folder before merging, so a variant in
  another folder still finds the baseline's DEM and layers.
- The child's tables are merged over the base's key by key, recursively. Everything else the child
  gives replaces the base's value whole: scalars, and arrays, including arrays of tables such as
  ``[[boundaries]]`` and ``[[inflows]]`` and inline arrays such as ``zones``. To drop all boundaries
  of the base, write ``boundaries = []``.
- A ``[rainfall]`` table whose ``kind`` differs from the base's, or an ``[infiltration]`` table whose
  ``model`` differs, replaces the base's table whole (the fields of one kind mean nothing to another).
- Not inherited: ``name`` (the child must give its own), ``description``, and ``[output] dir`` (so a
  variant never writes over the baseline's results).
- The merged result is validated once; its errors name the extending file.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError

from ..errors import ScenarioError
from .models import Infiltration, Rainfall, Scenario
from .paths import resolve_paths


#: Longest ``extends`` chain followed (a deeper one is almost certainly a mistake).
MAX_EXTENDS_DEPTH = 32

#: Largest scenario file read [bytes].
MAX_FILE_BYTES = 10_000_000


def shorten(value, limit: int = 120) -> str:
    """A bounded ``repr`` of user input for messages (never the expansion of a huge or nested value)."""
    import reprlib

    r = reprlib.Repr()
    r.maxlevel, r.maxlist, r.maxtuple, r.maxdict, r.maxstring, r.maxother = 2, 4, 4, 4, limit, limit
    text = r.repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clip(text: str, limit: int = 500) -> str:
    """``text`` cut to ``limit`` characters (messages echo user input; keep them bounded)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def read_text(path: Path, what: str = "scenario") -> str:
    """The text of a UTF-8 file, or a ScenarioError naming the file and the fix."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ScenarioError(f"{path}: the {what} file is {size:,} bytes; a {what} is a short text file "
                                f"(at most {MAX_FILE_BYTES:,} bytes).")
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.object[exc.start:exc.start + 1]!r}); "
                            f"save the {what} file as UTF-8.") from None
    except IsADirectoryError:
        raise ScenarioError(f"{path}: is a folder; give the {what} file.") from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the {what} file ({exc.strerror}).") from None


def read_toml(path: Path, what: str = "scenario") -> dict:
    """The table of a TOML file (a scenario, sweep or site file), or a ScenarioError naming the file:
    not UTF-8, unreadable, invalid TOML, or nested too deeply to read."""
    try:
        return tomllib.loads(read_text(path, what))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML ({clip(str(exc), 200)}).") from None
    except RecursionError:
        raise ScenarioError(too_deep(path)) from None


def too_deep(path: Path) -> str:
    return (f"{path}: arrays or tables nested too deeply to read; a scenario nests a few levels (e.g. "
            "measures[0].level_rule.sensor): remove the extra brackets.")


def _read_mapping(path: Path) -> dict:
    if path.suffix.lower() == ".toml":
        return read_toml(path)
    text = read_text(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ScenarioError(f"{path}: YAML scenarios need PyYAML (pip install pyyaml), or use TOML.") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ScenarioError(f"{path}: not valid YAML ({clip(' '.join(str(exc).split()), 300)}).") from None
        except RecursionError:
            raise ScenarioError(too_deep(path)) from None
        if not isinstance(data, dict):
            raise ScenarioError(f"{path}: the file must hold a mapping of settings.")
        return data
    raise ScenarioError(f"{path}: unknown scenario format '{path.suffix}'; use .toml or .yaml.")


def _location(loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


#: Most characters of the problem lines of one validation message (the rest are counted, not shown).
MAX_MESSAGE_CHARS = 1500


def format_validation_error(path: Path, exc: ValidationError) -> str:
    """One line per problem: file, field, what is wrong and how to fix it.

    At most 20 lines and about :data:`MAX_MESSAGE_CHARS` characters: the problems beyond are counted
    in a last line (a file with thousands of errors, or a nested value repeated by YAML aliases, gives
    a short message).
    """
    lines: list[str] = []
    errors = exc.errors()
    used = 0
    for err in errors[:20]:
        field = clip(_location(err["loc"]), 120)
        if err["type"] == "extra_forbidden":
            msg = (f"unknown key {shorten(str(err['loc'][-1]), 60)} — check its spelling against the scenario "
                   "reference")
        elif err["type"] == "missing":
            msg = "required but missing — add it"
        else:
            msg = err["msg"].removeprefix("Value error, ")
            if "input" in err and not isinstance(err["input"], dict):
                nested = isinstance(err["input"], (list, tuple, set))
                msg += f" (got {shorten(err['input'], 60 if nested else 120)})"
        line = clip(f"{path}: {field}: {msg}", 500)
        if lines and used + len(line) > MAX_MESSAGE_CHARS:
            break
        lines.append(line)
        used += len(line) + 1
    if len(errors) > len(lines):
        lines.append(f"{path}: … and {len(errors) - len(lines)} more problems")
    return "\n".join(lines)


#: Top-level tables replaced whole when the child switches their kind: table -> (key, default).
_SWITCHES = {"rainfall": ("kind", Rainfall.model_fields["kind"].default),
             "infiltration": ("model", Infiltration.model_fields["model"].default)}


def _merge(base: dict, child: dict, top: bool = False) -> dict:
    """Child over base: tables merge key by key, everything else (arrays included) is replaced."""
    out = dict(base)
    for key, value in child.items():
        old = out.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            switch = _SWITCHES.get(key) if top else None
            if switch and switch[0] in value and value[switch[0]] != old.get(*switch):
                out[key] = value
            else:
                out[key] = _merge(old, value)
        else:
            out[key] = value
    return out


def _inheritable(base: dict) -> dict:
    out = {k: v for k, v in base.items() if k not in ("name", "description")}
    if isinstance(out.get("output"), dict):
        out["output"] = {k: v for k, v in out["output"].items() if k != "dir"}
    return out


def _validate(path: Path, data: dict) -> Scenario:
    try:
        return Scenario.model_validate(data, context={"base_dir": path.parent.resolve()})
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(path, exc)) from None


def _load(path: Path, chain: tuple[Path, ...]) -> tuple[dict, Scenario]:
    """The merged raw mapping of ``path`` (paths absolute) and its validated scenario."""
    if not path.is_file():
        raise ScenarioError(f"{path}: scenario file not found.")
    if len(chain) >= MAX_EXTENDS_DEPTH:
        raise ScenarioError(f"{path}: the extends chain is more than {MAX_EXTENDS_DEPTH} files deep (from "
                            f"{chain[0]}); make the base scenarios shallower.")
    here = path.resolve()
    data = _read_mapping(path)
    data.pop("source", None)
    extends = data.pop("extends", None)
    data = resolve_paths(data, Scenario, here.parent)
    base_file = None
    if extends is not None:
        if not isinstance(extends, str) or not extends.strip():
            raise ScenarioError(f"{path}: extends: give the base scenario as a file path, e.g. "
                                f"extends = \"baseline.toml\" (got {shorten(extends)}).")
        base_file = (here.parent / extends).resolve()
        if base_file in chain or base_file == here:
            loop = " -> ".join(str(p) for p in (*chain[chain.index(base_file):], here, base_file)) \
                if base_file in chain else f"{here} -> {here}"
            raise ScenarioError(f"{path}: extends = '{extends}' makes a cycle: {base_file} extends, directly or "
                                f"through other files, {here} ({loop}). Remove one of the extends.")
        if not base_file.is_file():
            raise ScenarioError(f"{path}: extends = '{extends}': base scenario {base_file} not found.")
        base_data, _ = _load(base_file, (*chain, here))
        if "name" not in data:
            raise ScenarioError(f"{path}: name: required but missing — a scenario that extends {base_file.name} "
                                "must give its own name.")
        data = _merge(_inheritable(base_data), data, top=True)
    scenario = _validate(path, data)
    return data, scenario.model_copy(update={"source": here, "extends": base_file})


def load_scenario(path) -> Scenario:
    """Read and validate a scenario file; relative paths resolve from the file's folder.

    A file with ``extends = "base.toml"`` is merged over its base by the rules in the module
    docstring, then validated once.

    Raises
    ------
    ScenarioError
        If the file (or a base it extends) is missing, unreadable, part of an ``extends`` cycle, or any
        field is invalid (all problems listed, against the file they were found in).
    """
    _, scenario = _load(Path(path), ())
    return scenario
