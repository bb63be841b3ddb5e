"""The command line: exit codes and one-line errors that name the file, the field and the fix."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from floodsim.cli import main
from floodsim.errors import ExitCode

from .conftest import SCENARIOS


def write_scenario(tmp_path, text, name="s.toml"):
    """A scenario in tmp_path that uses the bundled data through absolute paths."""
    gis = (SCENARIOS.parent / "gis_data" / "merewether").as_posix()
    path = tmp_path / name
    path.write_text(text.replace("GIS", gis))
    return path


BASE = """
name = "t"
[domain]
dem = "GIS/dem.tif"
[rainfall]
kind = "block"
intensity_mm_h = 50
duration_min = 1
[simulation]
duration_min = 1
coarsen = 8
"""


def test_validate_ok(capsys):
    assert main(["validate", str(SCENARIOS / "merewether_cloudburst.toml")]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "OK" in out and "under buildings" in out


def test_run_small(tmp_path, capsys):
    path = write_scenario(tmp_path, BASE)
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "continuity error" in out
    assert (tmp_path / "out" / "results.nc").exists()


@pytest.mark.parametrize("edit, expected", [
    (("intensity_mm_h = 50", "intensty_mm_h = 50"), "rainfall.intensty_mm_h: unknown key"),
    (("intensity_mm_h = 50", "intensity_mm_h = -5"), "rainfall.intensity_mm_h: Input should be greater"),
    (("dem = \"GIS/dem.tif\"", "dem = \"GIS/nothere.tif\""), "nothere.tif: DEM file not found"),
    (("duration_min = 1\ncoarsen", "coarsen"), "simulation.duration_min: required but missing"),
])
def test_bad_input_gives_one_line_error(tmp_path, capsys, edit, expected):
    path = write_scenario(tmp_path, BASE.replace(*edit))
    assert main(["validate", str(path)]) == ExitCode.INPUT
    err = capsys.readouterr().err
    assert expected in err
    assert str(path) in err
    assert "Traceback" not in err


def test_layer_errors_name_layer_and_field(tmp_path, capsys):
    path = write_scenario(tmp_path, BASE + """
[surface]
zones = [{ path = "GIS/merewether.gpkg", layer = "roads", field = "no_such_field" }]
""")
    assert main(["validate", str(path)]) == ExitCode.INPUT
    err = capsys.readouterr().err
    assert "layer 'roads'" in err and "missing attribute 'no_such_field'" in err


def test_missing_layer_lists_available(tmp_path, capsys):
    path = write_scenario(tmp_path, BASE + """
[buildings]
path = "GIS/merewether.gpkg"
layer = "houses"
""")
    assert main(["validate", str(path)]) == ExitCode.INPUT
    assert "no such layer; the file has buildings" in capsys.readouterr().err


def test_unwritable_output_folder(tmp_path, capsys):
    path = write_scenario(tmp_path, BASE)
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["run", str(path), "--out", str(blocker / "sub"), "--quiet"]) == ExitCode.INPUT
    assert "not writable" in capsys.readouterr().err


def test_console_script_and_module_entry_point(tmp_path):
    exe = shutil.which("floodsim")
    cmd = [exe] if exe else [sys.executable, "-m", "floodsim"]
    res = subprocess.run(cmd + ["--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "validate" in res.stdout
    res = subprocess.run([sys.executable, "-m", "floodsim", "validate", str(tmp_path / "none.toml")],
                         capture_output=True, text=True)
    assert res.returncode == ExitCode.INPUT and "scenario file not found" in res.stderr
