"""``floodsim validate SCENARIO``: check a scenario, its input data and its output folder without running it."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ExitCode, InputDataError


def cmd_validate(args) -> int:
    from .. import units
    from ..build.model import build_model
    from ..run import budget
    from ..scenario.load import load_scenario

    from ..run.runner import check_output_folder, default_output_dir

    sc = load_scenario(args.scenario)
    model = build_model(sc)
    check_output_folder(default_output_dir(sc), tidy=False)   # what `run` would refuse, validate refuses
    sim = model.simulation
    ny, nx = sim.grid.shape
    need = budget.estimate_model(model, units.minutes_to_s(sc.simulation.duration_min),
                                 units.minutes_to_s(sc.simulation.output_interval_min)
                                 if sc.simulation.output_interval_min else None)
    if not need.fits:
        raise InputDataError(budget.refusal(need, str(args.scenario)))
    print(f"{args.scenario}: OK — '{sc.name}', {ny}×{nx} cells of {sim.grid.dx:.2f} m, "
          f"{int(sim.active.sum()):,} active, {int(sim.blocked.sum()):,} under buildings, "
          f"{sim.faces.cell_i.size} open boundary faces, {len(sim.inflows)} inflow(s)")
    for line in need.lines():
        print(line)
    return ExitCode.OK


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("validate", help="check a scenario and its input data without running it")
    p.add_argument("scenario", type=Path)
    p.set_defaults(func=cmd_validate)
    return p
