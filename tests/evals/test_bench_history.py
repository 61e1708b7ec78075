"""Smoke test of ``evals.bench_history`` on tiny histories (K = 1 and 2, one receipt a batch).

It checks the JSON and that each measured step did its day's work (no timing assertions: the
numbers depend on the machine and its load).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from evals import bench_history


def test_bench_history_measures_each_step_per_history_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--batches", "1,2", "--docs-per-batch", "1", "--bootstrap-docs", "6", "--epochs", "2"]
    assert bench_history.main([*argv, "--work", str(tmp_path / "work")]) == 0
    [line] = capsys.readouterr().out.strip().splitlines()
    out = json.loads(line)
    assert out["batches"] == [1, 2]
    ops = set(bench_history.OPS)
    for k in ("1", "2"):
        assert set(out["seconds"][k]) == ops and all(v > 0 for v in out["seconds"][k].values())
        run = out["runs"][k]
        assert run["history_batches"] == int(k)
        for op in ops:
            assert run[op]["peak_is_the_steps_own"] is True  # Linux lets the mark be reset
            assert run[op]["peak_rss_mb"] >= run[op]["rss_before_mb"] > 50
        curate = run["curate"]
        # The parts are each rounded to milliseconds, so their sum may exceed the total by 1 ms.
        parts = curate["corrections_import_s"] + curate["curated_set_s"]
        assert parts <= curate["seconds"] + 0.002
        assert {"raw_scans", "ocr_text", "predictions"} <= set(run["ingest"]["materialized"])
        assert {"corrections", "curated_training_set"} <= set(run["curate"]["materialized"])
        assert run["health"]["materialized"] == ["production_health"]
        # The day's health sees the day's one new document, not the history (simulated days).
        assert run["health"]["documents_modelled"] == 1
    assert date.fromisoformat(out["runs"]["2"]["day"]) > date.fromisoformat(out["runs"]["1"]["day"])
    assert set(out["ratio"]) == {f"{op}_s" for op in ops}
    assert all(v is not None and v > 0 for v in out["ratio"].values())
    assert set(out["peak_rss_ratio"]) == ops and all(v > 0 for v in out["peak_rss_ratio"].values())
    assert all(isinstance(v, bool) for v in out["meets_goal"].values())
