"""The CUDA backend on the real Merewether catchment (coarsened to 16 m, 26 × 20 cells): the bundled
cloudburst (Green–Ampt with sealed roads, Manning zones, 59 buildings whose roof rain runs to the
ground, free outflow north and east) and the street storage tank (a measure acting during the run: its
gullies take water from the depths copied to the host and back). Both backends run the scenario as
``build_model`` builds it for ``[simulation] backend``; every state array and balance term agrees to
round-off (measured ~4e-15 of the largest value) over ~150–190 steps."""

from __future__ import annotations

import pytest

from floodsim.build.model import build_model
from floodsim.run.recorder import run_simulation
from tests.integration.conftest import SCENARIOS, coarsened

from .conftest import assert_same_state


@pytest.mark.parametrize("scenario, minutes", [("merewether_cloudburst.toml", 15.0), ("merewether_tank.toml", 12.0)])
def test_merewether_cuda_matches_cpu(scenario, minutes):
    sims = {}
    for backend in ("cpu", "cuda"):
        sc = coarsened(SCENARIOS / scenario, 16, backend=backend, duration_min=minutes,
                       output_interval_min=minutes / 2)
        assert sc.simulation.backend == backend
        sim = build_model(sc).simulation
        run_simulation(sim, minutes * 60.0, minutes * 30.0)
        sims[backend] = sim
    cpu, gpu = sims["cpu"], sims["cuda"]
    assert gpu._device is not None and cpu._device is None
    diffs = assert_same_state(cpu, gpu)
    print(f"{scenario}: {cpu.state.steps} steps, max |cpu - cuda|: "
          + ", ".join(f"{k} {v[0]:.1e} of {v[1]:.2g}" for k, v in diffs.items() if isinstance(v, tuple)))
    assert cpu.state.steps > 100
    assert float(cpu.state.h_max.max()) > 0.1          # water ponded: the comparison is not of a dry grid
    if cpu.operators:
        held = [op.stored_volume for op in cpu.operators]
        assert held[0] > 0.0                            # the tank took water during the compared run
        assert [op.stored_volume for op in gpu.operators] == pytest.approx(held, rel=1e-12)
