"""The site file of ``floodsim publish``: which runs a published flood-risk site shows, and its texts.

A site file is TOML, validated here (pure pydantic, like the scenario). Relative paths resolve from the
file's folder. Every text is shown literally on the pages (escaped where it is placed; see
:mod:`floodsim.maps.safe`), so it may hold any printable text.

.. code-block:: toml

    # top-level keys come before the first table ([publish], [[runs]], …): TOML puts a key written
    # after a table header into that table
    compare = "../outputs/compare_pond"     # optional: a `floodsim compare` folder (B − A)
    sweep = "../outputs/sweep_return_periods"   # optional: a sweep folder with likelihood products
    design = "baseline"                     # which design of the sweep to show (default: the first)
    out = "../site/merewether"              # optional: the site folder (default: site/<file stem>)

    [publish]                       # the texts of every page (all optional: sensible defaults)
    title = "Merewether flood risk"
    language = "en"                 # BCP 47 tag, the pages' <html lang>
    event = "A 60 mm cloudburst in 30 minutes"
    date = "2026-12-01"
    data_sources = "1 m DEM: WRL (UNSW) via ANUGA; buildings: ANUGA Merewether case"
    licence = "CC BY 4.0"
    disclaimer = "..."
    advice = ["Move valuables upstairs", "Do not walk or drive through flood water"]
    contact = "Floods team, flood@example.org"

    [[runs]]                        # the scenarios; the first is the reference (e.g. today)
    path = "../outputs/merewether_cloudburst"
    label = "Today"
    [[runs]]
    path = "../outputs/merewether_pond"
    label = "With the detention pond"


    [addresses]                      # optional: points or polygons with an address field
    path = "../gis_data/city/addresses.gpkg"
    layer = "addresses"
    field = "address"

    [base]                           # the base map
    online = true                    # OpenStreetMap streets when the page is online (default)
    tiles = "../gis_data/city/basemap.mbtiles"   # optional: an XYZ tile folder or an MBTiles file
    roads = { path = "...", layer = "roads", name_field = "name" }   # optional vector base layers
    water = { path = "...", layer = "water" }
    buildings = { path = "...", layer = "buildings", name_field = "name" }
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field, ValidationError, field_validator

from ..errors import ScenarioError
from .base import LayerRef, Name, ScenarioPath, _Model

#: Longest free text of a [publish] field (a disclaimer or an advice line) [characters].
MAX_TEXT_LENGTH = 4000
#: Most runs one site shows.
MAX_SITE_RUNS = 8


def _text(value: str) -> str:
    bad = [c for c in value if (ord(c) < 32 and c not in "\n\t") or ord(c) == 127 or 0x80 <= ord(c) < 0xA0]
    if bad:
        raise ValueError(f"text must not contain control characters (found {bad[0]!r}); use printable text")
    return value


#: A free text shown on the pages (newlines allowed).
Text = Annotated[str, Field(max_length=MAX_TEXT_LENGTH), AfterValidator(_text)]

_LANG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")


def _language(value: str) -> str:
    if not _LANG.match(value):
        raise ValueError("give a BCP 47 language tag such as 'en', 'da' or 'en-GB'")
    return value


DEFAULT_DISCLAIMER = (
    "This map shows the result of a computer model of the rain events named on it. It is not a forecast "
    "and not a warning: a real storm can flood places the model shows dry, and leave dry places it shows "
    "wet. Depths are modelled on a 1 m terrain model without the sewer network unless stated. Use it to "
    "understand where water goes, not to decide in an emergency: then follow the emergency services."
)
DEFAULT_ADVICE = (
    "Sign up for the local flood warnings and know how you would hear them.",
    "Keep valuables, papers and electrics above the depth shown for your building.",
    "Check that gullies and drains near you are not blocked, and report those that are.",
    "Never walk, cycle or drive through flood water: 30 cm of moving water can float a car.",
    "Make a flood plan: where you would go, what you would take, who you would call.",
)


class PublishTexts(_Model):
    """The ``[publish]`` table: the texts every page of the site shows. ``None`` means the default
    (:func:`floodsim.maps.site` fills the event from the runs' rain, the date with today, the model
    version with floodsim's)."""

    title: Name = "Flood risk map"
    language: Annotated[str, AfterValidator(_language)] = "en"
    event: Text | None = None
    date: Text | None = None
    model_version: Text | None = None
    data_sources: Text = "Terrain, buildings and rain as set in the scenarios; flooding modelled with floodsim."
    licence: Text = "Results: CC BY 4.0. Terrain and buildings: see the data sources."
    disclaimer: Text = DEFAULT_DISCLAIMER
    advice: list[Text] = Field(default_factory=lambda: list(DEFAULT_ADVICE), max_length=30)
    contact: Text | None = None


class SiteRun(_Model):
    """One published scenario: a run folder written by ``floodsim run`` and its label on the pages."""

    path: ScenarioPath
    label: Name | None = None


class AddressLayer(LayerRef):
    """Points or polygons with an address field, searched on the resident page."""

    field: str = "address"


class NamedLayer(LayerRef):
    """A vector base layer (roads, water, buildings), labelled by ``name_field`` when given."""

    name_field: str | None = None


class BaseMapSpec(_Model):
    """The base map: online streets, a user's tiles, and vector layers drawn from the project's data."""

    online: bool = True
    tiles: ScenarioPath | None = None
    roads: NamedLayer | None = None
    water: NamedLayer | None = None
    buildings: NamedLayer | None = None


class SiteSpec(_Model):
    """A site file, validated (unknown keys rejected)."""

    publish: PublishTexts = PublishTexts()
    runs: list[SiteRun] = Field(min_length=1, max_length=MAX_SITE_RUNS)
    compare: ScenarioPath | None = None
    sweep: ScenarioPath | None = None
    design: Name | None = None
    addresses: AddressLayer | None = None
    base: BaseMapSpec = BaseMapSpec()
    out: ScenarioPath | None = None
    source: Path | None = None

    @field_validator("runs")
    @classmethod
    def _distinct(cls, runs):
        seen = set()
        for r in runs:
            key = str(r.path)
            if key in seen:
                raise ValueError(f"the run folder {key} is listed twice; list each scenario once")
            seen.add(key)
        return runs


def load_site(path) -> SiteSpec:
    """Read and validate a site file (TOML); relative paths resolve from the file's folder.

    Raises
    ------
    ScenarioError
        Unreadable file, invalid TOML, unknown keys or bad values (one line per problem, naming the
        file and the field).
    """
    from .load import format_validation_error, read_toml

    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"{path}: site file not found.")
    data = read_toml(path, "site")
    if "source" in data:
        raise ScenarioError(f"{path}: source: unknown key — check its spelling against the site reference")
    top = set(SiteSpec.model_fields) - {"runs", "source"}
    runs = data.get("runs")
    for k, run in enumerate(runs if isinstance(runs, list) else []):
        misplaced = sorted(set(run) & top) if isinstance(run, dict) else []
        if misplaced:
            raise ScenarioError(
                f"{path}: runs[{k}].{misplaced[0]}: {', '.join(misplaced)} is a top-level key, but TOML put it "
                "in the [[runs]] table above it; move it before the first table ([publish] or [[runs]]).")
    try:
        return SiteSpec.model_validate({**data, "source": path.resolve()},
                                       context={"base_dir": path.resolve().parent})
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(path, exc)) from None
