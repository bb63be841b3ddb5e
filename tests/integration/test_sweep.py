"""Design sweeps on a real dask.distributed LocalCluster (2 worker processes on loopback) over the bundled
city, coarsened 8× with a 20-minute run: the gathered table equals the members run one by one, a killed
sweep resumes and skips finished members, a failing member is reported and the rest finish."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
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


# ------------------------------------------------------------------------ inputs checked before anything runs
@pytest.mark.parametrize("damage, match", [
    ('curves = "no_such_curves.csv"', r"no_such_curves\.csv: depth-damage curves file not found.*remove "
                                      r"`curves`"),
    ('costs = "garbled.csv"', r"garbled\.csv: cannot read the construction costs.*iso3"),
    ('curves = "garbled.csv"', r"garbled\.csv: cannot read the depth-damage curves.*region, use, depth_m"),
    ('country = "ATLANTIS"', r"\[damage\] country = 'ATLANTIS'.*no construction cost.*ISO3 code"),
    ('default_use = "castle"', r"default_use = 'castle'.*use one of commercial, residential"),
    ('use_field = "building_id"', r"merewether\.gpkg layer 'buildings'.*use\(s\) house000"),
])
def test_bad_damage_data_stops_the_sweep_before_anything_is_written(tmp_path, capsys, damage, match):
    from floodsim.cli import main
    from floodsim.errors import ExitCode, InputDataError

    (tmp_path / "garbled.csv").write_bytes(b"\x00\xff\xfe,,\n\x01")
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(f'base = "{BASE.as_posix()}"\n[grid]\n"rainfall.return_period_yr" = [5]\n'
                     f'[damage]\n{damage}\n')
    out = tmp_path / "out"
    with pytest.raises(InputDataError, match=match):
        run_sweep(sweep, out, client=object(), progress=False)     # never reaches the client
    assert not out.exists()
    assert main(["sweep", str(sweep), "--out", str(out), "--quiet"]) == ExitCode.INPUT
    assert "floodsim: error:" in capsys.readouterr().err and not out.exists()


def test_missing_shipped_curves_or_data_files_are_named_before_anything_runs(tmp_path, monkeypatch):
    from floodsim.analysis import damage
    from floodsim.errors import InputDataError

    sweep = tmp_path / "sweep.toml"
    sweep.write_text(f'base = "{BASE.as_posix()}"\n[grid]\n"rainfall.return_period_yr" = [5]\n')
    monkeypatch.setattr(damage, "DEFAULT_CURVES", tmp_path / "gone" / "curves.csv")
    with pytest.raises(InputDataError, match=r"curves\.csv: depth-damage curves file not found; the file "
                                             r"ships inside floodsim.*reinstall"):
        run_sweep(sweep, tmp_path / "out", client=object(), progress=False)
    monkeypatch.undo()
    sweep.write_text(f'base = "{BASE.as_posix()}"\n[grid]\n"domain.dem" = ["dem.tif", "missing.tif"]\n')
    (tmp_path / "dem.tif").write_bytes((ROOT / "gis_data" / "merewether" / "dem.tif").read_bytes())
    with pytest.raises(InputDataError, match=r"member m001-\w+ \(dem=missing.tif\): .*missing\.tif "
                                             r"\(domain\.dem\): file not found"):
        run_sweep(sweep, tmp_path / "out", client=object(), progress=False)
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------ every member failing
def test_tables_and_ranking_cope_when_every_member_failed(tmp_path):
    from floodsim.cli.sweep import exit_code_of_table
    from floodsim.errors import ExitCode
    from floodsim.sweep import format_ranking
    from floodsim.sweep.members import Member
    from floodsim.sweep.tables import ead_table, gather_table, write_tables

    members = [Member(f"m00{k}-x", f"T={t}", {"rainfall.return_period_yr": t}, None, "d")
               for k, t in enumerate((5, 100))]
    rows = [{"member": m.id, "label": m.label, "design": "d", "status": "failed", "error": f"boom {k}",
             "error_kind": kind, "param rainfall.return_period_yr": t}
            for k, (m, t, kind) in enumerate(zip(members, (5, 100), ("input", "unstable")))]
    bare = pd.DataFrame(rows)                      # no metric column at all
    for table in (bare, gather_table(rows, members)):
        text = format_ranking(table, "damage_eur")
        assert "failed members:" in text and "boom 0" in text and "boom 1" in text
        ead = ead_table(table)
        assert ead is not None and np.isnan(ead["ead_eur_per_yr"]).all()
        assert "2 member(s) failed" in ead["note"].iloc[0]
        files = write_tables(table, ead, tmp_path, load_sweep(_write_sweep(tmp_path)))
        assert all(p.is_file() for p in files.values())
        assert exit_code_of_table(table) == ExitCode.UNSTABLE            # worst of input and unstable
    assert set(METRICS) <= set(gather_table(rows, members).columns)
    assert exit_code_of_table(bare.assign(error_kind=["input", "bug"])) == ExitCode.BUG
    assert exit_code_of_table(bare.assign(error_kind="input")) == ExitCode.INPUT
    assert exit_code_of_table(bare.assign(status="ok")) == ExitCode.OK


def _write_sweep(folder: Path) -> Path:
    path = folder / "s.toml"
    path.write_text(f'base = "{BASE.as_posix()}"\n[grid]\n"rainfall.return_period_yr" = [5, 100]\n')
    return path


def test_cli_when_every_member_fails_exits_with_the_input_code(client, tmp_path, capsys):
    from floodsim.cli import main
    from floodsim.errors import ExitCode

    sweep = tmp_path / "all_fail.toml"        # the IDF file stops at 100 years: both members fail on input
    sweep.write_text(f'base = "{BASE.as_posix()}"\n[grid]\n"rainfall.return_period_yr" = [500.0, 1000.0]\n'
                     'simulation.coarsen = [8]\n')
    code = main(["sweep", str(sweep), "--scheduler", client.scheduler.address, "--out", str(tmp_path / "o"),
                 "--quiet"])
    out, err = capsys.readouterr()
    assert code == ExitCode.INPUT, err
    assert "0 run, 0 already complete, 2 failed" in out and "failed members:" in out
    assert "Traceback" not in out + err
    assert (tmp_path / "o" / "sweep.csv").is_file() and (tmp_path / "o" / "ead.csv").is_file()


# ------------------------------------------------------------------------ resume: stale results are rerun
def test_resume_reruns_members_whose_scenario_or_data_files_changed(client, tmp_path):
    from floodsim.sweep.execute import _rerun_status

    idf = tmp_path / "idf.toml"
    shutil.copy(ROOT / "gis_data" / "idf" / "dahlstrom2010_sherman.toml", idf)
    base = tmp_path / "base.toml"
    base_text = (f'extends = "{BASE.as_posix()}"\nname = "resume test"\n'
                 '[rainfall]\nidf = "idf.toml"\nreturn_period_yr = 20.0\n'
                 '[simulation]\ncoarsen = 8\nduration_min = 10.0\noutput_interval_min = 5.0\n')
    base.write_text(base_text)
    sweep = tmp_path / "sweep.toml"
    sweep.write_text('base = "base.toml"\n[grid]\n"rainfall.climate_factor" = [1.0]\n')
    out = tmp_path / "out"

    def run():
        table = run_sweep(sweep, out, client=client, progress=False).table
        assert len(table) == 1
        row = table.iloc[0]
        return row["status"], float(row["max_depth_m"]), Path(row["run_dir"])

    status, depth0, run_dir = run()
    assert status == "ok"
    record = json.loads((run_dir / "member.json").read_text())
    assert len(record["fingerprint"]) == 64 and "rainfall.idf idf.toml" in record["inputs"]
    stamp = (run_dir / "results.nc").stat().st_mtime_ns
    assert run()[:2] == ("skipped (complete)", depth0)                      # nothing changed: skipped
    assert (run_dir / "results.nc").stat().st_mtime_ns == stamp

    base.write_text(base_text.replace("return_period_yr = 20.0", "return_period_yr = 100.0"))   # more rain
    status, depth1, _ = run()
    assert status == "rerun (inputs changed: scenario)"
    assert depth1 > depth0
    assert run()[:2] == ("skipped (complete)", depth1)

    text = idf.read_text()                             # the same file name, other numbers: a data file edit
    idf.write_text("\n".join(_scaled(line) for line in text.splitlines()) + "\n")
    status, depth2, _ = run()
    assert status == "rerun (inputs changed: idf.toml)"
    assert depth2 > depth1
    assert run()[:2] == ("skipped (complete)", depth2)
    assert _rerun_status({}, record["inputs"]) == "rerun (inputs not recorded)"


def _scaled(line: str) -> str:
    """An IDF curve line ``a = 467.1`` with 1.5 times the intensity."""
    if line.startswith("a = "):
        return f"a = {1.5 * float(line[4:]):.6f}"
    return line
