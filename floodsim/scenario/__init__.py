"""Scenario files: a validated, frozen description of one simulation (terrain, storm, settings)."""

from .load import load_scenario
from .models import Scenario

__all__ = ["Scenario", "load_scenario"]
