"""The human validation loop end to end, through sensors and real runs (issue 5, "Done when").

A bootstrap batch is predicted, corrected and trained into production v0001. A second batch is
predicted by v0001; a reviewer's corrections arrive in both formats (the project's JSONL and a
Label Studio export of the review tasks), next to a malformed file (rejected whole) and a
re-sent file (a no-op). The correction memory then fixes the held-out vendors' next documents;
the retraining sensor fires; promotion excludes the right documents with reason codes; and the
blocking ``annotation_consistency`` gate catches the planted inconsistent annotations.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from PIL import Image

from docasset.core.datasets.labelled import read_key
from docasset.core.extraction.fields import load_doctype, values_match
from docasset.core.training.curate import split_of
from docasset.core.validation.corrections import read_store
from docasset.core.validation.memory import CorrectionMemory, vendor_key
from docasset.core.validation.vendor_store import VendorStore
from docasset.core.workdir import Workdir
from docasset.definitions import build_definitions
from docasset.defs.driver import LocalDriver
from docasset.defs.settings import Settings
from docasset.sim.operators import corrections_from_keys, source_to_doc_ids, write_corrections
from docasset.sim.synthetic.generate import generate, vendor_catalogue

pytestmark = pytest.mark.e2e  # real runs through the Dagster graph

RECEIPT = load_doctype("receipt")
VENDORS = vendor_catalogue()
BOOT_VENDORS = VENDORS[:5]
HELD_OUT = VENDORS[5:8]  # never seen in training: the model cannot know their names
TRAIN = {"ops": {"candidate_model": {"config": {"epochs": 12, "patience": 3}}}}
STAMP = "2026-11-24T10:00:00Z"


@dataclass
class State:
    home: Path
    wd: Workdir
    defs: dg.Definitions
    keys: dict[str, Path]  # inbox stem -> key file
    runs: dict[str, list[dg.ExecuteInProcessResult]] = field(default_factory=dict)
    docs: dict[str, str] = field(default_factory=dict)  # role -> doc id
    held_out_first: dict[str, str] = field(default_factory=dict)  # vendor -> corrected doc id
    held_out_next: dict[str, str] = field(default_factory=dict)  # vendor -> next doc id
    planted: list[str] = field(default_factory=list)


def _drop(wd: Workdir, docs, keys: dict[str, Path]) -> None:
    for d in docs:
        shutil.copy(d.image_path, wd.inbox / d.image_path.name)
        keys[d.image_path.stem] = d.key_path


def _ids(wd: Workdir) -> dict[str, str]:
    return source_to_doc_ids(wd)


def _label_studio_export(tasks: list[dict], truth: dict[str, dict[str, str]]) -> list[dict]:
    """What Label Studio exports after a reviewer boxed and typed the given tasks' values."""
    out = []
    for task in tasks:
        doc_id = task["data"]["doc_id"]
        if doc_id not in truth:
            continue
        result = []
        for i, (name, value) in enumerate(truth[doc_id].items()):
            geometry = {"x": 5.0, "y": 5.0 + 10 * i, "width": 50.0, "height": 4.0, "rotation": 0}
            region = {"id": name, "to_name": "page", "original_width": 1000}
            label = RECEIPT.spec(name).label
            result += [
                {
                    **region,
                    "from_name": "field",
                    "type": "rectanglelabels",
                    "value": {**geometry, "rectanglelabels": [label]},
                },
                {
                    **region,
                    "from_name": "value",
                    "type": "textarea",
                    "value": {**geometry, "text": [value]},
                },
            ]
        ann = {
            "completed_by": {"id": 3, "email": "carol@example.com"},
            "updated_at": STAMP,
            "result": result,
        }
        out.append({**task, "annotations": [ann]})
    return out


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[State]:
    root = tmp_path_factory.mktemp("validation")
    (root / "dagster_home").mkdir()
    with dg.instance_for_test(temp_dir=str(root / "dagster_home")) as instance:
        home = root / "work"
        settings = Settings(
            inbox={"settle_seconds": 0.0},
            retrain={"min_corrections": 4},
            split={"min_golden": 3},
            qa={"max_inconsistency_rate": 0.05},
        )
        defs = build_definitions(str(home), settings)
        wd = Workdir(home)
        st = State(home, wd, defs, {})
        driver = LocalDriver(instance, defs, home)

        # 1. Bootstrap: predicted (no model), corrected, retrained into production v0001.
        _drop(wd, generate(root / "boot", 20, seed=21, vendors=BOOT_VENDORS, prefix="b-"), st.keys)
        st.runs["intake_boot"] = driver.tick("inbox_sensor")
        boot = {d for s, d in _ids(wd).items() if s.startswith("b-")}
        write_corrections(
            wd.corrections_inbox / "boot.jsonl",
            corrections_from_keys(wd, root / "boot" / "key", boot, "alice"),
        )
        st.runs["corrections_boot"] = driver.tick("corrections_sensor")
        st.runs["retrain_boot"] = driver.tick("retrain_sensor", TRAIN)

        # 2. A batch predicted by v0001: the held-out vendors' first documents, more of the
        # known vendors, an irrelevant page and a blank scan.
        s2 = generate(root / "s2", 6, seed=22, vendors=BOOT_VENDORS, prefix="s2-", irrelevant=1)
        _drop(wd, s2, st.keys)
        for i, v in enumerate(HELD_OUT):
            _drop(
                wd, generate(root / "s2", 1, seed=100 + i, vendors=[v], prefix=f"h1-{i}-"), st.keys
            )
        blank = wd.inbox / "blank-page.png"
        Image.new("L", (1240, 1754), 255).save(blank, dpi=(300, 300))
        st.runs["intake_2"] = driver.tick("inbox_sensor")
        ids = _ids(wd)
        for i, v in enumerate(HELD_OUT):
            st.held_out_first[v] = ids[f"h1-{i}-rcpt-00000"]
        st.docs["blank"] = ids["blank-page"]
        known = sorted(d for s, d in ids.items() if s.startswith("s2-rcpt"))
        st.docs["conflict"] = known[0]
        # Planted where the gate looks: documents of the train/dev split.
        st.planted = [d for d in known[1:] if split_of(d, settings.split_config()) != "golden"][:2]

        # The reviewer's JSONL: the known vendors' documents (two planted wrong), the
        # irrelevant page, the blank scan; bob disagrees with alice on one document.
        recs = corrections_from_keys(
            wd, root / "s2" / "key", set(known) | {ids["s2-irr-00006"]}, "alice"
        )
        for r in recs:
            if r["doc_id"] in st.planted:  # the amount typed as the company, a made-up total
                r["fields"] = {**r["fields"], "company": r["fields"]["total"], "total": "987.65"}
        recs.append(
            {
                "doc_id": st.docs["blank"],
                "fields": {"total": "1.00"},
                "annotator": "alice",
                "timestamp": STAMP,
            }
        )
        write_corrections(wd.corrections_inbox / "review-2.jsonl", recs)
        conflict = next(r for r in recs if r["doc_id"] == st.docs["conflict"])
        bob = {**conflict, "annotator": "bob", "fields": {**conflict["fields"], "total": "0.01"}}
        write_corrections(wd.corrections_inbox / "review-2-bob.jsonl", [bob])
        # Label Studio: carol labels the held-out vendors' documents in the exported tasks.
        [batch2] = [r.dagster_run.tags["dagster/partition"] for r in st.runs["intake_2"]]
        tasks = json.loads((home / "review" / batch2 / "label-studio-tasks.json").read_text())
        truth = {
            st.held_out_first[v]: read_key(st.keys[f"h1-{i}-rcpt-00000"])
            for i, v in enumerate(HELD_OUT)
        }
        (wd.corrections_inbox / "label-studio-export.json").write_text(
            json.dumps(_label_studio_export(tasks, truth))
        )
        # A malformed file (one good line, one unknown id): rejected whole, nothing stored.
        write_corrections(
            wd.corrections_inbox / "broken.jsonl",
            [recs[0], {**recs[0], "doc_id": "0000000000000000", "annotator": "mallory"}],
        )
        st.runs["corrections_2"] = driver.tick("corrections_sensor")
        # The same JSONL sent again under another name: a no-op.
        shutil.copy(
            wd.corrections_archive
            / next(
                p.name
                for p in wd.corrections_archive.iterdir()
                if p.name.endswith("-review-2.jsonl")
            ),
            wd.corrections_inbox / "review-2-again.jsonl",
        )
        st.runs["corrections_again"] = driver.tick("corrections_sensor")

        # 3. The held-out vendors' next documents, after the corrections arrived.
        for i, v in enumerate(HELD_OUT):
            _drop(
                wd, generate(root / "s3", 1, seed=200 + i, vendors=[v], prefix=f"h2-{i}-"), st.keys
            )
        st.runs["intake_3"] = driver.tick("inbox_sensor")
        ids = _ids(wd)
        for i, v in enumerate(HELD_OUT):
            st.held_out_next[v] = ids[f"h2-{i}-rcpt-00000"]

        # 4. Enough new promoted corrections: the sensor launches retraining.
        st.runs["retrain_2"] = driver.tick("retrain_sensor", TRAIN)
        st.runs["retrain_2_again"] = driver.tick("retrain_sensor", TRAIN)
        yield st


