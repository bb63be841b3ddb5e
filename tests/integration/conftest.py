"""Fixtures for end-to-end tests: the bundled Merewether scenarios, coarsened to run in seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from floodsim.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"


def coarsened(path: Path, factor: int, **sim_updates):
    """Load a bundled scenario and coarsen its grid by ``factor`` (plus simulation overrides)."""
    sc = load_scenario(path)
    sim = sc.simulation.model_copy(update={"coarsen": factor, **sim_updates})
    return sc.model_copy(update={"simulation": sim})


@pytest.fixture
def scenarios_dir() -> Path:
    return SCENARIOS
