"""The steel thread end to end: sensors -> runs -> model -> predictions -> health, and CI's
checks job run from the command line against what was materialized."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from docasset.core.datasets.labelled import read_key
from docasset.core.extraction.fields import load_doctype, values_match
from docasset.core.training.registry import Registry
from docasset.core.workdir import Workdir
from docasset.sim.operators import source_to_doc_ids
from tests.defs.cli import run_dg

pytestmark = pytest.mark.e2e  # real runs through the Dagster graph

ROOT = Path(__file__).resolve().parents[2]


def test_intake_runs_once_per_batch(loop) -> None:
    [run] = loop.runs["intake_1"]
    assert run.success
    assert loop.runs["intake_again"] == []  # nothing new in the inbox
    preds = run.output_for_node("predictions")
    assert preds["doc_id"].n_unique() == 44
    assert set(preds["route"]) == {"review"}


def test_corrections_imported_and_retraining_fired_once(loop) -> None:
    [corr] = loop.runs["corrections"]
    assert corr.success and corr.output_for_node("corrections").height == 44
    [retrain] = loop.runs["retrain"]
    assert retrain.success
    assert loop.runs["retrain_again"] == []
    checks = {e.asset_check_key.name: e for e in retrain.get_asset_check_evaluations()}
    assert checks["annotation_consistency"].passed
    assert checks["accuracy_regression"].passed
    # No production model yet: its figures are absent, not 0 (nor the deltas 1).
    meta = checks["accuracy_regression"].metadata
    assert "candidate_micro_f1" in meta
    assert not any(k.startswith(("production_", "delta_f1")) for k in meta), sorted(meta)
    report = retrain.output_for_node("evaluation_report")
    assert report.passed and report.production is None and report.verdict.first_model
    assert Path(report.report_path).read_text().startswith("# Evaluation")
    assert report.candidate_scores.fields["date"].f1 >= 0.8
    reg = Registry(Workdir(loop.home).models)
    assert reg.aliases() == {"candidate": "v0001", "production": "v0001"}
    assert retrain.output_for_node("production_model")["promoted"] is True
    # The promotion is reported on serving_model, the asset predictions depend on.
    serving = loop.instance.get_latest_materialization_event(dg.AssetKey("serving_model"))
    assert serving is not None and serving.run_id == retrain.run_id
    assert serving.asset_materialization.metadata["version"].value == "v0001"
    assert (
        reg.get("v0001").info["training_set_version"]
        == retrain.output_for_node("curated_training_set").version
    )


def test_production_batch_is_predicted_by_the_promoted_model(loop) -> None:
    [run] = loop.runs["intake_2"]
    assert run.success
    preds = run.output_for_node("predictions")
    assert set(preds["model_version"]) == {"v0001"}
    receipt = load_doctype("receipt")
    ids = {v: k for k, v in source_to_doc_ids(Workdir(loop.home)).items()}
    right = total = 0
    for r in preds.filter(pl.col("field").is_in(["date", "total"])).iter_rows(named=True):
        truth = read_key(loop.stream_dir / "key" / f"{ids[r['doc_id']]}.json")
        total += 1
        right += values_match(receipt.spec(r["field"]), r["value"], truth[r["field"]])
    assert right / total >= 0.8, (right, total)


def test_health_materialized_for_today(loop) -> None:
    [run] = loop.runs["health"]
    assert run.success
    health = run.output_for_node("production_health")
    assert health.n_docs == 52 and health.signals is not None
    w = health.signals
    assert 0.0 <= w.automation_rate <= 1.0 and (w.mean_ocr_confidence or 0) > 50


def _dg(loop, *args: str) -> subprocess.CompletedProcess[str]:
    return run_dg(loop.dagster_home, loop.home, *args)


def test_checks_job_runs_the_gates_from_the_command_line(loop) -> None:
    out = _dg(loop, "launch", "--job", "checks_job")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    batch = json.loads((sorted((loop.home / "batches").glob("*.json"))[0]).read_text())["batch_id"]
    out = _dg(loop, "launch", "--job", "batch_checks_job", "--partition", batch)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    # The checks ran on that batch, on the loop's instance.
    runs = loop.instance.get_runs(
        filters=dg.RunsFilter(job_name="batch_checks_job", tags={"dagster/partition": batch})
    )
    assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS]
    assert "DeprecationWarning" not in out.stderr and "deprecated" not in out.stderr.lower()


def test_correction_memory_fixes_the_same_vendors_next_documents(loop) -> None:
    # Every bootstrap document was corrected; the stream has documents of the same vendors.
    [run] = loop.runs["intake_2"]
    preds = run.output_for_node("predictions")
    # Filled (source memory) or confirmed (the model read the same value): the entry is recorded.
    memory = preds.filter(pl.col("memory_entry").is_not_null())
    assert memory.height >= 4, preds.group_by("source", "history").len()
    assert set(memory["history"]) <= {"filled", "confirmed"}
    assert (memory["source"] == "memory").to_list() == (memory["history"] == "filled").to_list()
    receipt = load_doctype("receipt")
    ids = {v: k for k, v in source_to_doc_ids(Workdir(loop.home)).items()}
    for r in memory.iter_rows(named=True):
        truth = read_key(loop.stream_dir / "key" / f"{ids[r['doc_id']]}.json")
        assert values_match(receipt.spec(r["field"]), r["value"], truth[r["field"]]), r
