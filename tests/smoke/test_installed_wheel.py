"""Smoke test of what users install: the wheel, in a venv of its own, run from a folder outside the repo.

The wheel is built from a copy of the package (``pyproject.toml``, ``README.md``, ``floodsim/``) and
installed with ``--no-deps`` into a venv made with ``--system-site-packages`` (the dependencies come
from the test environment, nothing is downloaded but the build backend). The first check proves that
``import floodsim`` there resolves to the venv's own copy and not to the repository (an editable
install of the repo stays on ``sys.path`` behind it): every later command runs the wheel's contents,
package data included. From a folder in ``tmp_path`` holding copies of ``scenarios/`` and
``gis_data/``, the venv's ``python -m floodsim`` then runs ``validate``, ``run`` (the cloudburst
coarsened 8×, 10 minutes), a two-member ``sweep`` with building damage (the JRC curves shipped in
``floodsim/data/damage``), ``compare`` and ``map``; each must exit 0 and write its files.

Most of the time is numba compiling the kernels once for the fresh install (cached in the venv for
the later commands). The test skips, saying why, only when no wheel can be built here (no ``build``
module nor ``pip wheel``, or the build backend cannot be fetched).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import site
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Output of a failed wheel build that means "this machine cannot build" (no backend, no index), not a
#: broken project.
_CANNOT_BUILD = ("No matching distribution found", "Could not find a version", "Failed to establish",
                 "No module named pip", "No module named build", "Temporary failure in name resolution",
                 "Network is unreachable", "ProxyError")

QUICK = """\
extends = "scenarios/merewether_cloudburst.toml"
name = "installed quick look"
[simulation]
coarsen = 8
duration_min = 10.0
output_interval_min = 5.0
"""

SWEEP = """\
name = "installed sweep"
base = "scenarios/sweeps/merewether_chicago.toml"
rank_by = "damage_eur"
[grid]
"rainfall.return_period_yr" = [5, 100]
simulation.coarsen = [8]
simulation.duration_min = [20.0]                  # past the storm's peak (12 min): buildings flood
simulation.output_interval_min = [5.0]
[damage]
country = "EU"
"""


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def _build_wheel(tmp: Path) -> Path:
    """Build the wheel from a copy of the sources (the repo gets no build/ or egg-info); skip when this
    machine cannot build one at all."""
    src, dist = tmp / "src", tmp / "dist"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "floodsim", src / "floodsim",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc"))
    attempts = []
    if importlib.util.find_spec("build") is not None:
        build = [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(src)]
        attempts += [[*build, "--no-isolation"], build]      # the installed backend first, else fetch it
    attempts.append([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)])
    log = []
    for cmd in attempts:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), cwd=tmp)
        wheels = sorted(dist.glob("floodsim-*.whl"))
        if proc.returncode == 0 and wheels:
            return wheels[-1]
        output = (proc.stdout + proc.stderr)[-1500:]
        log.append(f"$ python {' '.join(cmd[1:4])} ... -> exit {proc.returncode}\n{output}")
    text = "\n".join(log)
    if any(marker in text for marker in _CANNOT_BUILD):
        pytest.skip("cannot build the floodsim wheel on this machine (no build backend or package index):\n"
                    + text)
    pytest.fail(f"building the floodsim wheel failed:\n{text}")


@pytest.fixture(scope="module")
def venv_python(tmp_path_factory) -> Path:
    """The python of a fresh venv holding the freshly built wheel."""
    tmp = tmp_path_factory.mktemp("wheel")
    t0 = time.perf_counter()
    wheel = _build_wheel(tmp)
    print(f"wheel built: {time.perf_counter() - t0:.1f} s")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
                   check=True, env=_env())
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if sys.prefix != sys.base_prefix:
        # the tests run in a venv themselves: its packages (the dependencies) are not the base
        # interpreter's "system" site-packages, so add them behind the new venv's own
        ask = "import sysconfig; print(sysconfig.get_path('purelib'))"
        site_dir = subprocess.run([str(python), "-c", ask], capture_output=True, text=True, check=True,
                                  env=_env()).stdout.strip()
        lines = [f"import site; site.addsitedir({d!r})" for d in site.getsitepackages()]
        (Path(site_dir) / "_floodsim_smoke_outer_env.pth").write_text("\n".join(lines) + "\n")
    # the system pip, run by the venv's python, installs into the venv; --ignore-installed: the repo's
    # own (editable) floodsim of the same version must not make pip skip the wheel
    proc = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed",
                           "--no-index", str(wheel)], capture_output=True, text=True, env=_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return python


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A folder outside the repo with copies of the bundled scenarios and data (relative paths work)."""
    work = tmp_path_factory.mktemp("user")
    for name in ("scenarios", "gis_data"):
        shutil.copytree(ROOT / name, work / name, ignore=shutil.ignore_patterns("__pycache__"))
    (work / "quick.toml").write_text(QUICK)
    (work / "sweep.toml").write_text(SWEEP)
    return work


