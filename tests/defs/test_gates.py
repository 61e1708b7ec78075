"""The blocking gates fail on bad input and pass on good input, with real models and data."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
import spacy

from docasset.core.extraction.extract import ModelBundle
from docasset.core.training.registry import Registry
from docasset.core.workdir import Workdir
from docasset.definitions import build_definitions
from docasset.defs.evaluation import accuracy_regression, evaluation_report, production_model
from docasset.defs.training import annotation_consistency
from docasset.sim.operators import corrections_from_keys, write_corrections
from tests.defs.cli import run_dg

pytestmark = pytest.mark.e2e  # real runs through the Dagster graph

ROOT = Path(__file__).resolve().parents[2]
# Every asset of the graph (the external Label Studio annotations and serving model included).
ASSETS = [
    a for a in build_definitions().assets or [] if isinstance(a, dg.AssetsDefinition | dg.AssetSpec)
]


def _keys(a: dg.AssetsDefinition | dg.AssetSpec) -> set[str]:
    return (
        {a.key.to_user_string()}
        if isinstance(a, dg.AssetSpec)
        else {k.to_user_string() for k in a.keys}
    )


EVALUATED = {"candidate_model", "evaluation_report", "production_model"}
# Upstream assets the selection loads from storage (included so the graph resolves; not run).
UPSTREAM = [a for a in ASSETS if not _keys(a) & EVALUATED]


def _copy_home(loop, tmp_path: Path, instance: dg.DagsterInstance) -> Path:
    """A copy of the loop's working directory, its batches registered on ``instance``."""
    home = tmp_path / "work"
    shutil.copytree(loop.home, home)
    instance.add_dynamic_partitions("batches", loop.instance.get_dynamic_partitions("batches"))
    return home


def _candidate_asset(version: str) -> dg.AssetsDefinition:
    """Stands in for the training step only: points evaluation at a registered real model."""

    @dg.asset(name="candidate_model", group_name="training")
    def fixed_candidate() -> dict:
        return {"version": version, "path": "", "training_set_version": "test"}

    return fixed_candidate


def _evaluate(home: Path, make_defs, instance, version: str) -> dg.ExecuteInProcessResult:
    defs = make_defs(home)
    return dg.materialize(
        [
            _candidate_asset(version),
            evaluation_report,
            accuracy_regression,
            production_model,
            *UPSTREAM,
        ],
        selection=["candidate_model", "evaluation_report", "production_model"],
        instance=instance,
        resources=defs.resources,
        raise_on_error=False,
    )


def _import_curate_train(
    instance: dg.DagsterInstance, defs: dg.Definitions
) -> dg.ExecuteInProcessResult:
    """Import the corrections inbox, curate (with its gate) and train one epoch."""
    return dg.materialize(
        [*ASSETS, annotation_consistency],
        selection=["corrections", "curated_training_set", "candidate_model"],
        instance=instance,
        resources=defs.resources,
        raise_on_error=False,
        run_config={"ops": {"candidate_model": {"config": {"epochs": 1}}}},
    )