def test_bootstrap_batch_is_corrected_and_the_sensor_retrains_into_production(state: State) -> None:
    [intake] = state.runs["intake_boot"]
    assert intake.success and set(intake.output_for_node("predictions")["route"]) == {"review"}
    [retrain] = state.runs["retrain_boot"]
    assert retrain.success, [e.message for e in retrain.all_events if e.is_failure]
    assert retrain.dagster_run.tags["dagster/sensor_name"] == "retrain_sensor"
    assert retrain.output_for_node("production_model")["version"] == "v0001"


def test_review_queue_is_exported_for_label_studio_and_as_jsonl(state: State) -> None:
    [intake] = state.runs["intake_2"]
    queue = intake.output_for_node("review_queue")
    batch = intake.dagster_run.tags["dagster/partition"]
    out = state.home / "review" / batch
    tasks = json.loads((out / "label-studio-tasks.json").read_text())
    lines = [json.loads(x) for x in (out / "queue.jsonl").read_text().splitlines()]
    assert (
        {t["data"]["doc_id"] for t in tasks} == set(queue["doc_id"]) == {q["doc_id"] for q in lines}
    )
    assert "<RectangleLabels" in (out / "label-studio-config.xml").read_text()
    pre = [p for t in tasks for p in t["predictions"]]
    assert pre and all(p["model_version"] == "v0001" and 0.0 <= p["score"] <= 1.0 for p in pre)
    assert all(
        {"fields", "confidence", "field_status", "blockers", "image", "queue_reason"} <= set(q)
        for q in lines
    )


