"""The architecture holds: light schema, one home per run-folder file name, and the import contracts."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_scenario_schema_loads_no_engine():
    """Validating a scenario must not import numba, geopandas or the measure physics."""
    code = ("import sys, floodsim.scenario; from floodsim.scenario.load import load_scenario; "
            f"load_scenario({str(ROOT / 'scenarios' / 'merewether_pond.toml')!r}); "
            "bad = [m for m in ('numba', 'geopandas', 'rasterio', 'xarray', 'floodsim.measures', 'floodsim.core')"
            " if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_each_run_folder_file_name_is_written_once():
    """The run folder's file names live in floodsim.io.runfolder only (docstrings aside)."""
    from floodsim.io import runfolder as rf

    names = [rf.RESULTS_NC, rf.SUMMARY_JSON, rf.SUMMARY_CSV, rf.FLOOD_GPKG, rf.HAZARD_RATING_TIF,
             rf.HAZARD_CLASS_TIF, rf.ARRIVAL_TIME_TIF, rf.CHECKPOINT_NPZ, rf.COMPARISON_CSV, rf.SWEEP_CSV,
             rf.SWEEP_NC, rf.EAD_CSV, rf.MEMBER_JSON, rf.MEMBER_ERROR_TXT, *rf.MAXIMA_TIFS.values()]
    offenders = []
    for path in (ROOT / "floodsim").rglob("*.py"):
        if path.name == "runfolder.py":
            continue
        for k, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            for name in names:
                if re.search(rf"[\"']{re.escape(name)}[\"']", code):
                    offenders.append(f"{path.relative_to(ROOT)}:{k}: {name}")
    assert not offenders, "\n".join(offenders)


@pytest.mark.skipif(shutil.which("lint-imports") is None, reason="import-linter is not installed")
def test_import_contracts_hold():
    out = subprocess.run(["lint-imports"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:]
