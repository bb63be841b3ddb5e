"""Stall diagnosis: a collapsing time step, NaN or a negative depth stops the run with a
:class:`~floodsim.errors.StabilityError` naming the time, the cell (row, col and map x, y), its depth
and speed, and a hint; the CLI exits with code 3 and writes no results.

Reference: deliberately bad set-ups whose failing cell is known by construction.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np
import pytest

from floodsim import Grid, Hyetograph, Simulation, SolverParams
from floodsim.cli import main
from floodsim.errors import ExitCode
from floodsim.errors import InputDataError, StabilityError
from floodsim.run.recorder import run_simulation

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
CELL = re.compile(r"cell \(row (\d+), col (\d+)\), map point \((-?[\d.]+), (-?[\d.]+)\): depth (\S+) m, "
                  r"speed (\S+) m/s\. Hint: .+\.$")


def _parse(msg):
    m = CELL.search(msg)
    assert m, msg
    i, j, x, y, depth, speed = m.groups()
    return int(i), int(j), float(x), float(y), float(depth), float(speed)


def _column_sim(stall_steps, dt_min=0.05):
    """A flat 12 × 10 grid (1 m cells, origin x 100, top y 50) holding a 100 m deep lake with a 1 m
    mound of water at (row 4, col 6): the Courant step 0.7 / sqrt(g·101) = 0.022 s is below
    dt_min = 0.05 s from the first step."""
    h0 = np.full((12, 10), 100.0)
    h0[4, 6] = 101.0
    grid = Grid.from_array(np.zeros((12, 10)), 1.0, x0=100.0, y0=50.0)
    return Simulation(grid, initial_depth=h0, params=SolverParams(dt_min=dt_min, stall_steps=stall_steps))


@pytest.mark.parametrize("stall_steps", [1, 3])
def test_time_step_collapse_names_the_cell(stall_steps):
    sim = _column_sim(stall_steps)
    with pytest.raises(StabilityError) as exc:
        run_simulation(sim, 60.0, 10.0)
    msg = str(exc.value)
    assert "\n" not in msg
    assert f"after {stall_steps - 1} steps" in msg
    assert f"< dt_min 0.05 s for {stall_steps} consecutive step(s)" in msg
    i, j, x, y, depth, speed = _parse(msg)
    h = sim.state.h
    c = np.sqrt(9.80665 * h) + np.array([[sim.cell_speed(a, b) for b in range(10)] for a in range(12)])
    assert (i, j) == np.unravel_index(np.argmax(c), h.shape)      # the cell that limits the step
    assert f"the fastest wave ({c[i, j]:.3g} m/s) limits the step, in cell (row {i}" in msg
    assert abs(i - 4) <= 2 and abs(j - 6) <= 2                    # next to the mound
    assert (x, y) == (sim.grid.x[j], sim.grid.y[i]) and x == 100.5 + j and y == 49.5 - i
    assert depth == pytest.approx(h[i, j], rel=1e-3) and depth > 99.0
    assert speed == pytest.approx(sim.cell_speed(i, j), rel=1e-2, abs=1e-3)
    assert speed == 0.0 if stall_steps == 1 else speed > 0.0      # still water at the first step
    assert speed >= 0.0


def test_stall_steps_counts_consecutive_steps_only():
    """Steps above the floor reset the count: a single short step does not stop a run."""
    sim = _column_sim(stall_steps=3, dt_min=0.01)     # 0.022 s is above this floor
    run_simulation(sim, 1.0, 1.0)
    assert sim.state.steps > 10 and sim._short_steps == 0


def test_nan_depth_stops_the_run_within_a_few_steps():
    """A NaN planted in the state is found by the periodic finiteness check (every NAN_CHECK_STEPS
    steps), long before the first output time, and the message names a cell that is not finite."""
    from floodsim.core.params import NAN_CHECK_STEPS

    sim = Simulation(Grid.from_array(np.zeros((40, 8)), 2.0), initial_depth=0.3,
                     rainfall=Hyetograph.block(50.0, 600.0))
    sim.state.h[33, 2] = np.nan
    with pytest.raises(StabilityError, match="a depth became NaN or infinite; first non-finite depth") as exc:
        run_simulation(sim, 600.0, 300.0)
    assert sim.state.steps == NAN_CHECK_STEPS
    i, j, *_ = _parse(str(exc.value))
    assert not np.isfinite(sim.state.h[i, j])
    assert np.isfinite(sim.state.h[:16]).all()       # the bands far from it are untouched


def test_negative_depth_is_caught_at_output_times():
    sim = Simulation(Grid.from_array(np.zeros((6, 6)), 1.0), initial_depth=0.1)
    sim.check_finite()
    sim.state.h[2, 3] = -0.5
    with pytest.raises(StabilityError, match="a depth became negative; most negative depth") as exc:
        sim.check_finite()
    i, j, _, _, depth, _ = _parse(str(exc.value))
    assert (i, j, depth) == (2, 3, -0.5)


def test_stall_steps_validated():
    with pytest.raises(InputDataError, match="stall_steps=0"):
        SolverParams(stall_steps=0)


def test_cli_exit_code_3_and_no_results(tmp_path, capsys, monkeypatch):
    """The Merewether cloudburst with a floor of 4.9 s on the step (the Courant step on 4 m cells falls
    below it once a few cm of water collect or flow): the CLI prints one line naming the cell and exits 3."""
    from floodsim.build import model as build

    monkeypatch.setattr(build, "SolverParams", functools.partial(SolverParams, dt_min=4.9, stall_steps=2))
    scenario = tmp_path / "s.toml"
    scenario.write_text(f'extends = "{(SCENARIOS / "merewether_cloudburst.toml").as_posix()}"\nname = "stall"\n'
                        "[simulation]\nduration_min = 30\ncoarsen = 4\n")
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out), "--quiet"]) == ExitCode.UNSTABLE
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("floodsim: error: simulation stopped at t = ")
    *_, depth, speed = _parse(err)
    # its Courant speed sqrt(g h) + u exceeds cfl·dx / dt_min (printed values rounded)
    assert np.sqrt(9.80665 * depth) + speed > 0.99 * SolverParams().cfl * 4.0 / 4.9
    assert not out.exists()          # nothing written: the folder is only created by a finished run