def test_corrections_in_both_formats_rejections_and_no_ops(state: State) -> None:
    [run] = state.runs["corrections_2"]
    assert run.success
    meta = run.get_asset_materialization_events()[0].materialization.metadata
    imports = {i["file"]: i for i in meta["imports"].value}
    assert imports["label-studio-export.json"]["stored"] == len(HELD_OUT)
    assert imports["review-2.jsonl"]["stored"] > 0 and imports["review-2-bob.jsonl"]["stored"] == 1
    assert set(meta["rejections"].value) == {"broken.jsonl"}
    reasons = (state.wd.corrections_rejected / "broken.jsonl.reasons.txt").read_text()
    assert "line 2: unknown document id '0000000000000000'" in reasons
    store = read_store(state.wd.corrections_store)
    assert "mallory" not in set(store["annotator"])  # nothing from the rejected file
    assert {r for r in store["annotator"]} >= {"alice", "bob", "carol@example.com"}
    archived = {p.name.split("-", 1)[1] for p in state.wd.corrections_archive.iterdir()}
    assert {"review-2.jsonl", "label-studio-export.json", "review-2-bob.jsonl"} <= archived
    assert not list(state.wd.corrections_inbox.iterdir())
    [again] = state.runs["corrections_again"]
    meta = again.get_asset_materialization_events()[0].materialization.metadata
    assert (
        meta["imports"].value[0]["already_imported"] and meta["corrections"].value == store.height
    )
    assert meta["conflicts"].value == 1


