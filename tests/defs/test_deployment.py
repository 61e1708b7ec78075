"""What the production stack (deploy/) relies on in the definitions: the executor of launched
runs chosen by the deployment, and a run kind on every job for the run queue's limits."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from docasset.definitions import build_definitions
from docasset.defs.jobs import RUN_KIND

ROOT = Path(__file__).resolve().parents[2]


def test_launched_runs_keep_dagsters_default_executor_unless_the_deployment_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOCASSET_RUN_EXECUTOR", raising=False)
    default = build_definitions(str(tmp_path)).resolve_job_def("ingest_job")
    assert default.executor_def.name == "multi_or_in_process_executor"
    monkeypatch.setenv("DOCASSET_RUN_EXECUTOR", "in_process")  # what deploy/stack.sh sets
    defs = build_definitions(str(tmp_path))
    for job in ("ingest_job", "corrections_job", "retrain_job", "health_job"):
        assert defs.resolve_job_def(job).executor_def.name == "in_process", job


def test_an_unknown_executor_name_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCASSET_RUN_EXECUTOR", "celery")
    with pytest.raises(ValueError, match="DOCASSET_RUN_EXECUTOR='celery'"):
        build_definitions(str(tmp_path))


def test_run_queue_limits_name_the_kinds_the_jobs_carry(tmp_path: Path) -> None:
    defs = build_definitions(str(tmp_path))
    kinds = {
        name: defs.resolve_job_def(name).tags.get(RUN_KIND)
        for name in ("ingest_job", "corrections_job", "retrain_job", "health_job", "checks_job")
    }
    assert kinds == {
        "ingest_job": "ingest",
        "corrections_job": "corrections",
        "retrain_job": "retrain",
        "health_job": "health",
        "checks_job": "checks",
    }
    config = yaml.safe_load((ROOT / "deploy" / "dagster.yaml").read_text())
    coordinator = config["run_coordinator"]
    assert coordinator["class"] == "QueuedRunCoordinator"
    limits = {
        lim["value"]: lim["limit"]
        for lim in coordinator["config"]["tag_concurrency_limits"]
        if lim["key"] == RUN_KIND
    }
    assert limits["retrain"] == 1 and limits["corrections"] == 1
    assert 1 <= limits["ingest"] < 10
    assert set(limits) <= set(kinds.values())
    assert config["run_launcher"]["class"] == "CeleryRunLauncher"
    assert config["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