def test_worse_candidate_is_blocked_and_production_stays(
    loop, tmp_path: Path, instance, make_defs
) -> None:
    home = _copy_home(loop, tmp_path, instance)
    reg = Registry(Workdir(home).models)
    prod = reg.load("production")
    assert prod is not None
    # A deliberately worse real model: the production pipeline with its NER weights reset.
    worse_nlp = spacy.blank("en")
    ner = worse_nlp.add_pipe("ner")
    for label in prod.doctype.labels:
        ner.add_label(label)
    worse_nlp.initialize()
    worse = reg.register(
        ModelBundle(worse_nlp, prod.doctype, prod.calibration, prod.thresholds),
        {"training_set_version": "untrained", "note": "untrained"},
    )
    res = _evaluate(home, make_defs, instance, worse.version)
    [check] = res.get_asset_check_evaluations()
    assert not check.passed
    assert check.metadata["delta_f1_company"].value < -0.5, check.metadata
    assert "company F1 dropped" in check.description
    assert check.description.startswith(
        f"candidate {worse.version} blocked, production stays v0001"
    )
    assert reg.aliases()["production"] == "v0001"
    # A blocked candidate is an outcome, not an outage: the run succeeds and production_model
    # records the decision to keep v0001, with the gate's reasons.
    assert res.success
    [decision] = res.asset_materializations_for_node("production_model")
    meta = {k: v.value for k, v in decision.metadata.items()}
    assert (meta["decision"], meta["version"], meta["candidate"]) == (
        "kept",
        "v0001",
        worse.version,
    )
    assert meta["summary"].startswith(f"production stays v0001: candidate {worse.version} blocked")
    assert any("company F1 dropped" in r for r in meta["reasons"])
    assert res.output_for_node("production_model")["promoted"] is False
    # serving_model did not move: observed as kept, not materialized.
    assert "serving_model" not in {
        e.asset_key.to_user_string() for e in res.get_asset_materialization_events()
    }
    [seen] = [e for e in res.all_events if e.event_type == dg.DagsterEventType.ASSET_OBSERVATION]
    assert seen.asset_key == dg.AssetKey("serving_model")
    # The blocked candidate's report says why, with the errors behind it.
    report = (reg.get(worse.version).path / "report.md").read_text()
    assert "**BLOCKED**" in report and "company F1 dropped" in report
    assert "### Worst documents" in report and "| company |" in report
    assert reg.get(worse.version).info["metrics"]["gate_passed"] is False


def test_equal_or_better_candidate_is_promoted(loop, tmp_path: Path, instance, make_defs) -> None:
    home = _copy_home(loop, tmp_path, instance)
    reg = Registry(Workdir(home).models)
    same = reg.register(
        reg.load("production"), {"training_set_version": "same", "note": "same weights"}
    )
    res = _evaluate(home, make_defs, instance, same.version)
    [check] = res.get_asset_check_evaluations()
    assert check.passed, check.description
    assert reg.aliases()["production"] == same.version
    assert reg.history()[-1]["reason"].startswith("accuracy_regression passed")
    assert reg.history()[-1]["kind"] == "promote"
    [decision] = [
        m
        for m in res.asset_materializations_for_node("production_model")
        if m.asset_key.path == ["production_model"]
    ]
    assert decision.metadata["decision"].value == "promoted"
    [serving] = [
        e for e in res.get_asset_materialization_events() if e.asset_key.path == ["serving_model"]
    ]
    assert serving.materialization.metadata["version"].value == same.version
    # Managers' views: Markdown with embedded plots in the UI, numeric metadata for the trend
    # plots, a standalone HTML file next to the model version, the figures in the registry.
    [mat] = res.asset_materializations_for_node("evaluation_report")
    meta = {k: v.value for k, v in mat.metadata.items()}
    assert meta["report"].count("](data:image/png;base64,") == 3
    assert all(isinstance(meta[f"f1_{f}"], float) for f in ("company", "date", "address", "total"))
    assert 0.0 <= meta["automation_rate"] <= 1.0 and meta["latency_p95_s"] > 0
    assert meta["micro_f1_ci_low"] <= meta["micro_f1"] <= meta["micro_f1_ci_high"]
    html = Path(meta["report_html"])
    assert html.parent == reg.get(same.version).path and html.name == "report.html"
    assert html.read_text().count('src="data:image/png;base64,') == 3
    metrics = reg.get(same.version).info["metrics"]
    assert metrics["gate_passed"] and metrics["micro_f1"] == meta["micro_f1"]
    # What each comparison rests on: the golden set and the shadow set (the candidate's
    # held-out documents production never trained on), each with its document count.
    md = meta["report"]
    assert "## What each comparison rests on" in md
    assert f"| golden (frozen) | {meta['n_golden']} |" in md
    if meta["n_shadow"]:
        shadow_row = "| shadow (checked since production, never trained on) |"
        assert f"{shadow_row} {meta['n_shadow']} |" in md
    else:
        assert "no checked document production never saw" in md


