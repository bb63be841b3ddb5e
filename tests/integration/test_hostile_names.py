"""Names may hold anything a user types: every file, variable and column derived from them is safe.

Reference: issue 10 item 2 (a measure named "Tank 1/2" lost a finished run: NetCDF forbids "/" in
variable names).
"""

from __future__ import annotations

import xarray as xr

from floodsim.errors import ScenarioError
from floodsim.run.runner import run_scenario

from .conftest import SCENARIOS, coarsened

HOSTILE = 'Tank 1/2 {{7*7}} <b>"x"</b> ${7*7} \u00e9'


def test_measure_named_with_slash_and_markup_runs_and_writes(tmp_path):
    sc = coarsened(SCENARIOS / "merewether_tank.toml", 8, duration_min=20.0, output_interval_min=5.0)
    tank = sc.measures[0].model_copy(update={"name": HOSTILE})
    sc = sc.model_copy(update={"measures": (tank,)})
    out = run_scenario(sc, out_dir=tmp_path / "run", compare_to_baseline=True)
    with xr.open_dataset(tmp_path / "run" / "results.nc") as ds:
        assert list(ds["device"].values.astype(str)) == [HOSTILE]   # the name survives, as data
        assert all("/" not in name and " " not in name for name in ds.data_vars)
    effects = out.summary.against_baseline["measures"]
    assert effects[0]["name"] == HOSTILE and effects[0]["peak_stored_m3"] > 0


def test_control_characters_in_a_name_are_refused(tmp_path):
    import pytest

    path = tmp_path / "s.toml"
    base = (SCENARIOS / "merewether_cloudburst.toml").as_posix()
    path.write_text(f'extends = "{base}"\nname = "bad\\u0007name"\n')
    from floodsim.scenario.load import load_scenario

    with pytest.raises(ScenarioError, match="control characters"):
        load_scenario(path)