def _floodsim(python: Path, cwd: Path, *args: str, script: bool = False, timeout: float = 300) -> str:
    """Run ``python -m floodsim ARGS`` (or the venv's ``floodsim`` console script) in ``cwd``; it must exit 0
    without a traceback. Returns its stdout. (Run one at a time: on two cores, running the first two
    commands that compile the kernels side by side took longer than one after the other.)"""
    exe = [str(python.with_name("floodsim.exe" if os.name == "nt" else "floodsim"))] if script else \
        [str(python), "-m", "floodsim"]
    t0 = time.perf_counter()
    proc = subprocess.run([*exe, *args], cwd=cwd, capture_output=True, text=True, env=_env(), timeout=timeout)
    print(f"floodsim {args[0]}: {time.perf_counter() - t0:.1f} s (exit {proc.returncode})")   # shown with -s
    assert proc.returncode == 0, (f"floodsim {' '.join(args)} exited {proc.returncode}\n"
                                  f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    assert "Traceback" not in proc.stderr
    return proc.stdout


def test_installed_wheel_runs_the_commands_from_outside_the_repo(venv_python, workdir):
    # 1. the venv runs the wheel's copy, not the repository's (nor an editable install of it)
    probe = ("import json, floodsim, floodsim.analysis.damage as d, floodsim.cli as c; "
             "print(json.dumps([floodsim.__file__, str(d.DEFAULT_CURVES), str(d.DEFAULT_COSTS), "
             "c.__file__]))")
    proc = subprocess.run([str(venv_python), "-c", probe], cwd=workdir, capture_output=True, text=True,
                          env=_env(), check=True)
    venv = venv_python.parents[1].resolve()
    for path in map(Path, json.loads(proc.stdout)):
        path = path.resolve()
        assert path.is_relative_to(venv), f"{path} is not inside the venv {venv}"
        assert not path.is_relative_to(ROOT), f"{path} comes from the repository"
        assert path.is_file(), f"{path}: not installed by the wheel"

    # 2. validate (by the console script) and run the bundled city, coarsened, with relative paths from
    # this folder; the first run compiles the kernels for this install (most of the test's time)
    assert "OK" in _floodsim(venv_python, workdir, "validate", "quick.toml", script=True)
    _floodsim(venv_python, workdir, "run", "quick.toml", "--out", "runs/quick", "--quiet")
    for name in ("results.nc", "summary.json", "summary.csv", "flood.gpkg", "max_depth.tif",
                 "hazard_class.tif"):
        assert (workdir / "runs" / "quick" / name).is_file(), name

    # 3. a two-member sweep with building damage: the depth-damage curves come from the installed package
    text = _floodsim(venv_python, workdir, "sweep", "sweep.toml", "--workers", "1", "--out", "sweeps/rp",
                     "--quiet")
    assert "2 run, 0 already complete, 0 failed" in text
    out = workdir / "sweeps" / "rp"
    for name in ("sweep.csv", "sweep.nc", "ead.csv"):
        assert (out / name).is_file(), name
    table = pd.read_csv(out / "sweep.csv").set_index("param rainfall.return_period_yr")
    assert (table["status"] == "ok").all()
    assert table.loc[100, "damage_eur"] > table.loc[5, "damage_eur"] > 0
    for run_dir in map(Path, table["run_dir"]):
        assert run_dir.parent == (out / "members").resolve()
        assert (run_dir / "summary.json").is_file() and (run_dir / "member.json").is_file()

    # 4. compare the quick run with the 100-year member (same grid), and 5. the planner map of the run
    member_100 = Path(table.loc[100, "run_dir"])
    _floodsim(venv_python, workdir, "compare", "runs/quick", str(member_100), "--out", "cmp", "--no-png")
    assert (workdir / "cmp" / "comparison.csv").is_file()
    assert any((workdir / "cmp").glob("max_depth_diff*.tif"))
    _floodsim(venv_python, workdir, "map", "runs/quick", "--out", "maps/planner.html")
    page = (workdir / "maps" / "planner.html").read_text(encoding="utf-8")
    assert "leaflet" in page.lower() and len(page) > 10_000