def test_inconsistent_annotations_block_training_and_fail_ci(
    loop, tmp_path: Path, instance, make_defs
) -> None:
    home = _copy_home(loop, tmp_path, instance)
    wd = Workdir(home)
    # Operators typed values that are not in the documents (a wrong receipt's values) for a
    # quarter of the documents: newer corrections of the same documents by a new annotator.
    # (The date is plausible: an implausible one is refused at import, before curation.)
    recs = corrections_from_keys(wd, loop.boot_dir / "key", None, "mallory", now=datetime.now(UTC))
    wrong = [
        {**r, "fields": {**r["fields"], "company": "NOT ON THIS RECEIPT LTD", "date": "30/01/2019"}}
        for r in recs[:12]
    ]
    write_corrections(wd.corrections_inbox / "wrong.jsonl", wrong)
    defs = make_defs(home)
    res = _import_curate_train(instance, defs)
    [check] = res.get_asset_check_evaluations()
    # Two annotators disagree on those 12 documents: flagged as conflicts and excluded, never
    # silently resolved; so the planted values cannot reach training through them.
    curated = res.output_for_node("curated_training_set")
    excluded = dict(
        curated.records.filter(curated.records["reason"].is_not_null())
        .group_by("reason")
        .len()
        .iter_rows()
    )
    assert excluded.get("annotator_conflict") == 12
    assert check.passed
    # Now the same wrong values from the only annotator of fresh documents: the gate must fail.
    for f in (home / "corrections" / "store").glob("seg-*"):
        f.unlink()
    write_corrections(wd.corrections_inbox / "only-wrong.jsonl", wrong + recs[12:])
    res = _import_curate_train(instance, defs)
    [check] = res.get_asset_check_evaluations()
    assert not check.passed
    assert check.metadata["inconsistency_rate"].value > 0.15
    offending = check.metadata["offending"].value
    assert any("not found in OCR text" in i for issues in offending.values() for i in issues)
    assert "candidate_model" not in {
        e.asset_key.to_user_string() for e in res.get_asset_materialization_events()
    }
    # CI's checks job fails on this state too.
    (tmp_path / "dh").mkdir()
    out = run_dg(tmp_path / "dh", home, "launch", "--job", "checks_job")
    assert out.returncode != 0
    assert "annotation_consistency" in out.stdout + out.stderr


def test_entries_intake_refuses_are_not_bad_scans(
    tmp_path: Path, receipts_dir: Path, instance, make_defs
) -> None:
    """Issue 23 defect 4: 12 good receipts and 9 junk entries (each refused by intake with its
    reason) failed the scan-quality gate and held the good receipts hostage."""
    import os

    from docasset.defs.driver import LocalDriver, ingest
    from fixtures.badinput import _png_header_only

    wd = Workdir(tmp_path / "work")
    goods = sorted((receipts_dir / "img").iterdir())[:3]
    for p in goods:
        shutil.copy(p, wd.inbox / p.name)
    os.symlink("/etc/passwd", wd.inbox / "passwd.png")
    os.mkfifo(wd.inbox / "pipe.png")
    (wd.inbox / "folder.png").mkdir()
    (wd.inbox / "bomb.png").write_bytes(_png_header_only(40_000, 40_000))
    (wd.inbox / "cut.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 40)
    (wd.inbox / "page.jpg").write_bytes(b"<!DOCTYPE html><html><body>404</body></html>\n")
    driver = LocalDriver(instance, make_defs(wd.root), wd.root)  # default threshold (0.5)
    res = ingest(driver, wd, 100)
    assert res.ok, res.notes
    by_file = {o["file"]: o for o in res.outcomes}
    for p in goods:
        assert (by_file[p.name]["status"], by_file[p.name]["route"]) == ("ok", "review")
    refused = [o for o in res.outcomes if o["status"] == "quarantined"]
    assert len(refused) == 6 and all(o["reason"] for o in refused)
    evaluations = instance.get_records_for_run(
        instance.get_runs(limit=1)[0].run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    [check] = [
        e.event_log_entry.dagster_event.asset_check_evaluation_data
        for e in evaluations
        if e.event_log_entry.dagster_event.asset_check_evaluation_data.check_name == "scan_quality"
    ]
    meta = check.metadata
    assert meta["bad_share"].value == 0.0 and meta["refused"].value == 6
