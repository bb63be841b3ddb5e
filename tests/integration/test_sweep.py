"""Design sweeps on a real dask.distributed LocalCluster (2 worker processes on loopback) over the bundled
city, coarsened 8× with a 20-minute run: the gathered table equals the members run one by one, a killed
sweep resumes and skips finished members, a failing member is reported and the rest finish."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from floodsim.errors import ScenarioError
from floodsim.run.runner import run_scenario
from floodsim.scenario.paths import apply_overrides, check_parameter_path
from floodsim.sweep import METRICS, expand_members, load_sweep, member_metrics, run_sweep

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "scenarios" / "sweeps" / "merewether_chicago.toml"

SWEEP = f"""
name = "test sweep"
base = "{BASE.as_posix()}"
rank_by = "flooded_buildings"

[grid]
"rainfall.return_period_yr" = [5, 100]
simulation.coarsen = [8]
simulation.duration_min = [20.0]
simulation.output_interval_min = [5.0]

[[members]]
label = "design storm"

[[members]]
label = "beyond the IDF table"            # 1000 years: the IDF file stops at 100, so the run fails
"rainfall.return_period_yr" = 1000.0     # a member's own value wins over the grid's
"""


@pytest.fixture(scope="module")
def client():
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, env={"NUMBA_NUM_THREADS": "1"})
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def sweep_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweep") / "sweep.toml"
    path.write_text(SWEEP)
    return path


@pytest.fixture(scope="module")
def first_sweep(client, sweep_file):
    """The sweep run once on the cluster (shared by the tests below, which copy its folder)."""
    spec = load_sweep(sweep_file)
    out = sweep_file.parent / "out"
    return spec, run_sweep(spec, out, client=client, progress=False), out


def _metrics(table, member):
    return table.loc[table["member"] == member, list(METRICS)].iloc[0].astype(float).to_numpy()


def test_sweep_on_local_cluster_equals_members_run_one_by_one_and_reports_failures(first_sweep, tmp_path):
    spec, result, out = first_sweep
    members = expand_members(spec)
    # 2 explicit members × grid points; the second member's own return period overrides the grid's
    assert len(members) == 4
    table = result.table
    assert table["member"].tolist() == [m.id for m in members]
    ok = table[table["status"] == "ok"]
    failed = table[table["status"] == "failed"]
    assert len(ok) == 2 and len(failed) == 2
    assert failed["error"].str.contains("1000").all() and (failed["error_kind"] == "input").all()
    for run_dir in failed["run_dir"]:
        assert "1000" in (Path(run_dir) / "error.txt").read_text()
        assert not (Path(run_dir) / "summary.json").exists()
    assert set(ok["param rainfall.return_period_yr"]) == {5, 100}
    # more rain, more flooding: the 100-year storm floods more buildings and does more damage
    by_t = ok.set_index("param rainfall.return_period_yr")
    assert by_t.loc[100, "flooded_buildings"] > by_t.loc[5, "flooded_buildings"] > 0
    assert by_t.loc[100, "damage_eur"] > by_t.loc[5, "damage_eur"] > 0
    for name in ("sweep.csv", "sweep.nc", "ead.csv"):
        assert (out / name).is_file()

    # the same members run one by one in this process give the same numbers
    for m in members:
        row = table[table["member"] == m.id].iloc[0]
        if row["status"] != "ok":
            continue
        single = tmp_path / "single" / m.id
        run_scenario(m.scenario, out_dir=single)
        ref = member_metrics(single, m.scenario, spec.damage)
        got = _metrics(table, m.id)
        want = np.array([ref[k] for k in METRICS], dtype=float)
        exact = [k != "volume_error_relative" for k in METRICS]      # balance sums depend on thread count
        np.testing.assert_array_equal(got[exact], want[exact])
        np.testing.assert_allclose(got[~np.array(exact)], want[~np.array(exact)], atol=1e-12)

    # expected annual damage: the design with two good members gets one, the failing design none
    ead = result.ead
    good = ead[ead["design"] == "design storm"].iloc[0]
    t, d = by_t.index.to_numpy(float), by_t["damage_eur"].to_numpy(float)
    assert good["ead_eur_per_yr"] == pytest.approx((d[0] + d[1]) / 2 * (1 / t[0] - 1 / t[1]) + d[1] / t[1])
    assert np.isnan(ead[ead["design"] == "beyond the IDF table"]["ead_eur_per_yr"]).all()


def test_killed_sweep_resumes_and_skips_finished_members(client, sweep_file, first_sweep, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(first_sweep[2], out)
    first = first_sweep[1].table
    ok_members = first.loc[first["status"] == "ok", "member"].tolist()
    kept, killed = (out / "members" / ok_members[0]), (out / "members" / ok_members[1])
    stamp = (kept / "results.nc").stat().st_mtime_ns
    # a member killed before the runner wrote its summary (written last) leaves no complete summary.json
    (killed / "summary.json").unlink()
    second = run_sweep(sweep_file, out, client=client, progress=False).table
    status = dict(zip(second["member"], second["status"]))
    assert status[ok_members[0]] == "skipped (complete)"
    assert status[ok_members[1]] == "ok"                       # rerun
    assert (kept / "results.nc").stat().st_mtime_ns == stamp   # not rewritten
    assert (second["status"] == "failed").sum() == 2           # failures are retried, and fail again
    for m in ok_members:
        np.testing.assert_allclose(_metrics(second, m), _metrics(first, m), rtol=0, atol=1e-12)


def test_cli_sweep_on_an_existing_scheduler(client, sweep_file, first_sweep, tmp_path, capsys):
    from floodsim.cli import main
    from floodsim.errors import ExitCode

    shutil.copytree(first_sweep[2], tmp_path / "cli")        # finished members are skipped, failed rerun
    code = main(["sweep", str(sweep_file), "--scheduler", client.scheduler.address, "--out",
                 str(tmp_path / "cli"), "--rank-by", "damage_eur", "--quiet"])
    text = capsys.readouterr().out
    assert code == ExitCode.INPUT                                   # a member failed on its input
    assert "ranked by       damage_eur" in text and "failed members:" in text
    assert "expected annual damage" in text
    rows = (tmp_path / "cli" / "sweep.csv").read_text().splitlines()
    assert len(rows) == 1 + 4


def test_unknown_parameter_paths_are_named_before_anything_runs(tmp_path):
    assert check_parameter_path("rainfall.return_period_yr") is None
    assert check_parameter_path("measures.0.volume_m3") is None           # a tank's field
    assert check_parameter_path("boundaries.1.slope") is None
    assert "no field 'retrun_period_yr'" in check_parameter_path("rainfall.retrun_period_yr")
    assert "pick an item by its index" in check_parameter_path("boundaries.north.slope")
    bad = tmp_path / "bad.toml"
    bad.write_text(f'base = "{BASE.as_posix()}"\n[grid]\n"simulation.duraton_min" = [10.0]\n')
    with pytest.raises(ScenarioError, match="unknown parameter path 'simulation.duraton_min'"):
        load_sweep(bad)
    bad.write_text(f'base = "{BASE.as_posix()}"\n[grid]\n"rainfall.return_period_yr" = [5]\nworkers = 3\n')
    with pytest.raises(ScenarioError, match="unknown parameter path 'workers'"):   # keys under [grid]
        load_sweep(bad)
    bad.write_text(f'base = "{BASE.as_posix()}"\nbogus = 1\n')
    with pytest.raises(ScenarioError, match="unknown key 'bogus'"):
        load_sweep(bad)


def test_overrides_of_list_items_and_their_bounds():
    data = {"boundaries": [{"side": "north", "slope": 0.02}], "simulation": {"duration_min": 60.0}}
    out = apply_overrides(data, {"boundaries.0.slope": 0.05, "simulation.coarsen": 4,
                                 "output.flood_threshold_m": 0.2})
    assert out["boundaries"][0]["slope"] == 0.05 and data["boundaries"][0]["slope"] == 0.02   # copy
    assert out["simulation"] == {"duration_min": 60.0, "coarsen": 4}
    assert out["output"] == {"flood_threshold_m": 0.2}
    with pytest.raises(ScenarioError, match="only 1 item"):
        apply_overrides(data, {"boundaries.3.slope": 0.05})


def test_member_validation_errors_name_the_member(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(f'base = "{BASE.as_posix()}"\n[grid]\n"simulation.coarsen" = [0]\n')
    with pytest.raises(ScenarioError, match=r"(?s)member m000-\w+ \(coarsen=0\).*simulation.coarsen"):
        expand_members(load_sweep(bad))


def test_worker_threads_are_limited(client):
    assert set(client.run(lambda: os.environ.get("NUMBA_NUM_THREADS")).values()) == {"1"}
    assert set(client.nthreads().values()) == {1}
