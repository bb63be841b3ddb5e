"""The city benchmark script runs end to end at a tiny size (its figures are measured in benchmarks/, not
here): the JSON it writes has the columns benchmarks/README.md reports, and the run closes its balance."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_city_runs_and_records_its_columns(tmp_path):
    out = tmp_path / "city.json"
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_city.py"), "--n", "240", "--minutes", "2",
                        "--frame-minutes", "1", "--precision", "double,single", "--out", str(out)], capture_output=True, text=True, timeout=600,
                       env={**__import__("os").environ, "TMPDIR": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    rows = json.loads(out.read_text())["rows"]
    assert [row["precision"] for row in rows] == ["double", "single"]
    for row in rows:   # frames: the initial state and two output times, streamed (none left in memory)
        assert row["cells"] == 240 * 240 and row["output_frames"] == 3 and len(row["rss_mb_after_each_frame"]) == 2
        assert 0.15 < row["blocked_share"] < 0.35
        assert row["steps"] > 0 and row["cell_updates_per_s_all"] > 0 and row["results_nc_bytes"] > 0
        assert abs(row["relative_volume_error"]) < 1e-12
        assert row["model_bytes_per_cell"] > 0
    assert rows[0]["volume_rounding_m3"] == 0.0 and rows[1]["volume_rounding_m3"] != 0.0