def test_correction_memory_fixes_the_held_out_vendors_next_documents(state: State) -> None:
    [intake] = state.runs["intake_3"]
    preds = intake.output_for_node("predictions")
    stems = {d: s for s, d in _ids(state.wd).items()}
    fixed = 0
    for vendor, doc_id in state.held_out_next.items():
        truth = read_key(state.keys[stems[doc_id]])
        rows = {
            r["field"]: r for r in preds.filter(pl.col("doc_id") == doc_id).iter_rows(named=True)
        }
        company = rows["company"]
        # Filled from memory (source memory) or confirmed (the model read the same value):
        # either way the entry is recorded.
        assert company["memory_entry"] is not None, (vendor, company)
        assert company["history"] in ("filled", "confirmed")
        assert values_match(RECEIPT.spec("company"), company["value"], truth["company"])
        fixed += all(
            values_match(RECEIPT.spec(f), rows[f]["value"], truth[f])
            for f in ("company", "address")
            if rows[f]["memory_entry"] is not None
        )
    assert fixed == len(HELD_OUT)
    # Their first documents came before any correction: nothing was remembered of them then.
    [intake2] = state.runs["intake_2"]
    first = intake2.output_for_node("predictions").filter(
        pl.col("doc_id").is_in(list(state.held_out_first.values()))
    )
    assert "memory" not in set(first["source"])
    # The memory is scoped to the vendor and auditable: who, from which correction; the
    # keyword before the total was learned from the Label Studio correction's OCR text.
    entries = CorrectionMemory(state.wd.memory).entries()
    held = [e for e in entries if e.vendor in {vendor_key(v) for v in HELD_OUT}]
    assert {e.annotator for e in held} == {"carol@example.com"}
    assert {e.field for e in held} >= {"company", "address"} and all(
        e.source_correction for e in held
    )
    assert any(e.kind == "anchor" and e.field == "total" for e in held)


def test_the_vendor_registry_learns_from_corrections_and_predictions_match_it(
    state: State,
) -> None:
    [run] = state.runs["corrections_2"]
    registry = run.output_for_node("vendor_registry")
    meta = {
        e.materialization.asset_key.path[-1]: e.materialization.metadata
        for e in run.get_asset_materialization_events()
    }
    assert meta["vendor_registry"]["corrections_learned"].value > 0
    # The conflicts check ran with the asset: no key two vendors claim in the fixtures.
    [check] = [c for c in run.get_asset_check_evaluations() if c.check_name == "vendor_conflicts"]
    assert check.passed and check.metadata["key_conflicts"].value == 0
    reg = VendorStore(state.wd.vendors).registry()
    names = {vendor_key(v.name) for v in reg.vendors.values()}
    assert {vendor_key(v) for v in HELD_OUT} <= names
    assert set(registry["vendor_id"]) <= set(reg.vendors)
    # The held-out vendors' next documents are matched by a printed key, not by their name,
    # and their company is the registry's (the fixtures print a registration and a phone).
    [intake] = state.runs["intake_3"]
    preds = intake.output_for_node("predictions")
    for doc_id in state.held_out_next.values():
        rows = preds.filter((pl.col("doc_id") == doc_id) & (pl.col("field") == "company"))
        [row] = rows.iter_rows(named=True)
        assert row["vendor_id"] in reg.vendors, row
        assert not row["vendor_key"].startswith("name:"), row
        assert row["value"] == reg.vendors[row["vendor_id"]].name


def test_retraining_fires_promotion_reasons_and_the_gate_catches_planted_annotations(
    state: State,
) -> None:
    [run] = state.runs["retrain_2"]
    assert state.runs["retrain_2_again"] == []  # never twice for one state
    assert run.dagster_run.tags["dagster/sensor_name"] == "retrain_sensor"
    assert not run.success  # stopped by the blocking gate: no candidate was trained
    checks = {e.asset_check_key.name: e for e in run.get_asset_check_evaluations()}
    gate = checks["annotation_consistency"]
    assert not gate.passed
    offending = set(gate.metadata["offending_ids"].value)
    assert set(state.planted) <= offending
    assert state.docs["conflict"] in gate.metadata["qa_list"].value
    registry = state.defs.resources["registry"].store()  # type: ignore[attr-defined]
    assert [v.version for v in registry.versions()] == ["v0001"]

    cur = run.output_for_node("curated_training_set")
    rec = {r["doc_id"]: r for r in cur.records.iter_rows(named=True)}
    ids = _ids(state.wd)
    assert rec[ids["s2-irr-00006"]]["reason"] == "irrelevant"
    assert rec[state.docs["blank"]]["reason"] == "bad_scan"
    assert rec[state.docs["conflict"]]["reason"] == "annotator_conflict"
    for doc_id in state.held_out_first.values():
        assert rec[doc_id]["split"] != "excluded" or rec[doc_id]["reason"] == "model_correct"
    # Every excluded document has a reason code, every promoted one a basis.
    assert all((r["split"] == "excluded") == (r["reason"] is not None) for r in rec.values())
    assert all((r["split"] == "excluded") == (r["basis"] is None) for r in rec.values())
    meta = run.get_asset_materialization_events()[0].materialization.metadata
    assert {"irrelevant", "bad_scan", "annotator_conflict"} <= set(meta["excluded_by_reason"].value)
