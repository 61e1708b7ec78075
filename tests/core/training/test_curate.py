"""Promotion into the curated training set: what is promoted, what is excluded and why."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from docasset.core.extraction.fields import load_doctype
from docasset.core.extraction.prediction_table import PREDICTION_COLUMNS
from docasset.core.training.curate import (
    EXCLUSION_REASONS,
    SplitConfig,
    curate,
    new_promotions,
    promotion_status,
    sampled_auto_outcomes,
    split_of,
    trained_ids,
    training_set_record,
)
from docasset.core.validation.corrections import import_file, read_store

RECEIPT = load_doctype("receipt")
CFG = SplitConfig(golden_fraction=0.2, dev_fraction=0.2, min_golden=100)
TEXT = "ACME SDN BHD\nNO 1 JALAN SATU\n25/12/2018\nSUBTOTAL 8.00\nTOTAL 9.00\n"
TRUTH = {"company": "ACME SDN BHD", "date": "25/12/2018", "total": "9.00"}


def _trained_id(n: int) -> list[str]:
    out, i = [], 0
    while len(out) < n:
        if split_of(f"doc{i:013d}", CFG) in ("train", "dev"):
            out.append(f"doc{i:013d}")
        i += 1
    return out


IDS = _trained_id(9)
(REVIEW, AUTO_RIGHT, AUTO_WRONG, IRRELEVANT, BAD_SCAN, CONFLICT, EMPTY, NO_TEXT, SPANNED) = IDS


def _corrections(tmp_path: Path) -> pl.DataFrame:
    stamp = "2026-11-24T10:00:00Z"
    recs = [
        {"doc_id": d, "fields": TRUTH, "annotator": "alice", "timestamp": stamp}
        for d in (REVIEW, AUTO_RIGHT, AUTO_WRONG, BAD_SCAN, CONFLICT, NO_TEXT)
    ]
    recs += [
        {
            "doc_id": IRRELEVANT,
            "fields": {},
            "annotator": "a",
            "timestamp": stamp,
            "verdict": "irrelevant",
        },
        {"doc_id": EMPTY, "fields": {"total": None}, "annotator": "a", "timestamp": stamp},
        {
            "doc_id": CONFLICT,
            "fields": {**TRUTH, "total": "8.00"},
            "annotator": "bob",
            "timestamp": "2026-11-24T11:00:00Z",
        },
        {
            "doc_id": SPANNED,
            "fields": {"total": "9.00", "company": "ACME SDN BHD"},
            # total: the right span; company: off token boundaries ("CME SDN BHD" is wrong).
            "spans": {"total": [TEXT.index("TOTAL 9") + 6, TEXT.index("TOTAL 9") + 10]},
            "annotator": "a",
            "timestamp": stamp,
        },
    ]
    f = tmp_path / "c.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in recs))
    import_file(f, tmp_path / "store", RECEIPT, set(IDS))
    return read_store(tmp_path / "store")


def _preds(doc_id: str, route: str, values: dict[str, str | None]) -> list[dict]:
    return [
        {
            "doc_id": doc_id,
            "batch_id": "b",
            "doc_type": "receipt",
            "model_version": "v0001",
            "predicted_at": datetime(2026, 11, 24, tzinfo=UTC),
            "route": route,
            "blockers": [],
            "field": s.name,
            "required": s.required,
            "value": values.get(s.name),
            "normalized": None,
            "confidence": 0.99,
            "source": "model",
            "start": 0,
            "end": 0,
            "ocr_conf": 90.0,
            "bad_scan": False,
        }
        for s in RECEIPT.fields
    ]


def _predictions() -> pl.DataFrame:
    rows = _preds(REVIEW, "review", {**TRUTH, "total": "8.00"})
    rows += _preds(AUTO_RIGHT, "auto", TRUTH)
    rows += _preds(AUTO_WRONG, "auto", {**TRUTH, "total": "8.00"})
    return pl.DataFrame(rows, schema=PREDICTION_COLUMNS)


def test_sampled_auto_documents_split_into_model_correct_and_false_positives(
    tmp_path: Path,
) -> None:
    outcomes = sampled_auto_outcomes(RECEIPT, _predictions(), _corrections(tmp_path))
    assert outcomes == {AUTO_RIGHT: "model_correct", AUTO_WRONG: "auto_false_positive"}


def test_promotion_excludes_with_reason_codes_and_promotes_with_a_basis(tmp_path: Path) -> None:
    store = _corrections(tmp_path)
    preds = _predictions()
    texts = {d: TEXT for d in IDS if d != NO_TEXT}
    routes = dict(preds.select("doc_id", "route").unique("doc_id").iter_rows())
    cur = curate(
        RECEIPT,
        store,
        texts,
        {BAD_SCAN},
        sampled_auto_outcomes(RECEIPT, preds, store),
        tmp_path / "golden.json",
        CFG,
        routes,
    )
    rec = {r["doc_id"]: r for r in cur.records.iter_rows(named=True)}
    assert {d: rec[d]["reason"] for d in IDS if rec[d]["split"] == "excluded"} == {
        AUTO_RIGHT: "model_correct",
        IRRELEVANT: "irrelevant",
        BAD_SCAN: "bad_scan",
        CONFLICT: "annotator_conflict",
        EMPTY: "no_field_values",
        NO_TEXT: "no_ocr_text",
    }
    assert all(r["reason"] in EXCLUSION_REASONS for r in rec.values() if r["reason"])
    assert rec[REVIEW]["basis"] == "review" and rec[REVIEW]["split"] in ("train", "dev")
    assert rec[AUTO_WRONG]["basis"] == "auto_false_positive"
    assert rec[SPANNED]["basis"] == "unpredicted"
    # The annotator's span is used as given.
    total = next(a for a in json.loads(rec[SPANNED]["alignment"]) if a["field"] == "total")
    assert total["method"] == "span" and TEXT[total["start"] : total["end"]] == "9.00"
    # Nothing here is golden-bucket, so nothing leaks out of train/dev.
    assert cur.counts["train"] + cur.counts["dev"] == 3 and cur.counts["excluded"] == 6


def test_annotator_spans_off_token_boundaries_or_not_holding_the_value_are_issues(
    tmp_path: Path,
) -> None:
    f = tmp_path / "s.jsonl"
    bad_spans = {"company": [1, 12], "total": [0, 4]}  # "CME SDN BHD"; "ACME" is not 9.00
    f.write_text(
        json.dumps(
            {
                "doc_id": REVIEW,
                "fields": {"company": "CME SDN BHD", "total": "9.00"},
                "spans": bad_spans,
                "annotator": "a",
                "timestamp": "2026-11-24T10:00:00Z",
            }
        )
        + "\n"
    )
    import_file(f, tmp_path / "store", RECEIPT, {REVIEW})
    cur = curate(
        RECEIPT, read_store(tmp_path / "store"), {REVIEW: TEXT}, set(), {}, tmp_path / "g", CFG
    )
    issues = json.loads(cur.records.row(0, named=True)["issues"])
    assert any("company: span [1, 12] is not on token boundaries" in i for i in issues), issues
    assert any("total: span text 'ACME' differs" in i for i in issues), issues


def test_promotion_status_and_new_promotions_since_a_training_set(tmp_path: Path) -> None:
    store = _corrections(tmp_path)
    preds = _predictions()
    status = promotion_status(store, {BAD_SCAN}, sampled_auto_outcomes(RECEIPT, preds, store), CFG)
    new = new_promotions(store, status, set(), CFG)
    # review, auto false positive, spanned, and no-text (its text is unknown to the status)
    assert len(new) == 4
    cur = curate(
        RECEIPT,
        store,
        {d: TEXT for d in IDS},
        {BAD_SCAN},
        sampled_auto_outcomes(RECEIPT, preds, store),
        tmp_path / "golden.json",
        CFG,
    )
    info = {"training_set_version": cur.version, "training_set": training_set_record(cur)}
    trained = trained_ids(info, tmp_path / "sets", "correction_ids")
    assert trained == set(new)
    assert new_promotions(store, status, trained, CFG) == []
    # A version registered before the info carried the ids: its legacy set manifest is read.
    legacy = tmp_path / "sets" / f"{cur.version}.json"
    legacy.parent.mkdir()
    legacy.write_text(json.dumps(training_set_record(cur)))
    assert trained_ids({"training_set_version": cur.version}, legacy.parent, "doc_ids") == set(
        training_set_record(cur)["doc_ids"]  # type: ignore[arg-type]
    )
    assert trained_ids({"training_set_version": "unknown"}, legacy.parent, "doc_ids") is None
    # Corrections not classified yet are judged from the store alone (verdicts, conflicts).
    # + the auto-correct and the bad-scan ones (only the predictions tell those).
    assert len(new_promotions(store, {}, set(), CFG)) == 6


def _import(path: Path, store: Path, recs: list[dict[str, object]]) -> None:
    """Write corrections (annotator and time filled in) to ``path`` and import them."""
    stamp = {"annotator": "a", "timestamp": "2026-11-24T10:00:00Z"}
    path.write_text("".join(json.dumps(stamp | r) + "\n" for r in recs))
    import_file(path, store, RECEIPT, {str(r["doc_id"]) for r in recs})


def test_golden_set_is_frozen_and_never_trained_on(tmp_path: Path) -> None:
    cfg = SplitConfig(golden_fraction=0.5, dev_fraction=0.2, min_golden=2)
    ids = [f"g{i:015d}" for i in range(12)]
    _import(tmp_path / "c.jsonl", tmp_path / "store", [{"doc_id": d, "fields": TRUTH} for d in ids])
    store = read_store(tmp_path / "store")
    texts = {d: TEXT for d in ids}
    first = curate(RECEIPT, store, texts, set(), {}, tmp_path / "golden.json", cfg)
    golden = set(first.golden_ids)
    assert golden and golden == {d for d in ids if split_of(d, cfg) == "golden"}
    more = [f"h{i:015d}" for i in range(12)]
    _import(
        tmp_path / "c2.jsonl", tmp_path / "store", [{"doc_id": d, "fields": TRUTH} for d in more]
    )
    texts.update({d: TEXT for d in more})
    second = curate(
        RECEIPT, read_store(tmp_path / "store"), texts, set(), {}, tmp_path / "golden.json", cfg
    )
    assert set(second.golden_ids) == golden  # frozen
    splits = dict(second.records.select("doc_id", "split").iter_rows())
    assert all(splits[d] == "golden_reserve" for d in more if split_of(d, cfg) == "golden")
    trained = {d for d, s in splits.items() if s in ("train", "dev")}
    assert not trained & golden
    # The split is stable: the same id lands in the same split in both sets.
    assert all(splits[d] == s for d, s in first.records.select("doc_id", "split").iter_rows())


def test_ocr_misreadings_go_to_qa_and_absent_values_to_the_gate(tmp_path: Path) -> None:
    slip, absent = _trained_id(11)[9:]
    recs = [
        # OCR read "9.60" and "ACNE SDN BHD" where the paper says 9.00 and ACME: OCR's fault.
        {"doc_id": slip, "fields": {"company": "ACME SDN BHD", "total": "9.00"}},
        # Nothing like these values is printed: an annotation error.
        {"doc_id": absent, "fields": {"company": "ZEBRA TRADING", "total": "47.15"}},
    ]
    _import(tmp_path / "c.jsonl", tmp_path / "store", recs)
    texts = {slip: "ACNE SDN BHD\nTOTAL 9.60\n", absent: TEXT}
    cur = curate(
        RECEIPT, read_store(tmp_path / "store"), texts, set(), {}, tmp_path / "g.json", CFG
    )
    issues = {r["doc_id"]: json.loads(r["issues"]) for r in cur.records.iter_rows(named=True)}
    assert all("not found" not in i for i in issues[slip])
    assert [n.split(":")[0] for n in cur.qa[slip]] == ["total"]  # the company aligned fuzzily
    assert sorted(i.split(":")[0] for i in issues[absent]) == ["company", "total"]
    assert absent not in cur.qa
