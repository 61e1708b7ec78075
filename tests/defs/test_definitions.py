from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg

from docasset.definitions import build_definitions
from tests.defs.cli import run_dg

ROOT = Path(__file__).resolve().parents[2]
defs = build_definitions()


def test_lineage_runs_from_raw_scans_to_production_health() -> None:
    graph = defs.resolve_asset_graph()
    up = {
        k.to_user_string(): {p.to_user_string() for p in graph.get(k).parent_keys}
        for k in graph.get_all_asset_keys()
    }
    assert up["ocr_text"] == {"raw_scans"}
    assert up["documents"] == {"raw_scans", "ocr_text"}
    # The loop is closed: predictions read the model production_model reports as serving_model
    # (an edge from production_model itself would make the graph cyclic).
    assert up["predictions"] == {"documents", "serving_model"}
    assert up["serving_model"] == set()
    assert up["review_queue"] == {"documents", "predictions"}
    # The operators' loop is visible: review tasks go to Label Studio, whose annotations
    # (an external asset) come back as corrections.
    assert up["label_studio_annotations"] == {"label_studio_tasks"}
    assert up["corrections"] == {"review_queue", "documents", "label_studio_annotations"}
    assert up["promotion_status"] == {"corrections", "documents", "predictions"}
    assert up["curated_training_set"] == {"corrections", "documents", "predictions"}
    assert up["candidate_model"] == {"curated_training_set"}
    assert up["evaluation_report"] == {"candidate_model", "curated_training_set"}
    assert up["production_model"] == {"evaluation_report"}
    assert up["label_studio_tasks"] == {"review_queue", "ocr_text", "raw_scans"}
    assert "predictions" in up["production_health"]
    external = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).is_external}
    assert external == {"label_studio_annotations", "serving_model"}
    # The vendor registry is learned from corrections (predictions read it as a resource:
    # an input would close the predictions -> review -> corrections cycle).
    assert up["vendor_registry"] == {"corrections", "documents"}


GATES = {"scan_quality", "annotation_consistency", "accuracy_regression"}
# Per-batch, non-blocking: a share of failed documents is reported, the batch goes on.
BATCH_CHECKS = {"ocr_failures"}
# Two vendors claiming one key: warned about, settled by a manager.
REGISTRY_CHECKS = {"vendor_conflicts"}
# Annotations refused back onto their task: reported, non-blocking (issue 25).
LABEL_STUDIO_CHECKS = {"label_studio_rejections"}
HEALTH_CHECKS = {
    "health_drift",
    "health_automation_drop",
    "health_unseen_values",
    "health_estimated_accuracy_drop",
    "health_qa_accuracy",
}


def test_gates_are_blocking_checks_and_health_checks_only_warn() -> None:
    graph = defs.resolve_asset_graph()
    names = {k.name: k for k in graph.asset_check_keys}
    assert (
        set(names) == GATES | HEALTH_CHECKS | BATCH_CHECKS | REGISTRY_CHECKS | LABEL_STUDIO_CHECKS
    )
    for name, key in names.items():
        # Gates guard what comes after them; health checks report a day, they block nothing.
        assert graph.get_check_spec(key).blocking == (name in GATES), name


def test_dg_checks_and_lists_the_autoloaded_definitions(tmp_path: Path) -> None:
    # What `dg dev` loads: the project of pyproject.toml [tool.dg], docasset/defs autoloaded.
    out = run_dg(tmp_path, tmp_path / "work", "check", "defs")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "All definitions loaded successfully" in out.stdout + out.stderr
    out = run_dg(tmp_path, tmp_path / "work", "list", "defs", "--json")
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    graph = defs.resolve_asset_graph()
    assert {a["asset_key"] for a in listed["assets"]} == {
        k.to_user_string() for k in graph.get_all_asset_keys()
    }
    assert {c["name"] for c in listed["asset_checks"]} == {k.name for k in graph.asset_check_keys}
    assert {j["name"] for j in listed["jobs"]} >= {"ingest_job", "batch_checks_job"}
    assert len(listed["sensors"]) == 4 and len(listed["schedules"]) == 2
    for noise in ("DeprecationWarning", "deprecated", "Telemetry", "does not match"):
        assert noise not in out.stderr, out.stderr


def test_nothing_is_read_from_the_environment_at_import(tmp_path: Path) -> None:
    # The deployed resources name their variables (dg.EnvVar), resolved when a run starts.
    code = (
        "import os, sys; os.environ.pop('DOCASSET_HOME', None); "
        "import docasset.definitions as m; "
        "d = m.build_definitions(); r = d.resources; "
        "print(r['home'].root.env_var_name)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "DOCASSET_HOME"


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


def test_the_deployed_resources_name_their_environment_variables(monkeypatch) -> None:
    from docasset.defs.deployment import deployed_resources

    monkeypatch.setenv("DOCASSET_LABEL_STUDIO_URL", "http://127.0.0.1:8080")
    monkeypatch.setenv("DOCASSET_LABEL_STUDIO_TOKEN", "secret")
    r = deployed_resources()
    assert r["home"].root.env_var_name == "DOCASSET_HOME"
    assert r["registry"].home.env_var_name == "DOCASSET_HOME"
    assert r["label_studio"].url.env_var_name == "DOCASSET_LABEL_STUDIO_URL"
    assert r["label_studio"].token.env_var_name == "DOCASSET_LABEL_STUDIO_TOKEN"
    # build_definitions never configures Label Studio by itself (tests, demo, simulations).
    assert not build_definitions().resources["label_studio"].configured()
