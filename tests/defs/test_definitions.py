from __future__ import annotations

from pathlib import Path

import dagster as dg

from docasset.definitions import defs
from tests.defs.cli import run_dagster

ROOT = Path(__file__).resolve().parents[2]


def test_lineage_runs_from_raw_scans_to_production_health() -> None:
    graph = defs.resolve_asset_graph()
    up = {
        k.to_user_string(): {p.to_user_string() for p in graph.get(k).parent_keys}
        for k in graph.get_all_asset_keys()
    }
    assert up["ocr_text"] == {"raw_scans"}
    assert up["documents"] == {"raw_scans", "ocr_text"}
    assert up["predictions"] == {"documents"}
    assert up["review_queue"] == {"documents", "predictions"}
    # The operators' loop is visible: corrections answer the review queue.
    assert up["corrections"] == {"review_queue", "documents"}
    assert up["promotion_status"] == {"corrections", "documents", "predictions"}
    assert up["curated_training_set"] == {"corrections", "documents", "predictions"}
    assert up["candidate_model"] == {"curated_training_set"}
    assert up["evaluation_report"] == {"candidate_model", "curated_training_set"}
    assert up["production_model"] == {"evaluation_report"}
    assert up["label_studio_tasks"] == {"review_queue", "ocr_text", "raw_scans"}
    assert "predictions" in up["production_health"]


GATES = {"scan_quality", "annotation_consistency", "accuracy_regression"}
HEALTH_CHECKS = {
    "health_drift",
    "health_automation_drop",
    "health_unseen_values",
    "health_estimated_accuracy_drop",
}


def test_gates_are_blocking_checks_and_health_checks_only_warn() -> None:
    graph = defs.resolve_asset_graph()
    names = {k.name: k for k in graph.asset_check_keys}
    assert set(names) == GATES | HEALTH_CHECKS
    for name, key in names.items():
        # Gates guard what comes after them; health checks report a day, they block nothing.
        assert graph.get_check_spec(key).blocking == (name in GATES), name


def test_dagster_definitions_validate(tmp_path: Path) -> None:
    out = run_dagster(
        tmp_path, tmp_path / "work", "definitions", "validate", "-w", "workspace.yaml"
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_jobs_and_automation_are_defined() -> None:
    assert {j.name for j in defs.jobs} >= {
        "ingest_job",
        "corrections_job",
        "retrain_job",
        "health_job",
        "checks_job",
    }  # type: ignore[union-attr]
    assert {s.name for s in defs.sensors} == {
        "inbox_sensor",
        "corrections_sensor",
        "retrain_sensor",
        "label_studio_sensor",
    }  # type: ignore[union-attr]
    assert {s.name for s in defs.schedules} == {"health_job_schedule", "weekly_retrain"}  # type: ignore[union-attr]
    assert isinstance(defs.resolve_job_def("checks_job"), dg.JobDefinition)
